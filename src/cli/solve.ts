/**
 * `bac solve`: a cache schedule from a `.bacprofile` (BAC: block-wise ACS + Bubbling Union, or
 * another method), at a budget or at a cost target, written as a `.bacschedule`.
 */
import { access } from 'node:fs/promises';
import { BacError } from '../core/errors';
import { formatSpeedup, summarizeSchedule } from '../core/cost';
import { checkSolverParams, MIN_BUDGET, MIN_TOP_N, SOLVER_DEFAULTS } from '../core/solver-params';
import type { CostTarget } from '../core/cost-target';
import { isScheduleMethod, SCHEDULE_METHODS, type ScheduleMethod } from '../core/solver-params';
import type { FileRef, Schedule } from '../core/types';
import { FileIssuesError } from '../core/json-validate';
import { loadProfile } from '../engine/profile-file';
import { describeCarriedEdits, solveAndWriteSchedule } from '../engine/schedule-service';
import { optionalIntegerOption, UsageError, type CommandResult } from './args';
import { sha256Bytes, sha256File, writeFileAtomic } from './fsutil';
import { loadSchedule } from './load';
import { flagOption, parseCommand, valueOption } from './options';
import { targetOption } from './target';

/** BUA top-n when `--top-n` is not given. */
export const DEFAULT_TOP_N = SOLVER_DEFAULTS.topN;

/** `bac solve`'s usage and options (its `--help`). */
export const SOLVE_SPEC = {
  name: 'solve',
  positional: 'profile (P.bacprofile)',
  usage: 'P.bacprofile (--budget M | --target-speedup X) --out S.bacschedule [options]',
  about: `Solves a cache schedule. The default method, bac: for every block, the M update steps that keep
its cached output most similar to the fresh one (ACS), then the Bubbling Union for the top-n
blocks by reuse error.`,
  options: {
    method: valueOption(
      'NAME',
      `${SCHEDULE_METHODS.join(' | ')} (default bac): bac; acs (ACS without the`,
      'Bubbling Union); unified (the ACS steps of block 0.sa for every block);',
      'uniform (every ⌊K/M⌋-th step); grid (per-block intervals dividing K, chosen to',
      "minimise the profile's reuse error under the cost; with --budget M at the FLOPs",
      'of uniform M)',
    ),
    budget: valueOption('M', 'update steps per block, 1 ≤ M ≤ K'),
    'target-speedup': valueOption(
      'X',
      "instead of --budget: the method's best schedule whose expected speedup over",
      'the full model is ≥ X (the largest budget that meets X; for grid the least',
      'reuse error within X)',
    ),
    by: valueOption(
      'flops|time',
      "what --target-speedup counts: FLOPs (default) or the profile's measured",
      'block times',
    ),
    'top-n': valueOption(
      'n',
      'Bubbling Union: blocks with the largest reuse error that also update whenever',
      `a downstream FFN does; 0 disables it (default ${DEFAULT_TOP_N})`,
    ),
    'no-force-last': flagOption(
      'do not make the last step an update inside the budget (official BAC adds it',
      'after solving, so blocks may get M+1 updates)',
    ),
    out: valueOption(
      'S',
      'the .bacschedule to write (atomically). When it exists and is valid, its',
      'manual edits (steps added or removed by hand) are kept',
    ),
    model: valueOption(
      'FILE',
      'the model, when it is no longer where the profile says; its sha256 must match',
      "the profiled model's",
    ),
  },
};

