import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { CostTarget } from '../core/cost-target';
import { parseSchedule } from '../core/schedule-format';
import { sameFile } from '../engine/fsutil';
import {
  DEFAULT_TUNE_MEASURE,
  describeTuneSearch,
  formatTuneScore,
  type TuneMeasure,
  type TuneProgress,
  type TuneSearch,
} from '../engine/tune';
import { DEFAULT_POPULATION_FINALISTS, DEFAULT_POPULATION_SIZE } from '../engine/tune-population';
import { DEFAULT_TUNE_ITERATIONS, DEFAULT_TUNE_TRIALS, DEFAULT_TUNE_WINDOWS, type TuneJob } from '../engine/tune-job';
import { tuneInChildProcess, TuneProcessCancelledError, type TuneOutcome } from '../engine/tune-process';
import { askChoiceUnlessGiven, type Choice } from './ask';
import { activeScheduleUri } from './commandSchedule';
import { withCancellableProgress } from './cancellableProgress';
import { reportCommandFailure } from './commandFailure';
import { resolveStored } from './files';
import { SCHEDULE_EDITOR_VIEW_TYPE } from './scheduleEditor';

/**
 * "BAC: Tune Schedule…": `bac tune` from the editor. Takes a `.bacprofile` (Explorer menu, or the
 * active schedule's linked profile, or a file dialog), asks for the target speedup, the objective
 * and the search, and tunes in a child process (progress, cancel) that leaves no file unless it finished;
 * the tuned schedule opens in the schedule editor. Thin: the search and its request are the
 * engine's (engine/tune.ts, engine/tune-job.ts).
 */

/** Arguments for running the command without dialogs (tests); a Uri comes from the Explorer menu. */
export interface TuneScheduleArgs {
  /** The `.bacprofile`; default: the active schedule's linked profile, else asked for. */
  readonly profile?: string;
  /** Expected speedup the schedule must reach (FLOPs unless `by` says time); asked for when absent. */
  readonly targetSpeedup?: number;
  readonly by?: CostTarget['by'];
  /** What the search optimises; asked for when absent. */
  readonly measure?: TuneMeasure;
  /** How to search; asked for when absent. */
  readonly search?: TuneSearch['kind'];
  /** Where the schedule goes; asked for when absent. */
  readonly out?: string;
  /** Local search steps. */
  readonly iterations?: number;
  /** Population search: candidates, and how many of them are re-scored on the selection set. */
  readonly population?: number;
  readonly finalists?: number;
  readonly windows?: number;
  readonly trials?: number;
  readonly seed?: number;
}

/** What the command wrote. */
export interface TuneScheduleResult {
  readonly out: string;
  readonly outcome: TuneOutcome;
}

