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
import { checkBool, checkEnum, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkMatrix, checkTensor, Tensor } from "../gpu/tensor.ts";
import { chooseVariant, MATMUL_FORMS, MATMUL_VARIANTS, type MatmulForm, noteBound } from "./matmul_variants.ts";

export {
  type BoundMatmul,
  boundMatmuls,
  checkVariant,
  MATMUL_FORMS,
  MATMUL_VARIANTS,
  type MatmulForm,
  matmulShapeClass,
  type MatmulVariant,
  matmulVariantFits,
  recordBoundMatmuls,
} from "./matmul_variants.ts";

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
const FORMS = MATMUL_FORMS;

function check2d(arg: string, t: Tensor, gpu?: Gpu): void {
  if (!(t instanceof Tensor)) typeError(OP, arg, "a Tensor", t);
  checkTensor(OP, arg, t, gpu ?? t.gpu, "f32");
  if (t.shape.length !== 2) rangeError(OP, `${arg}.shape`, "two-dimensional", t.shape);
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
   * `options.variant` is unknown, `options.bias` is not [N], `options.out` is not [M, N] or lives in an
   * operand's buffer, `options.accumulate` is set without `options.out`, or the grid exceeds the device's limit.
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
      // WebGPU refuses a dispatch that writes a buffer it also reads, even at disjoint ranges.
      const read = [a, b, ...(bias === undefined ? [] : [bias])];
      if (read.some((t) => t.buffer === out.buffer)) {
        rangeError(
          OP,
          "options.out",
          "a tensor in another buffer than a, b and options.bias",
          "a view of an operand's buffer",
        );
      }
    } else if (accumulate) {
      rangeError(OP, "options.out", "given when options.accumulate is true", out);
    }
    const variantName = chooseVariant(gpu, { form, m, n, k }, options.variant);
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
    if (options.variant === undefined) noteBound(gpu, { form, m, n, k, variant: variantName });
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
 * Binds `out` = `source`ᵀ: [cols, rows] from [rows, cols]. A layer keeps Wᵀ
 * this way, so that its input gradient dY·Wᵀ runs in form "nn", where the
 * vec4 variants apply (on llvmpipe 44 ms against 61 ms in form "nt" at
 * 16,896 × 256 × 128).
 *
 * @param gpu The context.
 * @param source f32 [rows, cols].
 * @param out f32 [cols, rows], in another buffer than `source`.
 * @returns The bound work.
 * @throws {TypeError} When `gpu` is not a Gpu, or `source` or `out` is not a live f32 Tensor of it.
 * @throws {RangeError} When `source` is not 2-D or has more than 8 × maxComputeWorkgroupsPerDimension rows or
 * columns (524,280 at the default limit), or `out` is not [cols, rows] or in `source`'s buffer.
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Transpose a 2 × 3 matrix
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, Tensor, transposeKernel } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const w = Tensor.from(gpu, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * const wT = Tensor.empty(gpu, [3, 2]);
 * gpu.runPass("example", transposeKernel(gpu, w, wT));
 * assert.deepEqual(await wT.read(), new Float32Array([1, 4, 2, 5, 3, 6]));
 * gpu.destroy();
 * ```
 */
export function transposeKernel(gpu: Gpu, source: Tensor, out: Tensor): Encodable {
  const op = "transposeKernel";
  checkGpu(op, gpu);
  const [rows, cols] = checkMatrix(op, "source", source, gpu);
  checkTensor(op, "out", out, gpu, "f32");
  if (out.shape.length !== 2 || out.shape[0] !== cols || out.shape[1] !== rows) {
    rangeError(op, "out.shape", `[${cols}, ${rows}] (f32)`, out.shape);
  }
  // WebGPU refuses one buffer bound both read-only and writable in a dispatch, even at disjoint ranges.
  if (out.buffer === source.buffer) rangeError(op, "out", "a tensor in another buffer than source", "source's buffer");
  const most = 8 * gpu.limits.maxComputeWorkgroupsPerDimension; // one 8 × 8 workgroup per 8 × 8 block
  if (rows > most || cols > most) rangeError(op, "source.shape", `at most ${most} rows and columns`, source.shape);
  // The shader's names: B [N, K] in, C [K, N] out.
  return new Kernel(gpu, {
    op,
    shader,
    entry: "matmul_transpose_b",
    bindings: { B: source, C: out },
    uniforms: { dims: new Uint32Array([0, rows, cols, 0, cols, 0, 0, 0]) },
    workgroups: [Math.ceil(rows / 8), Math.ceil(cols / 8)],
    constants: { WG_X: 8, WG_Y: 8 },
  });
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
