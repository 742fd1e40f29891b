import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { BacError } from '../core/errors';
import { formatIssues, parseSchedule } from '../core/schedule-format';
import { fitSolverDefaults, SOLVER_DEFAULTS } from '../core/solver-params';
import type { Schedule } from '../core/types';
import { sha256File } from '../engine/fsutil';
import type { ExecutionProviderChoice } from '../engine/ort';
import { ProfileCancelledError, profileInChildProcess } from '../engine/profile-process';
import { describeCarriedEdits, solveAndWriteSchedule } from '../engine/schedule-service';
import { withCancellableProgress } from './cancellableProgress';
import { reportCommandFailure } from './commandFailure';
import { statFile } from './files';
import { SCHEDULE_EDITOR_VIEW_TYPE } from './scheduleEditor';

/**
 * "BAC: Profile Model": pick a model and episodes, profile in the engine's child process under a
 * cancellable progress notification, solve with the default budget and top-n, write
 * `<model>.bacprofile` and `<model>.bacschedule` (never overwriting without asking) and open the
 * schedule in the editor.
 */

/** Arguments for running the command without dialogs (tests, the stale-schedule CodeLens). */
export interface ProfileModelArgs {
  /** Absolute path of the ONNX model; asked for when absent. */
  readonly model?: string;
  /** Absolute path of the episodes (HDF5 file, zarr folder or .zarr.zip); asked for when absent. */
  readonly episodes?: string;
  /** Samples; default `bac.profile.samples`. */
  readonly samples?: number;
  /** Execution provider; default `bac.executionProvider`. */
  readonly executionProvider?: ExecutionProviderChoice;
  /** Output folder; default the model's folder. */
  readonly outDir?: string;
  /** Overwrite existing outputs without asking. Default false (ask). */
  readonly overwrite?: boolean;
  /** Open the schedule in the editor afterwards. Default true. */
  readonly open?: boolean;
}

/** What the command wrote. */
export interface ProfileModelResult {
  readonly profilePath: string;
  readonly schedulePath: string;
  /** Provider that ran the model. */
  readonly provider: string;
}

const LAST_MODEL = 'bac.profile.lastModel';
export const LAST_EPISODES = 'bac.profile.lastEpisodes';
const PROVIDERS: readonly ExecutionProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu'];

/** Runs the command. Resolves undefined when the user cancelled a step; errors are shown, not thrown. */
export async function profileModelCommand(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  args: ProfileModelArgs = {},
): Promise<ProfileModelResult | undefined> {
  try {
    return await run(context, log, args);
  } catch (e) {
    reportCommandFailure(log, e, e instanceof ProfileCancelledError, {
      tag: 'profile',
      doing: 'profiling',
      cancelled: 'profiling cancelled, nothing was written',
    });
    return undefined;
  }
}

