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

/** Timed rounds of each chunk graph (after one untimed round). */
export const CHUNK_STEP_COST_ROUNDS = 9;

/**
 * Most steps of the short sampler whose full chunk graph gives the per-step block time: a full
 * graph at K = 100 takes seconds to build and open, one at K = 10 a fraction of one.
 */
export const SHORT_CHUNK_STEPS = 10;

/**
 * What {@link measureChunkStepCost} timed (the fastest round of each graph, ms per chunk) and
 * derived. The fastest, not the median: other work on a shared machine only ever adds time, and
 * the fit extrapolates one step's block time K − 1 times, so it must not carry a slow spell.
 */
export interface ChunkStepCostMeasurement {
  /** The minimal chunk graph at the profile's K (every block at step 0, none after). */
  readonly minimalMs: number;
  /** The full chunk graph at the profile's K, extrapolated: minimal + (K − 1) · block time per step. */
  readonly fullMs: number;
  /** Time of every block at one step inside a chunk graph, from the short sampler's full and minimal graphs. */
  readonly stepBlocksMs: number;
  /** The per-step fixed cost on the blocks' time scale (µs), see {@link chunkStepTimeUs}; null when unmeasurable. */
  readonly stepTimeUs: number | null;
}

/** Every block at step 0 and none after: the cheapest table a schedule can have (step 0 always updates). */
function minimalTable(K: number, blocks: number): Uint8Array {
  const t = new Uint8Array(K * blocks);
  t.fill(1, 0, blocks);
  return t;
}

/**
 * Fits the chunk graph's per-step fixed cost for `policy` under `scheduler` (batch 1, one thread).
 * A chunk costs its fixed part (one ORT call, hoisted work, every step's sampler update and cached
 * residual sums) plus, per update, the block's compute. The minimal graph at K gives the fixed part
 * plus one step's blocks; the full and minimal graphs of the same sampler at K' = min(K,
 * {@link SHORT_CHUNK_STEPS}) give one step's blocks as their difference over K' − 1. The full
 * graph at K is their extrapolation, and their ratio fixes c_0 relative to `blocksTimeUs` (Σ_b c_b
 * of the gated measurement). The graphs are timed interleaved, one call each per round, so a slow
 * spell of a shared machine hits all of them. Every session is released on every path.
 * O(rounds · K) denoiser steps plus building three small chunk graphs.
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
  const shortK = Math.min(K, SHORT_CHUNK_STEPS);
  const short = shortK === K ? scheduler : policyScheduler(policy, shortK, scheduler.config.type);
  const graphs: [NoiseScheduler, ChunkUpdates][] = [
    [short, 'full'],
    [short, minimalTable(shortK, n)],
  ];
  if (shortK !== K) graphs.push([scheduler, minimalTable(K, n)]);
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
    const [shortFull, shortMinimal, minimal = shortMinimal] = times.map((xs) => Math.min(...xs)) as [
      number,
      number,
      number?,
    ];
    const stepBlocksMs = shortK > 1 ? Math.max(0, shortFull - shortMinimal) / (shortK - 1) : 0;
    const fullMs = minimal + (K - 1) * stepBlocksMs;
    return { minimalMs: minimal, fullMs, stepBlocksMs, stepTimeUs: chunkStepTimeUs(minimal / fullMs, K, blocksTimeUs) };
  } finally {
    for (const r of runners) await r.close();
  }
}
