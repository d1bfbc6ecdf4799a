import assert from "node:assert/strict";
import { Tensor } from "../../src/gpu/tensor.ts";
import { NtXentLoss } from "../../src/losses/nt_xent.ts";
import { SampledContrastiveLoss } from "../../src/losses/sampled.ts";
import { type NegativeWeighting, weightingParams } from "../../src/losses/weighting.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";

// Options valid as numbers but not representable where the kernel computes with them (in f32).
const UNREPRESENTABLE: [string, { tau?: number; weighting?: NegativeWeighting }, RegExp][] = [
  ["τ = 1e-39: 1/τ is past f32", { tau: 1e-39 }, /options\.tau must be in \[2\.00e-37, 8\.51e\+37\]/],
  ["τ = 1e38: 1/τ is below the normal f32", { tau: 1e38 }, /options\.tau must be in .*current value is 1e\+38/],
  ["HCL β = 10 at τ = 1e-36: (1 + β)/τ is past the log-term range", {
    tau: 1e-36,
    weighting: { kind: "hcl", beta: 10 },
  }, /options\.tau must be in \[2\.20e-36/],
  [
    "HCL β = 1e39",
    { weighting: { kind: "hcl", beta: 1e39 } },
    /options\.weighting\.beta must be in \[0\.00, 3\.40e\+38\]/,
  ],
  ["τ+ = 0.99999999: 1 − τ+ is 0 in f32", {
    weighting: { kind: "dcl", tauPlus: 0.99999999 },
  }, /options\.weighting\.tauPlus must be in \[0\.00, 1\.00\] \(1 − τ\+ > 0 in f32\): current value is 0\.99999999/],
  ["ADNCE σ = 1e-30: 1/(2σ²) is past f32", {
    weighting: { kind: "adnce", sigma: 1e-30 },
  }, /options\.weighting\.sigma must be in \[6\.32e-19/],
  [
    "ADNCE μ = 5: not a cosine",
    { weighting: { kind: "adnce", mu: 5 } },
    /options\.weighting\.mu must be in \[-1\.00, 1\.00\]/,
  ],
];

Deno.test({
  name: "options that f32 cannot carry into the kernel throw a RangeError naming them, before any GPU work",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const q = Tensor.zeros(gpu, [4, 8]);
    const c = Tensor.zeros(gpu, [6, 8]);
    for (const [label, options, message] of UNREPRESENTABLE) {
      const before = { ...gpu.counters };
      assert.throws(() => new SampledContrastiveLoss(gpu, q, c, { kMax: 2, ...options }), message, label);
      assert.throws(() => new NtXentLoss(gpu, q, options), message, `${label} (NT-Xent)`);
      assert.equal(gpu.counters.buffersAllocated, before.buffersAllocated, `${label}: allocated`);
    }
    q.destroy();
    c.destroy();
  },
});

Deno.test({
  name: "the extremes the kernel accepts give finite losses and gradients: τ = 2e-37 and σ = 6.4e-19",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const q = Tensor.from(gpu, new Float32Array([1, 0, 0, 1]), [2, 2]);
    const c = Tensor.from(gpu, new Float32Array([1, 0, 0, 1, -1, 0]), [3, 2]);
    const indices = [0, 1, 2, 1, 0, 2];
    for (const options of [{ tau: 2e-37 }, { weighting: { kind: "adnce", sigma: 6.4e-19 } as const }]) {
      const loss = new SampledContrastiveLoss(gpu, q, c, { kMax: 2, indices, ...options });
      loss.run();
      const { meanLoss } = await loss.readReadouts();
      assert.ok(Number.isFinite(meanLoss), `${JSON.stringify(options)}: loss ${meanLoss}`);
      assert.ok((await loss.dQ.read()).every(Number.isFinite), `${JSON.stringify(options)}: dQ finite`);
      loss.destroy();
    }
    q.destroy();
    c.destroy();
  },
});

Deno.test("weightingParams() keeps the f32 limits of σ → ∞ (InfoNCE) and τ+ = 0 (InfoNCE's debiasing off)", () => {
  assert.equal(weightingParams("test", { kind: "adnce", sigma: 1e200 }).invTwoSigma2, 1 / (2 * 1e400));
  assert.equal(weightingParams("test", { kind: "dcl", tauPlus: 0 }).tauPlus, 0);
});
