/**
 * The cached-runner graph of docs/method.md, derived from the plain BAC-ready model:
 *
 * - each block output b's exclusive ancestor set (see `graph.ts`) moves into the then-branch of an
 *   ONNX `If`; the else-branch returns the block's cache; the `If` output keeps b's name, so every
 *   consumer (the residual add) is untouched;
 * - gates enter as ONE bool input `bac_update` [nBlocks] (one Split hands each If its one-element
 *   condition), caches as ONE float input `bac_cache` [nBlocks, B, T, d] (a Gather per block inside
 *   the else-branch), and leave as ONE output `bac_cache_out` [nBlocks, B, T, d] (Concat of the If
 *   outputs along axis 0 and one Reshape; Unsqueeze per block when T or d is symbolic). Packing
 *   matters: ORT has a fixed per-call cost for every extra graph input/output and every node,
 *   not small at these tensor sizes, and every node outside the branches runs at every step;
 * - the prediction stays the first output; the individual `bac:*` outputs are dropped (they are
 *   the rows of `bac_cache_out`).
 *
 * Before gating, repeated subexpressions are merged (`dedupeNodes`): ORT does that in a plain
 * graph but cannot across If branches. Then-branches read outer-scope values (ONNX allows it), so
 * they need no inputs; initializers read only inside one branch move into it (ORT does not treat
 * outer-scope values as constants when it optimizes a subgraph), the rest stay at the top level.
 * The opset and IR version stay the model's. Nothing depends on node or
 * tensor names beyond the contract's `bac:<id>` outputs, so any contract-following export works.
 */
import { BacError } from '../../core/errors';
import type { BlockId } from '../../core/types';
import { dedupeNodes, exclusiveSets, indexGraph, topoSort, type GraphIndex } from './graph';
import { decodeOrThrow, describeModel, type DimInfo, type ModelInfo } from './inspect';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from './io-names';
import { specializeBatch } from './specialize';
import {
  attrGraph,
  attrInt,
  attrInts,
  DataType,
  defaultOpset,
  encodeModel,
  int64Tensor,
  makeGraph,
  makeNode,
  tensorValueInfo,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfo,
} from './proto';

/** What the gating moved, per block. */
export interface GatedBlock {
  /** `<layer>.<kind>`. */
  readonly id: BlockId;
  /** Row of the block in `bac_update`, `bac_cache` and `bac_cache_out`. */
  readonly index: number;
  /** Number of nodes moved into the block's then-branch. */
  readonly nodes: number;
  /** Of which MatMul/Gemm. */
  readonly products: number;
}

/** Description of a gated graph, for runners and reports. */
export interface GateInfo {
  /** Blocks in model order; `index` is the row in the packed tensors. */
  readonly blocks: readonly GatedBlock[];
  /** Name of the first output (the denoiser prediction), unchanged. */
  readonly prediction: string;
  /** Declared shape of `bac_cache` / `bac_cache_out`: [nBlocks, B, T, d]. */
  readonly cacheShape: readonly DimInfo[];
  /**
   * Nodes of the plain graph after merging repeated subexpressions (`dedupeNodes`), and how many
   * of them moved into If branches.
   */
  readonly totalNodes: number;
  readonly movedNodes: number;
}

/**
 * Builds the gated graph from a decoded plain model (not mutated; node objects are shared with
 * the result except the renamed block producers, which are copied). `blocks` gives each block's
 * output name in model order (row order of the packed tensors).
 * @throws BacError when a block output has an empty exclusive set or two sets overlap (the model
 *   computes two blocks in one node), or when the model already uses the reserved names.
 * O(nodes + edges) plus the exclusive-set fixpoint.
 */
