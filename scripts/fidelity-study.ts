/**
 * `npm run fidelity-study`: which offline measure predicts closed-loop success? (issue #16, step 2)
 *
 * At cost levels fixed in advance (the FLOPs of Uniform at given budgets) and per sampler regime,
 * schedules of several families — Uniform, BAC, ACS, Unified ACS, grids, and random perturbations of
 * them within the same cost — are (a) scored by every candidate offline measure against the full
 * model on the same windows and noise (src/engine/offline-measures.ts) and (b) run in the demo
 * simulator's closed loop on several seed sets. The doc reports every row, success with its standard
 * error, and Spearman's ρ of each measure with success per level and pooled, with permutation
 * p-values. Writes docs/fidelity-study.md. Besides the per-noise measures it scores every row by
 * `reference-distance` (the sweep's distribution-level measure, src/engine/reference-distance.ts).
 * Closed-loop outcomes are kept per row in a run record (--runs), written after every row, so an
 * interrupted study resumes where it stopped and a rerun of the same schedules reuses them.
 *
 * Flags (defaults are the issue's full size): --regimes ddpm100,dpmpp10 --per-level 20
 * --episodes 200 (per seed set) --seed-sets 2 --windows 16 --draws 4 --threads 2 --out FILE
 * --runs FILE --tune-iterations 40 (or per regime, ddpm100:20,dpmpp10:60); --tune-measure NAME
 * (default: bac tune's; `success` tunes on closed-loop trials, --tune-trials N episodes per
 * evaluation, also per regime); --levels L1,L2 (Uniform budgets instead of the regime's, or per
 * regime: ddpm100:10,dpmpp10:4); --tune-search population (bac tune's population search instead of
 * the local one: --tune-population N candidates, --tune-finalists F, both also per regime) and
 * --seed-base N (layouts N, N + 10000, …) confirm one finding on fresh layouts (--per-level 2:
 * Uniform and BAC only; --tune-iterations 0: no tuned row).
 */
import * as os from 'node:os';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSpeedup, summarizeSchedule } from '../src/core/cost';
import { scheduleSpeedup, type CostTarget } from '../src/core/cost-target';
import { gridSchedule } from '../src/core/grid';
import { solveAtBudget, solveForTarget, type MethodOptions } from '../src/core/methods';
import type { ScheduleMethod } from '../src/core/solver-params';
import { spearman, spearmanPermutationP } from '../src/core/rank-correlation';
import { Rng } from '../src/core/rng';
import { parseProfile } from '../src/core/profile-format';
import type { Profile, Schedule } from '../src/core/types';
import { fullSchedule } from '../src/core/sweep';
import { updateTableHash } from '../src/core/measured-speed';
import { closedLoop, type ClosedLoopResult } from '../src/engine/closed-loop';
import { recordedActions } from '../src/engine/demonstrations';
import { writeFileAtomic } from '../src/engine/fsutil';
import { MEASURE_LABELS, MEASURE_NAMES, OfflineReference, type MeasureScores } from '../src/engine/offline-measures';
import { loadPolicy, policyScheduler, type Policy } from '../src/engine/policy';
import { profileInChildProcess } from '../src/engine/profile-process';
import { loadWindows } from '../src/engine/profiler';
import { CachedRunner, PlainRunner, updateTable } from '../src/engine/runner';
import { measureReferenceDistances, REFERENCE_DISTANCE_DEFAULTS } from '../src/engine/reference-distance';
import type { NoiseScheduler } from '../src/engine/samplers';
import {
  closedLoopObjective,
  DEFAULT_TUNE_MEASURE,
  tuneSchedule,
  TUNE_TRIAL_LAYOUTS,
  type TuneMeasure,
  type TuneObjective,
  type TuneSearch,
} from '../src/engine/tune';
import { moveSpace, perturbTable, scheduleFromTable } from '../src/engine/tune-moves';
import { DEFAULT_POPULATION_FINALISTS, DEFAULT_POPULATION_SIZE } from '../src/engine/tune-population';
import { discordantPairs, mcnemarExactP } from '../src/core/trials';
import type { Env } from '../src/sim';
import { readFile } from 'node:fs/promises';

