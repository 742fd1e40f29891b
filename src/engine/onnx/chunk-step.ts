/**
 * The one denoiser step a chunk graph unrolls: the plain model with its batch fixed, after ONNX
 * Runtime's basic optimisations (constant folding, redundant-node elimination; standard ONNX
 * operators only), read back from the file ORT writes with `optimizedModelFilePath`.
 *
 * Why not the exported graph as is: torch exports weight preprocessing (Slice/Transpose of the
 * attention's packed projection weights) and shape arithmetic as nodes. Unrolled K times, ORT
 * folds each step's copy into its own initializer — K copies of the weights (≈ +1.6 MB per step on
 * the demo) and minutes to open at K = 100. Folded once here, every unrolled step reads the same
 * initializers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BacError } from '../../core/errors';
import { loadOrt } from '../ort';
import { decodeOrThrow } from './inspect';
import type { ModelProto } from './proto';
import { specializeBatchBytes } from './specialize';

/**
 * The basic-optimised single step of `bytes` for batch `batch`, decoded (its tensors are views
 * into a buffer this function owns). Writes and removes one temporary file.
 * @throws BacError when ONNX Runtime cannot load the model.
 */
export async function foldedStepModel(bytes: Uint8Array, batch: number, name = 'model.onnx'): Promise<ModelProto> {
  const specialized = specializeBatchBytes(bytes, batch, name);
  const dir = await mkdtemp(join(tmpdir(), 'bac-step-'));
  try {
    const path = join(dir, 'step.onnx');
    const ort = loadOrt();
    try {
      const session = await ort.InferenceSession.create(specialized, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'basic',
        optimizedModelFilePath: path,
      });
      await session.release();
    } catch (e) {
      throw new BacError(
        `${name}: ONNX Runtime cannot load the model to fold its step: ${(e as Error).message.split('\n')[0]}`,
      );
    }
    return decodeOrThrow(await readFile(path), name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
