/**
 * `bac sweep`: the fastest way to run a policy without losing quality, measured. Sampler × K ×
 * cache method × budget on the same windows and noise; writes a `.bacsweep` report and the
 * recommended `.bacschedule` (docs/sweep.md).
 */
import { relative, resolve } from 'node:path';
import { formatSpeedup } from '../core/cost';
import { BacError } from '../core/errors';
import { describeTolerance, type QualityMeasureId, type QualityStat } from '../core/quality';
import { budgetsBelowK, defaultBudgets, defaultSamplers, FEWER_STEPS, gridOf, type SamplerAtK } from '../core/sweep';
import { configId, configLabel, type SweepResult } from '../core/sweep-format';
import { formatQuality } from '../core/sweep-view';
import { describePlan } from '../core/trials';
import { SAMPLER_TYPES } from '../engine/samplers';
import { DEFAULT_TOLERANCE, runSweep, SWEEP_DEFAULTS, type SweepProgress } from '../engine/sweep';
import type { IncludedSchedule } from '../engine/sweep-include';
import { executionProviderOption, integerOption, UsageError, type CommandResult } from './args';
import { table } from './info';
import { loadSchedule } from './load';
import { COMMON_OPTIONS, parseCommand, valueOption } from './options';

/** Measures a sweep can recommend by (full-model-error is undefined for the full-model configurations). */
const SWEEP_MEASURES: readonly QualityMeasureId[] = [
  'reference-distance',
  'demo-mse',
  'demo-mse-best-of-n',
  'closed-loop-failure',
];

/** `bac sweep`'s usage and options (its `--help`). */
export const SWEEP_SPEC = {
  name: 'sweep',
  usage: '--model M.onnx --episodes E --out R.bacsweep [options]',
  about: `Measures the full model under other samplers and fewer steps K, and Uniform and BAC cache schedules
at several budgets, all on the same observation windows and noise draws (batch 1), against the
policy's own sampler (the reference). Writes the report R.bacsweep (JSON, docs/sweep.md) and the
recommended schedule: the fastest configuration (measured) whose quality measure is within the
tolerance of the reference's. With --measure closed-loop-failure (a policy of the demo task) every
configuration also runs --trials episodes in the demo simulator, and success decides.
--include adds given schedules (from bac tune, or edited by hand) as configurations of their own.
Interrupted sweeps resume from R.bacsweep.resume.json when rerun.`,
  options: {
    model: valueOption('M', 'BAC-ready ONNX policy'),
    episodes: valueOption('E', 'recorded episodes (robomimic HDF5, diffusion_policy zarr)'),
    out: valueOption('R', 'the .bacsweep report to write'),
    schedule: valueOption('S', 'the recommended .bacschedule (default: R with .bacschedule)'),
    samplers: valueOption(
      'LIST',
      "sampler-K list, e.g. ddpm-100,ddim-10,dpmsolver++-5 (default: the policy's",
      `sampler, it, DDPM, DDIM and DPM-Solver++ at ${FEWER_STEPS.join(', ')} steps)`,
    ),
    reference: valueOption('SK', "the reference sampler-K (default: the policy's own sampler and K)"),
    methods: valueOption('LIST', 'cache methods besides the full model: uniform,bac (default), or none'),
    budgets: valueOption(
      'LIST',
      'cache budgets S tried at every K, e.g. 2,3; at each K only S < K is kept',
      '(default: one or two per K ≥ 6, see docs/sweep.md)',
    ),
    include: valueOption(
      'LIST',
      'schedules of this model measured beside the grid, as they are (comma list,',
      'e.g. tuned.bacschedule,hand.bacschedule; each under its own sampler and K)',
    ),
    windows: valueOption('N', `observation windows (default ${SWEEP_DEFAULTS.windows})`),
    draws: valueOption('N', `noise draws per window (default ${SWEEP_DEFAULTS.draws})`),
    'profile-samples': valueOption(
      'N',
      `windows per profile of a cached sampler (default ${SWEEP_DEFAULTS.profileSamples})`,
    ),
    seed: COMMON_OPTIONS.seed(SWEEP_DEFAULTS.seed),
    measure: valueOption('Q', `${SWEEP_MEASURES.join(' | ')} (default ${SWEEP_DEFAULTS.measure})`),
    trials: valueOption(
      'N',
      `closed-loop episodes per configuration with closed-loop-failure (default ${SWEEP_DEFAULTS.trials})`,
    ),
    'distance-windows': valueOption(
      'N',
      `windows of the batched reference-distance pass (default ${SWEEP_DEFAULTS.distanceWindows})`,
    ),
    'distance-draws': valueOption('N', `noise draws per window there (default ${SWEEP_DEFAULTS.distanceDraws})`),
    tolerance: valueOption(
      'T',
      `reference-distance ≤ T (default ${DEFAULT_TOLERANCE['reference-distance']}); the demo-mse measures: within reference · (1 + T) (default ${DEFAULT_TOLERANCE['demo-mse']}); closed-loop-failure: at most T above the reference's (default ${DEFAULT_TOLERANCE['closed-loop-failure']})`,
    ),
    success: valueOption('P', "the reference's measured success rate (0–1): adds a robot-trials plan"),
    ep: COMMON_OPTIONS.ep,
  },
};

