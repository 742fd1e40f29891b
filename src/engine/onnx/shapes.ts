/**
 * Static shape inference for ONNX graphs at a fixed batch size: one idea, an interpreter of the
 * operators a torch export produces (kept in one file because every operator case shares the same
 * small helpers; it is longer than 500 lines for that reason alone).
 *
 * Shapes are propagated with value propagation for the small integer tensors of shape arithmetic
 * (Shape → Gather → Unsqueeze → Concat → Reshape, as torch's `nn.MultiheadAttention` export does),
 * so the MatMul operands of attention get concrete shapes. Unknown operators and malformed
 * attributes leave their outputs unknown; inference never throws. Used by `flops.ts`.
 */
import { AttrType, DataType, type AttributeProto, type GraphProto, type NodeProto, type TensorProto } from './proto';

/** What shape inference knows about one value. `shape` entries of -1 are unknown sizes. */
export interface ValueFacts {
  /** `TensorProto.DataType`, when known. */
  dtype?: number;
  /** Dimensions; undefined when even the rank is unknown. */
  shape?: number[];
  /** Element values (row-major), kept only for small tensors (≤ {@link MAX_DATA} elements). */
  data?: number[];
}

/** Largest tensor whose values are propagated (shape arithmetic is tiny; weights are not needed). */
export const MAX_DATA = 4096;

/**
 * Infers shapes (and small values) of every value in `graph`. Graph inputs with symbolic dims get
 * `dims[name]` or, on axis 0, 1 (batch 1); other symbolic dims stay unknown (-1). Operators this
 * function does not know leave their outputs unknown. Never throws on odd graphs. O(nodes).
 */
export function inferShapes(graph: GraphProto, dims: Readonly<Record<string, number>> = {}): Map<string, ValueFacts> {
  const facts = new Map<string, ValueFacts>();
  for (const t of graph.initializer) if (t.name) facts.set(t.name, tensorFacts(t));
  for (const vi of graph.input) {
    if (!vi.name || facts.has(vi.name)) continue;
    const tt = vi.type?.tensorType;
    const shape = tt?.shape?.dim.map((d, axis) =>
      d.dimValue !== undefined
        ? d.dimValue
        : d.dimParam && dims[d.dimParam] !== undefined
          ? (dims[d.dimParam] as number)
          : axis === 0
            ? 1
            : -1,
    );
    facts.set(vi.name, { dtype: tt?.elemType, shape });
  }
  for (const node of graph.node) {
    let outs: ValueFacts[] = [];
    try {
      if (!node.domain || node.domain === 'ai.onnx')
        outs = inferNode(node, (n) => (n ? facts.get(n) : undefined) ?? {});
    } catch {
      outs = []; // malformed attributes: leave the outputs unknown rather than fail the estimate
    }
    node.output.forEach((o, k) => o && facts.set(o, outs[k] ?? {}));
  }
  return facts;
}

/** Known facts of a constant tensor: dtype, dims, and values when small. */
export function tensorFacts(t: TensorProto): ValueFacts {
  const shape = [...t.dims];
  const n = shape.reduce((p, d) => p * d, 1);
  const f: ValueFacts = { dtype: t.dataType, shape };
  if (n <= MAX_DATA) {
    const data = tensorValues(t);
    if (data && data.length === n) f.data = data;
  }
  return f;
}

