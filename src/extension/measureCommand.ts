import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { formatSpeedup } from '../core/cost';
import { isBacError } from '../core/errors';
import { parseSchedule } from '../core/schedule-format';
import type { MeasuredSpeed, Schedule } from '../core/types';
import { measureInChildProcess, MeasureCancelledError } from '../engine/measure-process';
import { DEFAULT_MEASURE_SAMPLES } from '../engine/measure-speed';
import type { ExecutionProviderChoice } from '../engine/ort';
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

/** Runs the command. Resolves undefined when cancelled or an error was shown (one message, details in the log). */
export async function measureSpeedCommand(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  documents: ScheduleDocuments,
  links: LinkResolver,
  args: MeasureSpeedArgs,
  activeSchedule: () => vscode.Uri | undefined,
): Promise<MeasureSpeedResult | undefined> {
  const uri = args.schedule ?? activeSchedule();
  if (!uri || uri.scheme !== 'file') {
    void vscode.window.showInformationMessage('BAC: open a saved .bacschedule to measure its speed.');
    return undefined;
  }
  const name = basename(uri.fsPath);
  // What the user sees, unsaved edits included: the open document if there is one.
  const document = await vscode.workspace.openTextDocument(uri);
  const parsed = parseSchedule(document.getText());
  if (!parsed.ok) {
    const first = parsed.errors[0];
    void vscode.window.showErrorMessage(
      `BAC: ${name} is not a valid schedule (${first ? `${first.path}: ${first.message}` : 'unreadable'}); fix it in the schedule editor, then measure again.`,
    );
    return undefined;
  }
  const schedule = parsed.schedule;
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
    measured = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `BAC: Measuring ${name}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        progress.report({ message: 'building chunk graphs…' });
        try {
          return await measureInChildProcess(
            { schedule, scheduleDir: dirname(uri.fsPath), episodesPath, samples, seed: 1, ep },
            {
              signal: abort.signal,
              log: (line) => log.info(`measure: ${line}`),
              onProgress: (done, total) =>
                progress.report({ message: `${done}/${total} windows`, increment: total > 0 ? 100 / total : 0 }),
            },
          );
        } finally {
          sub.dispose();
        }
      },
    );
  } catch (e) {
    if (e instanceof MeasureCancelledError) {
      log.info('measure: cancelled; the schedule is unchanged');
      vscode.window.setStatusBarMessage('$(circle-slash) BAC: measuring cancelled, the schedule is unchanged', 5000);
      return undefined;
    }
    const user = isBacError(e);
    log.error(
      `measure: ${user ? 'failed' : 'internal error'}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    const text = user
      ? `BAC: ${name}: ${(e as Error).message}`
      : `BAC: measuring failed unexpectedly (${e instanceof Error ? e.message : String(e)}).`;
    void vscode.window.showErrorMessage(text, 'Show Log').then((pick) => {
      if (pick) log.show(true);
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
