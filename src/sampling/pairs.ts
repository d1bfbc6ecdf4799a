/**
 * Positive pairs for supervised contrastive training: an anchor drawn
 * uniformly from the training set and, as its positive, another item with
 * the anchor's (possibly noisy) label. With label noise a positive can be
 * of another true class, and an item of the anchor's true class can carry
 * another label: the false negatives of docs/science.md §3.
 *
 * @module
 */

import { checkInt, rangeError, typeError } from "../gpu/_check.ts";
import { Rng } from "../data/random.ts";
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
  /** Rows of each label. */
  readonly #byLabel: Uint32Array[];
  readonly #rng: Rng;
  readonly #sameItem: boolean;

  /**
   * Indexes the rows by label.
   *
   * @param labels The training labels, one per row, integers ≥ 0.
   * @param options Batch and seed.
   * @throws {TypeError} When `labels` is not a non-empty array, or `options.batch` is not a number.
   * @throws {RangeError} When a label is not a non-negative integer, or `options.batch` is not an integer >= 1.
   */
  constructor(labels: ArrayLike<number>, options: PairSamplerOptions) {
    const op = "PairSampler";
    if (labels === null || typeof labels !== "object" || typeof labels.length !== "number" || labels.length < 1) {
      typeError(op, "labels", "a non-empty array of labels", labels);
    }
    checkInt(op, "options.batch", options?.batch, 1);
    let classes = 0;
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i];
      if (!Number.isInteger(y) || y < 0) rangeError(op, `labels[${i}]`, "an integer >= 0", y);
      classes = Math.max(classes, y + 1);
    }
    const counts = new Uint32Array(classes);
    for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
    this.#byLabel = Array.from(counts, (n) => new Uint32Array(n));
    counts.fill(0);
    for (let i = 0; i < labels.length; i++) this.#byLabel[labels[i]][counts[labels[i]]++] = i;
    this.batch = options.batch;
    this.anchors = new Uint32Array(options.batch);
    this.positives = new Uint32Array(options.batch);
    this.labels = new Uint32Array(options.batch);
    this.#labels = labels;
    this.#rng = new Rng(options.seed ?? 0);
    this.#sameItem = options.sameItem ?? false;
  }

  /** The RNG state, for checkpoints. */
  get state(): number {
    return this.#rng.state;
  }

  /**
   * Restores a state saved from {@linkcode PairSampler.state}.
   *
   * @param state The state.
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
      const same = this.#byLabel[this.#labels[a]];
      let p = a;
      // Another item with the anchor's label (the anchor itself only when it is alone in its class).
      for (let tries = 0; p === a && tries < 8; tries++) p = same[Math.floor(rng.next() * same.length)];
      this.anchors[i] = a;
      this.positives[i] = p;
      this.labels[i] = this.#labels[a];
    }
  }
}
