import { BLOCK_KINDS, type BlockProfile, type Profile } from '../../../src/core/types';
import { seededRandom } from './rng';

export { seededRandom };

/** Options of {@link syntheticProfile}. */
export interface SyntheticProfileOptions {
  /** Decoder layers (3 blocks each). Default 2. */
  readonly layers?: number;
  /** K, denoising steps. Default 20. */
  readonly steps?: number;
  /** PRNG seed. Default 1. */
  readonly seed?: number;
  /** Observation samples N recorded in the profile. Default 8. */
  readonly samples?: number;
}

/**
 * A profile shaped like a real one without running a model: per block a smooth similarity matrix
 * Sim[i][j] = exp(−|w(i) − w(j)| / τ_b), a Laplacian kernel (positive definite, unit diagonal,
 * values in (0, 1]) over a warped step axis w(i) = (i / K)^γ_b, so features drift faster near the
 * end of sampling as in diffusion policies. τ_b, γ_b, ℓ_b and costs are drawn from the seed.
 * O(B·K²).
 */
export function syntheticProfile(options: SyntheticProfileOptions = {}): Profile {
  const { layers = 2, steps: K = 20, seed = 1, samples = 8 } = options;
  const rand = seededRandom(seed);
  const blocks: BlockProfile[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of BLOCK_KINDS) {
      const tau = 0.05 + 0.5 * rand();
      const gamma = 0.5 + 2 * rand();
      const w = Array.from({ length: K }, (_, i) => Math.pow(i / Math.max(K - 1, 1), gamma));
      const simMean = new Float32Array(K * K);
      const simStd = new Float32Array(K * K);
      for (let i = 0; i < K; i++) {
        for (let j = 0; j < K; j++) {
          const s = Math.exp(-Math.abs(w[i]! - w[j]!) / tau);
          simMean[i * K + j] = s;
          simStd[i * K + j] = samples > 1 ? 0.05 * (1 - s) * (0.5 + 0.5 * Math.sin(i + j)) ** 2 : 0;
        }
      }
      blocks.push({
        id: `${layer}.${kind}`,
        layer,
        kind,
        simMean,
        simStd,
        l1Mean: 0.01 + rand(),
        l1Std: 0.01 * rand(),
        cost: {
          flops: 1_000_000 * (1 + Math.floor(8 * rand())),
          timeUs: Math.round(1000 * rand()) / 10,
        },
      });
    }
  }
  return {
    model: { path: 'model.onnx', sha256: 'a'.repeat(64) },
    sampler: { type: 'ddpm', steps: K },
    samples,
    seed,
    episodes: 'episodes/pusht.zarr',
    executionProvider: 'cpu',
    createdAt: '2026-11-25T20:00:00.000Z',
    baseCost: { flops: 2_000_000, timeUs: 35.5 },
    blocks,
  };
}