/** Element values of a constant tensor as numbers; null for unsupported types or external data. */
export function tensorValues(t: TensorProto): number[] | null {
  const raw = t.rawData;
  const dt = t.dataType;
  if (raw && raw.length > 0) {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    const read: Record<number, [number, (o: number) => number]> = {
      [DataType.FLOAT]: [4, (o) => v.getFloat32(o, true)],
      [DataType.DOUBLE]: [8, (o) => v.getFloat64(o, true)],
      [DataType.INT64]: [8, (o) => Number(v.getBigInt64(o, true))],
      [DataType.UINT64]: [8, (o) => Number(v.getBigUint64(o, true))],
      [DataType.INT32]: [4, (o) => v.getInt32(o, true)],
      [DataType.UINT32]: [4, (o) => v.getUint32(o, true)],
      [DataType.INT16]: [2, (o) => v.getInt16(o, true)],
      [DataType.UINT16]: [2, (o) => v.getUint16(o, true)],
      [DataType.INT8]: [1, (o) => v.getInt8(o)],
      [DataType.UINT8]: [1, (o) => v.getUint8(o)],
      [DataType.BOOL]: [1, (o) => (v.getUint8(o) ? 1 : 0)],
    };
    const r = dt === undefined ? undefined : read[dt];
    if (!r) return null;
    for (let o = 0; o + r[0] <= raw.length; o += r[0]) out.push(r[1](o));
    return out;
  }
  if (t.externalData.length > 0) return null;
  switch (dt) {
    case DataType.FLOAT:
      return [...t.floatData];
    case DataType.DOUBLE:
      return [...t.doubleData];
    case DataType.INT64:
      return t.int64Data.map(Number);
    case DataType.UINT64:
    case DataType.UINT32:
      return t.uint64Data.map(Number);
    case DataType.INT32:
    case DataType.INT16:
    case DataType.INT8:
    case DataType.UINT16:
    case DataType.UINT8:
    case DataType.BOOL:
      return [...t.int32Data];
    default:
      return null;
  }
}

function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrIntOr(node: NodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a?.i !== undefined ? Number(a.i) : dflt;
}

function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a && (a.type === AttrType.INTS || a.ints.length > 0) ? a.ints.map(Number) : undefined;
}

const INT_TYPES = new Set<number>([
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.UINT64,
]);

const size = (s: readonly number[]): number => (s.some((d) => d < 0) ? -1 : s.reduce((p, d) => p * d, 1));
const known = (s: readonly number[] | undefined): s is number[] => !!s && s.every((d) => d >= 0);
const normAxis = (a: number, rank: number): number => (a < 0 ? a + rank : a);

/** Numpy broadcast of shapes; unknown dims stay unknown unless the other side fixes them. */
export function broadcastShapes(shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i] ?? 1;
      if (x === 1) continue;
      if (d === 1) d = x;
      else if (d === -1 && x > 1) d = x;
      else if (x === -1 && d > 1) continue;
      else if (x !== d) d = -1;
    }
    out.push(d);
  }
  return out;
}

/** Numpy matmul output shape (1-D operands promoted and squeezed); null when incompatible. */
export function matmulShape(a: readonly number[], b: readonly number[]): number[] | null {
  if (a.length === 0 || b.length === 0) return null;
  const A = a.length === 1 ? [1, a[0] as number] : [...a];
  const B = b.length === 1 ? [b[0] as number, 1] : [...b];
  const k1 = A[A.length - 1] as number;
  const k2 = B[B.length - 2] as number;
  if (k1 >= 0 && k2 >= 0 && k1 !== k2) return null;
  const batch = broadcastShapes([A.slice(0, -2), B.slice(0, -2)]);
  const out = [...batch];
  if (a.length > 1) out.push(A[A.length - 2] as number);
  if (b.length > 1) out.push(B[B.length - 1] as number);
  return out;
}

/** Row-major strides. */
const strides = (s: readonly number[]): number[] => {
  const st = new Array<number>(s.length).fill(1);
  for (let i = s.length - 2; i >= 0; i--) st[i] = (st[i + 1] as number) * (s[i + 1] as number);
  return st;
};

/** Element-wise op with broadcasting over small known tensors. */
function bcastData(
  ins: readonly ValueFacts[],
  out: readonly number[],
  f: (...xs: number[]) => number,
): number[] | undefined {
  const n = size(out);
  if (n < 0 || n > MAX_DATA || ins.some((v) => !v.data || !known(v.shape))) return undefined;
  const outSt = strides(out);
  const maps = ins.map((v) => {
    const s = v.shape as number[];
    const st = strides(s);
    return (idx: number[]): number => {
      let o = 0;
      for (let i = 0; i < s.length; i++) {
        const d = s[i] as number;
        o += (d === 1 ? 0 : (idx[out.length - s.length + i] as number)) * (st[i] as number);
      }
      return (v.data as number[])[o] as number;
    };
  });
  const res: number[] = [];
  const idx = new Array<number>(out.length).fill(0);
  for (let k = 0; k < n; k++) {
    let rem = k;
    for (let i = 0; i < out.length; i++) {
      idx[i] = Math.floor(rem / (outSt[i] as number));
      rem -= (idx[i] as number) * (outSt[i] as number);
    }
    res.push(f(...maps.map((m) => m(idx))));
  }
  return res;
}

