/**
 * How many negatives? The K theory of docs/science.md §3. P1 ("Rethinking
 * InfoNCE", Wu, Wu and Huang) gives its structure: a probabilistic model of
 * how K changes the informativeness of a sample under label noise, and a
 * training-effectiveness function F(K) whose argmax is the best K. P1's full
 * text could not be read here, so the formulas below are ours, built on
 * that structure, not P1's exact equations:
 *
 *   P(A|K) = λ^K                 labels right: the positive beats K true negatives
 *   P̂(B|K) = mean_i f_i^K        model right, from rank counts: f_i = below_i / K_now
 *   F(K)   = (w_good·P(A|K) + w_bad·(1 − P(A|K)))·I(K),  I(K) = 1 − P(B|K) by default
 *   K*     = argmax_{1 ≤ K ≤ K_max} F(K)
 *
 * @module
 */

import {
  checkArrayLike,
  checkEnum,
  checkInt,
  checkIntegers,
  checkNumber,
  checkObject,
  rangeError,
} from "../gpu/_check.ts";
import { K_LIMIT } from "../ops/contrast.ts";

/** The largest K the theory tabulates: the sampled loss's kMax limit (a table of K values is allocated). */
export { K_LIMIT };

function checkLambda(op: string, lambda: number): void {
  checkNumber(op, "lambda", lambda, (v) => v > 0 && v <= 1, "in (0, 1]");
}

/** Checks the pieces of F(K) and returns them with their defaults. */
function checkPieces(op: string, options: EffectivenessOptions): Required<EffectivenessOptions> {
  checkObject(op, "options", options);
  const { wGood = 1, wBad = -1, informativeness = "model" } = options;
  checkNumber(op, "options.wGood", wGood, () => true, "finite");
  checkNumber(op, "options.wBad", wBad, () => true, "finite");
  checkEnum(op, "options.informativeness", informativeness, ["model", "mi"] as const);
  return { wGood, wBad, informativeness };
}

/** Checks P(B|K) at index K − 1: probabilities. */
function checkAccuracy(op: string, modelAccuracy: readonly number[]): void {
  checkArrayLike(op, "modelAccuracy", modelAccuracy, "an array of probabilities (P(B|K) at index K − 1)");
  for (let i = 0; i < modelAccuracy.length; i++) {
    const p = modelAccuracy[i];
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      rangeError(op, `modelAccuracy[${i}]`, "a probability in [0, 1]", p);
    }
  }
}

/** How informative a sample with K negatives is. */
export type Informativeness = "model" | "mi";

/** The pluggable pieces of F(K). */
export interface EffectivenessOptions {
  /** Weight of samples whose labels are right (default +1). */
  wGood?: number;
  /** Weight of samples whose labels are wrong (default −1: they teach the wrong thing). */
  wBad?: number;
  /**
   * I(K): "model" (default) is 1 − P(B|K), only samples the model gets wrong carry gradient;
   * "mi" is log(K+1), the InfoNCE bound, and ignores the model.
   */
  informativeness?: Informativeness;
}

/**
 * P(B|K) for K = 1..kMax, estimated from the loss kernel's rank counts: f_i
 * = (negatives scored below the positive in row i) / kNow, P̂(B|K) = mean f_i^K.
 *
 * With `pseudoCounts` a > 0, f_i = (below_i + a) / (kNow + 2a) instead:
 * the posterior mean of a row's pairwise accuracy under a Beta(a, a)
 * prior (ours, not P1's). At kNow = 1 the raw f_i is 0 or 1, so P̂(B|K)
 * would be flat in K and K* could never leave 1; the prior keeps the
 * estimate informative there.
 *
 * @param below Per-row counts (the loss's `belowCounts`).
 * @param kNow The K those counts were taken at.
 * @param kMax The largest K to estimate.
 * @param pseudoCounts a ≥ 0 (default 0: the estimator of docs/science.md §3 exactly).
 * @returns P̂(B|K) at index K − 1.
 * @throws {TypeError} When `below` is not array-like, or `kNow`, `kMax` or `pseudoCounts` is not a number.
 * @throws {RangeError} When `kNow` is not an integer >= 1, `kMax` not one in [1, 65535], `pseudoCounts` is not finite
 * and >= 0, `below` is empty, or a count is not an integer in [0, kNow].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelAccuracyFromCounts } from "./theory.ts";
 * const p = modelAccuracyFromCounts(new Uint32Array([4, 2]), 4, 2); // f = 1 and 0.5
 * assert.deepEqual(p, [0.75, 0.625]);
 * ```
 */
