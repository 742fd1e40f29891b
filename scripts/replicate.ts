/**
 * `npm run replicate`: the paper's experiment on our demo task, with the baselines every user has.
 * Closed-loop success and measured speedup for Full, Uniform, Unified ACS, ACS w/o BUA, BAC, Grid and
 * Tuned (both at Uniform's FLOPs; Tuned is `bac tune --measure success --search population` on the
 * tune's own trial layouts) at budgets 5, 7, 10 and 20 of the policy's sampler (DDPM-100), the full
 * model at fewer steps (DDPM strided, DDIM, DPM-Solver++ at 10 and 5) and the configuration
 * `bac sweep` recommends, written to
 * docs/replication.md with the exact command, the machine and the date. Rows within 5 points of
 * another row also run a second seed set (≥ 400 episodes in all), and every row is compared with
 * Full by a paired McNemar test (same layouts). Long: minutes per configuration on a CPU.
 *
 * Environment: BAC_REPLICATE_EPISODES (per seed set, default 200), BAC_REPLICATE_THREADS (ORT
 * threads, default 2), BAC_REPLICATE_BUDGETS (default 5,7,10,20), BAC_REPLICATE_PROFILE_SAMPLES
 * (default 64), BAC_REPLICATE_SECOND_SET (close | all | none, default close),
 * BAC_REPLICATE_SWEEP_WINDOWS (the sweep's windows; default `bac sweep`'s), BAC_REPLICATE_SWEEP_MEASURE
 * (what the sweep recommends by; default closed-loop-failure), BAC_REPLICATE_MEASURE_WINDOWS
 * (windows of the offline-measures pass, default 64), BAC_REPLICATE_TUNE_TRIALS (closed-loop episodes
 * per candidate of the Tuned rows' search, default 400; 0: no Tuned rows), BAC_REPLICATE_TUNE_POPULATION
 * (its candidates, default `bac tune`'s), BAC_REPLICATE_TIMING_WINDOWS (held-out windows of the
 * timing passes, default 32: with fewer, the speedups of one run move by ±15 % between runs).
 * BAC_REPLICATE_SAMPLER and BAC_REPLICATE_STEPS sample with another sampler and K than the model's
 * (the paper's RDT experiment uses DPM-Solver++): the result then goes to
 * docs/replication-<sampler>-<K>.md, and docs/replication.md stays the DDPM-100 experiment.
 *
 * Resumable: every finished closed-loop run (one row on one seed set) and the sweep's recommendation
 * and the Tuned rows' schedules are recorded in fixtures/demo/results/<doc>.runs.json (committed: the per-episode outcomes behind
 * the document). A run whose row, update table, episode count and seeds match a record is not run
 * again, so an interrupted replication continues where it stopped — also in another session.
 * BAC_REPLICATE_FRESH=1 ignores the record. BAC_REPLICATE_CLOSED_LOOP_ONLY=1 stops after the closed
 * loop (no timing, no document): for a busy machine, the timing pass then runs on a quiet one.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { updateTableHash } from '../src/core/measured-speed';
import { parseSchedule, serializeSchedule } from '../src/core/schedule-format';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { buildBaseline, BASELINE_LABELS, type BaselineKind } from '../src/core/baselines';
import { solveAtBudget } from '../src/core/methods';
import { scheduleSpeedup } from '../src/core/cost-target';
import { formatSpeedup } from '../src/core/cost';
import { describeTolerance, QUALITY_MEASURES, type QualityMeasureId } from '../src/core/quality';
import { samplerLabel } from '../src/core/editor-view';
import { chunkFlops, defaultGrid, defaultSamplers, fullSchedule, isFullSchedule } from '../src/core/sweep';
import { configId, configLabel, type SweepConfig } from '../src/core/sweep-format';
import { discordantPairs, mcnemarExactP, planPairedTrials, describePlan } from '../src/core/trials';
import type { Schedule } from '../src/core/types';
import { closedLoop } from '../src/engine/closed-loop';
import { evaluate } from '../src/engine/evaluate';
import { writeFileAtomic } from '../src/engine/fsutil';
import { loadPolicy, policyScheduler, scheduleScheduler } from '../src/engine/policy';
import { profileInChildProcess } from '../src/engine/profile-process';
import { loadWindows } from '../src/engine/profiler';
import { CachedRunner, PlainRunner, updateTable } from '../src/engine/runner';
import { DEFAULT_TOLERANCE, runSweep, SWEEP_DEFAULTS } from '../src/engine/sweep';
import { compareWithFewerSteps } from '../src/engine/sweep-measure';
import { loadDemoWindows } from '../src/engine/demonstrations';
import { measureReferenceDistances, type DistanceResult } from '../src/engine/reference-distance';
import { spearman, spearmanPermutationP } from '../src/core/rank-correlation';
import { Rng } from '../src/core/rng';
import { closedLoopObjective, tuneSchedule, TUNE_TRIAL_LAYOUTS } from '../src/engine/tune';
import { DEFAULT_POPULATION_FINALISTS, DEFAULT_POPULATION_SIZE } from '../src/engine/tune-population';
import { describePytorchEager, measurePytorchEager } from './pytorch-eager';

const root = resolve(__dirname, '..');
const modelPath = resolve(root, process.env.BAC_DEMO_MODEL ?? 'fixtures/demo/policy.onnx');
const episodesPath = resolve(root, 'fixtures/demo/episodes/heldout.hdf5');
const episodes = Number(process.env.BAC_REPLICATE_EPISODES ?? 200);
const threads = Number(process.env.BAC_REPLICATE_THREADS ?? 2);
const budgets = (process.env.BAC_REPLICATE_BUDGETS ?? '5,7,10,20').split(',').map(Number);
const profileSamples = Number(process.env.BAC_REPLICATE_PROFILE_SAMPLES ?? 64);
const secondSet = process.env.BAC_REPLICATE_SECOND_SET ?? 'close';
const sweepWindows = process.env.BAC_REPLICATE_SWEEP_WINDOWS
  ? Number(process.env.BAC_REPLICATE_SWEEP_WINDOWS)
  : undefined;
/**
 * The measure the sweep recommends by: closed-loop-failure (success on the sweep's own trial
 * layouts) unless BAC_REPLICATE_SWEEP_MEASURE names an offline one.
 */
