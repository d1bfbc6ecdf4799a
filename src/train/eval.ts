/**
 * Evaluation of an encoder by its embeddings' neighbours (embedded by
 * `Embedder`, src/train/embedder.ts): k-nearest-neighbour classification
 * accuracy and recall@k by cosine similarity (the embeddings are
 * L2-normalised, so a dot product), on the host ({@linkcode knnEvaluate}) or
 * with the neighbour search on the GPU ({@linkcode knnEvaluateOnGpu}); and
 * the raw-pixel baseline ({@linkcode pixelEmbeddings}).
 *
 * @module
 */

import { checkArrayLike, checkInt, checkIntegers, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu } from "../gpu/tensor.ts";
import type { LabelledBytes } from "../data/dataset.ts";
import { Rng } from "../data/random.ts";
import { gpuNeighbours, hostNeighbours, KNN_CANDIDATES, type Neighbours } from "../ops/knn.ts";

/** What {@linkcode knnEvaluate} measures. */
export interface KnnResult {
  /** Fraction of queries whose k-NN majority label (ties: larger summed similarity) is their label. */
  accuracy: number;
  /** recall@r for each r asked: the fraction of queries with a same-label item among their r nearest. */
  recall: Record<number, number>;
  /** Queries evaluated. */
  queries: number;
  /** Items in the bank. */
  bank: number;
}

/**
 * k-NN accuracy and recall@r of `queries` against `bank`, ranked by dot
 * product: the cosine similarity when the embeddings are L2-normalised, as
 * the library's encoders make them (normalise other vectors first).
 *
 * @param bank Bank embeddings, [N, D] row-major.
 * @param bankLabels N labels.
 * @param queries Query embeddings, [Q, D].
 * @param queryLabels Q labels.
 * @param dim D.
 * @param options `k` neighbours that vote (default 10) and the `recallAt` ranks (default [1, 5], those ≤ N).
 * @returns Accuracy and recalls.
 * @throws {TypeError} When `bank` or `queries` is not a Float32Array, a label list is not array-like, `options` is
 * not an object, `options.recallAt` is not an array, or `dim`, `options.k` or a rank is not a number.
 * @throws {RangeError} When `dim` is not an integer >= 1, there is no bank item or no query (accuracy over none is
 * 0/0), a label is not an integer >= 0, `bank` or `queries` is not labels·dim long or holds a non-finite value, or
 * `options.k` or a rank is not an integer in [1, N].
 *
 * @example Two clusters on the unit circle
 * ```ts
 * import assert from "node:assert/strict";
 * import { knnEvaluate } from "./eval.ts";
 * const bank = new Float32Array([1, 0, 0.9, 0.44, 0, 1, -0.44, 0.9]);
 * const r = knnEvaluate(bank, [0, 0, 1, 1], new Float32Array([0.8, 0.6, 0.1, 0.99]), [0, 1], 2, {
 *   k: 1,
 *   recallAt: [1, 2],
 * });
 * assert.equal(r.accuracy, 1);
 * assert.deepEqual(r.recall, { 1: 1, 2: 1 });
 * ```
 */
export function knnEvaluate(
  bank: Float32Array,
  bankLabels: ArrayLike<number>,
  queries: Float32Array,
  queryLabels: ArrayLike<number>,
  dim: number,
  options: KnnOptions = {},
): KnnResult {
  const asked = checkKnn("knnEvaluate", bank, bankLabels, queries, queryLabels, dim, options);
  return tally(hostNeighbours(bank, queries, dim, asked.depth), asked, bankLabels, queryLabels);
}

/**
 * {@linkcode knnEvaluate} with the neighbour search on the GPU: the same
 * result, ties included (src/ops/knn.ts says why), in a fraction of the
 * time on large banks.
 *
 * @param gpu The context.
 * @param bank Bank embeddings, [N, D] row-major.
 * @param bankLabels N labels.
 * @param queries Query embeddings, [Q, D].
 * @param queryLabels Q labels.
 * @param dim D.
 * @param options `k` neighbours that vote (default 10) and the `recallAt` ranks (default [1, 5], those ≤ N).
 * @returns Accuracy and recalls.
 * @throws {TypeError} When `gpu` is not a Gpu, or an argument has a wrong type (see {@linkcode knnEvaluate}).
 * @throws {RangeError} As {@linkcode knnEvaluate}, and when `options.k` or a rank exceeds 32 (the candidates the GPU
 * keeps per query; use knnEvaluate).
 * @throws {OutOfMemoryError} When the bank exceeds the device's buffer limits.
 * @throws {GpuError} When an earlier op's GPU error is pending, or the search causes one.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example The same answer as on the host
 * ```ts
 * import assert from "node:assert/strict";
 * import { knnEvaluate, knnEvaluateOnGpu, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const bank = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i * i));
 * const queries = Float32Array.from({ length: 80 }, (_, i) => Math.cos(i));
 * const bankLabels = Array.from({ length: 100 }, (_, i) => i % 3);
 * const queryLabels = Array.from({ length: 20 }, (_, i) => i % 3);
 * const onGpu = await knnEvaluateOnGpu(gpu, bank, bankLabels, queries, queryLabels, 4, { k: 5 });
 * assert.deepEqual(onGpu, knnEvaluate(bank, bankLabels, queries, queryLabels, 4, { k: 5 }));
 * gpu.destroy();
 * ```
 */
