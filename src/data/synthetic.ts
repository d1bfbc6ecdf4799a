/**
 * A synthetic contrastive task with known structure: `classes` prototypes
 * in `dim` dimensions, and samples that are a prototype plus Gaussian
 * noise. Two samples of one class are a positive pair; samples of other
 * classes are true negatives. Seeded, so a run can be replayed.
 *
 * @module
 */

import { checkInt, checkNumber } from "../gpu/_check.ts";
import { gaussian, seededRandom } from "./random.ts";

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
   * @throws {TypeError} When `options.classes`, `options.dim` or `options.noise` is not a number.
   * @throws {RangeError} When `options.classes` is not an integer >= 2, `options.dim` not one >= 1, or
   * `options.noise` not finite and >= 0.
   */
  constructor(options: SyntheticOptions = {}) {
    const op = "SyntheticClusters";
    this.classes = options.classes ?? 10;
    this.dim = options.dim ?? 784;
    this.noise = options.noise ?? 1;
    checkInt(op, "options.classes", this.classes, 2);
    checkInt(op, "options.dim", this.dim, 1);
    checkNumber(op, "options.noise", this.noise, (v) => v >= 0, ">= 0");
    this.random = seededRandom(options.seed ?? 0);
    this.#prototypes = new Float32Array(this.classes * this.dim);
    for (let i = 0; i < this.#prototypes.length; i++) this.#prototypes[i] = gaussian(this.random);
  }

  /**
   * Writes one sample of class `label` into `out` at element `offset`.
   *
   * @param label The class.
   * @param out Destination.
   * @param offset First element written.
   */
  sample(label: number, out: Float32Array, offset: number): void {
    const p = label * this.dim;
    for (let t = 0; t < this.dim; t++) out[offset + t] = this.#prototypes[p + t] + this.noise * gaussian(this.random);
  }

  /**
   * A uniformly random class other than `not`.
   *
   * @param not The class to avoid.
   * @returns A class.
   */
  otherClass(not: number): number {
    const c = Math.floor(this.random() * (this.classes - 1));
    return c >= not ? c + 1 : c;
  }
}
