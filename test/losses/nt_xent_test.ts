import assert from "node:assert/strict";
import { NtXentLoss } from "../../src/losses/nt_xent.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { gaussian } from "../../src/data/random.ts";
import { assertClose, assertFrobenius } from "../util/compare.ts";
import { dot, rowLoss } from "../util/contrast_reference.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom } from "../util/random.ts";

/** 2B unit rows; row i + B is a noisy copy of row i (cosine ≈ 0.6), so the loss has something to find. */
function pairs(seed: number, b: number, d: number): Float32Array {
  const random = seededRandom(seed);
  const z = new Float32Array(2 * b * d);
  for (let i = 0; i < 2 * b; i++) {
    let norm = 0;
    for (let t = 0; t < d; t++) {
      const x = i < b ? gaussian(random) : 0.75 * z[(i - b) * d + t] * Math.sqrt(d) + gaussian(random);
      z[i * d + t] = x;
      norm += x * x;
    }
    for (let t = 0; t < d; t++) z[i * d + t] /= Math.sqrt(norm);
  }
  return z;
}

Deno.test({
  name: "tiled in-batch InfoNCE and ADNCE agree with the materialised loss at 2B = 4,096 (D = 64, 4×4 tiles)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [b, d] = [2048, 64];
    const z = Tensor.from(gpu, pairs(freshSeed("2B=4096"), b, d), [2 * b, d]);
    for (const weighting of ["infonce", "adnce"] as const) {
      const results = [];
      for (const tile of [undefined, 1024]) {
        const loss = new NtXentLoss(gpu, z, { tau: 0.1, weighting, tile });
        loss.run();
        results.push({
          layout: loss.layout,
          rowOutputs: await loss.rowOutputs.read(),
          below: await loss.belowCounts.read(),
          dZ: await loss.dZ.read(),
        });
        loss.destroy();
      }
      const [materialised, tiled] = results;
      assert.deepEqual([materialised.layout, tiled.layout], ["materialised", "tiled"]);
      // Relative 1e-4: per-row loss, η, l_0, LSE; the gradient in the Frobenius norm.
      assertClose(tiled.rowOutputs, materialised.rowOutputs, { rtol: 1e-4, atol: 1e-5 }, `${weighting} row outputs`);
      assertFrobenius(tiled.dZ, materialised.dZ, 1e-4, `${weighting} dZ`);
      const differ = tiled.below.filter((v, i) => v !== materialised.below[i]).length;
      assert.ok(differ <= 2, `${weighting}: ${differ} rows count a different number of negatives below (fp32 ties)`);
    }
    z.destroy();
    gpu.trimPool();
  },
});

Deno.test({
  name: "tiled in-batch InfoNCE runs at 2B = 16,384 × 128-d in far less memory than the 1 GiB score matrix",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [b, d, tau] = [8192, 128, 0.1];
    const r = 2 * b;
    const host = pairs(freshSeed("2B=16384"), b, d);
    gpu.trimPool();
    const baseline = gpu.counters.liveBytes;
    gpu.resetPeak();
    const z = Tensor.from(gpu, host, [r, d]);
    const loss = new NtXentLoss(gpu, z, { tau });
    assert.equal(loss.layout, "tiled");
    const started = performance.now();
    loss.run();
    const readouts = await loss.readReadouts();
    const seconds = (performance.now() - started) / 1000;
    const peak = gpu.counters.peakLiveBytes - baseline;
    const fullMatrix = r * r * 4;
    console.log(
      `2B=${r}, D=${d}, tile ${loss.tile}: ${seconds.toFixed(1)} s, peak live GPU bytes ${peak} ` +
        `(${(peak / 2 ** 20).toFixed(1)} MiB; the score matrix alone would be ${fullMatrix / 2 ** 30} GiB)`,
    );
    assert.ok(peak < fullMatrix / 16, `peak ${peak} bytes is not far below ${fullMatrix}`);
    assert.equal(readouts.negatives, r - 2);

    // Spot checks against float64 on the CPU: the loss of sampled rows, and dZ of sampled rows recomputed from
    // the per-row log-normalisers the GPU reports (whose rows are themselves spot-checked here).
    const rowOutputs = await loss.rowOutputs.read();
    const dZ = await loss.dZ.read();
    const random = seededRandom(1);
    const sampled = Array.from({ length: 6 }, () => Math.floor(random() * r));
    const partner = (i: number) => (i + b) % r;
    const l0 = (i: number) => dot(host, i, host, partner(i), d) / tau;
    for (const i of sampled) {
      const neg: number[] = [];
      for (let k = 0; k < r; k++) if (k !== i && k !== partner(i)) neg.push(dot(host, i, host, k, d));
      const ref = rowLoss({ pos: l0(i) * tau, neg }, tau, { kind: "infonce" });
      assertClose([rowOutputs[4 * i]], [ref.loss], { rtol: 1e-4, atol: 1e-5 }, `loss of row ${i}`);
    }
    // InfoNCE: log Σ_{j≠k} e^{l_kj} = L_k + l0_k, so G_kj = (e^{l_kj - L_k - l0_k} - [j = partner k]) / (τ·2B).
    const logNorm = (k: number) => rowOutputs[4 * k] + rowOutputs[4 * k + 2];
    for (const a of sampled.slice(0, 3)) {
      const expected = new Float64Array(d);
      for (let k = 0; k < r; k++) {
        if (k === a) continue;
        const l = dot(host, a, host, k, d) / tau;
        const pos = k === partner(a) ? 1 : 0;
        const g = (Math.exp(l - logNorm(a)) - pos + Math.exp(l - logNorm(k)) - pos) / (tau * r);
        for (let t = 0; t < d; t++) expected[t] += g * host[k * d + t];
      }
      assertFrobenius(dZ.subarray(a * d, (a + 1) * d), expected, 2e-3, `dZ row ${a}`);
    }
    for (const v of dZ) if (!Number.isFinite(v)) assert.fail(`dZ holds ${v}`);
    loss.destroy();
    z.destroy();
    gpu.trimPool();
  },
});
