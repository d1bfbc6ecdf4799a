import { Tensor } from "../../src/gpu/tensor.ts";
import { l2normBackward, l2normForward } from "../../src/ops/l2norm.ts";
import { assertClose, assertFrobenius } from "../util/compare.ts";
import { centralDifferences } from "../util/contrast_reference.ts";
import { l2normRef, weightedSum } from "../util/nn_reference.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";

Deno.test({
  name: "l2normForward() matches float64 and l2normBackward() matches finite differences at 67 rows × 33",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("l2norm"));
    const [rows, d] = [67, 33];
    const h32 = uniform(random, rows * d, 2);
    const r = uniform(random, rows * d);
    const h = Tensor.from(gpu, h32, [rows, d]);
    const z = Tensor.from(gpu, new Float32Array(rows * d).fill(NaN), [rows, d]);
    const norms = Tensor.empty(gpu, [rows]);
    const dZ = Tensor.from(gpu, r, [rows, d]);
    const dH = Tensor.from(gpu, new Float32Array(rows * d).fill(NaN), [rows, d]);
    const steps = [l2normForward(gpu, h, z, norms), l2normBackward(gpu, z, norms, dZ, dH)];
    runSteps(gpu, ...steps);
    const h64 = Float64Array.from(h32);
    // Forward 1e-4 relative per element (with a 1e-7 floor for values near 0).
    assertClose(await z.read(), l2normRef(h64, rows, d), { rtol: 1e-4, atol: 1e-7 }, "z");
    const fd = centralDifferences(() => weightedSum(l2normRef(h64, rows, d), r), h64);
    assertFrobenius(await dH.read(), fd, 2e-3, "dH"); // gradient: 2e-3 relative (Frobenius)
    steps.forEach((s) => s.destroy());
    [h, z, norms, dZ, dH].forEach((t) => t.destroy());
  },
});

Deno.test({
  name: "rows whose squared norm is past f32 normalise right: [2e19] → [1] with norm 2e19, and [1e20, 1, 1]",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    // Rows 0–2: Σh² overflows f32 (> 3.4e38), ‖h‖ does not. Row 3: h² underflows (and the 1e-12 clamp applies).
    const rows = [[2e19, 0, 0], [1e20, 1, 1], [-3e30, 4e30, 0], [3e-25, -4e-25, 0], [1, 2, 2]];
    const host = Float32Array.from(rows.flat());
    const h = Tensor.from(gpu, host, [rows.length, 3]);
    const z = Tensor.empty(gpu, [rows.length, 3]);
    const norms = Tensor.empty(gpu, [rows.length]);
    const r = Float32Array.from({ length: host.length }, (_, i) => (i % 3) - 0.5);
    const dZ = Tensor.from(gpu, r, [rows.length, 3]);
    const dH = Tensor.empty(gpu, [rows.length, 3]);
    const steps = [l2normForward(gpu, h, z, norms), l2normBackward(gpu, z, norms, dZ, dH)];
    runSteps(gpu, ...steps);
    const h64 = Float64Array.from(host);
    // Float64 reference: no overflow there. 1e-6 relative (a correctly scaled f32 result is within a few ulp).
    const norm64 = rows.map((_, i) => Math.max(Math.hypot(h64[3 * i], h64[3 * i + 1], h64[3 * i + 2]), 1e-12));
    assertClose(await norms.read(), Float64Array.from(norm64), { rtol: 1e-6, atol: 0 }, "norms");
    assertClose(await z.read(), l2normRef(h64, rows.length, 3), { rtol: 1e-6, atol: 1e-30 }, "z");
    const dH64 = new Float64Array(host.length);
    const z64 = l2normRef(h64, rows.length, 3);
    for (let i = 0; i < rows.length; i++) {
      let zg = 0;
      for (let t = 0; t < 3; t++) zg += z64[3 * i + t] * r[3 * i + t];
      for (let t = 0; t < 3; t++) dH64[3 * i + t] = (r[3 * i + t] - z64[3 * i + t] * zg) / norm64[i];
    }
    // dH = (g − z(z·g))/‖h‖ from the formula in float64; 1e-5 relative, floor at 1e-45 (the f32 subnormals).
    assertClose(await dH.read(), dH64, { rtol: 1e-5, atol: 1e-45 }, "dH");
    steps.forEach((s) => s.destroy());
    [h, z, norms, dZ, dH].forEach((t) => t.destroy());
  },
});
