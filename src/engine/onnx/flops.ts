/**
 * Per-block FLOPs from an ONNX graph: shapes at batch 1 from `shapes.ts`, then 2·M·N·K for every
 * MatMul and Gemm. Each product is attributed to the block whose exclusive ancestor set
 * (docs/method.md) contains it, else to the rest of the call (c_0).
 *
 * Only MatMul and Gemm are counted: in a transformer they are > 95 % of the arithmetic, and the
 * element-wise rest (LayerNorm, Softmax, adds) is memory-bound, so counting it would not make the
 * FLOPs bound a better predictor of time. Products whose shapes cannot be inferred are listed in
 * `unresolved` (and count 0) instead of failing: the number is an estimate, never a gate.
 */
import type { BlockId, Cost } from '../../core/types';
import { exclusiveSets, indexGraph } from './graph';
import type { GraphProto, NodeProto } from './proto';
import { attrIntOr, inferShapes, matmulShape, type ValueFacts } from './shapes';

/** One counted product. */
export interface MatMulCost {
  /** Node name (or `<op>#<index>` when unnamed). */
  readonly node: string;
  /** 2·M·N·K × batch dims; 0 when unresolved. */
  readonly flops: number;
  /** Block whose exclusive set holds it, or null for c_0. */
  readonly block: BlockId | null;
}

/** FLOPs of one denoiser call at batch 1, split into blocks and the rest. */
export interface FlopsReport {
  /** c_0: products outside every block's exclusive set (timeUs 0: time is measured elsewhere). */
  readonly base: Cost;
  /** Per block, in the order of the `blocks` argument. */
  readonly blocks: readonly Cost[];
  /** Every MatMul/Gemm in graph order. */
  readonly products: readonly MatMulCost[];
  /** Products whose FLOPs could not be inferred, with the reason. Empty for a torch export. */
  readonly unresolved: readonly string[];
}

/**
 * Counts FLOPs per block. `blocks` pairs each block id with its output value name.
 * Symbolic input dimensions are taken as 1 on axis 0 (batch 1) unless `dims` names them.
 * O(nodes · small tensor sizes) for inference, plus the exclusive-set computation.
 */
export function computeFlops(
  graph: GraphProto,
  blocks: readonly { readonly id: BlockId; readonly output: string }[],
  dims: Readonly<Record<string, number>> = {},
): FlopsReport {
  const facts = inferShapes(graph, dims);
  const index = indexGraph(graph);
  const { sets } = exclusiveSets(
    index,
    blocks.map((b) => b.output),
  );
  const owner = new Map<number, number>();
  sets.forEach((s, bi) => s.forEach((n) => owner.set(n, bi)));
  const blockFlops = blocks.map(() => 0);
  let base = 0;
  const products: MatMulCost[] = [];
  const unresolved: string[] = [];
  graph.node.forEach((node, i) => {
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return;
    if (node.domain && node.domain !== 'ai.onnx') return;
    const name = node.name || `${node.opType}#${i}`;
    const f = productFlops(node, facts);
    if (typeof f === 'string') unresolved.push(`${name}: ${f}`);
    const flops = typeof f === 'number' ? f : 0;
    const bi = owner.get(i);
    if (bi === undefined) base += flops;
    else blockFlops[bi] = (blockFlops[bi] as number) + flops;
    products.push({ node: name, flops, block: bi === undefined ? null : (blocks[bi] as { id: BlockId }).id });
  });
  return {
    base: { flops: base, timeUs: 0 },
    blocks: blockFlops.map((flops) => ({ flops, timeUs: 0 })),
    products,
    unresolved,
  };
}

/** FLOPs of one MatMul/Gemm node, or the reason they are unknown. */
function productFlops(node: NodeProto, facts: Map<string, ValueFacts>): number | string {
  const a = facts.get(node.input[0] ?? '')?.shape;
  const b = facts.get(node.input[1] ?? '')?.shape;
  if (!a || !b) return 'input rank unknown';
  if ([...a, ...b].some((d) => d < 0)) return `input shapes [${a}] × [${b}] not fully known`;
  if (node.opType === 'Gemm') {
    if (a.length !== 2 || b.length !== 2) return 'Gemm inputs are not 2-D';
    const transA = attrIntOr(node, 'transA', 0) !== 0;
    const transB = attrIntOr(node, 'transB', 0) !== 0;
    const [M, K] = transA ? [a[1] as number, a[0] as number] : [a[0] as number, a[1] as number];
    const N = transB ? (b[0] as number) : (b[1] as number);
    return 2 * M * N * K;
  }
  const out = matmulShape(a, b);
  if (!out) return `incompatible shapes [${a}] × [${b}]`;
  const K = a[a.length - 1] as number;
  return 2 * K * out.reduce((p, d) => p * d, 1);
}
