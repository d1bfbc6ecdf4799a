/**
 * A FIFO queue of past embeddings on the GPU (MoCo style): each step pushes
 * the batch's candidate embeddings, overwriting the oldest, and negatives
 * are drawn from the filled slots. The queue is detached: no gradient flows
 * into it, so it can hold many more negatives than a batch encodes.
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
import type { Gpu } from "../gpu/device.ts";
import { checkGpu, checkTensor, Tensor } from "../gpu/tensor.ts";
import { checkSeed, Rng } from "../data/random.ts";
import type { Stateful } from "../train/state.ts";

/** What {@linkcode EmbeddingQueue.state} holds. */
export interface QueueState {
  /** The sampling RNG's state. */
  rng: number;
  /** The next slot to write. */
  head: number;
  /** Slots written at least once. */
  filled: number;
  /** Each slot's label (−1 for none). */
  labels: number[];
}

/**
 * The queue: a [capacity, D] tensor, its write head, and each slot's label.
 *
 * @example Push six rows into a queue of four, oldest overwritten
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddingQueue, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const queue = new EmbeddingQueue(gpu, { capacity: 4, dim: 1, seed: 1 });
 * const rows = Tensor.from(gpu, new Float32Array([1, 2, 3]), [3, 1]);
 * for (let i = 0; i < 2; i++) {
 *   const encoder = gpu.device.createCommandEncoder();
 *   queue.push(encoder, rows, [i, i, i]);
 *   gpu.submit("example", encoder);
 * }
 * assert.deepEqual(await queue.embeddings.read(), new Float32Array([2, 3, 3, 1])); // slots 3, 0, 1 rewritten
 * assert.equal(queue.filled, 4);
 * gpu.destroy();
 * ```
 */
export class EmbeddingQueue implements Stateful<QueueState> {
  /** The embeddings, f32 [capacity, D]; slots past `filled` hold zeros. */
  readonly embeddings: Tensor;
  /** Slots. */
  readonly capacity: number;
  /** Embedding width. */
  readonly dim: number;
  /** Next slot to write. */
  head = 0;
  /** Slots written at least once. */
  filled = 0;
  readonly #labels: Int32Array;
  readonly #rng: Rng;

