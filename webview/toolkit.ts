/**
 * The one module that touches @vscode/webview-ui-toolkit (archived upstream in 2025). Everything
 * else gets plain HTMLElements and small handles from here, so replacing the toolkit (e.g. with
 * @vscode-elements/elements) means rewriting this file only.
 */
import {
  provideVSCodeDesignSystem,
  vsCodeButton,
  vsCodeCheckbox,
  vsCodeTextField,
  type Button,
  type Checkbox,
  type TextField,
} from '@vscode/webview-ui-toolkit';

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeCheckbox(), vsCodeTextField());

/** A control whose value the view sets and the user commits. */
export interface ControlHandle<T> {
  /** The element to place in the DOM. */
  readonly element: HTMLElement;
  /** Shows a value without firing a commit. */
  set(value: T): void;
  /** Enables or disables the control; `reason` becomes its tooltip while disabled. */
  setDisabled(disabled: boolean, reason?: string): void;
}

/** A toolkit button. `appearance` secondary for the less important action of a pair. */
export function button(
  label: string,
  onClick: () => void,
  appearance: 'primary' | 'secondary' = 'primary',
): HTMLElement {
  const b = document.createElement('vscode-button') as Button;
  b.textContent = label;
  b.appearance = appearance;
  b.addEventListener('click', onClick);
  return b;
}

/**
 * A toolkit text field for a non-negative integer. `onCommit` fires on Enter or when focus leaves
 * after a change, never per keystroke (each commit re-solves and becomes one undo step).
 */
export function integerField(
  id: string,
  ariaLabel: string,
  onCommit: (value: number) => void,
  onInvalid: (text: string) => void,
): ControlHandle<number> {
  const f = document.createElement('vscode-text-field') as TextField;
  f.id = id;
  f.setAttribute('aria-label', ariaLabel);
  f.setAttribute('inputmode', 'numeric');
  f.size = 4;
  let shown = '';
  const commit = (): void => {
    const text = f.value.trim();
    if (text === shown) return;
    if (!/^\d+$/.test(text)) {
      onInvalid(text);
      f.value = shown;
      return;
    }
    shown = text;
    onCommit(Number(text));
  };
  f.addEventListener('change', commit);
  f.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') commit();
    if ((e as KeyboardEvent).key === 'Escape') f.value = shown;
  });
  return {
    element: f,
    set(value) {
      shown = String(value);
      f.value = shown;
    },
    setDisabled(disabled, reason) {
      f.disabled = disabled;
      f.title = disabled ? (reason ?? '') : '';
    },
  };
}

/** A toolkit checkbox with a visible label. */
export function checkbox(id: string, label: string, onChange: (checked: boolean) => void): ControlHandle<boolean> {
  const c = document.createElement('vscode-checkbox') as Checkbox;
  c.id = id;
  c.textContent = label;
  let shown = false;
  c.addEventListener('change', () => {
    if (c.checked === shown) return;
    shown = c.checked;
    onChange(c.checked);
  });
  return {
    element: c,
    set(value) {
      shown = value;
      c.checked = value;
    },
    setDisabled(disabled, reason) {
      c.disabled = disabled;
      c.title = disabled ? (reason ?? '') : '';
    },
  };
}
