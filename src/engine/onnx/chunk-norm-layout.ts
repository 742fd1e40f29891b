/**
 * The final norm of a chunk-graph step in the head's 2-D layout. ORT's MatMul+Add fusion leaves
 * the input embedding as Gemm → Reshape [R, H] → [1, R, H] and the head as Reshape [1, R, H] → [R, H]
 * → Gemm; at a step where every block reuses, the final `SkipLayerNormalization` sits between the
 * two Reshapes and reads nothing else of the step. The norm works on [R, H] as well (its skip
 * reshaped to [R, H] once per distinct skip, so once for all the steps that share it), and both
 * Reshapes leave the step. Exact: a Reshape moves no bytes, and the norm normalises the same rows.
 */
import { tensorValues } from './shapes';
import { int64Tensor, makeNode, type NodeProto, type TensorProto } from './proto';

/** Nodes and the initializers they newly read. */
export interface NormLayout {
  readonly nodes: NodeProto[];
  readonly initializers: TensorProto[];
}

/**
 * Rewrites every `SkipLayerNormalization` whose input is a Reshape of a 2-D Gemm output [R, H]
 * (read by nothing else) and whose only output is read only by a Reshape back to [R, H] (no graph
 * output). The norm reads the Gemm output and its skip reshaped to [R, H] (emitted before the first
 * norm that needs it), and writes the second Reshape's output itself. `initializers` resolves the
 * shape constants and Gemm weights. O(nodes + edges).
 */
export function normInGemmLayout(
  nodes: readonly NodeProto[],
  initializers: ReadonlyMap<string, TensorProto>,
  outputs: ReadonlySet<string>,
): NormLayout {
  const producer = new Map<string, NodeProto>();
  const readers = new Map<string, NodeProto[]>();
  for (const node of nodes) {
    for (const o of node.output) if (o) producer.set(o, node);
    for (const x of node.input) if (x) readers.set(x, [...(readers.get(x) ?? []), node]);
  }
  const isReshape = (n: NodeProto | undefined): n is NodeProto => n?.opType === 'Reshape' && !n.domain;
  const constShape = (name: string | undefined): number[] | null => {
    const t = name === undefined ? undefined : initializers.get(name);
    return t ? tensorValues(t) : null;
  };
  /** Columns of a Gemm's output (its weight's output dimension), when the weight is a constant. */
  const gemmColumns = (gemm: NodeProto): number | null => {
    const w = initializers.get(gemm.input[1] ?? '');
    const transB = gemm.attribute.find((a) => a.name === 'transB')?.i;
    const d = w?.dims[transB ? 0 : 1];
    return d === undefined ? null : Number(d);
  };

  const dropped = new Set<NodeProto>();
  const replaced = new Map<NodeProto, NodeProto>();
  /** Per norm to rewrite: the skip it needs as [R, H], and where to emit that Reshape. */
  const skipReshapes = new Map<NodeProto, { skip: string; shape: number[] }>();
  for (const norm of nodes) {
    if (norm.opType !== 'SkipLayerNormalization' || norm.domain !== 'com.microsoft') continue;
    if (norm.output.some((o, i) => i > 0 && o)) continue;
    const inReshape = producer.get(norm.input[0] ?? '');
    const outReaders = readers.get(norm.output[0] ?? '') ?? [];
    const outReshape = outReaders[0];
    if (!isReshape(inReshape) || outReaders.length !== 1 || !isReshape(outReshape)) continue;
    if ((readers.get(inReshape.output[0]!) ?? []).length !== 1 || outputs.has(inReshape.output[0]!)) continue;
    if (outputs.has(norm.output[0]!)) continue;
    const gemm = producer.get(inReshape.input[0] ?? '');
    const shape = constShape(outReshape.input[1]);
    if (!gemm || gemm.opType !== 'Gemm' || gemm.domain || !shape || shape.length !== 2) continue;
    if (gemmColumns(gemm) !== shape[1]) continue;
    const wide = constShape(inReshape.input[1]);
    if (!wide || wide.at(-1) !== shape[1] || wide.reduce((a, b) => a * b, 1) !== shape[0]! * shape[1]!) continue;
    dropped.add(inReshape).add(outReshape);
    skipReshapes.set(norm, { skip: norm.input[1]!, shape });
    replaced.set(norm, {
      ...norm,
      input: [inReshape.input[0]!, `${norm.input[1]}/rows`, ...norm.input.slice(2)],
      output: [outReshape.output[0]!],
    });
  }

  const out: NodeProto[] = [];
  const added: TensorProto[] = [];
  const emitted = new Set<string>();
  for (const node of nodes) {
    if (dropped.has(node)) continue;
    const need = skipReshapes.get(node);
    if (need && !emitted.has(need.skip)) {
      emitted.add(need.skip);
      const shapeName = `${need.skip}/rows_shape`;
      added.push(int64Tensor(shapeName, [2], need.shape));
      out.push(makeNode('Reshape', [need.skip, shapeName], [`${need.skip}/rows`], `${need.skip}/rows_reshape`));
    }
    out.push(replaced.get(node) ?? node);
  }
  return { nodes: out, initializers: added };
}
