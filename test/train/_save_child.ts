/**
 * The child of test/train/checkpoint_kill_test.ts: trains a small model and
 * saves a checkpoint after every step, forever, printing before each save
 * the SHA-256 of the state it is about to write and after it that the save
 * returned. The parent kills it at random moments.
 *
 *   deno run --allow-read --allow-write --allow-env test/train/_save_child.ts PATH
 */

import { requestGpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { mlp } from "../../src/nn/sequential.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { saveCheckpoint } from "../../src/train/checkpoint.ts";
import { TrainingStep } from "../../src/train/step.ts";
import { seededRandom, uniform } from "../util/random.ts";

/** The model both processes build: the parent loads the checkpoint into the same one. */
export const CHILD_DIMS = [12, 10, 6];

/** SHA-256 of the parameters and both Adam moments, as hex: what a checkpoint must hold bit for bit. */
export async function stateHash(params: Float32Array, m: Float32Array, v: Float32Array): Promise<string> {
  const all = new Uint8Array(params.byteLength + m.byteLength + v.byteLength);
  all.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), 0);
  all.set(new Uint8Array(m.buffer, m.byteOffset, m.byteLength), params.byteLength);
  all.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), params.byteLength + m.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

if (import.meta.main) {
  const path = Deno.args[0];
  const gpu = await requestGpu();
  const random = seededRandom(7);
  const store = new ParameterStore(gpu, { seed: 7 });
  const encoder = mlp(store, CHILD_DIMS);
  store.build();
  const [b, k] = [6, 3];
  const xq = Tensor.from(gpu, uniform(random, b * CHILD_DIMS[0]), [b, CHILD_DIMS[0]]);
  const xc = Tensor.from(gpu, uniform(random, b * (1 + k) * CHILD_DIMS[0]), [b * (1 + k), CHILD_DIMS[0]]);
  const step = new TrainingStep(gpu, { store, query: encoder, candidate: encoder, xq, xc }, {
    loss: { kMax: k, indices: Uint32Array.from({ length: b * (1 + k) }, (_, s) => s) },
    optimizer: { kind: "adam", lr: 1e-2 },
  });
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  for (;;) {
    await step.run();
    await step.flush();
    const hash = await stateHash(
      (await store.params.read()) as Float32Array,
      (await step.optimizer.m.read()) as Float32Array,
      (await step.optimizer.v.read()) as Float32Array,
    );
    out(`saving ${step.step} ${hash}`);
    await saveCheckpoint(path, store, step.optimizer, { step: step.step });
    out(`saved ${step.step}`);
  }
}
