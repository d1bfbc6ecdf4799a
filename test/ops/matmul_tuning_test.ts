import assert from "node:assert/strict";
import { requestGpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { boundMatmuls, MatmulKernel, matmulShapeClass } from "../../src/ops/matmul.ts";
import { type MatmulShape, tuneMatmulShapes } from "../../src/ops/matmul_tuning.ts";
import { applyMatmulTuning, matmulTuningRecord } from "../../src/ops/matmul_tuning_record.ts";
import { assertFrobenius } from "../util/compare.ts";
import { runMatmulCase } from "../util/matmul_check.ts";
import { freshSeed } from "../util/random.ts";
import { gpuTest } from "../util/gpu.ts";

Deno.test("matmulShapeClass rounds each dimension up to a power of two", () => {
  assert.equal(matmulShapeClass("nn", 1, 1, 1), "matmul:nn:1x1x1");
  assert.equal(matmulShapeClass("nt", 128, 129, 784), "matmul:nt:128x256x1024");
  assert.equal(matmulShapeClass("tn", 33, 64, 65), "matmul:tn:64x64x128");
  assert.throws(() => matmulShapeClass("nn", 0, 4, 4), /m must be an integer >= 1/);
});

Deno.test({
  name: "tuneMatmulShapes measures each shape class once, at its largest shape, and later kernels run the choice",
  ...gpuTest,
  async fn() {
    const gpu = await requestGpu(); // its own: tuning and the bound-shape list are per context
    try {
      const shapes: MatmulShape[] = [
        { form: "nn", m: 37, n: 45, k: 29 }, // class 64x64x32, the larger of the two
        { form: "nn", m: 33, n: 40, k: 30 }, // same class
        { form: "tn", m: 19, n: 70, k: 130 }, // class 32x128x256
      ];
      const variants = ["reg4x4", "named8x16", "tiled64"];
      const trials = await tuneMatmulShapes(gpu, shapes, { iterations: 1, variants });
      const keys = ["matmul:nn:64x64x32", "matmul:tn:32x128x256"];
      assert.deepEqual([...new Set(trials.map((t) => t.key))].sort(), keys);
      for (const key of keys) {
        const forKey = trials.filter((t) => t.key === key);
        assert.deepEqual(forKey.map((t) => t.variant).sort(), [...variants].sort(), "every variant timed once");
        assert.ok(forKey.every((t, i) => i === 0 || forKey[i - 1].medianMs <= t.medianMs), "fastest first");
        assert.equal(gpu.tuning.get(key), forKey[0].variant, "the fastest is stored");
      }
      assert.deepEqual(trials.find((t) => t.key === keys[0])!.shape, [37, 45, 29]);

      // A kernel bound afterwards at another shape of the class runs the stored variant, and computes right.
      const a = Tensor.zeros(gpu, [33, 30]);
      const b = Tensor.zeros(gpu, [30, 40]);
      const kernel = new MatmulKernel(gpu, a, b);
      assert.equal(kernel.variant, gpu.tuning.get(keys[0]));
      assert.deepEqual(boundMatmuls(gpu).map((x) => [x.key, x.variant]), [[keys[0], kernel.variant]]);
      kernel.destroy();
      for (const t of [a, b, kernel.out]) t.destroy();
      // Relative Frobenius error against float64, 1e-4 (fp32 sums of 30 products).
      const { got, expected } = await runMatmulCase(gpu, { m: 33, n: 40, k: 30, form: "nn", seed: freshSeed("tuned") });
      assertFrobenius(got, expected, 1e-4, "tuned nn 33x40x30");

      // Classes with a choice are not measured again unless asked.
      assert.deepEqual(await tuneMatmulShapes(gpu, shapes, { iterations: 1, variants }), []);
      const again = await tuneMatmulShapes(gpu, shapes.slice(2), { iterations: 1, variants: ["reg8x8"], retune: true });
      assert.deepEqual(again.map((t) => [t.key, t.variant]), [[keys[1], "reg8x8"]]);
      assert.equal(gpu.tuning.get(keys[1]), "reg8x8");
    } finally {
      gpu.destroy();
    }
  },
});

Deno.test({
  name: "naive is timed only where C has fewer than 8 rows or columns, vec4 variants only where they fit",
  ...gpuTest,
  async fn() {
    const gpu = await requestGpu();
    try {
      const variants = ["naive", "reg4x4", "vec8x16"];
      const trials = await tuneMatmulShapes(gpu, [
        { form: "tn", m: 4, n: 20, k: 300 }, // 4 rows: naive runs; M = 4 and N = 20 fit vec4
        { form: "nn", m: 9, n: 8, k: 30 }, // 8 or more each way: no naive
        { form: "nt", m: 5, n: 12, k: 7 }, // nt: no vec4
      ], { iterations: 1, variants });
      const of = (key: string) => trials.filter((t) => t.key === key).map((t) => t.variant).sort();
      assert.deepEqual(of("matmul:tn:4x32x512"), ["naive", "reg4x4", "vec8x16"]);
      assert.deepEqual(of("matmul:nn:16x8x32"), ["reg4x4", "vec8x16"]);
      assert.deepEqual(of("matmul:nt:8x16x8"), ["naive", "reg4x4"]);
    } finally {
      gpu.destroy();
    }
  },
});

Deno.test({
  name: "a tuning record round-trips, applies nothing from another adapter and is refused whole when malformed",
  ...gpuTest,
  async fn() {
    const gpu = await requestGpu();
    try {
      gpu.tuning.set("matmul:nn", "reg8x4");
      gpu.tuning.set("matmul:nt:128x256x128", "named16x32");
      gpu.tuning.set("other:thing", "x"); // not a matmul choice: not recorded
      const record = JSON.parse(JSON.stringify(matmulTuningRecord(gpu)));
      assert.deepEqual(record.choices, { "matmul:nn": "reg8x4", "matmul:nt:128x256x128": "named16x32" });
      assert.equal(record.adapter.description, gpu.info.description);
      gpu.tuning.clear();
      assert.equal(applyMatmulTuning(gpu, record), 2);
      assert.equal(gpu.tuning.get("matmul:nt:128x256x128"), "named16x32");

      gpu.tuning.clear();
      const elsewhere = { ...record, adapter: { ...record.adapter, description: "NVIDIA H200" } };
      assert.equal(applyMatmulTuning(gpu, elsewhere), 0);
      assert.equal(gpu.tuning.size, 0);

      const bad = [
        [{ ...record, format: "other" }, /record\.format must be "ncegpu-matmul-tuning"/],
        [{ ...record, version: 2 }, /record\.version must be 1/],
        [{ ...record, choices: { ...record.choices, "matmul:xx": "reg4x4" } }, /record\.choices key must be/],
        [{ ...record, choices: { ...record.choices, "matmul:nn": "fastest" } }, /record\.choices\["matmul:nn"\]/],
        [{ ...record, adapter: { ...record.adapter, vendor: 3 } }, /record\.adapter\.vendor must be a string/],
        [{ ...record, choices: { "matmul:nn:3x5x7": "reg4x4" } }, /record\.choices key must be .*powers of two/],
        [{ ...record, choices: { "matmul:nn:0x1x1": "reg4x4" } }, /record\.choices key must be/],
        [{ ...record, choices: new Map([["matmul:nn", "reg4x4"]]) }, /record\.choices must be a plain object/],
      ] as const;
      for (const [value, message] of bad) {
        assert.throws(() => applyMatmulTuning(gpu, value as never), message);
        assert.equal(gpu.tuning.size, 0, "nothing applied from a malformed record");
      }
    } finally {
      gpu.destroy();
    }
  },
});
