import assert from "node:assert/strict";
import { SyntheticClusters } from "../../src/data/synthetic.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { mlp } from "../../src/nn/sequential.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { TrainingStep } from "../../src/train/step.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { freshSeed } from "../util/random.ts";

Deno.test({
  name: "training a 784→256→128 MLP with InfoNCE on a learnable task halves the loss within 200 steps",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const seed = freshSeed("real training");
    const [b, k, dim, steps] = [16, 4, 784, 200];
    // Ten classes, noise 3× the signal per coordinate (two samples of a class have cosine ≈ 0.1 at the input):
    // two samples of a class are a positive pair.
    const data = new SyntheticClusters({ classes: 10, dim, noise: 3, seed });
    const store = new ParameterStore(gpu, { seed });
    const net = mlp(store, [dim, 256, 128], { activation: "relu" });
    store.build();
    const hostQ = new Float32Array(b * dim);
    const hostC = new Float32Array(b * (1 + k) * dim);
    const xq = Tensor.empty(gpu, [b, dim]);
    const xc = Tensor.empty(gpu, [b * (1 + k), dim]);
    // Slot (i, j) of the index table is candidate row i·(1+K)+j: the batch's own candidates.
    const indices = Uint32Array.from({ length: b * (1 + k) }, (_, s) => s);
    const step = new TrainingStep(gpu, { store, query: net, candidate: net, xq, xc }, {
      loss: { kMax: k, tau: 0.1, indices },
      optimizer: { kind: "adam", lr: 1e-3 },
    });
    const buffersBefore = gpu.counters.buffersAllocated;
    for (let s = 0; s < steps; s++) {
      for (let i = 0; i < b; i++) {
        const label = Math.floor(data.random() * data.classes);
        data.sample(label, hostQ, i * dim);
        data.sample(label, hostC, i * (1 + k) * dim);
        for (let j = 1; j <= k; j++) data.sample(data.otherClass(label), hostC, (i * (1 + k) + j) * dim);
      }
      xq.write(hostQ);
      xc.write(hostC);
      await step.run();
    }
    const metrics = await step.flush();
    assert.equal(metrics.length, steps, "every step reported");
    assert.deepEqual(metrics.map((m) => m.step), Array.from({ length: steps }, (_, i) => i + 1));
    assert.equal(gpu.counters.buffersAllocated, buffersBefore, "no GPU allocation inside the loop");
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    const first = mean(metrics.slice(0, 5).map((m) => m.meanLoss));
    const last = mean(metrics.slice(-5).map((m) => m.meanLoss));
    console.log(`mean loss of steps 1–5: ${first.toFixed(4)}, of steps ${steps - 4}–${steps}: ${last.toFixed(4)}`);
    assert.ok(last < 0.5 * first, `loss went from ${first} to ${last}, not below half`);
    for (const t of [step, xq, xc, store]) t.destroy();
  },
});