const root = resolve(__dirname, '..');
const { values: flags } = parseArgs({
  options: {
    regimes: { type: 'string', default: 'ddpm100,dpmpp10' },
    'per-level': { type: 'string', default: '20' },
    episodes: { type: 'string', default: '200' },
    'seed-sets': { type: 'string', default: '2' },
    windows: { type: 'string', default: '16' },
    draws: { type: 'string', default: '4' },
    threads: { type: 'string', default: '2' },
    'tune-iterations': { type: 'string', default: '40' },
    'tune-measure': { type: 'string', default: DEFAULT_TUNE_MEASURE },
    'tune-trials': { type: 'string', default: '200' },
    'tune-search': { type: 'string', default: 'local' },
    'tune-population': { type: 'string', default: String(DEFAULT_POPULATION_SIZE) },
    'tune-finalists': { type: 'string', default: String(DEFAULT_POPULATION_FINALISTS) },
    'seed-base': { type: 'string', default: '500000' },
    levels: { type: 'string' },
    out: { type: 'string', default: 'docs/fidelity-study.md' },
    runs: { type: 'string', default: 'fixtures/demo/results/fidelity-study.runs.json' },
  },
});
const perLevel = Number(flags['per-level']);
const episodes = Number(flags.episodes);
const seedSets = Number(flags['seed-sets']);
const nWindows = Number(flags.windows);
const draws = Number(flags.draws);
const threads = Number(flags.threads);
/**
 * The values a per-regime flag gives `regime`: every entry when none is tagged (`4,3`), else the
 * entries tagged with its name (`ddpm100:10,dpmpp10:4` → `['10']` for ddpm100); null when none is.
 */
function regimeEntries(text: string, regime: string): string[] | null {
  const entries = text.split(',').map((e) => e.trim());
  if (entries.every((e) => !e.includes(':'))) return entries;
  const mine = entries.filter((e) => e.startsWith(`${regime}:`)).map((e) => e.slice(regime.length + 1));
  return mine.length > 0 ? mine : null;
}
/** A one-number flag, for every regime or per regime; `fallback` for a regime it does not name. */
const perRegime = (text: string, regime: string, fallback: number): number =>
  Number(regimeEntries(text, regime)?.[0] ?? fallback);
const tuneIterationsOf = (regime: string) => perRegime(flags['tune-iterations']!, regime, 40);
const tuneTrialsOf = (regime: string) => perRegime(flags['tune-trials']!, regime, 200);
const tuneSearchKind = flags['tune-search'];
if (tuneSearchKind !== 'local' && tuneSearchKind !== 'population')
  throw new Error(`--tune-search ${tuneSearchKind}: expected local or population`);
/** The tuned row's search in `regime`; null when the study has no tuned row (local, 0 iterations). */
function tuneSearchOf(regime: string): TuneSearch | null {
  if (tuneSearchKind === 'local') {
    const iterations = tuneIterationsOf(regime);
    return iterations > 0 ? { kind: 'local', iterations } : null;
  }
  return {
    kind: 'population',
    size: perRegime(flags['tune-population']!, regime, DEFAULT_POPULATION_SIZE),
    finalists: perRegime(flags['tune-finalists']!, regime, DEFAULT_POPULATION_FINALISTS),
  };
}
/** How the tuned row of `regime` was searched, for its label and the doc. */
function describeSearch(regime: string): string {
  const s = tuneSearchOf(regime);
  if (!s) return 'no tuned row';
  return s.kind === 'local' ? `${s.iterations} iterations` : `population of ${s.size}, ${s.finalists} finalists`;
}
const tuneMeasure = flags['tune-measure'] as TuneMeasure;
if (tuneMeasure !== 'success' && !(MEASURE_NAMES as readonly string[]).includes(tuneMeasure))
  throw new Error(`--tune-measure ${tuneMeasure}: expected success or one of ${MEASURE_NAMES.join(', ')}`);
const DISCUSSION_MARKER =
  '<!-- discussion: written by hand, kept when npm run fidelity-study rewrites the numbers above -->';
const FULL_SIZE = { perLevel: 20, episodesTotal: 400, seedSets: 2, regimes: 2 };