/** The command. It resolves to undefined when the user cancels or an error was shown (one message, details in the log). */
export async function tuneScheduleCommand(
  log: vscode.LogOutputChannel,
  args: TuneScheduleArgs,
): Promise<TuneScheduleResult | undefined> {
  const profile = args.profile ?? (await linkedProfile()) ?? (await askProfile());
  if (!profile) return undefined;
  const title = `BAC: Tune from ${basename(profile)}`;
  const speedup = args.targetSpeedup ?? (await askTargetSpeedup(title));
  if (speedup === undefined) return undefined;
  const measure = await askChoiceUnlessGiven<TuneMeasure>(
    args.measure,
    [
      {
        label: 'First action’s error against the full model',
        description: `offline, any policy (${DEFAULT_TUNE_MEASURE})`,
        detail: 'Keeps a change when the first executed action gets closer to the full model’s on the same noise.',
        value: DEFAULT_TUNE_MEASURE,
      },
      {
        label: 'Closed-loop success in the demo simulator',
        description: 'success, demo task only',
        detail:
          'Keeps a change when more simulated episodes succeed on fixed trial layouts; every iteration runs all the trial episodes.',
        value: 'success',
      },
    ],
    { title, placeHolder: 'What the search optimises' },
  );
  if (measure === undefined) return undefined;
  // Population first for closed-loop success: the search whose schedule held up on fresh layouts
  // (docs/tune-population-confirmation.md); the quick pick's first item is the one Enter takes.
  const searchChoices: Choice<TuneSearch['kind']>[] = [
    {
      label: 'Local search',
      description: `${args.iterations ?? DEFAULT_TUNE_ITERATIONS} iterations`,
      detail: 'Starts from the best of Uniform, grid and BAC and keeps each change that scores better.',
      value: 'local',
    },
    {
      label: 'Population search',
      description: `${args.population ?? DEFAULT_POPULATION_SIZE} candidates`,
      detail: `Scores every schedule family and random variants of them once, re-scores the best ${args.finalists ?? DEFAULT_POPULATION_FINALISTS} on other ${measure === 'success' ? 'layouts' : 'windows'} and keeps the best there.`,
      value: 'population',
    },
  ];
  const searchKind = await askChoiceUnlessGiven<TuneSearch['kind']>(
    args.search,
    measure === 'success' ? searchChoices.reverse() : searchChoices,
    { title, placeHolder: 'How to search' },
  );
  if (searchKind === undefined) return undefined;
  const search: TuneSearch =
    searchKind === 'local'
      ? { kind: 'local', iterations: args.iterations ?? DEFAULT_TUNE_ITERATIONS }
      : {
          kind: 'population',
          size: args.population ?? DEFAULT_POPULATION_SIZE,
          finalists: args.finalists ?? DEFAULT_POPULATION_FINALISTS,
        };
  const out = args.out ?? (await askOut(title, profile));
  if (out === undefined) return undefined;
  if (await sameFile(out, profile)) {
    void vscode.window.showErrorMessage(
      `BAC: ${basename(out)} is the profile being tuned from; pick another file to write.`,
    );
    return undefined;
  }
  const job: TuneJob = {
    profilePath: profile,
    outPath: out,
    target: { speedup, by: args.by ?? 'flops' },
    measure,
    windows: args.windows ?? DEFAULT_TUNE_WINDOWS,
    trials: args.trials ?? DEFAULT_TUNE_TRIALS,
    search,
    seed: args.seed ?? 0,
    topN: 3,
    forceLast: true,
  };
  log.info(`tune: ${profile} → ${out}, target ${speedup}× by ${job.target.by}, ${measure}, ${searchKind} search`);
  let outcome: TuneOutcome;
  try {
    outcome = await withCancellableProgress(
      title,
      searchKind === 'local' ? 'scoring the start schedules…' : 'scoring the population…',
      (signal, progress) =>
        tuneInChildProcess(job, {
          signal,
          log: (line) => log.info(`tune: ${line}`),
          onProgress: (p: TuneProgress) =>
            progress.report({
              message: `${p.iteration}/${p.iterations}: ${formatTuneScore(measure, p.best)}, ${p.note}`,
              increment: 100 / Math.max(1, p.iterations),
            }),
        }),
    );
  } catch (e) {
    reportCommandFailure(log, e, e instanceof TuneProcessCancelledError, {
      tag: 'tune',
      doing: 'tuning',
      cancelled: 'tuning cancelled, no schedule was written',
      prefix: `${basename(profile)}: `,
    });
    return undefined;
  }
  const words = `tuned from ${outcome.start}, ${describeTuneSearch(outcome.search)}; held-out ${formatTuneScore(measure, outcome.heldout.start)} → ${formatTuneScore(measure, outcome.heldout.tuned)}`;
  log.info(`tune: wrote ${out}: ${words}`);
  void vscode.window.showInformationMessage(`BAC: wrote ${basename(out)}: ${words}.`, 'Open').then((pick) => {
    if (pick) void vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(out), SCHEDULE_EDITOR_VIEW_TYPE);
  });
  return { out, outcome };
}

/** The profile the active schedule links, when it parses and names one. */
async function linkedProfile(): Promise<string | undefined> {
  const uri = activeScheduleUri();
  if (!uri) return undefined;
  const parsed = parseSchedule((await vscode.workspace.openTextDocument(uri)).getText());
  const ref = parsed.ok ? parsed.schedule.solver.profile : null;
  return ref ? resolveStored(dirname(uri.fsPath), ref.path) : undefined;
}

async function askProfile(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'BAC: Tune Schedule — pick a profile',
    canSelectMany: false,
    filters: { 'BAC profile': ['bacprofile'] },
    openLabel: 'Tune',
  });
  return picked?.[0]?.fsPath;
}

async function askTargetSpeedup(title: string): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    prompt: 'Expected speedup over the full model (by FLOPs) the tuned schedule must reach',
    value: '3',
    ignoreFocusOut: true,
    validateInput: (v) => {
      const x = Number(v);
      return Number.isFinite(x) && x >= 1 ? undefined : 'a number ≥ 1, e.g. 3';
    },
  });
  return text === undefined ? undefined : Number(text);
}

async function askOut(title: string, profile: string): Promise<string | undefined> {
  const stem = basename(profile).replace(/\.bacprofile$/, '');
  const target = await vscode.window.showSaveDialog({
    title,
    defaultUri: vscode.Uri.file(join(dirname(profile), `${stem}.tuned.bacschedule`)),
    filters: { 'BAC schedule': ['bacschedule'] },
    saveLabel: 'Tune',
  });
  return target?.fsPath;
}
