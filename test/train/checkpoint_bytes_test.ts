import assert from "node:assert/strict";
import { syntheticSplits } from "../../src/data/dataset.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { mlp } from "../../src/nn/sequential.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { checkpointBytes, loadCheckpointBytes } from "../../src/train/checkpoint_bytes.ts";
import type { TrainerConfig } from "../../src/train/config.ts";
import type { TrainRecord } from "../../src/train/records.ts";
import { CheckpointError } from "../../src/train/safetensors.ts";
import { TrainingStep } from "../../src/train/step.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { seededRandom, uniform } from "../util/random.ts";

// These run in Deno and, through test/browser/run.ts, in Chromium: the bytes are what a page downloads and uploads.

const [B, N, K, D_IN, HIDDEN, D_OUT] = [9, 17, 5, 12, 10, 6];

/** A small two-tower run: shared MLP encoder, sampled InfoNCE, Adam; one submit per step. */
function makeRun(gpu: Gpu, seed: number) {
  const random = seededRandom(99); // the data is the same for every run; only the initial parameters depend on seed
  const store = new ParameterStore(gpu, { seed });
  const net = mlp(store, [D_IN, HIDDEN, D_OUT], { activation: "gelu" });
  store.build();
  const xq = Tensor.from(gpu, uniform(random, B * D_IN), [B, D_IN]);
  const xc = Tensor.from(gpu, uniform(random, N * D_IN), [N, D_IN]);
  const indices = Uint32Array.from(
    { length: B * (K + 1) },
    (_, s) => (s % (K + 1) === 0 ? Math.floor(s / (K + 1)) : Math.floor(random() * N)),
  );
  const run = new TrainingStep(gpu, { store, query: net, candidate: net, xq, xc }, {
    loss: { kMax: K, tau: 0.2, indices },
    optimizer: { kind: "adam", lr: 0.01 },
  });
  return {
    store,
    optimizer: run.optimizer,
    async step(): Promise<number> {
      await run.run();
      return (await run.flush())[0].meanLoss;
    },
    destroy() {
      for (const t of [run, xq, xc, store]) t.destroy();
    },
  };
}

Deno.test({
  name: "checkpoint bytes → load → continue gives bit-identical parameters and moments and the same next loss",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const straight = makeRun(gpu, 5);
    const straightLosses = [];
    for (let i = 0; i < 5; i++) straightLosses.push(await straight.step());

    const first = makeRun(gpu, 5);
    for (let i = 0; i < 3; i++) await first.step();
    const bytes = await checkpointBytes(first.store, first.optimizer, { step: 3, rngState: 77, config: { K } });
    first.destroy();

    const resumed = makeRun(gpu, 6); // other initial parameters: the bytes must overwrite all of them
    const state = loadCheckpointBytes(bytes, resumed.store, resumed.optimizer);
    assert.deepEqual(state, { step: 3, rngState: 77, config: { K } });
    assert.equal(resumed.optimizer.step, 3);
    // Saved again, the loaded run gives the same bytes: parameters, both moments and metadata round-trip exactly.
    assert.deepEqual(await checkpointBytes(resumed.store, resumed.optimizer, state), bytes);
    const losses = [await resumed.step(), await resumed.step()];
    assert.deepEqual(
      losses,
      straightLosses.slice(3),
      "the continued run's losses are the uninterrupted run's, exactly",
    );
    assert.deepEqual(await resumed.store.params.read(), await straight.store.params.read());
    resumed.destroy();
    straight.destroy();
  },
});

Deno.test({
  name: "loadCheckpointBytes refuses another model's bytes, naming the source, before writing anything",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const small = new ParameterStore(gpu, { seed: 1 });
    small.add("w", [4, 3], "xavier");
    small.build();
    const other = new ParameterStore(gpu, { seed: 2 });
    other.add("w", [5, 3], "xavier");
    other.build();
    const before = await other.params.read();
    const bytes = await checkpointBytes(small, null, { step: 1 });
    assert.throws(
      () => loadCheckpointBytes(bytes, other, null, { source: "upload.safetensors" }),
      (e: unknown) =>
        e instanceof CheckpointError &&
        /^upload\.safetensors: tensor "param\/w" has shape \[4, 3\], the model expects \[5, 3\]$/.test(e.message),
    );
    assert.throws(
      () => loadCheckpointBytes(bytes.subarray(0, 20), other, null),
      /^CheckpointError: checkpoint: truncated/,
    );
    assert.deepEqual(await other.params.read(), before, "nothing was written");
    small.destroy();
    other.destroy();
  },
});

// The trainer's small task (as in trainer_test.ts): every piece of host state must travel in the bytes.
function smallRun(seed: number) {
  const data = syntheticSplits({ trainRows: 600, testRows: 200, side: 8, noise: 2, labelNoise: 0.2, seed });
  const config: TrainerConfig = {
    dims: [64, 32, 16],
    batch: 24,
    kMax: 12,
    steps: 30,
    seed,
    labelNoise: 0.2,
    schedule: { kind: "closed", every: 5, maxChange: 3 },
    augment: { rotate: 15, translate: 1 },
    metricsEvery: 5,
    evalSizes: { bank: 300, queries: 200, k: 5 },
  };
  return { data, config };
}

/** Records without the wall-clock rate, the only thing allowed to differ between runs. */
function deterministic(records: TrainRecord[]) {
  return records.map(({ stepsPerSecond: _, ...rest }) => rest);
}

Deno.test({
  name: "Trainer.saveBytes → resumeBytes continues exactly as the uninterrupted run, and refuses another config",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { data, config } = smallRun(11);
    const straight = new Trainer(gpu, data, config);
    const all = await straight.run();
    const straightEval = await straight.evaluate();
    straight.destroy();

    const first = new Trainer(gpu, data, config);
    await first.run({ until: 15 });
    const bytes = await first.saveBytes();
    first.destroy();

    const resumed = new Trainer(gpu, data, config);
    resumed.resumeBytes(bytes, "at15.safetensors");
    assert.equal(resumed.stepsDone, 15);
    assert.deepEqual(await resumed.saveBytes(), bytes, "the resumed trainer saves the bytes it loaded");
    const rest = await resumed.run();
    assert.deepEqual(deterministic(rest), deterministic(all.filter((r) => r.step > 15)));
    assert.deepEqual(await resumed.evaluate(), straightEval);
    resumed.destroy();

    const other = new Trainer(gpu, data, { ...config, batch: 20 });
    assert.throws(() => other.resumeBytes(bytes), /Trainer\.resumeBytes as config must be/);
    assert.throws(() => other.resumeBytes(new Uint8Array(4)), /^CheckpointError: checkpoint: truncated: 4 bytes/);
    other.destroy();
  },
});

Deno.test({
  name: "Trainer.save writes to the file exactly the bytes Trainer.saveBytes returns, and resume reads them back",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { data, config } = smallRun(12);
    const trainer = new Trainer(gpu, data, config);
    await trainer.run({ until: 10 });
    const dir = await Deno.makeTempDir();
    try {
      await trainer.save(`${dir}/at10.safetensors`);
      assert.deepEqual(await Deno.readFile(`${dir}/at10.safetensors`), await trainer.saveBytes());
      const again = new Trainer(gpu, data, config);
      await again.resume(`${dir}/at10.safetensors`);
      assert.deepEqual(await again.saveBytes(), await trainer.saveBytes());
      again.destroy();
      await assert.rejects(() => trainer.resume(`${dir}/missing.safetensors`), /missing\.safetensors: cannot be read/);
    } finally {
      trainer.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
