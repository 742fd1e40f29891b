import { samplerLabel } from './editor-view';
import { BacError } from './errors';
import { QUALITY_MEASURES, type QualityMeasureId, type QualityStat } from './quality';
import type { TrialsPlan } from './trials';
import type { FileRef } from './types';

/**
 * The `.bacsweep` report (JSON) of `bac sweep`: every configuration of sampler × K × cache method ×
 * budget, and any schedules included beside that grid, measured on the same observation windows and
 * noise draws: its measured cost against the reference configuration, its offline quality measures,
 * the Pareto front and the recommendation.
 * Documented field by field in docs/sweep.md; this module is its one definition (types, writer,
 * reader).
 */

/** `format` of a sweep report. */
export const SWEEP_FORMAT = 'bacsweep';
/** `version` of the layout below. */
export const SWEEP_VERSION = 1;

/**
 * How a configuration caches: the full model, a schedule built by one method at budget S, or a
 * given schedule (`bac eval`'s input or `bac sweep --include`, whatever made it; its budget is the
 * schedule's).
 */
export type SweepMethod = 'full' | 'uniform' | 'bac' | 'schedule';

/** One point of the grid. */
export interface SweepConfig {
  /** Sampler type: `ddpm`, `ddim` or `dpmsolver++` (on the policy's training noise schedule). */
  readonly sampler: string;
  /** K: denoiser calls per action chunk. */
  readonly steps: number;
  readonly method: SweepMethod;
  /** S: the cache method's budget (updates per block); null for `full`. */
  readonly budget: number | null;
  /**
   * An included schedule (`bac sweep --include`, method `schedule` only): its path relative to the
   * report, POSIX. Part of the configuration's identity, since two included schedules may share
   * sampler, K and budget. Absent for every other configuration (and in reports written before
   * `--include`), so those serialise as before.
   */
  readonly file?: string;
}

/** What was measured for one configuration. */
export interface SweepResult {
  readonly config: SweepConfig;
  /** Σ_b |C(b)|: block updates per chunk. */
  readonly updates: number;
  /** Reference FLOPs per chunk / this configuration's FLOPs per chunk (expected, not measured). */
  readonly expectedSpeedupFlops: number;
  /** Median measured wall time of one chunk, ms. */
  readonly chunkMs: number;
  /** Total reference time / total time of this configuration over the same runs (measured). */
  readonly measuredSpeedup: number;
  /**
   * Offline quality measures (lower is better); `full-model-error` is null for `full`. A measure a
   * report was written without reads as null.
   */
  readonly quality: Readonly<Record<QualityMeasureId, QualityStat | null>>;
}

/** The report. */
export interface SweepReport {
  readonly format: typeof SWEEP_FORMAT;
  readonly version: typeof SWEEP_VERSION;
  readonly model: FileRef;
  /** Episodes the windows and demonstrations come from (path as given). */
  readonly episodes: string;
  readonly createdAt: string;
  /** Execution provider the costs were measured on, e.g. `cpu`. */
  readonly provider: string;
  /** Which runner measured the costs (e.g. `per-step batch-1`). */
  readonly runner: string;
  /** Observation windows, noise draws per window, seed of both. */
  readonly windows: number;
  readonly draws: number;
  readonly seed: number;
  /** The configuration speedups and the tolerance are relative to. */
  readonly reference: SweepConfig;
  /**
   * Windows and noise draws per window of the batched pass that measured `reference-distance`
   * (docs/sweep.md); absent in reports written before that measure existed.
   */
  readonly distanceSample?: { readonly windows: number; readonly draws: number };
  /**
   * The trial episodes of a closed-loop sweep (`closed-loop-failure`): how many per configuration,
   * the first layout seed and the noise seed, the same for every configuration; absent otherwise.
   */
  readonly closedLoop?: { readonly episodes: number; readonly seed: number; readonly noiseSeed: number };
  /**
   * Measure the recommendation uses, and the tolerance: value ≤ reference · (1 + tolerance) for a
   * relative measure, value ≤ tolerance for an absolute one (`TOLERANCE_KIND`).
   */
  readonly measure: QualityMeasureId;
  readonly tolerance: number;
  /** What each quality measure measures. */
  readonly measures: Readonly<Record<QualityMeasureId, string>>;
  readonly results: readonly SweepResult[];
  /** Ids ({@link configId}) of the configurations no other beats in both speedup and `measure`. */
  readonly pareto: readonly string[];
  /** The fastest configuration within the tolerance; null when none (the reference always is). */
  readonly recommendation: string | null;
  /** The `.bacschedule` written for the recommendation (path relative to the report). */
  readonly recommendedSchedule: string | null;
  /** Paired trials to confirm the recommendation on a robot, at the success rate the user gave. */
  readonly trials: { readonly success: number; readonly drop: number; readonly plan: TrialsPlan } | null;
  /** Notes, e.g. that timings were measured on a contended machine. */
  readonly notes: readonly string[];
}

