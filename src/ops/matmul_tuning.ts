/**
 * Choosing matmul variants by measurement. {@linkcode tuneMatmul} times
 * every variant at one square shape per form; {@linkcode tuneMatmulShapes}
 * times them at the shapes a model actually binds ({@linkcode boundMatmuls}),
 * one measurement per shape class, after checking each variant's output
 * against a float64 product. Choices land in `gpu.tuning`, where every
 * matmul bound afterwards looks first; src/ops/matmul_tuning_record.ts
 * carries them to and from a cache.
 *
 * @module
 */

import { checkArrayLike, checkBool, checkEnum, checkInt, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu, Tensor } from "../gpu/tensor.ts";
import { timeGpu } from "../gpu/timing.ts";
import { seededRandom } from "../data/random.ts";
import {
  checkVariant,
  MATMUL_FORMS,
  MATMUL_VARIANTS,
  type MatmulForm,
  MatmulKernel,
  matmulOperandShapes,
  matmulShapeClass,
  matmulVariantFits,
} from "./matmul.ts";

/** One measured variant, as reported by {@linkcode tuneMatmul}. */
export interface MatmulTrial {
  /** Operand layout. */
  form: MatmulForm;
  /** Variant name. */
  variant: string;
  /** Median time in milliseconds. */
  medianMs: number;
  /** Throughput at the tuning shape. */
  gflops: number;
  /** Where the choice is stored in `gpu.tuning`: `"matmul:<form>"`, or a {@linkcode matmulShapeClass}. */
  key: string;
  /** The shape measured, [M, N, K]. */
  shape: [number, number, number];
}

/**
 * Times each of `variants` at `shape` on zeroed operands, fastest first, and stores the fastest under `key` in
 * `gpu.tuning` (nothing when `variants` is empty).
 */
async function timeVariants(
  gpu: Gpu,
  op: string,
  key: string,
  shape: MatmulShape,
  variants: readonly string[],
  iterations: number,
): Promise<MatmulTrial[]> {
  const { form, m, n, k } = shape;
  const operands = matmulOperandShapes(form, m, n, k);
  const tensors: Tensor[] = [];
  const trials: MatmulTrial[] = [];
  try {
    const a = Tensor.zeros(gpu, operands.a);
    tensors.push(a);
    const b = Tensor.zeros(gpu, operands.b);
    tensors.push(b);
    const out = Tensor.empty(gpu, [m, n]);
    tensors.push(out);
    for (const variant of variants) {
      const kernel = new MatmulKernel(gpu, a, b, { form, out, variant });
      try {
        const t = await timeGpu(gpu, (pass) => kernel.encode(pass), { op: `${op}:${variant}`, warmup: 1, iterations });
        const gflops = (2 * m * n * k) / (t.medianMs * 1e6);
        trials.push({ form, variant, medianMs: t.medianMs, gflops, key, shape: [m, n, k] });
      } finally {
        kernel.destroy();
      }
    }
  } finally {
    for (const t of tensors) t.destroy();
  }
  trials.sort((x, y) => x.medianMs - y.medianMs);
  if (trials.length > 0) gpu.tuning.set(key, trials[0].variant);
  return trials;
}

/**
 * Measures every variant for each form at one shape, stores the fastest in
 * `gpu.tuning`, and returns all trials. Kernels bound afterwards use the
 * stored choice where no choice for their own shape class
 * ({@linkcode tuneMatmulShapes}) exists.
 *
 * @param gpu The context.
 * @param options Shape to tune at (default 512³), runs per variant, and the variants (default all but naive).
 * @returns Every trial, fastest first within each form.
 * @throws {TypeError} When `gpu` is not a Gpu, `options` is not an object, `options.size` or `options.iterations`
 * is not a number, or `options.variants` is not an array of strings.
 * @throws {RangeError} When `options.size` is not an integer >= 1 whose size² floats fit one storage binding,
 * `options.iterations` not one >= 1, or `options.variants` is empty or names something that is not a key of
 * {@linkcode MATMUL_VARIANTS}; all before any GPU work.
 * @throws {OutOfMemoryError} When the size² operands exceed the device's buffer limits.
 * @throws {GpuError} When an earlier op's GPU error is pending, or a timed kernel causes one.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Tune, then multiply with the chosen variant
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, tuneMatmul } from "../../mod.ts";
 * const gpu = await requestGpu();
 * await tuneMatmul(gpu, { size: 64, iterations: 1 });
 * assert.ok(gpu.tuning.has("matmul:nn"));
 * gpu.destroy();
 * ```
 */