const stat = (q: QualityStat | null) => formatQuality(q, 'relative');
const distance = (q: QualityStat | null) => formatQuality(q, 'absolute');

/**
 * The comparison table of `bac sweep`, `bac eval` and `npm run demo`: every configuration at its
 * measured cost with its quality measures, fastest last. `*` marks the Pareto front, `→` the
 * recommendation.
 */
export function sweepTable(
  results: readonly SweepResult[],
  marks: { pareto?: readonly string[]; recommendation?: string | null } = {},
): string {
  const sorted = [...results].sort((a, b) => a.measuredSpeedup - b.measuredSpeedup);
  // Closed-loop failures exist only in a closed-loop sweep: a column only then.
  const loops = results.some((r) => r.quality['closed-loop-failure']);
  return table([
    [
      'configuration',
      'updates',
      'expected (FLOPs)',
      'measured',
      'chunk ms',
      'demo MSE ±seeds',
      'best-of-n',
      'ref. distance ±SE',
      'vs own full',
      ...(loops ? ['failures ±SE'] : []),
    ],
    ...sorted.map((r) => {
      const id = configId(r.config);
      const mark = id === marks.recommendation ? '→ ' : marks.pareto?.includes(id) ? '* ' : '  ';
      return [
        `${mark}${configLabel(r.config)}`,
        String(r.updates),
        formatSpeedup(r.expectedSpeedupFlops),
        formatSpeedup(r.measuredSpeedup),
        r.chunkMs.toFixed(1),
        stat(r.quality['demo-mse']),
        stat(r.quality['demo-mse-best-of-n']),
        distance(r.quality['reference-distance']),
        stat(r.quality['full-model-error']),
        ...(loops ? [formatQuality(r.quality['closed-loop-failure'] ?? null, 'margin')] : []),
      ];
    }),
  ]);
}

/** Parses `ddpm-100,ddim-10`. @throws UsageError. */
function samplersOption(value: string): SamplerAtK[] {
  return value.split(',').map((item) => {
    const m = /^(.+)-([0-9]+)$/.exec(item.trim());
    if (!m || !(SAMPLER_TYPES as readonly string[]).includes(m[1]!)) {
      throw new UsageError(
        `--samplers item ${JSON.stringify(item)} is invalid, expected SAMPLER-K with SAMPLER one of ${SAMPLER_TYPES.join(', ')}`,
        'sweep',
      );
    }
    return { sampler: m[1]!, steps: integerOption('sweep', 'samplers', m[2]!, 1) };
  });
}