  /**
   * Allocates the queue, zeroed.
   *
   * @param gpu The context.
   * @param options Capacity, width, sampling seed.
   * @throws {TypeError} When `gpu` is not a Gpu, `options` is not an object, or `options.capacity`, `options.dim` or
   * `options.seed` is not a number.
   * @throws {RangeError} When `options.capacity` or `options.dim` is not an integer >= 1, or `options.seed` is not
   * finite.
   * @throws {OutOfMemoryError} When the queue exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, options: { capacity: number; dim: number; seed?: number }) {
    const op = "EmbeddingQueue";
    checkGpu(op, gpu);
    checkObject(op, "options", options);
    checkInt(op, "options.capacity", options.capacity, 1);
    checkInt(op, "options.dim", options.dim, 1);
    const seed = options.seed ?? 0;
    checkSeed(op, "options.seed", seed);
    this.capacity = options.capacity;
    this.dim = options.dim;
    this.#rng = new Rng(seed);
    this.embeddings = Tensor.zeros(gpu, [options.capacity, options.dim]);
    this.#labels = new Int32Array(options.capacity).fill(-1);
  }

  /**
   * Everything but the embeddings, for checkpoints: the sampling RNG, the write head, how many slots are
   * filled, and each slot's label. The embeddings are a tensor: checkpoints and snapshots copy them apart.
   */
  get state(): QueueState {
    return { rng: this.#rng.state, head: this.head, filled: this.filled, labels: Array.from(this.#labels) };
  }

  /**
   * Restores a state saved from {@linkcode EmbeddingQueue.state}.
   *
   * @param state The state.
   * @throws {RangeError} When it is not a state of a queue of this capacity.
   */
  setState(state: QueueState): void {
    const op = "EmbeddingQueue.setState";
    if (state?.labels?.length !== this.capacity) {
      rangeError(op, "state.labels.length", `${this.capacity}`, state?.labels?.length);
    }
    checkInt(op, "state.head", state.head, 0, this.capacity - 1);
    checkInt(op, "state.filled", state.filled, 0, this.capacity);
    this.#rng.setState(state.rng);
    this.head = state.head;
    this.filled = state.filled;
    this.#labels.set(state.labels);
  }

  /** Each slot's label (−1 for none, or unfilled). */
  get slotLabels(): Int32Array {
    return this.#labels;
  }

  /**
   * Records copies of `source`'s rows into the oldest slots (one or two
   * buffer copies, wrapping at the end), outside any compute pass.
   *
   * @param encoder The step's command encoder.
   * @param source f32 [n, D] with n ≤ capacity.
   * @param labels The rows' labels, integers in [0, 2³¹ − 1], for label-aware sampling (default: none).
   * @throws {TypeError} When `encoder` is not a GPUCommandEncoder, `source` is not a live f32 Tensor of the queue's
   * Gpu, or `labels` is not array-like.
   * @throws {RangeError} When `source` is not whole D-wide rows or has more rows than `capacity`, `labels.length` is
   * not its row count, or a label is not an integer in [0, 2³¹ − 1].
   */
  push(encoder: GPUCommandEncoder, source: Tensor, labels?: ArrayLike<number>): void {
    const op = "EmbeddingQueue.push";
    if (!(encoder instanceof GPUCommandEncoder)) typeError(op, "encoder", "a GPUCommandEncoder", encoder);
    checkTensor(op, "source", source, this.embeddings.gpu, "f32");
    if (source.size % this.dim !== 0) rangeError(op, "source.shape", `[n, ${this.dim}]`, source.shape);
    const n = source.size / this.dim;
    if (n > this.capacity) rangeError(op, "source rows", `<= capacity (${this.capacity})`, n);
    if (labels !== undefined) {
      checkArrayLike(op, "labels", labels, "an array of labels");
      if (labels.length !== n) rangeError(op, "labels.length", `the rows (${n})`, labels.length);
      checkIntegers(op, "labels", labels, 0, 2 ** 31 - 1); // an Int32Array holds them, -1 marking none
    }
    const rowBytes = this.dim * 4;
    const first = Math.min(n, this.capacity - this.head);
    const q = this.embeddings;
    encoder.copyBufferToBuffer(
      source.buffer,
      source.offset,
      q.buffer,
      q.offset + this.head * rowBytes,
      first * rowBytes,
    );
    if (first < n) {
      encoder.copyBufferToBuffer(
        source.buffer,
        source.offset + first * rowBytes,
        q.buffer,
        q.offset,
        (n - first) * rowBytes,
      );
    }
    for (let i = 0; i < n; i++) this.#labels[(this.head + i) % this.capacity] = labels ? labels[i] : -1;
    this.head = (this.head + n) % this.capacity;
    this.filled = Math.min(this.capacity, this.filled + n);
  }

  /**
   * For each anchor, `k` filled slots drawn uniformly with replacement,
   * optionally never one whose label equals the anchor's.
   *
   * @param anchorLabels One label per anchor (used when `excludeSameLabel`), or the row count.
   * @param k Negatives per row.
   * @param excludeSameLabel Skip same-label slots (default false); a row with no other label draws from all.
   * @returns [rows, k] slot numbers.
   * @throws {TypeError} When `anchorLabels` is neither a number nor array-like, `k` is not a number,
   * `excludeSameLabel` is not a boolean, or it is set with a row count instead of labels.
   * @throws {RangeError} When a row count is not an integer >= 0, `k` is not an integer >= 1, or nothing has been
   * pushed yet.
   */
  sample(anchorLabels: ArrayLike<number> | number, k: number, excludeSameLabel = false): Uint32Array {
    const op = "EmbeddingQueue.sample";
    if (typeof anchorLabels === "number") checkInt(op, "anchorLabels", anchorLabels, 0);
    else checkArrayLike(op, "anchorLabels", anchorLabels, "labels, or a row count");
    checkInt(op, "k", k, 1);
    checkBool(op, "excludeSameLabel", excludeSameLabel);
    if (this.filled === 0) rangeError(op, "filled", "at least one pushed row", 0);
    const rows = typeof anchorLabels === "number" ? anchorLabels : anchorLabels.length;
    if (excludeSameLabel && typeof anchorLabels === "number") {
      typeError(op, "anchorLabels", "labels when excludeSameLabel is set", anchorLabels);
    }
    const out = new Uint32Array(rows * k);
    const eligible = new Uint32Array(this.filled);
    for (let i = 0; i < rows; i++) {
      let n = 0;
      const label = typeof anchorLabels === "number" ? -2 : anchorLabels[i];
      for (let s = 0; s < this.filled; s++) if (!excludeSameLabel || this.#labels[s] !== label) eligible[n++] = s;
      if (n === 0) { for (let s = 0; s < this.filled; s++) eligible[n++] = s; }
      for (let j = 0; j < k; j++) out[i * k + j] = eligible[Math.floor(this.#rng.next() * n)];
    }
    return out;
  }

  /** Frees the queue's tensor. */
  destroy(): void {
    this.embeddings.destroy();
  }
}
