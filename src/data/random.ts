/**
 * Seeded pseudo-random numbers, so that the same seed gives the same data,
 * initialisation and samples on every run and every machine.
 *
 * @module
 */

import type { Stateful } from "../train/state.ts";

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
   * @param seed Any number; its low 32 bits are used.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The generator's state, a 32-bit integer. */
  get state(): number {
    return this.#state;
  }

  /**
   * Restores a state saved from {@linkcode Rng.state}.
   *
   * @param state The state (its low 32 bits are used).
   */
  setState(state: number): void {
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
 * @param seed Any number; its low 32 bits are used.
 * @returns A function giving uniform numbers in [0, 1).
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
  const rng = new Rng(seed);
  return () => rng.next();
}

/**
 * A standard normal sample (Box–Muller) drawn from `random`.
 *
 * @param random A uniform generator such as {@linkcode seededRandom}.
 * @returns A sample of N(0, 1).
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
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
