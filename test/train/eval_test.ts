import assert from "node:assert/strict";
import { DeviceDataset, syntheticImages } from "../../src/data/dataset.ts";
import { mlp } from "../../src/nn/sequential.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { Embedder } from "../../src/train/embedder.ts";
import { knnEvaluate, seededOrder } from "../../src/train/eval.ts";
import { assertClose } from "../util/compare.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { activationRef, l2normRef, linearRef } from "../util/nn_reference.ts";
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

Deno.test({
  name: "Embedder embeds 23 rows in chunks of 5 (a short last chunk) as a float64 forward of the same MLP",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const host = syntheticImages({ rows: 30, side: 3, seed: freshSeed("embedder") });
    const data = new DeviceDataset(gpu, host);
    const store = new ParameterStore(gpu, { seed: 2 });
    const encoder = mlp(store, [9, 7, 5], { activation: "tanh" });
    store.build();
    const rows = Array.from({ length: 23 }, (_, i) => (7 * i) % 30);
    const embedder = new Embedder(gpu, encoder, { data }, { chunk: 5 });
    const z = await embedder.embed("data", rows);
    const p = await store.params.read();
    const at = (name: string) => p.subarray(store.slot(name).offset, store.slot(name).offset + store.slot(name).size);
    const x = Float64Array.from(
      rows.flatMap((r) => Array.from(host.images.subarray(r * 9, r * 9 + 9), (b) => b / 255)),
    );
    const h = linearRef(x, at("mlp.0.weight"), at("mlp.0.bias"), 23, 9, 7).map((v) => activationRef("tanh", v));
    const expected = l2normRef(linearRef(h, at("mlp.1.weight"), at("mlp.1.bias"), 23, 7, 5), 23, 5);
    assertClose(z, expected, { rtol: 1e-4, atol: 1e-6 }, "embeddings"); // fp32 forward against float64
    await assert.rejects(
      embedder.embed("data", [30]),
      /rows\[0\] must be an integer in \[0, 29\]: current value is 30/,
    );
    embedder.destroy();
    data.destroy();
    store.destroy();
  },
});

Deno.test("seededOrder() is a permutation, the same for the same seed", () => {
  const order = seededOrder(1000, 12345);
  assert.deepEqual(Array.from(order).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(seededOrder(1000, 12345), order);
  assert.notDeepEqual(seededOrder(1000, 1), order);
});
