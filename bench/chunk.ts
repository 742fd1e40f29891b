/**
 * Chunk-graph benchmarks (issue 14), measured in one run and reported as ratios against their
 * targets, never asserted in tests:
 * - speedup of a schedule's chunk graph over the baseline — the faster of the plain model's
 *   per-step loop (K ORT calls) and the full chunk graph (one call) — and its ratio to the FLOPs
 *   bound, for DPM-Solver++-10 BAC S=3, DDIM-10 Uniform S=4, DDPM-100 BAC S=10 top-n 3 and
 *   DDPM-100 Uniform S=10; median of R runs (each runner's chunks back to back with warm caches,
 *   the order rotating between runs) with the spread (min–max);
 * - opening time and resident memory of compiled chunk models (K=100 BAC S=10, K=10) against the
 *   per-step cached runner, each in its own process; compile time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildBaseline, type BaselineKind } from '../src/core/baselines';
import { serializeSchedule } from '../src/core/schedule-format';
import { summarizeSchedule } from '../src/core/cost';
import type { Profile, Schedule } from '../src/core/types';
import { compileChunk } from '../src/engine/chunk-compile';
import { openChunkRunner, type ChunkRunner } from '../src/engine/chunk-runner';
import { foldedStepModel } from '../src/engine/onnx/chunk-step';
import type { ExecutionProviderChoice } from '../src/engine/ort';
import { policyScheduler, type Policy } from '../src/engine/policy';
import { profileInChildProcess } from '../src/engine/profile-process';
import { loadWindows } from '../src/engine/profiler';
import { Rng } from '../src/core/rng';
import { PlainRunner, updateTable } from '../src/engine/runner';
import type { EngineResult } from './engine';

/** One speed row: a sampler, a schedule kind and its budget. */
interface SpeedCase {
  readonly label: string;
  readonly type: string;
  readonly K: number;
  readonly kind: BaselineKind;
  readonly budget: number;
  readonly topN: number;
  /** Also required: speedup ≥ this. */
  readonly minSpeedup?: number;
}