/**
 * Stable id of a configuration, e.g. `ddim-10/bac-3`, `ddpm-100/full`, and for an included schedule
 * `dpmsolver++-6/schedule-3@tuned.bacschedule`. Unique within a report as long as `file` is.
 */
export function configId(c: SweepConfig): string {
  const file = c.file === undefined ? '' : `@${c.file}`;
  return `${c.sampler}-${c.steps}/${c.method}${c.budget === null ? '' : `-${c.budget}`}${file}`;
}

/** Label for tables and charts, e.g. `DDIM-10 · BAC S=3`, `DPM-Solver++-6 · tuned.bacschedule S=3`. */
export function configLabel(c: SweepConfig): string {
  const names = { bac: 'BAC', uniform: 'Uniform', schedule: c.file ?? 'this schedule' };
  const method = c.method === 'full' ? 'full' : `${names[c.method]} S=${c.budget}`;
  return `${samplerLabel(c.sampler)}-${c.steps} · ${method}`;
}

/** The report as written (2-space JSON, trailing newline). */
export function serializeSweepReport(r: SweepReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkConfig(v: unknown, where: string): SweepConfig {
  if (!isObject(v)) throw new BacError(`${where} must be an object {sampler, steps, method, budget}`);
  const { sampler, steps, method, budget, file } = v;
  if (typeof sampler !== 'string') throw new BacError(`${where}.sampler must be a sampler name`);
  if (!Number.isInteger(steps) || (steps as number) < 1) throw new BacError(`${where}.steps must be an integer ≥ 1`);
  if (method !== 'full' && method !== 'uniform' && method !== 'bac' && method !== 'schedule')
    throw new BacError(`${where}.method must be full, uniform, bac or schedule`);
  if (method === 'full' ? budget !== null : !Number.isInteger(budget))
    throw new BacError(`${where}.budget must be ${method === 'full' ? 'null for full' : 'an integer'}`);
  if (file !== undefined && (method !== 'schedule' || typeof file !== 'string' || file === ''))
    throw new BacError(`${where}.file must be a schedule's path, and only with method schedule`);
  const config: SweepConfig = { sampler, steps: steps as number, method, budget: budget as number | null };
  return file === undefined ? config : { ...config, file };
}

function checkFinite(v: unknown, where: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BacError(`${where} must be a finite number`);
}

/**
 * Reads a `.bacsweep` text. Checks what consumers use (the grid, costs, quality values, the
 * recommendation's id); extra fields are kept.
 * @throws BacError naming the first problem and the fix (re-run `bac sweep`).
 */
export function parseSweepReport(text: string, file = 'sweep report'): SweepReport {
  const fail = (why: string): never => {
    throw new BacError(`${file}: ${why}; re-run bac sweep to write a valid report`);
  };
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(root)) return fail('expected a JSON object');
  if (root.format !== SWEEP_FORMAT) return fail(`format is ${JSON.stringify(root.format)}, expected "${SWEEP_FORMAT}"`);
  if (root.version !== SWEEP_VERSION) return fail(`version ${String(root.version)} is not ${SWEEP_VERSION}`);
  try {
    checkConfig(root.reference, 'reference');
    if (!Array.isArray(root.results) || root.results.length === 0)
      throw new BacError('results must be a non-empty list');
    const ids = new Set<string>();
    root.results.forEach((r: unknown, i: number) => {
      const where = `results[${i}]`;
      if (!isObject(r)) throw new BacError(`${where} must be an object`);
      const id = configId(checkConfig(r.config, `${where}.config`));
      if (ids.has(id)) throw new BacError(`${where} repeats configuration ${id}`);
      ids.add(id);
      for (const k of ['updates', 'expectedSpeedupFlops', 'chunkMs', 'measuredSpeedup'])
        checkFinite(r[k], `${where}.${k}`);
      if (!isObject(r.quality)) throw new BacError(`${where}.quality must be an object`);
      for (const m of Object.keys(QUALITY_MEASURES)) {
        const q = (r.quality[m] ??= null);
        if (q !== null && !(isObject(q) && typeof q.value === 'number')) {
          throw new BacError(`${where}.quality.${m} must be null or {value, seedStd, windowSe}`);
        }
      }
    });
    if (!((root.measure as string) in QUALITY_MEASURES))
      throw new BacError(`measure ${String(root.measure)} is unknown`);
    if (root.closedLoop !== undefined) {
      if (!isObject(root.closedLoop)) throw new BacError('closedLoop must be an object {episodes, seed, noiseSeed}');
      for (const k of ['episodes', 'seed', 'noiseSeed'])
        if (!Number.isInteger(root.closedLoop[k])) throw new BacError(`closedLoop.${k} must be an integer`);
    }
    if (root.recommendation !== null && !ids.has(root.recommendation as string)) {
      throw new BacError(`recommendation ${String(root.recommendation)} is not one of the results`);
    }
  } catch (e) {
    return fail((e as Error).message);
  }
  return root as unknown as SweepReport;
}
