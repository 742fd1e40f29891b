import { uniformSteps } from './baselines';
import { BacError } from './errors';
import type { SweepPanelState } from './protocol';
import { composeBlock } from './solve';
import { TOLERANCE_KIND, type QualityStat, type ToleranceKind } from './quality';
import { fullSchedule, qualityLimit, qualityOf } from './sweep';
import { configId, configLabel, type SweepReport } from './sweep-format';
import { describePlan } from './trials';
import type { Schedule } from './types';

/**
 * What the Sweep panel shows of a `.bacsweep` report, and the schedule one of its points becomes
 * when applied to a schedule file. Pure.
 */

/**
 * The schedule file (path relative to the report) that point `id` runs when it is not built from
 * the report alone: the recommendation's written schedule, else an included schedule's own file;
 * null for the other points. The host reads it before {@link scheduleForSweepPoint}. O(results).
 */
export function pointScheduleFile(report: SweepReport, id: string): string | null {
  if (id === report.recommendation && report.recommendedSchedule) return report.recommendedSchedule;
  return report.results.find((x) => configId(x.config) === id)?.config.file ?? null;
}

/** Whether a point can be written into a schedule: full, Uniform, or one with a schedule file. */
function applicable(report: SweepReport, id: string): boolean {
  const r = report.results.find((x) => configId(x.config) === id);
  return !!r && (r.config.method === 'full' || r.config.method === 'uniform' || pointScheduleFile(report, id) !== null);
}

/**
 * A measure's value as tables show it, by its tolerance kind: a distance to the reference in fixed
 * point with its standard error over windows, a rate in percent with its standard error over
 * episodes, an error in exponent form with its spread over seeds.
 */
export function formatQuality(q: QualityStat | null, kind: ToleranceKind): string {
  if (!q) return '–';
  if (kind === 'absolute') return `${q.value.toFixed(3)} ±${q.windowSe.toFixed(3)}`;
  if (kind === 'margin') return `${(q.value * 100).toFixed(1)} % ±${(q.windowSe * 100).toFixed(1)}`;
  return q.seedStd === null ? q.value.toExponential(2) : `${q.value.toExponential(2)} ±${q.seedStd.toExponential(1)}`;
}

/** The panel state of a report. O(results). */
export function sweepPanelState(report: SweepReport, fileName: string, target: string | null): SweepPanelState {
  const kind = TOLERANCE_KIND[report.measure];
  const ref = report.results.find((r) => configId(r.config) === configId(report.reference));
  const limit = ref ? qualityLimit(ref, report.measure, report.tolerance) : null;
  return {
    fileName,
    measure: report.measure,
    measureText: report.measures[report.measure],
    qualityScale: kind === 'relative' ? 'log' : 'linear',
    qualityLimit: limit !== null && Number.isFinite(limit) ? limit : null,
    reference: configLabel(report.reference),
    measuredOn: `${report.windows} windows × ${report.draws} noise draws on ${report.provider} (${report.runner})`,
    points: report.results.map((r) => {
      const id = configId(r.config);
      const q = qualityOf(r, report.measure);
      return {
        id,
        label: configLabel(r.config),
        speedup: r.measuredSpeedup,
        quality: Number.isFinite(q) ? q : null,
        qualityText: formatQuality(r.quality[report.measure] ?? null, kind),
        pareto: report.pareto.includes(id),
        recommended: id === report.recommendation,
        applicable: applicable(report, id),
      };
    }),
    target,
    trials: report.trials ? describePlan(report.trials.success, report.trials.drop, report.trials.plan) : null,
    notes: report.notes,
  };
}

/**
 * The schedule point `id` of `report` becomes in `target` (its model and block costs kept): the full
 * model or Uniform(S) under the point's sampler and K, or, for a point with a schedule file
 * ({@link pointScheduleFile}: the recommendation, an included schedule), `stored` — that file's
 * schedule as the host read it, its profile path already relative to the target — with the target's
 * model reference.
 * @throws BacError when the point is unknown, not applicable, its file unreadable, or belongs to another model.
 */
export function scheduleForSweepPoint(
  report: SweepReport,
  id: string,
  target: Schedule,
  stored: Schedule | null,
): Schedule {
  const r = report.results.find((x) => configId(x.config) === id);
  if (!r) throw new BacError(`${id} is not in the sweep report`);
  if (report.model.sha256 !== target.model.sha256) {
    throw new BacError(
      `the sweep measured another model (${report.model.path}) than the schedule's (${target.model.path})`,
    );
  }
  const sampler = { type: r.config.sampler, steps: r.config.steps };
  if (r.config.method === 'full') return fullSchedule(target, sampler);
  if (r.config.method === 'uniform') {
    const steps = uniformSteps(sampler.steps, r.config.budget!);
    return {
      model: target.model,
      sampler,
      solver: { budget: r.config.budget!, topN: 0, forceLast: false, profile: null },
      baseCost: target.baseCost,
      blocks: target.blocks.map((b) => composeBlock(b.id, b.cost, steps, [])),
    };
  }
  const file = pointScheduleFile(report, id);
  if (file === null) {
    throw new BacError(
      `${configLabel(r.config)} needs its profile; only the recommendation's schedule was written by bac sweep`,
    );
  }
  if (!stored) throw new BacError(`${file} (beside the sweep report) is missing or not a valid schedule`);
  return { ...stored, model: target.model };
}
