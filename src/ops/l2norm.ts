/**
 * Row-wise L2 normalisation (shaders/l2norm.wgsl): forward z = h/‖h‖ and
 * backward dH = (g − z(z·g))/‖h‖, with ‖h‖ clamped below by 1e-12.
 *
 * @module
 */

import shader from "../../shaders/l2norm.wgsl" with { type: "text" };
import { rangeError, typeError } from "../gpu/check.ts";
import type { BindingKind, Gpu } from "../gpu/device.ts";
import { foldGroups, type Step, stepOf, uniformOf } from "../gpu/dispatch.ts";
import { Tensor } from "../gpu/tensor.ts";

const BINDINGS: readonly (BindingKind | null)[] = ["uniform", "read", "storage", "storage", "read"];

function check(op: string, name: string, t: Tensor, rows: number, dim: number): void {
  if (!(t instanceof Tensor)) typeError(op, name, "a Tensor", t);
  if (t.size !== rows * dim || t.dtype !== "f32") rangeError(op, `${name}.shape`, `[${rows}, ${dim}] (f32)`, t.shape);
}

function bind(gpu: Gpu, op: string, entry: string, resources: Tensor[], rows: number, dim: number): Step {
  const pipeline = gpu.pipeline(op, shader, entry, entry === "l2norm_forward" ? BINDINGS.slice(0, 4) : BINDINGS);
  const uniform = uniformOf(gpu, op, new Uint32Array([rows, dim, 0, 0]));
  const bindGroup = gpu.bindGroup(op, pipeline, [uniform, ...resources.map((t) => t.binding)]);
  return stepOf(gpu, [{ pipeline, bindGroup, groups: foldGroups(gpu, Math.ceil(rows / 64)) }], [uniform]);
}

/**
 * z = h / max(‖h‖, 1e-12) per row; keeps the norms for backward.
 *
 * @param gpu The context.
 * @param h Input [rows, D].
 * @param z Output [rows, D].
 * @param norms Output [rows]: the clamped norms.
 * @returns The bound step.
 *
 * @example Normalise a row
 * ```ts
 * import assert from "node:assert/strict";
 * import { l2normForward, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const h = Tensor.from(gpu, new Float32Array([3, 4]), [1, 2]);
 * const z = Tensor.empty(gpu, [1, 2]);
 * const norms = Tensor.empty(gpu, [1]);
 * const step = l2normForward(gpu, h, z, norms);
 * const encoder = gpu.device.createCommandEncoder();
 * const pass = encoder.beginComputePass();
 * step.encode(pass);
 * pass.end();
 * gpu.submit("example", encoder);
 * assert.deepEqual(await z.read(), new Float32Array([0.6, 0.8]));
 * gpu.destroy();
 * ```
 */
export function l2normForward(gpu: Gpu, h: Tensor, z: Tensor, norms: Tensor): Step {
  const op = "l2normForward";
  if (!(h instanceof Tensor) || h.shape.length !== 2) typeError(op, "h", "a [rows, D] Tensor", h?.shape);
  const [rows, dim] = h.shape;
  check(op, "z", z, rows, dim);
  check(op, "norms", norms, rows, 1);
  return bind(gpu, op, "l2norm_forward", [h, z, norms], rows, dim);
}

/**
 * dH = (dZ − z·(z·dZ)) / norm per row; overwrites dH.
 *
 * @param gpu The context.
 * @param z The forward's output [rows, D].
 * @param norms The forward's norms [rows].
 * @param dZ Gradient with respect to z.
 * @param dH Gradient with respect to h (written).
 * @returns The bound step.
 */
export function l2normBackward(gpu: Gpu, z: Tensor, norms: Tensor, dZ: Tensor, dH: Tensor): Step {
  const op = "l2normBackward";
  if (!(z instanceof Tensor) || z.shape.length !== 2) typeError(op, "z", "a [rows, D] Tensor", z?.shape);
  const [rows, dim] = z.shape;
  check(op, "norms", norms, rows, 1);
  check(op, "dZ", dZ, rows, dim);
  check(op, "dH", dH, rows, dim);
  return bind(gpu, op, "l2norm_backward", [z, dH, norms, dZ], rows, dim);
}