const sweepMeasure = (process.env.BAC_REPLICATE_SWEEP_MEASURE ?? 'closed-loop-failure') as QualityMeasureId;
if (!(sweepMeasure in QUALITY_MEASURES)) throw new Error(`BAC_REPLICATE_SWEEP_MEASURE ${sweepMeasure} is unknown`);
const samplerType = process.env.BAC_REPLICATE_SAMPLER;
const steps = process.env.BAC_REPLICATE_STEPS ? Number(process.env.BAC_REPLICATE_STEPS) : undefined;
const topN = 3;
/** Layout seeds never used by the training (0…), held-out (100000…) or README (200000…) demos. */
const SEED_SETS = [
  { seed: 300_000, noiseSeed: 11 },
  { seed: 400_000, noiseSeed: 12 },
];
/** Rows closer than this (success, fraction) to another row get the second seed set. */
const CLOSE = 0.05;
/** Windows, draws and seed of the offline-measures pass (docs/sweep.md's default distance pass is 64 × 8). */
const measureWindows = Number(process.env.BAC_REPLICATE_MEASURE_WINDOWS ?? 64);
const timingWindows = Number(process.env.BAC_REPLICATE_TIMING_WINDOWS ?? 32);
const tuneTrials = Number(process.env.BAC_REPLICATE_TUNE_TRIALS ?? 400);
const tunePopulation = Number(process.env.BAC_REPLICATE_TUNE_POPULATION ?? DEFAULT_POPULATION_SIZE);
const MEASURE_DRAWS = 8;
const MEASURE_SEED = 5;
const DISCUSSION_MARKER =
  '<!-- discussion: written by hand, kept when npm run replicate rewrites the numbers above -->';

interface Row {
  readonly method: string;
  /** Sampler and K label, e.g. DDPM-100. */
  readonly sampler: string;
  readonly budget: number | null;
  readonly schedule: Schedule;
  /** Whether this row is the configuration `bac sweep` recommended. */
  recommended?: boolean;
  /** Per seed set: success per episode (layout order). */
  readonly outcomes: boolean[][];
  collisions: number;
  timeouts: number;
  measured?: number;
}

/** The committed record of finished runs (see the header). */
interface RunsRecord {
  readonly format: 'bac-replicate-runs';
  readonly version: 1;
  /** sha256 of the policy the runs belong to; another model starts a fresh record. */
  readonly model: string;
  /** Per run key (see runKey): outcomes as a string of 1 (success) and 0, in layout order. */
  readonly runs: Record<string, { outcomes: string; collisions: number; timeouts: number }>;
  /** The sweep's recommendation for this reference, with the schedule it wrote. */
  sweep?: {
    readonly key: string;
    readonly recommendation: string;
    readonly config: SweepConfig;
    readonly measuredSpeedup: number;
    readonly windows: number;
    readonly draws: number;
    /** Windows × draws of the reference-distance pass (absent when the measure needs none). */
    readonly distanceSample?: { readonly windows: number; readonly draws: number };
    readonly measure: string;
    readonly tolerance: number;
    /** The trial episodes of a closed-loop sweep (layouts, noise seed), when it used them. */
    readonly closedLoop?: { readonly episodes: number; readonly seed: number; readonly noiseSeed: number };
    readonly schedule: string;
  };
  /** The Tuned rows' schedules by tune key (see tunedAt): a tune takes minutes, a rerun reuses it. */
  tuned?: Record<string, string>;
}

