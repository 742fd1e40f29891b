/**
 * `bac tune`: a schedule at a cost target, tuned with the model in the loop (see engine/tune.ts).
 */
import { formatSpeedup, summarizeSchedule } from '../core/cost';
import { MEASURE_LABELS, MEASURE_NAMES } from '../engine/offline-measures';
import {
  DEFAULT_TUNE_MEASURE,
  describeTuneSearch,
  formatTuneScore,
  tuneAndWrite,
  TUNE_MAX_TRIALS,
  type TuneMeasure,
  type TuneSearch,
} from '../engine/tune';
import { loadProfile } from '../engine/profile-file';
import { DEFAULT_POPULATION_FINALISTS, DEFAULT_POPULATION_SIZE } from '../engine/tune-population';
import {
  DEFAULT_TUNE_ITERATIONS,
  DEFAULT_TUNE_TRIALS,
  DEFAULT_TUNE_WINDOWS,
  prepareTune,
  type TuneJob,
} from '../engine/tune-job';
import { integerOption, UsageError, type CommandResult } from './args';
import { flagOption, parseCommand, valueOption } from './options';
import { targetOption } from './target';

/** Offline measures tune can minimise (demoError needs recorded actions per window, which tune has not). */
const TUNE_MEASURES = MEASURE_NAMES.filter((m) => m !== 'demoError');