export async function knnEvaluateOnGpu(
  gpu: Gpu,
  bank: Float32Array,
  bankLabels: ArrayLike<number>,
  queries: Float32Array,
  queryLabels: ArrayLike<number>,
  dim: number,
  options: KnnOptions = {},
): Promise<KnnResult> {
  const op = "knnEvaluateOnGpu";
  checkGpu(op, gpu);
  const asked = checkKnn(op, bank, bankLabels, queries, queryLabels, dim, options);
  const deepest = asked.recallAt.reduce((a, r) => Math.max(a, r), 0) > asked.k ? "options.recallAt" : "options.k";
  checkInt(op, deepest, asked.depth, 1, KNN_CANDIDATES);
  return tally(await gpuNeighbours(gpu, bank, queries, dim, asked.depth), asked, bankLabels, queryLabels);
}

/** Options of {@linkcode knnEvaluate} and {@linkcode knnEvaluateOnGpu}. */
export interface KnnOptions {
  /** Neighbours that vote (default 10). */
  k?: number;
  /** Ranks r of recall@r (default [1, 5], those ≤ N). */
  recallAt?: readonly number[];
}

interface KnnAsked {
  k: number;
  recallAt: readonly number[];
  depth: number;
}

function checkKnn(
  op: string,
  bank: Float32Array,
  bankLabels: ArrayLike<number>,
  queries: Float32Array,
  queryLabels: ArrayLike<number>,
  dim: number,
  options: KnnOptions,
): KnnAsked {
  if (!(bank instanceof Float32Array)) typeError(op, "bank", "a Float32Array of embeddings", bank);
  checkIntegers(op, "bankLabels", bankLabels, 0); // a NaN label would never match and count as a miss
  if (!(queries instanceof Float32Array)) typeError(op, "queries", "a Float32Array of embeddings", queries);
  checkIntegers(op, "queryLabels", queryLabels, 0);
  checkInt(op, "dim", dim, 1);
  checkObject(op, "options", options);
  const n = bankLabels.length;
  const q = queryLabels.length;
  if (n === 0) rangeError(op, "bankLabels.length", ">= 1 (a bank to search)", n);
  if (q === 0) rangeError(op, "queryLabels.length", ">= 1 (accuracy over no query is 0/0)", q);
  if (bank.length !== n * dim) rangeError(op, "bank.length", `bankLabels.length·dim = ${n * dim}`, bank.length);
  if (queries.length !== q * dim) {
    rangeError(op, "queries.length", `queryLabels.length·dim = ${q * dim}`, queries.length);
  }
  // A NaN similarity compares false with everything and would sit in the neighbour list unnoticed.
  for (const [name, values] of [["bank", bank], ["queries", queries]] as const) {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) rangeError(op, `${name}[${bad}]`, "finite (an embedding went non-finite)", values[bad]);
  }
  const k = options.k ?? 10;
  const recallAt = options.recallAt ?? [1, 5].filter((r) => r <= n);
  if (!Array.isArray(recallAt)) typeError(op, "options.recallAt", "an array of ranks", recallAt);
  checkInt(op, "options.k", k, 1, n);
  recallAt.forEach((r, i) => checkInt(op, `options.recallAt[${i}]`, r, 1, n));
  return { k, recallAt, depth: recallAt.reduce((a, r) => Math.max(a, r), k) };
}

/** Votes and recalls from the neighbour lists: the k nearest vote (ties: the larger summed similarity). */
function tally(
  nn: Neighbours,
  { k, recallAt }: KnnAsked,
  bankLabels: ArrayLike<number>,
  queryLabels: ArrayLike<number>,
): KnnResult {
  const q = queryLabels.length;
  const votes = new Map<number, { count: number; sum: number }>();
  let correct = 0;
  const hits = recallAt.map(() => 0);
  for (let i = 0; i < q; i++) {
    const at = i * nn.depth;
    votes.clear();
    for (let p = 0; p < k; p++) {
      const y = bankLabels[nn.rows[at + p]];
      const v = votes.get(y) ?? { count: 0, sum: 0 };
      v.count++;
      v.sum += nn.sims[at + p];
      votes.set(y, v);
    }
    let best = -1;
    let bestVote = { count: -1, sum: -Infinity };
    for (const [y, v] of votes) {
      if (v.count > bestVote.count || (v.count === bestVote.count && v.sum > bestVote.sum)) [best, bestVote] = [y, v];
    }
    if (best === queryLabels[i]) correct++;
    recallAt.forEach((r, ri) => {
      for (let p = 0; p < r; p++) {
        if (bankLabels[nn.rows[at + p]] === queryLabels[i]) {
          hits[ri]++;
          break;
        }
      }
    });
  }
  const recall: Record<number, number> = {};
  recallAt.forEach((r, ri) => (recall[r] = hits[ri] / q));
  return { accuracy: correct / q, recall, queries: q, bank: bankLabels.length };
}

