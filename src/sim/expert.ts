/**
 * Scripted expert for the waypoint-then-goal task.
 *
 * For every leg it picks a side (left/right of the obstacle) and drives through two via points
 * beside the obstacle to the stage target. Like a person, it usually takes the side with more
 * room, and it is undecided when the obstacle sits almost on the straight line: the probability
 * of the roomier side grows from 1/2 (obstacle centred) to {@link ExpertOptions.pRoomy} (obstacle
 * shifted by `roomyShift` or more). Both sides occur for every leg geometry, so the data are
 * genuinely multimodal; the side is still mostly predictable from the observation, as it is for a
 * demonstrator with a reason for its choice (with a coin flip per leg, `sideChoice: 'coin'`, the
 * first demo policy's start-of-episode headings were a blurred mix of both routes). Per episode
 * it also draws its clearance, how far the via points are spread and its cruise speed; per step
 * it adds smooth (Ornstein–Uhlenbeck) noise. The result is the kind of data diffusion policies are
 * built for: four route modes per layout that an averaging regressor would blend into a collision.
 *
 * The expert is stateful (current leg, via point, noise) and has its own seeded stream, separate
 * from the layout's, so the same layout can be demonstrated in many different ways.
 */

import { add, dist, dot, norm, scale, sub, unit, vec, type Vec2 } from './geometry';
import { createSimRng } from '../core/rng';
import { DETOUR_ALONG_RANGE, detourViaPoints, lateralOffset, type Env } from './env';

/** Per-episode style of the expert, exposed so tests and analysis can check multimodality. */
export interface ExpertStyle {
  /** Side chosen for each leg: +1 = left of the direction of travel, −1 = right. */
  readonly sides: readonly [1 | -1, 1 | -1];
  /** Extra clearance beyond touching distance, per leg. */
  readonly clearance: readonly [number, number];
  /** Cruise speed as a fraction of `maxStepSize`. */
  readonly speedFraction: number;
}

/** A scripted demonstrator bound to one environment. */
export interface Expert {
  /** Style drawn at the last {@link Expert.reset}. */
  readonly style: ExpertStyle;
  /** Re-draw the style and noise for the environment's current episode (call after `env.reset`). */
  reset(): void;
  /** The next displacement command for the environment's current state. */
  act(): number[];
}

/** Tuning of the expert's randomness. */
export interface ExpertOptions {
  /**
   * How a leg's side is chosen: `'roomy'` (default) prefers the side with more room as described
   * above; `'coin'` passes on the left with probability `pLeft`, whatever the geometry.
   */
  readonly sideChoice?: 'roomy' | 'coin';
  /** With `sideChoice: 'coin'`: probability of passing an obstacle on the left. Default 0.5. */
  readonly pLeft?: number;
  /** With `sideChoice: 'roomy'`: probability of the roomier side when clearly shifted. Default 0.95. */
  readonly pRoomy?: number;
  /** With `sideChoice: 'roomy'`: shift at which `pRoomy` is reached. Default 0.03. */
  readonly roomyShift?: number;
  /** Standard deviation of the OU noise innovation per step (arena units). Default 8 % of `maxStepSize`. */
  readonly noiseStd?: number;
  /** OU noise persistence in [0, 1). Default 0.7. */
  readonly noiseRho?: number;
}

/**
 * Create an expert for `env`. `seed` selects the expert's own random stream; episode `i` of a
 * dataset typically uses the same number for the layout seed and the expert seed (different salts
 * keep the streams independent).
 */
