/**
 * Entry of the Sweep panel webview: the measured Pareto front of a `.bacsweep` report (x: measured
 * speedup over the reference; y: the report's quality measure, lower is better; both log scale), every
 * point labelled, the recommendation marked, and a list with one "Apply" button per applicable
 * configuration. The host owns the schedule; this page only asks it to apply a configuration. It
 * says `ready` once its listener is installed, then receives the state.
 */
import {
  isSweepHostMessage,
  type SweepPanelState,
  type SweepPointView,
  type SweepWebviewMessage,
} from '../src/core/protocol';

declare function acquireVsCodeApi(): { postMessage(m: unknown): void };

const vscode = acquireVsCodeApi();
const post = (m: SweepWebviewMessage): void => vscode.postMessage(m);
const app = document.getElementById('app')!;
const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The scatter plot: log-x speedup, linear-y quality, Pareto front joined, recommendation ringed. */
function chart(state: SweepPanelState): SVGElement {
  const W = 720;
  const H = 380;
  const m = { l: 70, r: 170, t: 16, b: 44 };
  const pts = state.points.filter((p) => p.quality !== null);
  const xs = pts.map((p) => Math.log(Math.max(p.speedup, 1e-3)));
  const ys = pts.map((p) => Math.log(Math.max(p.quality!, 1e-30)));
  const [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 0.1)];
  const [y0, y1] = [Math.min(...ys) - 0.05, Math.max(...ys) + 0.05];
  const sx = (v: number) => m.l + ((Math.log(Math.max(v, 1e-3)) - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((Math.log(Math.max(v, 1e-30)) - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': `Pareto front: ${pts.length} configurations, measured speedup against ${state.measure}`,
    class: 'sweep-chart',
  });
  root.append(
    svg('line', { x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b, class: 'axis' }),
    svg('line', { x1: m.l, y1: m.t, x2: m.l, y2: H - m.b, class: 'axis' }),
    svg(
      'text',
      { x: (W + m.l) / 2, y: H - 8, 'text-anchor': 'middle', class: 'axis-label' },
      'measured speedup over the reference (log scale)',
    ),
    svg(
      'text',
      {
        x: 14,
        y: (H - m.b) / 2,
        transform: `rotate(-90 14 ${(H - m.b) / 2})`,
        'text-anchor': 'middle',
        class: 'axis-label',
      },
      `${state.measure} (log scale, lower is better)`,
    ),
  );
  for (const t of [1, 2, 5, 10, 20, 50]) {
    if (Math.log(t) < x0 - 1e-9 || Math.log(t) > x1 + 1e-9) continue;
    root.append(svg('text', { x: sx(t), y: H - m.b + 16, 'text-anchor': 'middle', class: 'tick' }, `${t}×`));
  }
  for (const v of [y0, (y0 + y1) / 2, y1].map(Math.exp)) {
    root.append(svg('text', { x: m.l - 6, y: sy(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toExponential(1)));
  }
  const front = pts.filter((p) => p.pareto).sort((a, b) => a.speedup - b.speedup);
  if (front.length > 1) {
    root.append(
      svg('polyline', { points: front.map((p) => `${sx(p.speedup)},${sy(p.quality!)}`).join(' '), class: 'front' }),
    );
  }
  for (const p of pts) {
    const g = svg('g', {
      class: `point${p.pareto ? ' pareto' : ''}${p.recommended ? ' recommended' : ''}`,
      'data-id': p.id,
    });
    g.append(
      svg(
        'title',
        {},
        `${p.label}: ${p.speedup.toFixed(2)}× measured, ${state.measure} ${p.quality!.toExponential(2)}`,
      ),
    );
    if (p.recommended) g.append(svg('circle', { cx: sx(p.speedup), cy: sy(p.quality!), r: 9, class: 'ring' }));
    g.append(svg('circle', { cx: sx(p.speedup), cy: sy(p.quality!), r: 4 }));
    g.append(svg('text', { x: sx(p.speedup) + 7, y: sy(p.quality!) - 6, class: 'point-label' }, p.label));
    root.append(g);
  }
  return root;
}

function row(p: SweepPointView, state: SweepPanelState): HTMLTableRowElement {
  const tr = el('tr');
  if (p.recommended) tr.className = 'recommended';
  tr.append(
    el('td', `${p.recommended ? '→ ' : p.pareto ? '* ' : ''}${p.label}`),
    el('td', `${p.speedup.toFixed(2)}×`),
    el(
      'td',
      p.quality === null
        ? '–'
        : `${p.quality.toExponential(2)}${p.qualityStd === null ? '' : ` ±${p.qualityStd.toExponential(1)}`}`,
    ),
  );
  const td = el('td');
  if (p.applicable) {
    const b = el('button', p.recommended ? 'Apply recommendation' : 'Apply');
    b.title = `Write ${p.label} into ${state.target ?? 'a schedule'} (one undoable edit)`;
    b.setAttribute('data-apply', p.id);
    b.addEventListener('click', () => post({ type: 'applySweepConfig', id: p.id }));
    td.append(b);
  }
  tr.append(td);
  return tr;
}

function render(state: SweepPanelState): void {
  app.setAttribute('aria-busy', 'false');
  const rec = state.points.find((p) => p.recommended);
  const table = el('table', undefined, 'sweep-table');
  const head = el('tr');
  head.append(el('th', 'configuration'), el('th', 'measured'), el('th', state.measure), el('th'));
  table.append(head, ...[...state.points].sort((a, b) => a.speedup - b.speedup).map((p) => row(p, state)));
  app.replaceChildren(
    el('h2', `Sweep: ${state.fileName}`),
    el(
      'p',
      `Reference ${state.reference}; ${state.measuredOn}. Recommended: ${rec ? `${rec.label}, ${rec.speedup.toFixed(2)}× measured` : 'none'}. Apply writes into ${state.target ?? '(you pick a schedule)'}.`,
    ),
    chart(state),
    el('p', `${state.measure}: ${state.measureText}`, 'measure-text'),
    table,
    ...(state.trials ? [el('p', state.trials)] : []),
    ...state.notes.map((n) => el('p', n, 'note')),
  );
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data;
  if (!isSweepHostMessage(m)) return;
  if (m.type === 'sweepState') render(m.state);
  else {
    const p = el('p', m.message, `notice ${m.level}`);
    p.setAttribute('role', 'status');
    app.prepend(p);
  }
});
post({ type: 'ready' });
