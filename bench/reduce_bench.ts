/**
 * Column-sum benchmark: the bias gradient Σ over rows of dY by columnSums
 * against the ones-vector matmul it replaced (onesᵀ·dY in form "tn", naive
 * variant: the one tuning had chosen at these shapes), at the standard step's
 * shapes, timed in the same run.
 */

import type { Gpu } from "../src/gpu/device.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { timeGpu } from "../src/gpu/timing.ts";
import { MatmulKernel } from "../src/ops/matmul.ts";
import { columnSums } from "../src/ops/reduce.ts";
import { seededRandom } from "../src/data/random.ts";

/** One row of the report. */
export interface ReduceBenchRow {
  rows: number;
  cols: number;
  /** "columnSums" or the baseline "ones matmul (naive)". */
  path: string;
  /** Median ms per sum. */
  medianMs: number;
  /** Bytes of x read per second, GB/s. */
  gbPerS: number;
  /** Baseline time divided by this path's. */
  speedup: number;
}

/**
 * Times both at the step's bias-gradient shapes (K = 16 and 64 at B = 256) and an odd one.
 *
 * @param gpu The context.
 * @param log Progress messages.
 * @returns Two rows per shape.
 */
export async function benchReduce(gpu: Gpu, log: (line: string) => void): Promise<ReduceBenchRow[]> {
  const random = seededRandom(5);
  const out: ReduceBenchRow[] = [];
  for (const [rows, cols] of [[4608, 256], [16896, 256], [16896, 128], [1031, 7]]) {
    log(`reduce: column sums of ${rows} × ${cols}`);
    const x = Tensor.from(gpu, Float32Array.from({ length: rows * cols }, () => random() - 0.5), [rows, cols]);
    const ones = Tensor.empty(gpu, [rows, 1]);
    ones.fill(1);
    const sums = Tensor.zeros(gpu, [1, cols]);
    const paths = [
      ["ones matmul (naive)", new MatmulKernel(gpu, ones, x, { form: "tn", out: sums, variant: "naive" })],
      ["columnSums", columnSums(gpu, x, sums)],
    ] as const;
    const ms: number[] = [];
    for (const [, work] of paths) {
      ms.push((await timeGpu(gpu, (pass) => work.encode(pass), { warmup: 1, iterations: 7 })).medianMs);
      work.destroy();
    }
    paths.forEach(([path], i) =>
      out.push({ rows, cols, path, medianMs: ms[i], gbPerS: (rows * cols * 4) / ms[i] / 1e6, speedup: ms[0] / ms[i] })
    );
    for (const t of [x, ones, sums]) t.destroy();
  }
  return out;
}