export function modelAccuracyFromCounts(
  below: ArrayLike<number>,
  kNow: number,
  kMax: number,
  pseudoCounts = 0,
): number[] {
  const op = "modelAccuracyFromCounts";
  return modelAccuracy(op, "pseudoCounts", below, kNow, kMax, pseudoCounts);
}

function modelAccuracy(
  op: string,
  pseudoArg: string,
  below: ArrayLike<number>,
  kNow: number,
  kMax: number,
  pseudoCounts: number,
): number[] {
  checkArrayLike(op, "below", below, "an array of counts");
  checkInt(op, "kNow", kNow, 1);
  checkInt(op, "kMax", kMax, 1, K_LIMIT);
  checkNumber(op, pseudoArg, pseudoCounts, (v) => v >= 0, ">= 0");
  if (below.length === 0) rangeError(op, "below.length", ">= 1", 0);
  checkIntegers(op, "below", below, 0, kNow);
  const out = new Array<number>(kMax).fill(0);
  for (let i = 0; i < below.length; i++) {
    const f = (below[i] + pseudoCounts) / (kNow + 2 * pseudoCounts);
    let power = 1;
    for (let k = 0; k < kMax; k++) out[k] += power *= f;
  }
  return out.map((s) => s / below.length);
}

/**
 * F(K) for K = 1..kMax.
 *
 * @param lambda Per-negative label reliability λ in (0, 1].
 * @param modelAccuracy P(B|K) at index K − 1 (from counts, or μ^K).
 * @param options The pluggable pieces.
 * @returns F(K) at index K − 1 (empty for an empty `modelAccuracy`).
 * @throws {TypeError} When `lambda` is not a number, `modelAccuracy` is not an array, `options` is not an object,
 * `options.wGood` or `options.wBad` is not a number, or `options.informativeness` not a string.
 * @throws {RangeError} When `lambda` is not in (0, 1], an accuracy is not a probability in [0, 1], a weight is not
 * finite, or `options.informativeness` is not "model" or "mi".
 */
export function effectiveness(
  lambda: number,
  modelAccuracy: readonly number[],
  options: EffectivenessOptions = {},
): number[] {
  return effectivenessOf("effectiveness", lambda, modelAccuracy, options);
}

function effectivenessOf(
  op: string,
  lambda: number,
  modelAccuracy: readonly number[],
  options: EffectivenessOptions,
): number[] {
  checkLambda(op, lambda);
  checkAccuracy(op, modelAccuracy);
  const { wGood, wBad, informativeness } = checkPieces(op, options);
  return Array.from(modelAccuracy, (pB, i) => {
    const k = i + 1;
    const pA = lambda ** k;
    const info = informativeness === "model" ? 1 - pB : Math.log(k + 1);
    return (wGood * pA + wBad * (1 - pA)) * info;
  });
}

/**
 * K* = argmax F(K) over 1..modelAccuracy.length (the smallest K on ties).
 *
 * @param lambda Label reliability λ.
 * @param modelAccuracy P(B|K) at index K − 1.
 * @param options The pluggable pieces of F.
 * @returns K*.
 * @throws {TypeError} When an argument has the wrong type (see {@linkcode effectiveness}).
 * @throws {RangeError} When `modelAccuracy` is empty (there is no K to choose), or an argument is out of range (see
 * {@linkcode effectiveness}).
 *
 * @example docs/science.md §3 worked value: λ = μ = 0.9 gives K* = 3
 * ```ts
 * import assert from "node:assert/strict";
 * import { bestK, pairwiseAccuracy } from "./theory.ts";
 * assert.equal(bestK(0.9, pairwiseAccuracy(0.9, 32)), 3);
 * ```
 */
export function bestK(lambda: number, modelAccuracy: readonly number[], options: EffectivenessOptions = {}): number {
  return argmax("bestK", lambda, modelAccuracy, options);
}

