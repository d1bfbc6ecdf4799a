/**
 * Gathers rows of a u8 dataset resident on the GPU into f32 rows
 * (shaders/gather.wgsl), optionally through a per-row affine warp: the
 * first op of a training step. There is no backward: the data is an input.
 *
 * @module
 */

import shader from "../../shaders/gather.wgsl" with { type: "text" };
import { checkInt, checkObject, checkRange, F32_MAX, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, type Tensor } from "../gpu/tensor.ts";

const WG = 256;

/** Floats per warp: a WGSL mat3x3<f32> (three columns padded to vec4), the layout of wgpu-matrix's `mat3`. */
export const WARP_FLOATS = 12;

/** How a packed u8 table is laid out. */
export interface ByteRowLayout {
  /** Rows in the table. */
  rows: number;
  /** Bytes per row (pixels per image). */
  width: number;
  /** [height, width] of a row read as an image, for warps (height·width must equal `width`). */
  imageShape?: readonly [number, number];
}

/** Options of {@linkcode gatherBytes}. */
export interface GatherOptions {
  /** Multiplies each byte (default 1/255). */
  scale?: number;
  /** Added after scaling (default 0). */
  shift?: number;
  /** Per-row inverse warps, f32 [rows, 12] (see {@linkcode WARP_FLOATS}); needs `imageShape`. */
  warps?: Tensor;
  /**
   * Per-row photometric changes applied after the warp, f32 [rows, 4]: contrast, brightness, noise sd, and the
   * noise seed's bits (see `randomPhotometric`); needs `warps`.
   */
  photometric?: Tensor;
}

/**
 * u32 words per packed row.
 *
 * @param width Bytes per row.
 * @returns ceil(width / 4).
 * @throws {TypeError} When `width` is not a number.
 * @throws {RangeError} When `width` is not an integer >= 1.
 */
export function wordsPerRow(width: number): number {
  checkInt("wordsPerRow", "width", width, 1);
  return Math.ceil(width / 4);
}

/**
 * Packs rows of bytes four per u32 (little-endian), padding each row to a
 * whole word, ready for {@linkcode gatherBytes}.
 *
 * @param bytes rows·width bytes, row-major.
 * @param rows Rows.
 * @param width Bytes per row.
 * @returns rows·wordsPerRow(width) words.
 * @throws {TypeError} When `rows` or `width` is not a number, or `bytes` is not a Uint8Array.
 * @throws {RangeError} When `rows` or `width` is not an integer >= 1, or `bytes.length` is not rows·width.
 */
export function packBytes(bytes: Uint8Array, rows: number, width: number): Uint32Array {
  const op = "packBytes";
  checkInt(op, "rows", rows, 1);
  checkInt(op, "width", width, 1);
  if (!(bytes instanceof Uint8Array)) typeError(op, "bytes", "a Uint8Array", bytes);
  if (bytes.length !== rows * width) rangeError(op, "bytes.length", `rows·width = ${rows * width}`, bytes.length);
  const words = wordsPerRow(width);
  const padded = new Uint8Array(rows * words * 4);
  if (words * 4 === width) padded.set(bytes);
  else for (let r = 0; r < rows; r++) padded.set(bytes.subarray(r * width, (r + 1) * width), r * words * 4);
  // Typed arrays use the platform's byte order; every WebGPU platform is little-endian, like GPU buffers.
  return new Uint32Array(padded.buffer);
}

/**
 * out[r, :] = scale · bytes of row ids[r] + shift, or, with `warps`, the
 * row read as an image and sampled bilinearly at warps[r] · (pixel centre),
 * coordinates measured from the image centre, 0 outside the image.
 *
 * @param gpu The context.
 * @param data The packed table (u32, from {@linkcode packBytes}).
 * @param layout Its rows, width and image shape.
 * @param ids Rows to gather, u32 [R] (validated where they are produced: a GPU read cannot be checked).
 * @param out f32 [R, width].
 * @param options Scale, shift, warps.
 * @returns The bound work.
 * @throws {TypeError} When `gpu` is not a Gpu; `layout` or `options` is not an object; `data` is not a live u32
 * Tensor of `gpu`, `ids` not a u32 one, `out` or `options.warps` not an f32 one; a layout or option number is not a
 * number; `layout.imageShape` is not an array; or `options.warps` is given without `layout.imageShape`.
 * @throws {RangeError} When a layout size is not an integer >= 1, `layout.imageShape` is not two of them that
 * multiply to the width, `data`, `out` or `options.warps` has the wrong size, or a scale or shift is not a finite
 * f32.
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Two rows of a 2-row table, scaled to [0, 1]
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatherBytes, packBytes, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const data = Tensor.from(gpu, packBytes(new Uint8Array([0, 255, 51, 102, 153, 204]), 2, 3), [2]);
 * const ids = Tensor.from(gpu, new Uint32Array([1, 0]), [2]);
 * const out = Tensor.empty(gpu, [2, 3]);
 * gpu.runPass("example", gatherBytes(gpu, data, { rows: 2, width: 3 }, ids, out));
 * assert.deepEqual(Array.from(await out.read(), (v) => Math.round(v * 255)), [102, 153, 204, 0, 255, 51]);
 * gpu.destroy();
 * ```
 */
