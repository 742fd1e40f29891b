/**
 * Entry of the `.bacschedule` editor webview: wires the views to the host. The host owns the
 * document; this page renders the state it pushes and sends intents. It says `ready` once its
 * listener is installed and only then receives state (hexeditor's handshake), so no message is
 * lost while the script loads.
 */
import { isHostMessage, type WebviewMessage } from '../src/core/protocol';
import type { SolverControls } from '../src/core/schedule-edit';
import type * as ChartsModule from './charts';
import type { ChartActions, Charts } from './charts';
import { Banners, Controls, Header } from './controls';
import { errorView } from './errorView';
import { Store, type VsCodeApi } from './state';
import { onThemeChange } from './theme';
import { Timeline } from './timeline';
import { button } from './toolkit';

declare function acquireVsCodeApi(): VsCodeApi;

/**
 * User Timing marks of the first open (Performance panel of the webview's developer tools; the
 * e2e suite prints them): `bac:script` once the bundle has run up to here, `bac:state` when the
 * first state arrived, `bac:timeline` when the timeline was first laid out, `bac:painted` after the
 * frame that showed it, `bac:charts` when the charts were first drawn.
 */
const mark = (name: 'bac:script' | 'bac:state' | 'bac:timeline' | 'bac:painted' | 'bac:charts'): void => {
  if (performance.getEntriesByName(name).length === 0) performance.mark(name);
};
mark('bac:script');

const vscode = acquireVsCodeApi();
const post = (m: WebviewMessage): void => vscode.postMessage(m);
const store = new Store(vscode);
const app = document.getElementById('app')!;

const select = (row: number): void => {
  const id = store.valid?.blocks[row]?.id;
  if (id) store.update({ selected: id, focus: { row, step: store.local.focus.step } });
};
const controlActions = {
  setControls: (c: SolverControls) => post({ type: 'setControls', ...c }),
  openAsText: () => post({ type: 'openAsText' }),
  profileModel: () => post({ type: 'profileModel' }),
  notify: (message: string) => timeline.announce(message, 'warning'),
};
const header = new Header(controlActions);
const banners = new Banners(controlActions);
const controls = new Controls(controlActions);
const timeline = new Timeline(store, {
  toggle: (blockId, step) => post({ type: 'toggleStep', blockId, step }),
  select,
});
const chartActions: ChartActions = {
  select,
  setBudget: (budget) => {
    const s = store.valid;
    if (s) post({ type: 'setControls', ...s.solver, budget });
  },
  requestMatrix: (blockId) => post({ type: 'requestMatrix', blockId }),
  setMode: (mode) => store.update({ mode }),
  button,
};
/** Where the charts go; they arrive in their own chunk (see {@link loadCharts}). */
const chartsSlot = document.createElement('div');
chartsSlot.className = 'charts-slot';
let charts: Charts | null = null;
let layout: 'none' | 'valid' | 'invalid' = 'none';
let chartsQueued = false;

function render(): void {
  const state = store.host;
  if (!state) return;
  app.setAttribute('aria-busy', 'false');
  if (state.kind === 'invalid') {
    layout = 'invalid';
    app.replaceChildren(errorView(state, controlActions.openAsText));
    return;
  }
  if (layout !== 'valid') {
    layout = 'valid';
    app.replaceChildren(
      header.element,
      banners.element,
      header.summaryElement,
      controls.element,
      timeline.element,
      chartsSlot,
    );
  }
  header.render(state);
  banners.render(state);
  controls.render(state);
  timeline.render(state);
  mark('bac:timeline');
  queueCharts();
}

/**
 * Draws the charts after the timeline has painted: building three chart.js charts is the slowest
 * part of a render, and the timeline is what a person looks at first.
 */
function queueCharts(): void {
  if (chartsQueued) return;
  chartsQueued = true;
  requestAnimationFrame(() =>
    setTimeout(() => {
      chartsQueued = false;
      if (layout === 'valid') mark('bac:painted');
      const latest = store.valid;
      if (latest && charts) {
        charts.render(latest);
        mark('bac:charts');
      }
    }, 0),
  );
}

/**
 * chart.js is two thirds of the page's script: the charts are a bundle of their own
 * (dist/webview-charts.js, scripts/build.mjs), fetched while the host answers `ready`, so the
 * timeline does not wait for them.
 */
function loadCharts(): void {
  const url = new URL('webview-charts.js', import.meta.url).href;
  (import(url) as Promise<typeof ChartsModule>).then(
    (m) => {
      charts = new m.Charts(store, chartActions);
      chartsSlot.replaceChildren(charts.element);
      queueCharts();
    },
    (e: unknown) => {
      const p = document.createElement('p');
      p.className = 'status error';
      p.textContent = `The charts could not be loaded (${e instanceof Error ? e.message : String(e)}). Reopen the editor to try again.`;
      chartsSlot.replaceChildren(p);
    },
  );
}

window.addEventListener('message', (e: MessageEvent) => {
  const m: unknown = e.data;
  if (!isHostMessage(m)) return;
  switch (m.type) {
    case 'state':
      mark('bac:state');
      store.setHost(m.state);
      return;
    case 'matrix':
      charts?.setMatrix(m.blockId, m.steps, m.data);
      return;
    case 'notice': {
      timeline.announce(m.message, m.level);
      // A refused re-solve leaves the document as it was: show its values again, not the rejected ones.
      const valid = store.valid;
      if (valid) controls.render(valid);
      return;
    }
  }
});
store.subscribe(render);
onThemeChange(render);
post({ type: 'ready' });
loadCharts();
