/**
 * Folds chains of pure data-layout nodes in a step graph with static shapes: a `Transpose` that
 * only moves axes of size 1 (at batch 1, torch's attention transposes [1, T, D] ↔ [T, 1, D]) is a
 * `Reshape`, and a `Reshape` of a `Reshape` is one `Reshape` of the first one's input. What ONNX
 * Runtime leaves around each attention block (Transpose → Reshape before the projection, Reshape
 * → Transpose after it) becomes one node each.
 *
 * Why: unrolled into a chunk graph, every node is a kernel dispatch per step, which at these sizes
 * costs more than its arithmetic (docs/benchmarks.md). The values are the same bytes in the same
 * order, so the result is exact.
 */
import { inferShapes } from './shapes';
import { int64Tensor, type GraphProto, type NodeProto, type TensorProto } from './proto';

/**
 * `graph` with its layout chains folded and the nodes no output needs any more removed; the same
 * graph when nothing folds. O(nodes).
 */
export function foldReshapeChains(graph: GraphProto): GraphProto {
  const facts = inferShapes(graph);
  const shapeOf = (v: string): number[] | undefined => {
    const s = facts.get(v)?.shape;
    return s && s.every((d) => d >= 0) ? s : undefined;
  };
  const producer = new Map<string, NodeProto>();
  const inits: TensorProto[] = [];
  let folded = 0;
  const nodes = graph.node.map((node, i): NodeProto => {
    const out = node.output[0];
    const isLayout =
      !node.domain &&
      (node.opType === 'Reshape' || (node.opType === 'Transpose' && movesOnlyOnes(node, shapeOf(node.input[0]!))));
    const to = out ? shapeOf(out) : undefined;
    if (!isLayout || !to || node.output.length !== 1) {
      for (const o of node.output) if (o) producer.delete(o);
      return node;
    }
    // read through a layout node before this one: its input holds the same bytes
    let source = node.input[0]!;
    const before = producer.get(source);
    if (before) source = before.input[0]!;
    if (node.opType === 'Reshape' && source === node.input[0]) {
      producer.set(out!, node);
      return node;
    }
    folded++;
    const shape = `${out}/layout_shape_${i}`;
    inits.push(int64Tensor(shape, [to.length], to));
    const reshape: NodeProto = { ...node, opType: 'Reshape', input: [source, shape], attribute: [] };
    producer.set(out!, reshape);
    return reshape;
  });
  if (folded === 0) return graph;
  return prune({ ...graph, node: nodes, initializer: [...graph.initializer, ...inits] });
}

/** Whether Transpose `node` keeps the order of the axes of size ≠ 1 (so it moves no bytes). */
function movesOnlyOnes(node: NodeProto, shape: number[] | undefined): boolean {
  if (!shape) return false;
  const rank = shape.length;
  const attr = node.attribute.find((a) => a.name === 'perm');
  const perm =
    attr && attr.ints.length > 0 ? attr.ints.map(Number) : Array.from({ length: rank }, (_, k) => rank - 1 - k);
  const kept = perm.filter((axis) => shape[axis] !== 1);
  return kept.every((axis, j) => j === 0 || axis > kept[j - 1]!);
}

/** `graph` without the nodes and initializers no graph output depends on. O(nodes + edges). */
function prune(graph: GraphProto): GraphProto {
  const needed = new Set(graph.output.map((o) => o.name ?? ''));
  const live = new Array<boolean>(graph.node.length).fill(false);
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const node = graph.node[i]!;
    if (!node.output.some((o) => o && needed.has(o))) continue;
    live[i] = true;
    for (const x of node.input) if (x) needed.add(x);
  }
  return {
    ...graph,
    node: graph.node.filter((_, i) => live[i]),
    initializer: graph.initializer.filter((t) => needed.has(t.name ?? '')),
  };
}
