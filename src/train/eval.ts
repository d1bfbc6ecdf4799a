/**
 * Evaluation of embeddings by their neighbours: k-nearest-neighbour
 * classification accuracy and recall@k, by cosine similarity (the
 * embeddings are L2-normalised, so a dot product).
 *
 * @module
 */

import { checkInt, rangeError } from "../gpu/check.ts";

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
 * k-NN accuracy and recall@r of `queries` against `bank`.
 *
 * @param bank Bank embeddings, [N, D] row-major.
 * @param bankLabels N labels.
 * @param queries Query embeddings, [Q, D].
 * @param queryLabels Q labels.
 * @param dim D.
 * @param options `k` neighbours that vote (default 10) and the `recallAt` ranks (default [1, 5], those ≤ N).
 * @returns Accuracy and recalls.
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
  options: { k?: number; recallAt?: readonly number[] } = {},
): KnnResult {
  const op = "knnEvaluate";
  checkInt(op, "dim", dim, 1);
  const n = bankLabels.length;
  const q = queryLabels.length;
  if (bank.length !== n * dim) rangeError(op, "bank.length", `bankLabels.length·dim = ${n * dim}`, bank.length);
  if (queries.length !== q * dim) {
    rangeError(op, "queries.length", `queryLabels.length·dim = ${q * dim}`, queries.length);
  }
  const k = options.k ?? 10;
  const recallAt = options.recallAt ?? [1, 5].filter((r) => r <= n);
  checkInt(op, "options.k", k, 1, n);
  recallAt.forEach((r, i) => checkInt(op, `options.recallAt[${i}]`, r, 1, n));
  const depth = Math.max(k, ...recallAt);
  // The `depth` best (similarity, bank row) pairs so far, sorted descending.
  const topSim = new Float64Array(depth);
  const topRow = new Int32Array(depth);
  const votes = new Map<number, { count: number; sum: number }>();
  let correct = 0;
  const hits = recallAt.map(() => 0);
  for (let i = 0; i < q; i++) {
    topSim.fill(-Infinity);
    topRow.fill(-1);
    const qo = i * dim;
    for (let j = 0; j < n; j++) {
      const bo = j * dim;
      let s = 0;
      for (let t = 0; t < dim; t++) s += queries[qo + t] * bank[bo + t];
      if (s <= topSim[depth - 1]) continue;
      let p = depth - 1;
      while (p > 0 && topSim[p - 1] < s) {
        topSim[p] = topSim[p - 1];
        topRow[p] = topRow[p - 1];
        p--;
      }
      topSim[p] = s;
      topRow[p] = j;
    }
    votes.clear();
    for (let p = 0; p < k; p++) {
      const y = bankLabels[topRow[p]];
      const v = votes.get(y) ?? { count: 0, sum: 0 };
      v.count++;
      v.sum += topSim[p];
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
        if (bankLabels[topRow[p]] === queryLabels[i]) {
          hits[ri]++;
          break;
        }
      }
    });
  }
  const recall: Record<number, number> = {};
  recallAt.forEach((r, ri) => (recall[r] = hits[ri] / q));
  return { accuracy: correct / q, recall, queries: q, bank: n };
}
