import { Tensor } from "../../src/gpu/tensor.ts";
import { type Activation, activationBackward, activationForward } from "../../src/ops/activation.ts";
import { assertClose } from "../util/compare.ts";
import { centralDifferences } from "../util/contrast_reference.ts";
import { activationRef, weightedSum } from "../util/nn_reference.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";

for (const kind of ["relu", "gelu", "tanh"] as Activation[]) {
  Deno.test({
    name: `${kind} forward matches float64 and its backward matches finite differences on 1,031 values`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const random = seededRandom(freshSeed(kind));
      const n = 1031; // not a multiple of the workgroup
      const x32 = uniform(random, n, 4);
      const r = uniform(random, n); // the random weights of Σ y ⊙ R
      const x = Tensor.from(gpu, x32, [n]);
      const y = Tensor.from(gpu, new Float32Array(n).fill(NaN), [n]);
      const dY = Tensor.from(gpu, r, [n]);
      const dX = Tensor.from(gpu, new Float32Array(n).fill(NaN), [n]);
      const steps = [activationForward(gpu, kind, x, y), activationBackward(gpu, kind, x, dY, dX)];
      runSteps(gpu, ...steps);
      const x64 = Float64Array.from(x32);
      const expected = x64.map((v) => activationRef(kind, v));
      // Forward: 1e-6 absolute + 1e-5 relative (fp32 tanh/exp).
      assertClose(await y.read(), expected, { rtol: 1e-5, atol: 1e-6 }, `${kind} forward`);
      const fd = centralDifferences(() => weightedSum(x64.map((v) => activationRef(kind, v)), r), x64);
      // Backward: 2e-3 relative to each value, 1e-5 absolute (ReLU's kink at 0 is never within h of a sample).
      assertClose(await dX.read(), fd, { rtol: 2e-3, atol: 1e-5 }, `${kind} backward`);
      steps.forEach((s) => s.destroy());
      [x, y, dY, dX].forEach((t) => t.destroy());
    },
  });
}
