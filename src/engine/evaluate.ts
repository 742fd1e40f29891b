import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Schedule } from '../core/types';
import type { WindowSample } from './episodes';
import { openChunkRunner, type ChunkRunner, type ChunkUpdates } from './chunk-runner';
import { foldedStepModel } from './onnx/chunk-step';
import type { ExecutionProvider, ExecutionProviderChoice } from './ort';
import type { Policy } from './policy';
import { Rng } from '../core/rng';
import { PlainRunner, updateTable } from './runner';
import type { NoiseScheduler } from './samplers';

/**
 * Open-loop evaluation of schedules against the full model (`bac eval`, `npm run demo`): on the same
 * observation windows and the same noise, the measured time of each schedule's chunk graph against
 * the full model, and the error of the executed actions in raw action units. All runs happen in one process
 * on one provider, interleaved per sample so that machine-load drift hits every method alike.
 */

/** A schedule to evaluate, with the label tables show. */
export interface NamedSchedule {
  readonly name: string;
  readonly schedule: Schedule;
}

/** Result of one schedule. */
export interface EvalResult {
  readonly name: string;
  /** Σ_b |C(b)| of the schedule. */
  readonly updates: number;
  /** Total baseline time / total chunk-graph time of the schedule over all samples. */
  readonly measuredSpeedup: number;
  /** Median wall time of one action chunk with this schedule, ms. */
  readonly chunkMs: number;
  /** Mean |a − a_full| over executed actions, samples and action dimensions (raw units). */
  readonly actionErrorMean: number;
  /** Max |a − a_full| (raw units). */
  readonly actionErrorMax: number;
}

/** Everything `evaluate` measured. */
export interface Evaluation {
  readonly samples: number;
  readonly provider: ExecutionProvider;
  /** Why that provider: one line, `execution provider: X (why)` (every decision with BAC_VERBOSE=1). */
  readonly providerNotes: readonly string[];
  /** Median wall time of one baseline chunk (the faster of {@link fullLoopMs} and {@link fullGraphMs}), ms. */
  readonly fullChunkMs: number;
  /** Which full-model runner was the baseline. */
  readonly baseline: 'per-step loop' | 'full chunk graph';
  /** Median ms of the plain model's per-step loop (K ORT calls) and of the full chunk graph (one call). */
  readonly fullLoopMs: number;
  readonly fullGraphMs: number;
  readonly results: EvalResult[];
}

/** Executed actions in raw units: rows n_obs_steps−1 … n_obs_steps−1+n_action_steps−1 of the chunk. */
export function executedActions(policy: Policy, normalized: Float32Array): Float32Array {
  const md = policy.info.metadata;
  const Da = policy.actionDim;
  const start = md.nObsSteps - 1;
  const rows = Math.min(md.nActionSteps, policy.horizon - start);
  const { scale, offset } = md.normalizer.action;
  const out = new Float32Array(rows * Da);
  for (let r = 0; r < rows; r++) {
    for (let a = 0; a < Da; a++) out[r * Da + a] = (normalized[(start + r) * Da + a]! - offset[a]!) / scale[a]!;
  }
  return out;
}

/** The device a provider ran on, in words: the CPU model and core count for `cpu`. */
export function deviceName(provider: ExecutionProvider): string {
  if (provider !== 'cpu') return provider;
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} cores)`;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
}

/**
 * Evaluates `schedules` on `windows` (normalised observations) at batch 1 — the robot's case — with
 * one chunk graph per schedule (one ONNX Runtime call per chunk, `chunk-runner.ts`). The baseline
 * is the faster of the plain model's per-step loop and the full chunk graph (every block every
 * step), so a speedup never credits BAC with what unrolling alone gives. O(samples · (2 +
 * schedules)) chunks.
 */
export async function evaluate(
  policy: Policy,
  scheduler: NoiseScheduler,
  windows: readonly WindowSample[],
  schedules: readonly NamedSchedule[],
  options: { ep: ExecutionProviderChoice; seed: number; onSample?: (done: number, total: number) => void },
): Promise<Evaluation> {
  const plain = await PlainRunner.open(policy, options.ep, { threads: 1, staticBatch: 1 });
  const ep = plain.opened.provider;
  const runners: ChunkRunner[] = [];
  try {
    const step = await foldedStepModel(policy.bytes, 1, policy.info.name);
    const open = (updates: ChunkUpdates) => openChunkRunner(policy, scheduler, updates, { ep, threads: 1, step });
    const blockIds = policy.info.blocks.map((b) => b.id);
    const tables = schedules.map((s) => updateTable(s.schedule, blockIds));
    const fullGraph = await open('full');
    runners.push(fullGraph);
    for (const t of tables) runners.push(await open(t));
    const loopTimes: number[] = [];
    const graphTimes: number[] = [];
    const times = schedules.map(() => [] as number[]);
    const errSum = schedules.map(() => 0);
    const errMax = schedules.map(() => 0);
    let errCount = 0;
    const run = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
      const t0 = performance.now();
      const r = await fn();
      return [r, performance.now() - t0];
    };
    const inputsFor = (cond: Float32Array, noiseSeed: number) => {
      const initialSample = new Rng(noiseSeed).normalArray(policy.horizon * policy.actionDim);
      return () => ({ batch: 1, cond, initialSample, noise: new Rng(noiseSeed + 1) });
    };
    // One warm-up chunk per runner so session start-up costs are not timed.
    const warm = windows[0];
    if (warm) {
      const inputs = inputsFor(warm.obs, 0);
      await plain.runChunk(scheduler, inputs());
      for (const r of runners) await r.runChunk(inputs());
    }
    for (let i = 0; i < windows.length; i++) {
      const inputs = inputsFor(windows[i]!.obs, options.seed * 1_000_003 + i);
      const [full, tLoop] = await run(() => plain.runChunk(scheduler, inputs()));
      loopTimes.push(tLoop);
      graphTimes.push((await run(() => fullGraph.runChunk(inputs())))[1]);
      const ref = executedActions(policy, full);
      for (let j = 0; j < schedules.length; j++) {
        const [a, t] = await run(() => runners[j + 1]!.runChunk(inputs()));
        times[j]!.push(t);
        const act = executedActions(policy, a);
        for (let e = 0; e < act.length; e++) {
          const d = Math.abs(act[e]! - ref[e]!);
          errSum[j]! += d;
          errMax[j] = Math.max(errMax[j]!, d);
        }
      }
      errCount += ref.length;
      options.onSample?.(i + 1, windows.length);
    }
    const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
    const graphIsFaster = sum(graphTimes) < sum(loopTimes);
    const baseline = graphIsFaster ? graphTimes : loopTimes;
    return {
      samples: windows.length,
      provider: ep,
      providerNotes: plain.opened.notes,
      fullChunkMs: median(baseline),
      baseline: graphIsFaster ? 'full chunk graph' : 'per-step loop',
      fullLoopMs: median(loopTimes),
      fullGraphMs: median(graphTimes),
      results: schedules.map((s, j) => ({
        name: s.name,
        updates: tables[j]!.reduce((a, b) => a + b, 0),
        measuredSpeedup: sum(baseline) / sum(times[j]!),
        chunkMs: median(times[j]!),
        actionErrorMean: errCount ? errSum[j]! / errCount : 0,
        actionErrorMax: errMax[j]!,
      })),
    };
  } finally {
    await plain.release();
    for (const r of runners) await r.close();
  }
}
