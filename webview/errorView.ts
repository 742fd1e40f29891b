/**
 * The view of a `.bacschedule` that does not parse: every problem with its position, and a way to
 * fix it as text. The editor never writes to such a document.
 */
import type { InvalidState } from '../src/core/protocol';
import { button } from './toolkit';

/** Builds the error view. */
export function errorView(state: InvalidState, openAsText: () => void): HTMLElement {
  const root = document.createElement('section');
  root.className = 'error-view';
  root.setAttribute('aria-labelledby', 'error-title');
  const h = document.createElement('h1');
  h.id = 'error-title';
  h.textContent = `${state.fileName} is not a valid BAC schedule`;
  const p = document.createElement('p');
  p.textContent = `${state.issues.length === 1 ? 'One problem was' : `${state.issues.length} problems were`} found. The schedule editor shows only files that parse and never rewrites an invalid one: fix ${state.issues.length === 1 ? 'it' : 'them'} in the text editor, and this view updates as you type.`;
  const list = document.createElement('ol');
  for (const i of state.issues) {
    const li = document.createElement('li');
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = [i.line !== undefined ? `${i.line}:${i.column ?? 1}` : '', i.path].filter(Boolean).join(' ');
    li.append(where, where.textContent ? ' — ' : '', i.message);
    list.append(li);
  }
  const actions = document.createElement('div');
  actions.append(button('Open as Text', openAsText));
  root.append(h, p, list, actions);
  return root;
}