/** Parses `2,3`: integers ≥ 1. @throws UsageError. */
function budgetsOption(value: string): number[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.every((s) => s === '')) {
    throw new UsageError('--budgets is empty, expected integers ≥ 1 separated by commas, e.g. --budgets 2,3', 'sweep');
  }
  return items.map((item) => {
    if (!/^[0-9]+$/.test(item) || Number(item) < 1 || !Number.isSafeInteger(Number(item))) {
      throw new UsageError(
        `--budgets item ${JSON.stringify(item)} is invalid, expected integers ≥ 1 separated by commas, e.g. --budgets 2,3`,
        'sweep',
      );
    }
    return Number(item);
  });
}

/**
 * `--include`'s files (a comma list) as given, before anything is read.
 * @throws UsageError when the option is repeated (only its last value would count), empty, or names
 *   a file twice.
 */
function includeOption(argv: readonly string[], value: string | undefined): string[] {
  if (argv.filter((a) => a === '--include' || a.startsWith('--include=')).length > 1) {
    throw new UsageError('--include is given more than once; list the schedules once, separated by commas', 'sweep');
  }
  if (value === undefined) return [];
  const files = value.split(',').filter((f) => f.trim() !== '');
  if (files.length === 0)
    throw new UsageError('--include is empty, expected .bacschedule files separated by commas', 'sweep');
  const twice = files.find((f, i) => files.findIndex((g) => resolve(g) === resolve(f)) !== i);
  if (twice !== undefined) throw new UsageError(`--include names ${twice} twice`, 'sweep');
  return files;
}

function fractionOption(name: string, value: string, min: number, max: number): number {
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || x < min || x > max) {
    throw new UsageError(`--${name} ${JSON.stringify(value)} is invalid, expected a number in ${min}…${max}`, 'sweep');
  }
  return x;
}

/** Progress words per sweep phase. */
const PHASE_WORDS: Readonly<Record<SweepProgress['phase'], string>> = {
  profile: 'profiling sampler configurations',
  measure: 'timing windows',
  'closed-loop': 'closed-loop trials of configurations',
  distance: 'reference distance: configurations',
};

