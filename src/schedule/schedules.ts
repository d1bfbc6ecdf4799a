/**
 * K schedules behind one interface: given training progress and the latest
 * rank statistics, return the next K. K is a runtime value of the loss
 * (`SampledContrastiveLoss.setK`), so a schedule never rebuilds anything.
 *
 * @module
 */

import { checkInt, checkNumber, rangeError } from "../gpu/_check.ts";
import type { Stateful } from "../train/state.ts";
import { bestKFromCounts, type EffectivenessOptions, lambdaFromCounts } from "./theory.ts";

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

/**
 * The same K every step.
 *
 * @param k K ≥ 1.
 * @returns The schedule.
 * @throws {TypeError} When `k` is not a number.
 * @throws {RangeError} When `k` is not an integer >= 1.
 */
export function fixedK(k: number): KSchedule {
  checkInt("fixedK", "k", k, 1);
  return { next: () => k, ...STATELESS };
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
 * @returns The schedule.
 * @throws {TypeError} When an option is not a number.
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
  const { kStar, warmup = 0.1, decayStart, decayTo = 1 } = options;
  checkInt(op, "options.kStar", kStar, 1);
  checkNumber(op, "options.warmup", warmup, (v) => v >= 0 && v <= 1, "in [0, 1]");
  if (decayStart !== undefined) {
    checkNumber(op, "options.decayStart", decayStart, (v) => v >= warmup && v <= 1, `in [warmup (${warmup}), 1]`);
  }
  checkInt(op, "options.decayTo", decayTo, 1);
  return {
    next({ step, totalSteps }) {
      const p = step / Math.max(1, totalSteps);
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
   * `lambda` is then the prior used until the first counts arrive (default false).
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
 * @returns The schedule. Its `next` throws as {@linkcode bestKFromCounts} does for invalid counts or `pseudoCounts`;
 * its `setState` throws RangeError for a state that is not [k in 1..kMax, smoothed K].
 * @throws {TypeError} When `lambda`, `kMax`, `every`, `smoothing`, `maxChange` or `initial` is not a number.
 * @throws {RangeError} When `lambda` is not in (0, 1], `kMax`, `every` or `maxChange` not an integer >= 1,
 * `smoothing` not in (0, 1], or `initial` not an integer in [1, kMax].
 */
export function closedLoopK(options: ClosedLoopOptions): KSchedule {
  const op = "closedLoopK";
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
  checkInt(op, "options.kMax", kMax, 1);
  checkInt(op, "options.every", every, 1);
  checkNumber(op, "options.smoothing", smoothing, (v) => v > 0 && v <= 1, "in (0, 1]");
  checkInt(op, "options.maxChange", maxChange, 1);
  checkInt(op, "options.initial", initial, 1, kMax);
  let k = initial;
  let smoothed = initial;
  let lambdaNow = lambda;
  return {
    next({ step, counts }) {
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
      if (
        !Array.isArray(state) || state.length !== length || !Number.isInteger(state[0]) || state[0] < 1 ||
        state[0] > kMax
      ) {
        const what = estimateLambda ? "smoothed K, λ" : "smoothed K";
        rangeError(`${op}.setState`, "state", `[k in 1..${kMax}, ${what}]`, state);
      }
      [k, smoothed] = state;
      if (estimateLambda) lambdaNow = state[2];
    },
  };
}
