/**
 * Row splitting of a denoiser step: a `Concat` of rows that depend on the timestep only with rows
 * that depend on neither the timestep nor the sample (the DP-T condition tokens are
 * [time token; observation tokens]) is pushed down through the row-wise operators that read it —
 * elementwise ops, `Gemm`/`MatMul` on the rows, `Transpose`, `Reshape`, `Split` and
 * `LayerNormalization` across the row axis — so each part is computed on its own rows, and the
 * rows are concatenated again only where an operator mixes them (attention's score `MatMul`).
 *
 * Why: unrolled into a chunk graph (`chunk-graph.ts`), the timestep is a constant per step, so the
 * time part folds to a constant and the observation part reads only `cond` and is emitted once
 * per chunk. With the MLP condition encoder (n_cond_layers 0) and the cross-attention K/V
 * projections both row-wise, what is left per step is one `Concat` per cross-attention K and V
 * instead of the encoder and the projections. A transformer encoder (n_cond_layers > 0) mixes the
 * rows in its first attention, so there the split stops right after the positional embedding.
 *
 * The result is a single-step graph with the same inputs and outputs, computing the same values
 * (row-wise operators computed on fewer rows; float32 results equal up to kernel blocking).
 */
import { implicitReads } from './graph';
import { inferShapes } from './shapes';
import { int64Tensor, makeNode, attrInt, type GraphProto, type NodeProto, type TensorProto } from './proto';

/** Dependence bits of a value on the step's inputs. */
const SAMPLE = 1;
const TIMESTEP = 2;
const COND = 4;

/** Elementwise operators (numpy broadcasting) a part can run on its own rows. */
const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Relu',
  'Sigmoid',
  'Tanh',
  'Softplus',
  'Erf',
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Sqrt',
  'Cast',
  'Identity',
]);
/** `com.microsoft` activations that are elementwise too (ORT's fusions of Gelu patterns). */
const ELEMENTWISE_MS = new Set(['Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu']);

/** A value held as row blocks: concatenating `parts` along `axis` gives the value. */
interface Rows {
  readonly axis: number;
  readonly parts: readonly string[];
  /** Rows of each part along `axis`. */
  readonly sizes: readonly number[];
}

/** A step graph with its row splits, and how many Concats were pushed down. */
export interface RowSplit {
  readonly graph: GraphProto;
  /** Concats split (0: the graph is returned unchanged). */
  readonly splits: number;
}

/**
 * Splits the rows of `graph` (a single step with inputs `sample`, `timestep`, `cond`; shapes
 * static) as the module comment describes. Operators it does not know end a split: the rows are
 * concatenated again before them, so any graph stays correct. O(nodes).
 */
