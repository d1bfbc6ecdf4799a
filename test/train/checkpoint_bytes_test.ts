import assert from "node:assert/strict";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { checkpointBytes, loadCheckpointBytes } from "../../src/train/checkpoint_bytes.ts";
import { CheckpointError } from "../../src/train/safetensors.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { deterministic, K, makeRun, smallRun } from "../util/train_runs.ts";

// These run in Deno and, through test/browser/run.ts, in Chromium: the bytes are what a page downloads and uploads.

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

// The trainer's small task, 30 steps: every piece of host state must travel in the bytes.
Deno.test({
  name: "Trainer.saveBytes → resumeBytes continues exactly as the uninterrupted run, and refuses another config",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { data, config } = smallRun(11, { steps: 30 });
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

    // Another configuration, or other data, refuses the checkpoint before loading it, naming what differs.
    const other = new Trainer(gpu, data, { ...config, batch: 20, lr: 0.001 });
    assert.throws(
      () => other.resumeBytes(bytes),
      /Trainer\.resumeBytes as config\.batch must be the checkpoint's 24 \(config\.lr differ too\): current value is 20/,
    );
    assert.throws(() => other.resumeBytes(new Uint8Array(4)), /^CheckpointError: checkpoint: truncated: 4 bytes/);
    other.destroy();
    const otherData = smallRun(12).data; // same shapes, another draw of the synthetic set
    const elsewhere = new Trainer(gpu, otherData, config);
    assert.throws(
      () => elsewhere.resumeBytes(bytes),
      /Trainer\.resumeBytes as data\.train must be the checkpoint's "600×64, 10 classes, labels [0-9a-f]{8}/,
    );
    elsewhere.destroy();
  },
});

Deno.test({
  name: "Trainer.save writes to the file exactly the bytes Trainer.saveBytes returns, and resume reads them back",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const { data, config } = smallRun(12, { steps: 30 });
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
