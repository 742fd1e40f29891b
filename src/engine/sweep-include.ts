import { dirname } from 'node:path';
import { BacError } from '../core/errors';
import { checkModelPin } from '../core/model-pin';
import { configId, type SweepConfig } from '../core/sweep-format';
import type { FileRef, Schedule } from '../core/types';
import { resolveStored, storedPathFor } from './paths';
import { checkSamplerType } from './policy';
import { updateTable } from './runner';
import type { MeasuredConfig } from './sweep-measure';

/**
 * Schedules measured beside a sweep's grid (`bac sweep --include`): each runs as it is, under its
 * own sampler and K, as one configuration of method `schedule` whose identity is its file.
 */

/** A schedule file given to the sweep, already read and validated. */
export interface IncludedSchedule {
  /** Absolute path of the `.bacschedule`. */
  readonly path: string;
  readonly schedule: Schedule;
}

/**
 * The configurations of `included` for a report at `reportPath`: method `schedule`, the schedule's
 * sampler, K and budget, and its path relative to the report as `file` (so ids stay unique and the
 * Sweep panel can read it back). Checked before any work: every schedule must run on the swept
 * model. O(included · K · blocks).
 * @throws BacError naming the file when a schedule is for another model than `model` (sha256 or
 *   blocks), names a sampler the engine does not run, or when one file is given twice.
 */
export function includedConfigs(
  included: readonly IncludedSchedule[],
  reportPath: string,
  model: { readonly sha256: string; readonly blockIds: readonly string[] },
): (MeasuredConfig & { readonly path: string })[] {
  const seen = new Set<string>();
  return included.map(({ path, schedule }) => {
    checkModelPin(schedule.model, model.sha256, path);
    checkSamplerType(schedule, path);
    updateTable(schedule, model.blockIds, path);
    const config: SweepConfig = {
      sampler: schedule.sampler.type,
      steps: schedule.sampler.steps,
      method: 'schedule',
      budget: schedule.solver.budget,
      file: storedPathFor(reportPath, path),
    };
    if (seen.has(configId(config))) throw new BacError(`${path} is included twice; give each schedule once`);
    seen.add(configId(config));
    return { config, schedule, path };
  });
}

/**
 * `grid` plus the full model of every included schedule's sampler and K it lacks: cached
 * configurations are compared with their own sampler's full model (`full-model-error`).
 */
export function withFullModels(grid: readonly SweepConfig[], included: readonly MeasuredConfig[]): SweepConfig[] {
  const out = [...grid];
  for (const { config } of included) {
    const full: SweepConfig = { sampler: config.sampler, steps: config.steps, method: 'full', budget: null };
    if (!out.some((c) => configId(c) === configId(full))) out.push(full);
  }
  return out;
}

/**
 * An included schedule as written to `outPath` (the recommendation): its model and profile paths
 * rebased from `from` to the new file, the model reference `model` (the swept model, same sha256).
 */
export function rebasedSchedule(schedule: Schedule, from: string, outPath: string, model: FileRef): Schedule {
  const profile = schedule.solver.profile;
  return {
    ...schedule,
    model,
    solver: {
      ...schedule.solver,
      profile: profile && {
        ...profile,
        path: storedPathFor(outPath, resolveStored(dirname(from), profile.path)),
      },
    },
  };
}