async function run(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  args: ProfileModelArgs,
): Promise<ProfileModelResult | undefined> {
  const state = context.workspaceState;
  const modelPath = args.model ?? (await pickModel(state.get<string>(LAST_MODEL)));
  if (!modelPath) return undefined;
  await state.update(LAST_MODEL, modelPath);
  const episodesPath = args.episodes ?? (await pickEpisodes(state.get<string>(LAST_EPISODES)));
  if (!episodesPath) return undefined;
  await state.update(LAST_EPISODES, episodesPath);

  const config = vscode.workspace.getConfiguration('bac', vscode.Uri.file(modelPath));
  const samples = args.samples ?? config.get<number>('profile.samples', 32);
  const seed = config.get<number>('profile.seed', 0);
  const samplerSetting = config.get<string>('profile.sampler', 'model');
  const samplerType = samplerSetting === 'model' ? undefined : samplerSetting;
  const stepsSetting = config.get<number>('profile.steps', 0);
  const steps = Number.isInteger(stepsSetting) && stepsSetting > 0 ? stepsSetting : undefined;
  const providerSetting = args.executionProvider ?? config.get<string>('executionProvider', 'auto');
  const executionProvider = (PROVIDERS as readonly string[]).includes(providerSetting)
    ? (providerSetting as ExecutionProviderChoice)
    : 'auto';

  const stem = basename(modelPath, extname(modelPath));
  const outDir = await chooseOutputFolder(args.outDir ?? dirname(modelPath), stem, args.overwrite ?? false);
  if (!outDir) return undefined;
  const profilePath = join(outDir, `${stem}.bacprofile`);
  const schedulePath = join(outDir, `${stem}.bacschedule`);
  // Refuse before a long profiling run when the schedule there could not be replaced anyway.
  await existingSchedule(schedulePath);

  log.info(
    `profile: ${modelPath} on ${episodesPath}, ${samples} samples, seed ${seed}, provider ${executionProvider}, sampler ${samplerType ?? "the model's"}${steps ? ` K = ${steps}` : ''} → ${profilePath}`,
  );
  let reported = 0;
  const outcome = await withCancellableProgress(
    `BAC: Profiling ${basename(modelPath)}`,
    'starting ONNX Runtime…',
    (signal, progress) =>
      profileInChildProcess(
        { modelPath, episodesPath, samples, seed, executionProvider, outPath: profilePath, samplerType, steps },
        {
          signal,
          log: (line) => log.info(`profile: ${line}`),
          onProgress: ({ done, total, etaMs }) => {
            const pct = total > 0 ? (100 * done) / total : 0;
            const eta = etaMs === null ? '' : ` · ETA ${formatEta(etaMs)}`;
            progress.report({ message: `${done}/${total} samples${eta}`, increment: pct - reported });
            reported = pct;
          },
        },
      ),
  );
  for (const note of outcome.notes) log.info(`profile: ${note}`);

  const profile = outcome.profile;
  // Settings are defaults, not tied to a model: fitted into its range, every fit logged.
  const { params, notes } = fitSolverDefaults(
    {
      budget: config.get<number>('solver.budget', SOLVER_DEFAULTS.budget),
      topN: config.get<number>('solver.topN', SOLVER_DEFAULTS.topN),
      forceLast: config.get<boolean>('solver.forceLast', SOLVER_DEFAULTS.forceLast),
    },
    { K: profile.sampler.steps, blocks: profile.blocks.length },
  );
  for (const note of notes) log.warn(`profile: ${note}`);
  const written = await solveAndWriteSchedule({
    profile,
    profilePath,
    profileSha256: await sha256File(profilePath),
    outPath: schedulePath,
    params,
    existing: await existingSchedule(schedulePath),
    // The person confirmed the overwrite (or asked for it); what cannot be kept is said below.
    dropUnkeepable: true,
  });
  for (const line of describeCarriedEdits(schedulePath, written)) log.info(`profile: ${line}`);
  if (written.dropped.length > 0) {
    void vscode.window.showWarningMessage(
      `BAC: ${describeCarriedEdits(basename(schedulePath), { kept: [], dropped: written.dropped }).join('; ')}.`,
    );
  }
  log.info(`profile: wrote ${profilePath} and ${schedulePath} (provider ${outcome.provider})`);
  if (args.open ?? true)
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(schedulePath), SCHEDULE_EDITOR_VIEW_TYPE);
  return { profilePath, schedulePath, provider: outcome.provider };
}

/**
 * The valid schedule already at `path`, whose hand edits are kept across re-profiling; undefined
 * when there is none.
 * @throws BacError when it exists but is invalid: an invalid schedule is never rewritten.
 */
async function existingSchedule(path: string): Promise<Schedule | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseSchedule(text);
  if (parsed.ok) return parsed.schedule;
  throw new BacError(
    `the existing ${basename(path)} is not a valid schedule, so it is not replaced; fix or delete it and run the command again:\n${formatIssues(path, parsed.errors.slice(0, 5))}`,
  );
}

