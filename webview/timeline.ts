/**
 * The block × step timeline: one row per block in model order, one column per denoising step,
 * update cells coloured by origin (ACS, BUA error correction, manual), reuse cells plain. Drawn on
 * a canvas (9,600 cells for 96 blocks × 100 steps stay cheap to redraw), with a hover tooltip.
 *
 * For the keyboard and assistive technology the canvas sits in an ARIA grid that renders only
 * its focused cell (a virtualised grid: `aria-rowcount`/`aria-colcount` give the full size,
 * `aria-rowindex`/`aria-colindex` the cell's place). That cell is the grid's one tab stop and
 * moves with the keys of src/core/timeline-nav.ts (roving tabindex: each move focuses a new cell
 * element, so a screen reader reads the cell it lands on). A polite live region says what a toggle
 * did or why it was refused.
 */
import { cacheSources, updateSteps } from '../src/core/blocks';
import { ORIGIN_LABELS, type ValidState } from '../src/core/protocol';
import { STEP_ZERO_REASON } from '../src/core/schedule-edit';
import { ariaPosition, blocksPerLayer, clampCell, gridCommand, type GridCell } from '../src/core/timeline-nav';
import { legend } from './legend';
import type { Store } from './state';
import { readPalette, withAlpha, type Palette } from './theme';

const LABEL_W = 64;
const HEADER_H = 18;
const MIN_ROW = 6;
const MAX_ROW = 18;
const MIN_COL = 3;
const MAX_COL = 24;

/** Cell codes of a row. */
const enum Cell {
  Reuse = 0,
  Acs = 1,
  Bua = 2,
  Manual = 3,
  Off = 4, // reuse because a person removed the solver's update
}

/** What the timeline asks its owner to do. */
export interface TimelineActions {
  /** Toggle a manual update (the host decides; it may refuse). */
  toggle(blockId: string, step: number): void;
  /** Make block `row` the selected one (charts follow). */
  select(row: number): void;
}

/** How a cell's words end: a hint for the pointer, for the keyboard, or none. */
type Hint = 'pointer' | 'keyboard' | 'none';

/** The timeline section: legend, scrollable canvas in its grid, status line, tooltip. */
export class Timeline {
  readonly element: HTMLElement;
  private readonly scroll: HTMLDivElement;
  private readonly grid: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  /** The rendered row of the grid (`role=row`) holding the focusable cell. */
  private activeRow: HTMLDivElement | null = null;
  private activeCell: HTMLDivElement | null = null;
  private readonly tooltip: HTMLDivElement;
  private readonly status: HTMLParagraphElement;
  private state: ValidState | null = null;
  private cells: Uint8Array[] = [];
  private sources: Int32Array[] = [];
  private rowH = MAX_ROW;
  private colW = 8;
  private hover: { row: number; step: number } | null = null;
  private palette: Palette = readPalette();
  private announcePending = false;
  /** The status line holds a cell's words, which a later change of the document makes stale. */
  private statusDescribesCell = false;

  constructor(
    private readonly store: Store,
    private readonly actions: TimelineActions,
  ) {
    this.element = document.createElement('section');
    this.element.className = 'timeline-section';
    this.element.setAttribute('aria-labelledby', 'timeline-heading');
    const h = document.createElement('h2');
    h.id = 'timeline-heading';
    h.textContent = 'Update timeline';
    this.element.append(h, legend());

    this.scroll = document.createElement('div');
    this.scroll.className = 'timeline-scroll';
    this.grid = document.createElement('div');
    this.grid.className = 'timeline-grid';
    this.grid.setAttribute('role', 'grid');
    this.grid.setAttribute('aria-roledescription', 'schedule timeline');
    this.grid.setAttribute('aria-describedby', 'timeline-help');
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('aria-hidden', 'true');
    this.grid.append(this.canvas);
    this.scroll.append(this.grid);
    const help = document.createElement('p');
    help.id = 'timeline-help';
    help.className = 'visually-hidden';
    help.textContent =
      'Rows are blocks, columns are denoising steps. Arrow keys move between cells, Home and End jump to the first and last step, Control+Home and Control+End to the first and last cell, Page Up and Page Down move by a layer, Space or Enter toggles a manual update.';
    this.status = document.createElement('p');
    this.status.className = 'status';
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'tooltip';
    this.tooltip.setAttribute('role', 'tooltip');
    this.tooltip.hidden = true;
    this.element.append(this.scroll, help, this.status, this.tooltip);

    this.canvas.addEventListener('mousemove', (e) => this.onHover(e));
    this.canvas.addEventListener('mouseleave', () => {
      this.hover = null;
      this.tooltip.hidden = true;
      this.draw();
    });
    this.canvas.addEventListener('click', (e) => this.onClick(e));
    this.grid.addEventListener('keydown', (e) => this.onKey(e));
    this.grid.addEventListener('focusin', () => this.draw());
    this.grid.addEventListener('focusout', () => {
      if (!this.hover) this.tooltip.hidden = true;
      this.draw();
    });
    new ResizeObserver(() => this.layout()).observe(this.scroll);
  }