export function gatherBytes(
  gpu: Gpu,
  data: Tensor,
  layout: ByteRowLayout,
  ids: Tensor,
  out: Tensor,
  options: GatherOptions = {},
): Encodable {
  const op = "gatherBytes";
  checkGpu(op, gpu);
  checkObject(op, "layout", layout);
  checkObject(op, "options", options);
  checkInt(op, "layout.rows", layout.rows, 1);
  checkInt(op, "layout.width", layout.width, 1);
  const words = wordsPerRow(layout.width);
  checkTensor(op, "data", data, gpu, "u32");
  if (data.size !== layout.rows * words) {
    rangeError(op, "data", `a u32 Tensor of rows·ceil(width/4) = ${layout.rows * words} words`, data.shape);
  }
  checkTensor(op, "ids", ids, gpu, "u32");
  const rows = ids.size;
  checkTensor(op, "out", out, gpu, "f32");
  if (out.size !== rows * layout.width) rangeError(op, "out.shape", `[${rows}, ${layout.width}] (f32)`, out.shape);
  const scale = options.scale ?? 1 / 255;
  const shift = options.shift ?? 0;
  checkRange(op, "options.scale", scale, -F32_MAX, F32_MAX, "a finite f32");
  checkRange(op, "options.shift", shift, -F32_MAX, F32_MAX, "a finite f32");
  if (layout.imageShape !== undefined && !Array.isArray(layout.imageShape)) {
    typeError(op, "layout.imageShape", "[height, width]", layout.imageShape);
  }
  if (layout.imageShape !== undefined && layout.imageShape.length !== 2) {
    rangeError(op, "layout.imageShape", "[height, width]", layout.imageShape);
  }
  const [imageH, imageW] = layout.imageShape ?? [1, layout.width];
  checkInt(op, "layout.imageShape[0]", imageH, 1);
  checkInt(op, "layout.imageShape[1]", imageW, 1);
  if (imageH * imageW !== layout.width) {
    rangeError(op, "layout.imageShape", `[h, w] with h·w = width (${layout.width})`, [imageH, imageW]);
  }
  const { warps, photometric } = options;
  if (warps !== undefined) {
    if (!layout.imageShape) typeError(op, "layout.imageShape", "given when options.warps is", undefined);
    checkTensor(op, "options.warps", warps, gpu, "f32");
    if (warps.size !== rows * WARP_FLOATS) {
      rangeError(op, "options.warps.shape", `[${rows}, ${WARP_FLOATS}] (f32, one mat3x3 per row)`, warps.shape);
    }
  }
  if (photometric !== undefined) {
    if (warps === undefined) typeError(op, "options.warps", "given when options.photometric is", undefined);
    checkTensor(op, "options.photometric", photometric, gpu, "f32");
    if (photometric.size !== rows * 4) {
      rangeError(op, "options.photometric.shape", `[${rows}, 4] (f32)`, photometric?.shape);
    }
  }
  const params = new ArrayBuffer(32);
  new Uint32Array(params, 0, 5).set([rows, layout.width, words, imageW, imageH]);
  new Float32Array(params, 20, 2).set([scale, shift]);
  return new Kernel(gpu, {
    op,
    shader,
    entry: photometric ? "gather_augmented" : warps ? "gather_warped" : "gather_rows",
    bindings: { data, ids, out, warps, photometric },
    uniforms: { params },
    workgroupSize: WG,
    threads: rows * layout.width,
  });
}
