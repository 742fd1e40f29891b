/**
 * The one denoiser step a chunk graph unrolls: the plain model with its batch fixed, after ONNX
 * Runtime's graph optimisations, read back from the file ORT writes with `optimizedModelFilePath`.
 * `extended` (the default) folds constants and fuses MatMul/Gelu/LayerNorm patterns into ORT's
 * contrib operators (`com.microsoft` FusedMatMul, Gelu, SkipLayerNormalization: any ONNX Runtime
 * build runs them); `basic` keeps standard ONNX operators only. Optimising the one step here,
 * instead of letting ORT optimise the K unrolled copies when the chunk graph opens, is the cached
 * optimisation: a chunk graph then opens with level `basic` (constant-folding each step's time
 * embedding) — on the demo at K = 100 about 3× faster to open than the basic step opened at
 * level `all`, at the same chunk time.
 *
 * After ORT, two exact rewrites of our own that ORT does not make and that pay once per unrolled
 * step: layout chains fold into single Reshapes (`reshape-chains.ts`), and the condition tokens'
 * rows are split so the observation rows' work can leave the steps (`row-split.ts`).
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
import { foldReshapeChains } from './reshape-chains';
import { splitTimestepRows } from './row-split';
import { specializeBatchBytes } from './specialize';

/**
 * The optimised single step of `bytes` for batch `batch` (level `extended` by default, then the
 * rewrites above), decoded (its tensors are views into a buffer this function owns).
 * @throws BacError when ONNX Runtime cannot load the model.
 */
export async function foldedStepModel(
  bytes: Uint8Array,
  batch: number,
  name = 'model.onnx',
  level: 'basic' | 'extended' = 'extended',
): Promise<ModelProto> {
  const step = decodeOrThrow(await ortOptimized(specializeBatchBytes(bytes, batch, name), level, name), name);
  return { ...step, graph: splitTimestepRows(foldReshapeChains(step.graph!)).graph };
}

/**
 * `bytes` as ONNX Runtime optimises it at `level`, read back from the file ORT writes with
 * `optimizedModelFilePath` (one temporary file, removed). What `bac compile --chunk` ships, so a
 * deployer's session has nothing left to optimise and opens fast.
 * @throws BacError when ONNX Runtime cannot load the model.
 */
export async function ortOptimized(bytes: Uint8Array, level: 'basic' | 'extended', name: string): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'bac-step-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const ort = loadOrt();
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: level,
        optimizedModelFilePath: path,
        logSeverityLevel: 3,
      });
      await session.release();
    } catch (e) {
      throw new BacError(
        `${name}: ONNX Runtime cannot load the model to optimise it: ${(e as Error).message.split('\n')[0]}`,
      );
    }
    return await readFile(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