export function createExpert(env: Env, seed: number, options: ExpertOptions = {}): Expert {
  const rng = createSimRng(seed, 2);
  const sideChoice = options.sideChoice ?? 'roomy';
  const pLeft = options.pLeft ?? 0.5;
  const pRoomy = options.pRoomy ?? 0.95;
  const roomyShift = options.roomyShift ?? 0.03;
  const noiseStd = options.noiseStd ?? 0.08 * env.config.maxStepSize;
  const noiseRho = options.noiseRho ?? 0.7;
  const cfg = env.config;

  let style: ExpertStyle;
  let along: [number, number];
  let noise: Vec2 = vec(0, 0);
  let leg = -1;
  let targets: Vec2[] = [];
  let legDir: Vec2 = vec(0, 0);

  const drawStyle = (): void => {
    const { start, waypoint, goal, obstacles } = env.layout;
    /** Probability of passing on the left for a leg `from → to` around `obstacle`. */
    const leftProbability = (from: Vec2, to: Vec2, obstacle: Vec2): number => {
      if (sideChoice === 'coin') return pLeft;
      const shift = lateralOffset(from, to, obstacle);
      const pRoomier = 0.5 + (pRoomy - 0.5) * Math.min(1, Math.abs(shift) / roomyShift);
      // Obstacle on the left (shift > 0) leaves more room on the right.
      return shift > 0 ? 1 - pRoomier : pRoomier;
    };
    const side = (p: number): 1 | -1 => (rng.bernoulli(p) ? 1 : -1);
    style = {
      sides: [
        side(leftProbability(start, waypoint, obstacles[0])),
        side(leftProbability(waypoint, goal, obstacles[1])),
      ],
      clearance: [rng.uniform(...cfg.detourClearance), rng.uniform(...cfg.detourClearance)],
      speedFraction: rng.uniform(0.7, 1.0),
    };
    along = [
      cfg.obstacleRadius * rng.uniform(...DETOUR_ALONG_RANGE),
      cfg.obstacleRadius * rng.uniform(...DETOUR_ALONG_RANGE),
    ];
    noise = vec(0, 0);
    leg = -1;
    targets = [];
  };

  /** Plan the via points of leg `l` (0: start→waypoint, 1: waypoint→goal). */
  const planLeg = (l: 0 | 1): void => {
    const { start, waypoint, goal, obstacles } = env.layout;
    const from = l === 0 ? start : waypoint;
    const to = l === 0 ? waypoint : goal;
    const offset = cfg.obstacleRadius + cfg.robotRadius + style.clearance[l];
    const via = detourViaPoints(from, to, obstacles[l], style.sides[l], offset, along[l]);
    targets = [...via, to];
    legDir = unit(sub(to, from));
    leg = l;
  };

  drawStyle();

  return {
    get style() {
      return style;
    },
    reset: drawStyle,
    act(): number[] {
      const stage = env.stage;
      if (stage === 2) return [0, 0];
      if (leg !== stage) planLeg(stage);
      // Drop via points that are reached or already behind us along the leg (never turn back).
      while (targets.length > 1) {
        const v = targets[0] as Vec2;
        if (dist(env.pos, v) < 0.05 || dot(sub(env.pos, v), legDir) > 0) targets.shift();
        else break;
      }
      const target = targets[0] as Vec2;
      const toTarget = sub(target, env.pos);
      const speed = Math.min(style.speedFraction * cfg.maxStepSize, norm(toTarget));
      noise = add(scale(noise, noiseRho), vec(rng.normal() * noiseStd, rng.normal() * noiseStd));
      const cmd = add(scale(unit(toTarget), speed), noise);
      return [cmd.x, cmd.y];
    },
  };
}

/** One recorded expert episode: per-step observations before each action, and the actions. */
export interface Episode {
  /** Seed of the layout and of the expert. */
  readonly seed: number;
  /** Observations, one flat vector per step (length = number of actions). */
  readonly obs: number[][];
  /** Actions actually commanded (before the environment's clipping). */
  readonly actions: number[][];
  /** How the episode ended. */
  readonly outcome: 'success' | 'collision' | 'timeout';
  /** The expert's style for this episode. */
  readonly style: ExpertStyle;
}

/** Roll out the expert on the layout drawn from `seed` and record everything. */
export function rolloutExpert(env: Env, seed: number, options: ExpertOptions = {}): Episode {
  env.reset(seed);
  const expert = createExpert(env, seed, options);
  const obs: number[][] = [];
  const actions: number[][] = [];
  for (;;) {
    obs.push(env.observe());
    const a = expert.act();
    actions.push(a);
    const r = env.step(a);
    if (r.done) {
      return {
        seed,
        obs,
        actions,
        outcome: r.outcome as Episode['outcome'],
        style: expert.style,
      };
    }
  }
}
