/**
 * Graph analysis shared by FLOPs attribution and the If-gating transform: who produces and who
 * consumes each value (including the outer-scope values a subgraph reads), and each block output's
 * exclusive ancestor set as docs/method.md defines it.
 */
import { BacError } from '../../core/errors';
import type { GraphProto, NodeProto } from './proto';

/** Producer/consumer index of one graph. Node ids are indices into `graph.node`. */
export interface GraphIndex {
  /** The indexed graph (not copied; do not mutate it while the index is in use). */
  readonly graph: GraphProto;
  /** Value name → index of the node that produces it (graph inputs and initializers have none). */
  readonly producer: ReadonlyMap<string, number>;
  /** Value name → indices of the nodes that read it, explicitly or from inside a subgraph. */
  readonly consumers: ReadonlyMap<string, readonly number[]>;
  /** Per node: every value it reads, explicit inputs first, then outer-scope reads of its subgraphs. */
  readonly reads: readonly (readonly string[])[];
  /** Names of the graph outputs. */
  readonly graphOutputs: ReadonlySet<string>;
}

/**
 * Outer-scope names a node's subgraph attributes (If branches, Loop/Scan bodies) read: names used
 * inside that the subgraph neither defines (node outputs, inputs, initializers) nor receives.
 * Recursive through nested subgraphs. O(size of the subgraphs).
 */
export function implicitReads(node: NodeProto): string[] {
  const out = new Set<string>();
  for (const a of node.attribute) {
    for (const g of a.g ? [a.g, ...a.graphs] : a.graphs) for (const name of graphFreeNames(g)) out.add(name);
  }
  return [...out];
}

/** Names a graph reads from its enclosing scope. */
function graphFreeNames(g: GraphProto): Set<string> {
  const defined = new Set<string>();
  for (const i of g.input) if (i.name) defined.add(i.name);
  for (const t of g.initializer) if (t.name) defined.add(t.name);
  for (const n of g.node) for (const o of n.output) if (o) defined.add(o);
  const free = new Set<string>();
  for (const n of g.node) {
    for (const x of [...n.input, ...implicitReads(n)]) if (x && !defined.has(x)) free.add(x);
  }
  for (const o of g.output) if (o.name && !defined.has(o.name)) free.add(o.name);
  return free;
}

/** Builds the producer/consumer index. O(nodes + edges + subgraph sizes). */
export function indexGraph(graph: GraphProto): GraphIndex {
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  const reads: string[][] = [];
  graph.node.forEach((n, i) => {
    for (const o of n.output) if (o) producer.set(o, i);
    // an empty name is an omitted optional input, not a value
    const r = [...new Set([...n.input.filter((x) => x !== ''), ...implicitReads(n)])];
    reads.push(r);
    for (const x of r) {
      const list = consumers.get(x);
      if (list) list.push(i);
      else consumers.set(x, [i]);
    }
  });
  const graphOutputs = new Set(graph.output.map((o) => o.name ?? ''));
  return { graph, producer, consumers, reads, graphOutputs };
}

