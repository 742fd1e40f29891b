/**
 * `bac tune`: a schedule at a cost target, tuned with the model in the loop (see engine/tune.ts).
 */
import { dirname, resolve } from 'node:path';
import { BacError } from '../core/errors';
import { formatSpeedup, summarizeSchedule } from '../core/cost';
import type { FileRef } from '../core/types';
import { loadPolicy, policyScheduler } from '../engine/policy';
import { loadWindows } from '../engine/profiler';
import { MEASURE_LABELS, MEASURE_NAMES, type MeasureName } from '../engine/offline-measures';
import { DEFAULT_TUNE_MEASURE, tuneAndWrite } from '../engine/tune';
import { integerOption, UsageError, type CommandResult } from './args';
import { relativePosix, resolveStored } from '../engine/paths';
import { sha256Bytes, sha256File } from './fsutil';
import { loadProfile } from './load';
import { flagOption, parseCommand, valueOption } from './options';
import { targetOption } from './target';

/** Search iterations when `--iterations` is not given. */
export const DEFAULT_TUNE_ITERATIONS = 60;
/** Tuning (and held-out) windows when `--windows` is not given. */
export const DEFAULT_TUNE_WINDOWS = 16;

/** `bac tune`'s usage and options (its `--help`). */
export const TUNE_SPEC = {
  name: 'tune',
  positional: 'profile (P.bacprofile)',
  usage: 'P.bacprofile --target-speedup X --out S.bacschedule [options]',
  about: `Tunes a cache schedule with the model in the loop: starts from the best of uniform, grid and bac
at the cost target, then moves, adds and drops block updates (never beyond the target) and keeps a
change when the executed actions get closer to the full model's on the same noise, over
observation windows of the episodes. Reports the error on other (held-out) windows.`,
  options: {
    'target-speedup': valueOption('X', 'expected speedup over the full model the schedule must reach (≥ 1)'),
    by: valueOption('flops|time', "what X counts: FLOPs (default) or the profile's measured block times"),
    episodes: valueOption('E', "episodes to cut windows from (default: the profile's episodes)"),
    windows: valueOption('W', `tuning windows, and as many held-out windows (default ${DEFAULT_TUNE_WINDOWS})`),
    measure: valueOption(
      'NAME',
      `the offline measure minimised (default ${DEFAULT_TUNE_MEASURE}; docs/fidelity-study.md):`,
      MEASURE_NAMES.filter((m) => m !== 'demoError').join(', '),
    ),
    iterations: valueOption('N', `search steps, one batched sampler run each (default ${DEFAULT_TUNE_ITERATIONS})`),
    seed: valueOption('S', "seed of the windows' noise and of the search (default 0); same seed, same schedule"),
    'top-n': valueOption('n', 'BUA top-n of the bac start (default 3)'),
    'no-force-last': flagOption('let the search drop the last step'),
    threads: valueOption('T', "ONNX Runtime intra-op threads (default: ORT's choice)"),
    model: valueOption('FILE', 'the model, when it is no longer where the profile says (same sha256)'),
    out: valueOption('S', 'the .bacschedule to write (atomically, only when tuning finished)'),
  },
  exitCodes: 'Exit codes: 0 success, 1 user error (an interrupt included: nothing is written), 2 internal error.',
};

