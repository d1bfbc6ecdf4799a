/**
 * Column sums (shaders/reduce.wgsl): out (+)= Σ over rows of x, the bias
 * gradient of a linear layer.
 *
 * @module
 */

import shader from "../../shaders/reduce.wgsl" with { type: "text" };
import { checkBool, checkObject, rangeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { buildSequence, Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkMatrix, checkTensor, Tensor } from "../gpu/tensor.ts";

/** Rows each partial sum covers (`CHUNK` in shaders/reduce.wgsl). */
export const COLUMN_CHUNK = 256;

const WG = 64;

/**
 * Binds out[c] = Σ_r x[r, c], or out[c] += it with `accumulate`: partial sums
 * over chunks of {@linkcode COLUMN_CHUNK} rows, then one total per column, in
 * a fixed order (the same bits every run). Owns its partial-sum buffer. With
 * no rows the sums are 0: `out` is zeroed, or left as it is with `accumulate`.
 *
 * @param gpu The context.
 * @param x f32 [rows, cols].
 * @param out f32 with cols elements.
 * @param options `accumulate`: add to `out` instead of overwriting it (default false).
 * @returns The bound work; `destroy` frees the partial sums.
 * @throws {TypeError} When `gpu` is not a Gpu, `x` or `out` is not a live f32 Tensor of it, `options` is not an
 * object or `options.accumulate` not a boolean.
 * @throws {RangeError} When `x` is not 2-D, or `out` does not hold cols elements.
 * @throws {OutOfMemoryError} When the partial sums exceed the device's buffer limits.
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example The bias gradient of three rows
 * ```ts
 * import assert from "node:assert/strict";
 * import { columnSums, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const dY = Tensor.from(gpu, new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
 * const dBias = Tensor.from(gpu, new Float32Array([10, 10]), [2]);
 * gpu.runPass("example", columnSums(gpu, dY, dBias, { accumulate: true }));
 * assert.deepEqual(await dBias.read(), new Float32Array([19, 22]));
 * gpu.destroy();
 * ```
 */
export function columnSums(gpu: Gpu, x: Tensor, out: Tensor, options: { accumulate?: boolean } = {}): Encodable {
  const op = "columnSums";
  checkGpu(op, gpu);
  const [rows, cols] = checkMatrix(op, "x", x, gpu);
  checkTensor(op, "out", out, gpu, "f32");
  if (out.size !== cols) rangeError(op, "out.shape", `${cols} elements (one per column of x)`, out.shape);
  checkObject(op, "options", options);
  const { accumulate = false } = options;
  checkBool(op, "options.accumulate", accumulate);
  const chunks = Math.ceil(rows / COLUMN_CHUNK);
  const partials = Tensor.empty(gpu, [chunks, cols]);
  const dims = new Uint32Array([rows, cols, chunks, accumulate ? 1 : 0]);
  const vec4 = cols % 4 === 0; // a row then starts on a vec4, and four columns load as one
  return buildSequence((add) => {
    add(
      new Kernel(gpu, {
        op,
        shader,
        entry: vec4 ? "column_partials_vec4" : "column_partials",
        bindings: vec4 ? { x4: x, partials4: partials } : { x, partials },
        uniforms: { dims },
        workgroupSize: WG,
        threads: chunks * (vec4 ? cols / 4 : cols),
      }),
    );
    add(
      new Kernel(gpu, {
        op,
        shader,
        entry: "column_totals",
        bindings: { partials, out },
        uniforms: { dims },
        workgroupSize: WG,
        threads: cols,
      }),
    );
  }, [partials]);
}
