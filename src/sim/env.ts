/**
 * "Waypoint-then-goal", the planar task of BAC Studio's demo policy.
 *
 * A disc robot in the square arena [−1, 1]² must first reach waypoint A (stage 0), then goal B
 * (stage 1), in that order. One disc obstacle sits across the straight path of each leg, so each
 * leg can be driven around on the left or on the right: the demonstrations are multimodal (four
 * route combinations per layout). Touching an obstacle ends the episode as a failure; so does the
 * step limit. Walls are not failures: the robot is clamped inside the arena.
 *
 * Everything is deterministic given the seed passed to {@link createEnv} / {@link Env.reset}:
 * the layout is drawn from a seeded PRNG with rejection sampling whose number of attempts depends
 * only on that seed.
 *
 * The observation is a flat vector of {@link OBS_DIM} numbers, the concatenation of the keys in
 * {@link OBS_KEYS} order (sizes in {@link OBS_KEY_DIMS}). Positions other than `robot_pos` are
 * expressed relative to the robot, because a probe found relative observations train far better
 * than absolute ones.
 */

import { createSimRng, type Rng } from '../core/rng';
import { add, clipNorm, dist, perp, pointSegmentDistance, scale, sub, unit, vec, type Vec2 } from './geometry';

/** Geometry and timing of the task. All lengths are in arena units (arena = [−1, 1]²). */
export interface TaskConfig {
  /** Half side of the square arena. */
  readonly arenaHalf: number;
  /** Radius of the robot disc. */
  readonly robotRadius: number;
  /** Radius of each obstacle disc. */
  readonly obstacleRadius: number;
  /** A stage's target counts as reached when the robot centre is within this distance. */
  readonly reachRadius: number;
  /** Longest displacement per control step; longer commands are scaled down to it. */
  readonly maxStepSize: number;
  /** Step limit: an episode not finished after this many steps fails. */
  readonly maxSteps: number;
  /**
   * Minimum clearance (between robot disc and obstacle disc) that every nominal detour route of a
   * layout must keep, so that both ways around every obstacle are genuinely feasible.
   */
  readonly minRouteClearance: number;
  /**
   * Largest sideways shift of an obstacle from the straight line of its leg. Below
   * `obstacleRadius + robotRadius`, so the straight line always hits the obstacle.
   */
  readonly obstacleShift: number;
  /**
   * Range of the expert's extra clearance when passing an obstacle (beyond touching distance).
   * Layout validation checks routes at both ends of this range, so every route the expert may
   * drive has been checked against the *other* obstacle and the walls.
   */
  readonly detourClearance: readonly [number, number];
}

/** The configuration the demo fixture is generated and evaluated with. */
export const DEFAULT_TASK: TaskConfig = Object.freeze({
  arenaHalf: 1,
  robotRadius: 0.03,
  obstacleRadius: 0.13,
  reachRadius: 0.05,
  maxStepSize: 0.05,
  maxSteps: 160,
  minRouteClearance: 0.05,
  obstacleShift: 0.1,
  // Wide enough that a learned policy which cuts the corner by a few hundredths (as the first demo
  // policy did with 0.06–0.10) still clears the obstacle.
  detourClearance: Object.freeze([0.1, 0.15]) as readonly [number, number],
});

/**
 * The task the first demo policy was trained on (issue 3's first attempt): control step 0.05,
 * obstacles within ±0.03 of the straight line, expert clearance 0.06–0.10, and an expert that
 * picks each side by a coin flip (`createExpert(env, seed, { sideChoice: 'coin' })`). Kept so
 * `fixtures/demo/regen.sh train` can replay the training that started on it.
 */
export const FIRST_DEMO_TASK: TaskConfig = Object.freeze({
  ...DEFAULT_TASK,
  maxStepSize: 0.05,
  maxSteps: 160,
  obstacleShift: 0.03,
  detourClearance: Object.freeze([0.06, 0.1]) as readonly [number, number],
});