/** "12 s", "3 min 5 s". */
function formatEta(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Asks for the model: the last one, ONNX files of the workspace, or a file dialog. */
async function pickModel(last: string | undefined): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/*.onnx', '**/node_modules/**', 50);
  const items: (vscode.QuickPickItem & { path?: string })[] = [];
  const lastOk = last && (await statFile(last)) ? last : undefined;
  if (lastOk)
    items.push({
      label: `$(history) ${basename(lastOk)}`,
      description: vscode.workspace.asRelativePath(lastOk),
      detail: 'last profiled',
      path: lastOk,
    });
  for (const uri of found) {
    if (uri.fsPath !== lastOk)
      items.push({
        label: `$(file) ${basename(uri.fsPath)}`,
        description: vscode.workspace.asRelativePath(uri),
        path: uri.fsPath,
      });
  }
  const browse = { label: '$(folder-opened) Browse…', description: 'choose a BAC-ready ONNX model' };
  if (items.length === 0) return browseFile('Profile this model', { 'ONNX model': ['onnx'] });
  const pick = await vscode.window.showQuickPick([...items, browse], {
    title: 'BAC: Profile Model (1/2) — model',
    placeHolder: 'The BAC-ready ONNX policy to profile',
    // A step of a multi-step flow: a webview editor taking focus back while the previous step
    // closes must not dismiss it (that would end the command silently).
    ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  return 'path' in pick && pick.path ? pick.path : browseFile('Profile this model', { 'ONNX model': ['onnx'] });
}

/** Asks for the episodes: the last ones, or a file (HDF5, .zarr.zip) or folder (zarr) dialog. */
export async function pickEpisodes(last: string | undefined): Promise<string | undefined> {
  const items: (vscode.QuickPickItem & { action: 'last' | 'file' | 'folder' })[] = [];
  if (last)
    items.push({
      label: `$(history) ${basename(last)}`,
      description: vscode.workspace.asRelativePath(last),
      detail: 'last used',
      action: 'last',
    });
  items.push({ label: '$(file) Episode file…', description: 'robomimic HDF5 or .zarr.zip', action: 'file' });
  items.push({ label: '$(folder) Episode folder…', description: 'diffusion_policy zarr directory', action: 'folder' });
  const pick = await vscode.window.showQuickPick(items, {
    title: 'BAC: Profile Model (2/2) — episodes',
    placeHolder: 'Recorded episodes to cut observation samples from',
    ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  if (pick.action === 'last') return last;
  if (pick.action === 'file') return browseFile('Use these episodes', { Episodes: ['hdf5', 'h5', 'zip'] });
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    openLabel: 'Use these episodes',
  });
  return uris?.[0]?.fsPath;
}

async function browseFile(openLabel: string, filters: Record<string, string[]>): Promise<string | undefined> {
  const uris = await vscode.window.showOpenDialog({
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    openLabel,
    filters: { ...filters, 'All files': ['*'] },
  });
  return uris?.[0]?.fsPath;
}

/**
 * The folder to write into: `preferred` unless outputs exist there, in which case the user picks
 * "Overwrite", "Choose Folder…" (asked again for the new folder) or cancels.
 */
async function chooseOutputFolder(preferred: string, stem: string, overwrite: boolean): Promise<string | undefined> {
  let dir = preferred;
  for (;;) {
    const existing = [];
    for (const ext of ['.bacprofile', '.bacschedule'])
      if (await statFile(join(dir, stem + ext))) existing.push(stem + ext);
    if (existing.length === 0 || overwrite) return dir;
    const pick = await vscode.window.showWarningMessage(
      `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''} in ${vscode.workspace.asRelativePath(dir)}.`,
      {
        modal: true,
        detail:
          'Overwrite replaces them with the new profile and a fresh solve; manual edits in a valid existing schedule are kept where the new profile has their block and step (any others are listed). Or choose another folder.',
      },
      'Overwrite',
      'Choose Folder…',
    );
    if (pick === 'Overwrite') return dir;
    if (pick !== 'Choose Folder…') return undefined;
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      openLabel: 'Write here',
      defaultUri: vscode.Uri.file(dir),
    });
    if (!uris?.[0]) return undefined;
    dir = uris[0].fsPath;
  }
}
