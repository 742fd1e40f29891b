/**
 * The values of a denoiser step that depend on the timestep alone (the time embedding, and after
 * row splitting (`row-split.ts`) the time token's encoder output and cross-attention K/V),
 * evaluated once per step of a chunk at build time, so the chunk graph reads them as constants.
 *
 * Why not let ONNX Runtime fold them when the chunk graph opens: its constant folding runs `Gemm`
 * without the packed weights a session's kernels use, and the results differ from the run-time
 * kernels' in the last bits (≈ 7e-7 on the demo's encoder), which the decoder amplifies past the
 * 1e-5 the chunk graph must hold against the per-step runner. Evaluated here by a session with the
 * same kernels, they are bit-identical to what the runner computes; and a chunk graph with
 * nothing left to fold also opens faster.
 */
import type * as Ort from 'onnxruntime-node';
import { loadOrt } from '../ort';
import { DataType, encodeModel, makeTensor, type ModelProto, type TensorProto } from './proto';

/** Per step, value name → its constant at that step's timestep. */
export type TimestepValues = readonly ReadonlyMap<string, TensorProto>[];

/**
 * Names of the values of `step` that depend on its `timestep` input and on no other input, and
 * that a node depending on another input reads (or that are graph outputs): what a chunk graph
 * needs of the timestep-only part. O(nodes).
 */
export function timestepOnlyFrontier(step: ModelProto): {
  readonly frontier: string[];
  readonly timestepOnly: ReadonlySet<string>;
  /** Values computed from initializers alone (the timestep-only nodes may read them). */
  readonly constant: ReadonlySet<string>;
} {
  const g = step.graph!;
  const inputs = new Set(g.input.map((i) => i.name ?? ''));
  const timestepOnly = new Set<string>(['timestep']);
  const otherInput = new Set<string>([...inputs].filter((n) => n !== 'timestep'));
  const constant = new Set<string>();
  for (const node of g.node) {
    const reads = node.input.filter((x) => x);
    const other = reads.some((x) => otherInput.has(x)) || node.attribute.some((a) => a.g || a.graphs.length);
    const time = reads.some((x) => timestepOnly.has(x));
    for (const o of node.output) {
      if (!o) continue;
      if (other) otherInput.add(o);
      else if (time) timestepOnly.add(o);
      else constant.add(o);
    }
  }
  const frontier = new Set<string>();
  for (const node of g.node) {
    if (!node.output.some((o) => o && otherInput.has(o))) continue;
    for (const x of node.input) if (x && x !== 'timestep' && timestepOnly.has(x)) frontier.add(x);
  }
  for (const o of g.output) if (o.name && timestepOnly.has(o.name)) frontier.add(o.name);
  return { frontier: [...frontier], timestepOnly, constant };
}

const TYPES: Partial<Record<string, [number, (d: Ort.Tensor['data']) => Uint8Array]>> = {
  float32: [DataType.FLOAT, (d) => new Uint8Array((d as Float32Array).slice().buffer)],
  float64: [DataType.DOUBLE, (d) => new Uint8Array((d as Float64Array).slice().buffer)],
  int64: [DataType.INT64, (d) => new Uint8Array((d as BigInt64Array).slice().buffer)],
  int32: [DataType.INT32, (d) => new Uint8Array((d as Int32Array).slice().buffer)],
  bool: [DataType.BOOL, (d) => new Uint8Array(d as Uint8Array)],
};

/**
 * The timestep-only frontier values of `step` (batch `batch`) at each of `timesteps`, computed by
 * one ONNX Runtime session (CPU, optimisation disabled so the nodes run as written). Null when
 * the step has no such value or one of an element type this function does not store.
 * O(nodes + K runs of the timestep-only nodes).
 */
export async function evaluateTimestepValues(
  step: ModelProto,
  timesteps: readonly number[],
  batch: number,
  timestepType: 'int64' | 'float32',
): Promise<TimestepValues | null> {
  const { frontier, timestepOnly, constant } = timestepOnlyFrontier(step);
  if (frontier.length === 0) return null;
  const g = step.graph!;
  const nodes = g.node.filter((n) => n.output.some((o) => o && (timestepOnly.has(o) || constant.has(o))));
  const read = new Set(nodes.flatMap((n) => n.input));
  const model: ModelProto = {
    ...step,
    graph: {
      ...g,
      node: nodes,
      initializer: g.initializer.filter((t) => read.has(t.name ?? '')),
      input: g.input.filter((i) => i.name === 'timestep'),
      output: frontier.map((name) => ({ name })),
      valueInfo: [],
    },
  };
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(encodeModel(model), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  try {
    const out: Map<string, TensorProto>[] = [];
    for (const t of timesteps) {
      const feed =
        timestepType === 'int64'
          ? new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(t)), [batch])
          : new ort.Tensor('float32', new Float32Array(batch).fill(t), [batch]);
      const result = await session.run({ timestep: feed });
      const values = new Map<string, TensorProto>();
      for (const name of frontier) {
        const v = result[name]!;
        const type = TYPES[v.type];
        if (!type) return null;
        values.set(name, makeTensor(name, type[0], v.dims, type[1](v.data)));
      }
      out.push(values);
    }
    return out;
  } finally {
    await session.release();
  }
}
