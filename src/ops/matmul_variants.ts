/**
 * Which matmul kernel runs: the variants of shaders/matmul.wgsl and where
 * each fits, the shape classes that tuning is stored under, the choice for
 * a shape (a tuned one, else the adapter's default), and the record of the
 * shapes models bind, which the tuner measures (src/ops/matmul_tuning.ts).
 *
 * @module
 */

import { checkEnum, checkInt, rangeError, typeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu } from "../gpu/tensor.ts";

const OP = "matmul";

/** Which operands are transposed. */
export type MatmulForm = "nn" | "nt" | "tn";

/** One kernel variant: an entry point and its override constants. */
export interface MatmulVariant {
  /** Entry point in shaders/matmul.wgsl, without the `matmul_` prefix (and, for vec4 variants, the `_<form>` suffix). */
  entry: "naive" | "reg" | "unrolled8x16" | "unrolled16x32" | "vec8x16" | "vec16x32" | "tiled";
  /** Workgroup size along x (columns of C). */
  wgX: number;
  /** Workgroup size along y (rows of C). */
  wgY: number;
  /** Rows of C per thread (1 for naive). */
  tm: number;
  /** Columns of C per thread (1 for naive; a multiple of 4 for reg). */
  tn: number;
  /** Shared-memory tile depth (tiled only). */
  bk?: number;
  /**
   * Reads op(B)'s rows (and in form "tn" op(A)'s columns) as vec4s, so it runs only in forms "nn" and "tn" with N
   * (and in "tn" M) a multiple of 4 ({@linkcode matmulVariantFits}); where it does not fit, a tuned choice of it
   * runs `fallback`, the same block with scalar loads.
   */
  vec4?: boolean;
  /** The variant run instead where a vec4 variant does not fit. */
  fallback?: string;
  /**
   * Splits a K longer than this into dispatches of this many k each, the later ones accumulating: on llvmpipe a
   * workgroup's SIMD batches then re-read rows of A and B that are still in cache (a parameter gradient, whose K is
   * the batch's rows, ran 1.6–2.7× faster at K = 16,896 in chunks of 1024).
   */
  kChunk?: number;
}

/** The variants {@linkcode tuneMatmul} chooses from. */
export const MATMUL_VARIANTS: Readonly<Record<string, MatmulVariant>> = Object.freeze({
  naive: { entry: "naive", wgX: 8, wgY: 8, tm: 1, tn: 1 },
  reg4x4: { entry: "reg", wgX: 8, wgY: 8, tm: 4, tn: 4 },
  reg8x4: { entry: "reg", wgX: 8, wgY: 8, tm: 8, tn: 4 },
  reg8x8: { entry: "reg", wgX: 8, wgY: 8, tm: 8, tn: 8 },
  named8x16: { entry: "unrolled8x16", wgX: 8, wgY: 8, tm: 8, tn: 16 },
  named16x32: { entry: "unrolled16x32", wgX: 8, wgY: 8, tm: 16, tn: 32 },
  vec8x16: { entry: "vec8x16", wgX: 8, wgY: 8, tm: 8, tn: 16, vec4: true, fallback: "named8x16" },
  vec16x32: { entry: "vec16x32", wgX: 8, wgY: 8, tm: 16, tn: 32, vec4: true, fallback: "named16x32" },
  named8x16k: { entry: "unrolled8x16", wgX: 8, wgY: 8, tm: 8, tn: 16, kChunk: 1024 },
  vec8x16k: { entry: "vec8x16", wgX: 8, wgY: 8, tm: 8, tn: 16, vec4: true, fallback: "named8x16k", kChunk: 1024 },
  // No named16x32k: each 16×32 pipeline costs ~14 s of cold compile on llvmpipe, and only odd shapes would run it.
  vec16x32k: { entry: "vec16x32", wgX: 8, wgY: 8, tm: 16, tn: 32, vec4: true, fallback: "named16x32", kChunk: 1024 },
  tiled64: { entry: "tiled", wgX: 16, wgY: 16, tm: 4, tn: 4, bk: 16 },
  tiled128: { entry: "tiled", wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8 },
});

/** The three operand layouts. */
export const MATMUL_FORMS: readonly MatmulForm[] = Object.freeze(["nn", "nt", "tn"]);
const FORMS = MATMUL_FORMS;

