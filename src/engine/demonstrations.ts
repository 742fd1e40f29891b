import { BacError } from '../core/errors';
import { openEpisodes, type WindowSample } from './episodes';
import type { Policy } from './policy';
import { loadWindows } from './profiler';

/**
 * Observation windows together with what the demonstrator did next: the reference the offline
 * quality measures compare executed actions against (core/quality.ts).
 */

/** A normalised observation window and the recorded actions the policy's executed rows stand for. */
export interface DemoWindow extends WindowSample {
  /**
   * Raw recorded actions at steps t … t + n_action_steps − 1 ([rows, Da], the rows the policy executes
   * from this window: chunk rows n_obs_steps − 1 …). Past the episode's end the last action repeats,
   * as diffusion_policy's sequence sampler pads.
   */
  readonly demo: Float32Array;
}

/**
 * The `count` windows {@link loadWindows} picks for `seed` (normalised), each with the recorded
 * actions it stands for.
 */
export async function loadDemoWindows(
  policy: Policy,
  episodesPath: string,
  count: number,
  seed: number,
): Promise<DemoWindow[]> {
  const windows = await loadWindows(policy, episodesPath, count, seed);
  const demos = await recordedActions(policy, episodesPath, windows);
  return windows.map((w, i) => ({ ...w, demo: demos[i]! }));
}

/**
 * The recorded actions each window's executed rows stand for (raw units, [rows, Da]): steps
 * t … t + n_action_steps − 1 of its episode, the last action repeated past the episode's end, as
 * diffusion_policy's sequence sampler pads.
 * @throws BacError when the episodes' action size is not the policy's.
 */
export async function recordedActions(
  policy: Policy,
  episodesPath: string,
  windows: readonly WindowSample[],
): Promise<Float32Array[]> {
  const md = policy.info.metadata;
  const Da = policy.actionDim;
  const rows = Math.min(md.nActionSteps, policy.horizon - (md.nObsSteps - 1));
  const source = await openEpisodes(episodesPath);
  try {
    if (source.actionDim !== Da) {
      throw new BacError(
        `${episodesPath}: the recorded actions have ${source.actionDim} values per step but the policy outputs ${Da}; use the episodes the policy was trained on`,
      );
    }
    const out: Float32Array[] = [];
    for (const w of windows) {
      const actions = await source.actions(w.episode);
      const len = source.lengths[w.episode]!;
      const demo = new Float32Array(rows * Da);
      for (let r = 0; r < rows; r++) {
        const t = Math.min(len - 1, w.t + r);
        demo.set(actions.subarray(t * Da, (t + 1) * Da), r * Da);
      }
      out.push(demo);
    }
    return out;
  } finally {
    await source.close();
  }
}
