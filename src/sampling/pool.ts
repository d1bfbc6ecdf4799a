/**
 * Negative sampling from a pool: for each anchor, its positive and K_max
 * negatives drawn uniformly from the pool's items, never the positive
 * itself and optionally never an item with the anchor's label. The table is
 * the sampled-K loss's index table ([B, 1 + K_max], column 0 the positive);
 * the loss reads its first K negatives, so K can change every step without
 * resampling or reallocation. Seeded: the same seed gives the same tables.
 *
 * @module
 */

import {
  checkArrayLike,
  checkBool,
  checkInt,
  checkIntegers,
  checkObject,
  rangeError,
  typeError,
} from "../gpu/_check.ts";
import { checkSeed, Rng } from "../data/random.ts";
import type { Stateful } from "../train/state.ts";

/** Options of {@linkcode PoolSampler}. */
export interface PoolSamplerOptions {
  /** Items in the pool (candidate rows 0..items-1). */
  items: number;
  /** Negatives per row the table holds. */
  kMax: number;
  /** Label of each item, for label-aware sampling. */
  labels?: ArrayLike<number>;
  /** Never draw an item whose label equals the positive's (needs labels; default false). */
  excludeSameLabel?: boolean;
  /** Seed (default 0). */
  seed?: number;
}

/**
 * A seeded sampler of index tables.
 *
 * @example Two anchors, 3 negatives each, never their positive
 * ```ts
 * import assert from "node:assert/strict";
 * import { PoolSampler } from "./pool.ts";
 * const sampler = new PoolSampler({ items: 10, kMax: 3, seed: 1 });
 * const table = sampler.sample([4, 7]);
 * assert.equal(table.length, 2 * 4);
 * assert.equal(table[0], 4);
 * assert.ok(!table.slice(1, 4).includes(4));
 * ```
 */
export class PoolSampler implements Stateful<number> {
  /** Items in the pool. */
  readonly items: number;
  /** Negatives per row. */
  readonly kMax: number;
  readonly #labels: Uint32Array | null;
  readonly #exclude: boolean;
  readonly #rng: Rng;

  /**
   * Checks the options (that every label leaves something to draw, when excluding).
   *
   * @param options Pool size, K_max, labels, seed.
   * @throws {TypeError} When `options` is not an object, `options.items`, `options.kMax` or `options.seed` is not a
   * number, `options.labels` is not array-like, `options.excludeSameLabel` is not a boolean, or it is set without
   * `options.labels`.
   * @throws {RangeError} When `options.items` is not an integer >= 2, `options.kMax` not one >= 1,
   * `options.labels.length` is not `items`, a label is not an integer in [0, 2³² − 1], excluding leaves fewer than
   * two distinct labels, or `options.seed` is not finite.
   */
  constructor(options: PoolSamplerOptions) {
    const op = "PoolSampler";
    checkObject(op, "options", options);
    checkInt(op, "options.items", options.items, 2);
    checkInt(op, "options.kMax", options.kMax, 1);
    const exclude = options.excludeSameLabel ?? false;
    checkBool(op, "options.excludeSameLabel", exclude);
    const seed = options.seed ?? 0;
    checkSeed(op, "options.seed", seed);
    if (options.labels !== undefined) {
      checkArrayLike(op, "options.labels", options.labels, "an array of labels");
      if (options.labels.length !== options.items) {
        rangeError(op, "options.labels.length", `items (${options.items})`, options.labels.length);
      }
      // Copied into a Uint32Array: each label must fit one.
      checkIntegers(op, "options.labels", options.labels, 0, 2 ** 32 - 1);
    }
    this.items = options.items;
    this.kMax = options.kMax;
    this.#exclude = exclude;
    this.#labels = options.labels ? Uint32Array.from(options.labels) : null;
    if (this.#exclude) {
      if (!this.#labels) typeError(op, "options.labels", "given when excludeSameLabel is true", undefined);
      if (new Set(this.#labels).size < 2) rangeError(op, "options.labels", "at least two distinct labels", "one");
    }
    this.#rng = new Rng(seed);
  }

  /** The RNG state, for checkpoints; {@linkcode PoolSampler.setState} restores it. */
  get state(): number {
    return this.#rng.state;
  }

  /**
   * Restores the RNG state saved from {@linkcode PoolSampler.state}.
   *
   * @param state The state.
   * @throws {TypeError} When `state` is not a number.
   * @throws {RangeError} When `state` is NaN or ±Infinity.
   */
  setState(state: number): void {
    this.#rng.setState(state);
  }

  /**
   * One index table.
   *
   * @param positives Each anchor's positive item.
   * @param out Where to write [B, 1 + kMax] (allocated when absent).
   * @returns The table.
   * @throws {TypeError} When `positives` is not array-like, or `out` is given but not a Uint32Array.
   * @throws {RangeError} When `out.length` is not B·(1 + kMax), or a positive is not an integer in [0, items).
   */
  sample(positives: ArrayLike<number>, out?: Uint32Array): Uint32Array {
    const op = "PoolSampler.sample";
    checkArrayLike(op, "positives", positives, "an array of items");
    if (out !== undefined && !(out instanceof Uint32Array)) typeError(op, "out", "a Uint32Array", out);
    const width = this.kMax + 1;
    const table = out ?? new Uint32Array(positives.length * width);
    if (table.length !== positives.length * width) {
      rangeError(op, "out.length", `positives.length·(1 + kMax) = ${positives.length * width}`, table.length);
    }
    for (let i = 0; i < positives.length; i++) {
      const p = positives[i];
      if (!Number.isInteger(p) || p < 0 || p >= this.items) {
        rangeError(op, `positives[${i}]`, `an integer in [0, ${this.items - 1}]`, p);
      }
      table[i * width] = p;
      const label = this.#labels?.[p];
      for (let j = 1; j < width; j++) {
        let n: number;
        do n = Math.floor(this.#rng.next() * this.items); while (
          n === p || (this.#exclude && this.#labels![n] === label)
        );
        table[i * width + j] = n;
      }
    }
    return table;
  }
}
