/**
 * The `.bacschedule` editor's host ↔ webview protocol: every message either side sends, as
 * discriminated unions on `type`, plus runtime guards for what arrives from the webview (the host
 * never trusts a message's shape). The webview renders {@link EditorState} and sends intents; only
 * the host edits the document. Pure types and checks; shared by `src/extension` and `webview/`.
 */
import type { BlockUpdates, IdentifiedBlock, ScheduleSummary, UpdateOrigin } from './types';
import type { TradeoffPoint } from './tradeoff';
import type { CostTarget } from './cost-target';
import { isScheduleMethod, type ScheduleMethod } from './solver-params';

// ---------------------------------------------------------------------------------------------
// State the host pushes

/** One block row of the timeline: the block and its update steps by origin, as the schedule holds them. */
export type BlockView = IdentifiedBlock & BlockUpdates;

/** Why the schedule can or cannot be re-solved from its linked profile. */
export type ProfileState =
  | 'ok' // linked, found, sha256 matches, readable, same K
  | 'none' // the schedule links no profile (hand-written or a baseline)
  | 'missing' // the linked file does not exist
  | 'mismatch' // the file's sha256 differs from the one recorded in the schedule
  | 'invalid' // the file is not a readable .bacprofile
  | 'incompatible' // readable, but its K or blocks do not match the schedule
  | 'unsaved'; // the schedule is untitled, so a relative path resolves nowhere

/** The linked profile's status, with a sentence for the banner (what, why, how to fix). */
export interface ProfileStatus {
  readonly state: ProfileState;
  /** Banner text; empty when `state` is `ok`. */
  readonly message: string;
  /** The path recorded in the schedule (relative to it), or null when none is linked. */
  readonly path: string | null;
}

/** Whether the model the schedule was solved for is still the file next to it. */
export interface ModelStatus {
  readonly state: 'ok' | 'missing' | 'changed' | 'unknown';
  /** Banner text; empty when `state` is `ok` or `unknown`. */
  readonly message: string;
}

/** What the profile adds to the view; absent when the profile cannot be used. */
export interface ProfileAnalysis {
  /** Observation samples aggregated in the profile. */
  readonly samples: number;
  /**
   * Per block (schedule order), per step k: mean similarity between the block's output at k and
   * the cached output it reuses at k (1 at updates). Rounded to 4 decimals.
   */
  readonly simToSource: readonly (readonly number[])[];
  /** Same shape: the spread (std over samples) of that similarity. */
  readonly simStdToSource: readonly (readonly number[])[];
  /** Per block (schedule order): ℓ1 reuse-error estimate ℓ_b and its std over samples. */
  readonly l1: readonly { readonly mean: number; readonly std: number }[];
  /** The trade-off curves for the schedule's top-n and forceLast (null while pending or if they failed). */
  readonly tradeoff: { readonly bac: readonly TradeoffPoint[]; readonly uniform: readonly TradeoffPoint[] } | null;
  /** True while the curves are still being computed (a second `state` brings them). */
  readonly tradeoffPending: boolean;
  /** Predicted-error proxy of the schedule as it is (hand edits included). */
  readonly predictedError: number;
}

/** The state of a valid schedule. */
export interface ValidState {
  readonly kind: 'valid';
  /** File name for headings. */
  readonly fileName: string;
  /** K. */
  readonly steps: number;
  /** Sampler type, e.g. `ddpm`. */
  readonly samplerType: string;
  /** Solver parameters recorded in the file (`method` is `bac` when the file names none). */
  readonly solver: {
    readonly method: ScheduleMethod;
    readonly budget: number;
    readonly topN: number;
    readonly forceLast: boolean;
  };
  /** Rows in model order. */
  readonly blocks: readonly BlockView[];
  /** Derived numbers. */
  readonly summary: ScheduleSummary;
  /** The speedup to show: measured (`bac eval` recorded it for this table) or expected, labelled. */
  readonly speed: { readonly label: string; readonly measured: boolean };
  /** Linked-profile status. */
  readonly profile: ProfileStatus;
  /** Model status. */
  readonly model: ModelStatus;
  /** Profile-derived charts and tooltips; null unless `profile.state` is `ok`. */
  readonly analysis: ProfileAnalysis | null;
  /** True when the editor must not edit (e.g. the document is read-only). */
  readonly readonly: boolean;
  /** What the measured speed stands for where it was measured (measuredSpeedCaveat), or null. */
  readonly speedCaveat: string | null;
}