/** Runs `bac sweep`. @throws BacError for user errors. */
export async function sweepCommand(argv: readonly string[]): Promise<CommandResult> {
  const { values, positionals } = parseCommand(SWEEP_SPEC, argv);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`, 'sweep');
  for (const name of ['model', 'episodes', 'out'] as const) {
    if (values[name] === undefined) throw new UsageError(`--${name} is missing`, 'sweep');
  }
  const out = resolve(values.out!);
  if (!out.endsWith('.bacsweep')) throw new UsageError(`--out ${values.out} must end with .bacsweep`, 'sweep');
  const schedulePath = resolve(values.schedule ?? out.replace(/\.bacsweep$/, '.bacschedule'));
  if (!schedulePath.endsWith('.bacschedule'))
    throw new UsageError(`--schedule ${values.schedule} must end with .bacschedule`, 'sweep');
  const includeFiles = includeOption(argv, values.include);
  for (const input of [values.model!, values.episodes!, ...includeFiles]) {
    if ([out, schedulePath].includes(resolve(input)))
      throw new UsageError(`an output would overwrite the input ${input}; choose another --out or --schedule`, 'sweep');
  }
  const measure = (values.measure ?? SWEEP_DEFAULTS.measure) as QualityMeasureId;
  if (!SWEEP_MEASURES.includes(measure)) {
    throw new UsageError(`--measure ${measure} is invalid, expected one of ${SWEEP_MEASURES.join(', ')}`, 'sweep');
  }
  if (values.trials !== undefined && measure !== 'closed-loop-failure')
    throw new UsageError('--trials counts closed-loop episodes: it needs --measure closed-loop-failure', 'sweep');
  const methods = (values.methods ?? 'uniform,bac').split(',').filter((m) => m !== 'none' && m !== '');
  for (const m of methods)
    if (m !== 'uniform' && m !== 'bac')
      throw new UsageError(`--methods item ${JSON.stringify(m)} is invalid, expected uniform, bac or none`, 'sweep');
  const samplers = values.samplers === undefined ? undefined : samplersOption(values.samplers);
  const budgets = values.budgets === undefined ? defaultBudgets : budgetsBelowK(budgetsOption(values.budgets));
  if (values.budgets !== undefined && methods.length === 0)
    throw new UsageError('--budgets sets the cache budgets: it needs --methods uniform, bac or both', 'sweep');
  // Read as every command reads a schedule: a missing or invalid file is named with its issues.
  const include: IncludedSchedule[] = [];
  for (const f of includeFiles) include.push({ path: resolve(f), schedule: await loadSchedule(f) });
  const grid = (reference: SamplerAtK) => {
    try {
      return gridOf(samplers ?? defaultSamplers(reference), methods as ('uniform' | 'bac')[], budgets);
    } catch (e) {
      throw e instanceof BacError ? new UsageError(e.message, 'sweep') : e;
    }
  };
  const quiet = values.json === true;
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const { report } = await runSweep(
      {
        modelPath: resolve(values.model!),
        episodesPath: resolve(values.episodes!),
        outPath: out,
        schedulePath,
        grid,
        include,
        reference: values.reference === undefined ? undefined : samplersOption(values.reference)[0],
        windows: values.windows === undefined ? undefined : integerOption('sweep', 'windows', values.windows, 1),
        draws: values.draws === undefined ? undefined : integerOption('sweep', 'draws', values.draws, 1),
        distanceWindows:
          values['distance-windows'] === undefined
            ? undefined
            : integerOption('sweep', 'distance-windows', values['distance-windows'], 1),
        distanceDraws:
          values['distance-draws'] === undefined
            ? undefined
            : integerOption('sweep', 'distance-draws', values['distance-draws'], 2),
        profileSamples:
          values['profile-samples'] === undefined
            ? undefined
            : integerOption('sweep', 'profile-samples', values['profile-samples'], 1),
        seed: values.seed === undefined ? undefined : integerOption('sweep', 'seed', values.seed, 0),
        measure,
        tolerance: values.tolerance === undefined ? undefined : fractionOption('tolerance', values.tolerance, 0, 10),
        success: values.success === undefined ? undefined : fractionOption('success', values.success, 0.01, 1),
        trials: values.trials === undefined ? undefined : integerOption('sweep', 'trials', values.trials, 1, 100_000),
        ep: executionProviderOption('sweep', values.ep),
      },
      {
        signal: abort.signal,
        log: (line) => quiet || process.stderr.write(`${line}\n`),
        onProgress: (p) => {
          if (quiet) return;
          const eta = p.etaMs === null ? '' : ` · ETA ${(p.etaMs / 1000).toFixed(0)} s`;
          process.stderr.write(`${PHASE_WORDS[p.phase]} ${p.done}/${p.total}${eta}\n`);
        },
      },
    );
    const rec = report.results.find((r) => configId(r.config) === report.recommendation)!;
    const lines = [
      sweepTable(report.results, report),
      '',
      `${report.windows} windows × ${report.draws} noise draws on ${report.provider} (${report.runner}); reference ${configLabel(report.reference)}; * Pareto front (measured speedup vs ${report.measure}), → recommended`,
      `recommended: ${configLabel(rec.config)}: ${formatSpeedup(rec.measuredSpeedup)} measured, ${describeTolerance(report.measure, report.tolerance)}`,
      ...(report.trials ? [describePlan(report.trials.success, report.trials.drop, report.trials.plan)] : []),
      ...report.notes,
      `wrote ${values.out} and ${relative(process.cwd(), schedulePath) || schedulePath}`,
    ];
    return {
      json: { command: 'sweep', out, schedule: schedulePath, report },
      text: lines.join('\n'),
    };
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
