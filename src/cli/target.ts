import type { CostMeasure, CostTarget } from '../core/cost-target';
import { UsageError } from './args';

/** `--target-speedup X [--by flops|time]` of `command`. @throws UsageError naming the flag. */
export function targetOption(command: string, speedup: string, by: string | undefined): CostTarget {
  const X = Number(speedup);
  if (speedup.trim() === '' || !Number.isFinite(X) || X < 1)
    throw new UsageError(
      `--target-speedup ${speedup} is invalid, expected a number ≥ 1, e.g. --target-speedup 3`,
      command,
    );
  if (by !== undefined && by !== 'flops' && by !== 'time')
    throw new UsageError(`--by ${by} is unknown, expected flops or time`, command);
  return { speedup: X, by: (by ?? 'flops') as CostMeasure };
}
