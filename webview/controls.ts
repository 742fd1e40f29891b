/**
 * The editor's header (file, sampler, summary, "Open as Text"), its banners (what cannot be
 * re-solved and why, stale model) and the solver controls (method, budget or target speedup,
 * top-n, force last step). Each control change becomes one `setControls` intent; the host
 * re-solves and edits the file.
 */
import type { CostMeasure } from '../src/core/cost-target';
import { formatSpeedup } from '../src/core/cost';
import { samplerLabel } from '../src/core/editor-view';
import type { SolverControls } from '../src/core/schedule-edit';
import { METHOD_LABELS, minBudget, SCHEDULE_METHODS, type ScheduleMethod } from '../src/core/solver-params';
import type { ValidState } from '../src/core/protocol';
import { button, checkbox, dropdown, integerField, numberField, type ControlHandle } from './toolkit';

/** What the header and controls ask their owner to do. */
export interface ControlActions {
  setControls(controls: SolverControls): void;
  openAsText(): void;
  profileModel(): void;
  /** A message for the status line (e.g. a rejected value). */
  notify(message: string): void;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Header with title, sampler and summary. */
export class Header {
  readonly element = el('header', 'header');
  private readonly title = el('h1');
  private readonly meta = el('span', 'meta');
  private readonly summary = el('dl', 'summary');

  constructor(actions: ControlActions) {
    const buttons = el('div', 'actions');
    buttons.append(button('Open as Text', () => actions.openAsText(), 'secondary'));
    this.element.append(this.title, this.meta, buttons);
  }

  /** The summary list, placed by the caller under the banners. */
  get summaryElement(): HTMLElement {
    return this.summary;
  }

  render(s: ValidState): void {
    this.title.textContent = s.fileName;
    this.meta.textContent = `${samplerLabel(s.samplerType)} · K = ${s.steps} steps · ${s.blocks.length} blocks${s.readonly ? ' · read-only' : ''}`;
    const timed = s.speed.measured || s.summary.speedupTime !== null;
    const caveat = timed && s.speedCaveat ? s.speedCaveat : undefined;
    const items: [string, string, string?][] = [
      ['Block updates', `${s.summary.updates} of ${s.summary.fullUpdates}`],
      // On linux-arm64 a time (measured or expected) is the ARM CPU's, not the GPU's: say so, details on hover.
      [
        s.speed.measured ? 'Speedup' : 'Expected speedup',
        caveat ? `${s.speed.label} (ARM CPU)` : s.speed.label,
        caveat,
      ],
      ['by FLOPs', formatSpeedup(s.summary.speedupFlops)],
    ];
    if (s.analysis) items.push(['Predicted error (proxy)', s.analysis.predictedError.toPrecision(3)]);
    this.summary.replaceChildren(
      ...items.map(([k, v, title]) => {
        const d = el('div');
        const dd = el('dd', undefined, v);
        if (title) dd.title = title;
        d.append(el('dt', undefined, k), dd);
        return d;
      }),
    );
    this.summary.setAttribute('aria-label', 'Schedule summary');
  }
}

/** Banners for the profile and model status; empty when both are fine. */
export class Banners {
  readonly element = el('div');

  constructor(private readonly actions: ControlActions) {
    this.element.className = 'banners';
  }

  render(s: ValidState): void {
    const banners: HTMLElement[] = [];
    const add = (text: string, level: 'warning' | 'error', fix: boolean): void => {
      const b = el('div', `banner ${level === 'error' ? 'error' : ''}`.trim());
      b.setAttribute('role', level === 'error' ? 'alert' : 'status');
      b.append(el('p', undefined, text));
      if (fix) b.append(button('Profile Model…', () => this.actions.profileModel(), 'secondary'));
      banners.push(b);
    };
    if (s.model.state === 'missing' || s.model.state === 'changed') add(s.model.message, 'warning', true);
    if (s.profile.state !== 'ok')
      add(s.profile.message, s.profile.state === 'invalid' ? 'error' : 'warning', s.profile.state !== 'unsaved');
    this.element.replaceChildren(...banners);
  }
}

/** Method, budget (or target speedup), top-n and force-last controls. */
export class Controls {
  readonly element = el('section', 'controls');
  private readonly range = el('input');
  private readonly method: ControlHandle<ScheduleMethod>;
  private readonly target: ControlHandle<number>;
  private readonly targetBy: ControlHandle<CostMeasure>;
  private by: CostMeasure = 'flops';
  private readonly budget: ControlHandle<number>;
  private readonly topN: ControlHandle<number>;
  private readonly forceLast: ControlHandle<boolean>;
  private readonly hint = el('span', 'hint');
  private state: ValidState | null = null;