const CASES: readonly SpeedCase[] = [
  { label: 'DPM-Solver++-10 BAC S=3', type: 'dpmsolver++', K: 10, kind: 'bac', budget: 3, topN: 3 },
  { label: 'DDIM-10 Uniform S=4', type: 'ddim', K: 10, kind: 'uniform', budget: 4, topN: 0 },
  { label: 'DDPM-100 BAC S=10 top-n 3', type: 'ddpm', K: 100, kind: 'bac', budget: 10, topN: 3, minSpeedup: 5 },
  { label: 'DDPM-100 Uniform S=10', type: 'ddpm', K: 100, kind: 'uniform', budget: 10, topN: 0 },
];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Profile of `policy` with a sampler (few samples: the schedule's timing, not its quality, is measured). */
async function profileFor(
  modelPath: string,
  episodesPath: string,
  type: string,
  K: number,
  dir: string,
  ep: ExecutionProviderChoice,
): Promise<Profile> {
  const outcome = await profileInChildProcess({
    modelPath,
    episodesPath,
    samples: 8,
    seed: 0,
    executionProvider: ep,
    outPath: join(dir, `${type}-${K}.bacprofile`),
    steps: K,
    samplerType: type,
  });
  return outcome.profile;
}

/** Speed rows: R runs of `chunks` windows per runner, runners in rotating order; per run the ratio baseline/schedule. */
async function speedRows(
  policy: Policy,
  c: SpeedCase,
  schedule: Schedule,
  episodesPath: string,
  ep: ExecutionProviderChoice,
  runs: number,
  chunks: number,
): Promise<EngineResult[]> {
  const scheduler = policyScheduler(policy, c.K, c.type);
  const step = await foldedStepModel(policy.bytes, 1, policy.info.name);
  const plain = await PlainRunner.open(policy, ep, { threads: 1, staticBatch: 1 });
  const runners: ChunkRunner[] = [];
  try {
    const full = await openChunkRunner(policy, scheduler, 'full', { ep, threads: 1, step });
    runners.push(full);
    const table = updateTable(
      schedule,
      policy.info.blocks.map((b) => b.id),
    );
    const mine = await openChunkRunner(policy, scheduler, table, { ep, threads: 1, step });
    runners.push(mine);
    const windows = await loadWindows(policy, episodesPath, chunks, 2);
    const n = policy.horizon * policy.actionDim;
    const ratios: number[] = [];
    let loopMs = 0;
    let graphMs = 0;
    let schedMs = 0;
    const inputs = (i: number) => ({
      batch: 1,
      cond: windows[i]!.obs,
      initialSample: new Rng(i + 10).normalArray(n),
      noise: new Rng(i + 20),
    });
    const runOne = (j: number, i: number) =>
      j === 0 ? plain.runChunk(scheduler, inputs(i)) : runners[j - 1]!.runChunk(inputs(i));
    for (let r = -1; r < runs; r++) {
      const t = [0, 0, 0];
      // Per run each runner takes the windows back to back, as a deployed policy runs one model
      // chunk after chunk with its weights in cache; its first chunk (after another runner evicted
      // them) is an untimed warm-up. The order rotates per run so no runner always goes first and a
      // drift of the machine's speed spreads over all three.
      for (const j of [0, 1, 2].map((k) => (k + r + 3) % 3)) {
        await runOne(j, 0);
        for (let i = 0; i < windows.length; i++) {
          const a = performance.now();
          await runOne(j, i);
          t[j]! += performance.now() - a;
        }
      }
      if (r < 0) continue; // warm-up
      loopMs += t[0]!;
      graphMs += t[1]!;
      schedMs += t[2]!;
      ratios.push(Math.min(t[0]!, t[1]!) / t[2]!);
    }
    const speedup = median(ratios);
    const bound = summarizeSchedule(schedule).speedupFlops;
    const per = (ms: number) => (ms / (runs * windows.length)).toFixed(1);
    const spread = `runs ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`;
    const base = `per-step loop ${per(loopMs)} ms, full chunk graph ${per(graphMs)} ms, schedule ${per(schedMs)} ms per chunk`;
    return [
      {
        name: `chunk graph speedup, ${c.label}`,
        value: speedup,
        unit: '×',
        target: c.minSpeedup ? `≥ ${c.minSpeedup}` : null,
        meets: c.minSpeedup ? speedup >= c.minSpeedup : true,
        detail: `median of ${runs} runs, runners in rotating order, warm caches (${spread}); ${base}; batch 1`,
      },
      {
        name: `  / FLOPs bound, ${c.label}`,
        value: speedup / bound,
        unit: '',
        target: '≥ 0.8',
        meets: speedup / bound >= 0.8,
        detail: `FLOPs bound ${bound.toFixed(2)}×`,
      },
    ];
  } finally {
    await plain.release();
    for (const r of runners) await r.close();
  }
}

/** Opening time and peak RSS of one model in a fresh process (`bench/open-child.ts`). */
function openInChild(args: string[]): { openMs: number; rssBytes: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(__dirname, 'open-child.ts'), ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`open-child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { openMs: number; rssBytes: number };
}

/** Runs the chunk-graph benchmarks on `policy` (profiles each sampler briefly in a child process). */
export async function chunkBenchmarks(
  policy: Policy,
  options: { episodesPath: string; ep: ExecutionProviderChoice; ddpmProfile?: Profile; runs?: number; chunks?: number },
): Promise<EngineResult[]> {
  const runs = options.runs ?? 5;
  const chunks = options.chunks ?? 4;
  const dir = mkdtempSync(join(tmpdir(), 'bac-bench-chunk-'));
  try {
    const rows: EngineResult[] = [];
    const profiles = new Map<string, Profile>();
    if (options.ddpmProfile) profiles.set('ddpm-100', options.ddpmProfile);
    const schedules = new Map<string, Schedule>();
    for (const c of CASES) {
      const key = `${c.type}-${c.K}`;
      if (!profiles.has(key))
        profiles.set(key, await profileFor(policy.path, options.episodesPath, c.type, c.K, dir, options.ep));
      const profile = profiles.get(key)!;
      const schedule = buildBaseline(c.kind, profile, profile.model, c.budget, c.topN, true);
      schedules.set(c.label, schedule);
      rows.push(...(await speedRows(policy, c, schedule, options.episodesPath, options.ep, runs, chunks)));
    }

    // compiled chunk models: compile time, then opening time and RSS each in a fresh process
    const perStep = openInChild(['step', policy.path]);
    for (const label of ['DDPM-100 BAC S=10 top-n 3', 'DPM-Solver++-10 BAC S=3']) {
      const schedule = schedules.get(label)!;
      const t0 = performance.now();
      const compiled = await compileChunk(policy, schedule, 1);
      const compileS = (performance.now() - t0) / 1000;
      const path = join(dir, `${label.replace(/[^A-Za-z0-9]+/g, '_')}.onnx`);
      writeFileSync(path, compiled.bytes);
      writeFileSync(join(dir, 'last.bacschedule'), serializeSchedule(schedule));
      const opened = openInChild(['chunk', path]);
      rows.push(
        {
          name: `compile --chunk, ${label}`,
          value: compileS,
          unit: 's',
          target: '≤ 10',
          meets: compileS <= 10,
          detail: `${(compiled.bytes.length / 1e6).toFixed(1)} MB`,
        },
        {
          name: `open compiled chunk model, ${label}`,
          value: opened.openMs / 1000,
          unit: 's',
          target: '≤ 3',
          meets: opened.openMs <= 3000,
          detail: 'fresh process, session creation',
        },
        {
          name: `  RSS / per-step cached runner's, ${label}`,
          value: opened.rssBytes / perStep.rssBytes,
          unit: '×',
          target: '≤ 1.5',
          meets: opened.rssBytes <= 1.5 * perStep.rssBytes,
          detail: `${(opened.rssBytes / 1e6).toFixed(0)} MB vs ${(perStep.rssBytes / 1e6).toFixed(0)} MB (peak RSS after open + one chunk)`,
        },
      );
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
