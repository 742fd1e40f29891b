/**
 * Deterministic, seedable random numbers: one API (`Rng`) with two generators.
 *
 * - `Rng` itself is xoshiro128** (Blackman & Vigna) seeded through splitmix32, with 53-bit
 *   uniforms in (0, 1): sampler noise, observation-window sampling, ℓ's element subsets.
 * - `Mulberry32Rng` (made by {@link createSimRng}) is the demo simulator's generator, with 32-bit
 *   uniforms in [0, 1). The demo's episodes, its expert and every closed-loop seed are defined by
 *   this stream, so it stays as it is rather than moving to xoshiro.
 *
 * Both use 32-bit integer arithmetic only (`Math.imul`, `>>> 0`), so each stream is identical on
 * every JS engine and platform; both draw Gaussians by the Box–Muller transform, using both values
 * of each pair. Neither reproduces torch's generator: where a trajectory must match PyTorch
 * exactly, the noise is passed in explicitly (see `samplers.ts`). Pure TypeScript (core).
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

/** 32-bit rotate left, as a signed 32-bit integer (the same bits as the unsigned value). */
function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Seeded generator (xoshiro128**). Invariants: the same seed always yields the same sequence of
 * values, in any interleaving of calls that is itself the same; the internal state is never
 * all-zero (xoshiro's only fixed point). Subclasses replace the bit source (`nextUint32`, `unit`)
 * and the Gaussian draw; `uniform`, `normalArray`, `bernoulli` and `int` are shared.
 */
export class Rng {
  // The state words are kept as signed 32-bit integers (`| 0`), not as unsigned ones (`>>> 0`): V8
  // stores small signed integers unboxed, while unsigned values ≥ 2^31 are heap numbers on every
  // write. The bits, and so the stream, are the same; only `nextUint32`'s result is unsigned.
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /**
   * Second Box–Muller value, kept for the next `normal()` call; NaN when none is pending (a
   * Box–Muller value never is). NaN rather than null keeps the field a plain double, which V8
   * updates in place instead of allocating a number per draw.
   */
  protected spare = NaN;

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
    this.s0 = out[0]! | 0;
    this.s1 = out[1]! | 0;
    this.s2 = out[2]! | 0;
    this.s3 = out[3]! | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const s2 = this.s2 ^ this.s0;
    const s3 = this.s3 ^ s1;
    this.s1 = s1 ^ s2;
    this.s0 = this.s0 ^ s3;
    this.s2 = s2 ^ t;
    this.s3 = rotl(s3, 11);
    return result;
  }

  /** The generator's unit draw: here 53 random bits in the open interval (0, 1). */
  protected unit(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b + 0.5) / 9007199254740992;
  }

  /**
   * Uniform in [lo, hi) from one unit draw (`lo + (hi − lo)·u`, so `uniform()` is the unit draw
   * itself, bit for bit). For `Rng` the default range is the open (0, 1).
   */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.unit();
  }

  /** Standard normal N(0, 1) via Box–Muller (one value per call, the pair's twin is kept). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    const u1 = this.unit();
    const u2 = this.unit();
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

  /** `true` with probability `p`. */
  bernoulli(p: number): boolean {
    return this.unit() < p;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.unit() * n);
  }
}

/**
 * SplitMix32-style integer hash. Turns arbitrary (possibly small, consecutive) seeds into
 * well-spread 32-bit states, and derives independent sub-seeds (e.g. layout vs. expert noise).
 */
export function hashSeed(seed: number, salt = 0): number {
  let z = (Math.trunc(seed) ^ Math.imul(salt + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** The demo simulator's generator: Mulberry32 over a hashed seed, 32-bit uniforms in [0, 1). */
export class Mulberry32Rng extends Rng {
  private state: number;

  constructor(seed: number, salt = 0) {
    super(0);
    this.state = hashSeed(seed, salt);
  }

  override nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** 32 random bits in [0, 1). */
  protected override unit(): number {
    return this.nextUint32() / 4294967296;
  }

  override normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    // 1 − u keeps the logarithm's argument in (0, 1].
    const u = 1 - this.unit();
    const v = this.unit();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/**
 * The simulator's generator for `seed`; `salt` derives an independent stream from the same seed.
 * Two generators made with the same arguments produce identical streams.
 */
export function createSimRng(seed: number, salt = 0): Rng {
  return new Mulberry32Rng(seed, salt);
}
