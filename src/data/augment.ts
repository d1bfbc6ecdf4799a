/**
 * Random affine warps for two-view augmentation, built with wgpu-matrix and
 * applied on the GPU by `gatherBytes` (shaders/gather.wgsl). Each warp is a
 * small rotation, scaling, shear and translation about the image centre;
 * the kernel needs the inverse (where each output pixel samples), which is
 * what {@linkcode randomWarps} writes.
 *
 * @module
 */

import { mat3 } from "wgpu-matrix";
import { checkInt, checkNumber, checkObject, checkRange, rangeError, typeError } from "../gpu/_check.ts";
import { WARP_FLOATS } from "../ops/gather.ts";
import { Rng } from "./random.ts";

/** Ranges of {@linkcode randomWarps}; each parameter is drawn uniformly. */
export interface AffineRanges {
  /** Largest rotation, in degrees either way (default 10). */
  rotate?: number;
  /** Range of the isotropic scale factor (default [0.9, 1.1]). */
  scale?: readonly [number, number];
  /** Largest shear, as a factor of x added to y (default 0.1). */
  shear?: number;
  /** Largest translation, in pixels along each axis (default 2). */
  translate?: number;
}

/**
 * Fills `rows` inverse warps (mat3x3, 12 floats each, the layout WGSL and
 * wgpu-matrix share) with random affine transforms.
 *
 * @param rng The random stream (its state goes into checkpoints).
 * @param rows How many warps.
 * @param ranges Parameter ranges.
 * @param out Destination of rows·12 floats (allocated when absent).
 * @returns The warps.
 * @throws {TypeError} When `rng` is not an Rng, `rows` or a range is not a number, `ranges` is not an object,
 * `ranges.scale` is not a [low, high] pair, or `out` is not a Float32Array.
 * @throws {RangeError} When `rows` is not an integer >= 1, `ranges.rotate` is not in [0, 180], `ranges.scale` is not
 * 0 < lo <= hi, `ranges.shear` or `ranges.translate` is negative or not finite, or `out.length` is not rows·12.
 *
 * @example The identity range gives identity warps
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomWarps, Rng } from "../../mod.ts";
 * const w = randomWarps(new Rng(1), 1, { rotate: 0, scale: [1, 1], shear: 0, translate: 0 });
 * assert.deepEqual(Array.from(w), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
 * ```
 */
export function randomWarps(rng: Rng, rows: number, ranges: AffineRanges = {}, out?: Float32Array): Float32Array {
  const op = "randomWarps";
  if (!(rng instanceof Rng)) typeError(op, "rng", "an Rng", rng);
  checkInt(op, "rows", rows, 1);
  checkObject(op, "ranges", ranges);
  if (out !== undefined && !(out instanceof Float32Array)) typeError(op, "out", "a Float32Array", out);
  const { rotate = 10, scale = [0.9, 1.1], shear = 0.1, translate = 2 } = ranges;
  checkNumber(op, "ranges.rotate", rotate, (v) => v >= 0 && v <= 180, "in [0, 180] degrees");
  if (!Array.isArray(scale) || scale.length !== 2) typeError(op, "ranges.scale", "[low, high]", scale);
  checkNumber(op, "ranges.scale[0]", scale[0], (v) => v > 0, "> 0");
  checkNumber(op, "ranges.scale[1]", scale[1], (v) => v >= scale[0], `>= scale[0] (${scale[0]})`);
  checkNumber(op, "ranges.shear", shear, (v) => v >= 0, ">= 0");
  checkNumber(op, "ranges.translate", translate, (v) => v >= 0, ">= 0");
  // The warp and its inverse are f32 (here and in the kernel), applied to pixel positions of at most a few
  // thousand: bounding every factor by 1e6 keeps every position a finite f32.
  checkRange(op, "ranges.scale[0]", scale[0], 1e-6, 1e6, "1/scale a finite f32 position factor");
  checkRange(op, "ranges.scale[1]", scale[1], 1e-6, 1e6, "1/scale a finite f32 position factor");
  checkRange(op, "ranges.shear", shear, 0, 1e6, "a finite f32 position factor");
  checkRange(op, "ranges.translate", translate, 0, 1e6, "pixels, a finite f32 position");
  const warps = out ?? new Float32Array(rows * WARP_FLOATS);
  if (warps.length !== rows * WARP_FLOATS) {
    rangeError(op, "out.length", `rows·12 = ${rows * WARP_FLOATS}`, warps.length);
  }
  const between = (lo: number, hi: number) => lo + (hi - lo) * rng.next();
  const forward = mat3.create();
  const shearing = mat3.identity();
  for (let r = 0; r < rows; r++) {
    // Forward: translate · rotate · shear · scale, about the centre; the kernel wants its inverse.
    mat3.translation([between(-translate, translate), between(-translate, translate)], forward);
    mat3.rotate(forward, (between(-rotate, rotate) * Math.PI) / 180, forward);
    shearing[1] = between(-shear, shear); // column 0, row 1: y += shear·x
    mat3.multiply(forward, shearing, forward);
    const s = between(scale[0], scale[1]);
    mat3.scale(forward, [s, s], forward);
    mat3.inverse(forward, warps.subarray(r * WARP_FLOATS, (r + 1) * WARP_FLOATS));
  }
  return warps;
}
