/**
 * The chunk graph: one ONNX model that runs a whole action chunk — the K sampler steps unrolled,
 * the schedule baked in. Built from ONE denoiser step whose weight preprocessing is already folded
 * (`chunk-step.ts`), so every step reads the same initializers and the file weighs about what the
 * plain model weighs.
 *
 * - Inputs: `cond` [B, To, Do], `initial_sample` x_K [B, T, Da] and, when some step draws noise
 *   (DDPM, DDIM with η > 0), `step_noise` [K, B, T, Da] (row k is step k's noise; rows of steps
 *   that draw none are ignored). Output: `chunk` [B, T, Da], the final normalised sample.
 * - Step k contains the nodes of the blocks that update at step k; a block that reuses its output
 *   has its consumers read the value computed at the last step it updated (a plain edge: no `If`,
 *   no cache tensors).
 * - Nodes that read neither the sample nor the timestep (observation embedding, the condition
 *   encoder when it does not see the timestep) are emitted once for the whole chunk; nodes no
 *   output needs (e.g. the condition encoder at a step where no cross-attention block updates) are
 *   dropped.
 * - The step arrives row-split (`row-split.ts`, via `chunk-step.ts`): with the MLP condition
 *   encoder the observation rows' encoder output and every layer's cross-attention K/V read only
 *   `cond`, so they are emitted once, and a cross-attention block that updates concatenates them
 *   with its time row's K/V.
 * - Values that depend on the timestep alone (the time embedding; the time row's K/V) are
 *   constants per step, given as `timestepValues` (`timestep-values.ts`, evaluated with the
 *   run-time kernels so the chunk stays bit-identical to the per-step runner); without them the
 *   nodes are emitted with a constant timestep for ONNX Runtime to fold.
 * - Samples travel between steps in the layout the step computes them in (see `sampleLayout`), so
 *   the Reshapes around the input embedding and the head run once per chunk, not per step.
 * - The sampler update of each step is `chunk-sampler.ts`'s executor of the scheduler's
 *   {@link StepPlan}, the same description `NoiseScheduler.step` runs; the noise terms of all
 *   steps are scaled once per chunk.
 *
 * - The residual sums are one `Sum` per chain, and the cached terms the final norm reads are
 *   summed once for all the steps that carry the same ones (`chunk-sums.ts`); where the norm sits
 *   between the input embedding's and the head's Gemms it works in their 2-D layout
 *   (`chunk-norm-layout.ts`).
 *
 * What a step where every block reuses still runs: the input embedding, the final norm (its skip
 * the shared sum), the head, and the sampler update — 7 nodes for DDPM.
 */