/**
 * Checks a variant name: a key of {@linkcode MATMUL_VARIANTS} itself, never one of its prototype's.
 *
 * @param op The op to name in the error.
 * @param arg The argument to name in the error.
 * @param name The value to check.
 * @throws {TypeError} When `name` is not a string.
 * @throws {RangeError} When `name` is not a variant's name.
 */
export function checkVariant(op: string, arg: string, name: unknown): asserts name is string {
  const names = Object.keys(MATMUL_VARIANTS);
  if (typeof name !== "string") typeError(op, arg, `one of ${names.join(", ")}`, name);
  if (!Object.hasOwn(MATMUL_VARIANTS, name)) rangeError(op, arg, `one of ${names.join(", ")}`, name);
}

/**
 * Whether a variant can run a multiply: every variant can, except the vec4
 * ones outside forms "nn" and "tn", where N (in "tn" also M) is not a
 * multiple of 4, or where an operand is empty (N < 4, no rows, or K = 0;
 * this check takes K as 1).
 *
 * @param variant A key of {@linkcode MATMUL_VARIANTS}.
 * @param form Operand layout.
 * @param m Rows of C.
 * @param n Columns of C.
 * @returns Whether it fits.
 * @throws {TypeError} When `variant` or `form` is not a string, or `m` or `n` not a number.
 * @throws {RangeError} When `variant` is not a variant's name, `form` not "nn", "nt" or "tn", or `m` or `n` not an
 * integer >= 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulVariantFits } from "./matmul.ts";
 * assert.equal(matmulVariantFits("vec16x32", "tn", 784, 256), true);
 * assert.equal(matmulVariantFits("vec16x32", "nt", 784, 256), false);
 * assert.equal(matmulVariantFits("named16x32", "nt", 783, 255), true);
 * ```
 */
export function matmulVariantFits(variant: string, form: MatmulForm, m: number, n: number): boolean {
  checkVariant("matmulVariantFits", "variant", variant);
  checkEnum("matmulVariantFits", "form", form, FORMS);
  checkInt("matmulVariantFits", "m", m, 0);
  checkInt("matmulVariantFits", "n", n, 0);
  return variantFits(MATMUL_VARIANTS[variant], form, m, n);
}

/** {@linkcode matmulVariantFits} unchecked, with K (an empty inner dimension binds no vec4). */
export function variantFits(variant: MatmulVariant, form: MatmulForm, m: number, n: number, k = 1): boolean {
  if (!variant.vec4) return true;
  // A vec4 view needs at least one whole vec4 to bind: an empty operand (K = 0, or no rows) is bound as 4 bytes.
  if (k < 1 || n < 4 || m < 1) return false;
  return form !== "nt" && n % 4 === 0 && (form === "nn" || m % 4 === 0);
}

/**
 * The tuning key of a multiply: its form and each dimension rounded up to a
 * power of two, so that shapes that differ by a few rows share one
 * measurement (the rounding is where a register block's edge waste changes).
 *
 * @param form Operand layout.
 * @param m Rows of C.
 * @param n Columns of C.
 * @param k Inner dimension.
 * @returns The key, for example `"matmul:nt:256x1024x128"`.
 * @throws {TypeError} When `form` is not a string or a dimension not a number.
 * @throws {RangeError} When `form` is not "nn", "nt" or "tn", or a dimension not an integer >= 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulShapeClass } from "./matmul.ts";
 * assert.equal(matmulShapeClass("tn", 784, 256, 300), "matmul:tn:1024x256x512");
 * ```
 */
export function matmulShapeClass(form: MatmulForm, m: number, n: number, k: number): string {
  checkEnum("matmulShapeClass", "form", form, FORMS);
  checkInt("matmulShapeClass", "m", m, 1);
  checkInt("matmulShapeClass", "n", n, 1);
  checkInt("matmulShapeClass", "k", k, 1);
  return classKey(form, m, n, k);
}

/** {@linkcode matmulShapeClass} unchecked, for kernels (an empty C has a class too). */
function classKey(form: MatmulForm, m: number, n: number, k: number): string {
  const up = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));
  return `${OP}:${form}:${up(m)}x${up(n)}x${up(k)}`;
}

/** A multiply as bound: its form, shape, tuning key and the variant it got. */
export interface BoundMatmul {
  /** Operand layout. */
  form: MatmulForm;
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** Inner dimension. */
  k: number;
  /** {@linkcode matmulShapeClass} of the shape. */
  key: string;
  /** The variant the kernel runs. */
  variant: string;
}

