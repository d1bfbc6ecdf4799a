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
import { checkInt, checkNumber, checkRange, rangeError, typeError } from "../gpu/_check.ts";
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
  /**
   * Random resized crop, first: a crop whose area is this fraction of the image, drawn uniformly (aspect ratio
   * log-uniform in [3/4, 4/3]), placed uniformly inside the image and scaled to the full size (default: none).
   * Needs `size`.
   */
  crop?: readonly [number, number];
  /** The image's [height, width] in pixels, for `crop`. */
  size?: readonly [number, number];
}

/** Ranges of {@linkcode randomPhotometric}: what changes a pixel's value after the warp. */
export interface PhotometricRanges {
  /** Range of the contrast factor that multiplies every pixel (default [1, 1]). */
  contrast?: readonly [number, number];
  /** Largest brightness offset added either way, in the gathered intensity's units (default 0). */
  brightness?: number;
  /** Largest standard deviation of the Gaussian pixel noise; each row draws one in [0, noise] (default 0). */
  noise?: number;
}

/** Floats per row of photometric changes: contrast, brightness, noise sd, the noise seed's bits. */
export const PHOTOMETRIC_FLOATS = 4;

/**
 * The ranges with defaults filled in, checked (the trainer checks its
 * config with it before any GPU work).
 *
 * @param op The op, named by errors.
 * @param ranges The ranges.
 * @param arg How errors name them (default "ranges").
 * @returns Every range.
 * @throws {TypeError} When `scale` is not a [low, high] pair, or a range is not a number.
 * @throws {RangeError} When a range is out of its bounds (the message names it and the bounds).
 */
export function checkAffineRanges(op: string, ranges: AffineRanges, arg = "ranges"): AffineRanges & {
  rotate: number;
  scale: readonly [number, number];
  shear: number;
  translate: number;
} {
  if (typeof ranges !== "object" || ranges === null) typeError(op, arg, "an object of ranges", ranges);
  const { rotate = 10, scale = [0.9, 1.1], shear = 0.1, translate = 2 } = ranges;
  checkNumber(op, `${arg}.rotate`, rotate, (v) => v >= 0 && v <= 180, "in [0, 180] degrees");
  if (!Array.isArray(scale) || scale.length !== 2) typeError(op, `${arg}.scale`, "[low, high]", scale);
  checkNumber(op, `${arg}.scale[0]`, scale[0], (v) => v > 0, "> 0");
  checkNumber(op, `${arg}.scale[1]`, scale[1], (v) => v >= scale[0], `>= scale[0] (${scale[0]})`);
  checkNumber(op, `${arg}.shear`, shear, (v) => v >= 0, ">= 0");
  checkNumber(op, `${arg}.translate`, translate, (v) => v >= 0, ">= 0");
  // The warp and its inverse are f32 (here and in the kernel), applied to pixel positions of at most a few
  // thousand: bounding every factor by 1e6 keeps every position a finite f32.
  checkRange(op, `${arg}.scale[0]`, scale[0], 1e-6, 1e6, "1/scale a finite f32 position factor");
  checkRange(op, `${arg}.scale[1]`, scale[1], 1e-6, 1e6, "1/scale a finite f32 position factor");
  checkRange(op, `${arg}.shear`, shear, 0, 1e6, "a finite f32 position factor");
  checkRange(op, `${arg}.translate`, translate, 0, 1e6, "pixels, a finite f32 position");
  const { crop, size } = ranges;
  if (crop !== undefined) {
    if (!Array.isArray(crop) || crop.length !== 2) typeError(op, `${arg}.crop`, "[low, high] area fractions", crop);
    checkRange(op, `${arg}.crop[0]`, crop[0], 1e-4, 1, "a fraction of the image");
    checkRange(op, `${arg}.crop[1]`, crop[1], crop[0], 1, `a fraction >= crop[0] (${crop[0]})`);
    if (!Array.isArray(size) || size.length !== 2) typeError(op, `${arg}.size`, "[height, width] with crop", size);
    checkInt(op, `${arg}.size[0]`, size[0], 1, 1e6);
    checkInt(op, `${arg}.size[1]`, size[1], 1, 1e6);
  }
  return { rotate, scale, shear, translate, crop, size };
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
  const { rotate, scale, shear, translate, crop, size } = checkAffineRanges(op, ranges);
  if (out !== undefined && !(out instanceof Float32Array)) typeError(op, "out", "a Float32Array", out);
  const warps = out ?? new Float32Array(rows * WARP_FLOATS);
  if (warps.length !== rows * WARP_FLOATS) {
    rangeError(op, "out.length", `rows·12 = ${rows * WARP_FLOATS}`, warps.length);
  }
  const between = (lo: number, hi: number) => lo + (hi - lo) * rng.next();
  const forward = mat3.create();
  const shearing = mat3.identity();
  const cropping = mat3.create();
  for (let r = 0; r < rows; r++) {
    // Forward: translate · rotate · shear · scale, about the centre; the kernel wants its inverse.
    mat3.translation([between(-translate, translate), between(-translate, translate)], forward);
    mat3.rotate(forward, (between(-rotate, rotate) * Math.PI) / 180, forward);
    shearing[1] = between(-shear, shear); // column 0, row 1: y += shear·x
    mat3.multiply(forward, shearing, forward);
    const s = between(scale[0], scale[1]);
    mat3.scale(forward, [s, s], forward);
    if (crop && size) {
      // The crop (cw × ch pixels, centred at c from the image centre) is stretched to the whole image.
      const area = between(crop[0], crop[1]);
      const aspect = Math.exp(between(Math.log(3 / 4), Math.log(4 / 3)));
      const fx = Math.min(1, Math.sqrt(area * aspect));
      const fy = Math.min(1, Math.sqrt(area / aspect));
      const [h, w] = size;
      const cx = between(-0.5, 0.5) * (1 - fx) * w;
      const cy = between(-0.5, 0.5) * (1 - fy) * h;
      mat3.scaling([1 / fx, 1 / fy], cropping);
      mat3.translate(cropping, [-cx, -cy], cropping);
      mat3.multiply(forward, cropping, forward);
    }
    mat3.inverse(forward, warps.subarray(r * WARP_FLOATS, (r + 1) * WARP_FLOATS));
  }
  return warps;
}