/** The seed of the permutation whose first rows are `Trainer.evaluate`'s kNN bank (scripts that score a bank themselves use it too). */
export const EVAL_BANK_SEED = 12345;

/**
 * A seeded permutation of 0..n−1 (Fisher–Yates), so that a kNN bank of the
 * first rows of it is a fixed random sample of the training set.
 *
 * @param n Rows.
 * @param seed Seed.
 * @returns The permutation.
 */
export function seededOrder(n: number, seed: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** The rows a kNN evaluation scores, and their clean labels. */
export interface EvaluationRows {
  /** Training rows in the bank: the first of a permutation seeded with {@linkcode EVAL_BANK_SEED}. */
  bankRows: Uint32Array;
  /** Test rows queried: the first ones. */
  queryRows: Uint32Array;
  bankLabels: number[];
  queryLabels: number[];
}

/**
 * The rows `Trainer.evaluate` scores, for scripts that score embeddings or
 * pixels themselves under the same protocol: a bank of `sizes.bank` training
 * rows drawn by a fixed seeded permutation, and the first `sizes.queries`
 * test rows, with their clean labels. Sizes are not checked here: callers
 * check them against their sets.
 *
 * @param train The training set.
 * @param test The test set.
 * @param sizes Bank and query rows.
 * @returns The rows and labels.
 *
 * @example The same bank every time
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluationRows } from "./eval.ts";
 * const set = { images: new Uint8Array(40), rows: 10, width: 4, labels: new Uint8Array(10), cleanLabels: new Uint8Array(10).map((_, i) => i % 2), classes: 2 };
 * const a = evaluationRows(set, set, { bank: 3, queries: 2 });
 * assert.deepEqual(a, evaluationRows(set, set, { bank: 3, queries: 2 }));
 * assert.deepEqual(Array.from(a.queryRows), [0, 1]);
 * assert.deepEqual(a.bankLabels, Array.from(a.bankRows, (r) => r % 2));
 * ```
 */
export function evaluationRows(
  train: LabelledBytes,
  test: LabelledBytes,
  sizes: { bank: number; queries: number },
): EvaluationRows {
  const bankRows = seededOrder(train.rows, EVAL_BANK_SEED).subarray(0, sizes.bank);
  const queryRows = Uint32Array.from({ length: sizes.queries }, (_, i) => i);
  return {
    bankRows,
    queryRows,
    bankLabels: Array.from(bankRows, (r) => train.cleanLabels[r]),
    queryLabels: Array.from(queryRows, (r) => test.cleanLabels[r]),
  };
}

/**
 * Rows of a byte dataset as L2-normalised f32 vectors (bytes/255): raw
 * pixels under the same cosine kNN protocol as embeddings, the trivial
 * baseline an encoder must beat.
 *
 * @param data The dataset.
 * @param rows Row numbers.
 * @returns [rows.length, width] row-major.
 * @throws {TypeError} When `data` is not an object, `data.rows` or `data.width` is not a number, `data.images` is not a
 * Uint8Array, or `rows` is not array-like.
 * @throws {RangeError} When `data.rows` or `data.width` is not an integer >= 1, `data.images` does not hold rows·width
 * bytes, or a row number is out of range.
 *
 * @example Two rows, normalised
 * ```ts
 * import assert from "node:assert/strict";
 * import { pixelEmbeddings } from "./eval.ts";
 * const data = { images: new Uint8Array([3, 4, 0, 9]), rows: 2, width: 2, labels: new Uint8Array(2), cleanLabels: new Uint8Array(2), classes: 2 };
 * assert.deepEqual(pixelEmbeddings(data, [0, 1]), new Float32Array([0.6, 0.8, 0, 1]));
 * ```
 */
export function pixelEmbeddings(data: LabelledBytes, rows: ArrayLike<number>): Float32Array {
  const op = "pixelEmbeddings";
  // What it reads of the dataset, then the row numbers, before anything is allocated.
  checkObject(op, "data", data, "a labelled dataset");
  checkInt(op, "data.rows", data.rows, 1);
  checkInt(op, "data.width", data.width, 1);
  if (!(data.images instanceof Uint8Array)) typeError(op, "data.images", "a Uint8Array", data.images);
  if (data.images.length !== data.rows * data.width) {
    rangeError(op, "data.images.length", `rows·width = ${data.rows * data.width}`, data.images.length);
  }
  checkArrayLike(op, "rows", rows, "an array of row numbers");
  const { width } = data;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (typeof r !== "number" || !Number.isInteger(r) || r < 0 || r >= data.rows) {
      rangeError(op, `rows[${i}]`, `an integer in [0, ${data.rows - 1}]`, r);
    }
  }
  const out = new Float32Array(rows.length * width);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    let sq = 0;
    for (let p = 0; p < width; p++) sq += data.images[r * width + p] ** 2;
    const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
    for (let p = 0; p < width; p++) out[i * width + p] = data.images[r * width + p] * inv;
  }
  return out;
}
