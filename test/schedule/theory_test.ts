import assert from "node:assert/strict";
import {
  bestK,
  effectiveness,
  lambdaFromClasses,
  lambdaFromCounts,
  lambdaFromLabelNoise,
  modelAccuracyFromCounts,
  pairwiseAccuracy,
} from "../../src/schedule/theory.ts";
import { assertClose } from "../util/compare.ts";
import { freshSeed, seededRandom } from "../util/random.ts";
import { gaussian } from "../../src/data/random.ts";

Deno.test("F(K) and K* reproduce the values of docs/science.md §3", () => {
  // F(1..4) at λ = μ = 0.9, to the three decimals docs/science.md §3 gives.
  const f = effectiveness(0.9, pairwiseAccuracy(0.9, 4));
  assert.deepEqual(f.map((x) => Number(x.toFixed(3))), [0.08, 0.118, 0.124, 0.107]);
  assert.equal(bestK(0.9, pairwiseAccuracy(0.9, 64)), 3);
  assert.equal(bestK(0.95, pairwiseAccuracy(0.95, 64)), 6);
  assert.equal(bestK(0.8, pairwiseAccuracy(0.9, 64)), 1);
  // The μ → 1 limit: F/(1 − μ) → K(2λ^K − 1), maximised at K = 3 (λ = 0.9) and 6 (λ = 0.95).
  for (const [lambda, k] of [[0.9, 3], [0.95, 6]]) {
    assert.equal(bestK(lambda, pairwiseAccuracy(1 - 1e-9, 64)), k, `μ → 1 at λ = ${lambda}`);
    const limit = Array.from({ length: 64 }, (_, i) => (i + 1) * (2 * lambda ** (i + 1) - 1));
    assert.equal(limit.indexOf(Math.max(...limit)) + 1, k);
  }
});

Deno.test("K* never decreases as λ or μ grows", () => {
  const grid = Array.from({ length: 40 }, (_, i) => 0.6 + i * 0.0099);
  for (const mu of grid) {
    const ks = grid.map((lambda) => bestK(lambda, pairwiseAccuracy(mu, 256)));
    ks.forEach((k, i) => i > 0 && assert.ok(k >= ks[i - 1], `λ ↑ at μ=${mu}: ${ks}`));
  }
  for (const lambda of grid) {
    const ks = grid.map((mu) => bestK(lambda, pairwiseAccuracy(mu, 256)));
    ks.forEach((k, i) => i > 0 && assert.ok(k >= ks[i - 1], `μ ↑ at λ=${lambda}: ${ks}`));
  }
});

Deno.test("P̂(B|K) from rank counts equals the closed form on synthetic score distributions", () => {
  const random = seededRandom(freshSeed("rank counts"));
  // Independent pairs: each negative is below the positive with probability μ, so P(B|K) = μ^K.
  const [rows, kNow, mu] = [2000, 1024, 0.85];
  const independent = Uint32Array.from({ length: rows }, () => {
    let below = 0;
    for (let j = 0; j < kNow; j++) below += random() < mu ? 1 : 0;
    return below;
  });
  // f_i^K overestimates μ^K by the binomial spread, about K(K-1)/2·μ^(K-2)·μ(1-μ)/K_now: 0.0013 at K = 8, K_now = 1024.
  assertClose(modelAccuracyFromCounts(independent, kNow, 8), pairwiseAccuracy(mu, 8), { rtol: 0, atol: 0.02 }, "μ^K");
  // A shared positive: s_0 ~ N(1, 1), negatives ~ N(0, 1), so P(B|K) = E[Φ(s_0)^K], integrated numerically.
  const wide = 512;
  const shared = Uint32Array.from({ length: rows }, () => {
    const s0 = 1 + gaussian(random);
    let below = 0;
    for (let j = 0; j < wide; j++) below += gaussian(random) < s0 ? 1 : 0;
    return below;
  });
  const phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
  const closed = Array.from({ length: 8 }, (_, i) => {
    let s = 0;
    for (let x = -8; x <= 10; x += 0.001) s += phi(x) ** (i + 1) * Math.exp(-((x - 1) ** 2) / 2) * 0.001;
    return s / Math.sqrt(2 * Math.PI);
  });
  assertClose(modelAccuracyFromCounts(shared, wide, 8), closed, { rtol: 0, atol: 0.02 }, "E[Φ(s0)^K]");
});

/** Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), enough for a 0.02 tolerance. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
      Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

Deno.test("λ helpers: class collision and label-aware negatives under symmetric noise", () => {
  assert.equal(lambdaFromClasses(10), 0.9);
  assert.equal(lambdaFromLabelNoise(10, 0), 1);
  // Simulate: anchor and negative true classes uniform, labels flipped with probability r to another class.
  const random = seededRandom(3);
  const [c, r] = [5, 0.3];
  const noisy = (t: number) => (random() < r ? (t + 1 + Math.floor(random() * (c - 1))) % c : t);
  let differ = 0;
  let sameClass = 0;
  for (let i = 0; i < 400000; i++) {
    const ta = Math.floor(random() * c);
    const tn = Math.floor(random() * c);
    if (noisy(ta) !== noisy(tn)) {
      differ++;
      if (ta === tn) sameClass++;
    }
  }
  assertClose([lambdaFromLabelNoise(c, r)], [1 - sameClass / differ], { rtol: 0, atol: 0.003 }, "λ by simulation");
});

Deno.test("λ̂ from rank counts recovers λ when false negatives tie the positive and true ones never win, and is 2λε low when they win with probability ε", () => {
  const random = seededRandom(freshSeed("lambda estimate"));
  const K = 32;
  for (const lambda of [0.5, 0.8, 0.9]) {
    for (const eps of [0, 0.05]) {
      // Per row: F ~ Bin(K, 1 − λ) false negatives, each as likely as the positive to rank first (the positive's
      // rank among them is uniform); each true negative beats the positive with probability ε.
      const below = Array.from({ length: 20_000 }, () => {
        let f = 0;
        for (let k = 0; k < K; k++) if (random() > lambda) f++;
        let above = Math.floor(random() * (f + 1));
        for (let k = 0; k < K - f; k++) if (random() < eps) above++;
        return K - above;
      });
      const expected = lambda - 2 * lambda * eps;
      // 20,000 rows: the estimate's standard error is about 0.003 here.
      assertClose([lambdaFromCounts(below, K)], [expected], { rtol: 0, atol: 0.012 }, `λ ${lambda}, ε ${eps}`);
    }
  }
});
