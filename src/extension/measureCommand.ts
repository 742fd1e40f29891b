import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { formatSpeedup } from '../core/cost';
import type { MeasuredSpeed, Schedule } from '../core/types';
import { measureInChildProcess, MeasureCancelledError } from '../engine/measure-process';
import { DEFAULT_MEASURE_SAMPLES } from '../engine/measure-speed';
import type { ExecutionProviderChoice } from '../engine/ort';
import { withCancellableProgress } from './cancellableProgress';
import { reportCommandFailure } from './commandFailure';
import { scheduleCommand, type CommandSchedule, type ScheduleCommand } from './commandSchedule';
import { resolveStored } from './files';
import type { LinkResolver } from './links';
import { LAST_EPISODES, pickEpisodes } from './profileCommand';
import type { IntentOutcome, ScheduleDocuments } from './scheduleDocument';

/**
 * "BAC: Measure Speed": what `bac eval` records, from the editor. Runs the schedule's chunk graph
 * against the faster full-model runner in a child process (progress, cancel), then records
 * `measured` in the schedule as a minimal edit of its document (undoable, left dirty). Thin: the
 * measurement is the engine's, the edit the schedule document model's.
 */

/** Arguments for running the command without dialogs (tests); a Uri comes from a menu. */
export interface MeasureSpeedArgs {
  /** The `.bacschedule`; default: the active schedule editor's or text editor's document. */
  readonly schedule?: vscode.Uri;
  /** Episodes to cut observation windows from; default: the linked profile's, else asked for. */
  readonly episodes?: string;
  /** Observation windows (default {@link DEFAULT_MEASURE_SAMPLES}). */
  readonly samples?: number;
  /** Execution provider; default `bac.executionProvider`. */
  readonly executionProvider?: ExecutionProviderChoice;
}

/** What the command measured and whether the schedule now records it. */
export interface MeasureSpeedResult {
  readonly measured: MeasuredSpeed;
  readonly outcome: IntentOutcome;
}

const PROVIDERS: readonly ExecutionProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu'];

/** The command. It resolves to undefined when cancelled or an error was shown (one message, details in the log). */
export function measureSpeedCommand(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  documents: ScheduleDocuments,
  links: LinkResolver,
): ScheduleCommand<MeasureSpeedArgs, MeasureSpeedResult> {
  const words = { missing: 'open a saved .bacschedule to measure its speed.', again: 'measure again' };
  return scheduleCommand(words, (target, args: MeasureSpeedArgs) =>
    measureSpeed(context, log, documents, links, target, args),
  );
}

async function measureSpeed(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  documents: ScheduleDocuments,
  links: LinkResolver,
  { uri, name, document, schedule }: CommandSchedule,
  args: MeasureSpeedArgs,
): Promise<MeasureSpeedResult | undefined> {
  const episodesPath =
    args.episodes ?? (await profiledEpisodes(links, uri.fsPath, schedule)) ?? (await askEpisodes(context));
  if (!episodesPath) return undefined;
  const config = vscode.workspace.getConfiguration('bac');
  const providerSetting = args.executionProvider ?? config.get<string>('executionProvider', 'auto');
  const ep = (PROVIDERS as readonly string[]).includes(providerSetting)
    ? (providerSetting as ExecutionProviderChoice)
    : 'auto';
  const samples = args.samples ?? DEFAULT_MEASURE_SAMPLES;
  log.info(`measure: ${uri.fsPath} on ${episodesPath}, ${samples} windows, provider ${ep}`);
  let measured: MeasuredSpeed;
  try {
    measured = await withCancellableProgress(`BAC: Measuring ${name}`, 'building chunk graphs…', (signal, progress) =>
      measureInChildProcess(
        { schedule, scheduleDir: dirname(uri.fsPath), episodesPath, samples, seed: 1, ep },
        {
          signal,
          log: (line) => log.info(`measure: ${line}`),
          onProgress: (done, total) =>
            progress.report({ message: `${done}/${total} windows`, increment: total > 0 ? 100 / total : 0 }),
        },
      ),
    );
  } catch (e) {
    reportCommandFailure(log, e, e instanceof MeasureCancelledError, {
      tag: 'measure',
      doing: 'measuring',
      cancelled: 'measuring cancelled, the schedule is unchanged',
      prefix: `${name}: `,
    });
    return undefined;
  }
  const words = `${formatSpeedup(measured.speedup)} measured on ${measured.provider} (${measured.chunkMs} ms per chunk against ${measured.fullChunkMs} ms, batch 1, ${measured.device})`;
  log.info(`measure: ${words}`);
  const outcome = await documents.recordMeasured(document, measured);
  if (outcome.applied) {
    void vscode.window.showInformationMessage(`BAC: ${words}; recorded in ${name} (unsaved: save to keep it).`);
  } else {
    void vscode.window.showWarningMessage(`BAC: ${words}; not recorded: ${outcome.message ?? 'refused'}`);
  }
  return { measured, outcome };
}

/** The episodes the schedule's linked profile was measured on, when that profile and those episodes are present. */
async function profiledEpisodes(
  links: LinkResolver,
  schedulePath: string,
  schedule: Schedule,
): Promise<string | undefined> {
  const ref = schedule.solver.profile;
  const link = await links.profile(schedulePath, schedule);
  if (!ref || !link.profile || !link.profile.episodes) return undefined;
  const profilePath = resolveStored(dirname(schedulePath), ref.path);
  const episodes = resolveStored(dirname(profilePath), link.profile.episodes);
  return existsSync(episodes) ? episodes : undefined;
}

/** Asks for episodes as "BAC: Profile Model" does, remembering the choice. */
async function askEpisodes(context: vscode.ExtensionContext): Promise<string | undefined> {
  const picked = await pickEpisodes(context.workspaceState.get<string>(LAST_EPISODES));
  if (picked) await context.workspaceState.update(LAST_EPISODES, picked);
  return picked;
}