function readRuns(path: string, model: string): RunsRecord {
  const empty: RunsRecord = { format: 'bac-replicate-runs', version: 1, model, runs: {} };
  if (process.env.BAC_REPLICATE_FRESH === '1' || !existsSync(path)) return empty;
  const r = JSON.parse(readFileSync(path, 'utf8')) as RunsRecord;
  return r.format === 'bac-replicate-runs' && r.version === 1 && r.model === model ? r : empty;
}

/** What makes two closed-loop runs the same: the row, its update table, the episodes and seeds. */
function runKey(r: Row, set: number): string {
  const { seed, noiseSeed } = SEED_SETS[set]!;
  return [r.method, r.sampler, r.budget ?? 'K', updateTableHash(r.schedule), episodes, seed, noiseSeed].join('|');
}

const successes = (r: Row) => r.outcomes.flat().filter(Boolean).length;
const total = (r: Row) => r.outcomes.flat().length;
const rateA = (r: Row) => r.outcomes[0]!.filter(Boolean).length / r.outcomes[0]!.length;
const rate = (r: Row) => successes(r) / total(r);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const pText = (p: number) => (p < 0.001 ? '< 0.001' : `= ${p.toFixed(3)}`);

/** Paired McNemar test of two rows over the seed sets both ran (same layouts, same order). */
function pairedP(a: Row, b: Row): { p: number; n: number; b: number; c: number } {
  const sets = Math.min(a.outcomes.length, b.outcomes.length);
  const d = discordantPairs(a.outcomes.slice(0, sets).flat(), b.outcomes.slice(0, sets).flat());
  return { p: mcnemarExactP(d.b, d.c), n: a.outcomes.slice(0, sets).flat().length, ...d };
}

