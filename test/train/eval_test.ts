import assert from "node:assert/strict";
import { knnEvaluate } from "../../src/train/eval.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";

/** Brute force: sort every bank item by similarity, then vote and look. */
function knnRef(bank: Float32Array, bl: number[], qs: Float32Array, ql: number[], dim: number, k: number) {
  let correct = 0;
  const hits = { 1: 0, 5: 0 };
  for (let i = 0; i < ql.length; i++) {
    const order = bl.map((_, j) => {
      let s = 0;
      for (let t = 0; t < dim; t++) s += qs[i * dim + t] * bank[j * dim + t];
      return { j, s };
    }).sort((a, b) => b.s - a.s);
    const votes = new Map<number, [number, number]>();
    for (const { j, s } of order.slice(0, k)) {
      const [c, sum] = votes.get(bl[j]) ?? [0, 0];
      votes.set(bl[j], [c + 1, sum + s]);
    }
    const winner = [...votes].sort((a, b) => b[1][0] - a[1][0] || b[1][1] - a[1][1])[0][0];
    if (winner === ql[i]) correct++;
    for (const r of [1, 5] as const) if (order.slice(0, r).some(({ j }) => bl[j] === ql[i])) hits[r]++;
  }
  return { accuracy: correct / ql.length, recall: { 1: hits[1] / ql.length, 5: hits[5] / ql.length } };
}

Deno.test("knnEvaluate() matches a brute-force sort on random embeddings (37 queries, 211 bank items, D = 7)", () => {
  const random = seededRandom(freshSeed("knn"));
  const [n, q, dim] = [211, 37, 7];
  const bank = uniform(random, n * dim);
  const queries = uniform(random, q * dim);
  const bl = Array.from({ length: n }, () => Math.floor(random() * 4));
  const ql = Array.from({ length: q }, () => Math.floor(random() * 4));
  for (const k of [1, 4, 9]) {
    const got = knnEvaluate(bank, bl, queries, ql, dim, { k });
    const want = knnRef(bank, bl, queries, ql, dim, k);
    assert.equal(got.accuracy, want.accuracy, `k = ${k}`);
    assert.deepEqual(got.recall, want.recall);
  }
  assert.throws(
    () => knnEvaluate(bank, bl, queries, ql, dim, { k: 212 }),
    /options\.k must be an integer in \[1, 211\]/,
  );
  assert.throws(() => knnEvaluate(bank, bl.slice(1), queries, ql, dim), /bank\.length must be bankLabels\.length·dim/);
});
