import assert from "node:assert/strict";
import { Tensor } from "../../src/gpu/tensor.ts";
import { gpuNeighbours, hostNeighbours, KNN_CANDIDATES, topCandidates } from "../../src/ops/knn.ts";
import { knnEvaluate, knnEvaluateOnGpu } from "../../src/train/eval.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom, uniform, unitRows } from "../util/random.ts";

/** The reference: every column scored in float64 (t = 0..D−1), sorted by score descending, then column ascending. */
function sortedNeighbours(bank: Float32Array, queries: Float32Array, dim: number, depth: number) {
  const n = bank.length / dim;
  const q = queries.length / dim;
  const rows: number[] = [];
  const sims: number[] = [];
  for (let i = 0; i < q; i++) {
    const scored = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let t = 0; t < dim; t++) s += queries[i * dim + t] * bank[j * dim + t];
      return { j, s };
    });
    scored.sort((a, b) => b.s - a.s || a.j - b.j);
    for (const { j, s } of scored.slice(0, depth)) rows.push(j), sims.push(s);
  }
  return { rows, sims };
}

/**
 * Entries at or above the kernel's floor, the pool it ranks: the 32nd largest of 64 group maxima, thread t's
 * groups being the x, y and the z, w components of vec4s t, t + 32, … (shaders/knn.wgsl).
 */
function pooledAtFloor(row: Float32Array): number {
  const threads = 32; // WG in src/ops/knn.ts
  const maxima = new Array(2 * threads).fill(-3.4e38);
  row.forEach((v, j) => {
    const g = (Math.floor(j / 4) % threads) + (j % 4 < 2 ? 0 : threads);
    maxima[g] = Math.max(maxima[g], v);
  });
  const floor = maxima.sort((a, b) => b - a)[KNN_CANDIDATES - 1];
  return row.filter((v) => v >= floor).length;
}

Deno.test({
  name: "topCandidates() keeps each row's 32 largest, ties by lower column, on the rank path (pools ≤ 256) and the " +
    "merge path (7 rows × 1031 and 5 × 1032, distinct values, a 41-level and a 2-level grid; n = 5 and 8), and with " +
    "every row forced down either path; padding columns skipped; widths that are not a multiple of 4 refused",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("knn candidates"));
    const rankPool = 256; // RANK_POOL in shaders/knn.wgsl
    const paths = { rank: 0, merge: 0 };
    for (const levels of [0, 40, 1]) {
      // Also 33 to 65 columns: between M and 2·WG some of the 64 groups are empty, the floor may be the lowest value.
      for (const [rows, n] of [[7, 1031], [3, 5], [5, 1032], [2, 8], [2, 33], [2, 47], [2, 63], [2, 64], [2, 65]]) {
        // On a grid many values are exactly equal, so the tie order is exercised; 2 levels put about half of a
        // row at the floor, past the rank path's pool.
        const values = Float32Array.from(
          { length: rows * n },
          () => levels === 0 ? random() * 2 - 1 : Math.round(random() * levels) / 8,
        );
        for (let r = 0; r < rows; r++) {
          paths[pooledAtFloor(values.subarray(r * n, (r + 1) * n)) <= rankPool ? "rank" : "merge"]++;
        }
        // Rows padded to a multiple of 4 columns with values above every real one: the kernel must skip them.
        const width = Math.ceil(n / 4) * 4;
        const padded = new Float32Array(rows * width).fill(100);
        for (let r = 0; r < rows; r++) padded.set(values.subarray(r * n, (r + 1) * n), r * width);
        const sims = Tensor.from(gpu, padded, [rows, width]);
        const idx = Tensor.empty(gpu, [rows, KNN_CANDIDATES], "u32");
        const sim = Tensor.empty(gpu, [rows, KNN_CANDIDATES]);
        // The default, every row forced down the merge path (0), and every row ranked that fits the pool's slots.
        for (const forced of [undefined, 0, 1024]) {
          idx.fill(0xfffffffe); // poisoned: a row the forced path leaves unwritten cannot pass on the last run's values
          sim.fill(NaN);
          const work = topCandidates(gpu, sims, idx, sim, n, { rankPool: forced });
          runSteps(gpu, work);
          work.destroy();
          const [gotIdx, gotSim] = [await idx.read(), await sim.read()];
          for (let r = 0; r < rows; r++) {
            const order = Array.from({ length: n }, (_, j) => j)
              .sort((a, b) => values[r * n + b] - values[r * n + a] || a - b)
              .slice(0, KNN_CANDIDATES);
            const kept = Math.min(n, KNN_CANDIDATES);
            // Exact: the kernel only compares the fp32 values it is given.
            assert.deepEqual(Array.from(gotIdx.subarray(r * KNN_CANDIDATES, r * KNN_CANDIDATES + kept)), order);
            assert.deepEqual(
              Array.from(gotSim.subarray(r * KNN_CANDIDATES, r * KNN_CANDIDATES + kept)),
              order.map((j) => values[r * n + j]),
            );
            for (let p = kept; p < KNN_CANDIDATES; p++) assert.equal(gotIdx[r * KNN_CANDIDATES + p], 0xffffffff);
          }
        }
        [sims, idx, sim].forEach((t) => t.destroy());
      }
    }
    const [idx, sim] = [Tensor.empty(gpu, [1, KNN_CANDIDATES], "u32"), Tensor.empty(gpu, [1, KNN_CANDIDATES])];
    const shared = Tensor.zeros(gpu, [2, 64]); // a 64-column row of sims and, 256 bytes on, the candidates' slot
    assert.throws(
      () => topCandidates(gpu, shared.view(0, [1, 32]), idx, shared.view(64, [1, KNN_CANDIDATES])),
      /candSim.*another buffer than sims/,
    );
    shared.destroy();
    const row = Tensor.empty(gpu, [1, 8]);
    for (const bad of [-1, 1025, 2.5]) {
      assert.throws(() => topCandidates(gpu, row, idx, sim, 8, { rankPool: bad }), /rankPool/);
    }
    row.destroy();
    const odd = Tensor.empty(gpu, [1, 5]);
    assert.throws(() => topCandidates(gpu, odd, idx, sim), /sims\.shape.*multiple of 4/);
    const even = Tensor.empty(gpu, [1, 8]);
    assert.throws(() => topCandidates(gpu, even, idx, sim, 9), /columns.*9/);
    [idx, sim, odd, even].forEach((t) => t.destroy());
    // Both of the kernel's paths ran (the 2-level rows of 1031 columns pool about 515 entries).
    assert.ok(paths.rank > 0 && paths.merge >= 12, JSON.stringify(paths));
  },
});