/** `bac tune`'s usage and options (its `--help`). */
export const TUNE_SPEC = {
  name: 'tune',
  positional: 'profile (P.bacprofile)',
  usage: 'P.bacprofile --target-speedup X --out S.bacschedule [options]',
  about: `Tunes a cache schedule with the model in the loop: starts from the best of uniform, grid and bac
at the cost target, then moves, adds and drops block updates (never beyond the target) and keeps a
change when the executed actions get closer to the full model's on the same noise, over
observation windows of the episodes. Reports the error on other (held-out) windows.
With --measure success (a policy of the demo task only) it keeps a change when more closed-loop
episodes succeed in the demo simulator on fixed trial layouts, and reports success on other layouts.
With --search population it scores every schedule family at the target and random perturbations
of them once, re-scores the best few on a separate selection set and keeps the best there.`,
  options: {
    'target-speedup': valueOption('X', 'expected speedup over the full model the schedule must reach (≥ 1)'),
    by: valueOption('flops|time', "what X counts: FLOPs (default) or the profile's measured block times"),
    episodes: valueOption('E', "episodes to cut windows from (default: the profile's episodes)"),
    windows: valueOption('W', `tuning windows, and as many held-out windows (default ${DEFAULT_TUNE_WINDOWS})`),
    measure: valueOption(
      'NAME',
      `what the search optimises (default ${DEFAULT_TUNE_MEASURE}; docs/fidelity-study.md): an offline measure`,
      `(${TUNE_MEASURES.join(', ')}) or success (closed loop in the demo simulator)`,
    ),
    trials: valueOption(
      'N',
      `closed-loop episodes per evaluation with --measure success (default ${DEFAULT_TUNE_TRIALS})`,
    ),
    search: valueOption(
      'local|population',
      'how to search (default: population with --measure success, else local; see above)',
    ),
    iterations: valueOption(
      'N',
      `local search steps, one batched sampler run each (default ${DEFAULT_TUNE_ITERATIONS})`,
    ),
    population: valueOption('N', `candidates of --search population (default ${DEFAULT_POPULATION_SIZE})`),
    finalists: valueOption(
      'F',
      `candidates of --search population re-scored on the selection set (default ${DEFAULT_POPULATION_FINALISTS})`,
    ),
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
  const measure = (values.measure ?? DEFAULT_TUNE_MEASURE) as TuneMeasure;
  if (measure !== 'success' && !(TUNE_MEASURES as readonly string[]).includes(measure))
    throw new UsageError(
      `--measure ${values.measure} is unknown, expected one of ${[...TUNE_MEASURES, 'success'].join(', ')}`,
      'tune',
    );
  const search = searchOption(values, measure);
  if (values.trials !== undefined && measure !== 'success')
    throw new UsageError('--trials counts closed-loop episodes: it needs --measure success', 'tune');
  const trials =
    values.trials === undefined
      ? DEFAULT_TUNE_TRIALS
      : integerOption('tune', 'trials', values.trials, 1, TUNE_MAX_TRIALS);
  const seed = values.seed === undefined ? 0 : integerOption('tune', 'seed', values.seed, 0);
  const topN = values['top-n'] === undefined ? 3 : integerOption('tune', 'top-n', values['top-n'], 0);
  const threads = values.threads === undefined ? undefined : integerOption('tune', 'threads', values.threads, 1, 256);

  const loaded = await loadProfile(profilePath);
  const job: TuneJob = {
    profilePath,
    modelPath: values.model,
    episodesPath: values.episodes,
    outPath: out,
    target,
    measure,
    windows,
    trials,
    search,
    seed,
    topN,
    forceLast: !values['no-force-last'],
    threads,
  };
  const request = await prepareTune(job, loaded);

  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  const quiet = values.json === true;
  const show = (v: number): string => formatTuneScore(measure, v) + (measure === 'success' ? ` of ${trials}` : '');
  const measureLabel = measure === 'success' ? 'closed-loop success in the demo simulator' : MEASURE_LABELS[measure];
  const sets = measure === 'success' ? 'layouts' : 'windows';
  try {
    const r = await tuneAndWrite(
      {
        ...request,
        signal: abort.signal,
        onProgress: (p) => {
          if (!quiet) process.stderr.write(`tune ${p.iteration}/${p.iterations}: ${show(p.best)}, ${p.note}\n`);
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
        ...(measure === 'success' ? { trials } : {}),
        start: r.start,
        startScores: r.startScores,
        tune: r.tune,
        heldout: r.heldout,
        search: r.search,
        summary,
      },
      text:
        `wrote ${out}: tuned from ${r.start} (${measureLabel}), ${describeTuneSearch(r.search)}\n` +
        `tuning ${sets}: ${show(r.tune.start)} → ${show(r.tune.tuned)}` +
        (r.search.kind === 'population'
          ? `; selection ${sets}: ${show(r.search.selection.start)} → ${show(r.search.selection.tuned)}`
          : '') +
        `; held-out ${sets}: ${show(r.heldout.start)} → ${show(r.heldout.tuned)}\n` +
        `expected speedup ${formatSpeedup(summary.speedupFlops)} by FLOPs` +
        (summary.speedupTime === null ? '' : `, ${formatSpeedup(summary.speedupTime)} by time`),
    };
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/**
 * The search the flags ask for; `--iterations` belongs to the local search, the others to the
 * population. Closed-loop success defaults to the population search: on fresh layouts its schedule
 * beat Uniform where the local search's did not (docs/tune-population-confirmation.md).
 */
function searchOption(values: Record<string, string | boolean | undefined>, measure: TuneMeasure): TuneSearch {
  const kind = values.search ?? (measure === 'success' ? 'population' : 'local');
  if (kind !== 'local' && kind !== 'population')
    throw new UsageError(`--search ${String(kind)} is unknown, expected local or population`, 'tune');
  const text = (name: string): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  if (kind === 'local') {
    for (const name of ['population', 'finalists'])
      if (text(name) !== undefined) throw new UsageError(`--${name} needs --search population`, 'tune');
    const iterations = text('iterations');
    return {
      kind,
      iterations:
        iterations === undefined ? DEFAULT_TUNE_ITERATIONS : integerOption('tune', 'iterations', iterations, 0),
    };
  }
  if (text('iterations') !== undefined)
    throw new UsageError('--iterations counts local search steps: it needs --search local', 'tune');
  const size = text('population');
  const finalists = text('finalists');
  return {
    kind,
    size: size === undefined ? DEFAULT_POPULATION_SIZE : integerOption('tune', 'population', size, 1, 10_000),
    finalists:
      finalists === undefined ? DEFAULT_POPULATION_FINALISTS : integerOption('tune', 'finalists', finalists, 1, 10_000),
  };
}