export function splitTimestepRows(graph: GraphProto): RowSplit {
  const facts = inferShapes(graph);
  const shapeOf = (v: string): readonly number[] | undefined => {
    const s = facts.get(v)?.shape;
    return s && s.every((d) => d >= 0) ? s : undefined;
  };
  const rankOf = (v: string): number => facts.get(v)?.shape?.length ?? -1;
  const deps = new Map<string, number>([
    ['sample', SAMPLE],
    ['timestep', TIMESTEP],
    ['cond', COND],
  ]);
  const depOf = (v: string): number => deps.get(v) ?? 0;
  for (const node of graph.node) {
    const d = [...node.input, ...implicitReads(node)].reduce((m, x) => m | (x ? depOf(x) : 0), 0);
    for (const o of node.output) if (o) deps.set(o, d);
  }

  const rows = new Map<string, Rows>();
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [...graph.initializer];
  const materialized = new Set<string>();
  let splits = 0;
  let counter = 0;

  /** Emits the Concat that rebuilds `v` (once) under its own name. */
  const materialize = (v: string): void => {
    const r = rows.get(v);
    if (!r || materialized.has(v)) return;
    materialized.add(v);
    nodes.push(makeNode('Concat', [...r.parts], [v], `${v}/rows_concat`, [attrInt('axis', r.axis)]));
  };

  /** Nodes and initializers of one split operator, committed only when every part can be built. */
  interface Pending {
    readonly nodes: NodeProto[];
    readonly inits: TensorProto[];
  }
  const int64 = (into: Pending, base: string, values: readonly number[]): string => {
    const name = `${base}/rows_${counter++}`;
    into.inits.push(int64Tensor(name, [values.length], values));
    return name;
  };
  /**
   * Part `p` of input `v` of an operator whose output (rank `outRank`) is split like `of` on
   * `outAxis`: the part of a split value, `v` itself when it broadcasts along the rows, else a
   * Slice of its rows (e.g. the positional embedding); null when none applies.
   */
  const partOf = (into: Pending, v: string, p: number, of: Rows, outAxis: number, outRank: number): string | null => {
    const own = rows.get(v);
    if (own) return own.axis + (outRank - rankOf(v)) === outAxis && sameSizes(own, of) ? own.parts[p]! : null;
    const shape = shapeOf(v);
    if (!shape) return null;
    const axis = outAxis - (outRank - shape.length);
    if (axis < 0 || shape[axis] === 1) return v;
    if (shape[axis] !== sum(of.sizes)) return null;
    const start = sum(of.sizes.slice(0, p));
    const out = `${v}/rows_${counter++}`;
    const starts = int64(into, out, [start]);
    const ends = int64(into, out, [start + of.sizes[p]!]);
    const axes = int64(into, out, [axis]);
    into.nodes.push(makeNode('Slice', [v, starts, ends, axes], [out], `${out}/Slice`));
    return out;
  };

  /**
   * `node` run once per part of `r` (the split value it reads as `input`): its outputs' splits,
   * with the pending nodes; null when `node` mixes rows or is not known to be row-wise.
   */
  const splitNode = (node: NodeProto, r: Rows, input: string): { outputs: Rows[]; pending: Pending } | null => {
    const op = node.opType ?? '';
    const domain = node.domain ?? '';
    const outs = node.output.filter((o) => o);
    if (outs.length === 0 || outs.some((o) => rankOf(o) < 0) || node.attribute.some((a) => a.g || a.graphs.length))
      return null;
    if (node.input.some((x) => x && depOf(x) & SAMPLE)) return null;
    const pending: Pending = { nodes: [], inits: [] };
    const perPart = (
      axis: number,
      inputsOf: (p: number) => (string | null)[],
      attribute = node.attribute,
    ): { outputs: Rows[]; pending: Pending } | null => {
      const inputs = r.parts.map((_, p) => inputsOf(p));
      if (inputs.some((ins) => ins.some((x) => x === null))) return null;
      r.parts.forEach((_, p) => {
        pending.nodes.push({
          ...node,
          name: `${node.name ?? op}/rows_${p}`,
          input: inputs[p] as string[],
          output: node.output.map((o) => (o ? `${o}/rows_${p}` : o)),
          attribute,
        });
      });
      return {
        outputs: outs.map((o) => ({ axis, parts: r.parts.map((_, p) => `${o}/rows_${p}`), sizes: r.sizes })),
        pending,
      };
    };
    if ((domain === '' && ELEMENTWISE.has(op)) || (domain === 'com.microsoft' && ELEMENTWISE_MS.has(op))) {
      const outRank = rankOf(outs[0]!);
      const axis = r.axis + (outRank - rankOf(input));
      return perPart(axis, (p) => node.input.map((x) => (x ? partOf(pending, x, p, r, axis, outRank) : x)));
    }
    if (node.input[0] !== input || node.input.slice(1).some((x) => x && rows.has(x))) return null;
    if (domain !== '') return null;
    if (op === 'Gemm') {
      // rows of A are rows of the output; C must broadcast along them
      if (r.axis !== (attrNumber(node, 'transA', 0) ? 1 : 0)) return null;
      const c = node.input[2];
      const cs = c ? shapeOf(c) : [];
      if (!cs || (cs.length === 2 && cs[0] !== 1)) return null;
      return perPart(0, (p) => [r.parts[p]!, ...node.input.slice(1)]);
    }
    if (op === 'MatMul') {
      if (rankOf(node.input[1]!) !== 2 || r.axis >= rankOf(input) - 1) return null;
      return perPart(r.axis, (p) => [r.parts[p]!, node.input[1]!]);
    }
    if (op === 'Transpose') {
      const rank = rankOf(input);
      const perm = attrList(node, 'perm') ?? Array.from({ length: rank }, (_, k) => rank - 1 - k);
      return perPart(perm.indexOf(r.axis), (p) => [r.parts[p]!]);
    }
    if (op === 'Reshape') {
      // the rows stay one axis when the dims before and after them keep their products
      const from = shapeOf(input);
      const to = shapeOf(outs[0]!);
      if (!from || !to) return null;
      const before = product(from.slice(0, r.axis));
      const after = product(from.slice(r.axis + 1));
      const axis = to.findIndex(
        (d, j) => d === from[r.axis] && product(to.slice(0, j)) === before && product(to.slice(j + 1)) === after,
      );
      if (axis < 0) return null;
      const shapes = r.sizes.map((size) =>
        int64(
          pending,
          outs[0]!,
          to.map((d, j) => (j === axis ? size : d)),
        ),
      );
      return perPart(
        axis,
        (p) => [r.parts[p]!, shapes[p]!],
        node.attribute.filter((a) => a.name !== 'allowzero'),
      );
    }
    if (op === 'Split') {
      if (normalize(attrNumber(node, 'axis', 0), rankOf(input)) === r.axis) return null;
      return perPart(r.axis, (p) => [r.parts[p]!, ...node.input.slice(1)]);
    }
    if (op === 'LayerNormalization' || op === 'Softmax') {
      // normalised over the axes from `axis` on: row-wise when the rows come before them
      if (r.axis >= normalize(attrNumber(node, 'axis', -1), rankOf(input)) || outs.length !== 1) return null;
      if (node.output[0] !== outs[0]) return null;
      return perPart(r.axis, (p) => [r.parts[p]!, ...node.input.slice(1)]);
    }
    return null;
  };

  for (const node of graph.node) {
    const split = splitCandidate(node, depOf, shapeOf, rankOf);
    if (split) {
      rows.set(node.output[0]!, split);
      splits++;
      continue;
    }
    const partitioned = node.input.filter((x) => x && rows.has(x));
    const plan = partitioned.length > 0 ? splitNode(node, rows.get(partitioned[0]!)!, partitioned[0]!) : null;
    if (plan) {
      nodes.push(...plan.pending.nodes);
      inits.push(...plan.pending.inits);
      node.output.filter((o) => o).forEach((o, i) => rows.set(o, plan.outputs[i]!));
      continue;
    }
    for (const x of partitioned) materialize(x);
    nodes.push(node);
  }
  for (const o of graph.output) if (o.name) materialize(o.name);
  if (splits === 0) return { graph, splits: 0 };
  // the replaced nodes' shape constants are read by nobody now
  const read = new Set([
    ...nodes.flatMap((n) => [...n.input, ...implicitReads(n)]),
    ...graph.output.map((o) => o.name),
  ]);
  return { graph: { ...graph, node: nodes, initializer: inits.filter((t) => read.has(t.name ?? '')) }, splits };
}

