/**
 * The solver's parameters, their defaults and ranges, defined once (numbers from the `solver`
 * section of `schemas/bac-rules.json`). The CLI, the extension, the editor's controls, the ACS
 * solver and package.json's `bac.solver.*` settings (checked by a unit test) all use this module.
 *
 * The rule, decided once:
 * - a value a person gives for one solve (`bac solve --budget/--top-n`, the editor's controls) that
 *   is out of range is **refused** with one sentence ({@link checkSolverParams});
 * - the `bac.solver.*` settings are defaults not tied to a model, so they are **fitted** into the
 *   profiled model's range, and every fit is reported ({@link fitSolverDefaults}).
 *
 * Ranges: 1 ≤ budget ≤ K (2 ≤ budget with forceLast when K > 1: the budget then holds step 0 and
 * step K−1); 0 ≤ top-n ≤ number of blocks (0 disables the Bubbling Union).
 */
import { SOLVER_RULES } from './contract';
import type { SolverParams } from './types';

/** A schedule method; the schema's `solver.method` declares them (absent in a file means `bac`). */
export type ScheduleMethod = NonNullable<SolverParams['method']>;

/** Method names as the CLI spells them, in the schema's order (a unit test checks the two agree). */
export const SCHEDULE_METHODS: readonly ScheduleMethod[] = ['bac', 'acs', 'unified', 'uniform', 'grid'];

/** How the editor names each method. */
export const METHOD_LABELS: Readonly<Record<ScheduleMethod, string>> = {
  bac: 'BAC (ACS + Bubbling Union)',
  acs: 'ACS without BUA',
  unified: 'Unified ACS (one set for all blocks)',
  uniform: 'Uniform (every ⌊K/S⌋ steps)',
  grid: 'Grid (aligned per-block intervals)',
};

/** Whether `s` names a {@link ScheduleMethod}. */
export function isScheduleMethod(s: string): s is ScheduleMethod {
  return (SCHEDULE_METHODS as readonly string[]).includes(s);
}

/** The parameters a person chooses (the profile reference is set by whoever writes the file). */
export type SolverChoice = Pick<SolverParams, 'budget' | 'topN' | 'forceLast'>;

/** Defaults of `bac.solver.*`, `bac solve` and a new profile's first solve. */
export const SOLVER_DEFAULTS: SolverChoice = {
  budget: SOLVER_RULES.budget.default,
  topN: SOLVER_RULES.topN.default,
  forceLast: SOLVER_RULES.forceLast.default,
};

/** Smallest budget the settings and flags accept before a model is known. */
export const MIN_BUDGET = SOLVER_RULES.budget.minimum;
/** Smallest top-n (0 disables the Bubbling Union). */
export const MIN_TOP_N = SOLVER_RULES.topN.minimum;

/** What the ranges depend on: K steps and the number of blocks of the profiled model. */
export interface SolverLimits {
  readonly K: number;
  readonly blocks: number;
}

/** Smallest budget for K steps: with forceLast (and K > 1) the budget must hold step 0 and K−1. */
export function minBudget(K: number, forceLast: boolean): number {
  const f = SOLVER_RULES.forceLast;
  return forceLast && K > f.appliesWhenKAbove ? f.minBudgetWhenOn : MIN_BUDGET;
}

/** Inclusive budget range for a model. */
export function budgetRange(K: number, forceLast: boolean): { readonly min: number; readonly max: number } {
  return { min: minBudget(K, forceLast), max: K };
}

/** Why explicit parameters cannot be used for this model (one sentence), or undefined when they can. */
export function checkSolverParams(p: SolverChoice, limits: SolverLimits): string | undefined {
  const { K, blocks } = limits;
  const { min, max } = budgetRange(K, p.forceLast);
  if (!Number.isInteger(p.budget) || p.budget < MIN_BUDGET || p.budget > max) {
    return `Budget ${p.budget} is out of range; expected an integer in ${MIN_BUDGET}…${max} (K = ${K} steps).`;
  }
  if (p.budget < min) {
    return `Budget ${p.budget} leaves no room for the last step: with "force last step" the budget must be at least ${min}.`;
  }
  if (!Number.isInteger(p.topN) || p.topN < MIN_TOP_N || p.topN > blocks) {
    return `Top-n ${p.topN} is out of range; expected an integer in ${MIN_TOP_N}…${blocks} (0 disables BUA).`;
  }
  return undefined;
}

/**
 * Fits defaults (settings) into a model's ranges: rounds, then clamps budget and top-n. Returns
 * the parameters and one note per value that changed, naming the setting, the range and the value
 * used.
 */
export function fitSolverDefaults(
  wanted: SolverChoice,
  limits: SolverLimits,
): { readonly params: SolverChoice; readonly notes: readonly string[] } {
  const notes: string[] = [];
  const fit = (name: string, v: number, lo: number, hi: number): number => {
    const got = Math.min(hi, Math.max(lo, Math.round(Number.isFinite(v) ? v : lo)));
    if (got !== v) notes.push(`bac.solver.${name} ${v} is outside ${lo}…${hi} for this model; using ${got}`);
    return got;
  };
  const { min, max } = budgetRange(limits.K, wanted.forceLast);
  return {
    params: {
      budget: fit('budget', wanted.budget, min, max),
      topN: fit('topN', wanted.topN, MIN_TOP_N, limits.blocks),
      forceLast: wanted.forceLast,
    },
    notes,
  };
}
