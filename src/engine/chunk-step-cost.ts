/**
 * The per-step time a chunk graph pays that caching cannot skip, measured at profiling time so that
 * a schedule's expected speedup by time predicts what its chunk graph delivers (`bac eval`).
 */
import { performance } from 'node:perf_hooks';
import { chunkStepTimeUs } from '../core/cost';
import { Rng } from '../core/rng';
import { openChunkRunner, type ChunkRunner, type ChunkUpdates } from './chunk-runner';
import { foldedStepModel } from './onnx/chunk-step';
import type { ExecutionProvider } from './ort';
import { policyScheduler, type Policy } from './policy';
import type { NoiseScheduler } from './samplers';

/**
 * Timed rounds of each chunk graph (after one untimed round): the graphs are short (≈ 6 ms a
 * round on the demo), and the fit differences their fastest rounds.
 */
export const CHUNK_STEP_COST_ROUNDS = 20;

/**
 * Steps of the short graphs, full and minimal, whose difference gives one step's block time inside
 * a chunk graph. A full graph costs a step's worth of nodes per step to build and open; four steps
 * give three steps of blocks to difference (≈ 2 ms on the demo).
 */
export const SHORT_CHUNK_STEPS = 4;

/**
 * Most steps of the longer minimal graph whose difference with the short one gives the per-step
 * fixed cost: its steps after the first run no block, so it stays cheap to build and open; 20 such
 * steps (≈ 0.2 ms on the demo) stand well above the noise of the fastest of
 * {@link CHUNK_STEP_COST_ROUNDS} rounds.
 */
export const LONG_MINIMAL_CHUNK_STEPS = 24;

/**
 * What {@link measureChunkStepCost} timed and derived, in ms per chunk at the profile's K. Timings
 * are the fastest round of each graph, not the median: other work on a shared machine only ever
 * adds time, and the fit extrapolates per-step times up to K steps, so it must not carry a slow
 * spell.
 */
export interface ChunkStepCostMeasurement {
  /** The minimal chunk graph (every block at step 0, none after), extrapolated to K when longer than the graph timed. */
  readonly minimalMs: number;
  /** The full chunk graph, extrapolated: see {@link extrapolateChunkTimes}. */
  readonly fullMs: number;
  /** Time of every block at one step inside a chunk graph. */
  readonly stepBlocksMs: number;
  /** What a step where no block updates costs inside a chunk graph. */
  readonly stepFixedMs: number;
  /** The per-step fixed cost on the blocks' time scale (µs), see {@link chunkStepTimeUs}; null when unmeasurable. */
  readonly stepTimeUs: number | null;
}

/** Every block at step 0 and none after: the cheapest table a schedule can have (step 0 always updates). */
function minimalTable(K: number, blocks: number): Uint8Array {
  const t = new Uint8Array(K * blocks);
  t.fill(1, 0, blocks);
  return t;
}

/** Steps of the three graphs the fit times, for a sampler of K steps. */
export function chunkStepCostSteps(K: number): { readonly short: number; readonly long: number } {
  return { short: Math.min(K, SHORT_CHUNK_STEPS), long: Math.min(K, LONG_MINIMAL_CHUNK_STEPS) };
}

/**
 * A chunk's time as fixed part + per step (fixed cost c, plus the blocks' time b where they
 * update), from three timed graphs: full and minimal at `short` steps, minimal at `long` steps.
 * c = (minimal_long − minimal_short)/(long − short) and b = (full_short − minimal_short)/(short − 1)
 * (0 when the graphs say nothing, or negative from noise); both chunks at K then extend the graph
 * nearest to K linearly. Exact for times that are linear in those counts. O(1).
 */
export function extrapolateChunkTimes(
  timed: { readonly shortFullMs: number; readonly shortMinimalMs: number; readonly longMinimalMs: number },
  steps: { readonly short: number; readonly long: number },
  K: number,
): Omit<ChunkStepCostMeasurement, 'stepTimeUs'> {
  const { short, long } = steps;
  const stepFixedMs = long > short ? Math.max(0, (timed.longMinimalMs - timed.shortMinimalMs) / (long - short)) : 0;
  const stepBlocksMs = short > 1 ? Math.max(0, (timed.shortFullMs - timed.shortMinimalMs) / (short - 1)) : 0;
  return {
    minimalMs: timed.longMinimalMs + (K - long) * stepFixedMs,
    fullMs: timed.shortFullMs + (K - short) * (stepBlocksMs + stepFixedMs),
    stepBlocksMs,
    stepFixedMs,
  };
}

/**
 * Fits the chunk graph's per-step fixed cost for `policy` under `scheduler` (batch 1, one thread).
 * A chunk costs a fixed part (one ORT call, hoisted work) plus per step a fixed cost (sampler
 * update, input embedding, final norm and head, cached residual sums) plus the compute of the
 * blocks that update. Only short graphs of the same sampler are built — a graph at the profile's K
 * (100 for the demo) takes a second to build and open — and both chunks at K are extrapolated
 * ({@link extrapolateChunkTimes}); their ratio fixes c_0 relative to `blocksTimeUs` (Σ_b c_b of the
 * gated measurement). The graphs are timed interleaved, one call each per round, so a slow spell
 * of a shared machine hits all of them. Every session is released on every path.
 * O(rounds · {@link LONG_MINIMAL_CHUNK_STEPS}) steps plus building three small chunk graphs.
 */
export async function measureChunkStepCost(
  policy: Policy,
  scheduler: NoiseScheduler,
  provider: ExecutionProvider,
  blocksTimeUs: number,
  rounds = CHUNK_STEP_COST_ROUNDS,
): Promise<ChunkStepCostMeasurement> {
  const K = scheduler.numInferenceSteps;
  const n = policy.info.blocks.length;
  const steps = chunkStepCostSteps(K);
  const withSteps = (k: number) => (k === K ? scheduler : policyScheduler(policy, k, scheduler.config.type));
  const short = withSteps(steps.short);
  const graphs: [NoiseScheduler, ChunkUpdates][] = [
    [short, 'full'],
    [short, minimalTable(steps.short, n)],
  ];
  if (steps.long > steps.short) graphs.push([withSteps(steps.long), minimalTable(steps.long, n)]);
  const step = await foldedStepModel(policy.bytes, 1, policy.info.name);
  const runners: ChunkRunner[] = [];
  try {
    for (const [s, updates] of graphs) {
      runners.push(await openChunkRunner(policy, s, updates, { ep: provider, threads: 1, step }));
    }
    const rng = new Rng(7);
    const cond = rng.normalArray(policy.obsSteps * policy.condDim);
    const initialSample = rng.normalArray(policy.horizon * policy.actionDim);
    // noise drawn per chunk as `bac eval` draws it, so both pay the same per-chunk work
    const inputs = () => ({ cond, initialSample, noise: new Rng(11) });
    const times = runners.map(() => [] as number[]);
    for (let r = 0; r <= rounds; r++) {
      for (let i = 0; i < runners.length; i++) {
        const t0 = performance.now();
        await runners[i]!.runChunk(inputs());
        if (r > 0) times[i]!.push(performance.now() - t0);
      }
    }
    const [shortFullMs, shortMinimalMs, longMinimalMs = shortMinimalMs] = times.map((xs) => Math.min(...xs)) as [
      number,
      number,
      number?,
    ];
    const fit = extrapolateChunkTimes({ shortFullMs, shortMinimalMs, longMinimalMs }, steps, K);
    return { ...fit, stepTimeUs: chunkStepTimeUs(fit.minimalMs / fit.fullMs, K, blocksTimeUs) };
  } finally {
    for (const r of runners) await r.close();
  }
}
