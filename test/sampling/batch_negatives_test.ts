import assert from "node:assert/strict";
import { allBatchNegatives, BatchNegativeSampler } from "../../src/sampling/batch_negatives.ts";

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
