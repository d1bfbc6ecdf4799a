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
