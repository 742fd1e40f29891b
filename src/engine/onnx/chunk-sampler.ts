/**
 * ONNX nodes for one sampler step: the float32 executor of a {@link StepPlan} (the other executor
 * is `applyStepPlan`, float64 TypeScript). A zero coefficient emits no node. Dynamic thresholding
 * needs a quantile, which ONNX lacks: TopK of the largest n − lo values of |x0| gives the lo-th and
 * (lo+1)-th smallest, interpolated linearly as torch.quantile does (one MatMul with the two
 * interpolation weights).
 *
 * Fewest nodes, because in a chunk graph every node is a kernel dispatch per step that costs more
 * than its arithmetic at these sizes: with samples in a 2-D layout and an identity matrix given
 * ({@link samplerIdentity}), a linear combination c_1·x_1 + c_2·x_2 is one `Gemm`
 * (alpha·x_2·I + beta·x_1: x·I is exact, each term is still one float32 product) instead of two
 * `Mul`s and a `Sum`; terms with coefficient 1 are added by one `Sum`.
 */
import { quantilePosition, type StepPlan } from '../sampler-steps';
import {
  AttrType,
  DataType,
  attrInt,
  int64Tensor,
  makeNode,
  makeTensor,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from './proto';

/** Value names one step reads and writes. */
export interface StepValues {
  /** x_k [B, T, Da]. */
  readonly sample: string;
  /** The denoiser output at step k. */
  readonly prediction: string;
  /** The previous step's limited data prediction, when the plan reads it. */
  readonly previousX0: string | null;
  /** Standard normal noise [B, T, Da], when the plan reads it. */
  readonly noise: string | null;
  /** Names to give x_{k+1} and this step's limited data prediction. */
  readonly nextSample: string;
  readonly x0: string;
}

/** Nodes and initializers of one step. */
export interface StepNodes {
  readonly nodes: NodeProto[];
  readonly initializers: TensorProto[];
}

function float32Scalar(name: string, v: number): TensorProto {
  return makeTensor(name, DataType.FLOAT, [], new Uint8Array(Float32Array.of(v).buffer));
}

function attrFloat(name: string, v: number): AttributeProto {
  return { name, type: AttrType.FLOAT, f: v, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
}

/** The n × n identity that {@link samplerStepNodes} reads (one per chunk graph, shared by its steps). */
export function samplerIdentity(name: string, n: number): TensorProto {
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return makeTensor(name, DataType.FLOAT, [n, n], new Uint8Array(eye.buffer));
}

/**
 * Emits step `plan` as nodes named under `prefix` (unique per step).
 * @param shape the shape the sample values have (e.g. [B, T, Da], or [B·T, Da] when the chunk
 *   carries samples in the denoiser's own layout); batch-major, so thresholding can view it as
 *   [B, rest].
 * @param batch B (default `shape[0]`).
 * @param identity name of a [shape[1], shape[1]] {@link samplerIdentity}, for 2-D shapes: linear
 *   combinations become Gemms. Without it (or for other ranks) they are Muls and a Sum.
 */
export function samplerStepNodes(
  plan: StepPlan,
  v: StepValues,
  shape: readonly number[],
  prefix: string,
  batch = shape[0]!,
  identity?: string,
): StepNodes {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  let counter = 0;
  const name = (what: string): string => `${prefix}${what}_${counter++}`;
  const scalar = (what: string, value: number): string => {
    const n = name(what);
    initializers.push(float32Scalar(n, value));
    return n;
  };
  const node = (op: string, inputs: string[], out = name(op), attrs: NodeProto['attribute'] = []): string => {
    nodes.push(makeNode(op, inputs, [out], name(`${op}_node`), attrs));
    return out;
  };
  const gemms = identity !== undefined && shape.length === 2;
  /** c·x + beta·acc as one Gemm (x·I is x exactly). */
  const gemm = (c: number, x: string, acc: string, beta: number, out?: string): string =>
    node('Gemm', [x, identity!, acc], out, [attrFloat('alpha', c), attrFloat('beta', beta)]);
  /**
   * Σ c_i·x_i over the nonzero coefficients, into `out` (a coefficient of 1 needs no product).
   * With Gemms: the scaled terms chained pairwise (the first one's product as the Gemm's beta·C),
   * or a lone scaled term onto the first unit term; the remaining unit terms by one Sum.
   */
  const combination = (terms: [number, string | null][], out: string): void => {
    const present = terms
      .filter(([c]) => c !== 0)
      .map(([c, x]): [number, string] => {
        if (x === null) throw new Error(`${prefix}: the plan reads a value this step was not given`);
        return [c, x];
      });
    if (present.length === 0) throw new Error(`${prefix}: empty combination`);
    const scaled = present.filter(([c]) => c !== 1);
    const units = present.filter(([c]) => c === 1).map(([, x]) => x);
    if (gemms && (scaled.length >= 2 || (scaled.length === 1 && units.length >= 1))) {
      const [[c0, x0], ...rest] = scaled as [[number, string], ...[number, string][]];
      const fromUnit = rest.length === 0;
      const chain = fromUnit ? scaled : rest;
      let acc = fromUnit ? units.shift()! : x0;
      chain.forEach(([c, x], i) => {
        const last = i === chain.length - 1 && units.length === 0;
        acc = gemm(c, x, acc, i === 0 && !fromUnit ? c0 : 1, last ? out : undefined);
      });
      if (units.length > 0) node('Sum', [acc, ...units], out);
      return;
    }
    const parts = present.map(([c, x]) => (c === 1 ? x : node('Mul', [x, scalar('coef', c)])));
    if (parts.length === 1) node('Identity', parts, out);
    else node('Sum', parts, out);
  };

  const limit = plan.limit;
  const raw = limit.kind === 'none' ? v.x0 : name('x0_raw');
  combination(
    [
      [plan.x0FromSample, v.sample],
      [plan.x0FromPrediction, v.prediction],
    ],
    raw,
  );
  if (limit.kind === 'clip') {
    node('Clip', [raw, scalar('min', -limit.range), scalar('max', limit.range)], v.x0);
  } else if (limit.kind === 'threshold') {
    const B = batch;
    const n = shape.reduce((a, b) => a * b, 1) / B;
    const { lo, frac } = quantilePosition(n, limit.ratio);
    const ints = (what: string, values: readonly number[]): string => {
      const t = name(what);
      initializers.push(int64Tensor(t, [values.length], values));
      return t;
    };
    // per batch element: [B, n], the scale s [B, 1] broadcasting along each row
    const flatRaw = node('Reshape', [raw, ints('flat', [B, n])]);
    const flat = node('Abs', [flatRaw]);
    // the n − lo largest, descending: the last is the lo-th smallest, the one before it the (lo+1)-th
    const k = n - lo;
    const top = name('top');
    nodes.push(
      makeNode('TopK', [flat, ints('k', [k])], [top, name('top_indices')], name('TopK_node'), [
        attrInt('axis', 1),
        attrInt('largest', 1),
        attrInt('sorted', 1),
      ]),
    );
    let q: string;
    if (frac === 0 || k < 2) q = node('Slice', [top, ints('start', [k - 1]), ints('end', [k]), ints('axes', [1])]);
    else {
      // low + frac·(high − low) as (1 − frac)·low + frac·high: one MatMul with the two weights
      const weights = new Float32Array(k);
      weights[k - 2] = frac;
      weights[k - 1] = 1 - frac;
      const w = name('quantile_weights');
      initializers.push(makeTensor(w, DataType.FLOAT, [k, 1], new Uint8Array(weights.buffer)));
      q = node('MatMul', [top, w]);
    }
    const s = node('Clip', [q, scalar('one', 1), scalar('max_value', limit.maxValue)]);
    // clamp(x, −s, s)/s as clamp(x/s, −1, 1): the same float32 value (division by s > 0 is
    // correctly rounded and monotone, and ±s/s is exactly ±1) in two nodes instead of four.
    // At batch 1, s [1, 1] broadcasts over the sample in its own shape: no Reshape back.
    const scaledRaw = B === 1 ? raw : flatRaw;
    const limitedOut = B === 1 ? v.x0 : undefined;
    const limited = node('Clip', [node('Div', [scaledRaw, s]), scalar('minus_one', -1), scalar('one', 1)], limitedOut);
    if (B !== 1) node('Reshape', [limited, ints('shape', shape)], v.x0);
  }
  const c = plan.next;
  combination(
    [
      [c.sample, v.sample],
      [c.x0, v.x0],
      [c.prediction, v.prediction],
      [c.previousX0, v.previousX0],
      [c.noise, v.noise],
    ],
    v.nextSample,
  );
  return { nodes, initializers };
}

/** The noise terms of all steps, computed once: see {@link scaledNoiseNodes}. */
export interface ScaledNoise extends StepNodes {
  /** Per step, c_noise·z_k (the samples' shape), or null for a step that draws none. */
  readonly terms: readonly (string | null)[];
}

/**
 * The noise term c_noise,k·z_k of every step from the chunk's noise input `noise` [K, B, T, Da],
 * each of `shape` (the samples' shape, batch-major), computed in three nodes for the whole chunk
 * (Reshape to [K·shape[0], …], Mul by the per-step coefficients, Split into K values) instead of a Gather and a Mul at each step: per-step
 * dispatches, not arithmetic, dominate at these sizes. Each term is the same float32 product the
 * step would compute; a step then adds its term with coefficient 1 ({@link withScaledNoise}).
 */
export function scaledNoiseNodes(
  plans: readonly StepPlan[],
  noise: string,
  shape: readonly number[],
  prefix: string,
): ScaledNoise {
  const [rows, ...rest] = shape as [number, ...number[]];
  const K = plans.length;
  const flat = `${prefix}flat`;
  const coefs = `${prefix}coefs`;
  const scaled = `${prefix}scaled`;
  const c = new Float32Array(K * rows);
  plans.forEach((p, k) => c.fill(p.next.noise, k * rows, (k + 1) * rows));
  const terms = plans.map((p, k) => (p.next.noise !== 0 ? `${prefix}term_${k}` : null));
  return {
    nodes: [
      makeNode('Reshape', [noise, `${prefix}flat_shape`], [flat], `${prefix}Reshape`),
      makeNode('Mul', [flat, coefs], [scaled], `${prefix}Mul`),
      makeNode(
        'Split',
        [scaled, `${prefix}split`],
        plans.map((_, k) => terms[k] ?? `${prefix}unused_${k}`),
        `${prefix}Split`,
        [attrInt('axis', 0)],
      ),
    ],
    initializers: [
      int64Tensor(`${prefix}flat_shape`, [shape.length], [K * rows, ...rest]),
      makeTensor(coefs, DataType.FLOAT, [K * rows, ...rest.map(() => 1)], new Uint8Array(c.buffer)),
      int64Tensor(`${prefix}split`, [K], new Array<number>(K).fill(rows)),
    ],
    terms,
  };
}

/** `plan` reading its noise term already scaled ({@link scaledNoiseNodes}): coefficient 1. */
export function withScaledNoise(plan: StepPlan): StepPlan {
  return plan.next.noise === 0 ? plan : { ...plan, next: { ...plan.next, noise: 1 } };
}
