/**
 * The profile charts (chart.js): similarity of the selected block to its cache source over steps
 * (or its full similarity matrix as a heatmap), the ℓ1 reuse-error ranking with the BUA top-n
 * highlighted, and the speed / predicted-error trade-off of BAC and Uniform for every budget with
 * the current schedule marked. All colours come from the theme.
 */
import * as chartjs from 'chart.js';
import { Chart, type ChartConfiguration, type ChartData, type ChartOptions, type ChartType } from 'chart.js';
import { updateSteps } from '../src/core/blocks';
import { formatSpeedup } from '../src/core/cost';
import type { ValidState } from '../src/core/protocol';
import type { Store } from './state';
import type { button } from './toolkit';
import { readPalette, withAlpha, type Palette } from './theme';

// Only the components these charts draw: registering them by name keeps the rest of chart.js out of the bundle.
Chart.register(
  chartjs.BarController,
  chartjs.BarElement,
  chartjs.CategoryScale,
  chartjs.Filler,
  chartjs.Legend,
  chartjs.LinearScale,
  chartjs.LineController,
  chartjs.LineElement,
  chartjs.PointElement,
  chartjs.ScatterController,
  chartjs.Tooltip,
);

/** What the charts ask their owner to do. */
export interface ChartActions {
  /** Select block `row` (timeline and charts follow). */
  select(row: number): void;
  /** Re-solve with budget M (clicking a point of the BAC curve). */
  setBudget(budget: number): void;
  /** Ask the host for a block's similarity matrix. */
  requestMatrix(blockId: string): void;
  /** Switch the similarity chart mode. */
  setMode(mode: 'source' | 'matrix'): void;
  /**
   * Makes a toolkit button. Passed in, not imported: this module is bundled on its own (it carries
   * chart.js and loads after the page), and the toolkit must register its elements only once.
   */
  button: typeof button;
}

interface Card {
  readonly root: HTMLElement;
  readonly title: HTMLHeadingElement;
  readonly box: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly note: HTMLParagraphElement;
  readonly empty: HTMLParagraphElement;
}

function card(id: string, title: string, label: string): Card {
  const root = document.createElement('section');
  root.className = 'chart-card';
  root.setAttribute('aria-labelledby', `${id}-title`);
  const header = document.createElement('header');
  const h = document.createElement('h2');
  h.id = `${id}-title`;
  h.textContent = title;
  header.append(h);
  const box = document.createElement('div');
  box.className = 'chart-box';
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  // chart.js sets an inline display on its canvas, which beats the `hidden` attribute: hide a
  // wrapper instead when the heatmap takes the box.
  const wrap = document.createElement('div');
  wrap.className = 'chart-wrap';
  wrap.append(canvas);
  box.append(wrap);
  const note = document.createElement('p');
  note.className = 'note';
  const empty = document.createElement('p');
  empty.className = 'empty';
  empty.hidden = true;
  root.append(header, box, empty, note);
  return { root, title: h, box, canvas, note, empty };
}

/** The three chart cards. */
export class Charts {
  readonly element: HTMLElement;
  private readonly sim = card(
    'sim',
    'Similarity to cache source',
    'Line chart of the selected block’s similarity to its cache source at each step',
  );
  private readonly l1 = card(
    'l1',
    'ℓ1 reuse error by block',
    'Bar chart of the reuse-error estimate of each block, largest first',
  );
  private readonly trade = card(
    'trade',
    'Speed vs predicted error',
    'Expected speedup against predicted error for every budget, BAC and Uniform',
  );
  private readonly heat: HTMLCanvasElement;
  private readonly modeButton: HTMLElement;
  private simChart: Chart | null = null;
  private l1Chart: Chart | null = null;
  private tradeChart: Chart | null = null;
  private palette: Palette = readPalette();
  private paletteKey = '';
  private state: ValidState | null = null;
  private l1Order: number[] = [];
  private matrix: { blockId: string; steps: number; data: readonly number[] } | null = null;
  private requested: string | null = null;

  constructor(
    private readonly store: Store,
    private readonly actions: ChartActions,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'charts';
    this.heat = document.createElement('canvas');
    this.heat.setAttribute('role', 'img');
    this.heat.hidden = true;
    this.heat.className = 'heatmap';
    this.sim.box.append(this.heat);
    this.modeButton = this.actions.button(
      'Show matrix',
      () => this.actions.setMode(this.store.local.mode === 'matrix' ? 'source' : 'matrix'),
      'secondary',
    );
    this.sim.title.parentElement!.append(this.modeButton);
    this.element.append(this.sim.root, this.l1.root, this.trade.root);
  }

