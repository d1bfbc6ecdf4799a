/**
 * Matrix multiply in the three forms a linear layer needs:
 *
 *   "nn"  C = A·B      forward     (A [M, K], B [K, N])
 *   "nt"  C = A·Bᵀ     dX = dY·Wᵀ  (A [M, K], B [N, K])
 *   "tn"  C = Aᵀ·B     dW = Xᵀ·dY  (A [K, M], B [K, N])
 *
 * with an optional fused bias [N] and an accumulate mode (C += …) for
 * parameter gradients. Kernel variants live in shaders/matmul.wgsl as entry
 * points and override constants. Which one runs is chosen per form and
 * shape class ({@linkcode matmulShapeClass}): `tuneMatmulShapes` measures
 * the shapes a model actually binds and remembers the fastest in
 * `gpu.tuning`, where every kernel bound afterwards looks first.
 *
 * @module
 */

import shader from "../../shaders/matmul.wgsl" with { type: "text" };
import { checkBool, checkEnum, checkInt, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, Tensor } from "../gpu/tensor.ts";

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

/** Options for {@linkcode matmul} and {@linkcode MatmulKernel}. */
export interface MatmulOptions {
  /** Operand layout; default "nn". */
  form?: MatmulForm;
  /** Bias [N] added to every row of C. */
  bias?: Tensor;
  /** Add into `out` instead of overwriting it. Needs `out`. */
  accumulate?: boolean;
  /** Output [M, N]; allocated from the pool when absent. */
  out?: Tensor;
  /** Force a variant by name (a key of {@linkcode MATMUL_VARIANTS}). */
  variant?: string;
}

const OP = "matmul";
/** The three operand layouts. */
export const MATMUL_FORMS: readonly MatmulForm[] = Object.freeze(["nn", "nt", "tn"]);
const FORMS = MATMUL_FORMS;

function check2d(arg: string, t: Tensor, gpu?: Gpu): void {
  if (!(t instanceof Tensor)) typeError(OP, arg, "a Tensor", t);
  checkTensor(OP, arg, t, gpu ?? t.gpu, "f32");
  if (t.shape.length !== 2) rangeError(OP, `${arg}.shape`, "two-dimensional", t.shape);
}

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
  return fits(MATMUL_VARIANTS[variant], form, m, n);
}

function fits(variant: MatmulVariant, form: MatmulForm, m: number, n: number, k = 1): boolean {
  if (!variant.vec4) return true;
  // A vec4 view needs at least one whole vec4 to bind: an empty operand (K = 0, or no rows) is bound as 4 bytes.
  if (k < 1 || n < 4 || m < 1) return false;
  return form !== "nt" && n % 4 === 0 && (form === "nn" || m % 4 === 0);
}

/**
 * The M, N, K of `form` applied to `a` and `b`, after checking that they agree.
 *
 * @param a Left operand.
 * @param b Right operand.
 * @param form Operand layout.
 * @param gpu The context both must belong to (default a's).
 * @returns The dimensions.
 */
export function matmulShape(
  a: Tensor,
  b: Tensor,
  form: MatmulForm = "nn",
  gpu?: Gpu,
): { m: number; n: number; k: number } {
  check2d("a", a, gpu);
  check2d("b", b, gpu ?? a.gpu);
  checkEnum(OP, "options.form", form, FORMS);
  const [m, k] = form === "tn" ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = form === "nt" ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (k !== kb) {
    const which = form === "nt" ? "b.shape[1]" : "b.shape[0]";
    rangeError(
      OP,
      "b.shape",
      `compatible with a.shape [${a.shape.join(", ")}] in form "${form}" (${which} = K = ${k})`,
      b.shape,
    );
  }
  return { m, n, k };
}

/**
 * The operand shapes that give C [M, N] with inner dimension K in `form`:
 * the inverse of {@linkcode matmulShape}.
 *
 * @param form Operand layout.
 * @param m Rows of C.
 * @param n Columns of C.
 * @param k Inner dimension.
 * @returns Shapes of A and B.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulOperandShapes } from "./matmul.ts";
 * assert.deepEqual(matmulOperandShapes("tn", 2, 3, 4), { a: [4, 2], b: [4, 3] });
 * ```
 */
