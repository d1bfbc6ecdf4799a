/**
 * Positive pairs for supervised contrastive training: an anchor drawn
 * uniformly from the training set and, as its positive, another item with
 * the anchor's (possibly noisy) label. With label noise a positive can be
 * of another true class, and an item of the anchor's true class can carry
 * another label: the false negatives of docs/science.md §3.
 *
 * @module
 */

import { checkBool, checkInt, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import { checkSeed, Rng } from "../data/random.ts";
import type { Stateful } from "../train/state.ts";

/** Options of {@linkcode PairSampler}. */
export interface PairSamplerOptions {
  /** Pairs per batch, B ≥ 1. */
  batch: number;
  /** Seed (default 0). */
  seed?: number;
  /** Each positive is its anchor (two views of one item, SimCLR): labels are then never read (default false). */
  sameItem?: boolean;
}

/**
 * A seeded sampler of (anchor, positive) pairs by label. Each `sample()`
 * rewrites `anchors`, `positives` and `labels` in place; it allocates
 * nothing.
 *
 * @example Pairs share a label
 * ```ts
 * import assert from "node:assert/strict";
 * import { PairSampler } from "./pairs.ts";
 * const labels = [0, 1, 0, 1, 2, 2];
 * const pairs = new PairSampler(labels, { batch: 4, seed: 1 });
 * pairs.sample();
 * for (let i = 0; i < 4; i++) {
 *   assert.equal(labels[pairs.positives[i]], labels[pairs.anchors[i]]);
 *   assert.notEqual(pairs.positives[i], pairs.anchors[i]);
 * }
 * ```
 */
export class PairSampler implements Stateful<number> {
  /** Pairs per batch. */
  readonly batch: number;
  /** This batch's anchors (row numbers). */
  readonly anchors: Uint32Array;
  /** This batch's positives (row numbers). */
  readonly positives: Uint32Array;
  /** This batch's labels (anchor i and positive i share labels[i]). */
  readonly labels: Uint32Array;
  readonly #labels: ArrayLike<number>;
  /** Rows of each label (a map: labels may be any integers, however sparse). */
  readonly #byLabel: Map<number, Uint32Array>;
  readonly #rng: Rng;
  readonly #sameItem: boolean;

  /**
   * Indexes the rows by label.
   *
   * @param labels The training labels, one per row, integers ≥ 0.
   * @param options Batch and seed.
   * @throws {TypeError} When `labels` is not array-like, `options` is not an object, or `options.batch` or
   * `options.seed` is not a number.
   * @throws {RangeError} When `labels` is empty, a label is not an integer in [0, 2³² − 1], `options.batch` is not an
   * integer >= 1, or `options.seed` is not finite.
   */
  constructor(labels: ArrayLike<number>, options: PairSamplerOptions) {
    const op = "PairSampler";
    if (labels === null || typeof labels !== "object" || typeof labels.length !== "number") {
      typeError(op, "labels", "a non-empty array of labels", labels);
    }
    if (labels.length < 1) rangeError(op, "labels", "a non-empty array of labels", labels);
    checkObject(op, "options", options);
    checkInt(op, "options.batch", options.batch, 1);
    const seed = options.seed ?? 0;
    checkSeed(op, "options.seed", seed);
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i];
      if (!Number.isInteger(y) || y < 0) rangeError(op, `labels[${i}]`, "an integer >= 0", y);
      // Labels are copied into `this.labels`, a Uint32Array: each must fit one.
      if (y > 2 ** 32 - 1) rangeError(op, `labels[${i}]`, "at most 2³² − 1 (a u32)", y);
    }
    const counts = new Map<number, number>();
    for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
    this.#byLabel = new Map([...counts].map(([y, n]) => [y, new Uint32Array(n)]));
    counts.clear();
    for (let i = 0; i < labels.length; i++) {
      const n = counts.get(labels[i]) ?? 0;
      this.#byLabel.get(labels[i])![n] = i;
      counts.set(labels[i], n + 1);
    }
    this.batch = options.batch;
    this.anchors = new Uint32Array(options.batch);
    this.positives = new Uint32Array(options.batch);
    this.labels = new Uint32Array(options.batch);
    this.#labels = labels;
    this.#rng = new Rng(seed);
    this.#sameItem = options.sameItem ?? false;
    checkBool(op, "options.sameItem", this.#sameItem);
  }

  /** The RNG state, for checkpoints. */
  get state(): number {
    return this.#rng.state;
  }

  /**
   * Restores a state saved from {@linkcode PairSampler.state}.
   *
   * @param state The state.
   * @throws {TypeError} When `state` is not a number.
   * @throws {RangeError} When `state` is NaN or ±Infinity.
   */
  setState(state: number): void {
    this.#rng.setState(state);
  }

  /** Draws the next batch of pairs into `anchors`, `positives` and `labels`. */
  sample(): void {
    const rng = this.#rng;
    const rows = this.#labels.length;
    for (let i = 0; i < this.batch; i++) {
      const a = Math.floor(rng.next() * rows);
      if (this.#sameItem) {
        this.anchors[i] = this.positives[i] = a;
        this.labels[i] = this.#labels[a];
        continue;
      }
      const same = this.#byLabel.get(this.#labels[a])!;
      let p = a;
      // Another item with the anchor's label (the anchor itself only when it is alone in its class).
      for (let tries = 0; p === a && tries < 8; tries++) p = same[Math.floor(rng.next() * same.length)];
      this.anchors[i] = a;
      this.positives[i] = p;
      this.labels[i] = this.#labels[a];
    }
  }
}
