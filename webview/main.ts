/**
 * Entry of the `.bacschedule` editor webview: wires the views to the host. The host owns the
 * document; this page renders the state it pushes and sends intents. It says `ready` once its
 * listener is installed and only then receives state (hexeditor's handshake), so no message is
 * lost while the script loads.
 */
import { isHostMessage, type WebviewMessage } from '../src/core/protocol';
import { Charts } from './charts';
import { Banners, Controls, Header } from './controls';
import { errorView } from './errorView';
import { Store, type VsCodeApi } from './state';
import { onThemeChange } from './theme';
import { Timeline } from './timeline';

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const post = (m: WebviewMessage): void => vscode.postMessage(m);
const store = new Store(vscode);
const app = document.getElementById('app')!;

const select = (row: number): void => {
  const id = store.valid?.blocks[row]?.id;
  if (id) store.update({ selected: id, focus: { row, step: store.local.focus.step } });
};
const controlActions = {
  setControls: (c: { budget: number; topN: number; forceLast: boolean }) => post({ type: 'setControls', ...c }),
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
const charts = new Charts(store, {
  select,
  setBudget: (budget) => {
    const s = store.valid;
    if (s) post({ type: 'setControls', budget, topN: s.solver.topN, forceLast: s.solver.forceLast });
  },
  requestMatrix: (blockId) => post({ type: 'requestMatrix', blockId }),
  setMode: (mode) => store.update({ mode }),
});
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
      charts.element,
    );
  }
  header.render(state);
  banners.render(state);
  controls.render(state);
  timeline.render(state);
  // Charts after the timeline has painted: building three chart.js charts is the slowest part
  // of a first render, and the timeline is what a person looks at first.
  if (!chartsQueued) {
    chartsQueued = true;
    requestAnimationFrame(() =>
      setTimeout(() => {
        chartsQueued = false;
        const latest = store.valid;
        if (latest) charts.render(latest);
      }, 0),
    );
  }
}

window.addEventListener('message', (e: MessageEvent) => {
  const m: unknown = e.data;
  if (!isHostMessage(m)) return;
  switch (m.type) {
    case 'state':
      store.setHost(m.state);
      return;
    case 'matrix':
      charts.setMatrix(m.blockId, m.steps, m.data);
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