/** A sampler regime and its cost levels (Uniform budgets whose FLOPs fix each level). */
interface Regime {
  readonly name: string;
  readonly label: string;
  readonly sampler?: string;
  readonly steps?: number;
  readonly levels: readonly number[];
}
const REGIMES: Record<string, Regime> = {
  ddpm100: { name: 'ddpm100', label: 'DDPM-100', levels: [10, 5] },
  dpmpp10: { name: 'dpmpp10', label: 'DPM-Solver++-10', sampler: 'dpmsolver++', steps: 10, levels: [4, 3] },
};
// Layout seeds no other experiment uses (training 0…, held-out 100000…, replicate 300000…); a
// confirmation of a finding on fresh layouts passes another --seed-base (its noise seeds follow it).
const seedBase = Number(flags['seed-base']);
const seedSet = (s: number) => ({
  seed: seedBase + s * 10_000,
  noiseSeed: 31 + s + (seedBase === 500_000 ? 0 : seedBase / 10_000),
});

interface Row {
  readonly level: number;
  readonly family: string;
  readonly schedule: Schedule | null;
  measures?: MeasureScores;
  /** `reference-distance` from the full model (the Full row's is 0). */
  refDistance?: number;
  loops: Pick<ClosedLoopResult, 'episodes' | 'success'>[];
  /** Per seed set, per episode: success. Paired across rows (same layouts and noise). */
  outcomes: boolean[][];
}

/** The run-key scheme of {@link runKey}; a record keyed otherwise is refused, not silently missed. */
const RUNS_VERSION = 2;

/**
 * Closed-loop outcomes by run key ({@link runKey}), as strings of 1 (success) and 0 in layout
 * order; tied to the policy's sha256 (another model starts a fresh record).
 */
interface RunsRecord {
  readonly format: 'bac-fidelity-runs';
  readonly version: typeof RUNS_VERSION;
  readonly model: string;
  readonly runs: Record<string, string>;
}

/**
 * The record at `path`, or an empty one when there is none or it belongs to another model.
 * @throws Error when it is keyed by another version's run keys: the study would not find its runs,
 * would rerun them and overwrite the record.
 */
function readRuns(path: string, model: string): RunsRecord {
  const empty: RunsRecord = { format: 'bac-fidelity-runs', version: RUNS_VERSION, model, runs: {} };
  if (!existsSync(path)) return empty;
  const r = JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown; version?: unknown; model?: unknown };
  if (r.format !== 'bac-fidelity-runs' || r.model !== model) return empty;
  if (r.version !== RUNS_VERSION)
    throw new Error(
      `${path}: run record version ${String(r.version)}, expected ${RUNS_VERSION} (runs keyed by updateTableHash): its runs are keyed otherwise, so the study would not find them, would rerun them and overwrite the record. Migrate its keys, or move it aside to start a fresh record.`,
    );
  return r as RunsRecord;
}

/**
 * What makes a closed-loop run reproducible: the update table (updateTableHash: sampler type and
 * steps, block ids and the steps each block updates; `full` for the full model), the regime,
 * episodes and seeds. Not the schedule's bytes: those carry the profile's measured times, which
 * differ between two profiles of the same model while the run does not.
 */
function runKey(regime: Regime, row: Row, s: number): string {
  const sched = row.schedule ? updateTableHash(row.schedule) : 'full';
  const { seed, noiseSeed } = seedSet(s);
  return [regime.name, sched, episodes, seed, noiseSeed].join('|');
}

const successRate = (r: Row) =>
  r.loops.reduce((s, l) => s + l.success, 0) / r.loops.reduce((s, l) => s + l.episodes, 0);
const stdErr = (p: number, n: number) => Math.sqrt((p * (1 - p)) / n);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

