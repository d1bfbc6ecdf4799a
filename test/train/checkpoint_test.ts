import assert from "node:assert/strict";
import { mlp } from "../../src/nn/sequential.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { Optimizer } from "../../src/optim/optimizer.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { CheckpointError, encodeSafetensors, readSafetensors } from "../../src/train/safetensors.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { D_IN, D_OUT, HIDDEN, K, makeRun } from "../util/train_runs.ts";

Deno.test({
  name: "save → load → continue gives bit-identical parameters and the same next loss as an uninterrupted run",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    const straight = makeRun(gpu, 5);
    const straightLosses = [];
    for (let i = 0; i < 6; i++) straightLosses.push(await straight.step());
    const straightParams = await straight.store.params.read();

    const first = makeRun(gpu, 5);
    for (let i = 0; i < 3; i++) await first.step();
    await saveCheckpoint(`${dir}/run.safetensors`, first.store, first.optimizer, {
      step: 3,
      rngState: 1234,
      config: { K },
    });
    first.destroy();

    const resumed = makeRun(gpu, 77); // different initial parameters, overwritten by the load
    const state = await loadCheckpoint(`${dir}/run.safetensors`, resumed.store, resumed.optimizer);
    assert.deepEqual(state, { step: 3, rngState: 1234, config: { K } });
    assert.equal(resumed.optimizer.step, 3);
    const resumedLosses = [];
    for (let i = 0; i < 3; i++) resumedLosses.push(await resumed.step());
    assert.deepEqual(resumedLosses, straightLosses.slice(3), "losses after resuming");
    assert.deepEqual(await resumed.store.params.read(), straightParams, "parameters after 6 steps, bit for bit");
    assert.ok(straightLosses[5] < straightLosses[0], `the run learns: ${straightLosses.join(", ")}`);
    straight.destroy();
    resumed.destroy();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "truncated, corrupted and mismatched checkpoint files are rejected with errors that say what is wrong",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    const run = makeRun(gpu, 5);
    const path = `${dir}/good.safetensors`;
    await saveCheckpoint(path, run.store, run.optimizer, { step: 1 });
    const bytes = await Deno.readFile(path);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const cases: [string, Uint8Array, RegExp][] = [
      [
        "cut inside the data",
        bytes.slice(0, bytes.length - 100),
        /truncated: tensor "[^"]+" ends at byte \d+ of the data, which has \d+/,
      ],
      [
        "cut inside the header",
        bytes.slice(0, 8 + headerLength / 2),
        /truncated or corrupted: the header claims \d+ bytes/,
      ],
      ["only 5 bytes", bytes.slice(0, 5), /truncated: 5 bytes/],
      [
        "header bytes overwritten",
        (() => {
          const b = bytes.slice();
          b.fill(0x7b, 20, 40); // "{" in the middle of the JSON
          return b;
        })(),
        /corrupted header: not valid UTF-8 JSON/,
      ],
    ];
    for (const [label, content, message] of cases) {
      const bad = `${dir}/${label.replaceAll(" ", "_")}.safetensors`;
      await Deno.writeFile(bad, content);
      await assert.rejects(
        loadCheckpoint(bad, run.store, run.optimizer),
        (e: Error) => e instanceof CheckpointError && message.test(e.message),
        label,
      );
    }
    const other = new ParameterStore(gpu);
    mlp(other, [D_IN, HIDDEN + 1, D_OUT]);
    other.build();
    await assert.rejects(
      loadCheckpoint(path, other, null),
      /tensor "param\/mlp\.0\.weight" has shape \[12, 10\], the model expects \[12, 11\]/,
    );
    const sgd = new Optimizer(gpu, run.store, { kind: "sgd", lr: 0.1 });
    await assert.rejects(loadCheckpoint(path, run.store, sgd), /saved with optimizer "adam", loading into "sgd"/);
    sgd.destroy();
    other.destroy();
    run.destroy();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a checkpoint whose step, optimizer_step or rng_state is not a count is rejected before the model is touched",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    const run = makeRun(gpu, 5);
    const good = `${dir}/good.safetensors`;
    await saveCheckpoint(good, run.store, run.optimizer, { step: 3, rngState: 7 });
    const { tensors, metadata } = await readSafetensors(good);
    await run.step();
    const params = await run.store.params.read();
    const optimizerStep = run.optimizer.step;
    const cases: [string, Record<string, string>, RegExp][] = [
      ["step in exponent form", { step: "1e3" }, /metadata step "1e3" is not a step count/],
      ["empty step", { step: "" }, /metadata step "" is not a step count/],
      ["negative optimizer_step", { optimizer_step: "-1" }, /metadata optimizer_step "-1" is not a step count/],
      [
        "missing optimizer_step",
        { optimizer_step: undefined! },
        /metadata optimizer_step undefined is not a step count/,
      ],
      [
        "rng_state past 32 bits",
        { rng_state: "4294967296" },
        /metadata rng_state "4294967296" is not a 32-bit RNG state/,
      ],
      ["fractional rng_state", { rng_state: "1.5" }, /metadata rng_state "1\.5" is not a 32-bit RNG state/],
    ];
    for (const [label, change, message] of cases) {
      const bad = `${dir}/${label.replaceAll(" ", "_")}.safetensors`;
      const changed = Object.fromEntries(
        Object.entries({ ...metadata, ...change }).filter(([, v]) => v !== undefined),
      );
      await Deno.writeFile(bad, encodeSafetensors(tensors, changed));
      await assert.rejects(
        loadCheckpoint(bad, run.store, run.optimizer),
        (e: Error) => e instanceof CheckpointError && message.test(e.message),
        label,
      );
    }
    assert.deepEqual(await run.store.params.read(), params, "the parameters are untouched");
    assert.equal(run.optimizer.step, optimizerStep, "the optimizer's step is untouched");
    run.destroy();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a crash between writing and renaming leaves the previous checkpoint loadable",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const dir = await Deno.makeTempDir();
    const run = makeRun(gpu, 5);
    const path = `${dir}/ckpt.safetensors`;
    await run.step();
    await saveCheckpoint(path, run.store, run.optimizer, { step: 1 });
    const saved = await run.store.params.read();
    await run.step();
    await assert.rejects(
      saveCheckpoint(path, run.store, run.optimizer, { step: 2 }, {
        beforeRename: () => {
          throw new Error("simulated crash");
        },
      }),
      /simulated crash/,
    );
    const state = await loadCheckpoint(path, run.store, run.optimizer);
    assert.equal(state.step, 1);
    assert.deepEqual(await run.store.params.read(), saved);
    run.destroy();
    await Deno.remove(dir, { recursive: true });
  },
});
