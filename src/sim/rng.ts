/**
 * A small seeded pseudo-random number generator for the demo simulator.
 *
 * Pure TypeScript, no Node imports, so the simulator runs unchanged in the engine, the CLI and a
 * webview. Determinism matters more than statistical perfection here: episode files, the expert and
 * closed-loop evaluation must reproduce bit-for-bit from a seed on every platform, which is why we
 * use 32-bit integer arithmetic (`Math.imul`, `>>> 0`) only and never `Math.random`.
 */

/** Seeded PRNG with the few distributions the simulator and expert need. */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Standard normal sample (Box–Muller; one value per call, the pair's twin is cached). */
  normal(): number;
  /** `true` with probability `p`. */
  bernoulli(p: number): boolean;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/**
 * SplitMix32-style integer hash. Used to turn arbitrary (possibly small, consecutive) seeds into
 * well-spread 32-bit states, and to derive independent sub-seeds (e.g. layout vs. expert noise).
 */
export function hashSeed(seed: number, salt = 0): number {
  let z = (Math.trunc(seed) ^ Math.imul(salt + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Create a Mulberry32 generator. Two generators created with the same seed produce identical
 * streams; `salt` derives an independent stream from the same seed.
 */
export function createRng(seed: number, salt = 0): Rng {
  let state = hashSeed(seed, salt);
  let spare: number | null = null;

  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    normal: () => {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      // 1 - u keeps the logarithm's argument in (0, 1].
      const u = 1 - next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    bernoulli: (p) => next() < p,
    int: (n) => Math.floor(next() * n),
  };
}
