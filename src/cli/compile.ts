/**
 * `bac compile`: bake a schedule into a self-contained deployable ONNX model (see
 * docs/compiled-model.md for the calling convention).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { BacError } from '../core/errors';
import { checkModelPin } from '../core/model-pin';
import type { Schedule } from '../core/types';
import { compileChunk } from '../engine/chunk-compile';
import { checkCompiledModelLoads, compileScheduleDetailed } from '../engine/compile';
import { loadPolicy } from '../engine/policy';
import { optionalIntegerOption, UsageError, type CommandResult } from './args';
import { checkOutput, writeFileAtomic } from './fsutil';
import { loadSchedule } from './load';
import { flagOption, parseCommand, valueOption } from './options';

/** `bac compile`'s usage and options (its `--help`). */
export const COMPILE_SPEC = {
  name: 'compile',
  positional: 'schedule (S.bacschedule)',
  usage: 'S.bacschedule --out M.cached.onnx [--batch B] [--chunk] [--json]',
  about: `Writes the If-gated model with the schedule baked in as a constant [K, blocks] table indexed by an
int64 input \`step\`; the packed block cache is state (\`bac_cache\` in, \`bac_cache_out\` out). A robot
loop needs only its sampler: see docs/compiled-model.md. The model is the one the schedule names
(its sha256 must match).`,
  options: {
    out: valueOption(
      'M',
      'the .onnx to write (atomically, after ONNX Runtime loaded it; never the',
      'schedule or its model)',
    ),
    batch: valueOption(
      'B',
      'fix the batch axis to B (e.g. 1 on a robot): ONNX Runtime then folds the shape',
      'arithmetic and each call runs fewer nodes; the model accepts only batch B',
    ),
    chunk: flagOption(
      'write the chunk graph instead: one call runs a whole action chunk (the K',
      'sampler steps unrolled, the schedule and the sampler inside; inputs cond,',
      'initial_sample and, for samplers that draw noise, step_noise); batch fixed',
      '(--batch, default 1)',
    ),
  },
};

/** Runs `bac compile`. @throws BacError for user errors. */
export async function compileCommand(argv: readonly string[]): Promise<CommandResult> {
  const { values, positional: schedulePath } = parseCommand(COMPILE_SPEC, argv);
  if (values.out === undefined)
    throw new UsageError('--out is missing, expected e.g. --out policy.cached.onnx', 'compile');
  if (!values.out.endsWith('.onnx')) throw new UsageError(`--out ${values.out} does not end in .onnx`, 'compile');
  const batch = optionalIntegerOption('compile', 'batch', values.batch, undefined, 1);
  const schedule = await loadSchedule(schedulePath);
  const modelPath = resolve(dirname(resolve(schedulePath)), schedule.model.path);
  await checkOutput(values.out, [
    { path: schedulePath, what: 'schedule' },
    { path: modelPath, what: 'model' },
  ]);
  const bytes = await readFile(modelPath).catch(() => {
    throw new BacError(
      `${schedulePath}: model.path ${schedule.model.path} does not exist (resolved to ${modelPath}); move the model back or re-solve`,
    );
  });
  if (values.chunk) return chunkCompile(schedulePath, modelPath, schedule, values.out, batch ?? 1);
  const compiled = compileScheduleDetailed(bytes, schedule, {
    modelName: basename(modelPath),
    scheduleName: schedulePath,
    batch,
  });
  await checkCompiledModelLoads(compiled.bytes, basename(modelPath));
  await writeFileAtomic(values.out, compiled.bytes);
  return {
    json: {
      command: 'compile',
      out: values.out,
      steps: compiled.steps,
      blocks: compiled.gate.blocks.length,
      bytes: compiled.bytes.length,
      batch: batch ?? null,
    },
    text: `wrote ${values.out}: ${compiled.gate.blocks.length} gated blocks, schedule table K = ${compiled.steps}${batch === undefined ? '' : `, batch fixed to ${batch}`} (${(compiled.bytes.length / 1e6).toFixed(1)} MB)`,
  };
}

/** `bac compile --chunk`: the chunk graph (see `engine/chunk-compile.ts`). */
async function chunkCompile(
  schedulePath: string,
  modelPath: string,
  schedule: Schedule,
  out: string,
  batch: number,
): Promise<CommandResult> {
  const policy = await loadPolicy(modelPath);
  checkModelPin(schedule.model, policy.info.sha256, schedulePath);
  const compiled = await compileChunk(policy, schedule, batch, schedulePath);
  await writeFileAtomic(out, compiled.bytes);
  return {
    json: {
      command: 'compile',
      out,
      chunk: true,
      steps: compiled.steps,
      blocks: policy.info.blocks.length,
      bytes: compiled.bytes.length,
      batch,
    },
    text: `wrote ${out}: chunk graph of K = ${compiled.steps} steps (${schedule.sampler.type}), batch ${batch}, one ONNX Runtime call per action chunk (${(compiled.bytes.length / 1e6).toFixed(1)} MB)`,
  };
}
