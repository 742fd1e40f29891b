/**
 * `bac solve`: block-wise ACS + Bubbling Union from a `.bacprofile`, written as a `.bacschedule`.
 */
import { access } from 'node:fs/promises';
import { BacError } from '../core/errors';
import { formatSpeedup, summarizeSchedule } from '../core/cost';
import { checkSolverParams, MIN_BUDGET, MIN_TOP_N, SOLVER_DEFAULTS } from '../core/solver-params';
import type { FileRef, Schedule } from '../core/types';
import { describeCarriedEdits, solveAndWriteSchedule } from '../engine/schedule-service';
import {
  FileIssuesError,
  integerOption,
  onePositional,
  optionalIntegerOption,
  parseCommandArgs,
  UsageError,
  type CommandResult,
} from './args';
import { sha256Bytes, sha256File, writeFileAtomic } from './fsutil';
import { loadProfile, loadSchedule } from './load';

/** BUA top-n when `--top-n` is not given. */
export const DEFAULT_TOP_N = SOLVER_DEFAULTS.topN;

/** `bac solve --help`. */
export const SOLVE_HELP = `Usage: bac solve P.bacprofile --budget M --out S.bacschedule [options]

Solves a cache schedule: for every block, the M update steps that keep its cached output most
similar to the fresh one (ACS), then the Bubbling Union for the top-n blocks by reuse error.

Options:
  --budget M         update steps per block, 1 ≤ M ≤ K (required)
  --top-n n          Bubbling Union: blocks with the largest reuse error that also update whenever
                     a downstream FFN does; 0 disables it (default ${DEFAULT_TOP_N})
  --no-force-last    do not make the last step an update inside the budget (official BAC adds it
                     after solving, so blocks may get M+1 updates)
  --out S            the .bacschedule to write (atomically). When it exists and is valid, its
                     manual edits (steps added or removed by hand) are kept
  --model FILE       the model, when it is no longer where the profile says; its sha256 must match
                     the profiled model's
  --json             print a JSON result instead of text
  -h, --help         show this help

Exit codes: 0 success, 1 user error, 2 internal error.`;

/** Runs `bac solve`. @throws BacError for user errors. */
export async function solveCommand(argv: readonly string[]): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs('solve', argv, {
    budget: { type: 'string' },
    'top-n': { type: 'string' },
    'no-force-last': { type: 'boolean' },
    out: { type: 'string' },
    model: { type: 'string' },
    json: { type: 'boolean' },
  });
  const profilePath = onePositional('solve', positionals, 'profile (P.bacprofile)');
  if (values.budget === undefined)
    throw new UsageError(
      '--budget is missing, expected the number of update steps per block, e.g. --budget 10',
      'solve',
    );
  if (values.out === undefined)
    throw new UsageError('--out is missing, expected the schedule to write, e.g. --out model.bacschedule', 'solve');
  const out = values.out;
  if (!out.endsWith('.bacschedule'))
    throw new UsageError(
      `--out ${out} does not end in .bacschedule, expected a path like ${out}.bacschedule (editors recognise schedules by this extension)`,
      'solve',
    );
  const budget = integerOption('solve', 'budget', values.budget, MIN_BUDGET);
  const topN = optionalIntegerOption('solve', 'top-n', values['top-n'], DEFAULT_TOP_N, MIN_TOP_N);
  const forceLast = !values['no-force-last'];

  const { profile, bytes } = await loadProfile(profilePath);
  const K = profile.sampler.steps;
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
      model: modelRef,
      sampler: schedule.sampler,
      solver: schedule.solver,
      keptManualEdits: kept.length,
      summary,
    },
    text:
      `wrote ${out}: ${schedule.blocks.length} blocks, ${summary.updates} of ${summary.fullUpdates} block updates, ` +
      `expected speedup ${formatSpeedup(summary.speedupFlops)} by FLOPs` +
      (summary.speedupTime === null ? '' : `, ${formatSpeedup(summary.speedupTime)} by time`) +
      describeCarriedEdits(out, { kept, dropped })
        .map((line) => `\n${line}`)
        .join(''),
  };
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
