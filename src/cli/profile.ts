/**
 * `bac profile`: profile a BAC-ready ONNX policy on recorded episodes, in a child process, and
 * write the `.bacprofile` atomically (nothing is written on failure, Ctrl-C or a crash).
 */
import { resolve } from 'node:path';
import { BacError } from '../core/errors';
import { fsUserError, WriteInterruptedError } from '../engine/fsutil';
import { profileInChildProcess, ProfileCancelledError } from '../engine/profile-process';
import { DEFAULT_L1_ELEMENTS } from '../engine/profile-protocol';
import { SAMPLER_TYPES } from '../engine/samplers';
import {
  integerOption,
  onePositional,
  optionalIntegerOption,
  UsageError,
  windowSamplingOptions,
  type CommandResult,
} from './args';
import { checkOutput } from './fsutil';
import { parseCommand, valueOption } from './options';

/** Signals that cancel a profile (Ctrl-C, a terminating supervisor). */
const INTERRUPTS = ['SIGINT', 'SIGTERM'] as const;

/** Samples when `--samples` is not given. */
export const DEFAULT_PROFILE_SAMPLES = 32;

/** `bac profile`'s usage and options (its `--help`). */
export const PROFILE_SPEC = {
  name: 'profile',
  usage: '--model M.onnx --episodes E --out P.bacprofile [options]',
  about: `Runs the full sampler on N observation windows cut from the episodes, with every block updating,
and records per block its step-to-step cosine similarity matrix and reuse error (mean and spread
over the samples) and its cost per call (FLOPs from the graph, measured time).`,
  options: {
    model: valueOption('M', 'BAC-ready ONNX policy (see README "Model contract")'),
    episodes: valueOption('E', 'robomimic HDF5 (.hdf5), diffusion_policy zarr (.zarr directory or .zarr.zip)'),
    samples: valueOption('N', `observation windows to profile (default ${DEFAULT_PROFILE_SAMPLES})`),
    ep: valueOption('PROVIDER', 'execution provider: auto | cpu | cuda | webgpu (default auto)'),
    seed: valueOption('S', 'seed of the window choice and the sampler noise (default 0)'),
    batch: valueOption('B', 'samples per ONNX Runtime call (default 8)'),
    sampler: valueOption(
      'TYPE',
      "ddpm | ddim | dpmsolver++ (default: the model's bac.sampler); same training",
      'schedule, e.g. DPM-Solver++ for a DDPM-trained policy',
    ),
    steps: valueOption('K', "denoiser calls per action chunk (default: the model's num_inference_steps)"),
    'l1-elements': valueOption(
      'M',
      'elements per sample and block the reuse error is averaged over: a seeded',
      `random subset (default ${DEFAULT_L1_ELEMENTS}), or "all" for the exact value`,
    ),
    out: valueOption(
      'P',
      'the .bacprofile to write (atomically; checked before profiling, never the',
      'model or the episodes)',
    ),
  },
};

/** Runs `bac profile`. @throws BacError for user errors. */
export async function profileCommand(argv: readonly string[]): Promise<CommandResult> {
  const { values, positionals } = parseCommand(PROFILE_SPEC, argv);
  if (positionals.length > 0) onePositional('profile', [], 'argument');
  for (const name of ['model', 'episodes', 'out'] as const) {
    if (values[name] === undefined) throw new UsageError(`--${name} is missing`, 'profile');
  }
  const out = values.out!;
  if (!out.endsWith('.bacprofile')) {
    throw new UsageError(`--out ${out} does not end in .bacprofile, expected a path like ${out}.bacprofile`, 'profile');
  }
  const { ep, samples, seed } = windowSamplingOptions('profile', values, {
    samples: DEFAULT_PROFILE_SAMPLES,
    seed: 0,
  });
  const batchSize = optionalIntegerOption('profile', 'batch', values.batch, undefined, 1, 1024);
  const samplerType = values.sampler;
  if (samplerType !== undefined && !(SAMPLER_TYPES as readonly string[]).includes(samplerType)) {
    throw new UsageError(`--sampler ${samplerType} is not one of ${SAMPLER_TYPES.join(', ')}`, 'profile');
  }
  const steps = optionalIntegerOption('profile', 'steps', values.steps, undefined, 1);
  const l1Option = values['l1-elements'];
  const l1Elements =
    l1Option === undefined
      ? undefined
      : l1Option === 'all'
        ? Number.MAX_SAFE_INTEGER
        : integerOption('profile', 'l1-elements', l1Option, 1);

  const outPath = resolve(out);
  // before profiling: an unusable --out must fail in seconds, not after the whole run
  await checkOutput(out, [
    { path: values.model!, what: 'model' },
    { path: values.episodes!, what: 'episodes' },
  ]);

  // Ctrl-C or a SIGTERM kills the profiling child and reports "interrupted"; during the final
  // write, the atomic write's own handler removes its temp file and the write fails the same way.
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  for (const s of INTERRUPTS) process.on(s, onSignal);
  const logLines: string[] = [];
  const quiet = values.json === true;
  try {
    const outcome = await profileInChildProcess(
      {
        modelPath: resolve(values.model!),
        episodesPath: resolve(values.episodes!),
        samples,
        seed,
        executionProvider: ep,
        outPath,
        batchSize,
        l1Elements,
        samplerType,
        steps,
      },
      {
        signal: abort.signal,
        log: (line) => {
          logLines.push(line);
          if (!quiet) process.stderr.write(`${line}\n`);
        },
        onProgress: (p) => {
          if (quiet) return;
          const eta = p.etaMs === null ? '' : ` · ETA ${(p.etaMs / 1000).toFixed(0)} s`;
          process.stderr.write(`profiled ${p.done}/${p.total} samples${eta}\n`);
        },
      },
    );
    const p = outcome.profile;
    return {
      json: {
        command: 'profile',
        out,
        provider: outcome.provider,
        notes: outcome.notes,
        samples: p.samples,
        steps: p.sampler.steps,
        blocks: p.blocks.length,
        model: p.model,
        l1Elements: p.l1Elements,
      },
      text: `wrote ${out}: ${p.blocks.length} blocks × K = ${p.sampler.steps} steps from ${p.samples} samples on ${outcome.provider}`,
    };
  } catch (e) {
    if (e instanceof ProfileCancelledError)
      throw new BacError('interrupted: profiling was cancelled and no profile was written');
    if (e instanceof WriteInterruptedError) throw new BacError(`interrupted: ${e.message}`);
    throw fsUserError(e, out, 'write it', 'expected a writable path in an existing directory');
  } finally {
    for (const s of INTERRUPTS) process.removeListener(s, onSignal);
  }
}
