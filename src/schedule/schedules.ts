/**
 * K schedules behind one interface: given training progress and the latest
 * rank statistics, return the next K. K is a runtime value of the loss
 * (`SampledContrastiveLoss.setK`), so a schedule never rebuilds anything.
 *
 * @module
 */

import { checkInt, checkNumber, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Stateful } from "../train/state.ts";
import { bestKFromCounts, type EffectivenessOptions, K_LIMIT, lambdaFromCounts } from "./theory.ts";

/** What a schedule may look at. */
export interface ScheduleInput {
  /** Steps completed (0-based progress counter). */
  step: number;
  /** Total steps of the run. */
  totalSteps: number;
  /** Latest per-row rank counts and the K they were taken at, when available. */
  counts?: { below: ArrayLike<number>; kNow: number };
}

/**
 * A K schedule. Its `state` is what a checkpoint must save to resume it
 * exactly (null for a schedule that is a pure function of progress).
 */
export interface KSchedule extends Stateful<readonly number[] | null> {
  /** The K to use for the next step. */
  next(input: ScheduleInput): number;
}

/** The state protocol of a schedule that has none. */
const STATELESS = { state: null, setState: () => {} } as const;

/** Checks what `next` is given: progress counters, and counts when present (the closed loop checks those). */
function checkInput(op: string, input: ScheduleInput): void {
  checkObject(op, "input", input, "{ step, totalSteps }");
  checkInt(op, "input.step", input.step, 0);
  checkInt(op, "input.totalSteps", input.totalSteps, 1);
  if (input.counts !== undefined) checkObject(op, "input.counts", input.counts, "{ below, kNow }");
}

/**
 * The same K every step.
 *
 * @param k K ≥ 1.
 * @returns The schedule. Its `next` throws as `ansSchedule`'s does for an input that is not `{ step, totalSteps }`.
 * @throws {TypeError} When `k` is not a number.
 * @throws {RangeError} When `k` is not an integer >= 1.
 */
export function fixedK(k: number): KSchedule {
  checkInt("fixedK", "k", k, 1);
  return {
    next(input) {
      checkInput("fixedK.next", input);
      return k;
    },
    ...STATELESS,
  };
}

/** Options of {@linkcode ansSchedule}. */
export interface AnsOptions {
  /** The K to ramp to and hold (K*, for example `limitBestK(λ, kMax)`). */
  kStar: number;
  /** Fraction of training spent ramping from 1 to K* (default 0.1). */
  warmup?: number;
  /** Fraction of training after which K decays linearly (default: no decay). */
  decayStart?: number;
  /** K at the end of the decay (default 1). */
  decayTo?: number;
}

/**
 * Adaptive negative sampling, paper-shaped: K ramps linearly from 1 to K*
 * over the warm-up fraction, holds, and optionally decays at the end. This
 * is our reading of P1's Figure 8, which we could not see.
 *
 * @param options Shape parameters.
 * @returns The schedule. Its `next` throws a TypeError for an input that is not `{ step, totalSteps }` of numbers,
 * and a RangeError for a step that is not an integer >= 0 or a total not one >= 1.
 * @throws {TypeError} When `options` is not an object, or an option is not a number.
 * @throws {RangeError} When `kStar` or `decayTo` is not an integer >= 1, `warmup` not in [0, 1], or `decayStart`
 * not in [warmup, 1].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ansSchedule } from "./schedules.ts";
 * const s = ansSchedule({ kStar: 8, warmup: 0.5 });
 * assert.deepEqual([0, 25, 50, 99].map((step) => s.next({ step, totalSteps: 100 })), [1, 5, 8, 8]);
 * ```
 */
export function ansSchedule(options: AnsOptions): KSchedule {
  const op = "ansSchedule";
  checkObject(op, "options", options);
  const { kStar, warmup = 0.1, decayStart, decayTo = 1 } = options;
  checkInt(op, "options.kStar", kStar, 1);
  checkNumber(op, "options.warmup", warmup, (v) => v >= 0 && v <= 1, "in [0, 1]");
  if (decayStart !== undefined) {
    checkNumber(op, "options.decayStart", decayStart, (v) => v >= warmup && v <= 1, `in [warmup (${warmup}), 1]`);
  }
  checkInt(op, "options.decayTo", decayTo, 1);
  return {
    next(input) {
      checkInput(`${op}.next`, input);
      const { step, totalSteps } = input;
      const p = step / totalSteps;
      if (p < warmup) return Math.max(1, Math.round(1 + (kStar - 1) * (p / warmup)));
      if (decayStart !== undefined && p > decayStart) {
        const q = Math.min(1, (p - decayStart) / Math.max(1e-12, 1 - decayStart));
        return Math.max(1, Math.round(kStar + (decayTo - kStar) * q));
      }
      return kStar;
    },
    ...STATELESS,
  };
}

