import { decoderBlocks, blockId } from '../../../src/core/blocks';
import type { BlockProfile, Profile } from '../../../src/core/types';
import { seededRandom } from './rng';

/**
 * A small seeded profile for solver tests: L layers, K steps, similarity decaying with step distance
 * at a per-block rate (so blocks differ), ℓ per block from the rate.
 */
export function tinyProfile(layers: number, K: number, seed = 1): Profile {
  const rnd = seededRandom(seed);
  const blocks: BlockProfile[] = decoderBlocks(layers).map((ref) => {
    const rate = 0.02 + rnd() * 0.2;
    const simMean = new Float32Array(K * K);
    for (let i = 0; i < K; i++)
      for (let j = 0; j < K; j++)
        simMean[i * K + j] = Math.exp(-rate * Math.abs(i - j) * (1 + (Math.max(i, j) / K) * rnd() * 0.1));
    for (let i = 0; i < K; i++) for (let j = 0; j < i; j++) simMean[i * K + j] = simMean[j * K + i]!;
    return {
      id: blockId(ref),
      ...ref,
      simMean,
      simStd: new Float32Array(K * K),
      l1Mean: rate,
      l1Std: 0,
      cost: { flops: ref.kind === 'ffn' ? 2000 : 1000, timeUs: ref.kind === 'ffn' ? 20 : 10 },
    };
  });
  return {
    model: { path: 'model.onnx', sha256: 'a'.repeat(64) },
    sampler: { type: 'ddpm', steps: K },
    samples: 4,
    seed,
    episodes: 'episodes.hdf5',
    executionProvider: 'cpu',
    createdAt: '2026-01-01T00:00:00.000Z',
    baseCost: { flops: 500, timeUs: 5 },
    blocks,
  };
}
