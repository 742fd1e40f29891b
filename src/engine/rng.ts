/**
 * Deterministic, seedable random numbers for sampler noise.
 *
 * xoshiro128** (Blackman & Vigna) seeded through splitmix32, uniforms with 53 random bits, and
 * Gaussians by the Box–Muller transform (both values of each pair are used). Pure 32-bit integer
 * arithmetic (`Math.imul`, `>>> 0`), so the stream is identical on every JS engine and platform.
 *
 * It does NOT reproduce torch's generator: where a trajectory must match PyTorch exactly, the noise
 * is passed in explicitly (see `samplers.ts`).
 */

/** splitmix32 step: returns the next state and a well-mixed 32-bit output (used only for seeding). */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return [s, z];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Seeded generator. Invariants: the same seed always yields the same sequence of `nextUint32`,
 * `uniform` and `normal` values, in any interleaving that is itself the same; the internal state is
 * never all-zero (xoshiro's only fixed point).
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Second Box–Muller value, kept for the next `normal()` call (null when none is pending). */
  private spare: number | null = null;

  /**
   * @param seed any integer; only its low 32 bits (and, for |seed| ≥ 2^32, a fold of the high bits)
   *   are used, so seeds that differ in the low 32 bits give unrelated streams.
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng seed must be a finite number, got ${seed}`);
    const lo = Math.trunc(seed) >>> 0;
    const hi = Math.trunc(seed / 4294967296) >>> 0;
    let st = (lo ^ Math.imul(hi, 0x27d4eb2d)) >>> 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [ns, z] = splitmix32(st);
      st = ns;
      out.push(z);
    }
    this.s0 = out[0]!;
    this.s1 = out[1]!;
    this.s2 = out[2]!;
    this.s3 = out[3]!;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniformly distributed unsigned 32-bit integer (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in the open interval (0, 1), 53 random bits (never exactly 0 or 1). */
  uniform(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b + 0.5) / 9007199254740992;
  }

  /** Standard normal N(0, 1) via Box–Muller. */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** A new Float32Array of `n` standard normal values. */
  normalArray(n: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal();
    return a;
  }
}
