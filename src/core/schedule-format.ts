/**
 * The `.bacschedule` file: parse + validate with precise messages, and a stable serialiser.
 *
 * A schedule is UTF-8 JSON with a fixed key order and 2-space indent, written so that a pull
 * request diff shows one changed line per changed block:
 *
 * ```json
 * {
 *   "format": "bacschedule",
 *   "version": 1,
 *   "model": { …path, sha256 },
 *   "sampler": { …type, steps },
 *   "solver": { …budget, topN, forceLast, profile: {path, sha256} | null },
 *   "baseCost": { …flops, timeUs },
 *   "summary": { …updates, fullUpdates, speedupFlops, speedupTime },
 *   "blocks": [
 *     { "id": "0.sa", "acs": [0, 12, 99], "bua": [40], "manual": [], "manualOff": [], "flops": 1048576, "timeUs": 12.5 },
 *     …
 *   ]
 * }
 * ```
 *
 * `summary` is derived (written from {@link summarizeSchedule}); the parser checks its shape but
 * does not trust its numbers, and the in-memory {@link Schedule} has none. Anything the serialiser
 * wrote parses back to a schedule that serialises to the same bytes.
 */
import { summarizeSchedule } from './cost';
import { blockId } from './blocks';
import { BacError } from './errors';
import {
  describeValue,
  formatIssues,
  IssueCollector,
  joinPath,
  lineColumnAt,
  numberProblem,
  parentPath,
  parseJsonWithPositions,
  type FormatIssue,
} from './json-validate';
import {
  BLOCK_KINDS,
  type BlockKind,
  type FileRef,
  type MeasuredSpeed,
  type Schedule,
  type ScheduleBlock,
} from './types';

/** Value of the `format` field of every `.bacschedule`. */
export const SCHEDULE_FORMAT = 'bacschedule';
/** The only `.bacschedule` version this build reads and writes. */
export const SCHEDULE_VERSION = 1;

/** Re-exported so that schedule readers need one import: issue rendering and the issue cap. */
export { formatIssues, MAX_ISSUES } from './json-validate';

/** One issue of a `.bacschedule`: `{path, message}` plus `line`/`column` when known. */
export type ScheduleIssue = FormatIssue;

/** Outcome of {@link parseSchedule}: the schedule, or every issue found (at most MAX_ISSUES + 1). */
export type ParseScheduleResult =
  | { readonly ok: true; readonly schedule: Schedule }
  | { readonly ok: false; readonly errors: readonly ScheduleIssue[] };

/** Like `parseBlockId`'s pattern, with the layer capped so completeness checks stay cheap. */
const BLOCK_ID = /^(0|[1-9][0-9]{0,5})\.(sa|ca|ffn)$/;

/**
 * Checks block ids: each `<layer>.<kind>`, unique, in model order (layer ascending, then sa,
 * ca, ffn) and complete (sa, ca and ffn for every layer 0 … max). `ids[i]` is undefined when
 * that block's id was already reported as malformed. Shared with the `.bacprofile` header.
 * O(n + 3·max layer).
 */
export function checkBlockIds(c: IssueCollector, ids: readonly (string | undefined)[], path: string): void {
  if (ids.length === 0) {
    c.add(path, 'is empty, expected the sa, ca and ffn blocks of every decoder layer');
    return;
  }
  const seen = new Map<string, number>();
  let prev: { id: string; rank: number } | undefined;
  let maxLayer = -1;
  ids.forEach((id, i) => {
    if (id === undefined) return;
    const m = BLOCK_ID.exec(id);
    if (!m) return;
    const layer = Number(m[1]);
    const rank = layer * 3 + BLOCK_KINDS.indexOf(m[2] as BlockKind);
    const idPath = `${path}[${i}].id`;
    const first = seen.get(id);
    if (first !== undefined) {
      c.add(idPath, `duplicate block "${id}" (also ${path}[${first}]), expected each block once`);
      return;
    }
    seen.set(id, i);
    if (prev && rank < prev.rank) {
      c.add(idPath, `"${id}" comes after "${prev.id}", expected model order (layer ascending, then sa, ca, ffn)`);
    }
    if (!prev || rank > prev.rank) prev = { id, rank };
    maxLayer = Math.max(maxLayer, layer);
  });
  if (maxLayer < 0 || ids.some((id) => id === undefined || !BLOCK_ID.test(id))) return;
  for (let layer = 0; layer <= maxLayer; layer++) {
    for (const kind of BLOCK_KINDS) {
      const id = blockId({ layer, kind });
      if (!seen.has(id)) {
        c.add(path, `block "${id}" is missing, expected sa, ca and ffn for every layer 0…${maxLayer}`);
      }
    }
  }
}