Deno.test({
  name: "gpuNeighbours() equals the float64 sort exactly (123 queries × 1031 bank rows, D = 29, depth 10; N = 7)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("knn neighbours"));
    for (const [q, n, dim, depth] of [[123, 1031, 29, 10], [9, 7, 3, 7]]) {
      const bank = unitRows(uniform(random, n * dim), dim);
      const queries = unitRows(uniform(random, q * dim), dim);
      const want = sortedNeighbours(bank, queries, dim, depth);
      const got = await gpuNeighbours(gpu, bank, queries, dim, depth);
      assert.deepEqual(Array.from(got.rows), want.rows);
      assert.deepEqual(Array.from(got.sims), want.sims);
      assert.equal(got.hostScans, 0, "random unit rows at depth 10 have no near-ties: every query settled on the GPU");
      const host = hostNeighbours(bank, queries, dim, depth);
      assert.deepEqual(Array.from(host.rows), want.rows);
      assert.deepEqual(Array.from(host.sims), want.sims);
    }
  },
});

Deno.test({
  name:
    "gpuNeighbours() with 200 duplicates of the query's nearest row and near-ties 1 ulp apart: the host's lowest rows",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("knn ties"));
    const [n, dim] = [600, 8];
    const bank = unitRows(uniform(random, n * dim), dim);
    const query = bank.slice(0, dim);
    // Rows 100..299 are exact copies of the query's direction, rows 300..399 the same nudged by one ulp in one
    // coordinate: far more than 32 candidates tie or nearly tie at the top.
    for (let j = 100; j < 400; j++) bank.set(query, j * dim);
    for (let j = 300; j < 400; j++) {
      const x = bank.subarray(j * dim, (j + 1) * dim);
      const t = j % dim;
      x[t] = new Float32Array([x[t] * (1 + 2 ** -23)])[0];
    }
    const queries = new Float32Array([...query, ...bank.slice(5 * dim, 6 * dim)]);
    for (const depth of [1, 10, 32]) {
      const want = sortedNeighbours(bank, queries, dim, depth);
      const got = await gpuNeighbours(gpu, bank, queries, dim, depth);
      assert.deepEqual(Array.from(got.rows), want.rows);
      assert.deepEqual(Array.from(got.sims), want.sims);
      // The first query cannot be settled from 32 fp32 candidates (its cut sits inside the ties): scanned on the host.
      assert.ok(got.hostScans >= 1, `hostScans ${got.hostScans}`);
    }
  },
});