/** Ordered observation keys; also the dataset keys of the episode files and `bac.obs_keys`. */
export const OBS_KEYS = ['robot_pos', 'waypoint_rel', 'goal_rel', 'obstacle_rel', 'stage'] as const;
/** One observation key. */
export type ObsKey = (typeof OBS_KEYS)[number];
/** Width of each observation key. */
export const OBS_KEY_DIMS: Readonly<Record<ObsKey, number>> = Object.freeze({
  robot_pos: 2,
  waypoint_rel: 2,
  goal_rel: 2,
  obstacle_rel: 4,
  stage: 1,
});
/** Length of the flat observation vector. */
export const OBS_DIM = OBS_KEYS.reduce((s, k) => s + OBS_KEY_DIMS[k], 0);
/** Length of the action vector: a 2-D displacement command. */
export const ACTION_DIM = 2;

/** A sampled task instance. */
export interface Layout {
  /** Robot start position. */
  readonly start: Vec2;
  /** Stage-0 target A. */
  readonly waypoint: Vec2;
  /** Stage-1 target B. */
  readonly goal: Vec2;
  /** Obstacle centres: `[0]` blocks leg start→A, `[1]` blocks leg A→B. */
  readonly obstacles: readonly [Vec2, Vec2];
}

/**
 * Progress through the task: 0 = heading to the waypoint, 1 = heading to the goal,
 * 2 = both reached in order (success).
 */
export type Stage = 0 | 1 | 2;

/** Why an episode ended. */
export type Outcome = 'running' | 'success' | 'collision' | 'timeout';

/** Result of one {@link Env.step}. */
export interface StepResult {
  /** Observation after the step (flat, {@link OBS_KEYS} order). */
  readonly obs: number[];
  /** Whether the episode is over (success, collision or timeout). */
  readonly done: boolean;
  /** Episode outcome so far. */
  readonly outcome: Outcome;
  /** Stage after the step. */
  readonly stage: Stage;
}

/** A task instance with mutable robot state. */
export interface Env {
  /** Task geometry (shared, frozen). */
  readonly config: TaskConfig;
  /** Current layout; replaced by {@link Env.reset}. */
  readonly layout: Layout;
  /** Seed the current layout was drawn from (−1 for a layout given to {@link createEnvWithLayout}). */
  readonly seed: number;
  /** Robot centre. */
  readonly pos: Vec2;
  /** Current stage. */
  readonly stage: Stage;
  /** Control steps taken since reset. */
  readonly t: number;
  /** Outcome so far (`running` until the episode ends). */
  readonly outcome: Outcome;
  /**
   * Start a new episode and return its first observation: with `seed`, on the layout drawn from
   * that seed; without, on the current layout (same start).
   */
  reset(seed?: number): number[];
  /**
   * Apply one displacement command. The command is clipped to `maxStepSize`, the robot is clamped
   * inside the arena, the swept segment is checked against both obstacles, and stages advance.
   * Stepping a finished episode throws (it would silently corrupt recorded data).
   */
  step(action: readonly number[]): StepResult;
  /** Current observation as a flat vector in {@link OBS_KEYS} order. */
  observe(): number[];
  /** Current observation split by key. */
  observeDict(): Record<ObsKey, number[]>;
}

/**
 * Nominal route around one obstacle: two via points beside it on the chosen side, so the path
 * hugs the obstacle at a fixed clearance instead of cutting the corner.
 *
 * @param from start of the leg
 * @param to end of the leg (the stage target)
 * @param obstacle centre of the obstacle blocking the leg
 * @param side +1 = pass on the left of the direction of travel, −1 = on the right
 * @param offset distance of the via points from the obstacle centre (perpendicular to the leg)
 * @param along half distance between the two via points along the leg
 */
export function detourViaPoints(
  from: Vec2,
  to: Vec2,
  obstacle: Vec2,
  side: 1 | -1,
  offset: number,
  along: number,
): [Vec2, Vec2] {
  const u = unit(sub(to, from));
  const n = scale(perp(u), side);
  const beside = add(obstacle, scale(n, offset));
  return [sub(beside, scale(u, along)), add(beside, scale(u, along))];
}

