/**
 * Negatives drawn from the batch ("in-batch negatives", the one meaning of
 * in-batch here): a batch of B (anchor, positive) pairs encodes its B
 * positives once as the candidate table, and each anchor's K negatives are
 * other rows' positives. The encoder cost is then independent of K, which
 * is what makes sweeping K (and moving it every step) cheap. (SimCLR's
 * 2B-view loss, where every other view is a negative, is `NtXentLoss`.)
 *
 * @module
 */

import { checkArrayLike, checkBool, checkInt, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import { checkSeed, Rng } from "../data/random.ts";
import type { Stateful } from "../train/state.ts";

/** Options of {@linkcode BatchNegativeSampler}. */
export interface BatchNegativeSamplerOptions {
  /** Pairs per batch, B ≥ 2. */
  batch: number;
  /** Negatives per row the table holds, 1..B−1 (1..B−1+queue with a queue). */
  kMax: number;
  /** Never draw a candidate whose label equals the anchor's (labels are passed to `sample`; default false). */
  excludeSameLabel?: boolean;
  /** Seed (default 0). */
  seed?: number;
  /** Capacity of a queue of past candidates that `sample` may also draw from (default 0: none). */
  queue?: number;
}

/**
 * Seeded in-batch index tables for the sampled-K loss: row i's positive is
 * candidate i, its K_max negatives are drawn uniformly (with replacement)
 * from the other candidates, optionally only those with another label. A
 * row whose label every other candidate shares falls back to all others.
 *
 * @example Four pairs, two negatives each, never their own positive
 * ```ts
 * import assert from "node:assert/strict";
 * import { BatchNegativeSampler } from "../../mod.ts";
 * const sampler = new BatchNegativeSampler({ batch: 4, kMax: 2, excludeSameLabel: true, seed: 1 });
 * const table = sampler.sample([0, 0, 1, 1]);
 * assert.deepEqual([table[0], table[3], table[6], table[9]], [0, 1, 2, 3]);
 * assert.ok([1, 2, 4, 5].every((s) => table[s] >= 2)); // rows 0 and 1 (label 0) draw from rows 2 and 3
 * ```
 */
export class BatchNegativeSampler implements Stateful<number> {
  /** Pairs per batch. */
  readonly batch: number;
  /** Negatives per row. */
  readonly kMax: number;
  /** Whether same-label candidates are excluded. */
  readonly excludeSameLabel: boolean;
  readonly #rng: Rng;
  #eligible: Uint32Array;
  #draws: Float64Array;

  /**
   * Checks the options.
   *
   * @param options Batch, K_max, label exclusion, seed.
   * @throws {TypeError} When `options` is not an object, `options.batch`, `options.kMax` or `options.seed` is not a
   * number, or `options.excludeSameLabel` not a boolean.
   * @throws {RangeError} When `options.batch` is not an integer >= 2, `options.kMax` not one in [1, batch − 1], or
   * `options.seed` not finite.
   */
  constructor(options: BatchNegativeSamplerOptions) {
    const op = "BatchNegativeSampler";
    checkObject(op, "options", options);
    checkInt(op, "options.batch", options.batch, 2);
    const queue = options.queue ?? 0;
    checkInt(op, "options.queue", queue, 0);
    // Drawn with replacement, K could exceed the candidates; it may not exceed what one step can offer.
    checkInt(op, "options.kMax", options.kMax, 1, options.batch - 1 + queue);
    const exclude = options.excludeSameLabel ?? false;
    checkBool(op, "options.excludeSameLabel", exclude);
    const seed = options.seed ?? 0;
    checkSeed(op, "options.seed", seed);
    this.batch = options.batch;
    this.kMax = options.kMax;
    this.excludeSameLabel = exclude;
    this.#rng = new Rng(seed);
    this.#eligible = new Uint32Array(options.batch);
    this.#draws = new Float64Array(options.batch * options.kMax);
  }

  /** The RNG state, for checkpoints. */
  get state(): number {
    return this.#rng.state;
  }

  /**
   * Restores a state saved from {@linkcode BatchNegativeSampler.state}.
   *
   * @param state The state.
   * @throws {TypeError} When `state` is not a number.
   * @throws {RangeError} When `state` is NaN or ±Infinity.
   */
  setState(state: number): void {
    this.#rng.setState(state);
  }

  /**
   * One index table, [B, 1 + kMax] row-major. With a queue, its filled
   * slots are candidates too (index B + slot), drawn like the batch's.
   *
   * @param labels The batch's labels (row i's anchor and positive share label i); needed when excluding.
   * @param out Where to write (allocated when absent).
   * @param queue The queue's filled slot count and every slot's label (−1 unknown), when negatives come from it too.
   * @returns The table.
   * @throws {TypeError} When `labels` is given but not array-like, or `out` is given but not a Uint32Array.
   * @throws {RangeError} When excluding and `labels.length` is not `batch`, or `out.length` is not batch·(1 + kMax).
   */
  sample(
    labels?: ArrayLike<number>,
    out?: Uint32Array,
    queue?: { filled: number; labels: ArrayLike<number> },
  ): Uint32Array {
    const op = "BatchNegativeSampler.sample";
    const { batch, kMax } = this;
    const width = kMax + 1;
    if (labels !== undefined) checkArrayLike(op, "labels", labels, "an array of labels");
    if (this.excludeSameLabel && labels?.length !== batch) {
      rangeError(op, "labels.length", `batch (${batch}) when excludeSameLabel is set`, labels?.length);
    }
    if (out !== undefined && !(out instanceof Uint32Array)) typeError(op, "out", "a Uint32Array", out);
    const table = out ?? new Uint32Array(batch * width);
    if (table.length !== batch * width) {
      rangeError(op, "out.length", `batch·(1 + kMax) = ${batch * width}`, table.length);
    }
    const filled = queue?.filled ?? 0;
    // Every row takes exactly kMax uniforms, in row order; drawn first, they can be spent in any order below.
    if (this.#draws.length < batch * kMax) this.#draws = new Float64Array(batch * kMax);
    const draws = this.#draws;
    for (let t = 0; t < batch * kMax; t++) draws[t] = this.#rng.next();
    // Row i's candidates are the other rows, then the filled queue slots: draw r of n maps to r < i ? r : r + 1.
    const others = (i: number) => {
      const n = batch - 1 + filled;
      for (let k = 1; k < width; k++) {
        const r = Math.floor(draws[i * kMax + k - 1] * n);
        table[i * width + k] = r < i ? r : r + 1;
      }
    };
    for (let i = 0; i < batch; i++) table[i * width] = i;
    if (!this.excludeSameLabel) {
      for (let i = 0; i < batch; i++) others(i);
      return table;
    }
    // Excluding a label, the candidates depend on the row's label only (the row itself has it): one list per label.
    if (this.#eligible.length < batch + filled) this.#eligible = new Uint32Array(batch + filled);
    const eligible = this.#eligible;
    const done = new Set<number>();
    for (let first = 0; first < batch; first++) {
      const y = labels![first];
      if (done.has(y)) continue;
      done.add(y);
      let n = 0;
      for (let j = 0; j < batch; j++) if (labels![j] !== y) eligible[n++] = j;
      for (let s = 0; s < filled; s++) if (queue!.labels[s] !== y) eligible[n++] = batch + s;
      for (let i = first; i < batch; i++) {
        if (labels![i] !== y) continue;
        if (n === 0) { // every candidate shares the label: take them all rather than none
          others(i);
          continue;
        }
        for (let k = 1; k < width; k++) table[i * width + k] = eligible[Math.floor(draws[i * kMax + k - 1] * n)];
      }
    }
    return table;
  }
}

/**
 * The full table of batch negatives: row i's positive is candidate i and its
 * B − 1 negatives are every other candidate, in order (K = B − 1).
 *
 * @param batch B ≥ 2.
 * @returns [B, B] row-major.
 * @throws {TypeError} When `batch` is not a number.
 * @throws {RangeError} When `batch` is not an integer >= 2.
 */
export function allBatchNegatives(batch: number): Uint32Array {
  checkInt("allBatchNegatives", "batch", batch, 2);
  const table = new Uint32Array(batch * batch);
  for (let i = 0; i < batch; i++) {
    table[i * batch] = i;
    for (let j = 0, k = 1; j < batch; j++) if (j !== i) table[i * batch + k++] = j;
  }
  return table;
}