async function main(): Promise<void> {
  const started = new Date();
  const loadStart = os.loadavg()[0]!;
  const policy = await loadPolicy(modelPath);
  const scheduler = policyScheduler(policy, steps, samplerType);
  const K = scheduler.numInferenceSteps;
  const refType = scheduler.config.type;
  const samplerName = `${samplerLabel(refType)}-${K}`;
  const docName =
    samplerType === undefined && steps === undefined
      ? 'replication.md'
      : `replication-${refType.replace('++', 'pp')}-${K}.md`;
  console.log(`replicate: ${episodes} episodes per seed set, budgets ${budgets.join(', ')}, ORT threads ${threads}`);
  const runsPath = resolve(root, 'fixtures', 'demo', 'results', docName.replace(/\.md$/, '.runs.json'));
  const record = readRuns(runsPath, policy.info.sha256);
  const saveRuns = () => writeFileAtomic(runsPath, `${JSON.stringify(record, null, 1)}\n`);
  console.log(`run record: ${runsPath.replace(root + '/', '')} (${Object.keys(record.runs).length} runs recorded)`);
  const dir = mkdtempSync(join(os.tmpdir(), 'bac-replicate-'));
  const { profile } = await profileInChildProcess({
    modelPath,
    episodesPath,
    samples: profileSamples,
    seed: 0,
    executionProvider: 'cpu',
    outPath: join(dir, 'demo.bacprofile'),
    samplerType,
    steps,
  });
  const row = (method: string, sampler: string, budget: number | null, schedule: Schedule): Row => ({
    method,
    sampler,
    budget,
    schedule,
    outcomes: [],
    collisions: 0,
    timeouts: 0,
  });
  /**
   * `bac tune --measure success --search population` at Uniform(M)'s FLOPs, on the tune's own trial
   * layouts (700000…, none of the rows'); recorded, since a tune runs thousands of episodes.
   */
  const tunedAt = async (M: number): Promise<Schedule> => {
    const key = [refType, K, M, profileSamples, tuneTrials, tunePopulation, DEFAULT_POPULATION_FINALISTS].join('|');
    const text = record.tuned?.[key];
    const parsed = text === undefined ? null : parseSchedule(text);
    if (parsed?.ok) return parsed.schedule;
    const uniform = solveAtBudget('uniform', profile, M, {
      topN,
      forceLast: true,
      model: profile.model,
      profileRef: null,
    });
    console.log(
      `tuning at Uniform S = ${M}'s FLOPs (population ${tunePopulation}, ${tuneTrials} trials per candidate)…`,
    );
    const tuned = await tuneSchedule({
      policy,
      scheduler,
      profile,
      target: { speedup: scheduleSpeedup(uniform, 'flops'), by: 'flops' },
      forceLast: true,
      topN,
      model: profile.model,
      profileRef: null,
      objective: closedLoopObjective(tuneTrials, M),
      search: { kind: 'population', size: tunePopulation, finalists: DEFAULT_POPULATION_FINALISTS },
      seed: M,
      threads,
    });
    console.log(
      `tuned at S = ${M}: ${tuned.search.kind === 'population' ? tuned.search.chosen : tuned.start}, held-out success ${pct(1 - tuned.heldout.start)} (${tuned.start}) → ${pct(1 - tuned.heldout.tuned)}`,
    );
    record.tuned = { ...record.tuned, [key]: serializeSchedule(tuned.schedule) };
    await saveRuns();
    return tuned.schedule;
  };
  const rows: Row[] = [row('Full', samplerName, null, buildBaseline('full', profile, profile.model, K, 0, false))];
  const kinds: BaselineKind[] = ['uniform', 'unified-acs', 'acs-no-bua', 'bac'];
  for (const M of budgets) {
    for (const kind of kinds)
      rows.push(row(BASELINE_LABELS[kind], samplerName, M, buildBaseline(kind, profile, profile.model, M, topN, true)));
    // grid (issue: beat Uniform at equal cost): aligned per-block intervals at Uniform(M)'s FLOPs
    const gridOptions = { topN, forceLast: true, model: profile.model, profileRef: null };
    rows.push(row('Grid', samplerName, M, solveAtBudget('grid', profile, M, gridOptions)));
    if (tuneTrials > 0) rows.push(row('Tuned', samplerName, M, await tunedAt(M)));
  }
  // The full model at fewer steps: what every user can do without any tool.
  for (const s of defaultSamplers({ sampler: refType, steps: K }).slice(1)) {
    const sampler = { type: s.sampler, steps: s.steps };
    rows.push(row('Full', `${samplerLabel(s.sampler)}-${s.steps}`, null, fullSchedule(profile, sampler)));
  }
  // What `bac sweep` recommends for this policy and reference (its default grid and tolerance,
  // by sweepMeasure: the demo has a simulator, so by default success on the sweep's own trials).
  const sweepKey = [
    refType,
    K,
    // the grid itself, so a record swept over another default grid is swept again
    createHash('sha256')
      .update(defaultGrid({ sampler: refType, steps: K }).map(configId).join())
      .digest('hex')
      .slice(0, 12),
    sweepWindows ?? 'default',
    sweepMeasure,
    DEFAULT_TOLERANCE[sweepMeasure],
    ...(sweepMeasure === 'closed-loop-failure' ? [SWEEP_DEFAULTS.trials] : []),
  ].join('|');
  if (record.sweep?.key !== sweepKey) {
    console.log(`sweeping (bac sweep defaults, --measure ${sweepMeasure}) for the recommended configuration…`);
    const swept = await runSweep(
      {
        modelPath,
        episodesPath,
        outPath: join(dir, 'demo.bacsweep'),
        schedulePath: join(dir, 'demo.bacschedule'),
        reference: { sampler: refType, steps: K },
        windows: sweepWindows,
        measure: sweepMeasure,
        ep: 'cpu',
      },
      { log: (line) => console.log(`sweep: ${line}`) },
    );
    const id = swept.report.recommendation!;
    const result = swept.report.results.find((r) => configId(r.config) === id)!;
    record.sweep = {
      key: sweepKey,
      recommendation: id,
      config: result.config,
      measuredSpeedup: result.measuredSpeedup,
      windows: swept.report.windows,
      draws: swept.report.draws,
      ...(swept.report.distanceSample ? { distanceSample: swept.report.distanceSample } : {}),
      measure: swept.report.measure,
      tolerance: swept.report.tolerance,
      ...(swept.report.closedLoop ? { closedLoop: swept.report.closedLoop } : {}),
      schedule: serializeSchedule(swept.schedule),
    };
    await saveRuns();
  } else console.log(`sweep recommendation from the run record: ${record.sweep.recommendation}`);
  const recorded = parseSchedule(record.sweep.schedule);
  if (!recorded.ok)
    throw new Error(`${runsPath}: the recorded sweep schedule is invalid; rerun with BAC_REPLICATE_FRESH=1`);
  const sweep = { report: record.sweep, schedule: recorded.schedule };
  const recId = sweep.report.recommendation;
  const recConfig = sweep.report.config;
  // A recommended full model is one of the fewer-step rows; a recommended cache schedule is the
  // sweep's own (solved from its profile), so it gets its own row even at a budget shown above.
  const same =
    recConfig.method === 'full' ? rows.find((r) => r.budget === null && configId(configOf(r)!) === recId) : undefined;
  if (same) same.recommended = true;
  else {
    const label = `${samplerLabel(recConfig.sampler)}-${recConfig.steps}`;
    rows.push({
      ...row(recConfig.method === 'bac' ? 'BAC' : 'Uniform', label, recConfig.budget, sweep.schedule),
      recommended: true,
    });
  }

  const plain = await PlainRunner.open(policy, 'cpu', { threads });
  const cached = await CachedRunner.open(policy, 'cpu', { threads });
  const runSet = async (r: Row, set: number): Promise<void> => {
    const key = runKey(r, set);
    const done = record.runs[key];
    if (done) {
      r.outcomes.push([...done.outcomes].map((c) => c === '1'));
      r.collisions += done.collisions;
      r.timeouts += done.timeouts;
      return;
    }
    const sch = scheduleScheduler(policy, r.schedule);
    const table = isFullSchedule(r.schedule) ? null : updateTable(r.schedule, cached.blockIds);
    const outcome: string[] = [];
    const loop = await closedLoop(
      policy,
      (cond, batch, initialSample, noise) =>
        table
          ? cached.runChunk(sch, table, { batch, cond, initialSample, noise })
          : plain.runChunk(sch, { batch, cond, initialSample, noise }),
      { ...SEED_SETS[set]!, episodes, onStep: (i, env) => (outcome[i] = env.outcome) },
    );
    r.outcomes.push(outcome.map((o) => o === 'success'));
    r.collisions += loop.collision;
    r.timeouts += loop.timeout;
    record.runs[key] = {
      outcomes: outcome.map((o) => (o === 'success' ? '1' : '0')).join(''),
      collisions: loop.collision,
      timeouts: loop.timeout,
    };
    await saveRuns();
    console.log(
      `${r.method.padEnd(12)} ${r.sampler.padEnd(16)} ${String(r.budget ?? 'K').padStart(3)} set ${set + 1}: success ${loop.success}/${loop.episodes}, ${(loop.samplerMs / 1000).toFixed(0)} s`,
    );
  };
  for (const r of rows) await runSet(r, 0);
  // A row within CLOSE of another gets the second set; judged again on the pooled rates after
  // each pass, since a second set moves a rate closer to rows that ran only one.
  const isClose = (r: Row) => rows.some((o) => o !== r && Math.abs(rate(o) - rate(r)) < CLOSE);
  for (;;) {
    const pending = rows.filter(
      (r) => r.outcomes.length < 2 && secondSet !== 'none' && (secondSet === 'all' || isClose(r)),
    );
    if (pending.length === 0) break;
    console.log(`second seed set for ${pending.length} more row(s) (within ${CLOSE * 100} points of another)`);
    for (const r of pending) await runSet(r, 1);
  }
  await plain.release();
  await cached.release();
  if (process.env.BAC_REPLICATE_CLOSED_LOOP_ONLY === '1') {
    rmSync(dir, { recursive: true, force: true });
    console.log('closed loop recorded; BAC_REPLICATE_CLOSED_LOOP_ONLY=1: no timing, no document');
    return;
  }

  // The offline measures of every row (batched, untimed), to see which ranks closed-loop success.
  console.log(`offline measures: ${measureWindows} windows × ${MEASURE_DRAWS} draws per row…`);
  const scored = await measureReferenceDistances(
    policy,
    await loadDemoWindows(policy, episodesPath, measureWindows, MEASURE_SEED),
    rows.map((r, i) => ({ id: String(i), schedule: r.schedule })),
    '0',
    { draws: MEASURE_DRAWS, seed: MEASURE_SEED, ep: 'cpu', threads },
  );

  // Measured speedup at batch 1 (the robot's case): cache rows in one interleaved pass against the
  // full model, fewer-step rows and the recommendation in another (each pass against the full model).
  const windows = await loadWindows(policy, episodesPath, timingWindows, 3);
  const cacheRows = rows.filter((r) => r.budget !== null && r.sampler === samplerName && !r.recommended);
  const ev = await evaluate(
    policy,
    scheduler,
    windows,
    cacheRows.map((r, i) => ({ name: String(i), schedule: r.schedule })),
    { ep: 'cpu', seed: 3 },
  );
  cacheRows.forEach((r, i) => (r.measured = ev.results[i]!.measuredSpeedup));
  const recRow = rows.find((r) => r.recommended)!;
  const full = rows[0]!;
  const cmp = await compareWithFewerSteps(
    policy,
    episodesPath,
    isFullSchedule(recRow.schedule) ? [] : [{ config: configOf(recRow)!, schedule: recRow.schedule }],
    {
      samples: timingWindows,
      draws: 1,
      seed: 3,
      ep: 'cpu',
      reference: { sampler: refType, steps: K },
      template: full.schedule,
    },
  );
  for (const r of rows) {
    const c = configOf(r);
    const m = c && cmp.results.find((x) => configId(x.config) === configId(c));
    if (m) r.measured = m.measuredSpeedup;
  }
  rows[0]!.measured = 1;
  const eager = measurePytorchEager(root);
  const fullMs = cmp.results.find((x) => configId(x.config) === configId(cmp.reference))!.chunkMs;
  const loadEnd = os.loadavg()[0]!;

  const sig = (r: Row) => {
    if (r === full) return '–';
    const t = pairedP(full, r);
    return `${t.p < 0.001 ? '< 0.001' : t.p.toFixed(3)} (n ${t.n}: ${t.b}/${t.c})`;
  };
  const lines = [
    `# Replication of the BAC paper on the demo task${docName === 'replication.md' ? '' : ` (${samplerName})`}`,
    '',
    `Generated by \`npm run replicate\` on ${started.toISOString().slice(0, 10)} (${started.toISOString()}).`,
    '',
    `- Command: \`BAC_REPLICATE_EPISODES=${episodes} BAC_REPLICATE_THREADS=${threads} BAC_REPLICATE_BUDGETS=${budgets.join(',')} BAC_REPLICATE_SECOND_SET=${secondSet}${samplerType ? ` BAC_REPLICATE_SAMPLER=${samplerType}` : ''}${steps ? ` BAC_REPLICATE_STEPS=${steps}` : ''}${tuneTrials === 400 ? '' : ` BAC_REPLICATE_TUNE_TRIALS=${tuneTrials}`}${tunePopulation === DEFAULT_POPULATION_SIZE ? '' : ` BAC_REPLICATE_TUNE_POPULATION=${tunePopulation}`} npm run replicate\``,
    `- Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()}-${os.arch()}, Node ${process.version}, onnxruntime-node CPU, ${threads} intra-op threads; 1-minute load average ${loadStart.toFixed(1)} at the start, ${loadEnd.toFixed(1)} at the end${Math.max(loadStart, loadEnd) > os.cpus().length * 0.75 ? ' — **the machine was shared with other work: measured speedups are under contention; rerun on a quiet machine before quoting them**' : ''}`,
    `- Policy: \`${modelPath.replace(root + '/', '')}\` (sha256 ${policy.info.sha256.slice(0, 12)}…), reference ${samplerName} (the policy was trained with ${samplerLabel(policy.info.metadata.sampler.type)}, K = ${policy.info.metadata.sampler.numInferenceSteps})`,
    `- Schedules: solved from a ${profileSamples}-sample profile of the held-out episodes (seed 0); BAC top-n = ${topN}, forceLast on. Fewer-step rows: the full model under the same training noise schedule with another sampler and K. Recommended: \`bac sweep\` defaults (${sweep.report.windows} windows × ${sweep.report.draws} noise draws${sweep.report.distanceSample ? `, distances on ${sweep.report.distanceSample.windows} × ${sweep.report.distanceSample.draws}` : ''}, ${describeTolerance(sweep.report.measure as QualityMeasureId, sweep.report.tolerance)}${sweep.report.closedLoop ? ` on ${sweep.report.closedLoop.episodes} closed-loop trial episodes per configuration, layouts ${sweep.report.closedLoop.seed}… (noise seed ${sweep.report.closedLoop.noiseSeed}), none of them the rows' below` : ''}; its measured speedup there ${sweep.report.measuredSpeedup.toFixed(2)}×)`,
    ...(tuneTrials > 0
      ? [
          `- Tuned: \`bac tune --measure success --search population\` at Uniform(S)'s FLOPs from the same profile: ${tunePopulation} candidates (every family at that cost and seeded random perturbations of them) scored on ${tuneTrials} trial episodes each (layouts ${TUNE_TRIAL_LAYOUTS}…), the best ${DEFAULT_POPULATION_FINALISTS} and the best start re-scored on ${tuneTrials} more (layouts ${TUNE_TRIAL_LAYOUTS + 30_000}…); none of those layouts is a row's below.`,
        ]
      : []),
    `- Closed loop: ${episodes} episodes per seed set; set 1 layouts ${SEED_SETS[0]!.seed}…${SEED_SETS[0]!.seed + episodes - 1} (noise seed ${SEED_SETS[0]!.noiseSeed}), set 2 layouts ${SEED_SETS[1]!.seed}… (noise seed ${SEED_SETS[1]!.noiseSeed}) for every row within ${CLOSE * 100} points of another (judged again on the pooled rates after each pass); all unseen in training and held-out data; standard error √(p(1−p)/n); sampled with the per-step runners at the loop's batch (the chunk graph computes the same chunks within float32 sampler arithmetic, test/unit/closed-loop.test.ts)`,
    `- Paired test: McNemar exact (two-sided) against Full ${samplerName} on the same layouts; "b/c" = episodes only Full / only the row succeeded`,
    `- Measured speedup: chunk graphs (one ONNX Runtime call per chunk) at batch 1 on ${timingWindows} held-out windows, same process, interleaved: cache rows in one pass against the faster of the full model's per-step loop and its chunk graph; fewer-step rows and the recommendation in another against the full model's chunk graph`,
    `- ${describePytorchEager(eager, fullMs, { label: samplerName, steps: K })}`,
    '',
    '| method | sampler | budget S | success (set 1) | success (all) ± SE | collisions | timeouts | expected speedup (FLOPs) | measured speedup | p vs Full |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => {
      const exp = chunkFlops(full.schedule) / chunkFlops(r.schedule);
      const n = total(r);
      const se = Math.sqrt((rate(r) * (1 - rate(r))) / n);
      return `| ${r.method}${r.recommended ? ' (sweep recommendation)' : ''} | ${r.sampler} | ${r.budget ?? `K = ${r.schedule.sampler.steps}`} | ${pct(rateA(r))} | ${pct(rate(r))} ± ${(se * 100).toFixed(1)} (${successes(r)}/${n}) | ${r.collisions} | ${r.timeouts} | ${formatSpeedup(exp)} | ${formatSpeedup(r.measured ?? null)} | ${sig(r)} |`;
    }),
    '',
    '## What the numbers say (generated from the table)',
    '',
    ...budgets.map((M) => {
      const at = (m: string) => rows.find((r) => r.method === m && r.budget === M && r.sampler === samplerName)!;
      const order = ['Uniform', 'Unified ACS', 'ACS w/o BUA', 'BAC'].map((m) => `${m} ${pct(rate(at(m)))}`).join(', ');
      const bac = at('BAC');
      const t = pairedP(full, bac);
      const tuned = rows.find((r) => r.method === 'Tuned' && r.budget === M);
      const u = pairedP(tuned ?? bac, at('Uniform'));
      const tunedText = tuned
        ? ` At Uniform's FLOPs, Tuned ${pct(rate(tuned))} against Uniform's ${pct(rate(at('Uniform')))} (paired, n ${u.n}: ${u.b}/${u.c}, McNemar p ${pText(u.p)}).`
        : '';
      return `- S = ${M}: ${order}; BAC is ${Math.abs((rate(bac) - rate(full)) * 100).toFixed(1)} points ${rate(bac) >= rate(full) ? 'above' : 'below'} Full (${pct(rate(full))}), ${t.p < 0.05 ? 'significant' : 'not significant'} (p ${pText(t.p)}); the paper expects BAC ≈ Full ≥ Unified ACS ≥ Uniform and ACS w/o BUA below Unified ACS.${tunedText}`;
    }),
    ...fewerStepText(rows, full, recRow),
    '',
    ...offlineMeasuresText(rows, scored),
  ];
  const docPath = resolve(root, 'docs', docName);
  const previous = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
  const at = previous.indexOf(DISCUSSION_MARKER);
  const discussion =
    at >= 0 ? previous.slice(at) : `${DISCUSSION_MARKER}\n\n## Discussion\n\n(not yet written for these numbers)\n`;
  await writeFileAtomic(docPath, `${lines.join('\n')}\n${discussion}`);
  rmSync(dir, { recursive: true, force: true });
  console.log(`wrote docs/${docName}`);
}