export function gateGraph(
  model: ModelProto,
  blocks: readonly { readonly id: BlockId; readonly output: string }[],
  blockShape: readonly DimInfo[],
  name = 'model.onnx',
): { model: ModelProto; info: GateInfo } {
  if (!model.graph) throw new BacError(`${name}: has no graph, expected an ONNX model`);
  // merge repeated shape arithmetic first, so that it stays shared outside the If branches
  const graph = dedupeNodes(model.graph);
  const opset = defaultOpset(model) ?? 0;
  const index = indexGraph(graph);
  const { sets, overlaps } = exclusiveSets(
    index,
    blocks.map((b) => b.output),
  );
  const names = namesIn(graph);
  assertGateable(blocks, sets, overlaps, names, name);
  const fresh = freshNamer(names);

  // Concatenating the [B, T, d] block outputs along axis 0 gives [n·B, T, d], the same bytes as
  // [n, B, T, d]: one Reshape replaces an Unsqueeze per block when T and d are static.
  const flatPacking = typeof blockShape[1] === 'number' && typeof blockShape[2] === 'number';
  const axes0 = !flatPacking && opset >= 13 ? fresh('bac_gate/axes0') : '';
  const newInits: TensorProto[] = axes0 ? [int64Tensor(axes0, [1], [0])] : [];
  const movedInits = new Set<string>();
  const context: GateContext = {
    graph,
    index,
    valueInfoByName: new Map(graph.valueInfo.map((v) => [v.name ?? '', v])),
    graphInputNames: new Set(graph.input.map((x) => x.name ?? '')),
    fresh,
    movedInits,
  };
  const gatedBlocks = blocks.map((b, i) => {
    const gated = gateBlock(context, b, i, sets[i] as number[]);
    newInits.push(gated.indexInit);
    return gated;
  });
  const tail = [
    ...packCacheOutput(gatedBlocks, blockShape, flatPacking, axes0, fresh, newInits),
    // One Split hands every If its gate (a one-element tensor, which If accepts) in a single node
    // rather than one Gather per block.
    makeNode(
      'Split',
      [UPDATE_INPUT],
      gatedBlocks.map((g) => g.cond),
      fresh('bac_gate/Split_update'),
      opset >= 18 ? [attrInt('num_outputs', blocks.length)] : [],
    ),
  ];
  return assembleGatedModel(model, graph, blocks, blockShape, gatedBlocks, tail, newInits, movedInits);
}

/** Every name in the graph, subgraphs included, so fresh names cannot collide. */
function namesIn(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  const collect = (g: GraphProto): void => {
    for (const v of [...g.input, ...g.output, ...g.valueInfo]) if (v.name) names.add(v.name);
    for (const t of g.initializer) if (t.name) names.add(t.name);
    for (const n of g.node) {
      for (const x of [...n.input, ...n.output]) if (x) names.add(x);
      if (n.name) names.add(n.name);
      for (const a of n.attribute) for (const sg of a.g ? [a.g, ...a.graphs] : a.graphs) collect(sg);
    }
  };
  collect(graph);
  return names;
}

/**
 * Throws one BacError listing every reason the blocks cannot be gated: an empty exclusive set,
 * overlapping sets, or a reserved name already in use.
 */
function assertGateable(
  blocks: readonly { readonly output: string }[],
  sets: readonly (readonly number[])[],
  overlaps: readonly (readonly [string, string])[],
  names: ReadonlySet<string>,
  name: string,
): void {
  const problems: string[] = [];
  sets.forEach((s, i) => {
    if (s.length === 0) {
      const b = blocks[i] as { output: string };
      problems.push(
        `block output "${b.output}" has no exclusive ancestors (its producing node also feeds other values), so it cannot be skipped`,
      );
    }
  });
  for (const [a, b] of overlaps)
    problems.push(`block outputs "${a}" and "${b}" share computation, expected disjoint exclusive ancestor sets`);
  for (const reserved of [UPDATE_INPUT, CACHE_INPUT, CACHE_OUTPUT]) {
    if (names.has(reserved))
      problems.push(`already uses the name "${reserved}", which BAC reserves for the gated graph`);
  }
  if (problems.length > 0) throw new BacError(`${name}: cannot build the cached-runner graph: ${problems.join('; ')}`);
}

/** A name generator that never returns a name in `names` (and records each one it returns). */
function freshNamer(names: Set<string>): (base: string) => string {
  return (base) => {
    let n = base;
    for (let k = 1; names.has(n); k++) n = `${base}_${k}`;
    names.add(n);
    return n;
  };
}

/** What every block's gating reads, and the one thing it updates (`movedInits`). */
interface GateContext {
  readonly graph: GraphProto;
  readonly index: GraphIndex;
  readonly valueInfoByName: ReadonlyMap<string, ValueInfo>;
  readonly graphInputNames: ReadonlySet<string>;
  readonly fresh: (base: string) => string;
  /** Initializers already moved into a branch. */
  readonly movedInits: Set<string>;
}

/** One block after gating: its If node, where it goes, and what moved into its branch. */
interface GatedBranch {
  readonly info: GatedBlock;
  /** Node index of the block output's producer: the If takes its place in node order. */
  readonly producer: number;
  readonly ifNode: NodeProto;
  /** The If's condition, one output of the Split of `bac_update`. */
  readonly cond: string;
  /** The block's row index in the packed tensors, as an int64 scalar initializer. */
  readonly indexInit: TensorProto;
  /** The block output's name (kept by the If). */
  readonly output: string;
  /** Node indices moved into the then-branch (the block's exclusive set). */
  readonly set: readonly number[];
  /** Values now produced inside the branch (their top-level value_info is dropped). */
  readonly movedNames: readonly string[];
}