Deno.test({
  name: "gpuNeighbours() equals the float64 sort across sub-blocks and submits (700 queries in submits of 320, " +
    "sub-blocks of 128 and 64 rows × 1031 bank rows), and refuses bad options and non-finite values by name",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("knn blocks"));
    const [q, n, dim, depth] = [700, 1031, 13, 10];
    const bank = unitRows(uniform(random, n * dim), dim);
    const queries = unitRows(uniform(random, q * dim), dim);
    const want = sortedNeighbours(bank, queries, dim, depth);
    // 128 rows × 1032 columns of scratch: each submit of 320 (then 60, padded to 64) queries runs in sub-blocks.
    const options = { scratchBytes: 128 * 1032 * 4, queriesPerSubmit: 320 };
    const got = await gpuNeighbours(gpu, bank, queries, dim, depth, options);
    assert.deepEqual(Array.from(got.rows), want.rows);
    assert.deepEqual(Array.from(got.sims), want.sims);
    assert.equal(
      got.hostScans,
      0,
      "settled on the GPU: the sub-blocks' candidates were right, not rescued by the host",
    );
    for (
      const [bad, pattern] of [
        [{ scratchBytes: 0 }, /options\.scratchBytes.*0/],
        [{ queriesPerSubmit: 100 }, /options\.queriesPerSubmit.*multiple of 64.*100/],
        [{ queriesPerSubmit: 32 }, /options\.queriesPerSubmit.*32/],
      ] as const
    ) {
      await assert.rejects(() => gpuNeighbours(gpu, bank, queries, dim, depth, bad), pattern);
    }
    // Non-finite values would rank differently on the host and the GPU: refused by name, on both.
    const poisoned = bank.slice();
    poisoned[17] = NaN;
    await assert.rejects(() => gpuNeighbours(gpu, poisoned, queries, dim, depth), /bank\[17\].*finite.*NaN/);
    assert.throws(() => hostNeighbours(bank, queries.map((v, i) => i === 5 ? Infinity : v), dim, 1), /queries\[5\]/);
  },
});

Deno.test({
  name: "gpuNeighbours() on rows too large for fp32 dot products (norms 1e16) scans on the host, with the same answer",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("knn large"));
    const dim = 5;
    const bank = uniform(random, 50 * dim, 1e16);
    const queries = uniform(random, 4 * dim, 1e16);
    const got = await gpuNeighbours(gpu, bank, queries, dim, 3);
    assert.equal(got.hostScans, 4);
    assert.deepEqual(Array.from(got.rows), sortedNeighbours(bank, queries, dim, 3).rows);
  },
});

Deno.test({
  name: "knnEvaluateOnGpu() returns knnEvaluate's result on clustered embeddings (k = 1, 10, 25; recall@1, 5, 32)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("knn evaluate"));
    const [n, q, dim, classes] = [1500, 301, 16, 7];
    const centres = uniform(random, classes * dim);
    const embed = (count: number) => {
      const labels = Array.from({ length: count }, () => Math.floor(random() * classes));
      const x = new Float32Array(count * dim);
      labels.forEach((y, i) => {
        for (let t = 0; t < dim; t++) x[i * dim + t] = centres[y * dim + t] + 2.5 * (random() - 0.5);
      });
      return { x: unitRows(x, dim), labels };
    };
    const bank = embed(n);
    const queries = embed(q);
    for (const options of [{ k: 1 }, { k: 10 }, { k: 25, recallAt: [1, 5, 32] }]) {
      const host = knnEvaluate(bank.x, bank.labels, queries.x, queries.labels, dim, options);
      const onGpu = await knnEvaluateOnGpu(gpu, bank.x, bank.labels, queries.x, queries.labels, dim, options);
      assert.deepEqual(onGpu, host);
      assert.ok(host.accuracy > 0.3 && host.accuracy < 1, `accuracy ${host.accuracy}: neither trivial nor perfect`);
    }
    const args = [bank.x, bank.labels, queries.x, queries.labels, dim] as const;
    await assert.rejects(() => knnEvaluateOnGpu(gpu, ...args, { k: 33 }), /knnEvaluateOnGpu as options\.k must be/);
    await assert.rejects(
      () => knnEvaluateOnGpu(gpu, ...args, { k: 3, recallAt: [40] }),
      /knnEvaluateOnGpu as options\.recallAt must be an integer in \[1, 32\]/,
    );
    await assert.rejects(() => knnEvaluateOnGpu(null as never, ...args), /knnEvaluateOnGpu as gpu must be/);
  },
});