/** Checks a block id's syntax; returns it or undefined after reporting. */
export function checkBlockId(c: IssueCollector, v: unknown, path: string): string | undefined {
  return c.string(v, path, 'a block id "<layer>.<kind>" such as "0.sa", "3.ca" or "7.ffn"', (s) => BLOCK_ID.test(s));
}

const ROOT_KEYS = ['format', 'version', 'model', 'sampler', 'solver', 'baseCost', 'summary', 'measured', 'blocks'];
/** Keys of the optional `measured` object (see `MeasuredSpeed`). */
const MEASURED_KEYS = ['provider', 'device', 'batch', 'speedup', 'chunkMs', 'fullChunkMs', 'at', 'tableHash'];
const BLOCK_KEYS = ['id', 'acs', 'bua', 'manual', 'manualOff', 'flops', 'timeUs'];
const ORIGIN_KEYS = ['acs', 'bua', 'manual'] as const;
/** Largest K accepted; far above any sampler in use, it bounds the work of validation. */
export const MAX_STEPS = 100_000;

/**
 * Parses and validates a `.bacschedule` text. Never throws, whatever the input. Collects every
 * issue (up to {@link MAX_ISSUES}) rather than stopping at the first, except that a wrong `format`
 * or `version` stops validation (the rest would be noise). O(text length + Σ steps).
 */
export function parseSchedule(text: string): ParseScheduleResult {
  try {
    const parsed = parseJsonWithPositions(text);
    if (!parsed.ok) {
      const { line, column } = lineColumnAt(text, parsed.offset);
      return {
        ok: false,
        errors: [
          {
            path: '',
            message: `invalid JSON at line ${line}, column ${column}: ${parsed.message}`,
            line,
            column,
          },
        ],
      };
    }
    // A missing key has no position of its own: point at the closest enclosing value.
    const locate = (path: string): { line: number; column: number } | undefined => {
      for (let p = path; ; p = parentPath(p)) {
        const offset = parsed.positions.get(p);
        if (offset !== undefined) return lineColumnAt(text, offset);
        if (p === '') return undefined;
      }
    };
    const c = new IssueCollector(locate);
    for (const d of parsed.duplicates) c.add(d, 'duplicate key, expected each key once');
    const schedule = validate(parsed.value, c);
    return schedule && c.clean ? { ok: true, schedule } : { ok: false, errors: c.result() };
  } catch (e) {
    // Defence in depth: the walk above is written not to throw, but a parser must never crash
    // its caller on hostile input.
    return {
      ok: false,
      errors: [{ path: '', message: `could not be read (${String(e)}), expected a .bacschedule` }],
    };
  }
}

