import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { BacError } from '../core/errors';

/**
 * ONNX Runtime sessions with an explicit execution-provider policy. ORT does not fall back by
 * itself (asking for `['cuda', 'cpu']` without the CUDA provider libraries throws), so the policy
 * lives here: `auto` tries CUDA when its libraries are installed, then WebGPU, then CPU, and every
 * decision is reported in words the user can act on.
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
  /** One line per decision, e.g. why CUDA was skipped; shown in logs and `--json` output. */
  readonly notes: readonly string[];
}

/** Options of {@link openSession}. */
export interface OpenSessionOptions {
  /** ORT intra-op threads (CPU); default: ORT's choice. */
  readonly intraOpNumThreads?: number;
  /** Default `all`; chunk graphs come optimised and open with `basic` (see `onnx/chunk-step.ts`). */
  readonly graphOptimizationLevel?: 'basic' | 'all';
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

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
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
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
  };
  return typeof model === 'string'
    ? ort.InferenceSession.create(model, sessionOptions)
    : ort.InferenceSession.create(model, sessionOptions);
}

/**
 * Opens a session on the chosen provider. `auto`: CUDA if its libraries are installed and the
 * session opens, else WebGPU if an adapter exists, else CPU. An explicit `cuda` or `webgpu` that
 * fails also falls back to CPU, with the reason in `notes` (a run that silently changed device would
 * make timings meaningless, so the reason is always reported).
 * @throws BacError when even the CPU session cannot be created (e.g. the file is not a valid model).
 */
export async function openSession(
  model: string | Uint8Array,
  choice: ExecutionProviderChoice,
  options: OpenSessionOptions = {},
): Promise<OpenedSession> {
  const ort = loadOrt();
  const notes: string[] = [];
  const candidates: ExecutionProvider[] = choice === 'auto' ? ['cuda', 'webgpu'] : choice === 'cpu' ? [] : [choice];
  for (const provider of candidates) {
    if (provider === 'cuda') {
      const reason = cudaUnavailableReason();
      if (reason) {
        notes.push(`CUDA skipped: ${reason}.`);
        continue;
      }
    }
    try {
      const session = await create(ort, model, provider, options);
      notes.push(`Running on ${provider}${choice === 'auto' ? ' (auto: first provider that opened)' : ''}.`);
      return { session, provider, notes };
    } catch (e) {
      notes.push(`${provider === 'cuda' ? 'CUDA' : 'WebGPU'} session failed: ${firstLine(e)}.`);
    }
  }
  try {
    const session = await create(ort, model, 'cpu', options);
    notes.push(choice === 'cpu' ? 'Running on cpu (requested).' : 'Running on cpu (fallback).');
    return { session, provider: 'cpu', notes };
  } catch (e) {
    const name = typeof model === 'string' ? model : 'model';
    throw new BacError(
      `${name}: ONNX Runtime cannot load the model: ${firstLine(e)}; expected a valid ONNX file (opset 13–26)`,
    );
  }
}