/**
 * `node` as a row split: a standard `Concat` of timestep-only rows with rows that depend on
 * neither the timestep nor the sample, its shapes static. Its inputs become the parts.
 */
function splitCandidate(
  node: NodeProto,
  depOf: (v: string) => number,
  shapeOf: (v: string) => readonly number[] | undefined,
  rankOf: (v: string) => number,
): Rows | null {
  if (node.opType !== 'Concat' || (node.domain ?? '') !== '' || node.input.length < 2) return null;
  const ds = node.input.map(depOf);
  if (ds.some((d) => d & SAMPLE)) return null;
  if (!ds.some((d) => d & TIMESTEP) || !ds.some((d) => !(d & TIMESTEP))) return null;
  const rank = rankOf(node.output[0]!);
  if (rank < 0) return null;
  const axis = normalize(attrNumber(node, 'axis', 0), rank);
  const sizes = node.input.map((x) => shapeOf(x)?.[axis] ?? -1);
  if (sizes.some((s) => s < 0)) return null;
  return { axis, parts: [...node.input], sizes };
}

function attrNumber(node: NodeProto, name: string, dflt: number): number {
  const a = node.attribute.find((x) => x.name === name);
  return a?.i !== undefined ? Number(a.i) : dflt;
}

function attrList(node: NodeProto, name: string): number[] | undefined {
  const a = node.attribute.find((x) => x.name === name);
  return a && a.ints.length > 0 ? a.ints.map(Number) : undefined;
}

const normalize = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
function sameSizes(a: Rows, b: Rows): boolean {
  return a.sizes.length === b.sizes.length && a.sizes.every((s, i) => s === b.sizes[i]);
}