/**
 * The offline measures of every row beside its success, and how well each ranks success (Spearman ρ
 * with a permutation p), over all rows and over the rows within 10 points of Full — where a
 * recommendation has to choose.
 */
function offlineMeasuresText(rows: readonly Row[], scored: Record<string, DistanceResult>): string[] {
  const full = rows[0]!;
  const rng = new Rng(17);
  const at = (i: number) => scored[String(i)]!;
  const rho = (which: readonly number[], value: (d: DistanceResult) => number): string => {
    const xs = which.map((i) => value(at(i)));
    const ys = which.map((i) => rate(rows[i]!));
    return `${spearman(xs, ys).toFixed(2)} (p ${pText(spearmanPermutationP(xs, ys, 2000, () => rng.uniform()))})`;
  };
  const all = rows.map((_, i) => i);
  const top = all.filter((i) => rate(rows[i]!) >= rate(full) - 0.1);
  const distance = (d: DistanceResult) => d.distance.value;
  const demo = (d: DistanceResult) => d.demoMse!.value;
  return [
    '## Offline measures against closed-loop success (generated)',
    '',
    `Every row sampled once more, batched and untimed, on ${measureWindows} held-out windows × ${MEASURE_DRAWS} noise draws (seed ${MEASURE_SEED}): \`reference-distance\` (normalised energy distance of its executed actions from Full ${full.sampler}'s, window by window; ± standard error over windows) and \`demo-mse\` (against the recorded actions), as \`bac sweep\` computes them (docs/sweep.md). A good predictor has ρ strongly negative.`,
    '',
    '| method | sampler | budget S | success (all) | reference-distance | demo-mse |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r, i) => {
      const d = at(i);
      return `| ${r.method}${r.recommended ? ' (sweep recommendation)' : ''} | ${r.sampler} | ${r.budget ?? `K = ${r.schedule.sampler.steps}`} | ${pct(rate(r))} | ${d.distance.value.toFixed(3)} ± ${d.distance.windowSe.toFixed(3)} | ${d.demoMse!.value.toExponential(2)} |`;
    }),
    '',
    '| rows | n | Spearman ρ, reference-distance | Spearman ρ, demo-mse |',
    '| --- | --- | --- | --- |',
    `| all | ${all.length} | ${rho(all, distance)} | ${rho(all, demo)} |`,
    `| within 10 points of Full | ${top.length} | ${rho(top, distance)} | ${rho(top, demo)} |`,
    '',
  ];
}

