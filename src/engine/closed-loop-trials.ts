import { BacError } from '../core/errors';
import { assertDemoTaskPolicy, closedLoop } from './closed-loop';
import type { Policy } from './policy';
import { CachedRunner, type RunnerOptions } from './runner';
import type { NoiseScheduler } from './samplers';

/**
 * A fixed set of demo-simulator episodes to score update tables by: layouts `seed … seed +
 * episodes − 1` and one noise stream (`noiseSeed`). Every table runs the same layouts and the same
 * noise, so two tables' outcomes are paired: they differ only where the schedules make the policy
 * act differently, which is what lets a search compare candidates on a few hundred episodes.
 */
export interface ClosedLoopTrials {
  readonly episodes: number;
  readonly seed: number;
  readonly noiseSeed: number;
}

/** Thrown by {@link ClosedLoopScorer.outcomes} when its signal aborts a run between chunks. */
export class ClosedLoopCancelledError extends BacError {
  constructor() {
    super('interrupted: the closed-loop run was cancelled');
  }
}

/**
 * Runs update tables in the demo simulator's closed loop on one gated runner (the per-step runner
 * takes any table without a rebuild, which a search over hundreds of tables needs).
 * Invariant: the policy is trained on the demo task (`open` checks its observation keys and rejects
 * others with a user error).
 */
export class ClosedLoopScorer {
  private constructor(
    private readonly policy: Policy,
    private readonly runner: CachedRunner,
  ) {}

  /** @throws BacError when the policy is not of the demo task (before building anything). */
  static async open(policy: Policy, options: RunnerOptions = {}): Promise<ClosedLoopScorer> {
    assertDemoTaskPolicy(policy);
    return new ClosedLoopScorer(policy, await CachedRunner.open(policy, 'cpu', options));
  }

  /** Block ids in the order of the tables' columns. */
  get blockIds(): string[] {
    return this.runner.blockIds;
  }

  /**
   * Per episode of `trials`, in layout order: whether it succeeded, sampling with `scheduler` (any
   * sampler and K; `table` has K rows) — the full model is the all-ones table, which equals the plain
   * model bit for bit (runner.test.ts).
   */
  async outcomes(
    scheduler: NoiseScheduler,
    table: Uint8Array,
    trials: ClosedLoopTrials,
    signal?: AbortSignal,
  ): Promise<boolean[]> {
    const succeeded = new Array<boolean>(trials.episodes).fill(false);
    await closedLoop(
      this.policy,
      (cond, batch, initialSample, noise) => {
        if (signal?.aborted) throw new ClosedLoopCancelledError();
        return this.runner.runChunk(scheduler, table, { batch, cond, initialSample, noise });
      },
      {
        ...trials,
        onStep: (i, env) => {
          succeeded[i] = env.outcome === 'success';
        },
      },
    );
    return succeeded;
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}