export async function tuneMatmul(
  gpu: Gpu,
  options: { size?: number; iterations?: number; variants?: readonly string[] } = {},
): Promise<MatmulTrial[]> {
  const op = "tuneMatmul";
  checkGpu(op, gpu);
  checkObject(op, "options", options);
  const size = options.size ?? 512;
  const maxSize = Math.floor(Math.sqrt(gpu.limits.maxStorageBufferBindingSize / 4));
  checkInt(op, "options.size", size, 1, maxSize);
  const iterations = options.iterations ?? 3;
  checkInt(op, "options.iterations", iterations, 1);
  const names = options.variants ?? Object.keys(MATMUL_VARIANTS).filter((v) => v !== "naive");
  if (!Array.isArray(names)) typeError(op, "options.variants", "an array of variant names", names);
  if (names.length === 0) rangeError(op, "options.variants", "at least one variant name", names);
  names.forEach((name, i) => checkVariant(op, `options.variants[${i}]`, name));
  const trials: MatmulTrial[] = [];
  for (const form of MATMUL_FORMS) {
    // vec4 variants not in form "nt" or at an odd size; chunked ones not where one chunk holds K (their twin's run).
    const fitting = names.filter((v) =>
      matmulVariantFits(v, form, size, size) && size > (MATMUL_VARIANTS[v].kChunk ?? 0)
    );
    trials.push(
      ...await timeVariants(
        gpu,
        "tuneMatmul",
        `matmul:${form}`,
        { form, m: size, n: size, k: size },
        fitting,
        iterations,
      ),
    );
  }
  return trials;
}

/** A multiply to tune for: its form and C [M, N] with inner dimension K. */
export interface MatmulShape {
  /** Operand layout. */
  form: MatmulForm;
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** Inner dimension. */
  k: number;
}

/**
 * `naive` (one thread per output) is timed only where C has fewer rows or
 * columns than this: a 1 × N product such as a column sum by a ones vector,
 * where a block of 8 or 16 rows per thread is mostly padding (on llvmpipe
 * naive took 20 ms there against 49 ms for named8x16 at 1×256, K = 16,896;
 * the layers' bias gradients now use `columnSums`, 4× faster again).
 * Elsewhere it is 10–15× slower and would take seconds to time.
 */
const SKINNY = 8;

/** Relative tolerance of the check that precedes timing (fp32 sums of 39 products against float64). */
const VALIDATION_TOLERANCE = 1e-4;

/** Seeded values in [-1, 1): the check needs no statistics, only data a wrong index would change. */
function checkValues(length: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length }, () => 2 * random() - 1);
}

/**
 * Runs `variant` in `form` on a small odd shape (67×45, K = 39: an edge in
 * every direction of every block; 68×44 for a vec4 variant, which needs
 * whole vec4 rows; K = 2·chunk + 39 for a k-chunked one) and compares it
 * with a float64 product.
 *
 * @returns The relative Frobenius error.
 */
async function variantError(gpu: Gpu, form: MatmulForm, variant: string): Promise<number> {
  // A k-chunked variant runs a K past its chunk: three dispatches, the last a partial one.
  const k = 2 * (MATMUL_VARIANTS[variant].kChunk ?? 0) + 39;
  const [m, n] = MATMUL_VARIANTS[variant].vec4 ? [68, 44] : [67, 45];
  const shapes = matmulOperandShapes(form, m, n, k);
  const a = checkValues(m * k, 1);
  const b = checkValues(k * n, 2);
  const at = (i: number, p: number) => (form === "tn" ? a[p * m + i] : a[i * k + p]);
  const bt = (p: number, j: number) => (form === "nt" ? b[j * k + p] : b[p * n + j]);
  const ta = Tensor.from(gpu, a, shapes.a);
  const tb = Tensor.from(gpu, b, shapes.b);
  const kernel = new MatmulKernel(gpu, ta, tb, { form, variant });
  try {
    gpu.runPass("tuneMatmulShapes:check", kernel);
    const got = await kernel.out.read();
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(i, p) * bt(p, j);
        diff += (got[i * n + j] - s) ** 2;
        norm += s * s;
      }
    }
    return Math.sqrt(diff / norm);
  } finally {
    kernel.destroy();
    for (const t of [ta, tb, kernel.out]) t.destroy();
  }
}

