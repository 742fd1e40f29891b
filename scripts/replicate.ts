/**
 * `npm run replicate`: the paper's experiment on our demo task. Closed-loop success over ≥ 200
 * seeded episodes and measured speedup for Full, Uniform, Unified ACS, ACS w/o BUA and BAC at
 * budgets 5, 7, 10 and 20 of K = 100 (DDPM), written to docs/replication.md with the exact command,
 * the machine and the date. Long: minutes per configuration on a CPU.
 *
 * Environment: BAC_REPLICATE_EPISODES (default 200), BAC_REPLICATE_THREADS (ORT threads, default 2),
 * BAC_REPLICATE_BUDGETS (default 5,7,10,20), BAC_REPLICATE_PROFILE_SAMPLES (default 64).
 * BAC_REPLICATE_SAMPLER and BAC_REPLICATE_STEPS sample with another sampler and K than the model's
 * (the paper's RDT experiment uses DPM-Solver++): the result then goes to
 * docs/replication-<sampler>-<K>.md, and docs/replication.md stays the DDPM-100 experiment.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { buildBaseline, BASELINE_LABELS, type BaselineKind } from '../src/core/baselines';
import { formatSpeedup, summarizeSchedule } from '../src/core/cost';
import { samplerLabel } from '../src/core/editor-view';
import type { Schedule } from '../src/core/types';
import { closedLoop, type ClosedLoopResult } from '../src/engine/closed-loop';
import { evaluate } from '../src/engine/evaluate';
import { writeFileAtomic } from '../src/engine/fsutil';
import { loadPolicy, policyScheduler } from '../src/engine/policy';
import { profileInChildProcess } from '../src/engine/profile-process';
import { loadWindows } from '../src/engine/profiler';
import { CachedRunner, PlainRunner, updateTable } from '../src/engine/runner';

const root = resolve(__dirname, '..');
const modelPath = resolve(root, process.env.BAC_DEMO_MODEL ?? 'fixtures/demo/policy.onnx');
const episodesPath = resolve(root, 'fixtures/demo/episodes/heldout.hdf5');
const episodes = Number(process.env.BAC_REPLICATE_EPISODES ?? 200);
const threads = Number(process.env.BAC_REPLICATE_THREADS ?? 2);
const budgets = (process.env.BAC_REPLICATE_BUDGETS ?? '5,7,10,20').split(',').map(Number);
const profileSamples = Number(process.env.BAC_REPLICATE_PROFILE_SAMPLES ?? 64);
const samplerType = process.env.BAC_REPLICATE_SAMPLER;
const steps = process.env.BAC_REPLICATE_STEPS ? Number(process.env.BAC_REPLICATE_STEPS) : undefined;
const topN = 3;
const SEED = 300_000; // layouts never used by the training (0…) or held-out (100000…) demos
const NOISE_SEED = 11;
const DISCUSSION_MARKER =
  '<!-- discussion: written by hand, kept when npm run replicate rewrites the numbers above -->';

interface Row {
  readonly method: string;
  readonly budget: number | null;
  readonly schedule: Schedule | null;
  loop?: ClosedLoopResult;
  measured?: number;
}

async function main(): Promise<void> {
  const started = new Date();
  const policy = await loadPolicy(modelPath);
  const scheduler = policyScheduler(policy, steps, samplerType);
  const K = scheduler.numInferenceSteps;
  const samplerName = `${samplerLabel(scheduler.config.type)}-${K}`;
  const docName =
    samplerType === undefined && steps === undefined
      ? 'replication.md'
      : `replication-${scheduler.config.type.replace('++', 'pp')}-${K}.md`;
  console.log(
    `replicate: ${episodes} episodes per configuration, budgets ${budgets.join(', ')}, ORT threads ${threads}`,
  );
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
  const kinds: BaselineKind[] = ['uniform', 'unified-acs', 'acs-no-bua', 'bac'];
  const rows: Row[] = [{ method: 'Full', budget: null, schedule: null }];
  for (const M of budgets)
    for (const kind of kinds)
      rows.push({
        method: BASELINE_LABELS[kind],
        budget: M,
        schedule: buildBaseline(kind, profile, profile.model, M, topN, true),
      });

  const plain = await PlainRunner.open(policy, 'cpu', { threads });
  const cached = await CachedRunner.open(policy, 'cpu', { threads });
  for (const row of rows) {
    const table = row.schedule ? updateTable(row.schedule, cached.blockIds) : null;
    row.loop = await closedLoop(
      policy,
      (cond, batch, initialSample, noise) =>
        table
          ? cached.runChunk(scheduler, table, { batch, cond, initialSample, noise })
          : plain.runChunk(scheduler, { batch, cond, initialSample, noise }),
      { episodes, seed: SEED, noiseSeed: NOISE_SEED },
    );
    console.log(
      `${row.method.padEnd(12)} ${String(row.budget ?? 'K').padStart(3)}: success ${row.loop.success}/${row.loop.episodes}, ${(row.loop.samplerMs / 1000).toFixed(0)} s`,
    );
  }
  await plain.release();
  await cached.release();

  // Measured speedup at batch 1 (the robot's case), all schedules on the same windows and noise.
  const windows = await loadWindows(policy, episodesPath, 8, 3);
  const scheduled = rows.filter((r) => r.schedule);
  const ev = await evaluate(
    policy,
    scheduler,
    windows,
    scheduled.map((r, i) => ({ name: String(i), schedule: r.schedule! })),
    { ep: 'cpu', seed: 3 },
  );
  scheduled.forEach((r, i) => (r.measured = ev.results[i]!.measuredSpeedup));

  const full = rows[0]!.loop!;
  const lines = [
    `# Replication of the BAC paper on the demo task${docName === 'replication.md' ? '' : ` (${samplerName})`}`,
    '',
    `Generated by \`npm run replicate\` on ${started.toISOString().slice(0, 10)} (${started.toISOString()}).`,
    '',
    `- Command: \`BAC_REPLICATE_EPISODES=${episodes} BAC_REPLICATE_THREADS=${threads} BAC_REPLICATE_BUDGETS=${budgets.join(',')}${samplerType ? ` BAC_REPLICATE_SAMPLER=${samplerType}` : ''}${steps ? ` BAC_REPLICATE_STEPS=${steps}` : ''} npm run replicate\``,
    `- Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()}-${os.arch()}, Node ${process.version}, onnxruntime-node CPU, ${threads} intra-op threads`,
    `- Policy: \`${modelPath.replace(root + '/', '')}\` (sha256 ${policy.info.sha256.slice(0, 12)}…), ${samplerName} (the policy was trained with ${samplerLabel(policy.info.metadata.sampler.type)}, K = ${policy.info.metadata.sampler.numInferenceSteps})`,
    `- Schedules: solved from a ${profileSamples}-sample profile of the held-out episodes (seed 0); BAC top-n = ${topN}, forceLast on`,
    `- Closed loop: ${episodes} episodes per configuration, layout seeds ${SEED}…${SEED + episodes - 1} (unseen in training and held-out data), sampler noise seed ${NOISE_SEED}, all episodes batched per denoising step`,
    '- Measured speedup: full model vs cached runner at batch 1 on 8 held-out windows, same process, interleaved',
    '',
    '| method | budget S | success | collisions | timeouts | expected speedup (FLOPs) | measured speedup |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => {
      const l = r.loop!;
      const exp = formatSpeedup(r.schedule ? summarizeSchedule(r.schedule).speedupFlops : 1);
      const meas = formatSpeedup(r.measured ?? 1);
      return `| ${r.method} | ${r.budget ?? `K = ${K}`} | ${(l.successRate * 100).toFixed(1)} % (${l.success}/${l.episodes}) | ${l.collision} | ${l.timeout} | ${exp} | ${meas} |`;
    }),
    '',
    '## What the numbers say (generated from the table)',
    '',
    ...budgets.map((M) => {
      const at = (m: string) => rows.find((r) => r.method === m && r.budget === M)!.loop!.successRate;
      const order = ['Uniform', 'Unified ACS', 'ACS w/o BUA', 'BAC']
        .map((m) => `${m} ${(at(m) * 100).toFixed(1)} %`)
        .join(', ');
      const vsFull = at('BAC') - full.successRate;
      return `- S = ${M}: ${order}; BAC is ${Math.abs(vsFull * 100).toFixed(1)} points ${vsFull >= 0 ? 'above' : 'below'} Full (${(full.successRate * 100).toFixed(1)} %); the paper expects BAC ≈ Full ≥ Unified ACS ≥ Uniform and ACS w/o BUA below Unified ACS.`;
    }),
    '',
  ];
  // A hand-written discussion below the marker survives re-runs: the numbers change, the analysis
  // is revised by a person who has read them.
  const docPath = resolve(root, 'docs', docName);
  const previous = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '';
  const at = previous.indexOf(DISCUSSION_MARKER);
  const discussion =
    at >= 0 ? previous.slice(at) : `${DISCUSSION_MARKER}\n\n## Discussion\n\n(not yet written for these numbers)\n`;
  await writeFileAtomic(docPath, `${lines.join('\n')}\n${discussion}`);
  writeFileSync(
    join(dir, 'rows.json'),
    JSON.stringify(
      rows.map(({ schedule: _s, ...r }) => r),
      null,
      2,
    ),
  );
  console.log(`wrote docs/${docName} (raw rows in ${join(dir, 'rows.json')})`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
