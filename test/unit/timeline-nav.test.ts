import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ariaPosition,
  blocksPerLayer,
  clampCell,
  gridCommand,
  type GridCell,
  type GridKey,
  type GridShape,
} from '../../src/core/timeline-nav';

const SHAPE: GridShape = { rows: 24, steps: 100, rowsPerPage: 3 };
const at = (row: number, step: number): GridCell => ({ row, step });
const moveTo = (key: GridKey | string, from: GridCell, shape = SHAPE): GridCell | null => {
  const c = gridCommand(typeof key === 'string' ? { key } : key, from, shape);
  return c?.kind === 'move' ? c.to : null;
};

describe('timeline keyboard navigation', () => {
  it('arrows move one cell', () => {
    assert.deepEqual(moveTo('ArrowRight', at(5, 10)), at(5, 11));
    assert.deepEqual(moveTo('ArrowLeft', at(5, 10)), at(5, 9));
    assert.deepEqual(moveTo('ArrowDown', at(5, 10)), at(6, 10));
    assert.deepEqual(moveTo('ArrowUp', at(5, 10)), at(4, 10));
  });

  it('stops at every edge but still consumes the key (a move onto the same cell)', () => {
    assert.deepEqual(moveTo('ArrowLeft', at(0, 0)), at(0, 0));
    assert.deepEqual(moveTo('ArrowUp', at(0, 7)), at(0, 7));
    assert.deepEqual(moveTo('ArrowRight', at(3, 99)), at(3, 99));
    assert.deepEqual(moveTo('ArrowDown', at(23, 4)), at(23, 4));
    assert.deepEqual(moveTo('PageDown', at(22, 4)), at(23, 4));
    assert.deepEqual(moveTo('PageUp', at(1, 4)), at(0, 4));
  });

  it('Home/End go along the row; with Ctrl to the first and last cell', () => {
    assert.deepEqual(moveTo('Home', at(7, 42)), at(7, 0));
    assert.deepEqual(moveTo('End', at(7, 42)), at(7, 99));
    assert.deepEqual(moveTo({ key: 'Home', ctrlKey: true }, at(7, 42)), at(0, 0));
    assert.deepEqual(moveTo({ key: 'End', ctrlKey: true }, at(7, 42)), at(23, 99));
  });

  it('Page Up/Down move by one layer', () => {
    assert.deepEqual(moveTo('PageDown', at(4, 9)), at(7, 9));
    assert.deepEqual(moveTo('PageUp', at(4, 9)), at(1, 9));
    assert.deepEqual(moveTo('PageDown', at(4, 9), { ...SHAPE, rowsPerPage: 0 }), at(5, 9), 'at least one row');
  });

  it('Space and Enter toggle; other keys and modified keys are left to VS Code', () => {
    assert.deepEqual(gridCommand({ key: ' ' }, at(1, 1), SHAPE), { kind: 'toggle' });
    assert.deepEqual(gridCommand({ key: 'Enter' }, at(1, 1), SHAPE), { kind: 'toggle' });
    for (const key of [
      { key: 'z', ctrlKey: true }, // undo reaches the workbench
      { key: 'ArrowRight', ctrlKey: true },
      { key: 'ArrowDown', shiftKey: true },
      { key: 'ArrowDown', altKey: true },
      { key: 'Enter', metaKey: true },
      { key: 'Tab' },
      { key: 'a' },
      { key: 'Escape' },
    ]) {
      assert.equal(gridCommand(key, at(1, 1), SHAPE), null, JSON.stringify(key));
    }
  });

  it('starts from a clamped cell when the schedule shrank under a saved focus', () => {
    assert.deepEqual(moveTo('ArrowLeft', at(90, 500)), at(23, 98));
    assert.deepEqual(clampCell(at(-3, Number.NaN), SHAPE), at(0, 0));
    assert.deepEqual(clampCell(at(2.7, 5.2), SHAPE), at(2, 5));
  });

  it('counts the blocks of the first layer for a page', () => {
    assert.equal(blocksPerLayer([0, 0, 0, 1, 1, 1]), 3);
    assert.equal(blocksPerLayer([0, 0, 1, 1]), 2);
    assert.equal(blocksPerLayer([4]), 1);
    assert.equal(blocksPerLayer([]), 1);
  });

  it('places cells after the header row and the label column (ARIA indices are 1-based)', () => {
    assert.deepEqual(ariaPosition(at(0, 0)), { rowIndex: 2, colIndex: 2 });
    assert.deepEqual(ariaPosition(at(23, 99)), { rowIndex: 25, colIndex: 101 });
  });
});
