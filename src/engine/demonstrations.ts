import { BacError } from '../core/errors';
import { openEpisodes, applyNormalizer, sampleWindows, type WindowSample } from './episodes';
import type { Policy } from './policy';

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
 * Reads `count` windows (the same choice as `loadWindows` for the same seed: `sampleWindows`),
 * normalises their observations and attaches the recorded actions.
 */
export async function loadDemoWindows(
  policy: Policy,
  episodesPath: string,
  count: number,
  seed: number,
): Promise<DemoWindow[]> {
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
    const windows = await sampleWindows(source, {
      keys: md.obsKeys,
      nObsSteps: policy.obsSteps,
      count,
      seed,
      expectedDim: policy.condDim,
    });
    const out: DemoWindow[] = [];
    for (const w of windows) {
      applyNormalizer(w.obs, md.normalizer.obs);
      const actions = await source.actions(w.episode);
      const len = source.lengths[w.episode]!;
      const demo = new Float32Array(rows * Da);
      for (let r = 0; r < rows; r++) {
        const t = Math.min(len - 1, w.t + r);
        demo.set(actions.subarray(t * Da, (t + 1) * Da), r * Da);
      }
      out.push({ ...w, demo });
    }
    return out;
  } finally {
    await source.close();
  }
}
