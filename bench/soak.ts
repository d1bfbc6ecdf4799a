/**
 * Soak: runs many training steps in a loop and reports whether GPU memory
 * grows. Every buffer is allocated when the step is bound, so live buffers
 * and bytes must be the same after step 1 and after the last step.
 *
 *   deno task soak [--steps 10000] [--dims 784,256,128] [--b 16] [--k 4]
 */

import { parseArgs } from "node:util";
import { requestGpu } from "../src/gpu/device.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { mlp } from "../src/nn/sequential.ts";
import { ParameterStore } from "../src/nn/parameters.ts";
import { TrainingStep } from "../src/train/step.ts";
import { seededRandom } from "../src/data/random.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    steps: { type: "string", default: "10000" },
    dims: { type: "string", default: "64,32,16" },
    b: { type: "string", default: "16" },
    k: { type: "string", default: "4" },
  },
});
const steps = Number(values.steps);
const dims = values.dims!.split(",").map(Number);
const [b, k] = [Number(values.b), Number(values.k)];
const gpu = await requestGpu();
console.log(
  `soak on ${gpu.info.description}: ${steps} steps, MLP ${dims.join("→")}, B=${b}, K=${k}, Adam, metrics every 10`,
);
const random = seededRandom(1);
const store = new ParameterStore(gpu, { seed: 1 });
const net = mlp(store, dims, { activation: "gelu" });
store.build();
const hostQ = new Float32Array(b * dims[0]);
const hostC = new Float32Array(b * (1 + k) * dims[0]);
const xq = Tensor.empty(gpu, [b, dims[0]]);
const xc = Tensor.empty(gpu, [b * (1 + k), dims[0]]);
const step = new TrainingStep(gpu, { store, query: net, candidate: net, xq, xc }, {
  loss: { kMax: k, tau: 0.1, indices: Uint32Array.from({ length: b * (1 + k) }, (_, s) => s) },
  optimizer: { kind: "adam", lr: 1e-3, clipNorm: 1 },
  metricsEvery: 10,
});

let after1: { liveBuffers: number; liveBytes: number; buffersAllocated: number } | null = null;
const started = performance.now();
let lastLoss = NaN;
for (let s = 1; s <= steps; s++) {
  for (let i = 0; i < hostQ.length; i++) hostQ[i] = 2 * random() - 1;
  for (let i = 0; i < hostC.length; i++) hostC[i] = 2 * random() - 1;
  xq.write(hostQ);
  xc.write(hostC);
  await step.run();
  for (const m of step.takeMetrics()) lastLoss = m.meanLoss;
  if (s === 1) {
    await gpu.sync("soak");
    const { liveBuffers, liveBytes, buffersAllocated } = gpu.counters;
    after1 = { liveBuffers, liveBytes, buffersAllocated };
  }
  if (s % Math.max(1, Math.floor(steps / 10)) === 0) {
    const rate = s / ((performance.now() - started) / 1000);
    console.log(
      `step ${s}: live buffers ${gpu.counters.liveBuffers}, live bytes ${gpu.counters.liveBytes}, ` +
        `buffers allocated ${gpu.counters.buffersAllocated}, loss ${lastLoss.toFixed(4)}, ${rate.toFixed(0)} steps/s`,
    );
  }
}
await step.flush();
await gpu.sync("soak");
const end = gpu.counters;
const grew = end.liveBuffers !== after1!.liveBuffers || end.liveBytes !== after1!.liveBytes ||
  end.buffersAllocated !== after1!.buffersAllocated;
console.log(
  `after step 1: ${after1!.liveBuffers} buffers, ${after1!.liveBytes} bytes; after step ${steps}: ` +
    `${end.liveBuffers} buffers, ${end.liveBytes} bytes; allocations in the loop: ${
      end.buffersAllocated - after1!.buffersAllocated
    } → ${grew ? "GREW" : "flat"}`,
);
gpu.destroy();
if (grew) Deno.exit(1);