async function profileFor(policy: Policy, regime: Regime, dir: string): Promise<Profile> {
  if (!regime.sampler && !regime.steps) {
    const r = parseProfile(new Uint8Array(await readFile(join(root, 'fixtures/demo/policy.bacprofile'))));
    if (r.ok && r.profile.model.sha256 === policy.info.sha256) return r.profile;
  }
  const { profile } = await profileInChildProcess({
    modelPath: join(root, 'fixtures/demo/policy.onnx'),
    episodesPath: join(root, 'fixtures/demo/episodes/heldout.hdf5'),
    samples: 32,
    seed: 0,
    executionProvider: 'cpu',
    outPath: join(dir, `${regime.name}.bacprofile`),
    samplerType: regime.sampler,
    steps: regime.steps,
  });
  return profile;
}

/** The schedules of one level: the families, then seeded random perturbations of them. */
function levelSchedules(profile: Profile, level: number, o: MethodOptions, blockIds: string[]): Row[] {
  const uniform = solveAtBudget('uniform', profile, level, o);
  const target: CostTarget = { speedup: scheduleSpeedup(uniform, 'flops'), by: 'flops' };
  const rows: Row[] = [{ level, family: `Uniform S = ${level}`, schedule: uniform, loops: [], outcomes: [] }];
  const at = (method: ScheduleMethod, opts = o) => solveForTarget(method, profile, target, opts).schedule;
  const families: [string, () => Schedule][] = [
    ['BAC (top-n 3)', () => at('bac')],
    ['ACS w/o BUA', () => at('acs')],
    ['Unified ACS', () => at('unified')],
    ['grid', () => at('grid')],
    ['grid, no forced last step', () => gridSchedule(profile, target, false, o.model, null)],
    ['BAC (top-n 6)', () => at('bac', { ...o, topN: 6 })],
  ];
  for (const [family, build] of families) {
    try {
      rows.push({ level, family, schedule: build(), loops: [], outcomes: [] });
    } catch (e) {
      console.log(`level ${level}: ${family} skipped (${(e as Error).message})`);
    }
  }
  const bases = rows.slice();
  const space = moveSpace(profile, target, blockIds, true);
  for (let i = 0; rows.length < perLevel; i++) {
    const base = bases[i % bases.length]!;
    const rng = new Rng(1000 * level + i);
    const moves = 3 + (i % 4) * 3;
    const table = perturbTable(rng, updateTable(base.schedule!, blockIds), moves, space);
    rows.push({
      level,
      family: `${base.family} + ${moves} random moves`,
      schedule: scheduleFromTable(base.schedule!, table),
      loops: [],
      outcomes: [],
    });
  }
  return rows.slice(0, perLevel);
}