/** Options of {@linkcode closedLoopK}. */
export interface ClosedLoopOptions extends EffectivenessOptions {
  /** Label reliability λ. */
  lambda: number;
  /** The largest K (the loss's kMax). */
  kMax: number;
  /** Recompute K* every this many steps (default 50). */
  every?: number;
  /** Weight of the newest K* in the exponential moving average (default 0.3). */
  smoothing?: number;
  /** Largest change of K per update (default 2). */
  maxChange?: number;
  /** K before the first statistics arrive (default 1). */
  initial?: number;
  /** Beta-prior pseudo-counts for the per-row accuracy estimate (default 1; see `modelAccuracyFromCounts`). */
  pseudoCounts?: number;
  /**
   * Estimate λ from the same rank counts (`lambdaFromCounts`, ours, with its assumptions) and smooth it like K*;
   * `lambda` is then the prior used until the first counts arrive (default false). Under label noise the estimate
   * reads far below λ (it takes every positive to be a true one): give λ instead.
   */
  estimateLambda?: boolean;
}

/**
 * Closed loop (ours): every N steps recompute K* from P̂(B|K) of the latest
 * rank counts, smooth it, and move K toward it by a bounded amount. Early
 * on the model is weak, P(B) is small and K* is small; as it learns K*
 * rises toward its limit, so the warm-up falls out of the model.
 *
 * @param options λ, K_max, cadence, smoothing, bound.
 * @returns The schedule. Its `next` throws as `ansSchedule`'s does for a bad input, and as
 * {@linkcode bestKFromCounts} does for invalid counts; its `setState` throws a TypeError for a state that is not an
 * array and a RangeError for one that is not [k in 1..kMax, smoothed K in [1, kMax]].
 * @throws {TypeError} When `options` is not an object, or `lambda`, `kMax`, `every`, `smoothing`, `maxChange`,
 * `initial`, `pseudoCounts` or a weight is not a number.
 * @throws {RangeError} When `lambda` is not in (0, 1], `kMax` is not an integer in [1, 65535], `every` or
 * `maxChange` not one >= 1, `smoothing` not in (0, 1], `initial` not an integer in [1, kMax], or `pseudoCounts` or
 * a piece of F(K) is out of range (see {@linkcode bestKFromCounts}).
 */
export function closedLoopK(options: ClosedLoopOptions): KSchedule {
  const op = "closedLoopK";
  checkObject(op, "options", options);
  const {
    lambda,
    kMax,
    every = 50,
    smoothing = 0.3,
    maxChange = 2,
    initial = 1,
    pseudoCounts = 1,
    estimateLambda = false,
    ...pieces
  } = options;
  checkNumber(op, "options.lambda", lambda, (v) => v > 0 && v <= 1, "in (0, 1]");
  checkInt(op, "options.kMax", kMax, 1, K_LIMIT);
  checkInt(op, "options.every", every, 1);
  checkNumber(op, "options.smoothing", smoothing, (v) => v > 0 && v <= 1, "in (0, 1]");
  checkInt(op, "options.maxChange", maxChange, 1);
  checkInt(op, "options.initial", initial, 1, kMax);
  // The pieces and pseudo-counts are checked now, not at the first update many steps in: one K* with K = 1.
  bestKFromCounts(lambda, [1], 1, 1, { pseudoCounts, ...pieces });
  let k = initial;
  let smoothed = initial;
  let lambdaNow = lambda;
  return {
    next(input) {
      checkInput(`${op}.next`, input);
      const { step, counts } = input;
      if (counts && step > 0 && step % every === 0) {
        if (estimateLambda) {
          lambdaNow = (1 - smoothing) * lambdaNow + smoothing * lambdaFromCounts(counts.below, counts.kNow);
        }
        const target = bestKFromCounts(lambdaNow, counts.below, counts.kNow, kMax, { pseudoCounts, ...pieces });
        smoothed = (1 - smoothing) * smoothed + smoothing * target;
        const wanted = Math.round(smoothed);
        k = Math.min(kMax, Math.max(1, k + Math.max(-maxChange, Math.min(maxChange, wanted - k))));
      }
      return k;
    },
    get state() {
      return estimateLambda ? [k, smoothed, lambdaNow] : [k, smoothed];
    },
    setState(state) {
      const length = estimateLambda ? 3 : 2;
      const expected = `[k in 1..${kMax}, ${estimateLambda ? "smoothed K, λ" : "smoothed K"}]`;
      if (!Array.isArray(state)) typeError(`${op}.setState`, "state", expected, state);
      const [savedK, savedSmoothed] = state;
      if (state.length !== length || !Number.isInteger(savedK) || savedK < 1 || savedK > kMax) {
        rangeError(`${op}.setState`, "state", expected, state);
      }
      // The moving average of targets in [1, kMax] stays in [1, kMax]; a NaN here would make every later K NaN.
      if (typeof savedSmoothed !== "number" || !(savedSmoothed >= 1 && savedSmoothed <= kMax)) {
        rangeError(`${op}.setState`, "state[1]", `a smoothed K in [1, ${kMax}]`, savedSmoothed);
      }
      // λ̂ is a moving average of estimates in [2^-10, 1] (and the λ it started from, in (0, 1]).
      if (estimateLambda && (typeof state[2] !== "number" || !(state[2] > 0 && state[2] <= 1))) {
        rangeError(`${op}.setState`, "state[2]", "a λ in (0, 1]", state[2]);
      }
      [k, smoothed] = state;
      if (estimateLambda) lambdaNow = state[2];
    },
  };
}
