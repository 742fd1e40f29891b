/**
 * `bac eval`: measured speedup of the cached runner against the full model and the action error it
 * causes, for a schedule and for the Uniform / Unified-ACS / ACS-without-BUA baselines at the same
 * budget (docs/method.md "CLI").
 */
import { dirname, resolve } from 'node:path';
import { buildBaseline, BASELINE_LABELS, uniformSteps, type BaselineKind } from '../core/baselines';
import { composeBlock } from '../core/solve';
import { formatSpeedup, summarizeSchedule } from '../core/cost';
import { BacError } from '../core/errors';
import { checkModelPin } from '../core/model-pin';
import { serializeSchedule } from '../core/schedule-format';
import type { Profile, Schedule } from '../core/types';
import { evaluate, type Evaluation, type NamedSchedule } from '../engine/evaluate';
import { evaluationRecord } from '../engine/measure-speed';
import { writeFileAtomic } from './fsutil';
import { sha256Bytes, sha256File } from '../engine/fsutil';
import { ModelRejectedError } from '../engine/ort';
import { loadPolicy, scheduleScheduler } from '../engine/policy';
import { loadProfile } from '../engine/profile-file';
import { compareWithFewerSteps } from '../engine/sweep-measure';
import { loadWindows } from '../engine/profiler';
import { UsageError, windowSamplingOptions, type CommandResult } from './args';
import { table } from './info';
import { loadSchedule } from './load';
import { COMMON_OPTIONS, flagOption, parseCommand, valueOption } from './options';
import { sweepTable } from './sweep';

/** Samples when `--samples` is not given. */
export const DEFAULT_EVAL_SAMPLES = 16;

/** Noise draws per window of the fewer-step comparison. */
const EVAL_DRAWS = 2;

/** Printed under every fewer-step table. */
export const FEWER_STEPS_NOTE =
  "Speedups measured in this process against the full model under the schedule's sampler; on a machine shared with other work they are affected by contention. No offline measure here is known to predict closed-loop success.";

/** `bac eval`'s usage and options (its `--help`). */
export const EVAL_SPEC = {
  name: 'eval',
  positional: 'schedule (S.bacschedule)',
  usage: 'S.bacschedule --episodes E [options]',
  about: `Runs the model the schedule names on N observation windows, in full and once per schedule as a
chunk graph (one ONNX Runtime call per action chunk; same windows, same noise, one process, batch
1), and reports the measured speedup against the faster full-model runner (per-step loop or full
chunk graph) and the error of the executed actions in raw action units. Baselines at the same
budget: Uniform, and — when the schedule's profile is available — Unified ACS and ACS without BUA.
Then, at equal measured cost, the full model under DDPM (strided), DDIM and DPM-Solver++ at fewer
steps beside the schedule, with errors against the recorded demonstrations (docs/sweep.md).`,
  options: {
    episodes: valueOption('E', 'robomimic HDF5, diffusion_policy zarr directory or .zarr.zip'),
    samples: valueOption('N', `observation windows (default ${DEFAULT_EVAL_SAMPLES})`),
    ep: COMMON_OPTIONS.ep,
    seed: COMMON_OPTIONS.seed(1),
    'no-record': flagOption(
      'do not record the measured speed in the schedule (by default it is stored',
      'as "measured", with provider, device and batch, and shown by the CodeLens)',
    ),
  },
};

/** The schedule's profile when it is present and unchanged; otherwise why not. */
async function linkedProfile(
  schedulePath: string,
  schedule: Schedule,
): Promise<{ profile: Profile } | { why: string }> {
  const ref = schedule.solver.profile;
  if (!ref) return { why: 'the schedule names no profile' };
  const path = resolve(dirname(schedulePath), ref.path);
  try {
    const { profile, bytes } = await loadProfile(path);
    if (sha256Bytes(bytes) !== ref.sha256) return { why: `${ref.path} changed since the schedule was solved` };
    return { profile };
  } catch {
    return { why: `${ref.path} cannot be read` };
  }
}

/** Per-row facts the evaluation does not know: budget label and expected speedup by FLOPs. */
export interface RowFacts {
  readonly budget: string;
  readonly expectedFlops: number;
}

/** Formats an evaluation as the table `npm run demo` and `bac eval` print. */
export function evaluationTable(
  ev: Evaluation,
  facts: ReadonlyMap<string, RowFacts>,
  K: number,
  blocks: number,
): string {
  const rows = [
    ['method', 'budget', 'updates', 'expected (FLOPs)', 'measured', 'chunk ms', 'action err mean', 'action err max'],
    [
      `Full (${ev.baseline})`,
      `K=${K}`,
      String(K * blocks),
      formatSpeedup(1),
      formatSpeedup(1),
      ev.fullChunkMs.toFixed(1),
      '0',
      '0',
    ],
    ...ev.results.map((r) => [
      r.name,
      facts.get(r.name)?.budget ?? '',
      String(r.updates),
      formatSpeedup(facts.get(r.name)?.expectedFlops ?? null),
      formatSpeedup(r.measuredSpeedup),
      r.chunkMs.toFixed(1),
      r.actionErrorMean.toExponential(2),
      r.actionErrorMax.toExponential(2),
    ]),
  ];
  return table(rows);
}

