import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { isBacError } from '../core/errors';
import { parseSchedule, serializeSchedule } from '../core/schedule-format';
import { manualEditsOf, solveSchedule, type ManualEdits } from '../core/solve';
import type { FileRef, Profile, Schedule } from '../core/types';
import { sha256File, writeFileAtomic } from '../engine/fsutil';
import type { ExecutionProviderChoice } from '../engine/ort';
import { ProfileCancelledError, profileInChildProcess } from '../engine/profile-process';
import { relativePosix, resolveStored, statFile } from './files';
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
const LAST_EPISODES = 'bac.profile.lastEpisodes';
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
    if (e instanceof ProfileCancelledError) {
      log.info('profile: cancelled; nothing was written');
      vscode.window.setStatusBarMessage('$(circle-slash) BAC: profiling cancelled, nothing was written', 5000);
      return undefined;
    }
    const user = isBacError(e);
    log.error(
      `profile: ${user ? 'failed' : 'internal error'}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    const text = user
      ? `BAC: ${(e as Error).message}`
      : `BAC: profiling failed unexpectedly (${e instanceof Error ? e.message : String(e)}).`;
    void vscode.window.showErrorMessage(text, 'Show Log').then((pick) => {
      if (pick) log.show(true);
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

  log.info(
    `profile: ${modelPath} on ${episodesPath}, ${samples} samples, seed ${seed}, provider ${executionProvider}, sampler ${samplerType ?? "the model's"}${steps ? ` K = ${steps}` : ''} → ${profilePath}`,
  );
  const outcome = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `BAC: Profiling ${basename(modelPath)}`,
      cancellable: true,
    },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      progress.report({ message: 'starting ONNX Runtime…' });
      let reported = 0;
      try {
        return await profileInChildProcess(
          { modelPath, episodesPath, samples, seed, executionProvider, outPath: profilePath, samplerType, steps },
          {
            signal: abort.signal,
            log: (line) => log.info(`profile: ${line}`),
            onProgress: ({ done, total, etaMs }) => {
              const pct = total > 0 ? (100 * done) / total : 0;
              const eta = etaMs === null ? '' : ` · ETA ${formatEta(etaMs)}`;
              progress.report({ message: `${done}/${total} samples${eta}`, increment: pct - reported });
              reported = pct;
            },
          },
        );
      } finally {
        sub.dispose();
      }
    },
  );
  for (const note of outcome.notes) log.info(`profile: ${note}`);

  const edits = await existingEdits(schedulePath, log);
  const schedule = solveDefaults(
    outcome.profile,
    profilePath,
    schedulePath,
    await sha256File(profilePath),
    config,
    log,
    edits,
  );
  await writeFileAtomic(schedulePath, serializeSchedule(schedule));
  log.info(`profile: wrote ${profilePath} and ${schedulePath} (provider ${outcome.provider})`);
  if (args.open ?? true)
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(schedulePath), SCHEDULE_EDITOR_VIEW_TYPE);
  return { profilePath, schedulePath, provider: outcome.provider };
}

/** Solves with the `bac.solver.*` defaults, clamped to what the profile allows (and says so in the log). */
function solveDefaults(
  profile: Profile,
  profilePath: string,
  schedulePath: string,
  profileSha: string,
  config: vscode.WorkspaceConfiguration,
  log: vscode.LogOutputChannel,
  edits: Map<string, ManualEdits>,
): Schedule {
  const K = profile.sampler.steps;
  const forceLast = config.get<boolean>('solver.forceLast', true);
  const wanted = config.get<number>('solver.budget', 10);
  const minBudget = forceLast && K > 1 ? 2 : 1;
  const budget = Math.min(K, Math.max(minBudget, Math.round(wanted)));
  if (budget !== wanted)
    log.warn(`profile: bac.solver.budget ${wanted} is outside ${minBudget}…${K} for this model; using ${budget}`);
  const topN = Math.min(profile.blocks.length, Math.max(0, Math.round(config.get<number>('solver.topN', 3))));
  const outDir = dirname(schedulePath);
  const modelRef: FileRef = {
    path: relativePosix(outDir, resolveStored(dirname(profilePath), profile.model.path)),
    sha256: profile.model.sha256,
  };
  const profileRef: FileRef = { path: relativePosix(outDir, profilePath), sha256: profileSha };
  // A re-profile may change K: edits beyond the new last step no longer mean anything.
  const inRange = new Map(
    [...edits].map(([id, e]) => [
      id,
      { manual: e.manual.filter((k) => k < K), manualOff: e.manualOff.filter((k) => k < K) },
    ]),
  );
  return solveSchedule(profile, { budget, topN, forceLast, profile: profileRef }, modelRef, inRange);
}

/**
 * The hand edits of a valid schedule already at `path`, kept across re-profiling as `bac solve`
 * keeps them; none when there is no file or it does not parse (then it is simply replaced).
 */
async function existingEdits(path: string, log: vscode.LogOutputChannel): Promise<Map<string, ManualEdits>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return new Map();
  }
  const parsed = parseSchedule(text);
  if (!parsed.ok) {
    log.warn(`profile: the existing ${path} is not a valid schedule; it is replaced without keeping edits`);
    return new Map();
  }
  const edits = manualEditsOf(parsed.schedule);
  const kept = [...edits.values()].filter((e) => e.manual.length + e.manualOff.length > 0).length;
  if (kept > 0) log.info(`profile: keeping the manual edits of ${kept} block(s) from the existing ${path}`);
  return edits;
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
  });
  if (!pick) return undefined;
  return 'path' in pick && pick.path ? pick.path : browseFile('Profile this model', { 'ONNX model': ['onnx'] });
}

/** Asks for the episodes: the last ones, or a file (HDF5, .zarr.zip) or folder (zarr) dialog. */
async function pickEpisodes(last: string | undefined): Promise<string | undefined> {
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
          'Overwrite replaces them with the new profile and a fresh solve; manual edits in a valid existing schedule are kept. Or choose another folder.',
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