/**
 * Measures every variant (`naive` only where C has fewer than 8 rows or
 * columns, and vec4 ones only where they fit) at each shape class among
 * `shapes` that has no choice yet (or every one, with `retune`), and
 * stores the fastest under
 * its {@linkcode matmulShapeClass} in `gpu.tuning`. A class is timed at the
 * largest of its shapes. Before any timing, each variant's output is
 * checked against a float64 product in each form it will be timed in; a
 * variant that computes a wrong product throws (it is a bug, not a slow
 * choice). Pass {@linkcode boundMatmuls}`(gpu)` to tune what a model runs.
 *
 * @param gpu The context.
 * @param shapes The multiplies to tune for.
 * @param options Runs per variant (default 3), the variants (default all), and `retune` (default
 * false: classes with a choice are skipped).
 * @returns Every trial, fastest first within each class; empty when every class already had a choice.
 * @throws {TypeError} When `gpu` is not a Gpu, `shapes` is not an array of objects with a string `form` and number
 * `m`, `n`, `k`, `options` is not an object, `options.iterations` is not a number, `options.variants` not an
 * array of strings, or `options.retune` not a boolean.
 * @throws {RangeError} When a form is not "nn", "nt" or "tn", a dimension not an integer >= 1 whose operands fit one
 * storage binding, `options.iterations` not an integer >= 1, or `options.variants` is empty or names something that
 * is not a key of {@linkcode MATMUL_VARIANTS}; all before any GPU work.
 * @throws {Error} When a variant's check fails: its relative error against float64 exceeds 1e-4.
 * @throws {OutOfMemoryError} When a shape's operands exceed the device's buffer limits.
 * @throws {GpuError} When an earlier op's GPU error is pending, or a timed kernel causes one.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Tune the shapes a layer binds, then bind it again
 * ```ts
 * import assert from "node:assert/strict";
 * import { boundMatmuls, matmul, requestGpu, Tensor, tuneMatmulShapes } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const x = Tensor.zeros(gpu, [37, 20]);
 * const w = Tensor.zeros(gpu, [20, 9]);
 * matmul(gpu, x, w); // bound once with the untuned default
 * const trials = await tuneMatmulShapes(gpu, boundMatmuls(gpu), { iterations: 1 });
 * assert.ok(gpu.tuning.has(trials[0].key));
 * assert.equal(boundMatmuls(gpu).length, 1); // tuning binds its kernels with forced variants: not listed
 * gpu.destroy();
 * ```
 */
export async function tuneMatmulShapes(
  gpu: Gpu,
  shapes: readonly MatmulShape[],
  options: { iterations?: number; variants?: readonly string[]; retune?: boolean } = {},
): Promise<MatmulTrial[]> {
  const op = "tuneMatmulShapes";
  checkGpu(op, gpu);
  if (!Array.isArray(shapes)) typeError(op, "shapes", "an array of { form, m, n, k }", shapes);
  checkObject(op, "options", options);
  const iterations = options.iterations ?? 3;
  checkInt(op, "options.iterations", iterations, 1);
  const retune = options.retune ?? false;
  checkBool(op, "options.retune", retune);
  const given = options.variants ?? Object.keys(MATMUL_VARIANTS);
  checkArrayLike(op, "options.variants", given, "an array of variant names");
  if (given.length === 0) rangeError(op, "options.variants", "at least one variant name", given);
  const names = Array.from(given);
  names.forEach((name, i) => checkVariant(op, `options.variants[${i}]`, name));
  const maxFloats = gpu.limits.maxStorageBufferBindingSize / 4;
  const classes = new Map<string, MatmulShape>();
  shapes.forEach((shape, i) => {
    const value: unknown = shape; // checked as an object without narrowing `shape` away from MatmulShape
    checkObject(op, `shapes[${i}]`, value);
    checkEnum(op, `shapes[${i}].form`, shape.form, MATMUL_FORMS);
    for (const d of ["m", "n", "k"] as const) checkInt(op, `shapes[${i}].${d}`, shape[d], 1, maxFloats);
    const { form, m, n, k } = shape;
    if (Math.max(m * k, k * n, m * n) > maxFloats) {
      rangeError(op, `shapes[${i}]`, `operands of at most ${maxFloats} floats (one storage binding)`, [m, n, k]);
    }
    const key = matmulShapeClass(form, m, n, k);
    const seen = classes.get(key);
    if (!seen || m * n * k > seen.m * seen.n * seen.k) classes.set(key, { form, m, n, k });
  });
  const todo = [...classes].filter(([key]) => retune || !gpu.tuning.has(key));
  for (const form of new Set(todo.map(([, s]) => s.form))) {
    for (const variant of names) {
      if (!matmulVariantFits(variant, form, 68, 44)) continue; // never timed in this form
      const error = await variantError(gpu, form, variant);
      if (!(error <= VALIDATION_TOLERANCE)) {
        throw new Error(
          `${op}: variant ${variant} computes form "${form}" wrong on this adapter: relative error ${error} ` +
            `against float64 (tolerance ${VALIDATION_TOLERANCE})`,
        );
      }
    }
  }
  const trials: MatmulTrial[] = [];
  for (const [key, shape] of todo) {
    const { form, m, n, k } = shape;
    const fitting = names.filter((v) =>
      matmulVariantFits(v, form, m, n) && // elsewhere its shapes run its fallback, timed too
      (v !== "naive" || Math.min(m, n) < SKINNY) && // far slower elsewhere, and seconds to time
      k > (MATMUL_VARIANTS[v].kChunk ?? 0) // one chunk: the same run as its unchunked twin
    );
    trials.push(...await timeVariants(gpu, op, key, shape, fitting, iterations));
  }
  return trials;
}
