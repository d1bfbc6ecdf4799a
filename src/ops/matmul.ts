/**
 * Matrix multiply in the three forms a linear layer needs:
 *
 *   "nn"  C = A·B      forward     (A [M, K], B [K, N])
 *   "nt"  C = A·Bᵀ     dX = dY·Wᵀ  (A [M, K], B [N, K])
 *   "tn"  C = Aᵀ·B     dW = Xᵀ·dY  (A [K, M], B [K, N])
 *
 * with an optional fused bias [N] and an accumulate mode (C += …) for
 * parameter gradients. Kernel variants live in shaders/matmul.wgsl as entry
 * points and override constants; {@linkcode tuneMatmul} measures them once
 * per device and the choice is remembered in `gpu.tuning`.
 *
 * @module
 */

import shader from "../../shaders/matmul.wgsl" with { type: "text" };
import { rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { Tensor } from "../gpu/tensor.ts";
import { timeGpu } from "../gpu/timing.ts";

/** Which operands are transposed. */
export type MatmulForm = "nn" | "nt" | "tn";

/** One kernel variant: an entry point and its override constants. */
export interface MatmulVariant {
  /** Entry point in shaders/matmul.wgsl, without the `matmul_` prefix. */
  entry: "naive" | "reg" | "unrolled8x16" | "unrolled16x32" | "tiled";
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
}

/** The variants {@linkcode tuneMatmul} chooses from. */
export const MATMUL_VARIANTS: Readonly<Record<string, MatmulVariant>> = Object.freeze({
  naive: { entry: "naive", wgX: 8, wgY: 8, tm: 1, tn: 1 },
  reg4x4: { entry: "reg", wgX: 8, wgY: 8, tm: 4, tn: 4 },
  reg8x4: { entry: "reg", wgX: 8, wgY: 8, tm: 8, tn: 4 },
  reg8x8: { entry: "reg", wgX: 8, wgY: 8, tm: 8, tn: 8 },
  named8x16: { entry: "unrolled8x16", wgX: 8, wgY: 8, tm: 8, tn: 16 },
  named16x32: { entry: "unrolled16x32", wgX: 8, wgY: 8, tm: 16, tn: 32 },
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
const FORMS: readonly MatmulForm[] = ["nn", "nt", "tn"];

function check2d(arg: string, t: Tensor): void {
  if (!(t instanceof Tensor)) typeError(OP, arg, "a Tensor", t);
  if (t.shape.length !== 2) rangeError(OP, `${arg}.shape`, "two-dimensional", t.shape);
  if (t.dtype !== "f32") typeError(OP, `${arg}.dtype`, '"f32"', t.dtype);
}

/**
 * The M, N, K of `form` applied to `a` and `b`, after checking that they agree.
 *
 * @param a Left operand.
 * @param b Right operand.
 * @param form Operand layout.
 * @returns The dimensions.
 */
export function matmulShape(a: Tensor, b: Tensor, form: MatmulForm = "nn"): { m: number; n: number; k: number } {
  check2d("a", a);
  check2d("b", b);
  if (!FORMS.includes(form)) rangeError(OP, "options.form", '"nn", "nt" or "tn"', form);
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

function defaultVariant(gpu: Gpu, form: MatmulForm): string {
  const tuned = gpu.tuning.get(`${OP}:${form}`);
  if (tuned) return tuned;
  // Untuned guess: CPUs (llvmpipe) favour registers, GPUs favour shared tiles.
  return gpu.info.isFallbackAdapter ? "named8x16" : "tiled64";
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
  readonly #kernel: Kernel;

  /**
   * Validates the operands, picks the variant and binds everything.
   *
   * @param gpu The context.
   * @param a Left operand.
   * @param b Right operand.
   * @param options Form, bias, output, variant.
   * @throws {TypeError} When `a` or `b` is not an f32 Tensor, or `options.bias` or `options.out` is not a Tensor.
   * @throws {RangeError} When an operand is not 2-D or the shapes disagree for the form, `options.form` or
   * `options.variant` is unknown, `options.bias` is not f32 [N], `options.out` is not f32 [M, N] or overlaps an
   * operand, `options.accumulate` is set without `options.out`, or the grid exceeds the device's limit.
   * @throws {OutOfMemoryError} When the output exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, a: Tensor, b: Tensor, options: MatmulOptions = {}) {
    const form = options.form ?? "nn";
    const { m, n, k } = matmulShape(a, b, form);
    const { bias, out, accumulate = false } = options;
    if (bias !== undefined) {
      if (!(bias instanceof Tensor)) typeError(OP, "options.bias", "a Tensor", bias);
      if (bias.size !== n || bias.dtype !== "f32") {
        rangeError(OP, "options.bias.shape", `[${n}] (f32, one per column of C)`, bias.shape);
      }
    }
    if (out !== undefined) {
      if (!(out instanceof Tensor)) typeError(OP, "options.out", "a Tensor", out);
      if (out.shape.length !== 2 || out.shape[0] !== m || out.shape[1] !== n || out.dtype !== "f32") {
        rangeError(OP, "options.out.shape", `[${m}, ${n}] (f32)`, out.shape);
      }
      if (out.overlaps(a) || out.overlaps(b) || (bias !== undefined && out.overlaps(bias))) {
        rangeError(OP, "options.out", "a tensor distinct from a and b", "an operand");
      }
    } else if (accumulate) {
      rangeError(OP, "options.out", "given when options.accumulate is true", out);
    }
    const variantName = options.variant ?? defaultVariant(gpu, form);
    const variant = MATMUL_VARIANTS[variantName];
    if (!variant) rangeError(OP, "options.variant", `one of ${Object.keys(MATMUL_VARIANTS).join(", ")}`, variantName);
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
    this.#kernel = new Kernel(gpu, {
      op: OP,
      shader,
      entry: `matmul_${variant.entry}`,
      bindings: { A: a, B: b, bias: bias ?? gpu.dummy, C: this.out },
      uniforms: { dims: new Uint32Array([m, n, k, 0]) },
      workgroups: groups,
      constants: {
        TRANS_A: form === "tn",
        TRANS_B: form === "nt",
        HAS_BIAS: bias !== undefined,
        ACCUMULATE: accumulate,
        WG_X: variant.wgX,
        WG_Y: variant.wgY,
        TM: variant.tm,
        TN: variant.tn,
        BK: variant.bk ?? 16,
      },
    });
  }

  /**
   * Records the multiply into `pass`.
   *
   * @param pass An open compute pass.
   */
  encode(pass: GPUComputePassEncoder): void {
    if (this.m === 0 || this.n === 0) return;
    this.#kernel.encode(pass);
  }

  /** Returns the kernel's uniform buffer to the pool (not the output); safe right after a submit. */
  destroy(): void {
    this.#kernel.destroy();
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
 * @throws {TypeError} When `a` or `b` is not an f32 Tensor, or `options.bias` or `options.out` is not a Tensor.
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
}

/**
 * Measures every variant for each form at one shape, stores the fastest in
 * `gpu.tuning`, and returns all trials. Run it once per device (the
 * benchmark does); kernels bound afterwards use the stored choice. The
 * trainer does not tune: it runs the untuned default, which wins at its
 * small shapes on llvmpipe (see the README's benchmark notes).
 *
 * @param gpu The context.
 * @param options Shape to tune at (default 512³) and runs per variant.
 * @returns Every trial, fastest first within each form.
 * @throws {TypeError} When `options.iterations` is not a number.
 * @throws {RangeError} When `options.size` is not an integer >= 0, `options.iterations` not one >= 1, or a name in
 * `options.variants` is not a key of {@linkcode MATMUL_VARIANTS}.
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
  const size = options.size ?? 512;
  const names = options.variants ?? Object.keys(MATMUL_VARIANTS).filter((v) => v !== "naive");
  const a = Tensor.zeros(gpu, [size, size]);
  const b = Tensor.zeros(gpu, [size, size]);
  const out = Tensor.empty(gpu, [size, size]);
  const trials: MatmulTrial[] = [];
  try {
    for (const form of FORMS) {
      const forForm: MatmulTrial[] = [];
      for (const variant of names) {
        const kernel = new MatmulKernel(gpu, a, b, { form, out, variant });
        const t = await timeGpu(gpu, (pass) => kernel.encode(pass), {
          op: `tuneMatmul:${variant}`,
          warmup: 1,
          iterations: options.iterations ?? 3,
        });
        kernel.destroy();
        forForm.push({ form, variant, medianMs: t.medianMs, gflops: (2 * size ** 3) / (t.medianMs * 1e6) });
      }
      forForm.sort((x, y) => x.medianMs - y.medianMs);
      gpu.tuning.set(`${OP}:${form}`, forForm[0].variant);
      for (const trial of forForm) trials.push(trial);
    }
  } finally {
    a.destroy();
    b.destroy();
    out.destroy();
  }
  return trials;
}
