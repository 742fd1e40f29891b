/**
 * `bac info`: a human (or `--json`) summary of a `.bacschedule` or a `.bacprofile`.
 */
import { updateSteps } from '../core/blocks';
import { formatSpeedup, summarizeSchedule } from '../core/cost';
import { methodOf } from '../core/methods';
import type { Profile, Schedule } from '../core/types';
import { parseCommand } from './options';
import { readInput } from '../engine/fsutil';
import { looksLikeProfile, scheduleFromBytes } from './load';
import { parseProfile } from '../core/profile-format';
import { FileIssuesError } from '../core/json-validate';
import type { CommandResult } from './args';

/** `bac info`'s usage and options (its `--help`). */
export const INFO_SPEC = {
  name: 'info',
  positional: 'file (S.bacschedule or P.bacprofile)',
  usage: 'FILE [--json]',
  about: `Summarises a schedule (.bacschedule): model, sampler, solver parameters, per-block update counts
by origin and the expected speedup; or a profile (.bacprofile): model, sampler, samples, and per
block its reuse error, adjacent-step similarity and cost. The file kind is detected from its content.`,
  options: {},
  optionWidth: 14,
};

/** Right-aligned text table: first column left-aligned, the rest right-aligned. O(cells). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const shortSha = (sha: string): string => `${sha.slice(0, 12)}…`;

/** Runs `bac info`. @throws BacError for user errors. */
export async function infoCommand(argv: readonly string[]): Promise<CommandResult> {
  const { positional: file } = parseCommand(INFO_SPEC, argv);
  const bytes = await readInput(file, 'a .bacschedule or a .bacprofile');
  if (looksLikeProfile(bytes)) {
    const r = parseProfile(bytes);
    if (!r.ok) throw new FileIssuesError(file, r.errors);
    return profileInfo(file, r.profile);
  }
  return scheduleInfo(file, scheduleFromBytes(file, bytes));
}

/** Summary of a schedule. O(Σ steps). */
export function scheduleInfo(file: string, s: Schedule): CommandResult {
  const summary = summarizeSchedule(s);
  const blocks = s.blocks.map((b) => ({
    id: b.id,
    updates: updateSteps(b).length,
    acs: b.acs.length,
    bua: b.bua.length,
    manual: b.manual.length,
    manualOff: b.manualOff.length,
  }));
  const { budget, topN, forceLast, profile } = s.solver;
  const rows = [
    ['block', 'updates', 'acs', 'bua', 'manual', 'off'],
    ...blocks.map((b) => [b.id, b.updates, b.acs, b.bua, b.manual, b.manualOff].map(String)),
  ];
  const pct = summary.fullUpdates > 0 ? ((100 * summary.updates) / summary.fullUpdates).toFixed(1) : '0.0';
  const text = [
    `${file}: BAC schedule`,
    `  model     ${s.model.path} (sha256 ${shortSha(s.model.sha256)})`,
    `  sampler   ${s.sampler.type}, K = ${s.sampler.steps} steps`,
    `  solver    ${methodOf(s) === 'bac' ? '' : `method ${methodOf(s)}, `}budget M = ${budget}, top-n = ${topN}${topN === 0 ? ' (BUA off)' : ''}, forceLast ${forceLast ? 'on' : 'off'}`,
    `  profile   ${profile ? `${profile.path} (sha256 ${shortSha(profile.sha256)})` : 'none (hand-written or baseline)'}`,
    `  updates   ${summary.updates} of ${summary.fullUpdates} block calls (${pct} %)`,
    `  speedup   ${formatSpeedup(summary.speedupFlops)} by FLOPs, ${formatSpeedup(summary.speedupTime)} by time (expected)`,
    '',
    table(rows),
  ].join('\n');
  return {
    json: {
      kind: 'schedule',
      file,
      model: s.model,
      sampler: s.sampler,
      solver: s.solver,
      baseCost: s.baseCost,
      summary,
      blocks,
    },
    text,
  };
}

/** Mean of Sim[k][k+1] over k: how similar consecutive steps are (1 = the block never changes). */
function adjacentSimilarity(sim: Float32Array, K: number): number | null {
  if (K < 2) return null;
  let sum = 0;
  for (let k = 0; k + 1 < K; k++) sum += sim[k * K + k + 1]!;
  return sum / (K - 1);
}

/** Summary of a profile. O(B·K). */
export function profileInfo(file: string, p: Profile): CommandResult {
  const K = p.sampler.steps;
  const blocks = p.blocks.map((b) => ({
    id: b.id,
    l1Mean: b.l1Mean,
    l1Std: b.l1Std,
    adjacentSimilarity: adjacentSimilarity(b.simMean, K),
    cost: b.cost,
  }));
  const rows = [
    ['block', 'ℓ1 mean', '± std', 'adj. sim', 'MFLOPs', 'time µs'],
    ...blocks.map((b) => [
      b.id,
      b.l1Mean.toPrecision(4),
      b.l1Std.toPrecision(2),
      b.adjacentSimilarity === null ? 'n/a' : b.adjacentSimilarity.toFixed(4),
      (b.cost.flops / 1e6).toFixed(2),
      b.cost.timeUs.toFixed(1),
    ]),
  ];
  const text = [
    `${file}: BAC profile`,
    `  model     ${p.model.path} (sha256 ${shortSha(p.model.sha256)})`,
    `  sampler   ${p.sampler.type}, K = ${K} steps`,
    `  samples   N = ${p.samples} from ${p.episodes || '(unknown)'}, seed ${p.seed}`,
    `  profiled  ${p.createdAt} on ${p.executionProvider}`,
    `  rest      ${(p.baseCost.flops / 1e6).toFixed(2)} MFLOPs, ${p.baseCost.timeUs.toFixed(1)} µs per denoiser call outside the blocks`,
    `  per step  ${p.chunkStepTimeUs === undefined ? 'chunk graph not measured (expected speedups by time use the per-call rest)' : `${p.chunkStepTimeUs.toFixed(1)} µs the chunk graph pays per step whatever is cached (the time base of expected speedups)`}`,
    `  ℓ1        ${p.l1Elements === undefined ? 'over every element (not recorded: written before the estimate existed)' : `averaged over ${p.l1Elements} elements per sample and block`}`,
    '',
    table(rows),
  ].join('\n');
  // the header as the file holds it; optional fields null when absent, so every key is present
  const { blocks: _statistics, ...header } = p;
  return {
    json: {
      kind: 'profile',
      file,
      ...header,
      l1Elements: header.l1Elements ?? null,
      chunkStepTimeUs: header.chunkStepTimeUs ?? null,
      blocks,
    },
    text,
  };
}
