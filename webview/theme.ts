/**
 * Theme colours for canvas drawing and charts, read from VS Code's CSS variables (the same ones
 * media/editor.css uses), and a hook that fires when the user switches theme.
 */

/** Colours the timeline and charts draw with. */
export interface Palette {
  readonly foreground: string;
  readonly muted: string;
  readonly background: string;
  readonly grid: string;
  readonly focus: string;
  readonly selection: string;
  readonly acs: string;
  readonly bua: string;
  readonly manual: string;
  readonly off: string;
  readonly uniform: string;
  readonly highContrast: boolean;
  readonly fontFamily: string;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

/** Reads the current theme's palette. O(1). */
export function readPalette(): Palette {
  const s = getComputedStyle(document.body);
  const highContrast =
    document.body.classList.contains('vscode-high-contrast') ||
    document.body.classList.contains('vscode-high-contrast-light');
  const foreground = cssVar(s, '--vscode-foreground', '#cccccc');
  return {
    foreground,
    muted: cssVar(s, '--vscode-descriptionForeground', foreground),
    background: cssVar(s, '--vscode-editor-background', '#1e1e1e'),
    grid: highContrast
      ? cssVar(s, '--vscode-contrastBorder', foreground)
      : cssVar(s, '--vscode-editorIndentGuide-background1', cssVar(s, '--vscode-panel-border', '#80808040')),
    focus: cssVar(s, '--vscode-focusBorder', '#007fd4'),
    selection: cssVar(s, '--vscode-list-inactiveSelectionBackground', '#80808033'),
    // Opaque: some themes ship translucent chart colours (Light Modern's orange is 33 % alpha),
    // which washes BUA cells out against the background.
    acs: withAlpha(cssVar(s, '--vscode-charts-blue', '#3794ff'), 1),
    bua: withAlpha(cssVar(s, '--vscode-charts-orange', '#d18616'), 1),
    manual: withAlpha(cssVar(s, '--vscode-charts-purple', '#b180d7'), 1),
    off: withAlpha(cssVar(s, '--vscode-charts-red', '#f14c4c'), 1),
    uniform: cssVar(s, '--vscode-charts-foreground', foreground),
    highContrast,
    fontFamily: cssVar(s, '--vscode-font-family', 'sans-serif'),
  };
}

/** Calls `onChange` when VS Code switches theme (it rewrites the body's classes). */
export function onThemeChange(onChange: () => void): void {
  new MutationObserver(onChange).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

/** `color` with an alpha in 0…1, for any CSS colour the canvas understands (via a 1-pixel canvas). */
export function withAlpha(color: string, alpha: number): string {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return color;
  ctx.fillStyle = color;
  const parsed = ctx.fillStyle; // normalised to #rrggbb or rgba(...)
  if (parsed.startsWith('#') && parsed.length === 7) {
    const n = parseInt(parsed.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  const m = /^rgba?\(([^)]+)\)$/.exec(parsed);
  if (!m) return color;
  const [r, g, b] = m[1]!.split(',').map((x) => x.trim());
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