/**
 * Fills `rows` photometric changes (contrast, brightness, noise sd, noise
 * seed), drawn uniformly from `ranges`, for `gatherBytes`' `photometric`
 * option. The seed is drawn from `rng` too, so the noise replays with it.
 *
 * @param rng The random stream (its state goes into checkpoints).
 * @param rows How many rows.
 * @param ranges Parameter ranges.
 * @param out Destination of rows·4 floats (allocated when absent).
 * @returns The changes.
 * @throws {TypeError} When `rng` is not an Rng, `rows` or a range is not a number, `ranges` is not an object,
 * `ranges.contrast` is not a [low, high] pair, or `out` is not a Float32Array.
 * @throws {RangeError} When `rows` is not an integer >= 1, a range is out of its bounds, or `out.length` is not rows·4.
 *
 * @example No change at the default ranges
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomPhotometric, Rng } from "../../mod.ts";
 * const p = randomPhotometric(new Rng(1), 2, {});
 * assert.deepEqual([p[0], p[1], p[2], p[4], p[5], p[6]], [1, 0, 0, 1, 0, 0]);
 * ```
 */
export function randomPhotometric(
  rng: Rng,
  rows: number,
  ranges: PhotometricRanges = {},
  out?: Float32Array,
): Float32Array {
  const op = "randomPhotometric";
  if (!(rng instanceof Rng)) typeError(op, "rng", "an Rng", rng);
  checkInt(op, "rows", rows, 1);
  const { contrast, brightness, noise } = checkPhotometricRanges(op, ranges);
  if (out !== undefined && !(out instanceof Float32Array)) typeError(op, "out", "a Float32Array", out);
  const looks = out ?? new Float32Array(rows * PHOTOMETRIC_FLOATS);
  if (looks.length !== rows * PHOTOMETRIC_FLOATS) {
    rangeError(op, "out.length", `rows·4 = ${rows * PHOTOMETRIC_FLOATS}`, looks.length);
  }
  const seeds = new Uint32Array(looks.buffer, looks.byteOffset, looks.length);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rng.next();
  for (let r = 0; r < rows; r++) {
    const o = r * PHOTOMETRIC_FLOATS;
    looks[o] = between(contrast[0], contrast[1]);
    looks[o + 1] = between(-brightness, brightness);
    looks[o + 2] = between(0, noise);
    seeds[o + 3] = Math.floor(rng.next() * 2 ** 32);
  }
  return looks;
}

/**
 * The photometric ranges with defaults filled in, checked.
 *
 * @param op The op, named by errors.
 * @param ranges The ranges.
 * @param arg How errors name them (default "ranges").
 * @returns Every range.
 * @throws {TypeError} When `contrast` is not a [low, high] pair, or a range is not a number.
 * @throws {RangeError} When a range is out of its bounds.
 */
export function checkPhotometricRanges(
  op: string,
  ranges: PhotometricRanges,
  arg = "ranges",
): Required<PhotometricRanges> {
  if (typeof ranges !== "object" || ranges === null) typeError(op, arg, "an object of ranges", ranges);
  const { contrast = [1, 1], brightness = 0, noise = 0 } = ranges;
  if (!Array.isArray(contrast) || contrast.length !== 2) typeError(op, `${arg}.contrast`, "[low, high]", contrast);
  checkRange(op, `${arg}.contrast[0]`, contrast[0], 0, 1e6, "a factor");
  checkRange(op, `${arg}.contrast[1]`, contrast[1], contrast[0], 1e6, `a factor >= contrast[0] (${contrast[0]})`);
  checkRange(op, `${arg}.brightness`, brightness, 0, 1e6, "an offset");
  checkRange(op, `${arg}.noise`, noise, 0, 1e6, "a standard deviation");
  return { contrast, brightness, noise };
}
