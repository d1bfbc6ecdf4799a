import assert from "node:assert/strict";
import { Tensor } from "../../src/gpu/tensor.ts";
import { SampledContrastiveLoss } from "../../src/losses/sampled.ts";
import { mlp } from "../../src/nn/sequential.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import type { Activation } from "../../src/ops/activation.ts";
import { assertClose, assertFrobenius } from "../util/compare.ts";
import { batch, centralDifferences, sampledRows } from "../util/contrast_reference.ts";
import { activationRef, l2normRef, linearRef } from "../util/nn_reference.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";

for (const activation of ["gelu", "relu"] as Activation[]) {
  Deno.test({
    name: `every parameter gradient of MLP(${activation}) + L2 norm + InfoNCE matches finite differences of float64`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const seed = freshSeed(`mlp ${activation}`);
      const random = seededRandom(seed);
      // 17 hidden units: a row whose ReLUs are all off has h = bias = 0 and no defined direction (P = 2^-17 per row).
      const [b, n, kMax, k, dIn, hidden, dOut, tau] = [13, 29, 9, 7, 11, 17, 7, 0.2];
      const store = new ParameterStore(gpu, { seed });
      const net = mlp(store, [dIn, hidden, dOut], { activation });
      store.build();
      const xq32 = uniform(random, b * dIn);
      const xc32 = uniform(random, n * dIn);
      const idx = Uint32Array.from({ length: b * (kMax + 1) }, () => Math.floor(random() * n));
      const xq = Tensor.from(gpu, xq32, [b, dIn]);
      const xc = Tensor.from(gpu, xc32, [n, dIn]);
      // Two towers sharing one encoder: both bindings accumulate into the same gradients.
      const towerQ = net.bind(gpu, xq);
      const towerC = net.bind(gpu, xc);
      const loss = new SampledContrastiveLoss(gpu, towerQ.output, towerC.output, { kMax, k, tau, indices: idx });
      const backQ = towerQ.bindBackward(loss.dQ);
      const backC = towerC.bindBackward(loss.dC);
      const encoder = gpu.device.createCommandEncoder();
      store.zeroGrads(encoder);
      const pass = encoder.beginComputePass();
      for (const s of [towerQ.forward, towerC.forward, loss, backQ, backC]) s.encode(pass);
      pass.end();
      gpu.submit("test", encoder);
      const grads = await store.grads.read();
      const meanLoss = (await loss.readReadouts()).meanLoss;

      // The same network in float64, reading every parameter from a flat vector laid out like the store's.
      const p = Float64Array.from(await store.params.read());
      const slot = (name: string) => store.slot(name);
      const param = (name: string) => p.subarray(slot(name).offset, slot(name).offset + slot(name).size);
      const encode = (x: Float32Array, rows: number) => {
        const h = linearRef(x, param("mlp.0.weight"), param("mlp.0.bias"), rows, dIn, hidden);
        const a = h.map((v) => activationRef(activation, v));
        return l2normRef(linearRef(a, param("mlp.1.weight"), param("mlp.1.bias"), rows, hidden, dOut), rows, dOut);
      };
      const f = () =>
        batch(sampledRows(encode(xq32, b), encode(xc32, n), idx, { b, d: dOut, k, kMax }), tau, { kind: "infonce" })
          .meanLoss;
      assertClose([meanLoss], [f()], { rtol: 1e-4, atol: 1e-6 }, "mean loss"); // forward: 1e-4 relative
      const fd = centralDifferences(f, p);
      for (const s of store.slots) {
        const got = grads.subarray(s.offset, s.offset + s.size);
        const expected = fd.subarray(s.offset, s.offset + s.size);
        assert.ok(expected.some((v) => v !== 0), `${s.name}: the reference gradient is not all zero`);
        assertFrobenius(got, expected, 2e-3, `${s.name} gradient`); // gradients: 2e-3 relative
      }
      for (const t of [towerQ, towerC, loss, xq, xc, store]) t.destroy(); // a network frees its backward steps
    },
  });
}

Deno.test({
  name: "ParameterStore.build() refuses parameters past one storage buffer before it allocates their host copy",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
    const store = new ParameterStore(gpu, { seed: 1 });
    // Twice the limit in floats: a host Float32Array of that size would be 8× the limit in bytes.
    store.add("huge", [limit / 1024, 2048], "xavier");
    assert.throws(() => store.build(), (error: Error) => {
      assert.equal(error.name, "OutOfMemoryError");
      assert.match(error.message, /ParameterStore\.build/);
      assert.match(error.message, new RegExp(`\\(${limit} bytes\\)`));
      return true;
    });
    // Nothing was built: the store still refuses its params, and a GPU error scope is not left pending.
    assert.throws(() => store.params, RangeError);
    const ok = new ParameterStore(gpu, { seed: 1 });
    ok.add("w", [3, 2], "xavier");
    ok.build();
    ok.destroy();
  },
});
