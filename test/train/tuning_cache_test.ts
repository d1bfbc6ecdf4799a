import assert from "node:assert/strict";
import { requestGpu } from "../../src/gpu/device.ts";
import { syntheticSplits } from "../../src/data/dataset.ts";
import { boundMatmuls, matmul } from "../../src/ops/matmul.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { loadMatmulTuning, tuneTrainer, tuningCachePath } from "../../src/train/tuning_cache.ts";
import { Trainer } from "../../src/train/trainer.ts";
import type { TrainerConfig } from "../../src/train/config.ts";
import { gpuTest } from "../util/gpu.ts";

const data = syntheticSplits({ side: 12, trainRows: 600, testRows: 100, seed: 5 });
const config: TrainerConfig = {
  dims: [144, 40, 24],
  batch: 32,
  kMax: 8,
  steps: 3,
  metricsEvery: 1,
  evalSizes: { bank: 300, queries: 100 },
};

Deno.test({
  name:
    "a trainer built after tuneTrainer runs the cached variants, not the defaults, and a second run measures nothing",
  ...gpuTest,
  async fn() {
    const dir = await Deno.makeTempDir();
    const gpus = [];
    try {
      // The shapes the step binds, and what it runs untuned.
      const probe = await requestGpu();
      gpus.push(probe);
      new Trainer(probe, data, config).destroy();
      const untuned = boundMatmuls(probe);
      // Forward and weight gradient of both layers, the second layer's dX (bias gradients are column sums).
      assert.ok(untuned.length >= 5, `forward and dW matmuls of two layers and a dX: ${untuned.length}`);
      // A cache that picks, for every class the step binds, a variant no untuned kernel runs.
      const cached = "reg4x4";
      assert.ok(untuned.every((m) => m.variant !== cached), "reg4x4 is never an untuned default");
      const path = tuningCachePath(probe, dir);
      const choices = Object.fromEntries(untuned.map((m) => [m.key, cached]));
      const { vendor, architecture, device, description } = probe.info;
      const record = {
        format: "ncegpu-matmul-tuning",
        version: 1,
        adapter: { vendor, architecture, device, description },
        choices,
      };
      await Deno.writeTextFile(path, JSON.stringify(record));

      const gpu = await requestGpu();
      gpus.push(gpu);
      const tuning = await tuneTrainer(gpu, data, config, { cache: path, iterations: 1 });
      assert.deepEqual([tuning.loaded, tuning.trials.length], [Object.keys(choices).length, 0], "read, not measured");
      const trainer = new Trainer(gpu, data, config);
      const bound = boundMatmuls(gpu);
      assert.deepEqual(bound.map((m) => m.key).sort(), untuned.map((m) => m.key).sort());
      assert.ok(bound.every((m) => m.variant === cached), `every step matmul runs ${cached}`);
      const records = await trainer.run();
      assert.ok(records.length === 3 && records.every((r) => Number.isFinite(r.loss)), "and it trains");
      trainer.destroy();

      // Measured once, written, then read by the next run instead of measured.
      const fresh = `${dir}/fresh.json`;
      const first = await requestGpu();
      gpus.push(first);
      const measured = await tuneTrainer(first, data, config, { cache: fresh, iterations: 1 });
      assert.equal(new Set(measured.trials.map((t) => t.key)).size, new Set(untuned.map((m) => m.key)).size);
      const second = await requestGpu();
      gpus.push(second);
      const reread = await tuneTrainer(second, data, config, { cache: fresh, iterations: 1 });
      assert.deepEqual([reread.loaded > 0, reread.trials.length], [true, 0]);
      for (const m of boundMatmuls(second)) assert.equal(m.variant, first.tuning.get(m.key));

      // No cache: measured every time, nothing written; and only the trainer's shapes, not what the context bound
      // before (here a 300 × 300 product).
      const none = await requestGpu();
      gpus.push(none);
      const x = Tensor.zeros(none, [300, 300]);
      matmul(none, x, x).destroy();
      x.destroy();
      const uncached = await tuneTrainer(none, data, config, { cache: null, iterations: 1 });
      assert.ok(uncached.trials.length > 0 && uncached.path === null);
      const trainerKeys = new Set(untuned.map((m) => m.key));
      assert.deepEqual([...new Set(uncached.trials.map((t) => t.key))].filter((k) => !trainerKeys.has(k)), []);
    } finally {
      for (const g of gpus) g.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "loadMatmulTuning reads nothing from a missing file and names a broken one",
  ...gpuTest,
  async fn() {
    const gpu = await requestGpu();
    const dir = await Deno.makeTempDir();
    try {
      assert.equal(await loadMatmulTuning(gpu, `${dir}/missing.json`), 0);
      const broken = `${dir}/broken.json`;
      await Deno.writeTextFile(broken, '{"format": "ncegpu-matmul-tuning", "version": 1, "adapter": {');
      await assert.rejects(loadMatmulTuning(gpu, broken), (e: Error) => {
        assert.match(e.message, new RegExp(`${broken} is not a matmul tuning cache .*delete it to measure again`));
        return true;
      });
      assert.equal(gpu.tuning.size, 0);
    } finally {
      gpu.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
