/**
 * The standard training step (issue 4's step W): a 784→256→128 ReLU MLP with
 * L2-normalised output, shared between anchors and candidates, B = 256
 * anchors each with 1 positive and K negatives, every candidate encoded,
 * InfoNCE at τ = 0.1, Adam. Timed for ncegpu and, in the same run on the
 * same adapter, for the same step written with TensorFlow.js's WebGPU
 * backend (an npm import here only, never a library dependency); and, when
 * /usr/bin/python3 imports torch, in PyTorch on the CPU (bench/torch_step.py).
 * ncegpu's matmuls run the variants measured at the step's own shapes.
 */

// TensorFlow.js is imported inline, not through deno.json, so that it can never become a library dependency.
// The union package registers the gradients that tfjs-core's own bundle leaves out.
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import type { Gpu } from "../src/gpu/device.ts";
import { median } from "../src/gpu/_median.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { mlp } from "../src/nn/sequential.ts";
import { ParameterStore } from "../src/nn/parameters.ts";
import { TrainingStep } from "../src/train/step.ts";
import { boundMatmuls } from "../src/ops/matmul.ts";
import { tuneMatmulShapes } from "../src/ops/matmul_tuning.ts";
import { seededRandom } from "../src/data/random.ts";
import { type TorchProbe, torchStep } from "./torch_step.ts";

/** The TensorFlow.js version the step is compared with. */
export const TFJS_VERSION: string = tf.version.tfjs;

/** One K of the comparison. */
export interface StepRow {
  k: number;
  b: number;
  /** Median wall ms of one step with a wait for the GPU after it (latency: includes one device poll, ~11 ms here). */
  ncegpuMs: number;
  tfjsMs: number;
  speedup: number;
  /** Wall ms per step over `pipelinedSteps` steps submitted back to back with one wait at the end (throughput). */
  ncegpuPipelinedMs: number;
  tfjsPipelinedMs: number;
  /** Steps in the pipelined runs (about 4 s of ncegpu's, 5 to 40). */
  pipelinedSteps: number;
  pipelinedSpeedup: number;
  ncegpuLoss: number;
  tfjsLoss: number;
  /** PyTorch (CPU) median ms/step; null when the column is skipped. */
  torchMs: number | null;
  /** PyTorch ms / ncegpu ms; null when skipped. */
  torchRatio: number | null;
  /** PyTorch's first loss; null when skipped. */
  torchLoss: number | null;
}

const DIMS = [784, 256, 128];
const TAU = 0.1;
const LR = 1e-3;

function inputs(b: number, k: number): { xq: Float32Array; xc: Float32Array } {
  const random = seededRandom(42);
  return {
    xq: Float32Array.from({ length: b * DIMS[0] }, () => random()),
    xc: Float32Array.from({ length: b * (1 + k) * DIMS[0] }, () => random()),
  };
}

async function ncegpuStep(gpu: Gpu, b: number, k: number, iterations: number) {
  const { xq: hq, xc: hc } = inputs(b, k);
  const store = new ParameterStore(gpu, { seed: 1 });
  const net = mlp(store, DIMS, { activation: "relu" });
  store.build();
  const flat = (await store.params.read()) as Float32Array;
  const initial: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const s of store.slots) initial[s.name] = { shape: [...s.shape], data: flat.slice(s.offset, s.offset + s.size) };
  const xq = Tensor.from(gpu, hq, [b, DIMS[0]]);
  const xc = Tensor.from(gpu, hc, [b * (1 + k), DIMS[0]]);
  const bind = () =>
    new TrainingStep(gpu, { store, query: net, candidate: net, xq, xc }, {
      loss: { kMax: k, tau: TAU, indices: Uint32Array.from({ length: b * (1 + k) }, (_, s) => s) },
      optimizer: { kind: "adam", lr: LR },
    });
  // The step's own shapes are measured (validated first) and the step is bound again with the fastest variants.
  let step = bind();
  const tuned = await tuneMatmulShapes(gpu, boundMatmuls(gpu), { iterations: 2 });
  if (tuned.length > 0) {
    step.destroy();
    step = bind();
  }
  const times: number[] = [];
  for (let i = 0; i <= iterations; i++) {
    const t0 = performance.now();
    await step.run();
    await gpu.sync("bench:step");
    if (i > 0) times.push(performance.now() - t0); // the first run warms up
  }
  // Pipelined, as a training loop runs: steps submitted back to back, one wait at the end; about 4 s of them (at
  // least `iterations`, at most 40), so that the one wait weighs little. TF.js runs as many.
  const pipelinedSteps = Math.min(40, Math.max(iterations, Math.ceil(4000 / median(times))));
  const t0 = performance.now();
  for (let i = 0; i < pipelinedSteps; i++) await step.run();
  await gpu.sync("bench:step");
  const pipelinedMs = (performance.now() - t0) / pipelinedSteps;
  const firstLoss = (await step.flush())[0].meanLoss;
  for (const t of [step, xq, xc, store]) t.destroy();
  gpu.trimPool();
  return { ms: median(times), pipelinedMs, pipelinedSteps, loss: firstLoss, initial };
}

