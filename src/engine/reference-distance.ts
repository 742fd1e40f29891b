import { BacError } from '../core/errors';
import {
  meanSquaredError,
  normalizedEnergyDistance,
  summarizeDistances,
  summarizeErrors,
  type QualityStat,
} from '../core/quality';
import { Rng } from '../core/rng';
import type { Schedule } from '../core/types';
import type { DemoWindow } from './demonstrations';
import type { WindowSample } from './episodes';
import { executedActions } from './evaluate';
import type { ExecutionProviderChoice } from './ort';
import { scheduleScheduler, type Policy } from './policy';
import { CachedRunner, updateTable } from './runner';

/**
 * The `reference-distance` quality measure (core/quality.ts) of sampler configurations: how far the
 * distribution of a configuration's executed actions is from the reference configuration's, per
 * observation window. A distribution needs many draws, which batch-1 timing runs cannot afford, so
 * every configuration samples all `windows` × `draws` in one batched chunk (the per-step cached
 * runner: the chunk graph's arithmetic up to float32 rounding) from the same windows and the same
 * noise (common random numbers). Costs nothing in the report's timings: nothing here is timed.
 */

/** Draws per window and windows of the default measurement: ≈ 0.005 standard error on the demo. */
export const REFERENCE_DISTANCE_DEFAULTS = { windows: 64, draws: 8 };

/** A configuration to score: its id in the result and the schedule it runs (sampler and K included). */
export interface DistanceItem {
  readonly id: string;
  readonly schedule: Schedule;
}

/** Options of {@link measureReferenceDistances}. */
export interface ReferenceDistanceOptions {
  readonly draws: number;
  readonly seed: number;
  readonly ep: ExecutionProviderChoice;
  readonly threads?: number;
  readonly signal?: AbortSignal;
  /** Results already measured (a resumed sweep), by id: not measured again. */
  readonly done?: Readonly<Record<string, DistanceResult>>;
  /** Called after each item, so callers can persist progress. */
  readonly onItem?: (id: string, result: DistanceResult) => void | Promise<void>;
}

/**
 * What the batched pass measured of one item: its reference distance (the reference's own is 0)
 * and, when the windows carry their recorded actions, demo-mse of the same samples.
 */
export interface DistanceResult {
  readonly distance: QualityStat;
  readonly demoMse: QualityStat | null;
}

/**
 * Scores every item against the item `referenceId`, by id.
 * O(Σ items' K · batch-W·D denoiser calls + items · W · D² · action size).
 * @throws BacError when the reference is not among the items, fewer than 2 draws are asked for, or
 *   `signal` aborts (between items).
 */
export async function measureReferenceDistances(
  policy: Policy,
  windows: readonly (WindowSample | DemoWindow)[],
  items: readonly DistanceItem[],
  referenceId: string,
  options: ReferenceDistanceOptions,
): Promise<Record<string, DistanceResult>> {
  const D = options.draws;
  const W = windows.length;
  if (D < 2) throw new BacError(`the reference distance needs at least 2 noise draws per window, got ${D}`);
  const ref = items.find((c) => c.id === referenceId);
  if (!ref) throw new BacError(`the reference ${referenceId} is not among the configurations`);
  const per = windows[0]?.obs.length ?? 0;
  const cond = new Float32Array(W * D * per);
  windows.forEach((w, i) => {
    for (let d = 0; d < D; d++) cond.set(w.obs, (i * D + d) * per);
  });
  const demos = windows.every((w) => 'demo' in w) ? (windows as readonly DemoWindow[]).map((w) => w.demo) : null;
  const rowLen = policy.horizon * policy.actionDim;
  const initialSample = new Rng(options.seed).normalArray(W * D * rowLen);
  const runner = await CachedRunner.open(policy, options.ep, { threads: options.threads });
  const out: Record<string, DistanceResult> = { ...options.done };
  try {
    const actionsOf = async (s: Schedule): Promise<Float32Array[]> => {
      const scheduler = scheduleScheduler(policy, s);
      const chunk = await runner.runChunk(scheduler, updateTable(s, runner.blockIds), {
        batch: W * D,
        cond,
        initialSample,
        noise: new Rng(options.seed + 1),
      });
      return Array.from({ length: W * D }, (_, r) =>
        executedActions(policy, chunk.subarray(r * rowLen, (r + 1) * rowLen)),
      );
    };
    const refActions = await actionsOf(ref.schedule);
    for (const item of items) {
      if (out[item.id]) continue;
      if (options.signal?.aborted) throw new BacError('interrupted: the sweep was cancelled');
      const mine = item.id === referenceId ? refActions : await actionsOf(item.schedule);
      const perWindow = Array.from({ length: W }, (_, w) =>
        normalizedEnergyDistance(mine.slice(w * D, (w + 1) * D), refActions.slice(w * D, (w + 1) * D)),
      );
      const result: DistanceResult = {
        distance: summarizeDistances(perWindow),
        demoMse: demos
          ? summarizeErrors(
              demos.map((demo, w) => mine.slice(w * D, (w + 1) * D).map((a) => meanSquaredError(a, demo))),
            ).mean
          : null,
      };
      out[item.id] = result;
      await options.onItem?.(item.id, result);
    }
  } finally {
    await runner.release();
  }
  return out;
}