  /** Shows a one-line message in the status line (also read by screen readers). */
  announce(message: string, level: 'info' | 'warning' | 'error' = 'info'): void {
    // A message (e.g. the host refusing a toggle) replaces the pending "what the cell became".
    if (message) this.announcePending = false;
    this.statusDescribesCell = false;
    this.status.textContent = message;
    this.status.className = `status ${level}`;
  }

  /** Renders a new state (or the same state with a new selection or theme). */
  render(state: ValidState): void {
    if (state !== this.state) {
      this.state = state;
      this.cells = state.blocks.map((b) => {
        const row = new Uint8Array(state.steps);
        for (const s of b.manualOff) row[s] = Cell.Off;
        for (const s of b.acs) row[s] = Cell.Acs;
        for (const s of b.bua) row[s] = Cell.Bua;
        for (const s of b.manual) row[s] = Cell.Manual;
        return row;
      });
      this.sources = state.blocks.map((b) => cacheSources(updateSteps(b), state.steps));
      this.store.local.focus = clampCell(this.store.local.focus, {
        rows: state.blocks.length,
        steps: state.steps,
        rowsPerPage: 1,
      });
      // An undo or an edit beside the editor changed the document: the words shown may be wrong.
      if (this.statusDescribesCell && !this.announcePending) this.announce('');
      this.scroll.classList.toggle('readonly', state.readonly);
      this.grid.setAttribute('aria-label', `Update timeline: ${state.blocks.length} blocks by ${state.steps} steps`);
      this.grid.setAttribute('aria-rowcount', String(state.blocks.length + 1));
      this.grid.setAttribute('aria-colcount', String(state.steps + 1));
      this.grid.setAttribute('aria-readonly', String(state.readonly));
    }
    this.palette = readPalette();
    if (this.announcePending) {
      this.announcePending = false;
      this.announceFocus();
    }
    // Legend swatches take the exact (opaque) colours the canvas draws with.
    for (const [cls, colour] of [
      ['acs', this.palette.acs],
      ['bua', this.palette.bua],
      ['manual', this.palette.manual],
    ] as const) {
      const sw = this.element.querySelector<HTMLElement>(`.swatch.${cls}`);
      if (sw) sw.style.background = colour;
    }
    // The cell under the pointer may have just changed (a click toggles it): refresh its words.
    if (this.hover && !this.tooltip.hidden && this.hover.row < state.blocks.length) {
      this.tooltip.textContent = this.describe(this.hover.row, this.hover.step, 'pointer');
    }
    this.layout();
  }

