import assert from "node:assert/strict";
import { bestK, modelAccuracyFromCounts } from "../../src/schedule/theory.ts";
import { ansSchedule, closedLoopK, fixedK } from "../../src/schedule/schedules.ts";

Deno.test("schedules: fixed, ANS ramp-hold-decay, and a closed loop that follows the model's accuracy", () => {
  assert.equal(fixedK(7).next({ step: 5, totalSteps: 10 }), 7);
  const ans = ansSchedule({ kStar: 9, warmup: 0.2, decayStart: 0.8, decayTo: 1 });
  const ks = Array.from({ length: 101 }, (_, step) => ans.next({ step, totalSteps: 100 }));
  assert.equal(ks[0], 1);
  assert.equal(ks[20], 9);
  assert.equal(ks[50], 9);
  assert.equal(ks[100], 1);
  ks.slice(0, 21).forEach((k, i) => i > 0 && assert.ok(k >= ks[i - 1]));
  // Closed loop at λ = 0.95: counts from a weak model (μ = 0.5) settle K at that model's K*; a strong one (μ = 0.97)
  // drives K up toward the limit value 6, by at most 2 per update.
  const loop = closedLoopK({ lambda: 0.95, kMax: 32, every: 10, smoothing: 1, maxChange: 2 });
  const counts = (mu: number) => ({ below: new Uint32Array(100).fill(Math.round(mu * 64)), kNow: 64 });
  // The loop smooths each row's accuracy with one pseudo-count per side (its default).
  const target = (mu: number) => bestK(0.95, modelAccuracyFromCounts(counts(mu).below, 64, 32, 1));
  let k = 1;
  for (let step = 0; step <= 50; step++) k = loop.next({ step, totalSteps: 1000, counts: counts(0.5) });
  assert.equal(k, target(0.5), "weak model");
  const seen = [k];
  for (let step = 60; step <= 200; step += 10) {
    seen.push(k = loop.next({ step, totalSteps: 1000, counts: counts(0.97) }));
  }
  seen.forEach((x, i) => i > 0 && assert.ok(Math.abs(x - seen[i - 1]) <= 2, `bounded change: ${seen}`));
  assert.equal(k, target(0.97), "strong model");
  assert.ok(target(0.5) < target(0.97), `K* rises as the model learns: ${target(0.5)} → ${target(0.97)}`);
});

Deno.test("the closed loop leaves K = 1 when the model is good enough, which raw counts at K = 1 cannot show", () => {
  // At K = 1 every raw f_i is 0 or 1, so P̂(B|K) is flat in K and K* ties at 1 forever.
  const below = Uint32Array.from({ length: 100 }, (_, i) => (i < 90 ? 1 : 0));
  assert.equal(bestK(1, modelAccuracyFromCounts(below, 1, 16)), 1);
  assert.equal(bestK(1, modelAccuracyFromCounts(below, 1, 16, 1)), 16);
  const loop = closedLoopK({ lambda: 1, kMax: 16, every: 1, smoothing: 1, maxChange: 3 });
  let k = 1;
  for (let step = 1; step <= 3; step++) k = loop.next({ step, totalSteps: 100, counts: { below, kNow: 1 } });
  assert.equal(k, 10, "three bounded moves of 3 from 1");
  assert.deepEqual(loop.state, [10, 16]);
  assert.throws(() => loop.setState([0, 1]), /closedLoopK\.setState as state must be \[k in 1\.\.16, smoothed K\]/);
});

Deno.test("the closed loop with estimated λ moves λ toward λ̂ of the counts and saves it in its state", () => {
  // Counts of a model that ranks true negatives right and false ones at chance: λ̂ = 0.8 at K = 10.
  const below = new Array(100).fill(9);
  const loop = closedLoopK({ lambda: 1, kMax: 16, every: 1, smoothing: 0.5, maxChange: 16, estimateLambda: true });
  for (let step = 1; step <= 6; step++) loop.next({ step, totalSteps: 100, counts: { below, kNow: 10 } });
  const [, , lambda] = loop.state as number[];
  assert.ok(Math.abs(lambda - 0.8) < 0.01, `λ after 6 updates: ${lambda}`);
  const copy = closedLoopK({ lambda: 1, kMax: 16, every: 1, smoothing: 0.5, maxChange: 16, estimateLambda: true });
  copy.setState(loop.state);
  const input = { step: 7, totalSteps: 100, counts: { below, kNow: 10 } };
  assert.equal(copy.next(input), loop.next(input), "a restored loop continues alike");
  assert.throws(() => copy.setState([1, 1]), /state must be/);
});
