/**
 * Keyboard navigation of the schedule editor's timeline, a grid of blocks (rows, model order) by
 * denoising steps (columns), following the WAI-ARIA data-grid pattern: arrows move one cell,
 * Home/End go to the first/last step of the row, Ctrl+Home/Ctrl+End to the first/last cell,
 * Page Up/Page Down move by one layer's blocks, Space/Enter toggle the focused cell. Keys with
 * other modifiers are left to VS Code (its keybindings, e.g. Ctrl+Z, reach it through the webview).
 * Pure: the webview turns the answer into focus, scrolling and intents.
 */

/** A timeline cell: `row` indexes the schedule's blocks, `step` the denoising steps. */
export interface GridCell {
  readonly row: number;
  readonly step: number;
}

/** Size of the timeline grid. Invariant: every field ≥ 1. */
export interface GridShape {
  readonly rows: number;
  readonly steps: number;
  /** Rows Page Up/Page Down move by (the blocks of one layer). */
  readonly rowsPerPage: number;
}

/** The parts of a KeyboardEvent the model reads. */
export interface GridKey {
  readonly key: string;
  readonly ctrlKey?: boolean;
  readonly metaKey?: boolean;
  readonly altKey?: boolean;
  readonly shiftKey?: boolean;
}

/** What a key does: move the focus (possibly onto the same cell, at an edge), toggle it, or nothing. */
export type GridCommand = { readonly kind: 'move'; readonly to: GridCell } | { readonly kind: 'toggle' } | null;

const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

/** `cell` moved inside the grid (rows and steps clamped; NaN counts as 0). */
export function clampCell(cell: GridCell, shape: GridShape): GridCell {
  const finite = (v: number): number => (Number.isFinite(v) ? Math.trunc(v) : 0);
  return { row: clamp(finite(cell.row), 0, shape.rows - 1), step: clamp(finite(cell.step), 0, shape.steps - 1) };
}

/**
 * The command for `key` with the focus on `from`. A key the grid handles always yields a command,
 * also at an edge (a `move` onto `from`), so the caller can consume it and the page does not scroll.
 */
export function gridCommand(key: GridKey, from: GridCell, shape: GridShape): GridCommand {
  if (key.altKey || key.metaKey || key.shiftKey) return null;
  const f = clampCell(from, shape);
  const move = (row: number, step: number): GridCommand => ({ kind: 'move', to: clampCell({ row, step }, shape) });
  if (key.ctrlKey) {
    if (key.key === 'Home') return move(0, 0);
    if (key.key === 'End') return move(shape.rows - 1, shape.steps - 1);
    return null;
  }
  switch (key.key) {
    case 'ArrowLeft':
      return move(f.row, f.step - 1);
    case 'ArrowRight':
      return move(f.row, f.step + 1);
    case 'ArrowUp':
      return move(f.row - 1, f.step);
    case 'ArrowDown':
      return move(f.row + 1, f.step);
    case 'Home':
      return move(f.row, 0);
    case 'End':
      return move(f.row, shape.steps - 1);
    case 'PageUp':
      return move(f.row - Math.max(1, shape.rowsPerPage), f.step);
    case 'PageDown':
      return move(f.row + Math.max(1, shape.rowsPerPage), f.step);
    case ' ':
    case 'Enter':
      return { kind: 'toggle' };
    default:
      return null;
  }
}

/**
 * Blocks per layer for Page Up/Page Down: the length of the first run of blocks sharing a layer
 * (3 in a DP-T decoder: self-attention, cross-attention, FFN); 1 for an empty list.
 */
export function blocksPerLayer(layers: readonly number[]): number {
  let n = 0;
  while (n < layers.length && layers[n] === layers[0]) n++;
  return Math.max(1, n);
}

/**
 * 1-based ARIA grid positions of a cell: row 1 is the step header, column 1 the block labels, so
 * a screen reader counts the data cells from 2 (`aria-rowcount` = rows + 1, `aria-colcount` = steps + 1).
 */
export function ariaPosition(cell: GridCell): { rowIndex: number; colIndex: number } {
  return { rowIndex: cell.row + 2, colIndex: cell.step + 2 };
}
