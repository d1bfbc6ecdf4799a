/**
 * Row-wise L2 normalisation (shaders/l2norm.wgsl): forward z = h/‖h‖ and
 * backward dH = (g − z(z·g))/‖h‖, with ‖h‖ clamped below by 1e-12.
 *
 * @module
 */

import shader from "../../shaders/l2norm.wgsl" with { type: "text" };
import { rangeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, type Tensor } from "../gpu/tensor.ts";

const WG = 64;

/** Checks the tensor whose [rows, D] sets the others' shapes. */
function checkRows(gpu: Gpu, op: string, name: string, t: Tensor): [number, number] {
  checkGpu(op, gpu);
  checkTensor(op, name, t, gpu, "f32");
  if (t.shape.length !== 2) rangeError(op, `${name}.shape`, "[rows, D]", t.shape);
  return [t.shape[0], t.shape[1]];
}

function check(gpu: Gpu, op: string, name: string, t: Tensor, rows: number, dim: number): void {
  checkTensor(op, name, t, gpu, "f32");
  if (t.size !== rows * dim) rangeError(op, `${name}.shape`, `[${rows}, ${dim}] (f32)`, t.shape);
}

function bind(
  gpu: Gpu,
  op: string,
  entry: string,
  bindings: Record<string, Tensor>,
  rows: number,
  dim: number,
): Kernel {
  return new Kernel(gpu, {
    op,
    shader,
    entry,
    bindings,
    uniforms: { dims: new Uint32Array([rows, dim, 0, 0]) },
    workgroupSize: WG,
    threads: rows,
  });
}

/**
 * z = h / max(‖h‖, 1e-12) per row; keeps the norms for backward.
 *
 * @param gpu The context.
 * @param h Input [rows, D].
 * @param z Output [rows, D].
 * @param norms Output [rows]: the clamped norms.
 * @returns The bound work.
 * @throws {TypeError} When `gpu` is not a Gpu, or `h`, `z` or `norms` is not a live f32 Tensor of `gpu`.
 * @throws {RangeError} When `h` is not 2-D, `z` not [rows, D] or `norms` not [rows].
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Normalise a row
 * ```ts
 * import assert from "node:assert/strict";
 * import { l2normForward, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const h = Tensor.from(gpu, new Float32Array([3, 4]), [1, 2]);
 * const z = Tensor.empty(gpu, [1, 2]);
 * const norms = Tensor.empty(gpu, [1]);
 * gpu.runPass("example", l2normForward(gpu, h, z, norms));
 * assert.deepEqual(await z.read(), new Float32Array([0.6, 0.8]));
 * gpu.destroy();
 * ```
 */
export function l2normForward(gpu: Gpu, h: Tensor, z: Tensor, norms: Tensor): Encodable {
  const op = "l2normForward";
  const [rows, dim] = checkRows(gpu, op, "h", h);
  check(gpu, op, "z", z, rows, dim);
  check(gpu, op, "norms", norms, rows, 1);
  return bind(gpu, op, "l2norm_forward", { h, out: z, norms }, rows, dim);
}

/**
 * dH = (dZ − z·(z·dZ)) / norm per row; overwrites dH.
 *
 * @param gpu The context.
 * @param z The forward's output [rows, D].
 * @param norms The forward's norms [rows].
 * @param dZ Gradient with respect to z.
 * @param dH Gradient with respect to h (written).
 * @returns The bound work.
 * @throws {TypeError} When `gpu` is not a Gpu, or `z`, `norms`, `dZ` or `dH` is not a live f32 Tensor of `gpu`.
 * @throws {RangeError} When `z` is not 2-D, `norms` not [rows], or `dZ` or `dH` not [rows, D].
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 */
export function l2normBackward(gpu: Gpu, z: Tensor, norms: Tensor, dZ: Tensor, dH: Tensor): Encodable {
  const op = "l2normBackward";
  const [rows, dim] = checkRows(gpu, op, "z", z);
  check(gpu, op, "norms", norms, rows, 1);
  check(gpu, op, "dZ", dZ, rows, dim);
  check(gpu, op, "dH", dH, rows, dim);
  return bind(gpu, op, "l2norm_backward", { h: z, out: dH, norms, g: dZ }, rows, dim);
}