/**
 * Moves one block's exclusive set into the then-branch of an If whose else-branch gathers the
 * block's row of `bac_cache`. Initializers read only inside this set move with it (recorded in
 * `movedInits`): ORT treats outer-scope values as non-constant when it optimizes a subgraph, so
 * weights left outside would block constant folding inside the branch.
 */
function gateBlock(
  context: GateContext,
  b: { readonly id: BlockId; readonly output: string },
  i: number,
  set: readonly number[],
): GatedBranch {
  const { graph, index, valueInfoByName, graphInputNames, fresh, movedInits } = context;
  const producer = index.producer.get(b.output) as number;
  const idx = fresh(`bac_gate/index_${b.id}`);
  const indexInit = int64Tensor(idx, [], [i]);
  const cond = fresh(`bac_gate/update_${b.id}`);
  const thenOut = fresh(`bac_gate/then_${b.id}`);
  const elseOut = fresh(`bac_gate/cache_${b.id}`);
  const outInfo = graph.output.find((o) => o.name === b.output);
  const outType = (n: string): ValueInfo =>
    outInfo?.type ? { name: n, type: outInfo.type } : tensorValueInfo(n, DataType.FLOAT, null);

  const thenG = makeGraph(fresh(`bac_then_${b.id}`));
  const movedNames: string[] = [];
  for (const n of set) {
    let node = graph.node[n] as NodeProto;
    if (n === producer) node = { ...node, output: node.output.map((o) => (o === b.output ? thenOut : o)) };
    thenG.node.push(node);
    for (const o of node.output) {
      if (!o) continue;
      movedNames.push(o);
      const vi = valueInfoByName.get(o);
      if (vi) thenG.valueInfo.push(vi);
    }
  }
  thenG.output.push(outType(thenOut));
  const inSet = new Set(set);
  for (const t of graph.initializer) {
    const tn = t.name ?? '';
    if (!tn || graphInputNames.has(tn) || movedInits.has(tn)) continue;
    const readers = index.consumers.get(tn) ?? [];
    if (readers.length > 0 && readers.every((r) => inSet.has(r)) && !index.graphOutputs.has(tn)) {
      thenG.initializer.push(t);
      movedInits.add(tn);
    }
  }

  const elseG = makeGraph(fresh(`bac_else_${b.id}`));
  elseG.node.push(
    makeNode('Gather', [CACHE_INPUT, idx], [elseOut], fresh(`bac_gate/Gather_cache_${b.id}`), [attrInt('axis', 0)]),
  );
  elseG.output.push(outType(elseOut));

  const ifNode = makeNode('If', [cond], [b.output], fresh(`bac_gate/If_${b.id}`), [
    attrGraph('then_branch', thenG),
    attrGraph('else_branch', elseG),
  ]);
  const info: GatedBlock = {
    id: b.id,
    index: i,
    nodes: set.length,
    products: set.filter((n) => ['MatMul', 'Gemm'].includes(graph.node[n]?.opType ?? '')).length,
  };
  return { info, producer, ifNode, cond, indexInit, output: b.output, set, movedNames };
}

/**
 * The nodes that pack the If outputs into `bac_cache_out` [nBlocks, B, T, d]: Concat + Reshape
 * when T and d are static (`flatPacking`), else an Unsqueeze per block and a Concat. Adds the
 * Reshape's shape initializer to `inits`.
 */
function packCacheOutput(
  gated: readonly GatedBranch[],
  blockShape: readonly DimInfo[],
  flatPacking: boolean,
  axes0: string,
  fresh: (base: string) => string,
  inits: TensorProto[],
): NodeProto[] {
  const tail: NodeProto[] = [];
  const parts = gated.map((g) => {
    if (flatPacking) return g.output;
    const part = fresh(`bac_gate/row_${g.info.id}`);
    tail.push(
      axes0
        ? makeNode('Unsqueeze', [g.output, axes0], [part], fresh(`bac_gate/Unsqueeze_${g.info.id}`))
        : makeNode('Unsqueeze', [g.output], [part], fresh(`bac_gate/Unsqueeze_${g.info.id}`), [attrInts('axes', [0])]),
    );
    return part;
  });
  if (!flatPacking) {
    tail.push(makeNode('Concat', parts, [CACHE_OUTPUT], fresh('bac_gate/Concat_cache_out'), [attrInt('axis', 0)]));
    return tail;
  }
  const flat = fresh('bac_gate/cache_out_flat');
  const shape = fresh('bac_gate/cache_out_shape');
  inits.push(int64Tensor(shape, [4], [gated.length, -1, blockShape[1] as number, blockShape[2] as number]));
  tail.push(makeNode('Concat', parts, [flat], fresh('bac_gate/Concat_cache_out'), [attrInt('axis', 0)]));
  tail.push(makeNode('Reshape', [flat, shape], [CACHE_OUTPUT], fresh('bac_gate/Reshape_cache_out')));
  return tail;
}

