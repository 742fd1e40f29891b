/**
 * Child of `bench/chunk.ts`: opens one model in a fresh process, runs one chunk, and prints
 * `{openMs, rssBytes}` (peak RSS of the whole process). `chunk PATH`: a compiled chunk model;
 * `step MODEL`: the per-step cached runner of a BAC-ready model (batch 1), DDPM at its K.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadOrt, loadPolicy, policyScheduler } from '../src/engine/policy';
import { Rng } from '../src/core/rng';
import { CachedRunner } from '../src/engine/runner';

/**
 * This process's peak RSS. Linux: VmHWM of /proc/self/status — getrusage's maxRSS survives exec,
 * so a child spawned by a large parent would report the parent's peak at fork time.
 */
function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

async function main(): Promise<void> {
  const [kind, path] = process.argv.slice(2);
  const ort = loadOrt();
  let openMs: number;
  if (kind === 'chunk') {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(path!, {
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'disabled',
    });
    openMs = performance.now() - t0;
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const name of session.inputNames) {
      const meta = session.inputMetadata.find((m) => m.name === name) as
        { shape?: readonly (number | string)[] } | undefined;
      const dims = (meta?.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
      feeds[name] = new ort.Tensor('float32', new Rng(1).normalArray(dims.reduce((a, b) => a * b, 1)), dims);
    }
    await session.run(feeds);
    await session.release();
  } else {
    const policy = await loadPolicy(path!);
    const t0 = performance.now();
    const runner = await CachedRunner.open(policy, 'cpu', { threads: 1, staticBatch: 1 });
    openMs = performance.now() - t0;
    const scheduler = policyScheduler(policy);
    const table = new Uint8Array(scheduler.numInferenceSteps * policy.info.blocks.length).fill(1);
    const rng = new Rng(1);
    await runner.runChunk(scheduler, table, {
      batch: 1,
      cond: rng.normalArray(policy.obsSteps * policy.condDim),
      initialSample: rng.normalArray(policy.horizon * policy.actionDim),
      noise: rng,
    });
    await runner.release();
  }
  console.log(JSON.stringify({ openMs, rssBytes: peakRssBytes() }));
}

void main();