/** Runs `bac eval`. @throws BacError for user errors. */
export async function evalCommand(argv: readonly string[]): Promise<CommandResult> {
  const { values, positional: schedulePath } = parseCommand(EVAL_SPEC, argv);
  if (values.episodes === undefined) throw new UsageError('--episodes is missing', 'eval');
  const { ep, samples, seed } = windowSamplingOptions('eval', values, { samples: DEFAULT_EVAL_SAMPLES, seed: 1 });

  const schedule = await loadSchedule(schedulePath);
  const modelPath = resolve(dirname(resolve(schedulePath)), schedule.model.path);
  const sha = await sha256File(modelPath).catch(() => {
    throw new BacError(
      `${schedulePath}: model.path ${schedule.model.path} does not exist (resolved to ${modelPath}); move the model back or re-solve`,
    );
  });
  checkModelPin(schedule.model, sha, schedulePath);
  const policy = await loadPolicy(modelPath);
  // the sampler the schedule was profiled with (it may differ from the model's metadata)
  const scheduler = scheduleScheduler(policy, schedule, schedulePath);
  const windows = await loadWindows(policy, resolve(values.episodes), samples, seed);

  const budget = schedule.solver.budget;
  const named: NamedSchedule[] = [{ name: 'Schedule', schedule }];
  const linked = await linkedProfile(resolve(schedulePath), schedule);
  const notes: string[] = [];
  const kinds: BaselineKind[] = ['uniform', 'unified-acs', 'acs-no-bua'];
  for (const kind of kinds) {
    if (kind === 'uniform') {
      const steps = uniformSteps(schedule.sampler.steps, budget);
      const blocks = schedule.blocks.map((b) => composeBlock(b.id, b.cost, steps, []));
      named.push({
        name: BASELINE_LABELS[kind],
        schedule: { ...schedule, solver: { ...schedule.solver, topN: 0, profile: null }, blocks },
      });
    } else if ('profile' in linked) {
      named.push({
        name: BASELINE_LABELS[kind],
        schedule: buildBaseline(kind, linked.profile, schedule.model, budget, 0, schedule.solver.forceLast),
      });
    } else notes.push(`${BASELINE_LABELS[kind]} skipped: ${linked.why}`);
  }
  const facts = new Map(
    named.map((n) => [
      n.name,
      { budget: String(n.schedule.solver.budget), expectedFlops: summarizeSchedule(n.schedule).speedupFlops },
    ]),
  );
  const ev = await evaluate(policy, scheduler, windows, named, { ep, seed }).catch((e: unknown) => {
    throw e instanceof ModelRejectedError ? e.withModel(modelPath) : e;
  });
  // The same question at equal measured cost against the full model at fewer steps (other samplers
  // included): same windows (same seed), several noise draws, quality against the demonstrations.
  const { type, steps } = schedule.sampler;
  const uniform = named.find((n) => n.name === BASELINE_LABELS.uniform)!.schedule;
  const fewer = await compareWithFewerSteps(
    policy,
    resolve(values.episodes),
    [
      { config: { sampler: type, steps, method: 'schedule', budget }, schedule },
      { config: { sampler: type, steps, method: 'uniform', budget }, schedule: uniform },
    ],
    { samples, draws: EVAL_DRAWS, seed, ep },
  ).catch((e: unknown) => {
    throw e instanceof ModelRejectedError ? e.withModel(modelPath) : e;
  });
  const measured = evaluationRecord(schedule, ev, 0);
  if (!values['no-record']) {
    await writeFileAtomic(schedulePath, serializeSchedule({ ...schedule, measured }));
    notes.push(`measured speed recorded in ${schedulePath}`);
  }
  return {
    json: {
      command: 'eval',
      schedule: schedulePath,
      budget,
      samples: ev.samples,
      provider: ev.provider,
      fullChunkMs: ev.fullChunkMs,
      baseline: ev.baseline,
      fullLoopMs: ev.fullLoopMs,
      fullGraphMs: ev.fullGraphMs,
      results: ev.results.map((r) => ({ ...r, expectedSpeedupFlops: facts.get(r.name)?.expectedFlops })),
      measured,
      notes,
      fewerSteps: { reference: fewer.reference, runner: fewer.runner, draws: EVAL_DRAWS, results: fewer.results },
    },
    text: [
      ...ev.providerNotes,
      evaluationTable(ev, facts, schedule.sampler.steps, schedule.blocks.length),
      `${ev.samples} samples on ${ev.provider}; errors in raw action units over the executed actions`,
      ...notes,
      '',
      `At equal measured cost: the full model at fewer steps beside the schedule (${ev.samples} windows × ${EVAL_DRAWS} noise draws, quality against the recorded demonstrations; see docs/sweep.md):`,
      sweepTable(fewer.results),
      FEWER_STEPS_NOTE,
    ].join('\n'),
  };
}