/** Validates a parsed JSON value; returns the schedule when no issue was found. */
function validate(value: unknown, c: IssueCollector): Schedule | undefined {
  const root = c.object(value, '', ROOT_KEYS, `a .bacschedule object (format "${SCHEDULE_FORMAT}")`, ['measured']);
  if (!root) return undefined;
  if (root.format !== SCHEDULE_FORMAT) {
    const got = typeof root.format === 'string' ? `"${root.format}" is not a BAC schedule` : describeValue(root.format);
    c.add('format', `${got}, expected "${SCHEDULE_FORMAT}"`);
    return undefined;
  }
  if (root.version !== SCHEDULE_VERSION) {
    c.add(
      'version',
      `${typeof root.version === 'number' ? `version ${root.version} is not supported` : describeValue(root.version)}, expected ${SCHEDULE_VERSION} (the only .bacschedule version this BAC Studio reads; a newer file needs a newer BAC Studio)`,
    );
    return undefined;
  }
  const model = c.fileRef(root.model, 'model', 'the model this schedule belongs to');
  const samplerObj = c.object(root.sampler, 'sampler', ['type', 'steps'], 'the sampler as {type, steps}');
  const type = samplerObj && c.string(samplerObj.type, 'sampler.type', 'a sampler name such as "ddpm" or "ddim"');
  const K = samplerObj && c.integer(samplerObj.steps, 'sampler.steps', 1, MAX_STEPS);

  const solverObj = c.object(
    root.solver,
    'solver',
    ['budget', 'topN', 'forceLast', 'profile'],
    'the solver parameters as {budget, topN, forceLast, profile}',
  );
  let solver: Schedule['solver'] | undefined;
  if (solverObj) {
    const budget = c.integer(solverObj.budget, 'solver.budget', 1, K ?? MAX_STEPS);
    const topN = c.integer(solverObj.topN, 'solver.topN', 0);
    const forceLast = c.boolean(solverObj.forceLast, 'solver.forceLast');
    const profile =
      solverObj.profile === null ? null : c.fileRef(solverObj.profile, 'solver.profile', 'the source profile or null');
    if (budget !== undefined && topN !== undefined && forceLast !== undefined && profile !== undefined) {
      solver = { budget, topN, forceLast, profile };
    }
  }
  const baseCost = cost(root.baseCost, 'baseCost', c);
  checkSummary(root.summary, c);
  const blocks = checkBlocks(root.blocks, K, c);
  const measured = root.measured === undefined ? undefined : checkMeasured(root.measured, c);
  if (!model || type === undefined || K === undefined || !solver || !baseCost || !blocks) return undefined;
  return { model, sampler: { type, steps: K }, solver, baseCost, blocks, ...(measured ? { measured } : {}) };
}

function checkMeasured(v: unknown, c: IssueCollector): MeasuredSpeed | undefined {
  const o = c.object(v, 'measured', MEASURED_KEYS, `the measured speed {${MEASURED_KEYS.join(', ')}}`);
  if (!o) return undefined;
  const text = (k: string) => c.string(o[k], `measured.${k}`, 'a non-empty string');
  const provider = text('provider');
  const device = text('device');
  const at = text('at');
  const tableHash = text('tableHash');
  const batch = c.integer(o.batch, 'measured.batch', 1);
  const speedup = c.nonNegative(o.speedup, 'measured.speedup');
  const chunkMs = c.nonNegative(o.chunkMs, 'measured.chunkMs');
  const fullChunkMs = c.nonNegative(o.fullChunkMs, 'measured.fullChunkMs');
  if ([provider, device, at, tableHash, batch, speedup, chunkMs, fullChunkMs].includes(undefined)) return undefined;
  return {
    provider: provider!,
    device: device!,
    batch: batch!,
    speedup: speedup!,
    chunkMs: chunkMs!,
    fullChunkMs: fullChunkMs!,
    at: at!,
    tableHash: tableHash!,
  };
}

function cost(v: unknown, path: string, c: IssueCollector): { flops: number; timeUs: number } | undefined {
  const o = c.object(v, path, ['flops', 'timeUs'], 'a cost as {flops, timeUs}');
  if (!o) return undefined;
  const flops = c.integer(o.flops, joinPath(path, 'flops'), 0);
  const timeUs = c.nonNegative(o.timeUs, joinPath(path, 'timeUs'));
  return flops !== undefined && timeUs !== undefined ? { flops, timeUs } : undefined;
}

