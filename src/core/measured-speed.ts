/**
 * What a user is shown as a schedule's speed: the measured speedup when the schedule carries one
 * for its current update table ("3.4× measured on cpu"), else the expectation, labelled as such.
 * Pure.
 */
import { updateSteps } from './blocks';
import { formatSpeedup } from './cost';
import type { Schedule, ScheduleSummary } from './types';

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
