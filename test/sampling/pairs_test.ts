import assert from "node:assert/strict";
import { PairSampler } from "../../src/sampling/pairs.ts";
import { freshSeed, seededRandom } from "../util/random.ts";

Deno.test("every pair shares a label and is two different items (one only when the class has one), over many seeds", () => {
  const random = seededRandom(freshSeed("pairs"));
  for (let trial = 0; trial < 200; trial++) {
    const rows = 2 + Math.floor(random() * 60);
    const classes = 1 + Math.floor(random() * 6);
    const labels = Array.from({ length: rows }, () => Math.floor(random() * classes));
    const pairs = new PairSampler(labels, { batch: 9, seed: trial });
    pairs.sample();
    for (let i = 0; i < 9; i++) {
      const [a, p] = [pairs.anchors[i], pairs.positives[i]];
      assert.ok(a < rows && p < rows);
      assert.equal(labels[p], labels[a]);
      assert.equal(pairs.labels[i], labels[a]);
      const size = labels.filter((y) => y === labels[a]).length;
      // The sampler tries 8 times for another item: in a class of m, p = a survives with probability m⁻⁸.
      if (size >= 10) assert.notEqual(p, a, `class of ${size}`);
      if (size === 1) assert.equal(p, a);
    }
  }
});

Deno.test("anchors are uniform over the rows: each of 10 rows is drawn 1,000 ± 4 sd times in 10,000 draws", () => {
  const pairs = new PairSampler([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], { batch: 100, seed: freshSeed("uniform anchors") });
  const seen = new Array(10).fill(0);
  for (let b = 0; b < 100; b++) {
    pairs.sample();
    for (const a of pairs.anchors) seen[a]++;
  }
  const sd = Math.sqrt(10_000 * 0.1 * 0.9);
  seen.forEach((n, row) => assert.ok(Math.abs(n - 1000) < 4 * sd, `row ${row} drawn ${n} times`));
});

Deno.test("the same seed, or a restored state, gives the same pairs", () => {
  const labels = Array.from({ length: 50 }, (_, i) => i % 7);
  const a = new PairSampler(labels, { batch: 16, seed: 3 });
  const b = new PairSampler(labels, { batch: 16, seed: 3 });
  a.sample();
  b.sample();
  assert.deepEqual([a.anchors, a.positives], [b.anchors, b.positives]);
  const saved = a.state;
  a.sample();
  const next = [a.anchors.slice(), a.positives.slice()];
  a.setState(saved);
  a.sample();
  assert.deepEqual([a.anchors, a.positives], next);
});

Deno.test("bad labels and batch sizes are rejected, naming the argument", () => {
  assert.throws(() => new PairSampler([], { batch: 4 }), /labels must be a non-empty array of labels/);
  assert.throws(
    () => new PairSampler([0, 1.5], { batch: 4 }),
    /labels\[1\] must be an integer >= 0: current value is 1\.5/,
  );
  assert.throws(
    () => new PairSampler([0, 1], { batch: 0 }),
    /options\.batch must be an integer >= 1: current value is 0/,
  );
});