/** One parse problem, formatted for the error view. */
export interface IssueView {
  /** JSON path such as `blocks[3].acs[2]`, or '' for the whole file. */
  readonly path: string;
  readonly message: string;
  /** 1-based, when known. */
  readonly line?: number;
  readonly column?: number;
}

/** The state of a document that does not parse: the editor shows the issues and never writes. */
export interface InvalidState {
  readonly kind: 'invalid';
  readonly fileName: string;
  readonly issues: readonly IssueView[];
}

/** Everything the webview renders. */
export type EditorState = ValidState | InvalidState;

// ---------------------------------------------------------------------------------------------
// Messages

/** Edits of the document a webview (or a test) can ask for. */
export type EditIntent =
  /** Toggle whether a block updates at a step (step 0 is refused). */
  | { readonly type: 'toggleStep'; readonly blockId: string; readonly step: number }
  /**
   * Re-solve from the linked profile with new controls, keeping hand edits: the method at `budget`,
   * or, with `target`, the method's best schedule whose expected speedup meets it.
   */
  | {
      readonly type: 'setControls';
      readonly method: ScheduleMethod;
      readonly budget: number;
      readonly topN: number;
      readonly forceLast: boolean;
      readonly target?: CostTarget;
    };

/** Messages from the webview to the host. */
export type WebviewMessage =
  /** The webview has loaded its script and listens; the host answers with `state`. */
  | { readonly type: 'ready' }
  | EditIntent
  /** Send the full similarity matrix of one block (for the heatmap). */
  | { readonly type: 'requestMatrix'; readonly blockId: string }
  /** Reopen this file in the default text editor. */
  | { readonly type: 'openAsText' }
  /** Run "BAC: Profile Model" (the fix offered by the banners). */
  | { readonly type: 'profileModel' };

/** Messages from the host to the webview. */
export type HostMessage =
  /** The whole state to render (sent after `ready` and after every document change). */
  | { readonly type: 'state'; readonly state: EditorState }
  /** One block's K×K mean similarity matrix, row-major, answering `requestMatrix`. */
  | { readonly type: 'matrix'; readonly blockId: string; readonly steps: number; readonly data: readonly number[] }
  /** A one-line message for the status line, e.g. why an edit was refused. */
  | { readonly type: 'notice'; readonly level: 'info' | 'warning' | 'error'; readonly message: string };

// ---------------------------------------------------------------------------------------------
// Guards

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isCostTarget = (v: unknown): v is CostTarget =>
  isObject(v) &&
  typeof v.speedup === 'number' &&
  Number.isFinite(v.speedup) &&
  v.speedup >= 1 &&
  (v.by === 'flops' || v.by === 'time');
const isBlockId = (v: unknown): v is string => typeof v === 'string' && /^(0|[1-9][0-9]{0,5})\.(sa|ca|ffn)$/.test(v);

/**
 * Whether `v` is a well-formed {@link WebviewMessage}. Numbers must be integers in range and ids
 * canonical; extra fields are tolerated (forward compatibility), wrong types are not. O(1).
 */
export function isWebviewMessage(v: unknown): v is WebviewMessage {
  if (!isObject(v)) return false;
  switch (v.type) {
    case 'ready':
    case 'openAsText':
    case 'profileModel':
      return true;
    case 'requestMatrix':
      return isBlockId(v.blockId);
    default:
      return isEditIntent(v);
  }
}

/** Whether `v` is a well-formed {@link EditIntent} (range checks against K happen when applied). */
export function isEditIntent(v: unknown): v is EditIntent {
  if (!isObject(v)) return false;
  switch (v.type) {
    case 'toggleStep':
      return isBlockId(v.blockId) && isInt(v.step, 0);
    case 'setControls':
      return (
        typeof v.method === 'string' &&
        isScheduleMethod(v.method) &&
        isInt(v.budget, 1) &&
        isInt(v.topN, 0) &&
        typeof v.forceLast === 'boolean' &&
        (v.target === undefined || isCostTarget(v.target))
      );
    default:
      return false;
  }
}

