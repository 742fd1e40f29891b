/**
 * Engine benchmarks on the demo policy, measured in one run and reported as ratios against their
 * targets (never asserted in tests):
 * - chunk-graph speedups, opening time, memory and compile time (`chunk.ts`);
 * - profiling wall time over the same number of bare forward passes (target ≤ 1.3×);
 * - peak RSS of the profiling process for 100 samples (target ≤ 1 GB).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSession, type ExecutionProviderChoice } from '../src/engine/ort';
import { blockDims, chunkFeeds, loadOrt, loadPolicy, policyScheduler } from '../src/engine/policy';
import { profileInChildProcess } from '../src/engine/profile-process';
import { profileBatchSize } from '../src/engine/profiler';
import { chunkBenchmarks } from './chunk';

/** The bundled profiling child, when built. */
const bundledWorker = ((p) => (existsSync(p) ? p : undefined))(resolve(__dirname, '..', 'dist', 'profile-worker.js'));
import { Rng } from '../src/core/rng';

/** One benchmark line. */
export interface EngineResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Null for a line reported for context, with no target of its own. */
  readonly target: string | null;
  readonly meets: boolean;
  readonly detail: string;
}

/** Runs the engine benchmarks; `samples` profiled (100 for the RSS target). */
export async function engineBenchmarks(
  options: { model?: string; episodes?: string; samples?: number; chunks?: number } = {},
): Promise<EngineResult[]> {
  const root = resolve(__dirname, '..');
  const modelPath = resolve(root, options.model ?? process.env.BAC_BENCH_MODEL ?? 'fixtures/demo/policy.onnx');
  const episodesPath = resolve(root, options.episodes ?? 'fixtures/demo/episodes/heldout.hdf5');
  const samples = options.samples ?? 100;
  const chunks = options.chunks ?? 12;
  // BAC_BENCH_EP=cuda|webgpu|auto measures on a GPU provider (with the same fallback rules as users get).
  const ep = (process.env.BAC_BENCH_EP ?? 'cpu') as ExecutionProviderChoice;
  const dir = mkdtempSync(join(tmpdir(), 'bac-bench-'));
  try {
    // The same denoiser calls as the profile, bare: same batches, one thread, only the prediction
    // fetched. Half of them run before the profile and half after (A-B-A), so a drift in this
    // shared machine's speed during the run does not land on one side of the ratio.
    const policy = await loadPolicy(modelPath);
    const scheduler = policyScheduler(policy);
    const K = scheduler.numInferenceSteps;
    const ort = loadOrt();
    const { session } = await openSession(policy.bytes, ep, { intraOpNumThreads: 1 });
    const rng = new Rng(0);
    const batches: number[] = [];
    // the batches the profiler picks for this model
    const { T, d } = blockDims(policy);
    const batchSize = profileBatchSize(policy.info.blocks.length, K, T * d, samples);
    for (let done = 0; done < samples; done += batchSize) batches.push(Math.min(batchSize, samples - done));
    const bare = async (sizes: readonly number[]): Promise<number> => {
      const start = performance.now();
      for (const B of sizes) {
        const x = rng.normalArray(B * policy.horizon * policy.actionDim);
        // inputs allocated once per batch, as the profiler does
        const step = chunkFeeds(ort, policy, rng.normalArray(B * policy.obsSteps * policy.condDim), B);
        for (let k = 0; k < K; k++) {
          step.setStep(x, scheduler.timesteps[k]!);
          await session.run(step.feeds, [policy.info.prediction]);
        }
      }
      return performance.now() - start;
    };
    const half = Math.ceil(batches.length / 2);
    let bareMs = await bare(batches.slice(0, half));

    // Profiling in the child process, as users run it.
    const t0 = performance.now();
    const outcome = await profileInChildProcess(
      {
        modelPath,
        episodesPath,
        samples,
        seed: 0,
        executionProvider: ep,
        outPath: join(dir, 'p.bacprofile'),
      },
      // The bundled child, as the extension and the CLI start it (`npm run bench` builds first).
      { workerModule: bundledWorker },
    );
    const profileMs = performance.now() - t0;
    bareMs += await bare(batches.slice(half));
    await session.release();

    // Chunk graphs (one ORT call per chunk) against the faster full-model runner, per sampler.
    const chunkRows = await chunkBenchmarks(policy, {
      episodesPath,
      ep,
      ddpmProfile: outcome.profile,
      chunks: Math.min(chunks, 4),
    });
    const profileRatio = profileMs / bareMs;
    const rssGb = outcome.peakRssBytes / 1e9;
    return [
      ...chunkRows,
      {
        name: `profiling wall time / bare forward passes (${samples} samples)`,
        value: profileRatio,
        unit: '×',
        target: '≤ 1.3',
        meets: profileRatio <= 1.3,
        detail: `profile ${(profileMs / 1000).toFixed(1)} s (child process, episodes, statistics, timing), bare ${(bareMs / 1000).toFixed(1)} s`,
      },
      {
        name: `peak RSS of profiling ${samples} samples`,
        value: rssGb,
        unit: 'GB',
        target: '≤ 1',
        meets: rssGb <= 1,
        detail: 'profiling child process, maxRSS',
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
