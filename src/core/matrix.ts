import { BacError } from './errors';

/**
 * A square matrix stored row-major. Invariant: `data.length === size * size`, `size ≥ 1`.
 * Used for K×K similarity matrices (K = denoising steps).
 */
export interface SquareMatrix {
  /** Number of rows = number of columns. */
  readonly size: number;
  /** Row-major entries; entry (i, j) is `data[i * size + j]`. */
  readonly data: ArrayLike<number>;
}

/**
 * Builds a {@link SquareMatrix} from nested rows, rejecting ragged or non-square input.
 * O(K²).
 * @throws BacError when the rows are empty, ragged or not square.
 */
export function squareFromRows(rows: readonly (readonly number[])[], what = 'matrix'): SquareMatrix {
  const size = rows.length;
  if (size === 0) throw new BacError(`${what}: is empty, expected a K×K matrix with K ≥ 1`);
  const data = new Float64Array(size * size);
  rows.forEach((row, i) => {
    if (row.length !== size) {
      throw new BacError(`${what}: row ${i} has ${row.length} entries, expected ${size} (a square K×K matrix)`);
    }
    data.set(row, i * size);
  });
  return { size, data };
}

/**
 * Checks that `m` is a well-formed square matrix with finite entries.
 * O(K²).
 * @throws BacError naming the first offending entry.
 */
export function assertFiniteSquare(m: SquareMatrix, what = 'matrix'): void {
  const { size, data } = m;
  if (!Number.isInteger(size) || size < 1) {
    throw new BacError(`${what}: size ${size} is invalid, expected an integer K ≥ 1`);
  }
  if (data.length !== size * size) {
    throw new BacError(`${what}: has ${data.length} entries, expected ${size}×${size} = ${size * size} (square)`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      const r = Math.floor(i / size);
      throw new BacError(`${what}: entry [${r}][${i - r * size}] is ${v}, expected a finite number`);
    }
  }
}
