import assert from "node:assert/strict";
import { allBatchNegatives, BatchNegativeSampler } from "../../src/sampling/batch_negatives.ts";
import { PairSampler } from "../../src/sampling/pairs.ts";
import { FASHION_MNIST_MERGES, mergeClasses, moduloMerge, syntheticImages } from "../../src/data/dataset.ts";
import { freshSeed } from "../util/random.ts";

Deno.test("the in-batch sampler never returns a row's own positive, respects K_max and the labels, over many seeds", () => {
  for (let seed = 0; seed < 300; seed++) {
    const batch = 2 + (seed % 19); // down to 2 pairs, where the only negative is the other row
    const kMax = 1 + (seed % (batch - 1));
    const exclude = seed % 2 === 1;
    const labels = Array.from({ length: batch }, (_, i) => (i * 5 + seed) % 3);
    const sampler = new BatchNegativeSampler({ batch, kMax, excludeSameLabel: exclude, seed });
    const table = sampler.sample(labels);
    assert.equal(table.length, batch * (kMax + 1));
    for (let i = 0; i < batch; i++) {
      assert.equal(table[i * (kMax + 1)], i);
      const othersDiffer = labels.some((y, j) => j !== i && y !== labels[i]);
      for (let k = 1; k <= kMax; k++) {
        const n = table[i * (kMax + 1) + k];
        assert.ok(n !== i && n < batch, `seed ${seed} row ${i}: negative ${n}`);
        if (exclude && othersDiffer) assert.notEqual(labels[n], labels[i], `seed ${seed} row ${i}: same label`);
      }
    }
  }
});

Deno.test("in-batch tables are reproducible by seed and by restored state; allBatchNegatives lists every other row", () => {
  const labels = Array.from({ length: 64 }, (_, i) => i % 10);
  const a = new BatchNegativeSampler({ batch: 64, kMax: 32, excludeSameLabel: true, seed: 9 });
  const b = new BatchNegativeSampler({ batch: 64, kMax: 32, excludeSameLabel: true, seed: 9 });
  const c = new BatchNegativeSampler({ batch: 64, kMax: 32, excludeSameLabel: true, seed: 10 });
  const first = a.sample(labels);
  assert.deepEqual(first, b.sample(labels));
  assert.notDeepEqual(first, c.sample(labels));
  const saved = a.state;
  const next = a.sample(labels);
  a.setState(saved);
  assert.deepEqual(a.sample(labels), next);
  assert.deepEqual(allBatchNegatives(3), new Uint32Array([0, 1, 2, 1, 0, 2, 2, 0, 1]));
  assert.throws(() => new BatchNegativeSampler({ batch: 8, kMax: 8 }), /options\.kMax must be an integer in \[1, 7\]/);
  assert.throws(() => a.sample([1, 2]), /labels\.length must be batch \(64\) when excludeSameLabel is set/);
});

Deno.test("label-unaware negatives share the anchor's class at rate 1/C (within 3 standard errors), for C = 2, 5, 10", () => {
  const seed = freshSeed("false-negative rate");
  for (const classes of [2, 5, 10]) {
    // 6,000 items of C balanced classes; pairs share a class; negatives are drawn blind to it.
    const labels = Array.from({ length: 6000 }, (_, i) => i % classes);
    const pairs = new PairSampler(labels, { batch: 64, seed });
    const negatives = new BatchNegativeSampler({ batch: 64, kMax: 16, seed: seed + 1 });
    const table = new Uint32Array(64 * 17);
    const rates: number[] = [];
    for (let b = 0; b < 400; b++) {
      pairs.sample();
      negatives.sample(pairs.labels, table);
      let same = 0;
      for (let i = 0; i < 64; i++) {
        for (let j = 1; j <= 16; j++) if (pairs.labels[table[i * 17 + j]] === pairs.labels[i]) same++;
      }
      rates.push(same / (64 * 16));
    }
    const mean = rates.reduce((a, r) => a + r, 0) / rates.length;
    const se = Math.sqrt(rates.reduce((a, r) => a + (r - mean) ** 2, 0) / (rates.length - 1) / rates.length);
    assert.ok(Math.abs(mean - 1 / classes) <= 3 * se, `C = ${classes}: rate ${mean} vs ${1 / classes} (se ${se})`);
  }
});

Deno.test("Fashion-MNIST's merges are balanced (each merged class holds 10/C original classes) and 10 is the identity", () => {
  for (const [c, mapping] of Object.entries(FASHION_MNIST_MERGES)) {
    const counts = new Array(Number(c)).fill(0);
    for (const y of mapping) counts[y]++;
    assert.deepEqual(counts, new Array(Number(c)).fill(10 / Number(c)), `C = ${c}`);
  }
  assert.deepEqual(FASHION_MNIST_MERGES[10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Tops with tops: T-shirt/top (0) and Shirt (6) share a class at C = 5; Sandal (5) and Sneaker (7) too.
  assert.equal(FASHION_MNIST_MERGES[5][0], FASHION_MNIST_MERGES[5][6]);
  assert.equal(FASHION_MNIST_MERGES[5][5], FASHION_MNIST_MERGES[5][7]);
  const merged = mergeClasses(syntheticImages({ rows: 40, classes: 10, side: 2 }), FASHION_MNIST_MERGES[2]);
  assert.equal(merged.classes, 2);
  assert.throws(() => mergeClasses(merged, [0, 0]), /mapping must be at least two merged classes/);
  assert.throws(() => mergeClasses(merged, [0, 2]), /mapping\[1\] must be an integer in \[0, 1\]/);
  assert.throws(() => moduloMerge(10, 3), /into must be a divisor of classes \(10\)/);
});