/** Smallest robot-to-obstacle-surface clearance along a polyline (negative = collision). */
export function polylineClearance(points: readonly Vec2[], obstacles: readonly Vec2[], config: TaskConfig): number {
  let best = Infinity;
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i] as Vec2;
    const b = points[i + 1] as Vec2;
    for (const o of obstacles) {
      const c = pointSegmentDistance(o, a, b) - config.obstacleRadius - config.robotRadius;
      if (c < best) best = c;
    }
  }
  return best;
}

/**
 * Signed sideways offset of `obstacle` from the line `from → to`: positive when the obstacle lies
 * on the left of the direction of travel (so the right side has more room).
 */
export function lateralOffset(from: Vec2, to: Vec2, obstacle: Vec2): number {
  const n = perp(unit(sub(to, from)));
  const d = sub(obstacle, from);
  return d.x * n.x + d.y * n.y;
}

/** Range of the half spacing of the two via points along the leg, as a fraction of the obstacle radius. */
export const DETOUR_ALONG_RANGE: readonly [number, number] = [0.5, 1.0];

/**
 * Draw a layout from `rng` by rejection sampling. A layout is kept only if every one of the four
 * nominal left/right route combinations stays inside the arena with at least `minRouteClearance`
 * from both obstacles — this is what makes the demonstrations truly multimodal.
 */
export function sampleLayout(rng: Rng, config: TaskConfig = DEFAULT_TASK): Layout {
  const lim = config.arenaHalf - 0.15;
  const inside = (p: Vec2, m: number): boolean =>
    Math.abs(p.x) <= config.arenaHalf - m && Math.abs(p.y) <= config.arenaHalf - m;
  const touch = config.obstacleRadius + config.robotRadius;

  for (let attempt = 0; attempt < 10000; attempt++) {
    const start = vec(rng.uniform(-lim, lim), rng.uniform(-lim, lim));
    const a1 = rng.uniform(0, 2 * Math.PI);
    const waypoint = add(start, scale(vec(Math.cos(a1), Math.sin(a1)), rng.uniform(0.8, 1.15)));
    // Second leg turns by 60°–150° either way, so the two legs never overlap or double back.
    const turn = rng.uniform(Math.PI / 3, (5 * Math.PI) / 6) * (rng.bernoulli(0.5) ? 1 : -1);
    const a2 = a1 + turn;
    const goal = add(waypoint, scale(vec(Math.cos(a2), Math.sin(a2)), rng.uniform(0.8, 1.15)));
    if (!inside(waypoint, 0.15) || !inside(goal, 0.15)) continue;

    // Obstacles sit near the middle of each leg, shifted sideways so the two ways around are not
    // equally long. The shift stays well inside touching distance (robot + obstacle radius), so the
    // straight line always collides and every route is a detour.
    const place = (p: Vec2, q: Vec2): Vec2 => {
      const u = unit(sub(q, p));
      const mid = add(p, scale(sub(q, p), rng.uniform(0.42, 0.58)));
      return add(mid, scale(perp(u), rng.uniform(-config.obstacleShift, config.obstacleShift)));
    };
    const obstacles: [Vec2, Vec2] = [place(start, waypoint), place(waypoint, goal)];

    let ok = dist(obstacles[0], obstacles[1]) > 2 * config.obstacleRadius + 0.2;
    for (const s1 of [1, -1] as const) {
      for (const s2 of [1, -1] as const) {
        for (const extra of config.detourClearance) {
          for (const alongFrac of DETOUR_ALONG_RANGE) {
            if (!ok) break;
            const along = alongFrac * config.obstacleRadius;
            const v1 = detourViaPoints(start, waypoint, obstacles[0], s1, touch + extra, along);
            const v2 = detourViaPoints(waypoint, goal, obstacles[1], s2, touch + extra, along);
            const route = [start, ...v1, waypoint, ...v2, goal];
            ok =
              route.every((p) => inside(p, config.robotRadius + 0.02)) &&
              polylineClearance(route, obstacles, config) >= config.minRouteClearance;
          }
        }
      }
    }
    if (ok) return { start, waypoint, goal, obstacles };
  }
  throw new Error('sampleLayout: no valid layout in 10000 attempts (config too tight?)');
}