function argmax(op: string, lambda: number, modelAccuracy: readonly number[], options: EffectivenessOptions): number {
  const f = effectivenessOf(op, lambda, modelAccuracy, options);
  if (f.length === 0) rangeError(op, "modelAccuracy", "at least one K (a non-empty array)", modelAccuracy);
  let best = 0;
  for (let i = 1; i < f.length; i++) if (f[i] > f[best]) best = i;
  return best + 1;
}

/**
 * K* from live rank counts, as the closed-loop schedule computes it: P̂(B|K)
 * with `pseudoCounts` per side (default 1, see {@linkcode modelAccuracyFromCounts}),
 * then {@linkcode bestK}.
 *
 * @param lambda Label reliability λ.
 * @param below Per-row counts of negatives below the positive.
 * @param kNow The K the counts were taken at.
 * @param kMax The largest K considered.
 * @param options The pieces of F(K) and the pseudo-counts.
 * @returns K*.
 * @throws {TypeError} When `lambda`, `kNow`, `kMax` or `options.pseudoCounts` is not a number, `below` is not
 * array-like, or `options` is not an object.
 * @throws {RangeError} When an argument is out of range (see {@linkcode modelAccuracyFromCounts} and
 * {@linkcode effectiveness}).
 *
 * @example Clean labels and a model that is right 90% of the time at K = 1: use every negative
 * ```ts
 * import assert from "node:assert/strict";
 * import { bestKFromCounts } from "./theory.ts";
 * const below = Uint32Array.from({ length: 100 }, (_, i) => (i < 90 ? 1 : 0));
 * assert.equal(bestKFromCounts(1, below, 1, 16), 16);
 * ```
 */
export function bestKFromCounts(
  lambda: number,
  below: ArrayLike<number>,
  kNow: number,
  kMax: number,
  options: EffectivenessOptions & { pseudoCounts?: number } = {},
): number {
  const op = "bestKFromCounts";
  checkLambda(op, lambda);
  checkObject(op, "options", options);
  const { pseudoCounts = 1, ...pieces } = options;
  return argmax(op, lambda, modelAccuracy(op, "options.pseudoCounts", below, kNow, kMax, pseudoCounts), pieces);
}

/**
 * K* in the μ → 1 limit (a model that is almost always right), where
 * F(K)/(1 − μ) → K·(w_good·λ^K + w_bad·(1 − λ^K)) with the model-aware I(K):
 * the most negatives the labels can bear, whatever the model.
 *
 * @param lambda Label reliability λ.
 * @param kMax The largest K considered.
 * @param options The pieces of F(K).
 * @returns K*.
 * @throws {TypeError} When `lambda` or `kMax` is not a number, or `options` is not an object.
 * @throws {RangeError} When `lambda` is not in (0, 1], `kMax` not an integer in [1, 65535], or an option is out of
 * range (see {@linkcode effectiveness}).
 *
 * @example docs/science.md §3 limit values
 * ```ts
 * import assert from "node:assert/strict";
 * import { limitBestK } from "./theory.ts";
 * assert.deepEqual([limitBestK(0.9, 64), limitBestK(0.95, 64), limitBestK(1, 32)], [3, 6, 32]);
 * ```
 */
export function limitBestK(lambda: number, kMax: number, options: EffectivenessOptions = {}): number {
  checkLambda("limitBestK", lambda);
  checkInt("limitBestK", "kMax", kMax, 1, K_LIMIT);
  return argmax("limitBestK", lambda, pairwiseAccuracy(1 - 1e-9, kMax), options);
}

/**
 * The closed form P(B|K) = μ^K for a model that ranks each (positive,
 * negative) pair right with probability μ, independently.
 *
 * @param mu Per-pair accuracy μ in [0, 1].
 * @param kMax The largest K.
 * @returns μ^K at index K − 1.
 * @throws {TypeError} When `mu` or `kMax` is not a number.
 * @throws {RangeError} When `mu` is not in [0, 1], or `kMax` not an integer in [1, 65535].
 */