export function matmulOperandShapes(form: MatmulForm, m: number, n: number, k: number): { a: number[]; b: number[] } {
  return { a: form === "tn" ? [k, m] : [m, k], b: form === "nt" ? [n, k] : [k, n] };
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
  return fits(MATMUL_VARIANTS.vec8x16, form, m, n, k) ? "vec8x16" : "named8x16";
}

/**
 * A matmul bound to its operands: validated and set up once, then encoded
 * any number of times with no allocation. Operand contents may change
 * between runs; their shapes may not.
 *
 * @example Encode into a pass
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, Tensor, MatmulKernel } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const a = Tensor.from(gpu, new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const b = Tensor.from(gpu, new Float32Array([1, 0, 0, 1]), [2, 2]);
 * const kernel = new MatmulKernel(gpu, a, b);
 * gpu.runPass("example", kernel);
 * assert.deepEqual(await kernel.out.read(), new Float32Array([1, 2, 3, 4]));
 * gpu.destroy();
 * ```
 */
export class MatmulKernel implements Encodable {
  /** Rows of C. */
  readonly m: number;
  /** Columns of C. */
  readonly n: number;
  /** Inner dimension. */
  readonly k: number;
  /** The output [M, N]. */
  readonly out: Tensor;
  /** Name of the variant in use. */
  readonly variant: string;
  readonly #kernels: Kernel[] = [];