  constructor(private readonly actions: ControlActions) {
    this.element.setAttribute('aria-label', 'Solver controls');
    const invalid = (what: string) => (text: string) =>
      actions.notify(`“${text}” is not a valid ${what}; expected a whole number.`);
    this.budget = integerField(
      'budget',
      'Budget: update steps per block',
      (v) => this.commit({ budget: v }),
      invalid('budget'),
    );
    this.topN = integerField(
      'topn',
      'Top-n: blocks given BUA error correction',
      (v) => this.commit({ topN: v }),
      invalid('top-n'),
    );
    this.forceLast = checkbox('forcelast', 'Force last step', (v) => this.commit({ forceLast: v }));
    this.method = dropdown(
      'method',
      'Schedule method',
      SCHEDULE_METHODS.map((m) => ({ value: m, label: METHOD_LABELS[m] })),
      (m) => this.commit({ method: m }),
    );
    // The target field shows the schedule's expected speedup; typing another solves for it.
    this.target = numberField(
      'target',
      'Target speedup: solve for the method’s best schedule at least this much faster',
      (t) => (/^\d+(\.\d+)?$/.test(t) && Number(t) >= 1 ? Number(t) : undefined),
      (x) => this.commit({ target: { speedup: x, by: this.by } }),
      (text) => actions.notify(`“${text}” is not a valid target speedup; expected a number ≥ 1, e.g. 3 or 2.5.`),
    );
    this.targetBy = dropdown<CostMeasure>(
      'target-by',
      'Target speedup counted by',
      [
        { value: 'flops', label: 'by FLOPs' },
        { value: 'time', label: 'by time (expected)' },
      ],
      (by) => {
        this.by = by;
        if (this.state) this.render(this.state);
      },
    );

    this.range.type = 'range';
    this.range.id = 'budget-range';
    this.range.setAttribute('aria-label', 'Budget slider');
    // Dragging only previews the number; releasing commits one re-solve (one undo step).
    this.range.addEventListener('input', () => this.budget.set(Number(this.range.value)));
    this.range.addEventListener('change', () => this.commit({ budget: Number(this.range.value) }));

    const budget = el('div', 'control');
    const bl = el('label', undefined, 'Budget S (updates per block)');
    bl.htmlFor = 'budget-range';
    const row = el('div', 'row');
    row.append(this.range, this.budget.element);
    budget.append(bl, row);

    const topN = el('div', 'control');
    const tl = el('label', undefined, 'Top-n (BUA)');
    tl.htmlFor = 'topn';
    topN.append(tl, this.topN.element);

    const force = el('div', 'control');
    force.append(this.forceLast.element);

    const method = el('div', 'control');
    const ml = el('label', undefined, 'Method');
    ml.htmlFor = 'method';
    method.append(ml, this.method.element);

    const target = el('div', 'control');
    const xl = el('label', undefined, 'Target speedup ×');
    xl.htmlFor = 'target';
    const targetRow = el('div', 'row');
    targetRow.append(this.target.element, this.targetBy.element);
    target.append(xl, targetRow);
    this.element.append(method, budget, target, topN, force, this.hint);
  }

  private commit(change: Partial<SolverControls>): void {
    const s = this.state;
    if (!s) return;
    const next: SolverControls = { ...s.solver, ...change };
    const same =
      next.method === s.solver.method &&
      next.budget === s.solver.budget &&
      next.topN === s.solver.topN &&
      next.forceLast === s.solver.forceLast;
    if (same && !next.target) return;
    this.actions.setControls(next);
  }

  render(s: ValidState): void {
    this.state = s;
    const K = s.steps;
    this.range.min = String(minBudget(K, s.solver.forceLast));
    this.range.max = String(K);
    this.range.value = String(s.solver.budget);
    this.budget.set(s.solver.budget);
    this.topN.set(s.solver.topN);
    this.forceLast.set(s.solver.forceLast);
    this.method.set(s.solver.method);
    // by time only where the profile measured block times
    if (s.summary.speedupTime === null) this.by = 'flops';
    this.targetBy.set(this.by);
    const current = this.by === 'time' ? s.summary.speedupTime : s.summary.speedupFlops;
    this.target.set(current === null ? 1 : Math.floor(current * 100) / 100);
    const reason = s.readonly
      ? 'This schedule is read-only.'
      : s.profile.state !== 'ok'
        ? 'Re-solving needs the linked profile (see the banner). Cells can still be toggled.'
        : '';
    const disabled = reason !== '';
    this.range.disabled = disabled;
    this.range.title = reason;
    for (const c of [this.budget, this.topN, this.forceLast, this.method, this.target]) c.setDisabled(disabled, reason);
    this.targetBy.setDisabled(
      disabled || s.summary.speedupTime === null,
      disabled ? reason : 'No measured block times in the profile.',
    );
    if (!disabled && s.solver.method !== 'bac') this.topN.setDisabled(true, 'Top-n is the Bubbling Union’s: BAC only.');
    this.hint.textContent = disabled
      ? reason
      : 'Changes re-solve from the profile and keep your manual edits; a target speedup picks the largest budget that meets it.';
  }
}