/** Selects `picks[axis]` indices along each axis of a small known tensor (row-major result). */
function select(v: ValueFacts, picks: readonly (readonly number[])[]): number[] | undefined {
  if (!v.data || !known(v.shape)) return undefined;
  const st = strides(v.shape);
  const res: number[] = [];
  const rec = (axis: number, off: number): void => {
    if (axis === picks.length) {
      res.push((v.data as number[])[off] as number);
      return;
    }
    for (const i of picks[axis] as number[]) rec(axis + 1, off + i * (st[axis] as number));
  };
  if (picks.reduce((p, a) => p * a.length, 1) > MAX_DATA) return undefined;
  rec(0, 0);
  return res;
}

const withData = (f: ValueFacts, data: number[] | undefined): ValueFacts =>
  data && data.length <= MAX_DATA ? { ...f, data } : f;

const UNARY_SAME = new Set([
  'Identity',
  'Relu',
  'Sigmoid',
  'Tanh',
  'Erf',
  'Sqrt',
  'Reciprocal',
  'Neg',
  'Exp',
  'Log',
  'Sin',
  'Cos',
  'Softplus',
  'Softsign',
  'Mish',
  'Softmax',
  'LogSoftmax',
  'Abs',
  'Gelu',
  'Elu',
  'Selu',
  'LeakyRelu',
  'HardSigmoid',
  'HardSwish',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Clip',
  'CumSum',
  'Trilu',
  'Dropout',
  'Not',
  'Celu',
  'ThresholdedRelu',
  'PRelu',
  'InstanceNormalization',
  'BatchNormalization',
]);
const UNARY_FN: Record<string, (x: number) => number> = {
  Identity: (x) => x,
  Neg: (x) => -x,
  Abs: Math.abs,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Sqrt: Math.sqrt,
  Not: (x) => (x ? 0 : 1),
  Sign: Math.sign,
};
const BINARY: Record<string, (a: number, b: number, int: boolean) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b, int) => (int ? Math.trunc(a / b) : a / b),
  Pow: (a, b) => a ** b,
  Mod: (a, b) => a - Math.floor(a / b) * b,
  Max: (a, b) => Math.max(a, b),
  Min: (a, b) => Math.min(a, b),
  Equal: (a, b) => (a === b ? 1 : 0),
  Less: (a, b) => (a < b ? 1 : 0),
  LessOrEqual: (a, b) => (a <= b ? 1 : 0),
  Greater: (a, b) => (a > b ? 1 : 0),
  GreaterOrEqual: (a, b) => (a >= b ? 1 : 0),
  And: (a, b) => (a && b ? 1 : 0),
  Or: (a, b) => (a || b ? 1 : 0),
  Xor: (a, b) => (a ? 1 : 0) ^ (b ? 1 : 0),
};
const BOOL_OUT = new Set([
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Not',
  'IsNaN',
  'IsInf',
]);

/** Axes given as attribute (older opsets) or as the input at `inputIdx` (newer opsets). */
function axesOf(node: NodeProto, get: (n: string) => ValueFacts, inputIdx: number): number[] | undefined {
  const a = attrInts(node, 'axes');
  if (a) return a;
  const name = node.input[inputIdx];
  if (!name) return undefined;
  return get(name).data;
}

