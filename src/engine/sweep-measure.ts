import { performance } from 'node:perf_hooks';
import { BacError } from '../core/errors';
import { meanAbsoluteError, meanSquaredError, summarizeErrors } from '../core/quality';
import {
  chunkFlops,
  defaultSamplers,
  fullSchedule,
  isFullSchedule,
  scheduleUpdates,
  type SamplerAtK,
} from '../core/sweep';
import { configId, type SweepConfig, type SweepResult } from '../core/sweep-format';
import type { Schedule } from '../core/types';
import { loadDemoWindows, type DemoWindow } from './demonstrations';
import { executedActions } from './evaluate';
import type { ExecutionProvider, ExecutionProviderChoice } from './ort';
import { scheduleScheduler, type Policy } from './policy';
import { Rng } from '../core/rng';
import { updateTable, type ChunkInputs } from './runner';
import { openChunkRunner, type ChunkRunner } from './chunk-runner';
import { foldedStepModel } from './onnx/chunk-step';
import type { NoiseScheduler } from './samplers';

/**
 * Measures sampler configurations side by side — the full model at any sampler and K, and cache
 * schedules — on the same observation windows and the same noise draws, at batch 1 (the robot's
 * case): wall time per chunk against a reference configuration, and the offline quality measures of
 * core/quality.ts. Runs are interleaved per window so machine-load drift hits every configuration
 * alike. Used by `bac sweep`, `bac eval`, `npm run demo` and `npm run replicate`.
 */

/** Runs one action chunk of one configuration. */
export type ConfigChunkRunner = (inputs: ChunkInputs) => Promise<Float32Array>;

/**
 * What runs configurations: open one per configuration, release all at the end. The sweep and the
 * fewer-step comparison use the chunk graphs ({@link openChunkGraphRunners}, one ORT call per
 * chunk) — the fastest runner a user can deploy, so their costs are what deployment pays.
 */
export interface ConfigRunners {
  /** Which runner measured the costs, for reports. */
  readonly description: string;
  /** Execution provider in use, e.g. `cpu`. */
  readonly provider: string;
  /** Prepares a configuration (sampler and schedule; the full model when every block updates every step). */
  open(scheduler: NoiseScheduler, schedule: Schedule): Promise<ConfigChunkRunner>;
  release(): Promise<void>;
}

/**
 * One chunk graph per configuration (`chunk-runner.ts`; the full model's is the graph with every
 * block at every step), batch 1, one intra-op thread, all built from one folded step. Building a
 * K-step graph costs O(K · nodes) and one session; sessions live until `release`.
 */
export async function openChunkGraphRunners(
  policy: Policy,
  ep: ExecutionProviderChoice,
  threads = 1,
): Promise<ConfigRunners> {
  const step = await foldedStepModel(policy.bytes, 1, policy.info.name);
  const blockIds = policy.info.blocks.map((b) => b.id);
  const opened: ChunkRunner[] = [];
  // `auto` is resolved by the first session; later ones use what it chose
  let provider: ExecutionProvider | undefined;
  return {
    description: `chunk graphs, one ONNX Runtime call per chunk, batch 1 (${threads} thread${threads === 1 ? '' : 's'})`,
    get provider() {
      return provider ?? String(ep);
    },
    open: async (scheduler, schedule) => {
      const updates = isFullSchedule(schedule) ? 'full' : updateTable(schedule, blockIds);
      const runner = await openChunkRunner(policy, scheduler, updates, { ep: provider ?? ep, threads, step });
      provider = runner.provider;
      opened.push(runner);
      return (inputs) => runner.runChunk(inputs);
    },
    release: async () => {
      for (const r of opened.splice(0)) await r.close();
    },
  };
}

/** A configuration to measure: its grid point and the schedule it runs (sampler type and K included). */
export interface MeasuredConfig {
  readonly config: SweepConfig;
  readonly schedule: Schedule;
}

