/**
 * Seeded pseudo-random numbers, so that the same seed gives the same data,
 * initialisation and samples on every run and every machine.
 *
 * @module
 */

import { checkFunction, rangeError, typeError } from "../gpu/_check.ts";
import type { Stateful } from "../train/state.ts";

/**
 * Checks a seed or a generator state: any finite number, whose low 32 bits are used (so -1 is 2³² − 1, 1.5 is 1
 * and 2³² is 0, as `>>> 0` reads them). NaN and ±Infinity have no bits to use.
 *
 * @param op The op, for the message.
 * @param arg The argument's name.
 * @param seed The value.
 * @throws {TypeError} When `seed` is not a number.
 * @throws {RangeError} When it is NaN or ±Infinity.
 */
export function checkSeed(op: string, arg: string, seed: unknown): asserts seed is number {
  if (typeof seed !== "number") typeError(op, arg, "a number (its low 32 bits are used)", seed);
  if (!Number.isFinite(seed)) rangeError(op, arg, "finite (its low 32 bits are used)", seed);
}

/**
 * A mulberry32 generator whose whole state is one 32-bit number, so that a
 * checkpoint can save it and a resumed run continue the same stream.
 *
 * @example Save the state, draw, restore, draw the same again
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "./random.ts";
 * const rng = new Rng(7);
 * const saved = rng.state;
 * const first = rng.next();
 * rng.setState(saved);
 * assert.equal(rng.next(), first);
 * ```
 */
export class Rng implements Stateful<number> {
  #state: number;

  /**
   * A generator at `seed`.
   *
   * @param seed Any finite number; its low 32 bits are used.
   * @throws {TypeError} When `seed` is not a number.
   * @throws {RangeError} When `seed` is NaN or ±Infinity.
   */
  constructor(seed: number) {
    checkSeed("Rng", "seed", seed);
    this.#state = seed >>> 0;
  }

  /** The generator's state, a 32-bit integer. */
  get state(): number {
    return this.#state;
  }

  /**
   * Restores a state saved from {@linkcode Rng.state}.
   *
   * @param state The state (a finite number; its low 32 bits are used).
   * @throws {TypeError} When `state` is not a number.
   * @throws {RangeError} When `state` is NaN or ±Infinity.
   */
  setState(state: number): void {
    checkSeed("Rng.setState", "state", state);
    this.#state = state >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    const s = this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/**
 * A mulberry32 stream as a function: small, fast, and well distributed for
 * data and sampling (not for cryptography). {@linkcode Rng} is the same
 * generator with its state exposed.
 *
 * @param seed Any finite number; its low 32 bits are used.
 * @returns A function giving uniform numbers in [0, 1).
 * @throws {TypeError} When `seed` is not a number.
 * @throws {RangeError} When `seed` is NaN or ±Infinity.
 *
 * @example Same seed, same sequence
 * ```ts
 * import assert from "node:assert/strict";
 * import { seededRandom } from "./random.ts";
 * const a = seededRandom(42), b = seededRandom(42);
 * assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
 * ```
 */
export function seededRandom(seed: number): () => number {
  checkSeed("seededRandom", "seed", seed);
  const rng = new Rng(seed);
  return () => rng.next();
}

function isUnit(x: unknown): boolean {
  return typeof x === "number" && x >= 0 && x < 1;
}

/**
 * A standard normal sample (Box–Muller) drawn from `random`.
 *
 * @param random A uniform generator in [0, 1) such as {@linkcode seededRandom}.
 * @returns A sample of N(0, 1).
 * @throws {TypeError} When `random` is not a function.
 * @throws {RangeError} When `random` returns something other than a number in [0, 1) (1 would give an infinite
 * sample, NaN a NaN one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gaussian, seededRandom } from "./random.ts";
 * const random = seededRandom(1);
 * const samples = Array.from({ length: 10000 }, () => gaussian(random));
 * const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
 * assert.ok(Math.abs(mean) < 0.05);
 * ```
 */
export function gaussian(random: () => number): number {
  checkFunction("gaussian", "random", random, "a function returning numbers in [0, 1)");
  const u = random();
  const v = random();
  if (!isUnit(u)) rangeError("gaussian", "random()", "a number in [0, 1)", u);
  if (!isUnit(v)) rangeError("gaussian", "random()", "a number in [0, 1)", v);
  return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
}