  /** Sizes the canvas to the view: rows shrink for many blocks, columns fill the width. */
  private layout(): void {
    const s = this.state;
    if (!s) return;
    const B = s.blocks.length;
    const K = s.steps;
    const avail = Math.max(240, Math.min(window.innerHeight * 0.6, 640)) - HEADER_H;
    this.rowH = Math.max(MIN_ROW, Math.min(MAX_ROW, Math.floor(avail / B)));
    const width = Math.max(0, this.scroll.clientWidth - LABEL_W - 2);
    this.colW = Math.max(MIN_COL, Math.min(MAX_COL, Math.floor(width / K)));
    const cssW = LABEL_W + K * this.colW;
    const cssH = HEADER_H + B * this.rowH;
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(cssW * dpr) || this.canvas.height !== Math.round(cssH * dpr)) {
      this.canvas.width = Math.round(cssW * dpr);
      this.canvas.height = Math.round(cssH * dpr);
      this.canvas.style.width = `${cssW}px`;
      this.canvas.style.height = `${cssH}px`;
    }
    this.placeFocusCell();
    this.draw();
  }

  /**
   * Puts the focusable grid cell over the focused timeline cell, with its ARIA place and words.
   * A new position gets a new element, focused when the old one had focus, so assistive
   * technology announces the cell the focus moved to (an attribute change on the focused element
   * is not announced).
   */
  private placeFocusCell(): void {
    const s = this.state;
    if (!s) return;
    const f = this.store.local.focus;
    const { rowIndex, colIndex } = ariaPosition(f);
    let cell = this.activeCell;
    if (
      !cell ||
      this.activeRow?.getAttribute('aria-rowindex') !== String(rowIndex) ||
      cell.getAttribute('aria-colindex') !== String(colIndex)
    ) {
      const hadFocus = cell !== null && document.activeElement === cell;
      const row = document.createElement('div');
      row.setAttribute('role', 'row');
      row.setAttribute('aria-rowindex', String(rowIndex));
      cell = document.createElement('div');
      cell.className = 'timeline-cell';
      cell.setAttribute('role', 'gridcell');
      cell.setAttribute('aria-colindex', String(colIndex));
      cell.tabIndex = 0;
      row.append(cell);
      this.grid.append(row);
      if (hadFocus) cell.focus({ preventScroll: true });
      this.activeRow?.remove();
      this.activeRow = row;
      this.activeCell = cell;
    }
    cell.style.left = `${LABEL_W + f.step * this.colW}px`;
    cell.style.top = `${HEADER_H + f.row * this.rowH}px`;
    cell.style.width = `${this.colW}px`;
    cell.style.height = `${this.rowH}px`;
    cell.setAttribute('aria-label', this.describe(f.row, f.step, 'keyboard').replace(/\n/g, '. '));
  }

  /** Whether keyboard focus is on the timeline's cell. */
  private get focused(): boolean {
    return this.activeCell !== null && document.activeElement === this.activeCell;
  }

  private draw(): void {
    const s = this.state;
    const ctx = this.canvas.getContext('2d');
    if (!s || !ctx) return;
    const p = this.palette;
    const dpr = window.devicePixelRatio || 1;
    const { rowH, colW } = this;
    const K = s.steps;
    const B = s.blocks.length;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = p.background;
    ctx.fillRect(0, 0, LABEL_W + K * colW, HEADER_H + B * rowH);

    // Step axis: a label every few steps, spaced at least ~32 px.
    const every = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000].find((n) => n * colW >= 32) ?? 1000;
    ctx.font = `10px ${p.fontFamily}`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'center';
    ctx.fillStyle = p.muted;
    ctx.strokeStyle = withAlpha(p.grid, p.highContrast ? 1 : 0.5);
    ctx.lineWidth = 1;
    for (let k = 0; k < K; k += every) {
      ctx.fillText(String(k), LABEL_W + k * colW + colW / 2, HEADER_H / 2);
      ctx.beginPath();
      ctx.moveTo(LABEL_W + k * colW + 0.5, HEADER_H);
      ctx.lineTo(LABEL_W + k * colW + 0.5, HEADER_H + B * rowH);
      ctx.stroke();
    }

    const selected = this.store.selectedIndex;
    const gap = colW >= 5 && rowH >= 8 ? 1 : 0;
    const colours = [null, p.acs, p.bua, p.manual] as const;
    s.blocks.forEach((b, r) => {
      const y = HEADER_H + r * rowH;
      if (r === selected) {
        ctx.fillStyle = p.selection;
        ctx.fillRect(0, y, LABEL_W + K * colW, rowH);
      }
      // Labels: every row when rows are tall enough, else one "L<layer>" per layer.
      ctx.textAlign = 'left';
      ctx.fillStyle = r === selected ? p.foreground : p.muted;
      if (rowH >= 10) {
        ctx.font = `${Math.min(11, rowH - 2)}px ${p.fontFamily}`;
        ctx.fillText(`${b.layer} ${b.kind}`, 6, y + rowH / 2);
      } else if (b.kind === 'sa') {
        ctx.font = `${Math.min(11, 3 * rowH - 2)}px ${p.fontFamily}`;
        ctx.fillText(`L${b.layer}`, 6, y + (3 * rowH) / 2);
      }
      if (b.kind === 'sa' && r > 0) {
        ctx.strokeStyle = p.grid;
        ctx.beginPath();
        ctx.moveTo(0, y + 0.5);
        ctx.lineTo(LABEL_W + K * colW, y + 0.5);
        ctx.stroke();
      }
      const row = this.cells[r]!;
      for (let k = 0; k < K; k++) {
        const c = row[k]!;
        const x = LABEL_W + k * colW;
        if (c === Cell.Off) {
          ctx.strokeStyle = p.off;
          ctx.strokeRect(x + gap + 0.5, y + gap + 0.5, colW - 2 * gap - 1, rowH - 2 * gap - 1);
          continue;
        }
        const colour = colours[c];
        if (!colour) continue;
        ctx.fillStyle = colour;
        ctx.fillRect(x + gap, y + gap, colW - 2 * gap, rowH - 2 * gap);
        // Shape cues so origins differ without colour (colour blindness, high contrast).
        if (colW >= 6 && rowH >= 8) {
          ctx.fillStyle = p.background;
          if (c === Cell.Manual) ctx.fillRect(x + colW / 2 - 1, y + rowH / 2 - 1, 2, 2);
          if (c === Cell.Bua) ctx.fillRect(x + gap, y + rowH - gap - 2, colW - 2 * gap, 1);
        }
      }
    });

    const mark = (cell: { row: number; step: number }, colour: string, width: number): void => {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.strokeRect(
        LABEL_W + cell.step * colW + width / 2,
        HEADER_H + cell.row * rowH + width / 2,
        colW - width,
        rowH - width,
      );
      ctx.lineWidth = 1;
    };
    if (this.hover) mark(this.hover, p.foreground, 1);
    if (this.focused) mark(this.store.local.focus, p.focus, 2);
  }

  private cellAt(e: MouseEvent): { row: number; step: number } | null {
    const s = this.state;
    if (!s) return null;
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    const row = Math.floor((y - HEADER_H) / this.rowH);
    if (y < HEADER_H || row < 0 || row >= s.blocks.length) return null;
    if (x < LABEL_W) return { row, step: -1 };
    const step = Math.floor((x - LABEL_W) / this.colW);
    return step >= 0 && step < s.steps ? { row, step } : null;
  }

  private onHover(e: MouseEvent): void {
    const cell = this.cellAt(e);
    const same = cell && this.hover && cell.row === this.hover.row && cell.step === this.hover.step;
    if (!cell || cell.step < 0) {
      this.hover = null;
      this.tooltip.hidden = true;
    } else {
      this.hover = cell;
      this.showTooltip(this.describe(cell.row, cell.step, 'pointer'), e.clientX, e.clientY);
    }
    if (!same) this.draw();
  }

  /** Shows the tooltip near the point (x, y) of the view, kept inside the view. */
  private showTooltip(text: string, x: number, y: number): void {
    this.tooltip.textContent = text;
    this.tooltip.hidden = false;
    const w = this.tooltip.offsetWidth;
    const h = this.tooltip.offsetHeight;
    this.tooltip.style.left = `${Math.min(x + 14, window.innerWidth - w - 4)}px`;
    this.tooltip.style.top = `${y + 18 + h > window.innerHeight ? y - h - 8 : y + 18}px`;
  }

  private onClick(e: MouseEvent): void {
    const cell = this.cellAt(e);
    if (!cell) return;
    if (cell.step >= 0) this.store.local.focus = { ...cell };
    this.placeFocusCell();
    this.activeCell?.focus({ preventScroll: true });
    this.actions.select(cell.row);
    if (cell.step >= 0) this.toggle(cell.row, cell.step);
  }

  private toggle(row: number, step: number): void {
    const s = this.state;
    if (!s) return;
    if (s.readonly) {
      this.announce('This schedule is read-only.', 'warning');
      return;
    }
    if (step === 0) {
      this.announce(STEP_ZERO_REASON, 'warning');
      return;
    }
    this.announce('');
    // Say what the cell became once the host's new state arrives.
    this.announcePending = true;
    this.actions.toggle(s.blocks[row]!.id, step);
  }

  private onKey(e: KeyboardEvent): void {
    const s = this.state;
    if (!s || s.blocks.length === 0) return;
    const shape = {
      rows: s.blocks.length,
      steps: s.steps,
      rowsPerPage: blocksPerLayer(s.blocks.map((b) => b.layer)),
    };
    const command = gridCommand(e, this.store.local.focus, shape);
    if (!command) return;
    e.preventDefault();
    const f = this.store.local.focus;
    if (command.kind === 'toggle') {
      this.toggle(f.row, f.step);
      return;
    }
    this.store.local.focus = { ...command.to };
    this.scrollIntoView(command.to);
    this.actions.select(command.to.row); // re-renders, which moves the focusable cell
    this.showCellTooltip();
  }

  /** The focused cell's words as a tooltip under it (what a hover shows, for the keyboard). */
  private showCellTooltip(): void {
    const cell = this.activeCell;
    if (!cell || !this.state || !this.focused) return;
    const r = cell.getBoundingClientRect();
    const f = this.store.local.focus;
    this.showTooltip(this.describe(f.row, f.step, 'none'), r.left, r.bottom - 12);
  }

  private announceFocus(): void {
    const f = this.store.local.focus;
    if (!this.state) return;
    this.announce(this.describe(f.row, f.step, 'none').replace(/\n/g, '. '));
    this.statusDescribesCell = true;
  }

  private scrollIntoView(cell: GridCell): void {
    const x = LABEL_W + cell.step * this.colW;
    const y = HEADER_H + cell.row * this.rowH;
    const sc = this.scroll;
    if (x < sc.scrollLeft + LABEL_W) sc.scrollLeft = x - LABEL_W;
    else if (x + this.colW > sc.scrollLeft + sc.clientWidth) sc.scrollLeft = x + this.colW - sc.clientWidth;
    if (y < sc.scrollTop + HEADER_H) sc.scrollTop = y - HEADER_H;
    else if (y + this.rowH > sc.scrollTop + sc.clientHeight) sc.scrollTop = y + this.rowH - sc.clientHeight;
  }

  /** Words for a cell: block, step, origin or reuse source, similarity to the cache source. */
  private describe(row: number, step: number, hint: Hint): string {
    const s = this.state!;
    const b = s.blocks[row]!;
    const c = this.cells[row]![step]!;
    const lines = [`Block ${b.layer} ${b.kind} (${b.id}) · step ${step} of ${s.steps - 1}`];
    const a = s.analysis;
    if (c === Cell.Acs || c === Cell.Bua || c === Cell.Manual) {
      lines.push(`Update: ${ORIGIN_LABELS[c === Cell.Acs ? 'acs' : c === Cell.Bua ? 'bua' : 'manual']}`);
    } else {
      const src = this.sources[row]![step]!;
      lines.push(`Reuse: the cached output of step ${src}${c === Cell.Off ? ' (update removed by hand)' : ''}`);
      if (a) {
        const sim = a.simToSource[row]![step]!;
        const std = a.simStdToSource[row]![step]!;
        lines.push(
          `Similarity to that cache: ${sim.toFixed(3)}${a.samples > 1 ? ` ± ${std.toFixed(3)} over ${a.samples} samples` : ''}`,
        );
      } else {
        lines.push('Similarity: unavailable without the linked profile');
      }
    }
    if (hint !== 'none' && !s.readonly) {
      const verb = hint === 'pointer' ? 'Click' : 'Press Space';
      if (step === 0) lines.push(STEP_ZERO_REASON);
      else
        lines.push(
          c === Cell.Reuse || c === Cell.Off ? `${verb} to add a manual update` : `${verb} to remove this update`,
        );
    }
    return lines.join('\n');
  }
}