/** All nodes `output` depends on, its producer included. O(ancestors + their edges). */
export function ancestors(index: GraphIndex, output: string): Set<number> {
  const seen = new Set<number>();
  const start = index.producer.get(output);
  if (start === undefined) return seen;
  const stack = [start];
  seen.add(start);
  while (stack.length > 0) {
    const n = stack.pop() as number;
    for (const x of index.reads[n] ?? []) {
      const p = index.producer.get(x);
      if (p !== undefined && !seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

/**
 * The exclusive ancestor set of block output `output` (docs/method.md): the ancestors of `output` whose
 * results reach nothing but `output`. docs/method.md states it as a fixpoint: start from all ancestors,
 * repeatedly drop a node if any of its outputs other than `output` is a graph output or feeds a
 * node outside the set. The block output itself may be read anywhere (the residual add).
 *
 * Computed here as the same greatest fixpoint, grown instead of shrunk: candidates are visited
 * from the producer upwards in descending topological position (a max-heap), and a node joins
 * when every reader of every output (but `output`) has already joined. When a node is visited,
 * every node after it has been decided, so the test is final. O(set size + its edges · log) per
 * block instead of O(ancestors) — the difference between a block at the top of a 24-block stack
 * and one at the bottom. Graphs whose nodes are not in topological order (ONNX requires it) fall
 * back to the shrinking fixpoint, {@link exclusiveAncestorsFixpoint}.
 *
 * Invariant of the result: every value produced inside the set, except `output`, is read only
 * by nodes of the set, so the set can move into an `If` branch whose only result is `output`.
 * Empty when `output` has no producer or its producer has another output used outside.
 * Returns node indices in ascending (= topological) order.
 */
export function exclusiveAncestors(index: GraphIndex, output: string): number[] {
  const start = index.producer.get(output);
  if (start === undefined) return [];
  if (!isTopological(index)) return exclusiveAncestorsFixpoint(index, output);
  const set = new Set<number>();
  const heap = new MaxHeap();
  const queued = new Set<number>([start]);
  heap.push(start);
  while (heap.size > 0) {
    const n = heap.pop();
    if (escapes(index, n, output, set)) continue;
    set.add(n);
    for (const x of index.reads[n] ?? []) {
      const p = index.producer.get(x);
      if (p !== undefined && !queued.has(p)) {
        queued.add(p);
        heap.push(p);
      }
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** True when some output of node `n` other than `output` is a graph output or read outside `set`. */
function escapes(index: GraphIndex, n: number, output: string, set: ReadonlySet<number>): boolean {
  const node = index.graph.node[n] as NodeProto;
  for (const o of node.output) {
    if (!o || o === output) continue;
    if (index.graphOutputs.has(o)) return true;
    for (const c of index.consumers.get(o) ?? []) if (!set.has(c)) return true;
  }
  return false;
}

/** Whether every value is produced before it is read (node order is a topological order). */
function isTopological(index: GraphIndex): boolean {
  const cached = topoCache.get(index);
  if (cached !== undefined) return cached;
  let ok = true;
  index.reads.forEach((r, i) => {
    for (const x of r) {
      const p = index.producer.get(x);
      if (p !== undefined && p >= i) ok = false;
    }
  });
  topoCache.set(index, ok);
  return ok;
}
const topoCache = new WeakMap<GraphIndex, boolean>();

/**
 * docs/method.md's fixpoint, literally: from all ancestors, drop nodes whose results leave the set
 * until none does (worklist: a node is re-examined only when one of its readers left). Works in any
 * node order; O(ancestors + their edges). Used for unsorted graphs and as the reference in tests.
 */
export function exclusiveAncestorsFixpoint(index: GraphIndex, output: string): number[] {
  const set = ancestors(index, output);
  const work = [...set];
  while (work.length > 0) {
    const n = work.pop() as number;
    if (!set.has(n) || !escapes(index, n, output, set)) continue;
    set.delete(n);
    // the producers of what n read may now feed a node outside the set: look at them again
    for (const x of index.reads[n] ?? []) {
      const p = index.producer.get(x);
      if (p !== undefined && set.has(p)) work.push(p);
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** Binary max-heap of node indices. */
class MaxHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if ((a[p] as number) >= v) break;
      a[i] = a[p] as number;
      a[p] = v;
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0] as number;
    const last = a.pop() as number;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && (a[l] as number) > (a[m] as number)) m = l;
        if (r < a.length && (a[r] as number) > (a[m] as number)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as number, a[i] as number];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Exclusive ancestor sets of several outputs and the overlaps between them (pairs of outputs
 * sharing a node). The sets of a well-formed model are disjoint by construction; an overlap
 * indicates two block outputs produced by one node and is reported, not repaired.
 * O(Σ set sizes + edges · outputs).
 */
export function exclusiveSets(
  index: GraphIndex,
  outputs: readonly string[],
): { sets: number[][]; overlaps: [string, string][] } {
  const sets = outputs.map((o) => exclusiveAncestors(index, o));
  const owner = new Map<number, number>();
  const overlaps: [string, string][] = [];
  sets.forEach((s, i) => {
    for (const n of s) {
      const prev = owner.get(n);
      if (prev !== undefined && prev !== i) {
        const pair: [string, string] = [outputs[prev] as string, outputs[i] as string];
        if (!overlaps.some(([a, b]) => a === pair[0] && b === pair[1])) overlaps.push(pair);
      } else owner.set(n, i);
    }
  });
  return { sets, overlaps };
}

/** A graph whose nodes read each other's outputs in a cycle: ONNX forbids it, so the model is broken. */
export class GraphCycleError extends BacError {
  constructor(readonly node: string) {
    super(
      `the graph has a cycle (node "${node.slice(0, 200)}" depends on its own output), expected an acyclic ONNX graph; re-export the model`,
    );
    this.name = 'GraphCycleError';
  }
}

/**
 * Stable topological order of `nodes` (Kahn's algorithm, preferring the given order), counting
 * subgraph outer-scope reads as edges. Values without a producer among `nodes` are treated as
 * available. Throws {@link GraphCycleError} on a cycle (a broken model, not a bug). O(nodes + edges) plus a heap-free scan (the queue is kept sorted
 * by original position with a simple pointer, fine for graphs of a few thousand nodes).
 */
export function topoSort(nodes: readonly NodeProto[]): NodeProto[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  const indeg = new Array<number>(nodes.length).fill(0);
  const succ: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const deps = new Set<number>();
    for (const x of [...n.input, ...implicitReads(n)]) {
      const p = x ? producer.get(x) : undefined;
      if (p !== undefined && p !== i) deps.add(p);
    }
    for (const p of deps) {
      (succ[p] as number[]).push(i);
      indeg[i] = (indeg[i] as number) + 1;
    }
  });
  const ready: number[] = [];
  indeg.forEach((d, i) => d === 0 && ready.push(i));
  const out: NodeProto[] = [];
  // min-first: pick the smallest ready index each time (keeps the original order where possible)
  while (ready.length > 0) {
    let best = 0;
    for (let k = 1; k < ready.length; k++) if ((ready[k] as number) < (ready[best] as number)) best = k;
    const n = ready.splice(best, 1)[0] as number;
    out.push(nodes[n] as NodeProto);
    for (const s of succ[n] as number[]) {
      indeg[s] = (indeg[s] as number) - 1;
      if (indeg[s] === 0) ready.push(s);
    }
  }
  if (out.length !== nodes.length) {
    const stuck = nodes.find((_, i) => (indeg[i] as number) > 0);
    throw new GraphCycleError(stuck?.name || stuck?.opType || '?');
  }
  return out;
}

/** Operators whose repeated evaluation differs (random) or that must not be merged. */
const NOT_MERGEABLE = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'Dropout',
]);

/**
 * Common-subexpression elimination: nodes with the same operator, domain, (renamed) inputs and
 * attributes compute the same values, so later copies are dropped and their readers pointed at
 * the first. Why before gating: torch exports repeat the same shape arithmetic in every block
 * (Shape → Gather → Unsqueeze → Concat on shared tensors). ORT merges those copies in a plain
 * graph, but not across If branches, so gating without merging first would leave each block
 * recomputing them (≈ 100 extra small nodes per 8 layers). Deterministic operators only; nodes
 * with subgraphs, producing graph outputs, or with large tensor attributes are kept as they are.
 * Returns the graph unchanged (same object) when there is nothing to merge or the graph has
 * subgraphs (renaming inside them is not worth the risk). O(nodes · attribute size).
 */
export function dedupeNodes(graph: GraphProto): GraphProto {
  if (graph.node.some((n) => n.attribute.some((a) => a.g || a.graphs.length > 0))) return graph;
  const outputs = new Set(graph.output.map((o) => o.name ?? ''));
  const rename = new Map<string, string>();
  const seen = new Map<string, NodeProto>();
  const kept: NodeProto[] = [];
  for (const node0 of graph.node) {
    const node = node0.input.some((x) => rename.has(x))
      ? { ...node0, input: node0.input.map((x) => rename.get(x) ?? x) }
      : node0;
    const key = nodeKey(node);
    const first = key === null || node.output.some((o) => outputs.has(o)) ? undefined : seen.get(key);
    if (first && first.output.length === node.output.length) {
      node.output.forEach((o, i) => o && rename.set(o, first.output[i] as string));
      continue;
    }
    if (key !== null && !first) seen.set(key, node);
    kept.push(node);
  }
  if (rename.size === 0) return graph;
  return { ...graph, node: kept, valueInfo: graph.valueInfo.filter((v) => !rename.has(v.name ?? '')) };
}

/** Identity of a node's computation, or null when it must not be merged. */
function nodeKey(node: NodeProto): string | null {
  if (NOT_MERGEABLE.has(node.opType ?? '')) return null;
  const attrs: string[] = [];
  for (const a of node.attribute) {
    let v: string;
    if (a.t) {
      const raw = a.t.rawData;
      const small = raw
        ? raw.length <= 256
        : a.t.floatData.length + a.t.int64Data.length + a.t.int32Data.length + a.t.doubleData.length <= 64;
      if (!small || a.t.externalData.length > 0 || a.t.stringData.length > 0 || a.t.uint64Data.length > 0) return null;
      v = `t${a.t.dataType}[${a.t.dims}]${raw ? Buffer.from(raw).toString('hex') : ''}|${a.t.floatData}|${a.t.int64Data}|${a.t.int32Data}|${a.t.doubleData}`;
    } else if (a.tensors.length > 0 || a.$unknown || a.refAttrName) return null;
    else {
      v = `${a.type}:${a.f ?? ''}:${a.i ?? ''}:${a.s ? Buffer.from(a.s).toString('hex') : ''}:${a.floats}:${a.ints}:${a.strings.map((s) => Buffer.from(s).toString('hex'))}`;
    }
    attrs.push(`${a.name}=${v}`);
  }
  attrs.sort();
  return `${node.domain ?? ''}|${node.opType}|${node.input.join(',')}|${node.output.length}|${attrs.join(';')}`;
}
