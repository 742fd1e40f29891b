import { Rng } from '../core/rng';
import type { WindowSample } from './episodes';
import { executedActions } from './evaluate';
import type { Policy } from './policy';
import { CachedRunner, type RunnerOptions } from './runner';
import type { NoiseScheduler } from './samplers';

/**
 * Offline measures of a cache schedule against the full model on the same observation windows and
 * the same noise (the candidates of docs/fidelity-study.md). The full model is the cached runner
 * with every block updating at every step, which equals the plain model bit for bit
 * (runner.test.ts), so one session serves the reference and the schedules.
 *
 * Every window is sampled under D noise draws at once (batch W·D). All errors are mean absolute
 * differences: executed actions in raw action units, whole chunks and trajectories in the
 * normalised units the sampler works in.
 */

/** Names of the measures, in the order reports show them. */
export const MEASURE_NAMES = [
  'actionMean',
  'actionMax',
  'firstAction',
  'finalSample',
  'trajectory',
  'drawSet',
  'demoError',
] as const;
export type MeasureName = (typeof MEASURE_NAMES)[number];

/** What each measure is, for reports. */
export const MEASURE_LABELS: Readonly<Record<MeasureName, string>> = {
  actionMean: 'action error vs full, mean over executed actions',
  actionMax: 'action error vs full, max over executed actions',
  firstAction: 'error of the first executed action vs full',
  finalSample: 'final denoised chunk (all T rows, normalised) vs full',
  trajectory: 'per-step trajectory divergence x_k vs full, mean over steps',
  drawSet:
    'draw-set distance: symmetric nearest-neighbour distance between the D draws and the full model’s D draws per window (mode agreement)',
  demoError: 'executed actions vs the recorded demonstrations (full model’s own value subtracted)',
};

export type MeasureScores = Record<MeasureName, number>;

/** How the reference is drawn. */
export interface ReferenceOptions {
  /** Seed of x_K and the per-step noise. */
  readonly seed: number;
  /** Noise draws per window (D ≥ 1). */
  readonly draws: number;
  /** Recorded executed actions per window (raw units, n_action_steps × Da); demoError is NaN without. */
  readonly demoActions?: readonly Float32Array[];
  readonly runner?: RunnerOptions;
}

/** The scheduler with every step's x_{k−1} reported to `record` (the sampler's own step, unchanged). */
function observedScheduler(scheduler: NoiseScheduler, record: (x: Float32Array) => void): NoiseScheduler {
  const observed = Object.create(scheduler) as NoiseScheduler;
  observed.step = (...args: Parameters<NoiseScheduler['step']>) => {
    const x = scheduler.step(...args);
    record(x.slice());
    return x;
  };
  return observed;
}

const meanAbs = (a: Float32Array, b: Float32Array, from = 0, to = a.length): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += Math.abs(a[i]! - b[i]!);
  return to > from ? s / (to - from) : 0;
};

/** One batched run: final chunk [W·D, T, Da] and the trajectory (one array per step). */
interface Run {
  readonly final: Float32Array;
  readonly trajectory: Float32Array[];
}

/** The full model's outputs on fixed windows and noise, and the scoring of schedules against them. */
export class OfflineReference {
  private constructor(
    private readonly runner: CachedRunner,
    private readonly policy: Policy,
    private readonly scheduler: NoiseScheduler,
    private readonly cond: Float32Array,
    private readonly x0: Float32Array,
    private readonly windows: number,
    private readonly options: ReferenceOptions,
    private full: Run | null = null,
  ) {}

  /** Opens the runner and samples the full model. O(K) denoiser calls at batch W·D. */
  static async open(
    policy: Policy,
    scheduler: NoiseScheduler,
    windows: readonly WindowSample[],
    options: ReferenceOptions,
  ): Promise<OfflineReference> {
    const D = options.draws;
    const per = windows[0]?.obs.length ?? 0;
    const cond = new Float32Array(windows.length * D * per);
    windows.forEach((w, i) => {
      for (let d = 0; d < D; d++) cond.set(w.obs, (i * D + d) * per);
    });
    const x0 = new Rng(options.seed).normalArray(windows.length * D * policy.horizon * policy.actionDim);
    const runner = await CachedRunner.open(policy, 'cpu', options.runner ?? {});
    const ref = new OfflineReference(runner, policy, scheduler, cond, x0, windows.length, options);
    try {
      ref.full = await ref.run(new Uint8Array(scheduler.numInferenceSteps * runner.blockIds.length).fill(1));
    } catch (e) {
      await runner.release();
      throw e;
    }
    return ref;
  }

  /** Block ids in the order of update tables. */
  get blockIds(): string[] {
    return this.runner.blockIds;
  }

  private async run(table: Uint8Array): Promise<Run> {
    const trajectory: Float32Array[] = [];
    const final = await this.runner.runChunk(
      observedScheduler(this.scheduler, (x) => trajectory.push(x)),
      table,
      {
        batch: this.windows * this.options.draws,
        cond: this.cond,
        initialSample: this.x0,
        noise: new Rng(this.options.seed + 1),
      },
    );
    return { final, trajectory };
  }

  /** Every measure of the schedule with update table `table` (see updateTable). */
  async score(table: Uint8Array): Promise<MeasureScores> {
    const full = this.full!;
    const got = await this.run(table);
    const { policy } = this;
    const D = this.options.draws;
    const rowLen = policy.horizon * policy.actionDim;
    const rows = this.windows * D;
    const acts = (x: Float32Array, r: number) => executedActions(policy, x.subarray(r * rowLen, (r + 1) * rowLen));
    const mine = Array.from({ length: rows }, (_, r) => acts(got.final, r));
    const ref = Array.from({ length: rows }, (_, r) => acts(full.final, r));
    let sum = 0;
    let max = 0;
    let first = 0;
    let n = 0;
    for (let r = 0; r < rows; r++) {
      for (let e = 0; e < mine[r]!.length; e++) {
        const d = Math.abs(mine[r]![e]! - ref[r]![e]!);
        sum += d;
        max = Math.max(max, d);
        if (e < policy.actionDim) first += d;
      }
      n += mine[r]!.length;
    }
    let drawSet = 0;
    for (let w = 0; w < this.windows; w++) {
      const nn = (a: Float32Array[], b: Float32Array[]) =>
        a.reduce((s, x) => s + Math.min(...b.map((y) => meanAbs(x, y))), 0) / a.length;
      const A = mine.slice(w * D, (w + 1) * D);
      const B = ref.slice(w * D, (w + 1) * D);
      drawSet += (nn(A, B) + nn(B, A)) / 2;
    }
    const demos = this.options.demoActions;
    let demoError = NaN;
    if (demos) {
      let diff = 0;
      for (let r = 0; r < rows; r++) {
        const demo = demos[Math.floor(r / D)]!;
        diff += meanAbs(mine[r]!, demo, 0, demo.length) - meanAbs(ref[r]!, demo, 0, demo.length);
      }
      demoError = diff / rows;
    }
    return {
      actionMean: n ? sum / n : 0,
      actionMax: max,
      firstAction: first / (rows * policy.actionDim),
      finalSample: meanAbs(got.final, full.final),
      trajectory: got.trajectory.reduce((s, x, k) => s + meanAbs(x, full.trajectory[k]!), 0) / got.trajectory.length,
      drawSet: drawSet / this.windows,
      demoError,
    };
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}