/** The sweep configuration a row runs, or null for the baselines `bac sweep` does not build. */
function configOf(r: Row): SweepConfig | null {
  const { type, steps: K } = r.schedule.sampler;
  if (r.budget === null) return { sampler: type, steps: K, method: 'full', budget: null };
  if (r.method === 'BAC' || r.method === 'Uniform')
    return { sampler: type, steps: K, method: r.method === 'BAC' ? 'bac' : 'uniform', budget: r.budget };
  return null;
}

/** The generated lines about fewer-step rows, the recommendation and the trials a robot check needs. */
function fewerStepText(rows: readonly Row[], full: Row, rec: Row): string[] {
  const fewer = rows.filter((r) => r.budget === null && r !== full);
  const notBelow = (r: Row) => !(rate(r) < rate(full) && pairedP(full, r).p < 0.05);
  const lines = fewer.map((r) => {
    const t = pairedP(full, r);
    return `- Fewer steps, ${r.sampler} full model: ${pct(rate(r))} (${successes(r)}/${total(r)}) at ${r.measured?.toFixed(2) ?? 'n/a'}× measured; ${Math.abs((rate(r) - rate(full)) * 100).toFixed(1)} points ${rate(r) >= rate(full) ? 'above' : 'below'} Full, ${t.p < 0.05 ? 'significant' : 'not significant'} (McNemar p ${pText(t.p)}).`;
  });
  const best = fewer.filter(notBelow).sort((a, b) => (b.measured ?? 0) - (a.measured ?? 0))[0];
  const t = pairedP(full, rec);
  lines.push(
    `- Sweep recommendation, ${configLabel(configOf(rec)!)}: ${pct(rate(rec))} (${successes(rec)}/${total(rec)}) at ${rec.measured?.toFixed(2) ?? 'n/a'}× measured; against Full ${t.p < 0.05 ? 'significantly' : 'not significantly'} ${rate(rec) >= rate(full) ? 'above' : 'below'} (p ${pText(t.p)}).`,
  );
  if (best && rec !== best && rec.measured && best.measured) {
    lines.push(
      `- The recommendation is ${rec.measured >= best.measured ? `${(rec.measured / best.measured).toFixed(2)}× faster` : `${(best.measured / rec.measured).toFixed(2)}× slower`} (measured) than the fastest fewer-step full model not significantly below Full (${best.sampler}, ${best.measured.toFixed(2)}×)${notBelow(rec) ? ', and is itself not significantly below Full' : ', but is significantly below Full'}; the goal is ≥ 1.5×.`,
    );
  } else if (best)
    lines.push(
      `- The fastest fewer-step full model not significantly below Full is ${best.sampler} (${best.measured?.toFixed(2) ?? 'n/a'}× measured)${rec === best ? ' — the sweep recommends it: caching adds nothing measurable on top of it here' : ''}.`,
    );
  const plan = planPairedTrials({ success: rate(full), drop: 0.1 });
  // The discordance measured between Full and the recommendation, with the 10-point drop to detect.
  const psi = (t.b + t.c) / t.n;
  const measuredPlan =
    psi > 0.1
      ? planPairedTrials({
          success: rate(full),
          drop: 0.1,
          discordance: { p10: (psi + 0.1) / 2, p01: (psi - 0.1) / 2 },
        })
      : null;
  lines.push(
    `- Robot trials: ${describePlan(rate(full), 0.1, plan)}.${measuredPlan ? ` With the discordant-pair rate measured here between Full and the recommendation (${(psi * 100).toFixed(1)} %), ${measuredPlan.pairs} pairs.` : ''}`,
  );
  return lines;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