// Every shape bound without a forced variant, per context: what a tuner measures and a test inspects.
const boundShapes = new WeakMap<Gpu, Map<string, BoundMatmul>>();
// While recordBoundMatmuls runs: the shapes bound meanwhile, on its context.
let recording: { gpu: Gpu; shapes: Map<string, BoundMatmul> } | null = null;

/**
 * Runs `build` and returns, with its result, the multiplies it bound on
 * `gpu` without a forced variant: the shapes one model runs, whatever else
 * the context bound before (what `tuneTrainer` measures). Not re-entrant.
 *
 * @param gpu The context.
 * @param build Binds the model (synchronously).
 * @returns The result of `build` and one entry per form and shape it bound.
 * @throws {Error} Whatever `build` throws.
 */
export function recordBoundMatmuls<T>(gpu: Gpu, build: () => T): { result: T; bound: BoundMatmul[] } {
  const outer = recording;
  const shapes = new Map<string, BoundMatmul>();
  recording = { gpu, shapes };
  try {
    const result = build();
    return { result, bound: [...shapes.values()].map((b) => ({ ...b })) };
  } finally {
    recording = outer;
  }
}

/**
 * The multiplies bound on `gpu` so far without a forced variant, one per
 * (form, shape): the shapes a model actually runs, for `tuneMatmulShapes`.
 *
 * @param gpu The context.
 * @returns One entry per form and shape, in binding order, with the variant bound last.
 * @throws {TypeError} When `gpu` is not a Gpu.
 */
export function boundMatmuls(gpu: Gpu): BoundMatmul[] {
  checkGpu("boundMatmuls", gpu);
  return [...(boundShapes.get(gpu)?.values() ?? [])].map((b) => ({ ...b }));
}

function defaultVariant(gpu: Gpu, form: MatmulForm, m: number, n: number, k: number): string {
  const tuned = gpu.tuning.get(classKey(form, m, n, k)) ?? gpu.tuning.get(`${OP}:${form}`);
  if (tuned) return tuned;
  // Untuned guess: CPUs (llvmpipe) favour registers, and four-float loads where rows allow them (vec8x16 beat
  // named8x16 at every "nn" and "tn" class of the trainer's step measured on llvmpipe); GPUs favour shared tiles.
  if (!gpu.info.isFallbackAdapter) return "tiled64";
  return variantFits(MATMUL_VARIANTS.vec8x16, form, m, n, k) ? "vec8x16" : "named8x16";
}

/**
 * The variant a multiply runs: `requested` when given (refused where it does not fit), else the tuned choice of its
 * shape class (its form's, else the adapter's default), a vec4 one replaced by its scalar-load fallback where this
 * shape's rows are not whole vec4s.
 *
 * @throws {TypeError} When `requested` is given and is not a string.
 * @throws {RangeError} When `requested` is not a variant's name, or is one that does not fit the shape.
 */
export function chooseVariant(
  gpu: Gpu,
  shape: { form: MatmulForm; m: number; n: number; k: number },
  requested: string | undefined,
): string {
  const { form, m, n, k } = shape;
  const name = requested ?? defaultVariant(gpu, form, m, n, k);
  checkVariant(OP, "options.variant", name);
  if (variantFits(MATMUL_VARIANTS[name], form, m, n, k)) return name;
  if (requested !== undefined) {
    rangeError(
      OP,
      "options.variant",
      `a variant that fits form "${form}" with M = ${m}, N = ${n}, K = ${k} (${name} reads vec4s: forms "nn" and ` +
        `"tn", N and in "tn" M a multiple of 4, no empty operand)`,
      name,
    );
  }
  return MATMUL_VARIANTS[name].fallback!; // a tuned choice for the shape class; this shape is odd
}

/** Records a multiply bound without a forced variant (an empty one runs nothing and is left out). */
export function noteBound(gpu: Gpu, entry: Omit<BoundMatmul, "key">): void {
  const { form, m, n, k } = entry;
  if (m * n * k === 0) return;
  const bound = { ...entry, key: classKey(form, m, n, k) };
  const id = `${form}:${m}x${n}x${k}`;
  const shapes = boundShapes.get(gpu) ?? new Map<string, BoundMatmul>();
  boundShapes.set(gpu, shapes);
  shapes.set(id, bound);
  if (recording?.gpu === gpu) recording.shapes.set(id, { ...bound });
}