import { BacError } from '../../core/errors';
import type { StepPlan } from '../sampler-steps';
import { exclusiveSets, indexGraph, type GraphIndex } from './graph';
import { tensorValues } from './shapes';
import { normInGemmLayout } from './chunk-norm-layout';
import { mergeAddChains, shareCarriedSums } from './chunk-sums';
import { samplerIdentity, samplerStepNodes, scaledNoiseNodes, withScaledNoise } from './chunk-sampler';
import { CHUNK_COND, CHUNK_INITIAL_SAMPLE, CHUNK_OUTPUT, CHUNK_STEP_NOISE } from './io-names';
import type { TimestepValues } from './timestep-values';
import {
  DataType,
  int64Tensor,
  makeNode,
  makeTensor,
  tensorValueInfo,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto';

/** What the builder needs besides the step graph. */
export interface ChunkSpec {
  /** Block outputs in model order (rows of `table`). */
  readonly blocks: readonly { readonly id: string; readonly output: string }[];
  /** `table[k·nBlocks + i]` = 1 when block i recomputes at step k; every block updates at step 0. */
  readonly table: Uint8Array;
  /** The K steps' plans (`NoiseScheduler.stepPlan`). */
  readonly plans: readonly StepPlan[];
  /** Fixed batch B. */
  readonly batch: number;
  /** [T, Da] of the sample. */
  readonly sampleShape: readonly [number, number];
  /** [To, Do] of `cond`. */
  readonly condShape: readonly [number, number];
  /** Element type of the step graph's `timestep` input. */
  readonly timestepType: 'int64' | 'float32';
  /**
   * Per step, the step's timestep-only values (`timestep-values.ts`): they become constants and
   * the nodes that compute them are not emitted. Without them those nodes are emitted per step
   * with a constant timestep, for ONNX Runtime to fold.
   */
  readonly timestepValues?: TimestepValues;
  /**
   * Also output, per step, the values tests compare with the cached runner: see
   * {@link ChunkGraph.stepValues}. Off for deployment (each extra output costs a copy).
   */
  readonly exposeSteps?: boolean;
}

/** Value names of step k in a graph built with `exposeSteps` (graph outputs). */
export interface StepValueNames {
  /** x_k, the sample the denoiser reads at step k. */
  readonly sample: string;
  readonly prediction: string;
  /** Block outputs in model order: fresh at an updating step, else the last fresh one. */
  readonly blocks: readonly string[];
}

/** A built chunk graph. */
export interface ChunkGraph {
  readonly model: ModelProto;
  /** Whether the model has the `step_noise` input. */
  readonly usesNoise: boolean;
  /** Per step, its values' names; empty unless built with `exposeSteps`. */
  readonly stepValues: readonly StepValueNames[];
  /** Denoiser nodes emitted once for the chunk, and per step (after dropping unused ones). */
  readonly sharedNodes: number;
  readonly stepNodes: readonly number[];
}

/**
 * Unrolls `step` (a decoded single-step model with inputs `sample`, `timestep`, `cond`, the
 * prediction as first output, and the block outputs; batch fixed and weight preprocessing folded)
 * into a chunk graph. The step model is not mutated; nodes are copied with renamed values.
 * @throws BacError when a block cannot be skipped (overlapping or empty exclusive sets), the table
 *   has the wrong size, or a block does not update at step 0.
 * O(K · nodes).
 */
export function buildChunkGraph(step: ModelProto, spec: ChunkSpec): ChunkGraph {
  const g = step.graph;
  if (!g) throw new BacError('the step model has no graph');
  const K = spec.plans.length;
  const n = spec.blocks.length;
  if (spec.table.length !== K * n)
    throw new BacError(`update table has ${spec.table.length} entries, expected ${K}·${n}`);
  for (let i = 0; i < n; i++) {
    if (!spec.table[i]) throw new BacError(`block ${spec.blocks[i]!.id} does not update at step 0; every block must`);
  }
  for (const input of ['sample', 'timestep', 'cond']) {
    if (!g.input.some((x) => x.name === input)) throw new BacError(`the step model has no input "${input}"`);
  }
  const prediction = g.output[0]?.name ?? '';
  const index = indexGraph(g);
  const { sets, overlaps } = exclusiveSets(
    index,
    spec.blocks.map((b) => b.output),
  );
  if (overlaps.length > 0 || sets.some((s) => s.length === 0)) {
    throw new BacError(
      'the step model computes two blocks in one node or a block in a shared node; it cannot be unrolled per block',
    );
  }
  const blockOf = new Int32Array(g.node.length).fill(-1);
  sets.forEach((s, i) => s.forEach((node) => (blockOf[node] = i)));

  // nodes reading the sample or the timestep, directly or not, run per step; the rest once
  const variant = new Uint8Array(g.node.length);
  const variantValues = new Set(['sample', 'timestep']);
  g.node.forEach((node, i) => {
    if ((index.reads[i] ?? []).some((x) => variantValues.has(x))) {
      variant[i] = 1;
      for (const o of node.output) if (o) variantValues.add(o);
    }
  });

  // nodes whose values depend on the timestep alone: replaced by `timestepValues` when given
  const timestepOnly = new Uint8Array(g.node.length);
  const timestepOnlyValues = new Set(['timestep']);
  const dependsOnOthers = new Set(['sample', 'cond']);
  g.node.forEach((node, i) => {
    const others = (index.reads[i] ?? []).some((x) => dependsOnOthers.has(x));
    if (!others && !variant[i]) return;
    if (!others) timestepOnly[i] = 1;
    for (const o of node.output) if (o) (others ? dependsOnOthers : timestepOnlyValues).add(o);
  });

  const [T, Da] = spec.sampleShape;
  const B = spec.batch;
  const sampleDims = [B, T, Da];
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [...g.initializer];
  g.node.forEach((node, i) => {
    if (!variant[i]) nodes.push(node);
  });
  const layout = sampleLayout(index, prediction, B * T * Da);
  const layoutShape = layout?.shape ?? sampleDims;
  let sample = CHUNK_INITIAL_SAMPLE;
  if (layout) {
    sample = 'initial_sample/layout';
    inits.push(
      int64Tensor('layout/shape', [layoutShape.length], layoutShape),
      int64Tensor('output/shape', [3], sampleDims),
    );
    nodes.push(makeNode('Reshape', [CHUNK_INITIAL_SAMPLE, 'layout/shape'], [sample], 'initial_sample/Reshape'));
  }

  const usesNoise = spec.plans.some((p) => p.next.noise !== 0);
  const noise = usesNoise ? scaledNoiseNodes(spec.plans, CHUNK_STEP_NOISE, layoutShape, 'noise/') : null;
  if (noise) {
    nodes.push(...noise.nodes);
    inits.push(...noise.initializers);
  }
  // the sampler's linear combinations as Gemms (chunk-sampler.ts) when samples travel as 2-D
  const identity = layoutShape.length === 2 ? 'sampler/identity' : undefined;
  if (identity) inits.push(samplerIdentity(identity, layoutShape[1]!));
  const stepValues: StepValueNames[] = [];
  const constantNames = new Set<string>();
  const lastFresh = new Int32Array(n);
  let previousX0: string | null = null;
  for (let k = 0; k < K; k++) {
    const row = spec.table.subarray(k * n, (k + 1) * n);
    for (let i = 0; i < n; i++) if (row[i]) lastFresh[i] = k;
    const at = (v: string, s: number): string => `s${s}/${v}`;
    const timestep = at('timestep', k);
    const t = spec.plans[k]!.timestep;
    inits.push(
      spec.timestepType === 'int64'
        ? int64Tensor(timestep, [B], new Array<number>(B).fill(t))
        : makeTensor(timestep, DataType.FLOAT, [B], new Uint8Array(new Float32Array(B).fill(t).buffer)),
    );
    const constants = spec.timestepValues?.[k];
    const rename = (x: string): string => {
      if (x === 'sample' || x === layout?.sampleValue) return sample;
      if (x === 'timestep') return timestep;
      if (constants && timestepOnlyValues.has(x)) {
        const constant = constants.get(x);
        if (!constant) throw new BacError(`step ${k} reads "${x}", a timestep-only value it was given no constant for`);
        if (!constantNames.has(at(x, k))) inits.push({ ...constant, name: at(x, k) });
        constantNames.add(at(x, k));
        return at(x, k);
      }
      if (!variantValues.has(x)) return x;
      const p = index.producer.get(x)!;
      const b = blockOf[p]!;
      return b >= 0 ? at(x, lastFresh[b]!) : at(x, k);
    };
    g.node.forEach((node, i) => {
      if (!variant[i] || (constants && timestepOnly[i]) || i === layout?.sampleReshape) return;
      const b = blockOf[i]!;
      if (b >= 0 && !row[b]) return;
      nodes.push({
        ...node,
        name: at(node.name ?? `n${i}`, k),
        input: node.input.map((x) => (x ? rename(x) : x)),
        output: node.output.map((x) => (x ? at(x, k) : x)),
      });
    });
    const plan = spec.plans[k]!;
    const pred = rename(layout?.predictionValue ?? prediction);
    const next = k === K - 1 && !layout ? CHUNK_OUTPUT : at('next_sample', k);
    const x0 = at('x0', k);
    const emitted = samplerStepNodes(
      withScaledNoise(plan),
      { sample, prediction: pred, previousX0, noise: noise?.terms[k] ?? null, nextSample: next, x0 },
      layoutShape,
      at('sampler/', k),
      B,
      identity,
    );
    nodes.push(...emitted.nodes);
    inits.push(...emitted.initializers);
    if (spec.exposeSteps) {
      stepValues.push({ sample, prediction: pred, blocks: spec.blocks.map((b) => rename(b.output)) });
    }
    sample = next;
    previousX0 = x0;
  }
  if (layout) nodes.push(makeNode('Reshape', [sample, 'output/shape'], [CHUNK_OUTPUT], 'output/Reshape'));

  const exposed = new Set<string>();
  for (const s of stepValues) for (const v of [s.sample, s.prediction, ...s.blocks]) exposed.add(v);
  exposed.delete(CHUNK_INITIAL_SAMPLE);
  const outputs = [CHUNK_OUTPUT, ...exposed];
  const outputSet = new Set(outputs);
  const summed = shareCarriedSums(mergeAddChains(liveNodes(nodes, outputs), outputSet), outputSet);
  const layout2d = normInGemmLayout(summed, new Map(inits.map((t) => [t.name ?? '', t])), outputSet);
  const kept = layout2d.nodes;
  inits.push(...layout2d.initializers);
  // step nodes are named `s<k>/…` (above); the rest are the shared ones
  const stepNodes = new Array<number>(K).fill(0);
  let sharedCount = 0;
  for (const node of kept) {
    const m = /^s(\d+)\//.exec(node.name ?? '');
    if (m) stepNodes[Number(m[1])]! += 1;
    else sharedCount++;
  }
  const used = new Set<string>();
  for (const node of kept) for (const x of node.input) used.add(x);
  const graph: GraphProto = {
    ...g,
    name: 'bac_chunk',
    node: kept,
    initializer: inits.filter((t) => used.has(t.name ?? '')),
    input: [
      tensorValueInfo(CHUNK_COND, DataType.FLOAT, [B, ...spec.condShape]),
      tensorValueInfo(CHUNK_INITIAL_SAMPLE, DataType.FLOAT, sampleDims),
      ...(usesNoise ? [tensorValueInfo(CHUNK_STEP_NOISE, DataType.FLOAT, [K, ...sampleDims])] : []),
    ],
    output: [
      tensorValueInfo(CHUNK_OUTPUT, DataType.FLOAT, sampleDims),
      ...[...exposed].map((name) => tensorValueInfo(name, DataType.FLOAT, null)),
    ],
    valueInfo: [],
  };
  return {
    model: { ...step, graph },
    usesNoise,
    stepValues,
    sharedNodes: sharedCount,
    stepNodes,
  };
}

/** The step's own layout of the sample: see {@link sampleLayout}. */
interface SampleLayout {
  /** The shape (batch-major) the step reshapes the sample to before reading it. */
  readonly shape: number[];
  /** Index of that Reshape node, and its output. */
  readonly sampleReshape: number;
  readonly sampleValue: string;
  /** The value of that shape the prediction output is a Reshape of. */
  readonly predictionValue: string;
}

/**
 * The layout the step computes the sample in, when it differs from [B, T, Da] only by Reshapes at
 * its boundary: `sample` is read only by a Reshape to a constant shape, and the prediction is a
 * Reshape of a value of that shape (ORT's MatMul+Add fusion wraps the input embedding's and the
 * head's Gemm so). The chunk then carries samples in that layout from step to step — the sampler
 * update is elementwise — and both Reshapes leave every step (one per chunk at each end instead).
 * Null when the step has another form. O(1) after indexing.
 */
function sampleLayout(index: GraphIndex, prediction: string, size: number): SampleLayout | null {
  const g = index.graph;
  const readers = index.consumers.get('sample') ?? [];
  const produced = index.producer.get(prediction);
  if (readers.length !== 1 || produced === undefined || index.graphOutputs.has('sample')) return null;
  const reshape = g.node[readers[0]!]!;
  const last = g.node[produced]!;
  const shapeOf = (name: string | undefined): number[] | null => {
    const t = g.initializer.find((x) => x.name === name);
    const v = t ? tensorValues(t) : null;
    return v && v.every((d) => d > 0) && v.reduce((a, b) => a * b, 1) === size ? v : null;
  };
  const isReshape = (node: NodeProto) => node.opType === 'Reshape' && !node.domain;
  if (!isReshape(reshape) || !isReshape(last) || reshape.input[0] !== 'sample') return null;
  const shape = shapeOf(reshape.input[1]);
  if (!shape) return null;
  // the prediction's source has that shape when it is the Gemm that ORT's fusion reshapes back
  const source = index.producer.get(last.input[0]!);
  const gemm = source === undefined ? undefined : g.node[source];
  if (!gemm || gemm.opType !== 'Gemm' || shape.length !== 2) return null;
  const weights = g.initializer.find((x) => x.name === gemm.input[1]);
  const transB = gemm.attribute.find((a) => a.name === 'transB')?.i;
  const columns = weights?.dims[transB ? 0 : 1];
  if (columns === undefined || Number(columns) !== shape[1]) return null;
  return {
    shape,
    sampleReshape: readers[0]!,
    sampleValue: reshape.output[0]!,
    predictionValue: last.input[0]!,
  };
}

/** The nodes (in order) that some of `outputs` depends on. O(nodes + edges). */
function liveNodes(nodes: readonly NodeProto[], outputs: readonly string[]): NodeProto[] {
  const needed = new Set(outputs);
  const live = new Array<boolean>(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.output.some((o) => o && needed.has(o))) continue;
    live[i] = true;
    for (const x of node.input) if (x) needed.add(x);
  }
  return nodes.filter((_, i) => live[i]);
}