  /** Receives a block's matrix from the host. */
  setMatrix(blockId: string, steps: number, data: readonly number[]): void {
    this.matrix = { blockId, steps, data };
    this.requested = null;
    if (this.state) this.renderSim(this.state);
  }

  /** Renders everything for a state (new state, new selection, or theme change). */
  render(state: ValidState): void {
    if (state !== this.state) {
      // A new document state may come from a new profile: drop the matrix, re-request it.
      this.matrix = null;
      this.requested = null;
    }
    this.state = state;
    this.palette = readPalette();
    const key = JSON.stringify(this.palette);
    if (key !== this.paletteKey) {
      // Theme switch: rebuild the charts so every colour (ticks, grid, legend) follows.
      this.paletteKey = key;
      for (const c of [this.simChart, this.l1Chart, this.tradeChart]) c?.destroy();
      this.simChart = this.l1Chart = this.tradeChart = null;
      Chart.defaults.color = this.palette.muted;
      Chart.defaults.borderColor = withAlpha(this.palette.grid, 0.6);
      Chart.defaults.font.family = this.palette.fontFamily;
    }
    const a = state.analysis;
    const why = 'Needs the linked profile — see the banner above.';
    for (const c of [this.sim, this.l1, this.trade]) {
      c.box.hidden = !a;
      c.empty.hidden = !!a;
      c.empty.textContent = why;
    }
    this.modeButton.hidden = !a;
    if (!a) {
      for (const c of [this.sim, this.l1, this.trade]) c.note.textContent = '';
      return;
    }
    this.renderSim(state);
    this.renderL1(state);
    this.renderTradeoff(state);
  }