/**
 * The gated model: each If at its block producer's place, the moved nodes gone, `tail` (packing
 * and Split) appended, topologically sorted; the packed inputs and output replace the `bac:*`
 * outputs, and moved initializers and value_info leave the top level.
 */
function assembleGatedModel(
  model: ModelProto,
  graph: GraphProto,
  blocks: readonly { readonly output: string }[],
  blockShape: readonly DimInfo[],
  gated: readonly GatedBranch[],
  tail: readonly NodeProto[],
  newInits: readonly TensorProto[],
  movedInits: ReadonlySet<string>,
): { model: ModelProto; info: GateInfo } {
  const nBlocks = blocks.length;
  const ifAt = new Map(gated.map((g) => [g.producer, g.ifNode]));
  const moved = new Set<number>();
  for (const g of gated) for (const n of g.set) moved.add(n);
  const nodes: NodeProto[] = [];
  graph.node.forEach((n, i) => {
    const ifNode = ifAt.get(i);
    if (ifNode) nodes.push(ifNode);
    else if (!moved.has(i)) nodes.push(n);
  });
  nodes.push(...tail);

  const movedNames = new Set(gated.flatMap((g) => g.movedNames));
  const isBlockOutput = new Set(blocks.map((b) => b.output));
  const cacheShape: DimInfo[] = [nBlocks, ...blockShape];
  const dims = cacheShape.map((d, k) => (d === null ? `bac_dim${k}` : d));
  const newGraph: GraphProto = {
    ...graph,
    node: topoSort(nodes),
    initializer: [...graph.initializer.filter((t) => !movedInits.has(t.name ?? '')), ...newInits],
    input: [
      ...graph.input,
      tensorValueInfo(UPDATE_INPUT, DataType.BOOL, [nBlocks]),
      tensorValueInfo(CACHE_INPUT, DataType.FLOAT, dims),
    ],
    output: [
      ...graph.output.filter((o) => !isBlockOutput.has(o.name ?? '')),
      tensorValueInfo(CACHE_OUTPUT, DataType.FLOAT, dims),
    ],
    valueInfo: graph.valueInfo.filter((v) => !movedNames.has(v.name ?? '')),
  };
  return {
    model: { ...model, graph: newGraph },
    info: {
      blocks: gated.map((g) => g.info),
      prediction: graph.output[0]?.name ?? '',
      cacheShape,
      totalNodes: graph.node.length,
      movedNodes: moved.size,
    },
  };
}

/** A gated model as bytes, with what the gating did and the plain model's description. */
export interface GatedModel {
  /** The gated ONNX file. */
  readonly bytes: Uint8Array;
  /** Decoded gated model (shares buffers with the input bytes). */
  readonly proto: ModelProto;
  /** What the gating moved. */
  readonly gate: GateInfo;
  /** The plain model's description (sha256 of the plain bytes, blocks, metadata, FLOPs). */
  readonly model: ModelInfo;
}

/**
 * Checks the contract of a plain model and builds its gated graph; with `batch`, from the model
 * with its batch axis fixed to that size ({@link specializeBatch}), decoded once.
 * @throws BacError / ModelContractError for a model that breaks the contract or cannot be gated.
 * O(file size + nodes + edges).
 */
export function buildGatedModel(bytes: Uint8Array, name = 'model.onnx', batch?: number): GatedModel {
  const decoded = decodeOrThrow(bytes, name);
  const model = describeModel(decoded, bytes, name);
  const { model: gatedProto, info } = gateDescribedModel(decoded, model, name, batch);
  return { bytes: encodeModel(gatedProto), proto: gatedProto, gate: info, model };
}

/**
 * {@link gateGraph} on a decoded model whose contract `describeModel` already checked, with the
 * batch axis fixed first when `batch` is given (`bac compile --batch`, batch-1 runners).
 */
export function gateDescribedModel(
  decoded: ModelProto,
  model: ModelInfo,
  name: string,
  batch?: number,
): { model: ModelProto; info: GateInfo } {
  const proto = batch === undefined ? decoded : specializeBatch(decoded, batch, name);
  const blockShape = batch === undefined ? model.blockShape : [batch, ...model.blockShape.slice(1)];
  return gateGraph(proto, model.blocks, blockShape, name);
}
