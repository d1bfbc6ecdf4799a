/**
 * `deno task train` — until the contrastive trainer lands, a real, smaller
 * end-to-end GPU job: linear least squares trained by SGD, entirely on the
 * GPU, one submit per step, loss read back every few steps.
 *
 * Per step (one command buffer):
 *   dY  = −T                      copy
 *   dY += X·W + b                 matmul "nn", fused bias, accumulate  (residual)
 *   W  += (−η/B·X)ᵀ·dY            matmul "tn", accumulate              (SGD on W)
 *   b  += (−η/B·1)ᵀ·dY            matmul "tn", accumulate              (SGD on b)
 *
 * Usage: deno task train [--steps N] [--batch B] [--dim D] [--out O] [--lr η] [--seed S]
 */

import asciichart from "asciichart";
import { parseArgs } from "node:util";
import { gaussian, matmul, MatmulKernel, requestGpu, seededRandom, Tensor, tuneMatmul } from "../mod.ts";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "300" },
    batch: { type: "string", default: "1024" },
    dim: { type: "string", default: "256" },
    out: { type: "string", default: "64" },
    lr: { type: "string", default: "0.5" },
    seed: { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: deno task train [--steps 300] [--batch 1024] [--dim 256] [--out 64] [--lr 0.5] [--seed 1]\n" +
      "Trains Y = X·W + b by SGD on the GPU against a known W* and reports the recovery error.",
  );
  Deno.exit(0);
}
const steps = Number(values.steps), batch = Number(values.batch), dim = Number(values.dim);
const outDim = Number(values.out), lr = Number(values.lr);
for (const [name, v] of Object.entries({ steps, batch, dim, out: outDim })) {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`--${name} must be a positive integer: current value is ${v}`);
  }
}
if (!(lr > 0)) throw new RangeError(`--lr must be > 0: current value is ${values.lr}`);

// Seeded data: X ~ U(-1, 1)·√3 (unit variance), T = X·W* + b* + 0.01·noise.
const random = seededRandom(Number(values.seed));
const x = Float32Array.from({ length: batch * dim }, () => (2 * random() - 1) * Math.sqrt(3));
const wTrue = Float32Array.from({ length: dim * outDim }, () => gaussian(random) / Math.sqrt(dim));
const bTrue = Float32Array.from({ length: outDim }, () => gaussian(random));
const negNoise = Float32Array.from({ length: batch * outDim }, () => -0.01 * gaussian(random));

const gpu = await requestGpu();
console.log(`adapter: ${gpu.info.description}`);
await tuneMatmul(gpu, { size: 256, iterations: 1 });
console.log(`matmul variants chosen by measurement: ${JSON.stringify(Object.fromEntries(gpu.tuning))}`);

const X = Tensor.from(gpu, x, [batch, dim]);
const scaledX = Tensor.from(gpu, x.map((v) => (-lr / batch) * v), [batch, dim]);
const scaledOnes = Tensor.from(gpu, new Float32Array(batch).fill(-lr / batch), [batch, 1]);
// −T = X·(−W*) + (−b*) − 0.01·noise, computed by the library's own matmul.
const negWTrue = Tensor.from(gpu, wTrue.map((v) => -v), [dim, outDim]);
const negBTrue = Tensor.from(gpu, bTrue.map((v) => -v), [outDim]);
const NegT = Tensor.from(gpu, negNoise, [batch, outDim]);
matmul(gpu, X, negWTrue, { bias: negBTrue, out: NegT, accumulate: true });
negWTrue.destroy();
negBTrue.destroy();
const W = Tensor.zeros(gpu, [dim, outDim]);
const b = Tensor.zeros(gpu, [1, outDim]);
const dY = Tensor.empty(gpu, [batch, outDim]);
const forward = new MatmulKernel(gpu, X, W, { bias: b, out: dY, accumulate: true });
const updateW = new MatmulKernel(gpu, scaledX, dY, { form: "tn", out: W, accumulate: true });
const updateB = new MatmulKernel(gpu, scaledOnes, dY, { form: "tn", out: b, accumulate: true });

const every = Math.max(1, Math.floor(steps / 30));
const losses: number[] = [];
const buffersBefore = gpu.counters.buffersAllocated;
const start = performance.now();
for (let step = 1; step <= steps; step++) {
  const encoder = gpu.device.createCommandEncoder({ label: "train-step" });
  encoder.copyBufferToBuffer(NegT.buffer, 0, dY.buffer, 0, NegT.bytes);
  const pass = encoder.beginComputePass({ label: "train-step" });
  forward.encode(pass);
  updateW.encode(pass);
  updateB.encode(pass);
  pass.end();
  gpu.submit("train-step", encoder);
  if (step === 1 || step % every === 0 || step === steps) {
    // dY still holds this step's residual (the updates only read it).
    const r = (await dY.read()) as Float32Array;
    const loss = r.reduce((s, v) => s + v * v, 0) / (2 * r.length);
    losses.push(loss);
    const rate = step / ((performance.now() - start) / 1000);
    console.log(`step ${String(step).padStart(5)}/${steps}  loss ${loss.toExponential(3)}  ${rate.toFixed(1)} steps/s`);
  }
}
await gpu.sync("train");
const seconds = (performance.now() - start) / 1000;
const buffersInLoop = gpu.counters.buffersAllocated - buffersBefore;

const w = (await W.read()) as Float32Array;
let diff = 0, norm = 0;
for (let i = 0; i < w.length; i++) {
  diff += (w[i] - wTrue[i]) ** 2;
  norm += wTrue[i] ** 2;
}
console.log("\nloss (log10) over training:");
console.log(asciichart.plot(losses.map((l) => Math.log10(l)), { height: 10 }));
console.log(
  `\ntrained ${steps} steps of ${batch}×${dim}→${outDim} in ${seconds.toFixed(1)} s (${
    (steps / seconds).toFixed(1)
  } steps/s, ${(6 * batch * dim * outDim * steps / seconds / 1e9).toFixed(2)} GFLOP/s)`,
);
console.log(
  `loss ${losses[0].toExponential(3)} → ${losses.at(-1)!.toExponential(3)}; ‖W − W*‖/‖W*‖ = ${
    Math.sqrt(diff / norm).toExponential(3)
  }`,
);
console.log(
  `GPU buffers created inside the loop: ${buffersInLoop} (the loss read-back's staging buffer, then reused)`,
);
gpu.destroy();
