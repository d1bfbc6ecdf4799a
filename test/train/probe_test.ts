import assert from "node:assert/strict";
import { gaussian } from "../../src/data/random.ts";
import { linearProbe } from "../../src/train/probe.ts";
import { freshSeed, seededRandom } from "../util/random.ts";

/** n points in `dim` dimensions around one of `classes` random centres (spread `noise`), labels by centre. */
function clusters(random: () => number, n: number, dim: number, classes: number, noise: number, centres?: number[][]) {
  const c = centres ?? Array.from({ length: classes }, () => Array.from({ length: dim }, () => gaussian(random)));
  const labels = Array.from({ length: n }, (_, i) => i % classes);
  const x = new Float32Array(n * dim);
  labels.forEach((y, i) => c[y].forEach((mu, d) => (x[i * dim + d] = mu + noise * gaussian(random))));
  return { x, labels, centres: c };
}

Deno.test("the probe separates Gaussian clusters (7 dims, 5 classes) and stays at chance when features say nothing", () => {
  const random = seededRandom(freshSeed("probe"));
  const train = clusters(random, 600, 7, 5, 0.3);
  const test = clusters(random, 500, 7, 5, 0.3, train.centres);
  const separable = linearProbe(train.x, train.labels, test.x, test.labels, 7, 5);
  assert.ok(separable.accuracy >= 0.95, `held-out accuracy ${separable.accuracy}`);
  // Pure noise features: every held-out prediction is independent of its label.
  const noise = (n: number) => Float32Array.from({ length: n * 7 }, () => gaussian(random));
  const chance = linearProbe(noise(600), train.labels, noise(500), test.labels, 7, 5);
  // Chance is 0.2; 500 held-out rows give a standard deviation of 0.018 around it.
  assert.ok(chance.accuracy < 0.3, `held-out accuracy on features unrelated to the labels: ${chance.accuracy}`);
});

Deno.test("more steps lower the training loss, and the result is the same on every run", () => {
  const random = seededRandom(freshSeed("probe steps"));
  const { x, labels } = clusters(random, 200, 4, 3, 1);
  const short = linearProbe(x, labels, x, labels, 4, 3, { steps: 5 });
  const long = linearProbe(x, labels, x, labels, 4, 3, { steps: 300 });
  assert.ok(long.trainLoss < short.trainLoss, `${short.trainLoss} → ${long.trainLoss}`);
  assert.deepEqual(linearProbe(x, labels, x, labels, 4, 3, { steps: 300 }), long);
});

Deno.test("bad probe inputs are rejected, naming them", () => {
  const x = new Float32Array([0, 1, 1, 0]);
  assert.throws(() => linearProbe(x, [0, 1], x, [0, 2], 2, 2), /testLabels\[1\] must be an integer in \[0, 1\]/);
  assert.throws(() => linearProbe(x, [0], x, [0, 1], 2, 2), /train\.length must be labels·dim = 2/);
  assert.throws(
    () => linearProbe(new Float32Array([NaN, 1, 1, 0]), [0, 1], x, [0, 1], 2, 2),
    /train\[0\] must be finite/,
  );
  assert.throws(() => linearProbe(x, [0, 1], x, [0, 1], 2, 1), /classes must be an integer >= 2/);
});
