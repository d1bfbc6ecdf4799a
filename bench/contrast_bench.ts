/**
 * Contrastive-loss benchmark. Validates the loss against float64 first, then
 * times (a) the sampled-K loss against the encoder work of the same
 * standard step, and (b) the tiled in-batch losses (NT-Xent and SupCon)
 * against the materialised ones at equal size.
 */

import type { Gpu } from "../src/gpu/device.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { timeGpu } from "../src/gpu/timing.ts";
import { NtXentLoss } from "../src/losses/nt_xent.ts";
import { SampledContrastiveLoss } from "../src/losses/sampled.ts";
import { SupConLoss } from "../src/losses/supcon.ts";
import type { NegativeWeighting } from "../src/losses/weighting.ts";
import { type MatmulForm, MatmulKernel } from "../src/ops/matmul.ts";
import { seededRandom } from "../src/data/random.ts";
import { batch, sampledRows, supcon } from "../test/util/contrast_reference.ts";

/** Loss time against encoder time in one standard step. */
export interface LossStepRow {
  weighting: string;
  b: number;
  k: number;
  d: number;
  lossMs: number;
  encoderMs: number;
  lossShare: number;
}

/** Tiled against materialised in-batch loss at one size. */
export interface LayoutRow {
  /** "NT-Xent" or "SupCon". */
  loss: string;
  layout: string;
  rows: number;
  d: number;
  tile: number;
  medianMs: number;
  peakMiB: number;
  ratio: number;
}

function randomTensor(gpu: Gpu, shape: number[], seed: number, scale = 1): Tensor {
  const random = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(gpu, Float32Array.from({ length: n }, () => (2 * random() - 1) * scale), shape);
}

async function validate(gpu: Gpu): Promise<void> {
  const [b, d, n, kMax] = [13, 33, 29, 7];
  const random = seededRandom(11);
  const q64 = Float64Array.from({ length: b * d }, () => 2 * random() - 1);
  const c64 = Float64Array.from({ length: n * d }, () => 2 * random() - 1);
  const idx = Uint32Array.from({ length: b * (kMax + 1) }, () => Math.floor(random() * n));
  const q = Tensor.from(gpu, new Float32Array(q64), [b, d]);
  const c = Tensor.from(gpu, new Float32Array(c64), [n, d]);
  const loss = new SampledContrastiveLoss(gpu, q, c, { kMax, tau: 2, indices: idx });
  loss.run();
  const got = (await loss.readReadouts()).meanLoss;
  const expected = batch(sampledRows(q64, c64, idx, { b, d, k: kMax, kMax }), 2, { kind: "infonce" }).meanLoss;
  loss.destroy();
  q.destroy();
  c.destroy();
  if (!(Math.abs(got - expected) <= 1e-4 * Math.abs(expected))) {
    throw new Error(`contrastive loss is wrong: ${got} against float64 ${expected}`);
  }
  // SupCon, tiled over 2×2 tiles with a partial one, 10 classes.
  const [rows, dz] = [97, 33];
  const z64 = Float64Array.from({ length: rows * dz }, () => 2 * random() - 1);
  const labels = Array.from({ length: rows }, () => Math.floor(random() * 10));
  const z = Tensor.from(gpu, new Float32Array(z64), [rows, dz]);
  const sup = new SupConLoss(gpu, z, { tau: 2, tile: 64, labels });
  sup.run();
  const gotSup = (await sup.readReadouts()).meanLoss;
  const expectedSup = supcon(z64, labels, { n: rows, d: dz }, 2, { kind: "infonce" }).meanLoss;
  sup.destroy();
  z.destroy();
  if (!(Math.abs(gotSup - expectedSup) <= 1e-4 * Math.abs(expectedSup))) {
    throw new Error(`SupCon loss is wrong: ${gotSup} against float64 ${expectedSup}`);
  }
}

/**
 * The five matmuls of a 784→256→128 MLP's forward and backward over `rows`
 * inputs: the encoder work of one step, without the activation and
 * normalisation kernels (not built yet), so a lower bound.
 */
function encoderKernels(gpu: Gpu, rows: number): { kernels: MatmulKernel[]; tensors: Tensor[] } {
  const x = randomTensor(gpu, [rows, 784], 1);
  const w1 = randomTensor(gpu, [784, 256], 2, 0.05);
  const w2 = randomTensor(gpu, [256, 128], 3, 0.05);
  const h = Tensor.empty(gpu, [rows, 256]);
  const y = Tensor.empty(gpu, [rows, 128]);
  const dW1 = Tensor.empty(gpu, [784, 256]);
  const dW2 = Tensor.empty(gpu, [256, 128]);
  const dH = Tensor.empty(gpu, [rows, 256]);
  const mm = (a: Tensor, b: Tensor, form: MatmulForm, out: Tensor) => new MatmulKernel(gpu, a, b, { form, out });
  const kernels = [
    mm(x, w1, "nn", h),
    mm(h, w2, "nn", y),
    mm(h, y, "tn", dW2), // dW2 = Hᵀ·dY (y stands in for dY)
    mm(y, w2, "nt", dH), // dH = dY·W2ᵀ
    mm(x, dH, "tn", dW1), // dW1 = Xᵀ·dH
  ];
  return { kernels, tensors: [x, w1, w2, h, y, dW1, dW2, dH] };
}

