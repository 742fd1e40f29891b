import { blockId, decoderBlocks } from '../src/core/blocks';
import type { BlockProfile, Profile } from '../src/core/types';

/**
 * A deterministic DP-T-shaped profile (L layers × {sa, ca, ffn}, K steps) for benchmarks that
 * must not depend on a model run: similarity decays with step distance at a block-specific rate
 * and drops faster near the end of sampling, as profiles of trained policies do.
 */
export function syntheticProfile(layers: number, K: number): Profile {
  const blocks: BlockProfile[] = decoderBlocks(layers).map((ref, index) => {
    const rate = 0.01 + ((index * 7919) % 97) / 970;
    const simMean = new Float32Array(K * K);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        const late = 1 + (3 * Math.max(i, j)) / K;
        simMean[i * K + j] = Math.exp(-rate * late * Math.abs(i - j));
      }
    }
    return {
      id: blockId(ref),
      ...ref,
      simMean,
      simStd: new Float32Array(K * K),
      l1Mean: rate,
      l1Std: 0,
      cost: { flops: ref.kind === 'ffn' ? 2 * 10 * 256 * 1024 * 2 : 2 * 10 * 256 * 256 * 4, timeUs: 0 },
    };
  });
  return {
    model: { path: 'synthetic.onnx', sha256: '0'.repeat(64) },
    sampler: { type: 'ddpm', steps: K },
    samples: 1,
    seed: 0,
    episodes: '',
    executionProvider: 'cpu',
    createdAt: '1970-01-01T00:00:00.000Z',
    baseCost: { flops: 1e6, timeUs: 0 },
    blocks,
  };
}
