/**
 * The editor's header (file, sampler, summary, "Open as Text"), its banners (what cannot be
 * re-solved and why, stale model) and the solver controls (budget, top-n, force last step).
 * Each control change becomes one `setControls` intent; the host re-solves and edits the file.
 */
import { formatSpeedup } from '../src/core/cost';
import { samplerLabel } from '../src/core/editor-view';
import type { SolverControls } from '../src/core/schedule-edit';
import { minBudget } from '../src/core/solver-params';
import type { ValidState } from '../src/core/protocol';
import { button, checkbox, integerField, type ControlHandle } from './toolkit';

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
    const items: [string, string][] = [
      ['Block updates', `${s.summary.updates} of ${s.summary.fullUpdates}`],
      // measured when `bac eval` recorded it for this table, else the expectation (time or FLOPs)
      [s.speed.measured ? 'Speedup' : 'Expected speedup', s.speed.label],
      ['by FLOPs', formatSpeedup(s.summary.speedupFlops)],
    ];
    if (s.analysis) items.push(['Predicted error (proxy)', s.analysis.predictedError.toPrecision(3)]);
    this.summary.replaceChildren(
      ...items.map(([k, v]) => {
        const d = el('div');
        d.append(el('dt', undefined, k), el('dd', undefined, v));
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

/** Budget, top-n and force-last controls. */
export class Controls {
  readonly element = el('section', 'controls');
  private readonly range = el('input');
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
    this.element.append(budget, topN, force, this.hint);
  }

  private commit(change: Partial<SolverControls>): void {
    const s = this.state;
    if (!s) return;
    const next = { ...s.solver, ...change };
    if (next.budget === s.solver.budget && next.topN === s.solver.topN && next.forceLast === s.solver.forceLast) return;
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
    const reason = s.readonly
      ? 'This schedule is read-only.'
      : s.profile.state !== 'ok'
        ? 'Re-solving needs the linked profile (see the banner). Cells can still be toggled.'
        : '';
    const disabled = reason !== '';
    this.range.disabled = disabled;
    this.range.title = reason;
    for (const c of [this.budget, this.topN, this.forceLast]) c.setDisabled(disabled, reason);
    this.hint.textContent = disabled ? reason : 'Changes re-solve from the profile and keep your manual edits.';
  }
}
