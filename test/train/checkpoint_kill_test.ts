import assert from "node:assert/strict";
import { mlp } from "../../src/nn/sequential.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { Optimizer } from "../../src/optim/optimizer.ts";
import { loadCheckpoint } from "../../src/train/checkpoint.ts";
import { CHILD_DIMS, stateHash } from "./_save_child.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom } from "../util/random.ts";

const TRIALS = 30;

Deno.test({
  name:
    `a process killed with SIGKILL at ${TRIALS} random moments always leaves a checkpoint of the previous or the new state, bit for bit`,
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("kill during save"));
    const dir = await Deno.makeTempDir();
    const path = `${dir}/run.safetensors`;
    const store = new ParameterStore(gpu, { seed: 1 });
    mlp(store, CHILD_DIMS);
    store.build();
    const optimizer = new Optimizer(gpu, store, { kind: "adam", lr: 1e-2 });
    const child = new URL("./_save_child.ts", import.meta.url).pathname;
    const outcomes = { previous: 0, new: 0, midSave: 0 };
    for (let trial = 0; trial < TRIALS; trial++) {
      const process = new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", "--allow-read", "--allow-write", "--allow-env", child, path],
        stdout: "piped",
        stderr: "null",
        env: { NO_COLOR: "1" },
      }).spawn();
      const lines = process.stdout.pipeThrough(new TextDecoderStream());
      let text = "";
      let killed = false;
      const reader = lines.getReader();
      // Kill at a random moment up to 400 ms after the child's first completed save: a step and a save take
      // tens of ms here, so the kills land in every phase (training, reading back, writing, flushing, renaming).
      const delay = 400 * random();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        if (!killed && /^saved /m.test(text)) {
          killed = true;
          setTimeout(() => process.kill("SIGKILL"), delay);
        }
      }
      const status = await process.status;
      assert.equal(status.signal, "SIGKILL", `trial ${trial}: the child died of the kill (${JSON.stringify(status)})`);
      const saving = [...text.matchAll(/^saving (\d+) ([0-9a-f]{64})$/gm)].map((m) => ({ step: +m[1], hash: m[2] }));
      const saved = [...text.matchAll(/^saved (\d+)$/gm)].map((m) => +m[1]);
      const previous = saved.at(-1)!;
      const inFlight = saving.at(-1)!;
      const state = await loadCheckpoint(path, store, optimizer);
      const hash = await stateHash(
        (await store.params.read()) as Float32Array,
        (await optimizer.m.read()) as Float32Array,
        (await optimizer.v.read()) as Float32Array,
      );
      const expected = saving.find((s) => s.step === state.step);
      assert.ok(
        state.step === previous || state.step === inFlight.step,
        `trial ${trial}: the file holds step ${state.step}, neither the last completed save (${previous}) nor the one in flight (${inFlight.step})`,
      );
      assert.equal(hash, expected!.hash, `trial ${trial}: step ${state.step} is bit-exact`);
      outcomes[state.step === previous ? "previous" : "new"]++;
      if (inFlight.step > previous) outcomes.midSave++;
    }
    // Kills that land mid-save are what this test is for: it proves nothing if none did (about 2 in 5 do).
    assert.ok(outcomes.midSave > 0, `no kill of ${TRIALS} landed between "saving" and "saved"`);
    console.log(
      `kills: ${outcomes.midSave} of ${TRIALS} between "saving" and "saved"; the file held the previous state ` +
        `${outcomes.previous} times, the new one ${outcomes.new} times`,
    );
    optimizer.destroy();
    store.destroy();
    await Deno.remove(dir, { recursive: true });
  },
});