/** Runs `bac tune`. @throws BacError for user errors. */
export async function tuneCommand(argv: readonly string[]): Promise<CommandResult> {
  const { values, positional: profilePath } = parseCommand(TUNE_SPEC, argv);
  const speedupText = values['target-speedup'];
  if (speedupText === undefined)
    throw new UsageError('--target-speedup is missing, expected e.g. --target-speedup 3', 'tune');
  const target = targetOption('tune', speedupText, values.by);
  const out = values.out;
  if (out === undefined || !out.endsWith('.bacschedule'))
    throw new UsageError(
      `--out ${out ?? 'is missing'}${out ? ' does not end in .bacschedule' : ''}, expected the schedule to write, e.g. --out tuned.bacschedule`,
      'tune',
    );
  const windows =
    values.windows === undefined ? DEFAULT_TUNE_WINDOWS : integerOption('tune', 'windows', values.windows, 1, 4096);
  const iterations =
    values.iterations === undefined
      ? DEFAULT_TUNE_ITERATIONS
      : integerOption('tune', 'iterations', values.iterations, 0);
  const measure = (values.measure ?? DEFAULT_TUNE_MEASURE) as MeasureName;
  if (!MEASURE_NAMES.includes(measure) || measure === 'demoError')
    throw new UsageError(
      `--measure ${values.measure} is unknown, expected one of ${MEASURE_NAMES.filter((m) => m !== 'demoError').join(', ')}`,
      'tune',
    );
  const seed = values.seed === undefined ? 0 : integerOption('tune', 'seed', values.seed, 0);
  const topN = values['top-n'] === undefined ? 3 : integerOption('tune', 'top-n', values['top-n'], 0);
  const threads = values.threads === undefined ? undefined : integerOption('tune', 'threads', values.threads, 1, 256);

  const { profile, bytes } = await loadProfile(profilePath);
  const profileDir = dirname(resolve(profilePath));
  const modelPath = values.model ?? resolveStored(profileDir, profile.model.path);
  const sha = await sha256File(modelPath).catch(() => {
    throw new BacError(
      `${modelPath}: cannot read the profiled model; pass --model FILE where it is now, expected the file profiled by ${profilePath}`,
    );
  });
  if (sha !== profile.model.sha256)
    throw new BacError(
      `${modelPath}: sha256 ${sha.slice(0, 12)}… differs from the profiled model's ${profile.model.sha256.slice(0, 12)}…; re-profile if the model changed`,
    );
  const episodesPath = values.episodes ?? resolveStored(profileDir, profile.episodes);
  const policy = await loadPolicy(modelPath);
  const scheduler = policyScheduler(policy, profile.sampler.steps, profile.sampler.type);
  const tuneWindows = await loadWindows(policy, episodesPath, windows, profile.seed);
  const heldoutWindows = await loadWindows(policy, episodesPath, windows, profile.seed + 1_000_003);
  const outDir = dirname(resolve(out));
  const model: FileRef = { path: relativePosix(outDir, modelPath), sha256: sha };
  const profileRef: FileRef = { path: relativePosix(outDir, profilePath), sha256: sha256Bytes(bytes) };

  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  const quiet = values.json === true;
  try {
    const r = await tuneAndWrite(
      {
        policy,
        scheduler,
        profile,
        target,
        forceLast: !values['no-force-last'],
        topN,
        model,
        profileRef,
        tuneWindows,
        heldoutWindows,
        iterations,
        measure,
        seed,
        threads,
        signal: abort.signal,
        onProgress: (p) => {
          if (!quiet)
            process.stderr.write(
              `tune ${p.iteration}/${p.iterations}: error ${p.best.toExponential(3)}, ${p.accepted} accepted\n`,
            );
        },
      },
      out,
    );
    const summary = summarizeSchedule(r.schedule);
    return {
      json: {
        command: 'tune',
        out,
        measure: r.measure,
        start: r.start,
        startScores: r.startScores,
        tune: r.tune,
        heldout: r.heldout,
        accepted: r.accepted,
        summary,
      },
      text:
        `wrote ${out}: tuned from ${r.start} (${MEASURE_LABELS[r.measure]}), ${r.accepted} of ${iterations} moves accepted\n` +
        `tuning windows: ${r.tune.start.toExponential(3)} → ${r.tune.tuned.toExponential(3)}; held-out windows: ${r.heldout.start.toExponential(3)} → ${r.heldout.tuned.toExponential(3)}\n` +
        `expected speedup ${formatSpeedup(summary.speedupFlops)} by FLOPs` +
        (summary.speedupTime === null ? '' : `, ${formatSpeedup(summary.speedupTime)} by time`),
    };
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