/** Raw measurements of one configuration on one window: one entry per noise draw. */
export interface ConfigWindowRecord {
  readonly ms: number[];
  readonly demoMse: number[];
  /** Mean |a − a_full| against the same sampler's full model on the same noise; null for full configs. */
  readonly fullError: number[] | null;
}

/** Raw measurements of every configuration on one window, by {@link configId}. */
export type WindowRecord = Record<string, ConfigWindowRecord>;

/** Noise seed of window i, draw d (the same for every configuration: common random numbers). */
function noiseSeed(seed: number, window: number, draw: number): number {
  return (seed * 1_000_003 + window * 1_009 + draw * 7_919) >>> 0;
}

/**
 * Measures `configs` on `windows[start…]`, `draws` noise draws each, calling `onWindow` with each
 * finished window's record (so callers can persist progress). Every configuration whose schedule is
 * not full needs its sampler's full configuration in `configs` (for `fullError`).
 * O(windows · draws · Σ configs' chunk cost).
 * @throws BacError when `signal` aborts (between runs), or a cached configuration lacks its full model.
 */
export async function measureWindows(
  policy: Policy,
  windows: readonly DemoWindow[],
  configs: readonly MeasuredConfig[],
  runners: ConfigRunners,
  options: {
    draws: number;
    seed: number;
    start?: number;
    signal?: AbortSignal;
    onWindow?: (index: number, record: WindowRecord) => void | Promise<void>;
  },
): Promise<void> {
  const samplerKey = (c: SweepConfig) => `${c.sampler}-${c.steps}`;
  const fullOf = new Map(configs.filter((c) => c.config.method === 'full').map((c) => [samplerKey(c.config), c]));
  // Full configurations first: their actions are what cached ones are compared with.
  const ordered = [...configs].sort((a, b) => Number(a.config.method !== 'full') - Number(b.config.method !== 'full'));
  const prepared = [];
  for (const c of ordered) {
    if (c.config.method !== 'full' && !fullOf.has(samplerKey(c.config))) {
      throw new BacError(`${configId(c.config)} needs ${samplerKey(c.config)}/full in the grid to compare with`);
    }
    const scheduler = scheduleScheduler(policy, c.schedule, configId(c.config));
    prepared.push({ c, run: await runners.open(scheduler, c.schedule) });
  }
  const size = policy.horizon * policy.actionDim;
  const inputsFor = (w: DemoWindow, i: number, d: number): ChunkInputs => {
    const s = noiseSeed(options.seed, i, d);
    return { batch: 1, cond: w.obs, initialSample: new Rng(s).normalArray(size), noise: new Rng(s ^ 0x5bd1e995) };
  };
  // One untimed chunk per configuration so session and allocation start-up is not measured.
  if (windows[0]) for (const p of prepared) await p.run(inputsFor(windows[0], 0, 0));
  for (let i = options.start ?? 0; i < windows.length; i++) {
    const w = windows[i]!;
    const record: WindowRecord = {};
    const fullActions = new Map<string, Float32Array[]>();
    for (let d = 0; d < options.draws; d++) {
      for (const { c, run } of prepared) {
        if (options.signal?.aborted) throw new BacError('interrupted: the sweep was cancelled');
        const t0 = performance.now();
        const out = await run(inputsFor(w, i, d));
        const ms = performance.now() - t0;
        const act = executedActions(policy, out);
        const id = configId(c.config);
        const rec = (record[id] ??= { ms: [], demoMse: [], fullError: c.config.method === 'full' ? null : [] });
        rec.ms.push(ms);
        rec.demoMse.push(meanSquaredError(act, w.demo));
        const key = samplerKey(c.config);
        if (c.config.method === 'full') fullActions.set(key, [...(fullActions.get(key) ?? []), act]);
        else rec.fullError!.push(meanAbsoluteError(act, fullActions.get(key)![d]!));
      }
    }
    await options.onWindow?.(i, record);
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
}

/**
 * Aggregates window records into one result per configuration: measured speedup = total reference
 * time / total time over the same runs; quality measures over windows × draws.
 * @throws BacError when a configuration or the reference is missing from a record.
 */
export function aggregateRecords(
  records: readonly WindowRecord[],
  configs: readonly MeasuredConfig[],
  reference: SweepConfig,
): SweepResult[] {
  const refId = configId(reference);
  const refConfig = configs.find((c) => configId(c.config) === refId);
  if (!refConfig) throw new BacError(`the reference ${refId} is not among the configurations`);
  const get = (id: string) =>
    records.map((r, i) => {
      const rec = r[id];
      if (!rec) throw new BacError(`window ${i} has no measurement of ${id}`);
      return rec;
    });
  const total = (recs: readonly ConfigWindowRecord[]) => recs.reduce((a, r) => a + r.ms.reduce((x, y) => x + y, 0), 0);
  const refTotal = total(get(refId));
  const refFlops = chunkFlops(refConfig.schedule);
  return configs.map((c) => {
    const recs = get(configId(c.config));
    const demo = summarizeErrors(recs.map((r) => r.demoMse));
    const full = c.config.method === 'full' ? null : summarizeErrors(recs.map((r) => r.fullError!)).mean;
    return {
      config: c.config,
      updates: scheduleUpdates(c.schedule),
      expectedSpeedupFlops: refFlops / chunkFlops(c.schedule),
      chunkMs: median(recs.flatMap((r) => r.ms)),
      measuredSpeedup: refTotal / total(recs),
      // reference-distance and closed-loop-failure need passes of their own: the sweep adds them
      quality: {
        'demo-mse': demo.mean,
        'demo-mse-best-of-n': demo.bestOfN,
        'reference-distance': null,
        'full-model-error': full,
        'closed-loop-failure': null,
      },
    };
  });
}

/**
 * The fewer-step comparison of `bac eval` and `npm run demo`: the given schedules beside the full
 * model under their sampler (the reference) and under DDPM (strided), DDIM and DPM-Solver++ at
 * fewer steps ({@link defaultSamplers}), on `samples` windows × `draws` noise draws, measured at
 * batch 1 with the chunk graphs ({@link openChunkGraphRunners}). The reference is
 * `options.reference`, else the first schedule's sampler and K; a schedule under another sampler
 * needs that sampler among the fewer-step ones.
 */
export async function compareWithFewerSteps(
  policy: Policy,
  episodesPath: string,
  schedules: readonly MeasuredConfig[],
  options: {
    samples: number;
    draws: number;
    seed: number;
    ep: ExecutionProviderChoice;
    reference?: SamplerAtK;
    /** Model and block costs of the full-model rows when `schedules` is empty. */
    template?: Schedule;
  },
): Promise<{ results: SweepResult[]; reference: SweepConfig; provider: string; runner: string }> {
  const template = schedules[0]?.schedule ?? options.template;
  if (!template) throw new BacError('compareWithFewerSteps: no schedule and no template to compare');
  const ref = options.reference ?? { sampler: template.sampler.type, steps: template.sampler.steps };
  const reference: SweepConfig = { ...ref, method: 'full', budget: null };
  const fulls = defaultSamplers(ref).map((s) => ({
    config: { ...s, method: 'full' as const, budget: null },
    schedule: fullSchedule(template, { type: s.sampler, steps: s.steps }),
  }));
  const configs = [...fulls, ...schedules];
  const windows = await loadDemoWindows(policy, episodesPath, options.samples, options.seed);
  const runners = await openChunkGraphRunners(policy, options.ep);
  const records: WindowRecord[] = [];
  try {
    await measureWindows(policy, windows, configs, runners, {
      draws: options.draws,
      seed: options.seed,
      onWindow: (_, r) => void records.push(r),
    });
  } finally {
    await runners.release();
  }
  return {
    results: aggregateRecords(records, configs, reference),
    reference,
    provider: runners.provider,
    runner: runners.description,
  };
}
