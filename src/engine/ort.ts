import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { BacError } from '../core/errors';

/**
 * ONNX Runtime sessions with an explicit execution-provider policy. ORT does not fall back by
 * itself (asking for `['cuda', 'cpu']` without the CUDA provider libraries throws), so the policy
 * lives here: `auto` tries CUDA when its libraries are installed, then WebGPU when an adapter may
 * exist, then CPU, and the choice is reported in one line the user can act on.
 */

/** What the user asks for (setting `bac.executionProvider`, CLI `--ep`). */
export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda' | 'webgpu';

/** Execution providers BAC Studio knows how to open. */
export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

/** All valid choices, for argument validation. */
export const EXECUTION_PROVIDER_CHOICES: readonly ExecutionProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu'];

/** An open session and how it came to run where it runs. */
export interface OpenedSession {
  /** The session. Release it with `session.release()`. */
  readonly session: Ort.InferenceSession;
  /** The provider the session runs on. */
  readonly provider: ExecutionProvider;
  /**
   * What to tell the user: one line, `execution provider: X (why)`; with `BAC_VERBOSE=1` every
   * decision (e.g. ORT's message when CUDA failed) precedes it. Shown in logs and `--json` output.
   */
  readonly notes: readonly string[];
}

/** Options of {@link openSession}. */
export interface OpenSessionOptions {
  /** ORT intra-op threads (CPU); default: ORT's choice. */
  readonly intraOpNumThreads?: number;
  /** Default `all`; chunk graphs come optimised and open with `basic` (see `onnx/chunk-step.ts`). */
  readonly graphOptimizationLevel?: 'basic' | 'all';
  /** The model's file name for messages when `model` is bytes. */
  readonly name?: string;
}

/** How a user installs the CUDA provider libraries (onnxruntime-node's own install script). */
export const CUDA_INSTALL_HINT =
  'install them with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` ' +
  '(needs the network and CUDA runtime libraries; see README "GPU")';

/** Loads onnxruntime-node lazily so that importing the engine never loads the native addon. */
export function loadOrt(): typeof Ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('onnxruntime-node') as typeof Ort;
}

/** Directory holding the native binding and its provider libraries for this platform. */
function ortBinaryDir(): string | null {
  try {
    const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
    return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** Why CUDA cannot be tried here, or null when its provider libraries are present. */
export function cudaUnavailableReason(): string | null {
  if (process.platform !== 'linux' && process.platform !== 'win32') {
    return `CUDA is not offered by onnxruntime-node on ${process.platform}`;
  }
  const dir = ortBinaryDir();
  if (!dir) return 'onnxruntime-node is not installed';
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(join(dir, lib)) ? null : `the CUDA provider library ${lib} is not installed; ${CUDA_INSTALL_HINT}`;
}

/** The first line of an error message, at most 300 characters (ORT messages can carry whole paths and dumps). */
function firstLine(e: unknown): string {
  const line = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/**
 * ONNX Runtime refused a model: it did not load (e.g. a graph cycle, a dangling input) or a run
 * failed inside it (e.g. a broadcast between mismatched shapes). A user error: the model is
 * broken, whatever the caller fed it was derived from the model's own contract.
 */
export class ModelRejectedError extends BacError {
  constructor(
    /** The model file as the user named it; null when only bytes were at hand (see {@link withModel}). */
    readonly model: string | null,
    readonly phase: 'load' | 'run',
    /** ORT's own first line. */
    readonly detail: string,
  ) {
    super(
      phase === 'load'
        ? `${model ?? 'model'}: ONNX Runtime cannot load the model: ${detail}; expected a valid ONNX file (opset 13–26), check it with onnx.checker or re-export it`
        : `${model ?? 'model'}: ONNX Runtime failed running the model: ${detail}; expected a model that runs on inputs of its declared shapes, check it with onnx.checker or re-export it`,
    );
    this.name = 'ModelRejectedError';
  }

  /** The same error naming the model file (for callers that opened it from bytes). */
  withModel(model: string): ModelRejectedError {
    return this.model === null ? new ModelRejectedError(model, this.phase, this.detail) : this;
  }
}

/** Environment variable that makes provider decisions and ORT's own logs verbose (`bac --verbose`). */
export const VERBOSE_ENV = 'BAC_VERBOSE';
const verbose = (): boolean => process.env[VERBOSE_ENV] === '1';

/**
 * Makes every `run` of `session` reject with a {@link ModelRejectedError} instead of ORT's bare
 * error, so a model that fails inside ORT is reported as the user's broken model, not as a bug.
 */
function rejectRunsAsModelErrors(session: Ort.InferenceSession, name: string | null): Ort.InferenceSession {
  const run = session.run.bind(session) as (...args: unknown[]) => Promise<Ort.InferenceSession.ReturnType>;
  const guarded = async (...args: unknown[]): Promise<Ort.InferenceSession.ReturnType> => {
    try {
      return await run(...args);
    } catch (e) {
      throw new ModelRejectedError(name, 'run', firstLine(e));
    }
  };
  Object.defineProperty(session, 'run', { value: guarded, writable: true, configurable: true });
  return session;
}

async function create(
  ort: typeof Ort,
  model: string | Uint8Array,
  provider: ExecutionProvider,
  options: OpenSessionOptions,
): Promise<Ort.InferenceSession> {
  const sessionOptions: Ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    // ORT's own log lines (coloured, several per failure) would duplicate the one message BAC
    // reports; `--verbose` shows them.
    logSeverityLevel: verbose() ? 2 : 4,
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  };
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, sessionOptions)
    : ort.InferenceSession.create(model, sessionOptions);
}

/** Directories a Vulkan ICD (driver) manifest is installed in (the Khronos loader's search path). */
const VULKAN_ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
/** Library directories searched for the Vulkan loader, besides LD_LIBRARY_PATH. */
const LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib64',
  '/lib',
];

