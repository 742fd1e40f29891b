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
 *   "solver": { …method (absent: bac), budget, topN, forceLast, profile: {path, sha256} | null },
 *   "baseCost": { …flops, timeUs },
 *   "blocks": [
 *     { "id": "0.sa", "acs": [0, 12, 99], "bua": [40], "manual": [], "manualOff": [], "flops": 1048576, "timeUs": 12.5 },
 *     …
 *   ]
 * }
 * ```
 *
 * Nothing derived is written: a toggled cell changes exactly its block's line, and a hand edit
 * never leaves a stale number behind (the speedups are computed from the blocks and `baseCost` by
 * `summarizeSchedule` in core/cost.ts wherever they are shown). Files of earlier versions carry a `summary`
 * object; the parser checks its shape and ignores it, and the next save drops it. Anything the
 * serialiser wrote parses back to a schedule that serialises to the same bytes.
 */
import { BacError } from './errors';
import { LIMITS, validateDocument } from './contract';
import {
  documentOrder,
  formatIssues,
  IssueCollector,
  lineColumnAt,
  locateJsonPaths,
  parentPath,
  parseJson,
  type FormatIssue,
} from './json-validate';
import type { ScheduleFile } from './generated/bacschedule.types';
import type { FileRef, MeasuredSpeed, Schedule } from './types';

/** Value of the `format` field of every `.bacschedule`. */
export const SCHEDULE_FORMAT = 'bacschedule';
/** The only `.bacschedule` version this build reads and writes. */
export const SCHEDULE_VERSION = 1;
/** Largest K accepted; far above any sampler in use, it bounds the work of validation. */
export const MAX_STEPS = LIMITS.maxSteps;
/** At most this many issues are reported per file; a final issue says that more were cut. */
export const MAX_ISSUES = LIMITS.maxIssues;

/** Re-exported so that schedule readers need one import. */
export { formatIssues } from './json-validate';

/** One issue of a `.bacschedule`: `{path, message}` plus `line`/`column` when known. */
export type ScheduleIssue = FormatIssue;

/** Outcome of {@link parseSchedule}: the schedule, or every issue found (at most MAX_ISSUES + 1). */
export type ParseScheduleResult =
  | { readonly ok: true; readonly schedule: Schedule }
  | { readonly ok: false; readonly errors: readonly ScheduleIssue[] };

/**
 * Parses and validates a `.bacschedule` text against the contract (`schemas/bacschedule.schema.json`
 * and the schedule rules of `schemas/bac-rules.json`). Never throws, whatever the input. Collects
 * every issue (up to {@link MAX_ISSUES}, in document order) rather than stopping at the first,
 * except that a wrong `format` or `version` stops validation (the rest would be noise). A text
 * over `maxScheduleBytes` is refused before parsing. O(text length + Σ steps).
 */
export function parseSchedule(text: string): ParseScheduleResult {
  try {
    if (text.length > LIMITS.maxScheduleBytes) {
      const mb = (n: number): string => `${Math.round(n / 2 ** 20)} MB`;
      return {
        ok: false,
        errors: [
          {
            path: '',
            message: `is ${mb(text.length)}, expected at most ${mb(LIMITS.maxScheduleBytes)} (a .bacschedule of a real model is far smaller; this limit bounds the work of reading one)`,
          },
        ],
      };
    }
    const parsed = parseJson(text);
    if (!parsed.ok) {
      const { line, column } = lineColumnAt(text, parsed.offset);
      return {
        ok: false,
        errors: [
          { path: '', message: `invalid JSON at line ${line}, column ${column}: ${parsed.message}`, line, column },
        ],
      };
    }
    const c = new IssueCollector(MAX_ISSUES);
    for (const d of parsed.duplicates) c.add(d, 'duplicate key, expected each key once');
    validateDocument('schedule', parsed.value, parsed.literals, c);
    if (c.clean) return { ok: true, schedule: scheduleOf(parsed.value as ScheduleDocument) };
    return { ok: false, errors: located(text, c.result(documentOrder(parsed.value))) };
  } catch (e) {
    // Defence in depth: the walk above is written not to throw, but a parser must never crash
    // its caller on hostile input.
    return {
      ok: false,
      errors: [{ path: '', message: `could not be read (${String(e)}), expected a .bacschedule` }],
    };
  }
}

/** Adds line/column to issues; a missing key points at the closest enclosing value. One extra pass. */
function located(text: string, issues: readonly FormatIssue[]): FormatIssue[] {
  const wanted = new Set<string>();
  for (const i of issues) {
    for (let p = i.path; ; p = parentPath(p)) {
      wanted.add(p);
      if (p === '') break;
    }
  }
  const offsets = locateJsonPaths(text, wanted);
  return issues.map((i) => {
    for (let p = i.path; ; p = parentPath(p)) {
      const offset = offsets.get(p);
      if (offset !== undefined) return { ...i, ...lineColumnAt(text, offset) };
      if (p === '') return i;
    }
  });
}

/** A `.bacschedule` as written, once the contract has accepted it (generated from the schema). */
type ScheduleDocument = ScheduleFile;

/** The in-memory schedule of a validated document (fresh objects, nothing shared with the parse). */
function scheduleOf(d: ScheduleDocument): Schedule {
  const ref = (r: FileRef): FileRef => ({ path: r.path, sha256: r.sha256 });
  return {
    model: ref(d.model),
    sampler: { type: d.sampler.type, steps: d.sampler.steps },
    solver: {
      // `bac` is the default: kept in memory as absent, so the serialiser never writes it
      ...(d.solver.method !== undefined && d.solver.method !== 'bac' ? { method: d.solver.method } : {}),
      budget: d.solver.budget,
      topN: d.solver.topN,
      forceLast: d.solver.forceLast,
      profile: d.solver.profile === null ? null : ref(d.solver.profile),
    },
    baseCost: { flops: d.baseCost.flops, timeUs: d.baseCost.timeUs },
    blocks: d.blocks.map((b) => ({
      id: b.id,
      acs: b.acs,
      bua: b.bua,
      manual: b.manual,
      manualOff: b.manualOff,
      cost: { flops: b.flops, timeUs: b.timeUs },
    })),
    ...(d.measured ? { measured: { ...d.measured } } : {}),
  };
}

/** Keys of the optional `measured` object in file order (see `MeasuredSpeed`). */
const MEASURED_KEYS: readonly (keyof MeasuredSpeed)[] = [
  'provider',
  'device',
  'batch',
  'speedup',
  'chunkMs',
  'fullChunkMs',
  'at',
  'tableHash',
];

/**
 * Serialises a schedule: fixed key order, 2-space indent, one line per block, trailing newline,
 * no derived numbers. Deterministic. O(Σ steps).
 * @throws BacError when `s` breaks an invariant of {@link Schedule} (the text would not parse back).
 */
export function serializeSchedule(s: Schedule): string {
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
    ...(s.solver.method !== undefined && s.solver.method !== 'bac' ? [`    "method": ${j(s.solver.method)},`] : []),
    `    "budget": ${j(s.solver.budget)},`,
    `    "topN": ${j(s.solver.topN)},`,
    `    "forceLast": ${j(s.solver.forceLast)},`,
    `    "profile": ${s.solver.profile === null ? 'null' : ref(s.solver.profile, '    ')}`,
    '  },',
    '  "baseCost": {',
    `    "flops": ${j(s.baseCost.flops)},`,
    `    "timeUs": ${j(s.baseCost.timeUs)}`,
    '  },',
    ...(s.measured
      ? [`  "measured": { ${MEASURED_KEYS.map((k) => `"${k}": ${j(s.measured![k])}`).join(', ')} },`]
      : []),
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