/** The same step in TensorFlow.js, starting from ncegpu's initial parameters so that the first losses must agree. */
async function tfjsStep(
  b: number,
  k: number,
  iterations: number,
  pipelinedSteps: number,
  initial: Record<string, { data: Float32Array }>,
) {
  const { xq: hq, xc: hc } = inputs(b, k);
  const w1 = tf.variable(tf.tensor2d(initial["mlp.0.weight"].data, [DIMS[0], DIMS[1]]));
  const b1 = tf.variable(tf.tensor1d(initial["mlp.0.bias"].data));
  const w2 = tf.variable(tf.tensor2d(initial["mlp.1.weight"].data, [DIMS[1], DIMS[2]]));
  const b2 = tf.variable(tf.tensor1d(initial["mlp.1.bias"].data));
  const xq = tf.tensor2d(hq, [b, DIMS[0]]);
  const xc = tf.tensor2d(hc, [b * (1 + k), DIMS[0]]);
  const optimizer = tf.train.adam(LR, 0.9, 0.999, 1e-8); // ncegpu's ε (TF.js's default is 1e-7)
  const encode = (x: tf.Tensor2D) => {
    const y = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2);
    return tf.div(y, tf.maximum(tf.norm(y, 2, 1, true), 1e-12));
  };
  const lossOf = () => {
    const q = encode(xq); // [B, D]
    const c = tf.reshape(encode(xc), [b, 1 + k, DIMS[2]]); // slot (i, j) is candidate i·(1+K)+j
    const logits = tf.div(tf.sum(tf.mul(tf.expandDims(q, 1), c), 2), TAU); // [B, 1+K]
    const positive = tf.squeeze(tf.slice(logits, [0, 0], [b, 1]), [1]);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), positive)) as tf.Scalar;
  };
  const times: number[] = [];
  let firstLoss = NaN;
  for (let i = 0; i <= iterations; i++) {
    const t0 = performance.now();
    const loss = optimizer.minimize(lossOf, true)!;
    const value = (await loss.data())[0]; // waits for the step on the GPU
    loss.dispose();
    if (i === 0) firstLoss = value;
    else times.push(performance.now() - t0);
  }
  // Pipelined: as many steps as ncegpu's, queued back to back, one read (of the last loss) at the end.
  const t0 = performance.now();
  let last: tf.Scalar | null = null;
  for (let i = 0; i < pipelinedSteps; i++) {
    last?.dispose();
    last = optimizer.minimize(lossOf, true)!;
  }
  await last!.data();
  last!.dispose();
  const pipelinedMs = (performance.now() - t0) / pipelinedSteps;
  for (const t of [w1, b1, w2, b2, xq, xc]) t.dispose();
  optimizer.dispose();
  return { ms: median(times), pipelinedMs, loss: firstLoss };
}

/** Whether the first losses of the same start agree: to 1e-4 relative to the other library's. */
function agrees(ours: number, theirs: number): boolean {
  return Math.abs(ours - theirs) <= 1e-4 * Math.abs(theirs);
}

/**
 * Times the standard step for each K in ncegpu, TF.js and, when `torch` has a version, PyTorch.
 *
 * @param gpu ncegpu's context (TF.js requests its own device from the same adapter).
 * @param log Progress messages.
 * @param torch From `probeTorch`: the PyTorch column runs when it holds a version.
 * @param ks The K values.
 * @returns One row per K.
 */
export async function benchStep(
  gpu: Gpu,
  log: (line: string) => void,
  torch: TorchProbe,
  ks = [1, 4, 16, 64],
): Promise<StepRow[]> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const b = 256;
  const rows: StepRow[] = [];
  for (const k of ks) {
    const iterations = k >= 16 ? 3 : 5;
    log(`step: B=${b}, K=${k}: ncegpu`);
    const ours = await ncegpuStep(gpu, b, k, iterations);
    log(
      `step: B=${b}, K=${k}: ncegpu ${ours.ms.toFixed(0)} ms (pipelined ${ours.pipelinedMs.toFixed(0)}); TensorFlow.js`,
    );
    const theirs = await tfjsStep(b, k, iterations, ours.pipelinedSteps, ours.initial);
    log(`step: B=${b}, K=${k}: TensorFlow.js ${theirs.ms.toFixed(0)} ms (pipelined ${theirs.pipelinedMs.toFixed(0)})`);
    // Validate: the same parameters and inputs give the same first loss (1e-4 relative).
    if (!agrees(ours.loss, theirs.loss)) {
      throw new Error(`K=${k}: first-step loss ${ours.loss} (ncegpu) differs from ${theirs.loss} (TensorFlow.js)`);
    }
    let py: { ms: number; loss: number } | null = null;
    if ("version" in torch) {
      log(`step: B=${b}, K=${k}: PyTorch ${torch.version} (CPU, ${torch.threads} threads)`);
      const { xq, xc } = inputs(b, k);
      // The script checks its first loss against ours (1e-4 relative) and fails otherwise; checked here again.
      py = await torchStep({ b, k, tau: TAU, lr: LR, iterations, expectLoss: ours.loss, params: ours.initial, xq, xc });
      if (!agrees(py.loss, ours.loss)) {
        throw new Error(`K=${k}: first-step loss ${py.loss} (PyTorch) differs from ${ours.loss} (ncegpu)`);
      }
      log(`step: B=${b}, K=${k}: PyTorch ${py.ms.toFixed(0)} ms`);
    }
    rows.push({
      k,
      b,
      ncegpuMs: ours.ms,
      tfjsMs: theirs.ms,
      speedup: theirs.ms / ours.ms,
      ncegpuPipelinedMs: ours.pipelinedMs,
      tfjsPipelinedMs: theirs.pipelinedMs,
      pipelinedSteps: ours.pipelinedSteps,
      pipelinedSpeedup: theirs.pipelinedMs / ours.pipelinedMs,
      ncegpuLoss: ours.loss,
      tfjsLoss: theirs.loss,
      torchMs: py?.ms ?? null,
      torchRatio: py ? py.ms / ours.ms : null,
      torchLoss: py?.loss ?? null,
    });
  }
  return rows;
}