/**
 * Why WebGPU is not worth trying under `auto`, or null when an adapter may exist. ORT's WebGPU is
 * Dawn, which on Linux needs the Vulkan loader and a driver; probing without them prints Dawn's
 * native warning and a stack line to stderr, which `auto` must not inflict on a user who asked for
 * nothing GPU-related. macOS (Metal) and Windows (D3D12) are always worth a try.
 */
export function webgpuUnlikelyReason(env: NodeJS.ProcessEnv = process.env): string | null {
  if (process.platform !== 'linux') return null;
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  if (!dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) {
    return 'no Vulkan loader (libvulkan.so.1), so no WebGPU adapter';
  }
  const explicit = (env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES ?? '').split(':').filter(Boolean);
  const hasDriver =
    explicit.some((f) => existsSync(f)) ||
    VULKAN_ICD_DIRS.some((d) => {
      try {
        return readdirSync(d).some((f) => f.endsWith('.json'));
      } catch {
        return false;
      }
    });
  return hasDriver ? null : 'no Vulkan driver (ICD manifest), so no WebGPU adapter';
}

/**
 * Opens a session on the chosen provider. `auto`: CUDA if its libraries are installed and the
 * session opens, else WebGPU if an adapter may exist ({@link webgpuUnlikelyReason}), else CPU. An
 * explicit `cuda` or `webgpu` that fails also falls back to CPU, with the reason reported (a run
 * that silently changed device would make timings meaningless).
 *
 * `notes` is one line, `execution provider: X (why)`; with `BAC_VERBOSE=1` every decision comes
 * first. Every `session.run` rejects with {@link ModelRejectedError} when ORT fails inside the model.
 * @throws ModelRejectedError when even the CPU session cannot be created (e.g. a graph cycle).
 */
export async function openSession(
  model: string | Uint8Array,
  choice: ExecutionProviderChoice,
  options: OpenSessionOptions = {},
): Promise<OpenedSession> {
  const ort = loadOrt();
  const name = options.name ?? (typeof model === 'string' ? model : null);
  const details: string[] = [];
  const why: string[] = [];
  const opened = (session: Ort.InferenceSession, provider: ExecutionProvider, reason: string): OpenedSession => {
    const summary = `execution provider: ${provider} (${reason}${why.length ? `: ${why.join('; ')}` : ''})`;
    return {
      session: rejectRunsAsModelErrors(session, name),
      provider,
      notes: verbose() ? [...details, summary] : [summary],
    };
  };
  const candidates: ExecutionProvider[] = choice === 'auto' ? ['cuda', 'webgpu'] : choice === 'cpu' ? [] : [choice];
  for (const provider of candidates) {
    const label = provider === 'cuda' ? 'CUDA' : 'WebGPU';
    const reason = provider === 'cuda' ? cudaUnavailableReason() : choice === 'auto' ? webgpuUnlikelyReason() : null;
    if (reason) {
      details.push(`${label} skipped: ${reason}.`);
      why.push(provider === 'cuda' ? 'CUDA provider library not installed' : reason);
      continue;
    }
    try {
      const session = await create(ort, model, provider, options);
      details.push(`Running on ${provider}.`);
      return opened(session, provider, choice === 'auto' ? 'auto' : 'requested');
    } catch (e) {
      details.push(`${label} session failed: ${firstLine(e)}.`);
      why.push(`${label} failed to open: ${firstLine(e).slice(0, 200)}`);
    }
  }
  try {
    const session = await create(ort, model, 'cpu', options);
    details.push(choice === 'cpu' ? 'Running on cpu (requested).' : 'Running on cpu (fallback).');
    return opened(
      session,
      'cpu',
      choice === 'cpu' ? 'requested' : choice === 'auto' ? 'auto' : `${choice} requested, fell back`,
    );
  } catch (e) {
    throw new ModelRejectedError(name, 'load', firstLine(e));
  }
}
