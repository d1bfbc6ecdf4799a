import assert from "node:assert/strict";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { Optimizer, type OptimizerOptions, warmupCosine } from "../../src/optim/optimizer.ts";
import { assertClose } from "../util/compare.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";

/** Float64 reference of one update rule over 5 steps, written from the textbook definitions. */
function reference(o: OptimizerOptions, p0: Float64Array, gradients: Float64Array[]): Float64Array {
  const p = p0.slice();
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const lrAt = (t: number) => (typeof o.lr === "function" ? o.lr(t) : o.lr);
  gradients.forEach((g0, step) => {
    const t = step + 1;
    const lr = lrAt(t);
    let scale = 1;
    if (o.clipNorm) scale = Math.min(1, o.clipNorm / (Math.sqrt(g0.reduce((a, x) => a + x * x, 0)) + 1e-6));
    const wd = o.weightDecay ?? (o.kind === "adamw" ? 0.01 : 0);
    for (let i = 0; i < p.length; i++) {
      let g = g0[i] * scale;
      if (o.kind === "sgd") {
        g += wd * p[i];
        m[i] = (o.momentum ?? 0.9) * m[i] + g;
        p[i] -= lr * m[i];
        continue;
      }
      const [b1, b2, eps] = [o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8];
      if (o.kind === "adamw") p[i] *= 1 - lr * wd;
      else g += wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
    }
  });
  return p;
}

const CASES: [string, OptimizerOptions][] = [
  ["SGD with momentum and L2 decay", { kind: "sgd", lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }],
  ["Adam", { kind: "adam", lr: 1e-2 }],
  ["AdamW", { kind: "adamw", lr: 1e-2, weightDecay: 0.1 }],
  ["AdamW with global-norm clipping and warm-up + cosine", {
    kind: "adamw",
    lr: warmupCosine({ peak: 1e-2, warmup: 2, total: 5 }),
    clipNorm: 0.5,
  }],
];

for (const [label, options] of CASES) {
  Deno.test({
    name: `${label} matches a float64 reference over 5 steps`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const random = seededRandom(freshSeed(label));
      const store = new ParameterStore(gpu, { seed: 3 });
      store.add("a", [37, 3], "kaiming");
      store.add("b", [5000], "xavier", [50, 100]); // spans several workgroups of the norm pass
      store.build();
      const p0 = Float64Array.from(await store.params.read());
      const optimizer = new Optimizer(gpu, store, options);
      const gradients: Float64Array[] = [];
      for (let step = 0; step < 5; step++) {
        const g = uniform(random, store.length, 0.1);
        for (const s of store.slots) g.fill(0, s.offset + s.size, s.offset + Math.ceil(s.size / 64) * 64);
        gradients.push(Float64Array.from(g));
        store.grads.write(g);
        runSteps(gpu, optimizer);
      }
      assert.equal(optimizer.step, 5);
      // 1e-5 relative per parameter, with a 1e-7 floor for parameters near 0.
      assertClose(await store.params.read(), reference(options, p0, gradients), { rtol: 1e-5, atol: 1e-7 }, label);
      optimizer.destroy();
      store.destroy();
    },
  });
}

Deno.test({
  name: "optimizer options are checked before any GPU work",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const store = new ParameterStore(gpu);
    store.add("w", [4], "zeros");
    store.build();
    const before = gpu.counters.buffersAllocated;
    assert.throws(
      () => new Optimizer(gpu, store, { kind: "adam", lr: 0 }),
      /options\.lr must be > 0: current value is 0/,
    );
    assert.throws(
      () => new Optimizer(gpu, store, { kind: "adam", lr: 1, beta2: 1 }),
      /options\.beta2 must be in \[0, 1\): current value is 1/,
    );
    assert.throws(
      () => new Optimizer(gpu, store, { kind: "rmsprop" as "adam", lr: 1 }),
      /options\.kind must be "sgd", "adam" or "adamw": current value is "rmsprop"/,
    );
    assert.equal(gpu.counters.buffersAllocated, before);
    store.destroy();
  },
});

Deno.test({
  name:
    "gradients whose squares pass f32 are clipped and updated right; an update f32 cannot hold gives NaN, not a frozen weight",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const store = new ParameterStore(gpu, { seed: 4 });
    store.add("w", [4100], "xavier", [50, 82]); // more than one workgroup of the norm pass (256·16 = 4096)
    store.build();
    const p0 = Float64Array.from(await store.params.read());
    const g = new Float32Array(store.length);
    g.set([1e20, -3e19, 2e-3, -1e-3]); // Σg² ≈ 1e40: past f32, its square root is not
    g[4099] = 5e19; // in the second workgroup
    for (const options of [{ kind: "adam", lr: 0.1, clipNorm: 2 }, { kind: "adam", lr: 0.1 }] as OptimizerOptions[]) {
      store.params.write(Float32Array.from(p0));
      const optimizer = new Optimizer(gpu, store, options);
      store.grads.write(g);
      runSteps(gpu, optimizer);
      const label = options.clipNorm ? "clipped" : "unclipped (v/bc2 passes f32 at t = 1)";
      const norm64 = Math.sqrt(Array.from(g).reduce((a, x) => a + x * x, 0));
      if (options.clipNorm) {
        // [scale, norm] against float64: 1e-6 relative.
        assertClose(await optimizer.clip.read(), [2 / (norm64 + 1e-6), norm64], { rtol: 1e-6, atol: 0 }, label);
      }
      // Parameters against the float64 reference of the same rule: 1e-5 relative, 1e-7 floor.
      const expected = reference(options, p0, [Float64Array.from(g)]);
      assertClose(await store.params.read(), expected, { rtol: 1e-5, atol: 1e-7 }, label);
      optimizer.destroy();
    }
    // |g| = 1e21: (1 − β2)·g² = 1e39 is past f32, so Adam's second moment cannot hold it.
    const optimizer = new Optimizer(gpu, store, { kind: "adam", lr: 0.1 });
    const huge = new Float32Array(store.length);
    huge[7] = 1e21;
    store.grads.write(huge);
    runSteps(gpu, optimizer);
    const after = await store.params.read();
    assert.ok(Number.isNaN(after[7]), `the weight whose update overflowed is NaN, not frozen: ${after[7]}`);
    assert.ok(after.every((x, i) => i === 7 || Number.isFinite(x)), "the other weights are untouched by it");
    optimizer.destroy();
    store.destroy();
  },
});