  /**
   * Shows `data` on a card's chart: `existing` gets the new data, `restyle` (the options that follow
   * the state) and a redraw without animation; without one, a chart of `type` is made whose options
   * are `options()` over the ones every card shares (sized by its box, not animated, legend in the
   * theme's foreground). `options` is called only then: callbacks and theme colours are fixed when a
   * chart is made, and a theme switch rebuilds every chart.
   */
  private show<T extends ChartType>(
    existing: Chart | null,
    canvas: HTMLCanvasElement,
    type: T,
    data: ChartData<T>,
    options: () => NonNullable<ChartOptions<T>>,
    restyle?: (chart: Chart) => void,
  ): Chart {
    if (existing) {
      existing.data = data as ChartData;
      restyle?.(existing);
      existing.update('none');
      return existing;
    }
    const own = options();
    const config: ChartConfiguration<T> = {
      type,
      data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        ...own,
        plugins: { legend: { labels: { color: this.palette.foreground, boxWidth: 12 } }, ...own.plugins },
      } as ChartOptions<T>,
    };
    return new Chart(canvas, config as ChartConfiguration);
  }

  private renderSim(state: ValidState): void {
    const a = state.analysis;
    if (!a) return;
    const row = this.store.selectedIndex;
    const b = state.blocks[row]!;
    const p = this.palette;
    const matrixMode = this.store.local.mode === 'matrix';
    this.sim.title.textContent = `${matrixMode ? 'Similarity matrix' : 'Similarity to cache source'} — block ${b.layer} ${b.kind}`;
    this.modeButton.textContent = matrixMode ? 'Show over steps' : 'Show matrix';
    this.sim.canvas.parentElement!.hidden = matrixMode;
    this.heat.hidden = !matrixMode;
    if (matrixMode) {
      this.sim.note.textContent =
        'cos(X_b(i), X_b(j)) for steps i (rows) and j (columns), mean over samples; ticks mark this block’s update steps.';
      if (this.matrix?.blockId === b.id) this.drawHeatmap(state, row);
      else if (this.requested !== b.id) {
        this.requested = b.id;
        this.actions.requestMatrix(b.id);
      }
      return;
    }
    const K = state.steps;
    const mean = a.simToSource[row]!;
    const std = a.simStdToSource[row]!;
    const steps = Array.from({ length: K }, (_, k) => k);
    const ups = new Set(updateSteps(b));
    const minY = Math.max(-1, Math.min(...mean.map((m, k) => m - std[k]!)) - 0.02);
    const data = {
      labels: steps,
      datasets: [
        {
          label: 'mean − std',
          data: mean.map((m, k) => m - std[k]!),
          borderWidth: 0,
          pointRadius: 0,
          fill: false,
          order: 3,
        },
        {
          label: '± std over samples',
          data: mean.map((m, k) => m + std[k]!),
          borderWidth: 0,
          pointRadius: 0,
          backgroundColor: withAlpha(p.acs, 0.15),
          fill: '-1',
          order: 2,
        },
        {
          label: 'similarity to cache',
          data: [...mean],
          borderColor: p.acs,
          borderWidth: 1.5,
          pointRadius: steps.map((k) => (ups.has(k) ? 2.5 : 0)),
          pointBackgroundColor: steps.map((k) => (b.bua.includes(k) ? p.bua : b.manual.includes(k) ? p.manual : p.acs)),
          order: 1,
        },
      ],
    };
    this.simChart = this.show(
      this.simChart,
      this.sim.canvas,
      'line',
      data,
      () => ({
        plugins: {
          legend: { labels: { color: p.foreground, boxWidth: 12, filter: (item) => item.text !== 'mean − std' } },
          tooltip: { filter: (item) => item.datasetIndex === 2 },
        },
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { title: { display: true, text: 'step', color: p.muted }, ticks: { maxTicksLimit: 11 } },
          y: { min: minY, max: 1.0, title: { display: true, text: 'cosine similarity', color: p.muted } },
        },
      }),
      (chart) => {
        (chart.options.scales!.y as { min: number }).min = minY;
      },
    );
    this.sim.canvas.setAttribute(
      'aria-label',
      `Similarity of block ${b.id} to its cache source at each of ${K} steps; lowest ${Math.min(...mean).toFixed(3)}`,
    );
    this.sim.note.textContent = 'Dots mark update steps (similarity 1). Dips between them are where reuse hurts most.';
  }

  private drawHeatmap(state: ValidState, row: number): void {
    const m = this.matrix!;
    const K = m.steps;
    const p = this.palette;
    const box = this.sim.box;
    const size = Math.max(120, Math.min(box.clientWidth, box.clientHeight || 240) - 4);
    const dpr = window.devicePixelRatio || 1;
    this.heat.width = Math.round(size * dpr);
    this.heat.height = Math.round(size * dpr);
    this.heat.style.width = `${size}px`;
    this.heat.style.height = `${size}px`;
    const ctx = this.heat.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = p.background;
    ctx.fillRect(0, 0, size, size);
    const pad = 6;
    const cell = (size - pad) / K;
    let lo = 1;
    for (const x of m.data) lo = Math.min(lo, x);
    const span = Math.max(1e-6, 1 - lo);
    // One hue (the theme's ACS blue) from transparent (least similar) to opaque (1): readable in
    // every theme, and high contrast keeps full opacity steps.
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        const t = (m.data[i * K + j]! - lo) / span;
        ctx.fillStyle = withAlpha(p.acs, 0.08 + 0.92 * t);
        ctx.fillRect(pad + j * cell, pad + i * cell, Math.ceil(cell), Math.ceil(cell));
      }
    }
    ctx.fillStyle = p.foreground;
    for (const k of updateSteps(state.blocks[row]!)) {
      ctx.fillRect(pad + k * cell, 0, Math.max(1, cell), 4);
      ctx.fillRect(0, pad + k * cell, 4, Math.max(1, cell));
    }
    this.heat.setAttribute(
      'aria-label',
      `Similarity matrix of block ${m.blockId}, ${K} by ${K} steps, values from ${lo.toFixed(3)} to 1`,
    );
  }

  private renderL1(state: ValidState): void {
    const a = state.analysis!;
    const p = this.palette;
    const order = a.l1.map((_, i) => i).sort((x, y) => a.l1[y]!.mean - a.l1[x]!.mean);
    this.l1Order = order;
    const topN = state.solver.topN;
    const selected = this.store.selectedIndex;
    const data = {
      labels: order.map((i) => state.blocks[i]!.id),
      datasets: [
        {
          label: 'ℓ1 reuse error',
          data: order.map((i) => a.l1[i]!.mean),
          backgroundColor: order.map((_, r) => (r < topN ? p.bua : withAlpha(p.acs, 0.55))),
          borderColor: order.map((i) => (i === selected ? p.foreground : 'transparent')),
          borderWidth: 1.5,
        },
      ],
    };
    this.l1Chart = this.show(this.l1Chart, this.l1.canvas, 'bar', data, () => ({
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => {
              const i = this.l1Order[item.dataIndex]!;
              const l = this.state?.analysis?.l1[i];
              return l
                ? `ℓ1 ${l.mean.toPrecision(3)} ± ${l.std.toPrecision(2)}${item.dataIndex < (this.state?.solver.topN ?? 0) ? ' · in BUA top-n' : ''}`
                : '';
            },
          },
        },
      },
      onClick: (_e, elements) => {
        const el = elements[0];
        if (el) this.actions.select(this.l1Order[el.index]!);
      },
      scales: {
        x: { ticks: { autoSkip: true, maxRotation: 60 } },
        y: { beginAtZero: true, title: { display: true, text: 'mean |X(i) − X(j)|', color: p.muted } },
      },
    }));
    this.l1.note.textContent =
      topN > 0
        ? `Top-n = ${topN} (highlighted): these blocks also update whenever a downstream FFN does (Bubbling Union). Click a bar to select its block.`
        : 'Top-n = 0: the Bubbling Union is off. Click a bar to select its block.';
  }

  private renderTradeoff(state: ValidState): void {
    const a = state.analysis!;
    const p = this.palette;
    const t = a.tradeoff;
    if (!t) {
      this.trade.box.hidden = true;
      this.trade.empty.hidden = false;
      this.trade.empty.textContent = a.tradeoffPending
        ? 'Computing the trade-off curves for every budget…'
        : 'The trade-off curves could not be computed (see the BAC log).';
      this.trade.note.textContent = '';
      return;
    }
    const byTime = state.summary.speedupTime !== null && t.bac.every((q) => q.speedupTime !== null);
    const speed = (q: { speedupFlops: number; speedupTime: number | null }): number =>
      byTime ? q.speedupTime! : q.speedupFlops;
    const current = { x: a.predictedError, y: byTime ? state.summary.speedupTime! : state.summary.speedupFlops };
    const data = {
      datasets: [
        {
          label: 'BAC',
          data: t.bac.map((q) => ({ x: q.predictedError, y: speed(q), budget: q.budget })),
          borderColor: p.acs,
          backgroundColor: p.acs,
          showLine: true,
          pointRadius: 2,
          borderWidth: 1.5,
        },
        {
          label: 'Uniform',
          data: t.uniform.map((q) => ({ x: q.predictedError, y: speed(q), budget: q.budget })),
          borderColor: p.uniform,
          backgroundColor: p.uniform,
          borderDash: [4, 3],
          showLine: true,
          pointRadius: 1.5,
          borderWidth: 1,
        },
        {
          label: `This schedule (M = ${state.solver.budget})`,
          data: [{ ...current, budget: state.solver.budget }],
          borderColor: p.foreground,
          backgroundColor: p.bua,
          pointRadius: 6,
          pointHoverRadius: 7,
          borderWidth: 2,
        },
      ],
    };
    const speedAxis = byTime ? 'expected speedup (time)' : 'expected speedup (FLOPs)';
    this.tradeChart = this.show(
      this.tradeChart,
      this.trade.canvas,
      'scatter',
      data,
      () => ({
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) => {
                const raw = item.raw as { x: number; y: number; budget: number };
                return `${item.dataset.label?.startsWith('This') ? 'this schedule' : item.dataset.label} M = ${raw.budget}: ${formatSpeedup(raw.y)} · error proxy ${raw.x.toPrecision(3)}`;
              },
            },
          },
        },
        onClick: (_e, elements) => {
          const el = elements.find((x) => x.datasetIndex === 0);
          const raw = el && (this.tradeChart?.data.datasets[0]?.data[el.index] as { budget: number } | undefined);
          if (raw && this.state?.profile.state === 'ok' && !this.state.readonly) this.actions.setBudget(raw.budget);
        },
        scales: {
          x: {
            type: 'linear',
            title: { display: true, text: 'predicted error (proxy, lower is better)', color: p.muted },
          },
          y: {
            type: 'linear',
            title: { display: true, text: speedAxis, color: p.muted },
          },
        },
      }),
      (chart) => {
        (chart.options.scales!.y as { title: { text: string } }).title.text = speedAxis;
      },
    );
    const hand = state.blocks.some((b) => b.manual.length > 0 || b.manualOff.length > 0);
    this.trade.note.textContent =
      'The error proxy comes from the profile, not a model run (measure action error with `bac eval`); it ignores error propagation between blocks, which BUA targets. Click a BAC point to use its budget.' +
      (hand ? ' The marked point includes your manual edits; the curve does not.' : '');
  }
}
