/**
 * `npm run demo`: the whole BAC loop on the shipped demo policy, from a fresh clone.
 * 1. profile fixtures/demo/policy.onnx on its held-out episodes (child process, like the extension),
 * 2. solve BAC at S = 10 with top-n = 3 and build the baselines at the same budget,
 * 3. evaluate them all against the full model (measured speedup, action error), and print the table;
 *    then the full model at fewer steps (DDPM strided, DDIM, DPM-Solver++) beside BAC and Uniform at
 *    their measured cost, and the PyTorch-eager status quo when Python torch is available.
 * Outputs land in out/demo/ (git-ignored): open out/demo/policy.bacschedule in VS Code to edit it.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { buildBaseline, BASELINE_LABELS, type BaselineKind } from '../src/core/baselines';
import { summarizeSchedule } from '../src/core/cost';
import { serializeSchedule } from '../src/core/schedule-format';
import type { FileRef } from '../src/core/types';
import { evaluationTable, FEWER_STEPS_NOTE } from '../src/cli/eval';
import { sweepTable } from '../src/cli/sweep';
import { configId, configLabel } from '../src/core/sweep-format';
import { compareWithFewerSteps } from '../src/engine/sweep-measure';
import { describePytorchEager, measurePytorchEager } from './pytorch-eager';
import { evaluate } from '../src/engine/evaluate';
import { sha256File, writeFileAtomic } from '../src/engine/fsutil';
import type { ExecutionProviderChoice } from '../src/engine/ort';
import { loadPolicy, policyScheduler } from '../src/engine/policy';
import { profileInChildProcess } from '../src/engine/profile-process';
import { storedPathFor as relativeTo } from '../src/engine/paths';
import { loadWindows } from '../src/engine/profiler';

const root = resolve(__dirname, '..');
const modelPath = resolve(root, process.env.BAC_DEMO_MODEL ?? 'fixtures/demo/policy.onnx');
const episodesPath = resolve(root, process.env.BAC_DEMO_EPISODES ?? 'fixtures/demo/episodes/heldout.hdf5');
const outDir = resolve(root, 'out/demo');
const profileSamples = Number(process.env.BAC_DEMO_PROFILE_SAMPLES ?? 32);
const evalSamples = Number(process.env.BAC_DEMO_EVAL_SAMPLES ?? 16);
const budget = 10;
const topN = 3;
const DEMO_DRAWS = 2;

/** A progress line that rewrites itself on a terminal and stays silent in logs (CI, pipes). */
function progress(text: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r    ${text}   `);
}

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const profilePath = resolve(outDir, 'policy.bacprofile');
  const schedulePath = resolve(outDir, 'policy.bacschedule');
  console.log(
    `BAC demo: ${relativeTo(resolve(root, 'x'), modelPath)} on ${relativeTo(resolve(root, 'x'), episodesPath)}`,
  );
  console.log(`1/3 profiling ${profileSamples} observation windows (every block, every step)…`);
  const outcome = await profileInChildProcess(
    { modelPath, episodesPath, samples: profileSamples, seed: 0, executionProvider: 'auto', outPath: profilePath },
    {
      log: (line) => console.log(`    ${line}`),
      onProgress: (p) =>
        progress(`${p.done}/${p.total} samples${p.etaMs === null ? '' : ` · ETA ${(p.etaMs / 1000).toFixed(0)} s`}`),
    },
  );
  if (process.stdout.isTTY) process.stdout.write('\n');
  const profile = outcome.profile;
  const modelRef: FileRef = { path: relativeTo(schedulePath, modelPath), sha256: profile.model.sha256 };
  const profileRef: FileRef = { path: relativeTo(schedulePath, profilePath), sha256: await sha256File(profilePath) };

  console.log(`2/3 solving BAC at S = ${budget}, top-n = ${topN}, and the baselines…`);
  const kinds: BaselineKind[] = ['bac', 'uniform', 'unified-acs', 'acs-no-bua'];
  const named = kinds.map((kind) => ({
    name: BASELINE_LABELS[kind],
    schedule: buildBaseline(kind, profile, modelRef, budget, topN, true, profileRef),
  }));
  await writeFileAtomic(schedulePath, serializeSchedule(named[0]!.schedule));
  console.log(
    `    wrote ${relativeTo(resolve(root, 'x'), profilePath)} and ${relativeTo(resolve(root, 'x'), schedulePath)}`,
  );

  console.log(`3/3 evaluating on ${evalSamples} held-out windows (batch 1, full model vs cached runner)…`);
  const policy = await loadPolicy(modelPath);
  const windows = await loadWindows(policy, episodesPath, evalSamples, 1);
  const ev = await evaluate(policy, policyScheduler(policy), windows, named, {
    ep: outcome.provider as ExecutionProviderChoice,
    seed: 1,
    onSample: (done, total) => progress(`${done}/${total} windows`),
  });
  process.stdout.write(process.stdout.isTTY ? '\n\n' : '\n');
  const facts = new Map(
    named.map((n) => [n.name, { budget: String(budget), expectedFlops: summarizeSchedule(n.schedule).speedupFlops }]),
  );
  console.log(evaluationTable(ev, facts, profile.sampler.steps, profile.blocks.length));
  console.log(
    `\n${ev.samples} windows on ${ev.provider}; action errors in raw action units over the executed actions.`,
  );
  console.log('Measured speedup is total full-model time over total cached-runner time in this process.');

  console.log(
    `\nAt equal measured cost: the full model at fewer steps beside the schedules (${evalSamples} windows × ${DEMO_DRAWS} noise draws; quality against the recorded demonstrations, docs/sweep.md)…`,
  );
  const { type, steps } = profile.sampler;
  const cmp = await compareWithFewerSteps(
    policy,
    episodesPath,
    (['bac', 'uniform'] as const).map((method, i) => ({
      config: { sampler: type, steps, method, budget },
      schedule: named[i]!.schedule,
    })),
    { samples: evalSamples, draws: DEMO_DRAWS, seed: 1, ep: outcome.provider as ExecutionProviderChoice },
  );
  console.log(sweepTable(cmp.results));
  console.log(FEWER_STEPS_NOTE);
  console.log(
    describePytorchEager(
      measurePytorchEager(root),
      cmp.results.find((r) => configId(r.config) === configId(cmp.reference))!.chunkMs,
      { label: configLabel(cmp.reference), steps: cmp.reference.steps },
    ),
  );
  console.log('For the whole grid and a recommended schedule: npx bac sweep --help');
}

main().catch((e: unknown) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
