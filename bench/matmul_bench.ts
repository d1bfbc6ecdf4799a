/**
 * Matmul benchmark: validates each variant against float64 first, then times
 * the tuned variant against the one-thread-per-output kernel in the same run.
 */

import type { Gpu } from "../src/gpu/device.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { timeGpu } from "../src/gpu/timing.ts";
import { type MatmulForm, MatmulKernel, matmulOperandShapes } from "../src/ops/matmul.ts";
import { tuneMatmul } from "../src/ops/matmul_tuning.ts";
import { relativeFrobenius } from "../test/util/compare.ts";
import { runMatmulCase } from "../test/util/matmul_check.ts";

/** One row of the report. */
export interface MatmulBenchRow {
  op: string;
  form: MatmulForm;
  shape: string;
  variant: string;
  medianMs: number;
  gflops: number;
  baselineMs: number;
  speedup: number;
}

async function validate(gpu: Gpu, form: MatmulForm, variant: string): Promise<void> {
  const { got, expected } = await runMatmulCase(gpu, { m: 67, n: 45, k: 39, form, variant, seed: 7 });
  const err = relativeFrobenius(got, expected);
  if (!(err <= 1e-4)) throw new Error(`matmul ${form} ${variant} is wrong: relative error ${err}`);
}

async function time(gpu: Gpu, form: MatmulForm, m: number, n: number, k: number, variant: string, iterations: number) {
  const shapes = matmulOperandShapes(form, m, n, k);
  const a = Tensor.zeros(gpu, shapes.a);
  const b = Tensor.zeros(gpu, shapes.b);
  const kernel = new MatmulKernel(gpu, a, b, { form, variant });
  const t = await timeGpu(gpu, (pass) => kernel.encode(pass), {
    op: `bench:matmul:${variant}`,
    warmup: 1,
    iterations,
  });
  kernel.destroy();
  for (const x of [a, b, kernel.out]) x.destroy();
  return t.medianMs;
}

/**
 * Tunes, validates and times matmul.
 *
 * @param gpu The context.
 * @param log Progress messages.
 * @returns One row per (form, shape).
 */
export async function benchMatmul(gpu: Gpu, log: (line: string) => void): Promise<MatmulBenchRow[]> {
  log("matmul: tuning variants at 512³");
  for (const trial of await tuneMatmul(gpu, { size: 512, iterations: 3 })) {
    log(
      `  ${trial.form} ${trial.variant.padEnd(9)} ${trial.medianMs.toFixed(2)} ms  ${trial.gflops.toFixed(2)} GFLOP/s`,
    );
  }
  const shapes: [number, number, number][] = [[512, 512, 512], [1024, 1024, 1024], [256, 256, 784]];
  const rows: MatmulBenchRow[] = [];
  for (const form of ["nn", "nt", "tn"] as const) {
    const chosen = gpu.tuning.get(`matmul:${form}`)!;
    await validate(gpu, form, chosen);
    await validate(gpu, form, "naive");
    for (const [m, n, k] of shapes) {
      const big = m * n * k > 2e8;
      log(`matmul: ${form} ${m}x${n}x${k} ${chosen} vs naive`);
      const medianMs = await time(gpu, form, m, n, k, chosen, 5);
      const baselineMs = await time(gpu, form, m, n, k, "naive", big ? 3 : 5);
      rows.push({
        op: "matmul",
        form,
        shape: `${m}x${n}x${k}`,
        variant: chosen,
        medianMs,
        gflops: (2 * m * n * k) / (medianMs * 1e6),
        baselineMs,
        speedup: baselineMs / medianMs,
      });
    }
  }
  return rows;
}