/** Output facts of one node from its inputs' facts. Unknown operators give no facts. */
function inferNode(node: NodeProto, get: (n: string) => ValueFacts): ValueFacts[] {
  const op = node.opType ?? '';
  const ins = node.input.map((n) => get(n));
  const x = ins[0] ?? {};
  const xs = x.shape;
  if (BINARY[op] || op === 'Sum' || op === 'Mean') {
    if (ins.some((v) => !v.shape)) return [{ dtype: BOOL_OUT.has(op) ? DataType.BOOL : x.dtype }];
    const out = broadcastShapes(ins.map((v) => v.shape as number[]));
    const dtype = BOOL_OUT.has(op) ? DataType.BOOL : x.dtype;
    const fn = BINARY[op];
    const int = x.dtype !== undefined && INT_TYPES.has(x.dtype);
    const data = fn && ins.length === 2 ? bcastData(ins, out, (a, b) => fn(a, b, int)) : undefined;
    return [withData({ dtype, shape: out }, data)];
  }
  if (UNARY_SAME.has(op) || op === 'IsNaN' || op === 'IsInf') {
    const fn = UNARY_FN[op];
    const f: ValueFacts = { dtype: BOOL_OUT.has(op) ? DataType.BOOL : x.dtype, shape: xs };
    const outs = [withData(f, fn && x.data ? x.data.map(fn) : undefined)];
    if (op === 'Dropout') outs.push({ dtype: DataType.BOOL, shape: xs });
    return outs;
  }
  switch (op) {
    case 'Constant': {
      const a = node.attribute[0];
      if (!a) return [];
      if (a.t) return [tensorFacts(a.t)];
      if (a.name === 'value_int') return [{ dtype: DataType.INT64, shape: [], data: [Number(a.i ?? 0)] }];
      if (a.name === 'value_ints') return [{ dtype: DataType.INT64, shape: [a.ints.length], data: a.ints.map(Number) }];
      if (a.name === 'value_float') return [{ dtype: DataType.FLOAT, shape: [], data: [a.f ?? 0] }];
      if (a.name === 'value_floats') return [{ dtype: DataType.FLOAT, shape: [a.floats.length], data: [...a.floats] }];
      return [];
    }
    case 'Cast': {
      const to = attrIntOr(node, 'to', 0);
      const conv = INT_TYPES.has(to)
        ? Math.trunc
        : to === DataType.BOOL
          ? (v: number) => (v ? 1 : 0)
          : (v: number) => v;
      return [withData({ dtype: to, shape: xs }, x.data?.map(conv))];
    }
    case 'CastLike':
      return [{ dtype: ins[1]?.dtype, shape: xs, data: x.data }];
    case 'Shape': {
      if (!xs) return [{ dtype: DataType.INT64 }];
      const r = xs.length;
      const start = Math.max(0, Math.min(r, normAxis(attrIntOr(node, 'start', 0), r)));
      const endA = attr(node, 'end');
      const end = endA?.i !== undefined ? Math.max(0, Math.min(r, normAxis(Number(endA.i), r))) : r;
      const dims = xs.slice(start, Math.max(start, end));
      return [{ dtype: DataType.INT64, shape: [dims.length], data: dims.every((d) => d >= 0) ? dims : undefined }];
    }
    case 'Size':
      return [{ dtype: DataType.INT64, shape: [], data: xs && known(xs) ? [size(xs)] : undefined }];
    case 'MatMul': {
      const b = ins[1]?.shape;
      return [{ dtype: x.dtype, shape: xs && b ? (matmulShape(xs, b) ?? undefined) : undefined }];
    }
    case 'Gemm': {
      const b = ins[1]?.shape;
      if (!xs || !b || xs.length !== 2 || b.length !== 2) return [{ dtype: x.dtype }];
      const M = attrIntOr(node, 'transA', 0) ? xs[1] : xs[0];
      const N = attrIntOr(node, 'transB', 0) ? b[0] : b[1];
      return [{ dtype: x.dtype, shape: [M as number, N as number] }];
    }
    case 'Transpose': {
      if (!xs) return [{ dtype: x.dtype }];
      const perm = attrInts(node, 'perm') ?? xs.map((_, i) => xs.length - 1 - i);
      return [{ dtype: x.dtype, shape: perm.map((p) => xs[p] ?? -1) }];
    }
    case 'Reshape': {
      const target = ins[1]?.data;
      if (!target)
        return [
          {
            dtype: x.dtype,
            shape: ins[1]?.shape && known(ins[1].shape) ? new Array<number>(ins[1].shape[0] ?? 0).fill(-1) : undefined,
          },
        ];
      const allowZero = attrIntOr(node, 'allowzero', 0) !== 0;
      const shape = target.map((d, i) => (d === 0 && !allowZero ? (xs?.[i] ?? -1) : d));
      const neg = shape.indexOf(-1);
      if (neg >= 0) {
        const total = xs ? size(xs) : -1;
        const rest = shape.filter((_, i) => i !== neg);
        shape[neg] = total >= 0 && known(rest) && size(rest) > 0 ? total / size(rest) : -1;
      }
      return [withData({ dtype: x.dtype, shape }, x.data)];
    }
    case 'Flatten': {
      if (!xs) return [{ dtype: x.dtype }];
      const axis = normAxis(attrIntOr(node, 'axis', 1), xs.length);
      return [withData({ dtype: x.dtype, shape: [size(xs.slice(0, axis)), size(xs.slice(axis))] }, x.data)];
    }
    case 'Unsqueeze': {
      const axes = axesOf(node, get, 1);
      if (!xs || !axes) return [{ dtype: x.dtype }];
      const r = xs.length + axes.length;
      const ax = new Set(axes.map((a) => normAxis(a, r)));
      const out: number[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) out.push(ax.has(i) ? 1 : (xs[k++] ?? -1));
      return [withData({ dtype: x.dtype, shape: out }, x.data)];
    }
    case 'Squeeze': {
      if (!xs) return [{ dtype: x.dtype }];
      const axes = axesOf(node, get, 1);
      const ax = new Set(
        (axes ?? xs.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => normAxis(a, xs.length)),
      );
      return [withData({ dtype: x.dtype, shape: xs.filter((_, i) => !ax.has(i)) }, x.data)];
    }
    case 'Concat': {
      if (ins.some((v) => !v.shape) || !xs) return [{ dtype: x.dtype }];
      const axis = normAxis(attrIntOr(node, 'axis', 0), xs.length);
      const shape = [...xs];
      shape[axis] = ins.reduce(
        (p, v) => (p < 0 || (v.shape?.[axis] ?? -1) < 0 ? -1 : p + (v.shape?.[axis] as number)),
        0,
      );
      let data: number[] | undefined;
      if (ins.every((v) => v.data && known(v.shape))) {
        const outer = size(xs.slice(0, axis));
        data = [];
        for (let o = 0; o < outer; o++) {
          for (const v of ins) {
            const chunk = size((v.shape as number[]).slice(axis));
            data.push(...(v.data as number[]).slice(o * chunk, (o + 1) * chunk));
          }
        }
      }
      return [withData({ dtype: x.dtype, shape }, data)];
    }
    case 'Gather': {
      const ind = ins[1] ?? {};
      if (!xs || !ind.shape) return [{ dtype: x.dtype }];
      const axis = normAxis(attrIntOr(node, 'axis', 0), xs.length);
      const shape = [...xs.slice(0, axis), ...ind.shape, ...xs.slice(axis + 1)];
      let data: number[] | undefined;
      if (ind.data && known(xs)) {
        const dimA = xs[axis] as number;
        const picks = xs.map((d, i) =>
          i === axis ? (ind.data as number[]).map((j) => (j < 0 ? j + dimA : j)) : [...Array(d).keys()],
        );
        data = select(x, picks);
      }
      return [withData({ dtype: x.dtype, shape }, data)];
    }
    case 'Slice': {
      if (!xs) return [{ dtype: x.dtype }];
      const starts = ins[1]?.data ?? attrInts(node, 'starts');
      const ends = ins[2]?.data ?? attrInts(node, 'ends');
      if (!starts || !ends) return [{ dtype: x.dtype, shape: xs.map(() => -1) }];
      const axes = (node.input[3] ? ins[3]?.data : attrInts(node, 'axes')) ?? starts.map((_, i) => i);
      const steps = (node.input[4] ? ins[4]?.data : undefined) ?? starts.map(() => 1);
      const shape = [...xs];
      const picks = xs.map((d) => (d >= 0 ? [...Array(d).keys()] : []));
      axes.forEach((a0, i) => {
        const a = normAxis(a0, xs.length);
        const d = xs[a] as number;
        const step = steps[i] ?? 1;
        if (d < 0) {
          shape[a] = -1;
          return;
        }
        const clampS = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v < 0 ? v + d : v));
        const s = step > 0 ? clampS(starts[i] as number, 0, d) : clampS(starts[i] as number, -1, d - 1);
        const e = step > 0 ? clampS(ends[i] as number, 0, d) : clampS(ends[i] as number, -1, d - 1);
        const idx: number[] = [];
        for (let k = s; step > 0 ? k < e : k > e; k += step) idx.push(k);
        shape[a] = idx.length;
        picks[a] = idx;
      });
      return [withData({ dtype: x.dtype, shape }, known(xs) ? select(x, picks) : undefined)];
    }
    case 'Expand': {
      const target = ins[1]?.data;
      if (!xs || !target) return [{ dtype: x.dtype }];
      const shape = broadcastShapes([xs, target]);
      return [
        withData(
          { dtype: x.dtype, shape },
          bcastData([x], shape, (v) => v),
        ),
      ];
    }
    case 'ConstantOfShape': {
      const target = x.data;
      const a = attr(node, 'value');
      const value = a?.t ? (tensorValues(a.t)?.[0] ?? 0) : 0;
      const dtype = a?.t?.dataType ?? DataType.FLOAT;
      if (!target) return [{ dtype }];
      const n = size(target);
      return [withData({ dtype, shape: target }, n <= MAX_DATA ? new Array<number>(n).fill(value) : undefined)];
    }
    case 'Where': {
      if (ins.some((v) => !v.shape)) return [{ dtype: ins[1]?.dtype }];
      const shape = broadcastShapes(ins.map((v) => v.shape as number[]));
      return [
        withData(
          { dtype: ins[1]?.dtype, shape },
          bcastData(ins, shape, (c, a, b) => (c ? a : b)),
        ),
      ];
    }
    case 'Range': {
      const [s, l, d] = ins.map((v) => v.data?.[0]);
      if (s === undefined || l === undefined || d === undefined || d === 0) return [{ dtype: x.dtype, shape: [-1] }];
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return [
        withData(
          { dtype: x.dtype, shape: [n] },
          n <= MAX_DATA ? [...Array(n).keys()].map((k) => s + k * d) : undefined,
        ),
      ];
    }
    case 'LayerNormalization': {
      if (!xs) return [{ dtype: x.dtype }];
      const axis = normAxis(attrIntOr(node, 'axis', -1), xs.length);
      const reduced = xs.map((d, i) => (i < axis ? d : 1));
      return [
        { dtype: x.dtype, shape: xs },
        { dtype: DataType.FLOAT, shape: reduced },
        { dtype: DataType.FLOAT, shape: reduced },
      ];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL2':
    case 'ReduceL1':
    case 'ReduceSumSquare':
    case 'ReduceLogSumExp': {
      if (!xs) return [{ dtype: x.dtype }];
      const keep = attrIntOr(node, 'keepdims', 1) !== 0;
      const axes = axesOf(node, get, 1);
      if (!axes && node.input[1]) return [{ dtype: x.dtype }];
      const ax = new Set(
        (axes && axes.length > 0 ? axes : attrIntOr(node, 'noop_with_empty_axes', 0) ? [] : xs.map((_, i) => i)).map(
          (a) => normAxis(a, xs.length),
        ),
      );
      const shape = keep ? xs.map((d, i) => (ax.has(i) ? 1 : d)) : xs.filter((_, i) => !ax.has(i));
      return [{ dtype: x.dtype, shape }];
    }
    case 'Split': {
      if (!xs) return node.output.map(() => ({ dtype: x.dtype }));
      const axis = normAxis(attrIntOr(node, 'axis', 0), xs.length);
      const d = xs[axis] as number;
      let parts = (node.input[1] ? ins[1]?.data : undefined) ?? attrInts(node, 'split');
      if (!parts && d >= 0) {
        const n = node.output.length;
        const chunk = Math.ceil(d / n);
        parts = node.output.map((_, i) => Math.min(chunk, d - i * chunk));
      }
      return node.output.map((_, i) => {
        const shape = [...xs];
        shape[axis] = parts?.[i] ?? -1;
        return { dtype: x.dtype, shape };
      });
    }
    case 'Tile': {
      const reps = ins[1]?.data;
      if (!xs || !reps) return [{ dtype: x.dtype }];
      return [{ dtype: x.dtype, shape: xs.map((d, i) => (d < 0 ? -1 : d * (reps[i] ?? 1))) }];
    }
    case 'Pad': {
      const pads = ins[1]?.data ?? attrInts(node, 'pads');
      if (!xs || !pads) return [{ dtype: x.dtype }];
      const r = xs.length;
      return [{ dtype: x.dtype, shape: xs.map((d, i) => (d < 0 ? -1 : d + (pads[i] ?? 0) + (pads[i + r] ?? 0))) }];
    }
    case 'ScatterND':
    case 'ScatterElements':
      return [{ dtype: x.dtype, shape: xs }];
    default:
      return [];
  }
}