class PlanarEnv implements Env {
  layout: Layout;
  seed: number;
  pos: Vec2;
  stage: Stage = 0;
  t = 0;
  outcome: Outcome = 'running';

  constructor(
    seed: number,
    readonly config: TaskConfig,
    layout?: Layout,
  ) {
    this.seed = seed;
    this.layout = layout ?? sampleLayout(createSimRng(seed, 1), config);
    this.pos = this.layout.start;
  }

  reset(seed?: number): number[] {
    // Without a seed the current layout is kept: a hand-made layout survives reset().
    if (seed !== undefined) {
      this.seed = seed;
      this.layout = sampleLayout(createSimRng(seed, 1), this.config);
    }
    this.pos = this.layout.start;
    this.stage = 0;
    this.t = 0;
    this.outcome = 'running';
    return this.observe();
  }

  step(action: readonly number[]): StepResult {
    if (this.outcome !== 'running') throw new Error(`step() after episode end (${this.outcome})`);
    const ax = action[0];
    const ay = action[1];
    if (ax === undefined || ay === undefined || !Number.isFinite(ax) || !Number.isFinite(ay)) {
      throw new Error(`step(): action must be 2 finite numbers, got [${action.join(', ')}]`);
    }
    const c = this.config;
    const lim = c.arenaHalf - c.robotRadius;
    const d = clipNorm(vec(ax, ay), c.maxStepSize);
    const raw = add(this.pos, d);
    const next = vec(Math.min(lim, Math.max(-lim, raw.x)), Math.min(lim, Math.max(-lim, raw.y)));
    const prev = this.pos;
    this.pos = next;
    this.t += 1;

    // Collision along the swept segment, not just at its end point.
    const hit = this.layout.obstacles.some(
      (o) => pointSegmentDistance(o, prev, next) < c.obstacleRadius + c.robotRadius,
    );
    if (hit) {
      this.outcome = 'collision';
    } else {
      // Stages only advance in order: passing the goal during stage 0 does nothing.
      if (this.stage === 0 && dist(next, this.layout.waypoint) <= c.reachRadius) this.stage = 1;
      else if (this.stage === 1 && dist(next, this.layout.goal) <= c.reachRadius) this.stage = 2;
      if (this.stage === 2) this.outcome = 'success';
      else if (this.t >= c.maxSteps) this.outcome = 'timeout';
    }
    return {
      obs: this.observe(),
      done: this.outcome !== 'running',
      outcome: this.outcome,
      stage: this.stage,
    };
  }

  observeDict(): Record<ObsKey, number[]> {
    const p = this.pos;
    const { waypoint, goal, obstacles } = this.layout;
    const [o0, o1] = obstacles;
    return {
      robot_pos: [p.x, p.y],
      waypoint_rel: [waypoint.x - p.x, waypoint.y - p.y],
      goal_rel: [goal.x - p.x, goal.y - p.y],
      obstacle_rel: [o0.x - p.x, o0.y - p.y, o1.x - p.x, o1.y - p.y],
      // Stage 2 only exists after the last step; observations fed to a policy are 0 or 1.
      stage: [Math.min(this.stage, 1)],
    };
  }

  observe(): number[] {
    const d = this.observeDict();
    return OBS_KEYS.flatMap((k) => d[k]);
  }
}

/**
 * Create an environment whose first layout is drawn from `seed`. The same seed always yields the
 * same layout, start and therefore the same episode under the same actions.
 */
export function createEnv(seed: number, config: TaskConfig = DEFAULT_TASK): Env {
  return new PlanarEnv(seed, config);
}

/**
 * Create an environment on a given layout (not validated: for tests, tools and hand-made
 * scenarios). `reset()` without a seed returns to this layout; `reset(seed)` draws a new one.
 */
export function createEnvWithLayout(layout: Layout, config: TaskConfig = DEFAULT_TASK): Env {
  return new PlanarEnv(-1, config, layout);
}
