/**
 * Seeded pseudo-random numbers, so that the same seed gives the same data,
 * initialisation and samples on every run and every machine.
 *
 * @module
 */

/**
 * A mulberry32 generator: small, fast, and well distributed for data and
 * sampling (not for cryptography).
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
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
