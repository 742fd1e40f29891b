/**
 * 2-D vector helpers and the segment/disc distance test used for continuous collision checking.
 * Vectors are small immutable records rather than typed arrays so that strict indexed-access
 * checking never forces `undefined` handling in the simulator's arithmetic.
 */

/** A point or displacement in the plane. */
export interface Vec2 {
  readonly x: number;
  readonly y: number;
}

/** Construct a vector. */
export const vec = (x: number, y: number): Vec2 => ({ x, y });
/** a + b */
export const add = (a: Vec2, b: Vec2): Vec2 => ({ x: a.x + b.x, y: a.y + b.y });
/** a − b */
export const sub = (a: Vec2, b: Vec2): Vec2 => ({ x: a.x - b.x, y: a.y - b.y });
/** s·a */
export const scale = (a: Vec2, s: number): Vec2 => ({ x: a.x * s, y: a.y * s });
/** Dot product. */
export const dot = (a: Vec2, b: Vec2): number => a.x * b.x + a.y * b.y;
/** Euclidean norm. */
export const norm = (a: Vec2): number => Math.hypot(a.x, a.y);
/** Euclidean distance. */
export const dist = (a: Vec2, b: Vec2): number => Math.hypot(a.x - b.x, a.y - b.y);
/** Left-hand normal (a rotated by +90°). */
export const perp = (a: Vec2): Vec2 => ({ x: -a.y, y: a.x });

/** Unit vector along `a`; the zero vector stays zero (callers treat it as "no direction"). */
export function unit(a: Vec2): Vec2 {
  const n = norm(a);
  return n > 0 ? { x: a.x / n, y: a.y / n } : { x: 0, y: 0 };
}

/** Clip a vector's length to at most `maxLen`, keeping its direction. */
export function clipNorm(a: Vec2, maxLen: number): Vec2 {
  const n = norm(a);
  return n > maxLen ? scale(a, maxLen / n) : a;
}

/**
 * Smallest distance between point `p` and the closed segment [a, b]. Used so that a step of the
 * robot is checked along its whole path, not only at its end point (no tunnelling through discs).
 */
export function pointSegmentDistance(p: Vec2, a: Vec2, b: Vec2): number {
  const ab = sub(b, a);
  const len2 = dot(ab, ab);
  if (len2 === 0) return dist(p, a);
  const t = Math.min(1, Math.max(0, dot(sub(p, a), ab) / len2));
  return dist(p, add(a, scale(ab, t)));
}