/**
 * Times the sampled loss against the encoder of the standard step (B = 256
 * anchors, each with 1 positive and K negatives, every candidate encoded:
 * B·(2 + K) encoder rows), and tiled against materialised in-batch losses.
 *
 * @param gpu The context.
 * @param log Progress messages.
 * @returns The two tables' rows.
 */
export async function benchContrast(
  gpu: Gpu,
  log: (line: string) => void,
): Promise<{ steps: LossStepRow[]; layouts: LayoutRow[] }> {
  log("contrast: validating against float64");
  await validate(gpu);
  const b = 256;
  const d = 128;
  const kMax = 64;
  const steps: LossStepRow[] = [];
  const weightings: [string, NegativeWeighting][] = [["InfoNCE", "infonce"], ["ADNCE", "adnce"]];
  for (const k of [1, 4, 16, 64]) {
    const n = b * (1 + k);
    const q = randomTensor(gpu, [b, d], 4, 0.1);
    const c = randomTensor(gpu, [n, d], 5, 0.1);
    const indices = Uint32Array.from({ length: b * (kMax + 1) }, (_, s) => {
      const i = Math.floor(s / (kMax + 1));
      const j = s % (kMax + 1);
      return j <= k ? i * (1 + k) + j : 0; // every slot its own candidate
    });
    log(`contrast: encoder for B=${b}, K=${k} (${b * (2 + k)} rows)`);
    const encoder = encoderKernels(gpu, b * (2 + k));
    const encoderMs = (await timeGpu(gpu, (pass) => encoder.kernels.forEach((m) => m.encode(pass)), {
      op: "bench:encoder",
      warmup: 1,
      iterations: 3,
    })).medianMs;
    encoder.kernels.forEach((m) => m.destroy());
    encoder.tensors.forEach((t) => t.destroy());
    for (const [name, weighting] of weightings) {
      const loss = new SampledContrastiveLoss(gpu, q, c, { kMax, tau: 0.1, weighting, indices });
      loss.setK(k);
      const lossMs = (await timeGpu(gpu, (pass) => loss.encode(pass), {
        op: "bench:loss",
        warmup: 1,
        iterations: 9,
      })).medianMs;
      log(`contrast: ${name} K=${k} loss ${lossMs.toFixed(2)} ms, encoder ${encoderMs.toFixed(0)} ms`);
      steps.push({ weighting: name, b, k, d, lossMs, encoderMs, lossShare: lossMs / (lossMs + encoderMs) });
      loss.destroy();
    }
    q.destroy();
    c.destroy();
  }

  const layouts: LayoutRow[] = [];
  const rows = 4096;
  const z = randomTensor(gpu, [rows, d], 6, 0.15);
  // SupCon at the same size: 10 classes, as in Fashion-MNIST.
  const random = seededRandom(7);
  const labels = Array.from({ length: rows }, () => Math.floor(random() * 10));
  const losses = [
    ["NT-Xent", (tile?: number) => new NtXentLoss(gpu, z, { tile })],
    ["SupCon", (tile?: number) => new SupConLoss(gpu, z, { tile, labels })],
  ] as const;
  for (const [name, make] of losses) {
    let materialisedMs = 0;
    for (const tile of [undefined, 1024, 512]) {
      const before = gpu.counters.liveBytes;
      gpu.resetPeak();
      const loss = make(tile);
      log(`contrast: in-batch ${name} N=${rows} D=${d} ${loss.layout} tile ${loss.tile}`);
      const medianMs = (await timeGpu(gpu, (pass) => loss.encode(pass), {
        op: "bench:in-batch",
        warmup: 1,
        iterations: 3,
      })).medianMs;
      if (loss.layout === "materialised") materialisedMs = medianMs;
      layouts.push({
        loss: name,
        layout: loss.layout,
        rows,
        d,
        tile: loss.tile,
        medianMs,
        peakMiB: (gpu.counters.peakLiveBytes - before) / 2 ** 20,
        ratio: medianMs / materialisedMs,
      });
      loss.destroy();
      gpu.trimPool();
    }
  }
  z.destroy();
  return { steps, layouts };
}
