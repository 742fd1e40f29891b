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
  // y: log of an error measure; the reference distance is linear (0 at the reference, noise below)
  const log = state.qualityScale === 'log';
  const fy = (v: number) => (log ? Math.log(Math.max(v, 1e-30)) : v);
  const ys = [...pts.map((p) => fy(p.quality!)), ...(state.qualityLimit === null ? [] : [fy(state.qualityLimit)])];
  const pad = log ? 0.05 : 0.05 * (Math.max(...ys) - Math.min(...ys) || 1);
  const [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 0.1)];
  const [y0, y1] = [Math.min(...ys) - pad, Math.max(...ys) + pad];
  const sx = (v: number) => m.l + ((Math.log(Math.max(v, 1e-3)) - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((fy(v) - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
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
      `${state.measure} (${log ? 'log scale, ' : ''}lower is better)`,
    ),
  );
  for (const t of [1, 2, 5, 10, 20, 50]) {
    if (Math.log(t) < x0 - 1e-9 || Math.log(t) > x1 + 1e-9) continue;
    root.append(svg('text', { x: sx(t), y: H - m.b + 16, 'text-anchor': 'middle', class: 'tick' }, `${t}×`));
  }
  for (const v of [y0, (y0 + y1) / 2, y1].map((y) => (log ? Math.exp(y) : y))) {
    const text = log ? v.toExponential(1) : v.toFixed(3);
    root.append(svg('text', { x: m.l - 6, y: sy(v) + 4, 'text-anchor': 'end', class: 'tick' }, text));
  }
  if (state.qualityLimit !== null) {
    const y = sy(state.qualityLimit);
    root.append(
      svg('line', { x1: m.l, y1: y, x2: W - m.r, y2: y, class: 'limit' }),
      svg('text', { x: W - m.r + 4, y: y + 4, class: 'tick' }, 'tolerance'),
    );
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
    g.append(svg('title', {}, `${p.label}: ${p.speedup.toFixed(2)}× measured, ${state.measure} ${p.qualityText}`));
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
    el('td', p.qualityText),
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
