import { QUALITY_MEASURES } from '../../../src/core/quality';
import type { SweepConfig, SweepReport, SweepResult } from '../../../src/core/sweep-format';

/** A result whose expected and measured speedups are `speedup` and whose demo MSE is `mse`. */
export function sweepResult(config: SweepConfig, speedup: number, mse: number, updates = 10): SweepResult {
  const stat = (value: number) => ({ value, seedStd: 0.1 * value, windowSe: 0 });
  return {
    config,
    updates,
    expectedSpeedupFlops: speedup,
    chunkMs: 100 / speedup,
    measuredSpeedup: speedup,
    quality: {
      'demo-mse': stat(mse),
      'demo-mse-best-of-n': stat(mse / 2),
      'reference-distance': null,
      'full-model-error': null,
      'closed-loop-failure': null,
    },
  };
}

/** A report of `results` against `reference`; other fields fixed (override them with `extra`). */
export function sweepReport(
  reference: SweepConfig,
  results: SweepResult[],
  extra: Partial<SweepReport> = {},
): SweepReport {
  return {
    format: 'bacsweep',
    version: 1,
    model: { path: 'policy.onnx', sha256: 'a'.repeat(64) },
    episodes: 'heldout.hdf5',
    createdAt: '2026-01-01T00:00:00.000Z',
    provider: 'cpu',
    runner: 'per-step batch-1',
    windows: 4,
    draws: 2,
    seed: 1,
    reference,
    measure: 'demo-mse',
    tolerance: 0.05,
    measures: QUALITY_MEASURES,
    results,
    pareto: [],
    recommendation: null,
    recommendedSchedule: null,
    trials: null,
    notes: [],
    ...extra,
  };
}
