/**
 * What a user is shown as a schedule's speed: the measured speedup when the schedule carries one
 * for its current update table ("3.4× measured on cpu"), else the expectation, labelled as such.
 * Pure.
 */
import { updateSteps } from './blocks';
import { formatSpeedup } from './cost';
import type { MeasuredSpeed, Schedule, ScheduleSummary } from './types';

/**
 * Fingerprint of a schedule's update table (K, block ids and update steps): FNV-1a 32-bit, 8 hex
 * digits. A measured speed stays valid only while this is unchanged. O(K · blocks).
 */
export function updateTableHash(schedule: Schedule): string {
  let h = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  };
  mix(`${schedule.sampler.type}/${schedule.sampler.steps}`);
  for (const b of schedule.blocks) mix(`|${b.id}:${updateSteps(b).join(',')}`);
  return h.toString(16).padStart(8, '0');
}

/** The speed to show, and whether it was measured. */
export interface SpeedShown {
  readonly speedup: number | null;
  readonly measured: boolean;
  /** e.g. `3.4× measured on cpu` or `2.9× expected (time)`. */
  readonly label: string;
}

/**
 * The measured speedup when `schedule.measured` belongs to its current table, else the expected
 * one (time when profiled, else FLOPs), labelled "expected".
 */
export function speedShown(schedule: Schedule, summary: ScheduleSummary): SpeedShown {
  const m = schedule.measured;
  if (m && m.tableHash === updateTableHash(schedule)) {
    return { speedup: m.speedup, measured: true, label: `${formatSpeedup(m.speedup)} measured on ${m.provider}` };
  }
  if (summary.speedupTime !== null) {
    return {
      speedup: summary.speedupTime,
      measured: false,
      label: `${formatSpeedup(summary.speedupTime)} expected (time)`,
    };
  }
  return {
    speedup: summary.speedupFlops,
    measured: false,
    label: `${formatSpeedup(summary.speedupFlops)} expected (FLOPs)`,
  };
}

/** What one measurement of a schedule's chunk graph gave, before it is recorded. */
export interface SpeedMeasurement {
  readonly provider: string;
  readonly device: string;
  /** Baseline time / chunk-graph time, summed over the samples. */
  readonly speedup: number;
  /** Median ms of one chunk with the schedule, and of one baseline chunk. */
  readonly chunkMs: number;
  readonly fullChunkMs: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The `measured` record of `schedule` (batch 1, numbers to three decimals as the file keeps them),
 * bound to the update table it measured. O(K · blocks).
 */
export function measuredSpeedRecord(schedule: Schedule, m: SpeedMeasurement, at: Date): MeasuredSpeed {
  return {
    provider: m.provider,
    device: m.device,
    batch: 1,
    speedup: round3(m.speedup),
    chunkMs: round3(m.chunkMs),
    fullChunkMs: round3(m.fullChunkMs),
    at: at.toISOString(),
    tableHash: updateTableHash(schedule),
  };
}

/**
 * `schedule` with `measured` recorded, or why not: a measurement of another update table (the
 * schedule was edited while it ran) would be shown as this one's. O(K · blocks).
 */
export function withMeasuredSpeed(
  schedule: Schedule,
  measured: MeasuredSpeed,
): { ok: true; schedule: Schedule } | { ok: false; reason: string } {
  if (measured.tableHash !== updateTableHash(schedule)) {
    return {
      ok: false,
      reason: "The schedule's update table changed while its speed was measured; measure again.",
    };
  }
  return { ok: true, schedule: { ...schedule, measured } };
}
