import { costOf, type CostTarget } from '../core/cost-target';
import { scheduleBaseCost } from '../core/cost';
import type { Rng } from '../core/rng';
import { composeBlock } from '../core/solve';
import type { Profile, Schedule } from '../core/types';

/**
 * The moves a schedule search makes on update tables (row k, column i: block i recomputes at step
 * k), and the checks that keep a table valid: within the cost target, step 0 (and the last step with
 * forceLast) never changed. Shared by `bac tune`'s local and population searches and the fidelity
 * study's random perturbations, so "a random move within the cost" means one thing everywhere.
 */

/** Σ_i |C(i)|·c_i of a table (blocks in `costs` order), the cost the target bounds. */
function tableCost(table: Uint8Array, costs: readonly number[]): number {
  const n = costs.length;
  let s = 0;
  for (let i = 0; i < table.length; i++) if (table[i]) s += costs[i % n]!;
  return s;
}

/**
 * A table's schedule, written as its start plus edits: the start's solver parameters and sets, the
 * steps the search added as `manual` and those it removed as `manualOff`. So the file says which
 * family the search started from and what it changed, and re-solving it with the same controls
 * (the editor, `bac solve --out` over it) gives the same table instead of the start's. `table` has
 * the start's K rows and block columns. O(K · blocks).
 */
export function scheduleFromTable(base: Schedule, table: Uint8Array): Schedule {
  const K = base.sampler.steps;
  const n = base.blocks.length;
  const blocks = base.blocks.map((b, i) => {
    const solved = new Set([...b.acs, ...b.bua]);
    const manual: number[] = [];
    const manualOff: number[] = [];
    for (let k = 0; k < K; k++) {
      const on = table[k * n + i] === 1;
      if (on && !solved.has(k)) manual.push(k);
      if (!on && solved.has(k)) manualOff.push(k);
    }
    return composeBlock(b.id, b.cost, b.acs, b.bua, { manual, manualOff });
  });
  return { ...base, blocks };
}

/** One proposal: toggles of (step, block) cells; null when the move does not apply. */
function propose(rng: Rng, table: Uint8Array, K: number, n: number, fixed: (k: number) => boolean): number[] | null {
  const cell = (k: number, i: number) => k * n + i;
  const updatesOf = (i: number) => {
    const s: number[] = [];
    for (let k = 0; k < K; k++) if (table[cell(k, i)] && !fixed(k)) s.push(k);
    return s;
  };
  const freeOf = (i: number) => {
    const s: number[] = [];
    for (let k = 0; k < K; k++) if (!table[cell(k, i)] && !fixed(k)) s.push(k);
    return s;
  };
  const i = rng.int(n);
  const kind = rng.int(4);
  if (kind === 0) {
    // shift one update by ±1…3 steps
    const ups = updatesOf(i);
    if (ups.length === 0) return null;
    const k = ups[rng.int(ups.length)]!;
    const to = k + (rng.int(2) ? 1 : -1) * (1 + rng.int(3));
    if (to <= 0 || to >= K || fixed(to) || table[cell(to, i)]) return null;
    return [cell(k, i), cell(to, i)];
  }
  if (kind === 1) {
    // move an update of block i to another block j at a step j does not update
    const j = rng.int(n);
    const ups = updatesOf(i);
    const free = freeOf(j);
    if (j === i || ups.length === 0 || free.length === 0) return null;
    return [cell(ups[rng.int(ups.length)]!, i), cell(free[rng.int(free.length)]!, j)];
  }
  const pool = kind === 2 ? freeOf(i) : updatesOf(i);
  if (pool.length === 0) return null;
  return [cell(pool[rng.int(pool.length)]!, i)];
}

/**
 * Where a search may move: tables of K rows × n blocks (model order), `fixed` steps never change,
 * and a table is admissible while `fits` holds (its cost within the target). Built once per search
 * by {@link moveSpace}, so every move checks the same rules.
 */
export interface MoveSpace {
  readonly K: number;
  readonly n: number;
  readonly fixed: (k: number) => boolean;
  readonly fits: (t: Uint8Array) => boolean;
}

/**
 * The move space of tables over `blockIds` at `target`: step 0 (and step K−1 with forceLast)
 * fixed, the block cost keeping the expected speedup ≥ X. O(blocks).
 */
export function moveSpace(
  profile: Profile,
  target: CostTarget,
  blockIds: readonly string[],
  forceLast: boolean,
): MoveSpace {
  const K = profile.sampler.steps;
  const byId = new Map(profile.blocks.map((b) => [b.id, b]));
  const cost = costOf(target.by);
  const costs = blockIds.map((id) => cost(byId.get(id)!.cost));
  const base = cost(scheduleBaseCost(profile));
  const full = K * (base + costs.reduce((a, b) => a + b, 0));
  return {
    K,
    n: blockIds.length,
    fixed: (k) => k === 0 || (forceLast && k === K - 1),
    fits: (t) => full / (K * base + tableCost(t, costs)) >= target.speedup,
  };
}

/**
 * `table` after one random move (shift an update, move it to another block, add or drop one) that
 * stays in `space`; null when 200 draws found none (bounded, so a table with no room cannot spin
 * forever).
 */
export function randomFittingMove(rng: Rng, table: Uint8Array, space: MoveSpace): Uint8Array | null {
  for (let tries = 0; tries < 200; tries++) {
    const p = propose(rng, table, space.K, space.n, space.fixed);
    if (!p) continue;
    const next = table.slice();
    for (const c of p) next[c] = next[c] ? 0 : 1;
    if (space.fits(next)) return next;
  }
  return null;
}

/**
 * `table` after `moves` random fitting moves drawn from `rng` (a move that finds no room is
 * skipped, so the result may have fewer).
 */
export function perturbTable(rng: Rng, table: Uint8Array, moves: number, space: MoveSpace): Uint8Array {
  let t = table;
  for (let m = 0; m < moves; m++) t = randomFittingMove(rng, t, space) ?? t;
  return t;
}