export function pairwiseAccuracy(mu: number, kMax: number): number[] {
  checkNumber("pairwiseAccuracy", "mu", mu, (v) => v >= 0 && v <= 1, "in [0, 1]");
  checkInt("pairwiseAccuracy", "kMax", kMax, 1, K_LIMIT);
  return Array.from({ length: kMax }, (_, i) => mu ** (i + 1));
}

/**
 * λ for uniformly drawn negatives among C balanced classes: a negative is of
 * the anchor's class with probability 1/C, so λ = 1 − 1/C.
 *
 * @param classes C ≥ 2.
 * @returns λ.
 * @throws {TypeError} When `classes` is not a number.
 * @throws {RangeError} When `classes` is not an integer >= 2.
 */
export function lambdaFromClasses(classes: number): number {
  checkInt("lambdaFromClasses", "classes", classes, 2);
  return 1 - 1 / classes;
}

/**
 * λ for negatives drawn among items whose (noisy) label differs from the
 * anchor's, under symmetric label noise at rate r over C balanced classes
 * (a label is replaced by one of the other C − 1 classes with probability
 * r). By Bayes, such a negative still shares the anchor's true class with
 * probability (1/C)·(1 − (1−r)² − r²/(C−1)) / (1 − 1/C); λ is one minus that.
 * With r = 0 it is 1: clean labels make label-aware negatives exact.
 *
 * @param classes C ≥ 2.
 * @param noise r in [0, 1).
 * @returns λ.
 * @throws {TypeError} When `classes` or `noise` is not a number.
 * @throws {RangeError} When `classes` is not an integer >= 2, or `noise` not in [0, 1).
 */
export function lambdaFromLabelNoise(classes: number, noise: number): number {
  checkInt("lambdaFromLabelNoise", "classes", classes, 2);
  checkNumber("lambdaFromLabelNoise", "noise", noise, (v) => v >= 0 && v < 1, "in [0, 1)");
  const c = classes;
  const sameClassDifferentLabels = 1 - (1 - noise) ** 2 - noise ** 2 / (c - 1);
  return 1 - ((1 / c) * sameClassDifferentLabels) / (1 - 1 / c);
}

/**
 * λ estimated from the rank counts a trained model produces (ours, beyond
 * P1): λ̂ = 2·f − 1, f the mean fraction of negatives scored below the
 * positive. Two assumptions, both about a model that has learned:
 * 1. A false negative (really of the anchor's class) is exchangeable with
 *    the positive: the model scores it above the positive half the time.
 * 2. A true negative almost never scores above the positive.
 * Then f ≈ λ + (1 − λ)/2, which gives λ̂. A true negative that still beats the
 * positive with probability ε biases λ̂ down by 2λε, so early in training
 * (ε large) λ̂ is low; it is meant for the second half of a run. Clamped to
 * [1/2^10, 1]. It also takes the labelled positive to be a true positive:
 * under label noise it reads far below λ (docs/science.md §3.8), so give λ
 * instead when labels are noisy.
 *
 * @param below Per row, negatives scored strictly below the positive.
 * @param kNow The K they were counted at.
 * @returns λ̂.
 * @throws {TypeError} When `kNow` is not a number, or `below` is not array-like.
 * @throws {RangeError} When `kNow` is not an integer >= 1, or `below` is empty or holds a count that is not an
 * integer in [0, kNow].
 *
 * @example A model that ranks every true negative below the positive and half the false ones
 * ```ts
 * import assert from "node:assert/strict";
 * import { lambdaFromCounts } from "./theory.ts";
 * // λ = 0.8 at K = 10: 8 true negatives below, and 1 of the 2 false ones.
 * assert.equal(lambdaFromCounts([9, 9, 9], 10), 0.8);
 * ```
 */
export function lambdaFromCounts(below: ArrayLike<number>, kNow: number): number {
  const op = "lambdaFromCounts";
  checkInt(op, "kNow", kNow, 1);
  checkIntegers(op, "below", below, 0, kNow);
  if (below.length < 1) rangeError(op, "below.length", ">= 1", below.length);
  let sum = 0;
  for (let i = 0; i < below.length; i++) sum += below[i];
  const f = sum / (below.length * kNow);
  return Math.min(1, Math.max(2 ** -10, 2 * f - 1));
}
