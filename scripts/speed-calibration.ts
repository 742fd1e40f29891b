/**
 * `npm run speed-calibration`: how well a schedule's expected speedup by time predicts what its
 * chunk graph delivers, over the replication's schedules (Uniform and BAC at budgets 5, 7, 10, 20
 * of DDPM-100, and 3, 5 of DPM-Solver++-10). For each sampler it profiles the demo policy (which
 * measures the chunk graph's per-step fixed cost), builds the schedules, measures them with
 * `evaluate` (what `bac eval` records) and prints measured / expected by time, with the profile's
 * chunk-graph calibration and with the gated runner's per-call base it replaces. Markdown on
 * stdout, for docs/benchmarks.md.
 *
 * Environment: BAC_CALIBRATION_PROFILE_SAMPLES (default 16), BAC_CALIBRATION_WINDOWS (evaluation
 * windows, default 8).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { buildBaseline, BASELINE_LABELS, type BaselineKind } from '../src/core/baselines';
import { formatSpeedup, summarizeSchedule } from '../src/core/cost';
import { samplerLabel } from '../src/core/editor-view';
import type { Profile, Schedule } from '../src/core/types';
import { evaluate } from '../src/engine/evaluate';
import { loadPolicy, policyScheduler } from '../src/engine/policy';
import { profileInChildProcess } from '../src/engine/profile-process';
import { loadWindows } from '../src/engine/profiler';

const root = resolve(__dirname, '..');
const modelPath = resolve(root, 'fixtures/demo/policy.onnx');
const episodesPath = resolve(root, 'fixtures/demo/episodes/heldout.hdf5');
const profileSamples = Number(process.env.BAC_CALIBRATION_PROFILE_SAMPLES ?? 16);
const evalWindows = Number(process.env.BAC_CALIBRATION_WINDOWS ?? 8);
const topN = 3;

/** The replication's samplers and budgets (docs/replication.md, docs/replication-dpmsolverpp-10.md). */
const CONFIGS: readonly { type: string; steps: number; budgets: readonly number[] }[] = [
  { type: 'ddpm', steps: 100, budgets: [5, 7, 10, 20] },
  { type: 'dpmsolver++', steps: 10, budgets: [3, 5] },
];
const KINDS: readonly BaselineKind[] = ['uniform', 'bac'];

/** `profile` as it was before the chunk graph was measured: time base = the gated per-call base. */
function withoutChunkStep(profile: Profile): Profile {
  const { chunkStepTimeUs: _dropped, ...rest } = profile;
  return rest;
}

async function main(): Promise<void> {
  const policy = await loadPolicy(modelPath);
  const windows = await loadWindows(policy, episodesPath, evalWindows, 3);
  const dir = mkdtempSync(join(os.tmpdir(), 'bac-calibration-'));
  const lines = [
    '| sampler | method | S | measured | expected (time) | measured / expected | before: expected (gated base) | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ratios: number[] = [];
  const before: number[] = [];
  const notes: string[] = [];
  try {
    for (const c of CONFIGS) {
      const { profile } = await profileInChildProcess({
        modelPath,
        episodesPath,
        samples: profileSamples,
        seed: 0,
        executionProvider: 'cpu',
        outPath: join(dir, `${c.type}-${c.steps}.bacprofile`),
        samplerType: c.type,
        steps: c.steps,
      });
      const label = `${samplerLabel(c.type)}-${c.steps}`;
      notes.push(
        `${label}: chunk-graph step cost ${profile.chunkStepTimeUs?.toFixed(1) ?? 'n/a'} µs, gated per-call base ${profile.baseCost.timeUs.toFixed(1)} µs, Σ blocks ${profile.blocks.reduce((a, b) => a + b.cost.timeUs, 0).toFixed(1)} µs`,
      );
      const rows: { kind: BaselineKind; budget: number; schedule: Schedule; old: Schedule }[] = [];
      for (const budget of c.budgets) {
        for (const kind of KINDS) {
          const n = kind === 'bac' ? topN : 0;
          rows.push({
            kind,
            budget,
            schedule: buildBaseline(kind, profile, profile.model, budget, n, true),
            old: buildBaseline(kind, withoutChunkStep(profile), profile.model, budget, n, true),
          });
        }
      }
      const scheduler = policyScheduler(policy, c.steps, c.type);
      const ev = await evaluate(
        policy,
        scheduler,
        windows,
        rows.map((r, i) => ({ name: String(i), schedule: r.schedule })),
        { ep: 'cpu', seed: 3 },
      );
      rows.forEach((r, i) => {
        const measured = ev.results[i]!.measuredSpeedup;
        const expected = summarizeSchedule(r.schedule).speedupTime!;
        const old = summarizeSchedule(r.old).speedupTime!;
        ratios.push(measured / expected);
        before.push(measured / old);
        lines.push(
          `| ${label} | ${BASELINE_LABELS[r.kind]} | ${r.budget} | ${formatSpeedup(measured)} | ${formatSpeedup(expected)} | ${(measured / expected).toFixed(2)} | ${formatSpeedup(old)} | ${(measured / old).toFixed(2)} |`,
        );
      });
      notes.push(`${label}: baseline ${ev.baseline}, ${ev.fullChunkMs.toFixed(1)} ms per full chunk`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const span = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const within = xs.filter((x) => Math.abs(x - 1) <= 0.15).length;
    return `${sorted[0]!.toFixed(2)}–${sorted[sorted.length - 1]!.toFixed(2)} (median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}, ${within}/${xs.length} within ±15 %)`;
  };
  const cpus = os.cpus();
  console.log(lines.join('\n'));
  console.log('');
  console.log(`measured / expected (time): ${span(ratios)} calibrated; ${span(before)} with the gated per-call base`);
  for (const n of notes) console.log(`- ${n}`);
  console.log(
    `- machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end; ${profileSamples}-sample profiles, ${evalWindows} evaluation windows, batch 1, one thread`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
