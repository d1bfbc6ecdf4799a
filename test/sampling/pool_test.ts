import assert from "node:assert/strict";
import { PoolSampler } from "../../src/sampling/pool.ts";

Deno.test("the pool sampler never returns the positive as a negative, over many seeds", () => {
  for (let seed = 0; seed < 300; seed++) {
    const items = 2 + (seed % 17); // pools down to 2 items, where every negative is the one other item
    const sampler = new PoolSampler({ items, kMax: 9, seed });
    const positives = Array.from({ length: 13 }, (_, i) => (i * 7 + seed) % items);
    const table = sampler.sample(positives);
    for (let i = 0; i < positives.length; i++) {
      assert.equal(table[i * 10], positives[i]);
      for (let j = 1; j <= 9; j++) {
        const n = table[i * 10 + j];
        assert.ok(n !== positives[i] && n < items, `seed ${seed} row ${i}: negative ${n}, positive ${positives[i]}`);
      }
    }
  }
});

Deno.test("label-aware sampling never draws the positive's label, and the table holds exactly K_max negatives", () => {
  const labels = Array.from({ length: 50 }, (_, i) => i % 5);
  for (let seed = 0; seed < 100; seed++) {
    const sampler = new PoolSampler({ items: 50, kMax: 6, labels, excludeSameLabel: true, seed });
    const positives = Array.from({ length: 11 }, (_, i) => (i * 13 + seed) % 50);
    const table = sampler.sample(positives);
    assert.equal(table.length, 11 * 7);
    positives.forEach((p, i) => {
      for (let j = 1; j <= 6; j++) assert.notEqual(labels[table[i * 7 + j]], labels[p]);
    });
  }
});

Deno.test("the same seed (or a restored state) gives the same tables; another seed does not", () => {
  const a = new PoolSampler({ items: 1000, kMax: 8, seed: 42 });
  const b = new PoolSampler({ items: 1000, kMax: 8, seed: 42 });
  const c = new PoolSampler({ items: 1000, kMax: 8, seed: 43 });
  const positives = [1, 2, 3, 4];
  const first = a.sample(positives);
  assert.deepEqual(first, b.sample(positives));
  assert.notDeepEqual(first, c.sample(positives));
  const saved = a.state;
  const next = a.sample(positives);
  a.setState(saved);
  assert.deepEqual(a.sample(positives), next);
  assert.throws(() => a.sample([1000]), /positives\[0\] must be an integer in \[0, 999\]: current value is 1000/);
  assert.throws(
    () => new PoolSampler({ items: 4, kMax: 2, labels: [1, 1, 1, 1], excludeSameLabel: true }),
    /options\.labels must be at least two distinct labels/,
  );
});
