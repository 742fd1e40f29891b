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

/** The handle of a control: `show` displays a value without firing a commit; disabling sets the reason as its tooltip. */
function handleOf<T>(element: HTMLElement & { disabled: boolean }, show: (value: T) => void): ControlHandle<T> {
  return {
    element,
    set: show,
    setDisabled(disabled, reason) {
      element.disabled = disabled;
      element.title = disabled ? (reason ?? '') : '';
    },
  };
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
 * A toolkit text field for a number that `parse` accepts (undefined: not valid, `onInvalid` is
 * told and the field shows the last value again). `onCommit` fires on Enter or when focus leaves
 * after a change, never per keystroke (each commit re-solves and becomes one undo step).
 */
export function numberField(
  id: string,
  ariaLabel: string,
  parse: (text: string) => number | undefined,
  onCommit: (value: number) => void,
  onInvalid: (text: string) => void,
): ControlHandle<number> {
  const f = document.createElement('vscode-text-field') as TextField;
  f.id = id;
  f.setAttribute('aria-label', ariaLabel);
  f.setAttribute('inputmode', 'decimal');
  f.size = 4;
  let shown = '';
  const commit = (): void => {
    const text = f.value.trim();
    if (text === shown) return;
    const value = parse(text);
    if (value === undefined) {
      onInvalid(text);
      f.value = shown;
      return;
    }
    shown = text;
    onCommit(value);
  };
  f.addEventListener('change', commit);
  f.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') commit();
    if ((e as KeyboardEvent).key === 'Escape') f.value = shown;
  });
  return handleOf<number>(f, (value) => {
    shown = String(value);
    f.value = shown;
  });
}

/** A {@link numberField} for a non-negative integer. */
export function integerField(
  id: string,
  ariaLabel: string,
  onCommit: (value: number) => void,
  onInvalid: (text: string) => void,
): ControlHandle<number> {
  const field = numberField(id, ariaLabel, (t) => (/^\d+$/.test(t) ? Number(t) : undefined), onCommit, onInvalid);
  field.element.setAttribute('inputmode', 'numeric');
  return field;
}

/**
 * A dropdown of fixed options: a native `<select>` styled with VS Code's dropdown colours
 * (media/editor.css) — keyboard and screen-reader behaviour come with it, and the toolkit's
 * dropdown would add its listbox machinery to the page's script. `onChange` fires when the user
 * picks another option.
 */
export function dropdown<T extends string>(
  id: string,
  ariaLabel: string,
  options: readonly { readonly value: T; readonly label: string }[],
  onChange: (value: T) => void,
): ControlHandle<T> {
  const d = document.createElement('select');
  d.id = id;
  d.className = 'dropdown';
  d.setAttribute('aria-label', ariaLabel);
  for (const o of options) d.append(new Option(o.label, o.value));
  let shown = '';
  d.addEventListener('change', () => {
    if (d.value === shown) return;
    shown = d.value;
    onChange(d.value as T);
  });
  return handleOf<T>(d, (value) => {
    shown = value;
    d.value = value;
  });
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
  return handleOf<boolean>(c, (value) => {
    shown = value;
    c.checked = value;
  });
}