/** The summary is derived: its shape is checked, its numbers are not trusted. */
function checkSummary(v: unknown, c: IssueCollector): void {
  const keys = ['updates', 'fullUpdates', 'speedupFlops', 'speedupTime'];
  const o = c.object(v, 'summary', keys, 'the derived summary {updates, fullUpdates, speedupFlops, speedupTime}');
  if (!o) return;
  c.integer(o.updates, 'summary.updates', 0);
  c.integer(o.fullUpdates, 'summary.fullUpdates', 0);
  for (const k of ['speedupFlops', 'speedupTime']) {
    const s = o[k];
    if (s !== null && !(typeof s === 'number' && Number.isFinite(s) && s >= 0)) {
      c.add(`summary.${k}`, `${describeValue(s)}, expected a finite number ≥ 0 or null`);
    }
  }
}

function checkBlocks(v: unknown, K: number | undefined, c: IssueCollector): ScheduleBlock[] | undefined {
  if (!Array.isArray(v)) {
    c.add('blocks', `${describeValue(v)}, expected an array of blocks in model order`);
    return undefined;
  }
  const blocks: ScheduleBlock[] = [];
  const ids: (string | undefined)[] = [];
  let complete = true;
  v.forEach((b, i) => {
    const path = `blocks[${i}]`;
    const o = c.object(b, path, BLOCK_KEYS, 'a block as {id, acs, bua, manual, manualOff, flops, timeUs}');
    if (!o) {
      ids.push(undefined);
      complete = false;
      return;
    }
    const id = checkBlockId(c, o.id, `${path}.id`);
    ids.push(id);
    const sets = {} as Record<(typeof ORIGIN_KEYS)[number] | 'manualOff', number[] | undefined>;
    for (const k of [...ORIGIN_KEYS, 'manualOff'] as const) sets[k] = stepList(o[k], `${path}.${k}`, K, c);
    const flops = c.integer(o.flops, `${path}.flops`, 0);
    const timeUs = c.nonNegative(o.timeUs, `${path}.timeUs`);
    const { acs, bua, manual, manualOff } = sets;
    if (acs && bua && manual && manualOff) {
      checkOrigins(path, { acs, bua, manual }, manualOff, c);
      if (id !== undefined && flops !== undefined && timeUs !== undefined) {
        blocks.push({ id, acs, bua, manual, manualOff, cost: { flops, timeUs } });
        return;
      }
    }
    complete = false;
  });
  checkBlockIds(c, ids, 'blocks');
  return complete ? blocks : undefined;
}

/** A strictly increasing list of steps in 0 … K−1 (range unchecked when K is unknown). */
function stepList(v: unknown, path: string, K: number | undefined, c: IssueCollector): number[] | undefined {
  if (!Array.isArray(v)) {
    c.add(path, `${describeValue(v)}, expected an array of steps (integers, strictly increasing)`);
    return undefined;
  }
  let ok = true;
  let prev = -1;
  const max = (K ?? MAX_STEPS) - 1;
  v.forEach((s, j) => {
    const at = `${path}[${j}]`;
    if (typeof s !== 'number' || !Number.isInteger(s)) {
      c.add(at, `${numberProblem(s, 'integer')}, expected a step: an integer in 0…${max}`);
      ok = false;
    } else if (s < 0 || s > max) {
      c.add(at, `step ${s} is out of range, expected an integer in 0…${max}`);
      ok = false;
    } else {
      if (s === prev) c.add(at, `step ${s} is repeated, expected each step once`);
      else if (s < prev) c.add(at, `step ${s} comes after ${prev}, expected steps in increasing order`);
      ok &&= s > prev;
      prev = Math.max(prev, s);
    }
  });
  return ok ? (v as number[]) : undefined;
}