/** Whether `v` is a well-formed {@link HostMessage} (shallow: the webview trusts the host's payloads). */
export function isHostMessage(v: unknown): v is HostMessage {
  if (!isObject(v)) return false;
  switch (v.type) {
    case 'state':
      return isObject(v.state) && (v.state.kind === 'valid' || v.state.kind === 'invalid');
    case 'matrix':
      return isBlockId(v.blockId) && isInt(v.steps, 1) && Array.isArray(v.data);
    case 'notice':
      return ['info', 'warning', 'error'].includes(v.level as string) && typeof v.message === 'string';
    default:
      return false;
  }
}

/** Display labels of update origins (legend, tooltips). */
export const ORIGIN_LABELS: Readonly<Record<UpdateOrigin, string>> = {
  acs: 'ACS update',
  bua: 'BUA error correction',
  manual: 'manual update',
};

// ---------------------------------------------------------------------------------------------
// The Sweep panel (a `.bacsweep` report; webview/sweep*.ts)

/** One measured configuration as the Sweep panel plots it. */
export interface SweepPointView {
  /** `sampler-K/method[-S]`. */
  readonly id: string;
  /** e.g. `DDIM-10 · BAC S=3`. */
  readonly label: string;
  /** Measured speedup over the report's reference (x). */
  readonly speedup: number;
  /** The report's quality measure (y, lower is better); null when undefined for this point. */
  readonly quality: number | null;
  /** `quality` as the table shows it, with its spread when reported (`–` when undefined). */
  readonly qualityText: string;
  readonly pareto: boolean;
  readonly recommended: boolean;
  /** Whether "apply" can write this configuration into a schedule (full, Uniform, the recommendation). */
  readonly applicable: boolean;
}

/** Everything the Sweep panel renders. */
export interface SweepPanelState {
  readonly fileName: string;
  /** Quality measure id and what it measures. */
  readonly measure: string;
  readonly measureText: string;
  /**
   * How the chart's y axis maps the measure: `log` for error measures (positive), `linear` for the
   * reference distance (0 at the reference, slightly negative from sampling noise).
   */
  readonly qualityScale: 'log' | 'linear';
  /** The largest value the recommendation rule allowed (drawn as a line). */
  readonly qualityLimit: number | null;
  /** Label of the reference configuration. */
  readonly reference: string;
  /** How costs were measured, e.g. `12 windows × 4 draws on cpu (per-step batch-1 …)`. */
  readonly measuredOn: string;
  readonly points: readonly SweepPointView[];
  /** File name of the schedule "apply" writes into; null when none was found (apply asks). */
  readonly target: string | null;
  /** The robot-trials plan, when the report has one. */
  readonly trials: string | null;
  readonly notes: readonly string[];
}

/** Messages from the Sweep panel's webview to the host. */
export type SweepWebviewMessage =
  | { readonly type: 'ready' }
  /** Write configuration `id` into the target schedule (one undoable edit). */
  | { readonly type: 'applySweepConfig'; readonly id: string };

/** Messages from the host to the Sweep panel. */
export type SweepHostMessage =
  | { readonly type: 'sweepState'; readonly state: SweepPanelState }
  | { readonly type: 'notice'; readonly level: 'info' | 'warning' | 'error'; readonly message: string };

/** Whether `v` is a well-formed {@link SweepWebviewMessage}. O(1). */
export function isSweepWebviewMessage(v: unknown): v is SweepWebviewMessage {
  if (!isObject(v)) return false;
  if (v.type === 'ready') return true;
  return v.type === 'applySweepConfig' && typeof v.id === 'string' && v.id.length > 0 && v.id.length < 200;
}

/** Whether `v` is a well-formed {@link SweepHostMessage} (shallow). */
export function isSweepHostMessage(v: unknown): v is SweepHostMessage {
  if (!isObject(v)) return false;
  if (v.type === 'sweepState') return isObject(v.state) && Array.isArray(v.state.points);
  return v.type === 'notice' && typeof v.message === 'string';
}