/** Runs `bac solve`. @throws BacError for user errors. */
export async function solveCommand(argv: readonly string[]): Promise<CommandResult> {
  const { values, positional: profilePath } = parseCommand(SOLVE_SPEC, argv);
  const method = methodOption(values.method);
  if (values.budget === undefined && values['target-speedup'] === undefined)
    throw new UsageError(
      '--budget is missing, expected the number of update steps per block (e.g. --budget 10) or a cost target (e.g. --target-speedup 3)',
      'solve',
    );
  if (values.budget !== undefined && values['target-speedup'] !== undefined)
    throw new UsageError('--budget and --target-speedup were both given, expected one of them', 'solve');
  if (values.by !== undefined && values['target-speedup'] === undefined)
    throw new UsageError('--by applies to --target-speedup, which is missing', 'solve');
  if (values.out === undefined)
    throw new UsageError('--out is missing, expected the schedule to write, e.g. --out model.bacschedule', 'solve');
  const out = values.out;
  if (!out.endsWith('.bacschedule'))
    throw new UsageError(
      `--out ${out} does not end in .bacschedule, expected a path like ${out}.bacschedule (editors recognise schedules by this extension)`,
      'solve',
    );
  const target =
    values['target-speedup'] === undefined ? undefined : targetOption('solve', values['target-speedup'], values.by);
  const topN = optionalIntegerOption('solve', 'top-n', values['top-n'], DEFAULT_TOP_N, MIN_TOP_N);
  const forceLast = !values['no-force-last'];

  const { profile, bytes } = await loadProfile(profilePath);
  const K = profile.sampler.steps;
  // With a target the budget is searched; K stands in for the range checks of the other parameters.
  const budget = optionalIntegerOption('solve', 'budget', values.budget, K, MIN_BUDGET);
  if (budget > K)
    throw new UsageError(
      `--budget ${budget} is larger than K = ${K} steps of ${profilePath}, expected 1…${K}`,
      'solve',
    );

  const refused = checkSolverParams({ budget, topN, forceLast }, { K, blocks: profile.blocks.length });
  if (refused) throw new UsageError(`${refused} (${profilePath})`, 'solve');
  const modelPath =
    values.model === undefined ? undefined : await checkedModel(profilePath, profile.model, values.model);
  const { schedule, kept, dropped } = await solveAndWriteSchedule({
    profile,
    profilePath,
    profileSha256: sha256Bytes(bytes),
    outPath: out,
    params: { budget, topN, forceLast },
    method,
    target,
    modelPath,
    existing: await existingSchedule(out),
    write: writeFileAtomic,
  });
  const modelRef = schedule.model;
  const summary = summarizeSchedule(schedule);
  return {
    json: {
      command: 'solve',
      out,
      method,
      target: target ?? null,
      model: modelRef,
      sampler: schedule.sampler,
      solver: schedule.solver,
      keptManualEdits: kept.length,
      summary,
    },
    text:
      `wrote ${out}${describeChoice(method, target)}: ${schedule.blocks.length} blocks, ${summary.updates} of ${summary.fullUpdates} block updates, ` +
      `expected speedup ${formatSpeedup(summary.speedupFlops)} by FLOPs` +
      (summary.speedupTime === null ? '' : `, ${formatSpeedup(summary.speedupTime)} by time`) +
      describeCarriedEdits(out, { kept, dropped })
        .map((line) => `\n${line}`)
        .join(''),
  };
}

/** " (grid, target ≥ 3× by flops)"; empty for the default bac at a budget, as before methods existed. */
function describeChoice(method: ScheduleMethod, target: CostTarget | undefined): string {
  if (method === 'bac' && !target) return '';
  return ` (${method}${target ? `, target ≥ ${target.speedup}× by ${target.by}` : ''})`;
}

/** `--method`, default bac. */
function methodOption(value: string | undefined): ScheduleMethod {
  if (value === undefined) return 'bac';
  if (!isScheduleMethod(value))
    throw new UsageError(`--method ${value} is unknown, expected one of ${SCHEDULE_METHODS.join(', ')}`, 'solve');
  return value;
}

/** The `--model` override, after checking that it is the profiled model (same sha256). */
async function checkedModel(profilePath: string, profiled: FileRef, override: string): Promise<string> {
  const sha256 = await sha256File(override);
  if (sha256 !== profiled.sha256) {
    throw new BacError(
      `${override}: sha256 ${sha256.slice(0, 12)}… differs from the profiled model's ${profiled.sha256.slice(0, 12)}… (header.model.sha256 of ${profilePath}), expected the same model file; re-profile if the model changed`,
    );
  }
  return override;
}

/** The valid schedule at `out`, whose manual edits are kept; undefined when there is no file yet. */
async function existingSchedule(out: string): Promise<Schedule | undefined> {
  try {
    await access(out);
  } catch {
    return undefined;
  }
  try {
    return await loadSchedule(out);
  } catch (e) {
    if (!(e instanceof FileIssuesError)) throw e;
    const why =
      'is the existing --out schedule, whose manual edits would be kept; fix it or delete it, expected a valid .bacschedule';
    throw new FileIssuesError(out, [...e.issues, { path: '', message: why }]);
  }
}
