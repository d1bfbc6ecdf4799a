/**
 * A synthetic contrastive task with known structure: `classes` prototypes
 * in `dim` dimensions, and samples that are a prototype plus Gaussian
 * noise. Two samples of one class are a positive pair; samples of other
 * classes are true negatives. Seeded, so a run can be replayed.
 *
 * @module
 */

import { checkInt, checkObject, checkRange, F32_MAX, typeError } from "../gpu/_check.ts";
import { checkSeed, gaussian, seededRandom } from "./random.ts";

/**
 * The largest noise: a sample is a prototype (|p| < 7) plus noise times a Gaussian draw (|g| < 7, as
 * {@linkcode gaussian} draws it), and must stay a finite f32.
 */
export const MAX_NOISE = F32_MAX / 16;

/** Options of {@linkcode SyntheticClusters}. */
export interface SyntheticOptions {
  /** Number of classes (default 10). */
  classes?: number;
  /** Dimension of a sample (default 784, an MNIST image's). */
  dim?: number;
  /** Noise standard deviation per coordinate, relative to a prototype's (default 1). */
  noise?: number;
  /** Seed (default 0). */
  seed?: number;
}

/**
 * Class prototypes and a seeded sampler around them.
 *
 * @example Two views of class 3
 * ```ts
 * import assert from "node:assert/strict";
 * import { SyntheticClusters } from "./synthetic.ts";
 * const data = new SyntheticClusters({ classes: 5, dim: 8, seed: 1 });
 * const out = new Float32Array(16);
 * data.sample(3, out, 0);
 * data.sample(3, out, 8);
 * assert.notDeepEqual(out.subarray(0, 8), out.subarray(8));
 * ```
 */
export class SyntheticClusters {
  /** Number of classes. */
  readonly classes: number;
  /** Dimension of a sample. */
  readonly dim: number;
  /** Noise standard deviation per coordinate. */
  readonly noise: number;
  /** The random stream behind prototypes and samples. */
  readonly random: () => number;
  readonly #prototypes: Float32Array;

  /**
   * Draws the prototypes.
   *
   * @param options Classes, dimension, noise, seed.
   * @throws {TypeError} When `options` is not an object, or `options.classes`, `options.dim`, `options.noise` or
   * `options.seed` is not a number.
   * @throws {RangeError} When `options.classes` is not an integer >= 2, `options.dim` not one >= 1,
   * `options.noise` not in [0, 2.1e37] (samples must stay finite f32), or `options.seed` is not finite.
   */
  constructor(options: SyntheticOptions = {}) {
    const op = "SyntheticClusters";
    checkObject(op, "options", options);
    this.classes = options.classes ?? 10;
    this.dim = options.dim ?? 784;
    this.noise = options.noise ?? 1;
    checkInt(op, "options.classes", this.classes, 2);
    checkInt(op, "options.dim", this.dim, 1);
    checkNoise(op, "options.noise", this.noise);
    const seed = options.seed ?? 0;
    checkSeed(op, "options.seed", seed);
    this.random = seededRandom(seed);
    this.#prototypes = new Float32Array(this.classes * this.dim);
    for (let i = 0; i < this.#prototypes.length; i++) this.#prototypes[i] = gaussian(this.random);
  }

  /**
   * Writes one sample of class `label` into `out` at element `offset`.
   *
   * @param label The class.
   * @param out Destination.
   * @param offset First element written.
   * @throws {TypeError} When `label` or `offset` is not a number, or `out` is not a Float32Array.
   * @throws {RangeError} When `label` is not an integer in [0, classes), or `offset` not one leaving `dim` elements
   * of `out`.
   */
  sample(label: number, out: Float32Array, offset: number): void {
    const op = "SyntheticClusters.sample";
    checkInt(op, "label", label, 0, this.classes - 1);
    if (!(out instanceof Float32Array)) typeError(op, "out", "a Float32Array", out);
    checkInt(op, "offset", offset, 0, out.length - this.dim);
    const p = label * this.dim;
    for (let t = 0; t < this.dim; t++) out[offset + t] = this.#prototypes[p + t] + this.noise * gaussian(this.random);
  }

  /**
   * A uniformly random class other than `not`.
   *
   * @param not The class to avoid.
   * @returns A class.
   * @throws {TypeError} When `not` is not a number.
   * @throws {RangeError} When `not` is not an integer in [0, classes).
   */
  otherClass(not: number): number {
    checkInt("SyntheticClusters.otherClass", "not", not, 0, this.classes - 1);
    const c = Math.floor(this.random() * (this.classes - 1));
    return c >= not ? c + 1 : c;
  }
}

/**
 * Checks a noise level: at most {@linkcode MAX_NOISE}, so that every sample is a finite f32.
 *
 * @throws {TypeError} When `noise` is not a number.
 * @throws {RangeError} When it is not in [0, MAX_NOISE].
 */
export function checkNoise(op: string, arg: string, noise: number): void {
  checkRange(op, arg, noise, 0, MAX_NOISE, "samples must stay finite f32");
}
