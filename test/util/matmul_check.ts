/**
 * One matmul on seeded data against the float64 reference, shared by the
 * tests (which assert on it) and the benchmark (which validates before it
 * times).
 */

import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { matmul, type MatmulForm, matmulOperandShapes } from "../../src/ops/matmul.ts";
import { seededRandom, uniform } from "./random.ts";
import { matmulRef } from "./reference.ts";

/** What to run. */
export interface MatmulCase {
  m: number;
  n: number;
  k: number;
  form: MatmulForm;
  /** Forced variant; the default choice when absent. */
  variant?: string;
  bias?: boolean;
  /** Start from random C and add into it; otherwise C is poisoned with NaN first. */
  accumulate?: boolean;
  seed: number;
}

/**
 * Runs the case on the GPU and in float64. Without `accumulate` the output is
 * filled with NaN before the run, so an element the kernel never writes
 * shows up as NaN in `got`.
 */
export async function runMatmulCase(gpu: Gpu, c: MatmulCase): Promise<{ got: Float32Array; expected: Float64Array }> {
  const { m, n, k, form } = c;
  const random = seededRandom(c.seed);
  const aHost = uniform(random, m * k);
  const bHost = uniform(random, k * n);
  const biasHost = c.bias ? uniform(random, n) : undefined;
  const shapes = matmulOperandShapes(form, m, n, k);
  const a = Tensor.from(gpu, aHost, shapes.a);
  const b = Tensor.from(gpu, bHost, shapes.b);
  const bias = biasHost ? Tensor.from(gpu, biasHost, [n]) : undefined;
  const out = Tensor.empty(gpu, [m, n]);
  const start = c.accumulate ? uniform(random, m * n) : null;
  if (start) out.write(start);
  else out.fill(NaN);
  matmul(gpu, a, b, { form, variant: c.variant, bias, out, accumulate: c.accumulate });
  const got = (await out.read()) as Float32Array;
  const expected = matmulRef(aHost, bHost, m, n, k, { transA: form === "tn", transB: form === "nt", bias: biasHost });
  if (start) { for (let i = 0; i < expected.length; i++) expected[i] += start[i]; }
  for (const t of [a, b, out, bias]) t?.destroy();
  return { got, expected };
}
