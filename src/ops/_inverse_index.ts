/**
 * The inverse of an index table, built on the host by a counting sort. WGSL
 * has no float atomics, so a kernel where several rows add into one output
 * row (dC of the sampled-K loss, the table gradient of an embedding bag)
 * gathers over this index instead of scattering. Positions stay ascending
 * within a key, which fixes the order of every sum: results replay bit for
 * bit.
 *
 * @module
 */

/**
 * For each key in [0, domain), the positions of a value array that hold it:
 * positions[offsets[key] .. offsets[key + 1]], ascending. Allocated once;
 * `build` allocates nothing.
 *
 * @example Which positions hold each of three keys
 * ```ts
 * import assert from "node:assert/strict";
 * import { InverseIndex } from "./_inverse_index.ts";
 * const index = new InverseIndex(3, 5);
 * index.build([2, 0, 2, 1, 0]);
 * assert.deepEqual(index.offsets, new Uint32Array([0, 2, 3, 5]));
 * assert.deepEqual(index.positions, new Uint32Array([1, 4, 3, 0, 2]));
 * ```
 */
export class InverseIndex {
  /** [domain + 1] start of each key's positions; the last entry is the count. */
  readonly offsets: Uint32Array;
  /** [capacity] positions grouped by key. */
  readonly positions: Uint32Array;
  readonly #cursor: Uint32Array;

  /**
   * Sizes the index.
   *
   * @param domain Keys are integers in [0, domain).
   * @param capacity The most values a build sees.
   */
  constructor(domain: number, capacity: number) {
    this.offsets = new Uint32Array(domain + 1);
    this.positions = new Uint32Array(capacity);
    this.#cursor = new Uint32Array(domain);
  }

  /**
   * Rebuilds the index of `values[0 .. count)`; each value must be a key (the callers validate them). With
   * `columns`, `values` is a table of rows of `stride` and only its first `columns` columns are indexed (the
   * sampled loss's first 1 + K of 1 + K_max): positions p with p mod stride < columns, still ascending.
   *
   * @param values Keys by position.
   * @param count How many positions (default all).
   * @param columns `{ stride, columns }`: index only these leading columns of each row (default every position).
   */
  build(
    values: ArrayLike<number>,
    count: number = values.length,
    columns?: { stride: number; columns: number },
  ): void {
    const { offsets, positions } = this;
    const cursor = this.#cursor;
    const domain = cursor.length;
    // Without `columns`, one row holding every position.
    const stride = columns?.stride ?? Math.max(1, count);
    const width = Math.min(columns?.columns ?? stride, stride);
    offsets.fill(0);
    for (let row = 0; row < count; row += stride) {
      for (let p = row, end = Math.min(row + width, count); p < end; p++) offsets[values[p] + 1]++;
    }
    for (let key = 0; key < domain; key++) offsets[key + 1] += offsets[key];
    cursor.set(offsets.subarray(0, domain));
    for (let row = 0; row < count; row += stride) {
      for (let p = row, end = Math.min(row + width, count); p < end; p++) positions[cursor[values[p]]++] = p;
    }
  }
}
