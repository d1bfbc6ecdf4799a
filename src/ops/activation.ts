/**
 * Elementwise activations (shaders/activation.wgsl): ReLU, GELU (tanh form)
 * and Tanh, forward `y = f(x)` and backward `dX = dY·f'(x)`.
 *
 * @module
 */

import shader from "../../shaders/activation.wgsl" with { type: "text" };
import { rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { Tensor } from "../gpu/tensor.ts";

/** The activations a layer can use. */
export type Activation = "relu" | "gelu" | "tanh";

const CODE: Record<Activation, number> = { relu: 0, gelu: 1, tanh: 2 };
const WG = 64;

function checkSame(op: string, name: string, t: Tensor, like: Tensor): void {
  if (!(t instanceof Tensor)) typeError(op, name, "a Tensor", t);
  if (t.size !== like.size || t.dtype !== "f32") {
    rangeError(op, `${name}.shape`, `[${like.shape.join(", ")}] (f32)`, t.shape);
  }
}

function bind(gpu: Gpu, op: string, kind: Activation, entry: string, x: Tensor, out: Tensor, dY?: Tensor): Kernel {
  if (!(kind in CODE)) rangeError(op, "kind", '"relu", "gelu" or "tanh"', kind);
  if (!(x instanceof Tensor) || x.dtype !== "f32") typeError(op, "x", "an f32 Tensor", x);
  checkSame(op, "out", out, x);
  if (dY) checkSame(op, "dY", dY, x);
  return new Kernel(gpu, {
    op,
    shader,
    entry,
    bindings: { x, y: out, dy: dY },
    uniforms: { dims: new Uint32Array([x.size, 0, 0, 0]) },
    workgroupSize: WG,
    threads: x.size,
    constants: { ACT: CODE[kind] },
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
 * @throws {TypeError} When `x` is not an f32 Tensor, or `y` is not a Tensor.
 * @throws {RangeError} When `kind` is not "relu", "gelu" or "tanh", or `y` is not f32 of x's size.
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
  return bind(gpu, "activationForward", kind, "act_forward", x, y);
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
 * @throws {TypeError} When `x` is not an f32 Tensor, or `dY` or `dX` is not a Tensor.
 * @throws {RangeError} When `kind` is not "relu", "gelu" or "tanh", or `dY` or `dX` is not f32 of x's size.
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 */
export function activationBackward(gpu: Gpu, kind: Activation, x: Tensor, dY: Tensor, dX: Tensor): Encodable {
  return bind(gpu, "activationBackward", kind, "act_backward", x, dX, dY);
}