  /**
   * Validates the operands, picks the variant and binds everything.
   *
   * @param gpu The context.
   * @param a Left operand.
   * @param b Right operand.
   * @param options Form, bias, output, variant.
   * @throws {TypeError} When `gpu` is not a Gpu, `options` is not an object, `a`, `b`, `options.bias` or
   * `options.out` is not a live f32 Tensor of `gpu`, `options.form` or `options.variant` is not a string, or
   * `options.accumulate` is not a boolean.
   * @throws {RangeError} When an operand is not 2-D or the shapes disagree for the form, `options.form` or
   * `options.variant` is unknown, `options.bias` is not [N], `options.out` is not [M, N] or overlaps an
   * operand, `options.accumulate` is set without `options.out`, or the grid exceeds the device's limit.
   * @throws {OutOfMemoryError} When the output exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, a: Tensor, b: Tensor, options: MatmulOptions = {}) {
    checkGpu(OP, gpu);
    checkObject(OP, "options", options);
    const form = options.form ?? "nn";
    const { m, n, k } = matmulShape(a, b, form, gpu);
    const { bias, out, accumulate = false } = options;
    checkBool(OP, "options.accumulate", accumulate);
    if (bias !== undefined) {
      checkTensor(OP, "options.bias", bias, gpu, "f32");
      if (bias.size !== n) rangeError(OP, "options.bias.shape", `[${n}] (f32, one per column of C)`, bias.shape);
    }
    if (out !== undefined) {
      checkTensor(OP, "options.out", out, gpu, "f32");
      if (out.shape.length !== 2 || out.shape[0] !== m || out.shape[1] !== n) {
        rangeError(OP, "options.out.shape", `[${m}, ${n}] (f32)`, out.shape);
      }
      if (out.overlaps(a) || out.overlaps(b) || (bias !== undefined && out.overlaps(bias))) {
        rangeError(OP, "options.out", "a tensor distinct from a and b", "an operand");
      }
    } else if (accumulate) {
      rangeError(OP, "options.out", "given when options.accumulate is true", out);
    }
    let variantName = options.variant ?? defaultVariant(gpu, form, m, n, k);
    checkVariant(OP, "options.variant", variantName);
    if (!fits(MATMUL_VARIANTS[variantName], form, m, n, k)) {
      if (options.variant !== undefined) {
        rangeError(
          OP,
          "options.variant",
          `a variant that fits form "${form}" with M = ${m}, N = ${n}, K = ${k} (${variantName} reads vec4s: forms ` +
            `"nn" and "tn", N and in "tn" M a multiple of 4, no empty operand)`,
          variantName,
        );
      }
      variantName = MATMUL_VARIANTS[variantName].fallback!; // a tuned choice for the shape class; this shape is odd
    }
    const variant = MATMUL_VARIANTS[variantName];
    const groups: [number, number] = [
      Math.max(1, Math.ceil(n / (variant.wgX * variant.tn))),
      Math.max(1, Math.ceil(m / (variant.wgY * variant.tm))),
    ];
    const maxGroups = gpu.limits.maxComputeWorkgroupsPerDimension;
    if (groups[0] > maxGroups || groups[1] > maxGroups) {
      rangeError(OP, "the output shape", `at most ${maxGroups} workgroups per dimension for variant ${variantName}`, [
        m,
        n,
      ]);
    }
    this.m = m;
    this.n = n;
    this.k = k;
    this.variant = variantName;
    this.out = out ?? Tensor.empty(gpu, [m, n]);
    // A long K in a k-chunked variant: one dispatch per chunk, the later ones accumulating, the bias added once.
    const chunk = variant.kChunk !== undefined && k > variant.kChunk ? variant.kChunk : Math.max(k, 1);
    try {
      for (let begin = 0; begin === 0 || begin < k; begin += chunk) {
        this.#kernels.push(
          new Kernel(gpu, {
            op: OP,
            shader,
            entry: variant.vec4 ? `matmul_${variant.entry}_${form}` : `matmul_${variant.entry}`,
            bindings: {
              ...(variant.vec4 ? { B4: b, ...(form === "tn" ? { A4: a } : { A: a }) } : { A: a, B: b }),
              bias: bias ?? gpu.dummy,
              C: this.out,
            },
            uniforms: { dims: new Uint32Array([m, n, k, begin, Math.min(k, begin + chunk), 0, 0, 0]) },
            workgroups: groups,
            constants: {
              TRANS_A: form === "tn",
              TRANS_B: form === "nt",
              HAS_BIAS: bias !== undefined && begin === 0,
              ACCUMULATE: accumulate || begin > 0,
              WG_X: variant.wgX,
              WG_Y: variant.wgY,
              TM: variant.tm,
              TN: variant.tn,
              BK: variant.bk ?? 16,
            },
          }),
        );
      }
    } catch (error) {
      for (const kernel of this.#kernels) kernel.destroy();
      if (out === undefined) this.out.destroy(); // a pending GPU error or a lost device: hold nothing
      throw error;
    }
    if (options.variant === undefined && m * n * k > 0) {
      const shapes = boundShapes.get(gpu) ?? new Map<string, BoundMatmul>();
      boundShapes.set(gpu, shapes);
      const key = classKey(form, m, n, k);
      shapes.set(`${form}:${m}x${n}x${k}`, { form, m, n, k, key, variant: variantName });
      if (recording?.gpu === gpu) {
        recording.shapes.set(`${form}:${m}x${n}x${k}`, { form, m, n, k, key, variant: variantName });
      }
    }
  }

  /**
   * Records the multiply into `pass`.
   *
   * @param pass An open compute pass.
   */
  encode(pass: GPUComputePassEncoder): void {
    if (this.m === 0 || this.n === 0) return;
    for (const kernel of this.#kernels) kernel.encode(pass);
  }

  /** Returns the kernel's uniform buffers to the pool (not the output); safe right after a submit. */
  destroy(): void {
    for (const kernel of this.#kernels) kernel.destroy();
  }
}

/**
 * Runs C = op(A)·op(B) (+ bias) now, in one submit.
 *
 * @param gpu The context.
 * @param a Left operand, f32 [M, K] ([K, M] in form "tn").
 * @param b Right operand, f32 [K, N] ([N, K] in form "nt").
 * @param options Form, bias, output, variant.
 * @returns C, f32 [M, N] (`options.out` when given).
 * @throws {TypeError} When an argument has the wrong type, or a tensor is not a live f32 Tensor of `gpu` (see
 * {@linkcode MatmulKernel}'s constructor).
 * @throws {RangeError} When the operands or options do not fit (see {@linkcode MatmulKernel}'s constructor).
 * @throws {OutOfMemoryError} When the output exceeds the device's buffer limits.
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Multiply two matrices
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, Tensor, matmul } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const a = Tensor.from(gpu, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * const b = Tensor.from(gpu, new Float32Array([1, 1, 1, 1, 1, 1]), [2, 3]);
 * const c = matmul(gpu, a, b, { form: "nt" }); // [2, 2]
 * assert.deepEqual(await c.read(), new Float32Array([6, 6, 15, 15]));
 * gpu.destroy();
 * ```
 */
export function matmul(gpu: Gpu, a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const kernel = new MatmulKernel(gpu, a, b, options);
  gpu.runPass(OP, kernel);
  kernel.destroy();
  return kernel.out;
}
