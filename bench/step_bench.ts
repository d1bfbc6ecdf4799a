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
  /** Median over the rounds of wall ms per step, `pipelinedSteps` steps submitted back to back and one wait (throughput). */
  ncegpuPipelinedMs: number;
  tfjsPipelinedMs: number;
  /** Steps in each pipelined run (about 4 s of ncegpu's, 5 to 40). */
  pipelinedSteps: number;
  /** TF.js / ncegpu in each round of pipelined runs (the medians of the rounds give `pipelinedSpeedup`). */
  pipelinedRounds: number[];
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
const PIPELINED_ROUNDS = 3;
const LR = 1e-3;

function inputs(b: number, k: number): { xq: Float32Array; xc: Float32Array } {
  const random = seededRandom(42);
  return {
    xq: Float32Array.from({ length: b * DIMS[0] }, () => random()),
    xc: Float32Array.from({ length: b * (1 + k) * DIMS[0] }, () => random()),
  };
}

/** One library's step, bound once: waited steps, pipelined runs, its first loss. */
interface StepRunner {
  /** Median wall ms of `iterations` steps, each followed by a wait (after one warm-up step). */
  waited(iterations: number): Promise<number>;
  /** Wall ms per step over `steps` steps submitted back to back with one wait at the end. */
  pipelined(steps: number): Promise<number>;
  /** The loss of the first step run. */
  firstLoss(): Promise<number>;
  destroy(): void;
}

async function ncegpuRunner(gpu: Gpu, b: number, k: number) {
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
  const runner: StepRunner = {
    async waited(iterations) {
      const times: number[] = [];
      for (let i = 0; i <= iterations; i++) {
        const t0 = performance.now();
        await step.run();
        await gpu.sync("bench:step");
        if (i > 0) times.push(performance.now() - t0); // the first run warms up
      }
      return median(times);
    },
    async pipelined(steps) {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await step.run();
      await gpu.sync("bench:step");
      return (performance.now() - t0) / steps;
    },
    async firstLoss() {
      return (await step.flush())[0].meanLoss;
    },
    destroy() {
      for (const t of [step, xq, xc, store]) t.destroy();
      gpu.trimPool();
    },
  };
  return { runner, initial };
}

/** The same step in TensorFlow.js, starting from ncegpu's initial parameters so that the first losses must agree. */
function tfjsRunner(b: number, k: number, initial: Record<string, { data: Float32Array }>): StepRunner {
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
  let first = NaN;
  return {
    async waited(iterations) {
      const times: number[] = [];
      for (let i = 0; i <= iterations; i++) {
        const t0 = performance.now();
        const loss = optimizer.minimize(lossOf, true)!;
        const value = (await loss.data())[0]; // waits for the step on the GPU
        loss.dispose();
        if (Number.isNaN(first)) first = value;
        if (i > 0) times.push(performance.now() - t0);
      }
      return median(times);
    },
    async pipelined(steps) {
      const t0 = performance.now();
      let last: tf.Scalar | null = null;
      for (let i = 0; i < steps; i++) {
        last?.dispose();
        last = optimizer.minimize(lossOf, true)!;
      }
      await last!.data(); // one read, of the last loss
      last!.dispose();
      return (performance.now() - t0) / steps;
    },
    firstLoss: () => Promise.resolve(first),
    destroy() {
      for (const t of [w1, b1, w2, b2, xq, xc]) t.dispose();
      optimizer.dispose();
    },
  };
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
    const { runner: ours, initial } = await ncegpuRunner(gpu, b, k);
    const theirs = tfjsRunner(b, k, initial);
    let oursWaited: number, theirsWaited: number, oursLoss: number, theirsLoss: number, pipelinedSteps: number;
    const [oursRuns, theirsRuns]: number[][] = [[], []];
    try {
      oursWaited = await ours.waited(iterations);
      theirsWaited = await theirs.waited(iterations);
      // Pipelined, as a training loop runs: about 4 s of ncegpu's steps (at least `iterations`, at most 40) and as many
      // of TF.js's, submitted back to back with one wait at the end; three rounds, the libraries taking turns, so that
      // a slow spell of this shared host falls on both. Medians of the three.
      pipelinedSteps = Math.min(40, Math.max(iterations, Math.ceil(4000 / oursWaited)));
      for (let round = 0; round < PIPELINED_ROUNDS; round++) {
        oursRuns.push(await ours.pipelined(pipelinedSteps));
        theirsRuns.push(await theirs.pipelined(pipelinedSteps));
        log(
          `step: B=${b}, K=${k}: round ${round + 1}: ncegpu ${oursRuns[round].toFixed(0)} ms, TF.js ` +
            `${theirsRuns[round].toFixed(0)} ms per step (pipelined)`,
        );
      }
      [oursLoss, theirsLoss] = [await ours.firstLoss(), await theirs.firstLoss()];
    } finally {
      ours.destroy(); // whatever happened, neither library keeps its buffers
      theirs.destroy();
    }
    const [oursPipelined, theirsPipelined] = [median(oursRuns), median(theirsRuns)];
    // Validate: the same parameters and inputs give the same first loss (1e-4 relative).
    if (!agrees(oursLoss, theirsLoss)) {
      throw new Error(`K=${k}: first-step loss ${oursLoss} (ncegpu) differs from ${theirsLoss} (TensorFlow.js)`);
    }
    let py: { ms: number; loss: number } | null = null;
    if ("version" in torch) {
      log(`step: B=${b}, K=${k}: PyTorch ${torch.version} (CPU, ${torch.threads} threads)`);
      const { xq, xc } = inputs(b, k);
      // The script checks its first loss against ours (1e-4 relative) and fails otherwise; checked here again.
      py = await torchStep({ b, k, tau: TAU, lr: LR, iterations, expectLoss: oursLoss, params: initial, xq, xc });
      if (!agrees(py.loss, oursLoss)) {
        throw new Error(`K=${k}: first-step loss ${py.loss} (PyTorch) differs from ${oursLoss} (ncegpu)`);
      }
      log(`step: B=${b}, K=${k}: PyTorch ${py.ms.toFixed(0)} ms`);
    }
    rows.push({
      k,
      b,
      ncegpuMs: oursWaited,
      tfjsMs: theirsWaited,
      speedup: theirsWaited / oursWaited,
      ncegpuPipelinedMs: oursPipelined,
      tfjsPipelinedMs: theirsPipelined,
      pipelinedSteps,
      pipelinedRounds: oursRuns.map((ms, i) => theirsRuns[i] / ms),
      pipelinedSpeedup: theirsPipelined / oursPipelined,
      ncegpuLoss: oursLoss,
      tfjsLoss: theirsLoss,
      torchMs: py?.ms ?? null,
      torchRatio: py ? py.ms / oursWaited : null,
      torchLoss: py?.loss ?? null,
    });
  }
  return rows;
}
