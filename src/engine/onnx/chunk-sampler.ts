/**
 * ONNX nodes for one sampler step: the float32 executor of a {@link StepPlan} (the other executor
 * is `applyStepPlan`, float64 TypeScript). Coefficients become scalar initializers; a zero
 * coefficient emits no node. Dynamic thresholding needs a quantile, which ONNX lacks: TopK of the
 * largest n − lo values of |x0| gives the lo-th and (lo+1)-th smallest, interpolated linearly as
 * torch.quantile does.
 */
import { quantilePosition, type StepPlan } from '../sampler-steps';
import { DataType, attrInt, int64Tensor, makeNode, makeTensor, type NodeProto, type TensorProto } from './proto';

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

/**
 * Emits step `plan` as nodes named under `prefix` (unique per step).
 * @param shape the shape the sample values have (e.g. [B, T, Da], or [B·T, Da] when the chunk
 *   carries samples in the denoiser's own layout); batch-major, so thresholding can view it as
 *   [B, rest].
 * @param batch B (default `shape[0]`).
 */
export function samplerStepNodes(
  plan: StepPlan,
  v: StepValues,
  shape: readonly number[],
  prefix: string,
  batch = shape[0]!,
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
  /** Σ c_i·x_i over the nonzero coefficients, into `out` (a coefficient of 1 needs no Mul). */
  const combination = (terms: [number, string | null][], out: string): void => {
    const parts = terms
      .filter(([c]) => c !== 0)
      .map(([c, x]) => {
        if (x === null) throw new Error(`${prefix}: the plan reads a value this step was not given`);
        return c === 1 ? x : node('Mul', [x, scalar('coef', c)]);
      });
    if (parts.length === 0) throw new Error(`${prefix}: empty combination`);
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
    const top = name('top');
    nodes.push(
      makeNode('TopK', [flat, ints('k', [n - lo])], [top, name('top_indices')], name('TopK_node'), [
        attrInt('axis', 1),
        attrInt('largest', 1),
        attrInt('sorted', 1),
      ]),
    );
    const column = (i: number): string =>
      node('Slice', [top, ints('start', [i]), ints('end', [i + 1]), ints('axes', [1])]);
    const low = column(n - lo - 1);
    const high = n - lo >= 2 ? column(n - lo - 2) : low;
    const q = frac === 0 ? low : node('Add', [low, node('Mul', [node('Sub', [high, low]), scalar('frac', frac)])]);
    const s = node('Clip', [q, scalar('one', 1), scalar('max_value', limit.maxValue)]);
    // clamp(x, −s, s)/s as clamp(x/s, −1, 1): the same float32 value (division by s > 0 is
    // correctly rounded and monotone, and ±s/s is exactly ±1) in two nodes instead of four
    const limited = node('Clip', [node('Div', [flatRaw, s]), scalar('minus_one', -1), scalar('one', 1)]);
    node('Reshape', [limited, ints('shape', shape)], v.x0);
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