/** Origins pairwise disjoint, step 0 an update, manualOff disjoint from all and without 0. */
function checkOrigins(
  path: string,
  sets: Record<(typeof ORIGIN_KEYS)[number], readonly number[]>,
  manualOff: readonly number[],
  c: IssueCollector,
): void {
  const owner = new Map<number, string>();
  for (const k of ORIGIN_KEYS) {
    sets[k].forEach((s, j) => {
      const other = owner.get(s);
      if (other !== undefined) {
        c.add(
          `${path}.${k}[${j}]`,
          `step ${s} is also in ${other}, expected each update under one origin (acs, bua or manual)`,
        );
      } else owner.set(s, k);
    });
  }
  if (!owner.has(0)) {
    c.add(path, 'step 0 is not an update, expected 0 in acs, bua or manual (every block computes at step 0)');
  }
  manualOff.forEach((s, j) => {
    const at = `${path}.manualOff[${j}]`;
    if (s === 0) c.add(at, 'step 0 cannot be switched off, expected steps ≥ 1 (every block computes at step 0)');
    else if (owner.has(s))
      c.add(
        at,
        `step ${s} is also an update (in ${owner.get(s)}), expected manualOff disjoint from acs, bua and manual`,
      );
  });
}

/** `measured` on one line, keys in {@link MEASURED_KEYS} order. */
function measuredLine(m: MeasuredSpeed): string {
  return `{ ${MEASURED_KEYS.map((k) => `"${k}": ${JSON.stringify(m[k as keyof MeasuredSpeed])}`).join(', ')} }`;
}

/** Rounds a derived ratio for display in the file; null when undefined (e.g. all costs are 0). */
function roundRatio(x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000;
}

/**
 * Serialises a schedule: fixed key order, 2-space indent, one line per block, trailing newline,
 * `summary` recomputed with {@link summarizeSchedule} (ratios rounded to 3 decimals). Deterministic.
 * O(Σ steps).
 * @throws BacError when `s` breaks an invariant of {@link Schedule} (the text would not parse back).
 */
export function serializeSchedule(s: Schedule): string {
  const summary = summarizeSchedule(s);
  const j = (x: unknown): string => JSON.stringify(x);
  const ref = (r: FileRef, indent: string): string =>
    `{\n${indent}  "path": ${j(r.path)},\n${indent}  "sha256": ${j(r.sha256)}\n${indent}}`;
  const steps = (a: readonly number[]): string => `[${a.map((x) => j(x)).join(', ')}]`;
  const blockLines = s.blocks.map(
    (b) =>
      `    { "id": ${j(b.id)}, "acs": ${steps(b.acs)}, "bua": ${steps(b.bua)}, "manual": ${steps(b.manual)}, ` +
      `"manualOff": ${steps(b.manualOff)}, "flops": ${j(b.cost.flops)}, "timeUs": ${j(b.cost.timeUs)} }`,
  );
  const text = [
    '{',
    `  "format": ${j(SCHEDULE_FORMAT)},`,
    `  "version": ${SCHEDULE_VERSION},`,
    `  "model": ${ref(s.model, '  ')},`,
    '  "sampler": {',
    `    "type": ${j(s.sampler.type)},`,
    `    "steps": ${j(s.sampler.steps)}`,
    '  },',
    '  "solver": {',
    `    "budget": ${j(s.solver.budget)},`,
    `    "topN": ${j(s.solver.topN)},`,
    `    "forceLast": ${j(s.solver.forceLast)},`,
    `    "profile": ${s.solver.profile === null ? 'null' : ref(s.solver.profile, '    ')}`,
    '  },',
    '  "baseCost": {',
    `    "flops": ${j(s.baseCost.flops)},`,
    `    "timeUs": ${j(s.baseCost.timeUs)}`,
    '  },',
    '  "summary": {',
    `    "updates": ${j(summary.updates)},`,
    `    "fullUpdates": ${j(summary.fullUpdates)},`,
    `    "speedupFlops": ${j(roundRatio(summary.speedupFlops))},`,
    `    "speedupTime": ${j(roundRatio(summary.speedupTime))}`,
    '  },',
    ...(s.measured ? [`  "measured": ${measuredLine(s.measured)},`] : []),
    blockLines.length === 0 ? '  "blocks": []' : `  "blocks": [\n${blockLines.join(',\n')}\n  ]`,
    '}',
    '',
  ].join('\n');
  const check = parseSchedule(text);
  if (!check.ok) {
    throw new BacError(`cannot write an invalid schedule:\n${formatIssues('schedule', check.errors)}`);
  }
  return text;
}
