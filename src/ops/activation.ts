/**
 * Elementwise activations (shaders/activation.wgsl): ReLU, GELU (tanh form)
 * and Tanh, forward `y = f(x)` and backward `dX = dY·f'(x)`.
 *
 * @module
 */

import shader from "../../shaders/activation.wgsl" with { type: "text" };
import { checkEnum, rangeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, type Tensor } from "../gpu/tensor.ts";

/** The activations a layer can use. */
export type Activation = "relu" | "gelu" | "tanh";

/** The activations, in the order of their WGSL codes (`ACT`). */
export const ACTIVATIONS: readonly Activation[] = ["relu", "gelu", "tanh"];
const WG = 64;

function checkSame(gpu: Gpu, op: string, name: string, t: Tensor, like: Tensor): void {
  checkTensor(op, name, t, gpu, "f32");
  if (t.size !== like.size) rangeError(op, `${name}.shape`, `[${like.shape.join(", ")}] (f32)`, t.shape);
}

function bind(
  gpu: Gpu,
  op: string,
  kind: Activation,
  entry: string,
  x: Tensor,
  [outName, out]: [string, Tensor],
  dY?: Tensor,
): Kernel {
  checkGpu(op, gpu);
  checkEnum(op, "kind", kind, ACTIVATIONS);
  checkTensor(op, "x", x, gpu, "f32");
  if (entry === "act_backward") checkSame(gpu, op, "dY", dY!, x);
  checkSame(gpu, op, outName, out, x);
  return new Kernel(gpu, {
    op,
    shader,
    entry,
    bindings: { x, y: out, dy: dY },
    uniforms: { dims: new Uint32Array([x.size, 0, 0, 0]) },
    workgroupSize: WG,
    threads: x.size,
    constants: { ACT: ACTIVATIONS.indexOf(kind) },
  });
}

/**
 * y = f(x), elementwise.
 *
 * @param gpu The context.
 * @param kind The activation.
 * @param x Input, any shape.
 * @param y Output, the size of x.
 * @returns The bound work.
 * @throws {TypeError} When `gpu` is not a Gpu, `kind` is not a string, or `x` or `y` is not a live f32 Tensor of
 * `gpu`.
 * @throws {RangeError} When `kind` is not "relu", "gelu" or "tanh", or `y` is not of x's size.
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example ReLU of three values
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationForward, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const x = Tensor.from(gpu, new Float32Array([-1, 0, 2]), [3]);
 * const y = Tensor.empty(gpu, [3]);
 * gpu.runPass("example", activationForward(gpu, "relu", x, y));
 * assert.deepEqual(await y.read(), new Float32Array([0, 0, 2]));
 * gpu.destroy();
 * ```
 */
export function activationForward(gpu: Gpu, kind: Activation, x: Tensor, y: Tensor): Encodable {
  return bind(gpu, "activationForward", kind, "act_forward", x, ["y", y]);
}

/**
 * dX = dY·f'(x), elementwise; reads the forward's input, overwrites dX.
 *
 * @param gpu The context.
 * @param kind The activation.
 * @param x The forward's input.
 * @param dY Gradient with respect to the output.
 * @param dX Gradient with respect to the input (written).
 * @returns The bound work.
 * @throws {TypeError} When `gpu` is not a Gpu, `kind` is not a string, or `x`, `dY` or `dX` is not a live f32
 * Tensor of `gpu`.
 * @throws {RangeError} When `kind` is not "relu", "gelu" or "tanh", or `dY` or `dX` is not of x's size.
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 */
export function activationBackward(gpu: Gpu, kind: Activation, x: Tensor, dY: Tensor, dX: Tensor): Encodable {
  return bind(gpu, "activationBackward", kind, "act_backward", x, ["dX", dX], dY);
}