async function runRegime(regime: Regime, dir: string): Promise<string[]> {
  const policy = await loadPolicy(join(root, 'fixtures/demo/policy.onnx'));
  const runsPath = resolve(root, flags.runs!);
  const record = readRuns(runsPath, policy.info.sha256);
  const scheduler: NoiseScheduler = policyScheduler(policy, regime.steps, regime.sampler);
  const profile = await profileFor(policy, regime, dir);
  const episodesPath = join(root, 'fixtures/demo/episodes/heldout.hdf5');
  const windows = await loadWindows(policy, episodesPath, nWindows, 17);
  const ref = await OfflineReference.open(policy, scheduler, windows, {
    seed: 23,
    draws,
    demoActions: await recordedActions(policy, episodesPath, windows),
    runner: { threads },
  });
  const o: MethodOptions = { topN: 3, forceLast: true, model: profile.model, profileRef: null };
  const rows: Row[] = [{ level: 0, family: 'Full', schedule: null, loops: [], outcomes: [] }];
  const tuneWindows = await loadWindows(policy, episodesPath, nWindows, 41);
  const heldoutWindows = await loadWindows(policy, episodesPath, nWindows, 43);
  const selectionWindows = await loadWindows(policy, episodesPath, nWindows, 45);
  for (const level of regime.levels) {
    const atLevel = levelSchedules(profile, level, o, ref.blockIds);
    const tuneSearch = tuneSearchOf(regime.name);
    const tuneTrials = tuneTrialsOf(regime.name);
    if (tuneSearch) {
      const target: CostTarget = { speedup: scheduleSpeedup(atLevel[0]!.schedule!, 'flops'), by: 'flops' };
      const objective: TuneObjective =
        tuneMeasure === 'success'
          ? closedLoopObjective(tuneTrials, level)
          : { kind: 'offline', measure: tuneMeasure, tuneWindows, selectionWindows, heldoutWindows };
      const tuned = await tuneSchedule({
        policy,
        scheduler,
        profile,
        target,
        forceLast: true,
        topN: 3,
        model: profile.model,
        profileRef: null,
        objective,
        search: tuneSearch,
        seed: level,
        threads,
      });
      console.log(
        `level ${level}: tuned from ${tuned.start}, held-out ${tuned.measure} score ${tuned.heldout.start.toExponential(2)} → ${tuned.heldout.tuned.toExponential(2)}`,
      );
      // The tuned schedule replaces the last perturbation, so the level keeps its size.
      atLevel.splice(Math.min(atLevel.length, Math.max(1, perLevel - 1)), atLevel.length, {
        level,
        family: `${tuneMeasure === 'success' ? 'tuned for success' : 'tuned'} (${tuned.search.kind === 'population' ? tuned.search.chosen : `from ${tuned.start}`}, ${describeSearch(regime.name)})`,
        schedule: tuned.schedule,
        loops: [],
        outcomes: [],
      });
    }
    rows.push(...atLevel);
  }
  const distanceWindows = await loadWindows(policy, episodesPath, REFERENCE_DISTANCE_DEFAULTS.windows, 47);
  const distances = await measureReferenceDistances(
    policy,
    distanceWindows,
    rows.map((r, i) => ({ id: String(i), schedule: r.schedule ?? fullSchedule(profile, profile.sampler) })),
    '0',
    { draws: REFERENCE_DISTANCE_DEFAULTS.draws, seed: 5, ep: 'cpu', threads },
  );
  rows.forEach((r, i) => (r.refDistance = distances[String(i)]!.distance.value));
  const plain = await PlainRunner.open(policy, 'cpu', { threads });
  const cached = await CachedRunner.open(policy, 'cpu', { threads });
  const started = Date.now();
  for (const [n, row] of rows.entries()) {
    const table = row.schedule ? updateTable(row.schedule, cached.blockIds) : null;
    if (table) row.measures = await ref.score(table);
    for (let s = 0; s < seedSets; s++) {
      const key = runKey(regime, row, s);
      let outcomes = record.runs[key];
      if (outcomes === undefined) {
        const envs = new Map<number, Env>();
        await closedLoop(
          policy,
          (cond, batch, initialSample, noise) =>
            table
              ? cached.runChunk(scheduler, table, { batch, cond, initialSample, noise })
              : plain.runChunk(scheduler, { batch, cond, initialSample, noise }),
          { episodes, ...seedSet(s), onStep: (i, env) => envs.set(i, env) },
        );
        outcomes = Array.from({ length: episodes }, (_, i) => (envs.get(i)!.outcome === 'success' ? '1' : '0')).join(
          '',
        );
        record.runs[key] = outcomes;
        await writeFileAtomic(runsPath, `${JSON.stringify(record, null, 1)}\n`);
      }
      const won = [...outcomes].map((c) => c === '1');
      row.loops.push({ episodes, success: won.filter(Boolean).length });
      row.outcomes.push(won);
    }
    console.log(
      `${regime.label} ${n + 1}/${rows.length} ${row.family} (level ${row.level}): ${pct(successRate(row))}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }
  await plain.release();
  await cached.release();
  await ref.release();
  return regimeSection(regime, profile, rows);
}

function regimeSection(regime: Regime, profile: Profile, rows: Row[]): string[] {
  const full = rows[0]!;
  const n = episodes * seedSets;
  const lines = [
    `## ${regime.label}`,
    '',
    `Full model: ${pct(successRate(full))} ± ${pct(stdErr(successRate(full), n))} (${full.loops.map((l) => `${l.success}/${l.episodes}`).join(', ')}).`,
    '',
  ];
  const scored = rows.filter((r) => r.schedule);
  const columns = measureColumns();
  for (const level of regime.levels) {
    const at = scored.filter((r) => r.level === level);
    const X = scheduleSpeedup(at[0]!.schedule!, 'flops');
    lines.push(
      `### Level: the FLOPs of Uniform S = ${level} (expected speedup ≥ ${formatSpeedup(X)} by FLOPs, K = ${profile.sampler.steps})`,
      '',
      `| schedule | updates | speedup (FLOPs, expected) | vs Uniform: b/c, McNemar p | success ${Array.from({ length: seedSets }, (_, s) => `set ${s + 1}`).join(' | ')} | success (pooled ± SE) | ${columns.map((c) => c.name).join(' | ')} |`,
      `| --- | --- | --- | --- | ${'--- | '.repeat(seedSets)}--- | ${columns.map(() => '---').join(' | ')} |`,
      ...at.map((r) => {
        const sum = summarizeSchedule(r.schedule!);
        const p = successRate(r);
        const { b, c } = discordantPairs(r.outcomes.flat(), at[0]!.outcomes.flat());
        const vs = r === at[0] ? '–' : `${b}/${c}, p = ${mcnemarExactP(b, c).toFixed(3)}`;
        return `| ${r.family} | ${sum.updates} | ${formatSpeedup(sum.speedupFlops)} | ${vs} | ${r.loops.map((l) => `${l.success}/${l.episodes}`).join(' | ')} | ${pct(p)} ± ${pct(stdErr(p, n))} | ${columns.map((c) => c.value(r).toExponential(2)).join(' | ')} |`;
      }),
      '',
    );
  }
  lines.push(
    '### Rank correlation with success (Spearman ρ; permutation p, 2000 shuffles)',
    '',
    'A good measure has ρ strongly negative (lower error, higher success).',
    '',
    `| measure | ${regime.levels.map((l) => `level S = ${l}: ρ (p)`).join(' | ')} | pooled: ρ (p) |`,
    `| --- | ${regime.levels.map(() => '---').join(' | ')} | --- |`,
  );
  const groups = [...regime.levels.map((l) => scored.filter((r) => r.level === l)), scored];
  for (const column of columns) {
    const cells = groups.map((g, gi) => {
      const xs = g.map(column.value);
      const ys = g.map(successRate);
      const rho = spearman(xs, ys);
      const p = spearmanPermutationP(
        xs,
        ys,
        2000,
        (() => {
          const r = new Rng(97 + gi);
          return () => r.uniform();
        })(),
      );
      return Number.isFinite(rho) ? `${rho.toFixed(2)} (${p.toFixed(3)})` : 'n/a';
    });
    lines.push(`| ${column.name}: ${column.label} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

/** The table's measure columns: the per-noise measures, then the distribution-level one. */
function measureColumns(): { name: string; label: string; value: (r: Row) => number }[] {
  const { windows: w, draws: d } = REFERENCE_DISTANCE_DEFAULTS;
  return [
    ...MEASURE_NAMES.map((m) => ({ name: m, label: MEASURE_LABELS[m], value: (r: Row) => r.measures![m] })),
    {
      name: 'refDistance',
      label: `reference-distance as \`bac sweep\` computes it: normalised energy distance of the executed actions from the full model's, ${d} draws on each of ${w} other held-out windows`,
      value: (r: Row) => r.refDistance!,
    },
  ];
}

/**
 * The regime's cost levels: its own, or --levels' (`4,3` for every regime, or `ddpm100:10,dpmpp10:4`
 * per regime; a regime --levels does not name keeps its own).
 */
function levelsOf(regime: Regime): readonly number[] {
  return (flags.levels && regimeEntries(flags.levels, regime.name)?.map(Number)) || regime.levels;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const dir = mkdtempSync(join(os.tmpdir(), 'bac-fidelity-'));
  const regimes = flags.regimes!.split(',').map((r) => {
    const regime = REGIMES[r.trim()];
    if (!regime) throw new Error(`unknown regime ${r}, expected ${Object.keys(REGIMES).join(', ')}`);
    return { ...regime, levels: levelsOf(regime) };
  });
  const reduced =
    perLevel < FULL_SIZE.perLevel ||
    episodes * seedSets < FULL_SIZE.episodesTotal ||
    seedSets < FULL_SIZE.seedSets ||
    regimes.length < FULL_SIZE.regimes;
  const sections: string[] = [];
  for (const regime of regimes) sections.push(...(await runRegime(regime, dir)));
  const cmd = `npm run fidelity-study -- --regimes ${regimes.map((r) => r.name).join(',')} --per-level ${perLevel} --episodes ${episodes} --seed-sets ${seedSets} --windows ${nWindows} --draws ${draws} --threads ${threads}${tuneSearchKind === 'population' ? ` --tune-search population --tune-population ${flags['tune-population']} --tune-finalists ${flags['tune-finalists']}` : ` --tune-iterations ${flags['tune-iterations']}`}${tuneMeasure === DEFAULT_TUNE_MEASURE ? '' : ` --tune-measure ${tuneMeasure}`}${tuneMeasure === 'success' ? ` --tune-trials ${flags['tune-trials']}` : ''}${flags.levels ? ` --levels ${flags.levels}` : ''}${seedBase === 500_000 ? '' : ` --seed-base ${seedBase}`}`;
  const doc = [
    '# Fidelity study: which offline measure predicts closed-loop success?',
    '',
    reduced
      ? `**REDUCED RUN.** The issue asks for ≥ ${FULL_SIZE.perLevel} schedules per level, ≥ ${FULL_SIZE.episodesTotal} episodes over ${FULL_SIZE.seedSets} seed sets and both regimes; this run has ${perLevel} schedules per level, ${episodes} episodes × ${seedSets} seed set(s) and ${regimes.map((r) => r.label).join(', ')}. Its correlations are indicative only; rerun at full size (the default flags) before drawing conclusions.`
      : 'Full-size run (the issue’s sizes).',
    '',
    `Generated by \`${cmd}\` (scripts/fidelity-study.ts) on ${startedAt.toISOString()}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}, onnxruntime-node CPU.`,
    '',
    '- Cost levels are fixed before any schedule is built: the expected FLOPs speedup of Uniform at the named budget; every other schedule of the level is the method’s best within that cost (`bac solve --target-speedup`), so cost cannot masquerade as prediction (schedules are at most as costly as the level’s Uniform).',
    '- Random perturbations: a family schedule after 3, 6, 9 or 12 seeded random moves (shift, move between blocks, add, drop) that keep the cost within the level.',
    `- Offline measures: ${nWindows} held-out windows × ${draws} noise draws, each schedule against the full model on the same noise; the closed loop uses other layouts: seed set s has layout seeds ${seedSet(0).seed} + 10000·s …, noise seed ${seedSet(0).noiseSeed} + s.`,
    `- Success: ${episodes} episodes per seed set; SE = √(p(1−p)/n) over the pooled ${episodes * seedSets} episodes. Every row runs the same layouts and noise seeds, so rows are paired: b = episodes only this schedule solved, c = only the level’s Uniform solved; exact two-sided McNemar p.`,
    tuneMeasure === 'success'
      ? `- tuned for success: \`bac tune --measure success\`’s ${tuneSearchKind} search (${regimes.map((r) => `${r.label}: ${describeSearch(r.name)}, ${tuneTrialsOf(r.name)} trial episodes per evaluation`).join('; ')}; trial layouts from ${TUNE_TRIAL_LAYOUTS}, none of them this study’s), maximising closed-loop success at the level’s cost; it replaces the level’s last perturbation.`
      : `- tuned: \`bac tune\`’s ${tuneSearchKind} search (${regimes.map((r) => `${r.label}: ${describeSearch(r.name)}`).join('; ')}, minimising ${tuneMeasure} on ${nWindows} tuning windows other than the measure windows) at the level’s cost; it replaces the level’s last perturbation.`,
    '',
    '| measure | what it is |',
    '| --- | --- |',
    ...measureColumns().map((c) => `| ${c.name} | ${c.label} |`),
    '',
    ...sections,
  ];
  const out = resolve(root, flags.out!);
  // A hand-written discussion below the marker survives re-runs (as in docs/replication.md).
  const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const at = previous.indexOf(DISCUSSION_MARKER);
  const discussion =
    at >= 0 ? previous.slice(at) : `${DISCUSSION_MARKER}\n\n## Discussion\n\n(not yet written for these numbers)\n`;
  await writeFileAtomic(out, `${doc.join('\n')}\n${discussion}`);
  console.log(`wrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
