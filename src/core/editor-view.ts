/**
 * Builds the schedule editor's view model ({@link EditorState}) from a parsed schedule and, when
 * usable, its profile. Pure, so the numbers the webview draws are unit-tested without a browser.
 */
import { cacheSources, parseBlockId, updateSteps } from './blocks';
import { summarizeSchedule } from './cost';
import { predictedError } from './error-proxy';
import type { ModelStatus, ProfileAnalysis, ProfileStatus, ValidState } from './protocol';
import { speedShown } from './measured-speed';
import { methodOf } from './methods';
import type { TradeoffCurves } from './tradeoff';
import type { Profile, Schedule } from './types';

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * Why a readable profile cannot serve this schedule (different K or blocks), or null when it can.
 * O(B).
 */
export function profileMismatch(schedule: Schedule, profile: Profile): string | null {
  if (profile.sampler.steps !== schedule.sampler.steps) {
    return `it has K = ${profile.sampler.steps} steps but the schedule has ${schedule.sampler.steps}`;
  }
  const ids = new Set(profile.blocks.map((b) => b.id));
  const missing = schedule.blocks.filter((b) => !ids.has(b.id)).map((b) => b.id);
  if (missing.length > 0 || profile.blocks.length !== schedule.blocks.length) {
    return `its blocks differ from the schedule's (${missing.length > 0 ? `missing ${missing.slice(0, 3).join(', ')}` : 'different count'})`;
  }
  return null;
}

/**
 * The profile-derived part of the view: similarity of every step to its cache source (hover and
 * line chart), ℓ1 per block (ranking chart), the predicted-error proxy and the given trade-off
 * curves (`tradeoffPending` when the caller computes them later). The caller has checked {@link profileMismatch}. O(B · K).
 */
export function analyse(
  schedule: Schedule,
  profile: Profile,
  tradeoff: TradeoffCurves | null,
  tradeoffPending = false,
): ProfileAnalysis {
  const K = schedule.sampler.steps;
  const byId = new Map(profile.blocks.map((b) => [b.id, b]));
  const simToSource: number[][] = [];
  const simStdToSource: number[][] = [];
  const l1: { mean: number; std: number }[] = [];
  for (const sb of schedule.blocks) {
    const pb = byId.get(sb.id)!;
    const src = cacheSources(updateSteps(sb), K);
    const mean: number[] = [];
    const std: number[] = [];
    for (let k = 0; k < K; k++) {
      mean.push(round4(pb.simMean[src[k]! * K + k]!));
      std.push(round4(pb.simStd[src[k]! * K + k]!));
    }
    simToSource.push(mean);
    simStdToSource.push(std);
    l1.push({ mean: pb.l1Mean, std: pb.l1Std });
  }
  return {
    samples: profile.samples,
    simToSource,
    simStdToSource,
    l1,
    tradeoff,
    tradeoffPending,
    predictedError: predictedError(schedule, profile).total,
  };
}

/** Assembles the state of a valid schedule. O(B · S log S) plus what `analysis` cost. */
export function validState(
  fileName: string,
  schedule: Schedule,
  profile: ProfileStatus,
  model: ModelStatus,
  analysis: ProfileAnalysis | null,
  readonly: boolean,
  speedCaveat: string | null = null,
): ValidState {
  const summary = summarizeSchedule(schedule);
  return {
    kind: 'valid',
    fileName,
    steps: schedule.sampler.steps,
    samplerType: schedule.sampler.type,
    solver: {
      method: methodOf(schedule),
      budget: schedule.solver.budget,
      topN: schedule.solver.topN,
      forceLast: schedule.solver.forceLast,
    },
    blocks: schedule.blocks.map((b) => {
      const ref = parseBlockId(b.id)!;
      return {
        id: b.id,
        layer: ref.layer,
        kind: ref.kind,
        acs: b.acs,
        bua: b.bua,
        manual: b.manual,
        manualOff: b.manualOff,
      };
    }),
    summary,
    speed: speedShown(schedule, summary),
    profile,
    model,
    analysis,
    readonly,
    speedCaveat,
  };
}

/** A sampler type as people write it (`ddpm` → `DDPM`, `dpmsolver++` → `DPM-Solver++`). */
export function samplerLabel(type: string): string {
  return type.toLowerCase() === 'dpmsolver++' ? 'DPM-Solver++' : type.toUpperCase();
}
