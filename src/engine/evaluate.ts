import { performance } from 'node:perf_hooks';
import type { Schedule } from '../core/types';
import type { WindowSample } from './episodes';
import type { ExecutionProviderChoice } from './ort';
import type { Policy } from './policy';
import { Rng } from '../core/rng';
import { CachedRunner, PlainRunner, updateTable } from './runner';
import type { NoiseScheduler } from './samplers';

/**
 * Open-loop evaluation of schedules against the full model (`bac eval`, `npm run demo`): on the same
 * observation windows and the same noise, the measured time of the cached runner against the plain
 * model, and the error of the executed actions in raw action units. All runs happen in one process
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
  /** Total plain-model time / total cached-runner time over all samples. */
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
  readonly provider: string;
  /** Median wall time of one plain-model chunk, ms. */
  readonly fullChunkMs: number;
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

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
}

/**
 * Evaluates `schedules` on `windows` (normalised observations) at batch 1 — the robot's case.
 * O(samples · (1 + schedules)) sampler runs.
 */
export async function evaluate(
  policy: Policy,
  scheduler: NoiseScheduler,
  windows: readonly WindowSample[],
  schedules: readonly NamedSchedule[],
  options: { ep: ExecutionProviderChoice; seed: number; onSample?: (done: number, total: number) => void },
): Promise<Evaluation> {
  const plain = await PlainRunner.open(policy, options.ep, { threads: 1, staticBatch: 1 });
  const cached = await CachedRunner.open(policy, plain.opened.provider, { threads: 1, staticBatch: 1 }).catch(
    async (e: unknown) => {
      await plain.release(); // the plain session is not leaked when the cached one cannot open
      throw e;
    },
  );
  try {
    const tables = schedules.map((s) => updateTable(s.schedule, cached.blockIds));
    const plainTimes: number[] = [];
    const times = schedules.map(() => [] as number[]);
    const errSum = schedules.map(() => 0);
    const errMax = schedules.map(() => 0);
    let errCount = 0;
    const run = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
      const t0 = performance.now();
      const r = await fn();
      return [r, performance.now() - t0];
    };
    // One warm-up chunk per runner so session start-up costs are not timed.
    const warm = windows[0];
    if (warm) {
      const inputs = {
        batch: 1,
        cond: warm.obs,
        initialSample: new Rng(0).normalArray(policy.horizon * policy.actionDim),
        noise: new Rng(1),
      };
      await plain.runChunk(scheduler, inputs);
      if (tables[0]) await cached.runChunk(scheduler, tables[0], { ...inputs, noise: new Rng(1) });
    }
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i]!;
      const noiseSeed = options.seed * 1_000_003 + i;
      const x0 = new Rng(noiseSeed).normalArray(policy.horizon * policy.actionDim);
      const inputs = () => ({ batch: 1, cond: w.obs, initialSample: x0, noise: new Rng(noiseSeed + 1) });
      const [full, tFull] = await run(() => plain.runChunk(scheduler, inputs()));
      plainTimes.push(tFull);
      const ref = executedActions(policy, full);
      for (let j = 0; j < schedules.length; j++) {
        const [a, t] = await run(() => cached.runChunk(scheduler, tables[j]!, inputs()));
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
    const plainTotal = plainTimes.reduce((a, b) => a + b, 0);
    return {
      samples: windows.length,
      provider: plain.opened.provider,
      fullChunkMs: median(plainTimes),
      results: schedules.map((s, j) => ({
        name: s.name,
        updates: tables[j]!.reduce((a, b) => a + b, 0),
        measuredSpeedup: plainTotal / times[j]!.reduce((a, b) => a + b, 0),
        chunkMs: median(times[j]!),
        actionErrorMean: errCount ? errSum[j]! / errCount : 0,
        actionErrorMax: errMax[j]!,
      })),
    };
  } finally {
    await plain.release();
    await cached.release();
  }
}
