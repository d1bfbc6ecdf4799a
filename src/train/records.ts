/**
 * What a training run reports: one record per metrics step, the callbacks
 * a front end attaches to receive them, and the error that stops a run
 * whose numbers stopped being finite.
 *
 * @module
 */

import { lambdaFromCounts, modelAccuracyFromCounts } from "../schedule/theory.ts";
import type { StepMetrics } from "./step.ts";

/** One metrics record (what the JSONL file and the charts hold). */
export interface TrainRecord {
  /** The step (1-based) the numbers belong to. */
  step: number;
  /** Mean loss of the batch. */
  loss: number;
  /** K used at that step. */
  k: number;
  /** K* of the K theory for that step's rank counts and λ (0 in SupCon mode, which has no rank counts). */
  kStar: number;
  /** P̂(B|K) at the K used: how often the model ranks the positive above all K negatives. */
  pB: number;
  /** λ estimated from this step's rank counts (`lambdaFromCounts`, ours; 0 without rank counts). */
  lambdaHat: number;
  /** InfoNCE mutual-information bound. */
  miBound: number;
  /** Mean DRO radius η. */
  eta: number;
  /** Donsker–Varadhan estimate of the mutual information (docs/science.md §1.5). */
  donskerVaradhan: number;
  /** Fraction of rows whose positive beats every negative. */
  top1: number;
  /** Global gradient norm. */
  gradNorm: number;
  /** Steps per second since the run (or the resume) started. */
  stepsPerSecond: number;
}

/** A run stopped because the loss or the gradients stopped being finite. */
export class NonFiniteLossError extends Error {
  /** The first step whose metrics were not finite. */
  readonly step: number;

  /**
   * An error for `step`.
   *
   * @param step The step.
   * @param what Which number, and its value.
   */
  constructor(step: number, what: string) {
    super(`training stopped at step ${step}: ${what} is not finite; the last checkpoint is untouched`);
    this.name = "NonFiniteLossError";
    this.step = step;
  }
}

/**
 * The error a step's metrics call for: the loss or, else, the gradient norm not finite.
 *
 * @param m The step's metrics.
 * @returns The error, or null when both are finite.
 */
export function nonFinite(m: StepMetrics): NonFiniteLossError | null {
  if (!Number.isFinite(m.meanLoss)) return new NonFiniteLossError(m.step, `the loss (${m.meanLoss})`);
  if (!Number.isFinite(m.gradNorm)) return new NonFiniteLossError(m.step, `the gradient norm (${m.gradNorm})`);
  return null;
}

/** Callbacks a front end attaches (progress bar, JSONL, charts). */
export interface TrainerHooks {
  /** After every submitted step. */
  onStep?(step: number, k: number): void;
  /** When a metrics record arrives (a few steps late, in order). */
  onRecord?(record: TrainRecord): void;
}

/**
 * The record of one metrics step.
 *
 * @param m The step's metrics.
 * @param below Its rank counts (null where the loss has none: P̂(B|K) is then 0).
 * @param kStar K* for those counts.
 * @param stepsPerSecond The rate so far.
 * @returns The record.
 */
export function trainRecord(
  m: StepMetrics,
  below: number[] | null,
  kStar: number,
  stepsPerSecond: number,
): TrainRecord {
  const k = m.negatives;
  return {
    step: m.step,
    loss: m.meanLoss,
    k,
    kStar,
    pB: below ? modelAccuracyFromCounts(below, k, k)[k - 1] : 0, // P̂(B|K) raw; none without rank counts
    lambdaHat: below ? lambdaFromCounts(below, k) : 0,
    miBound: m.miBound,
    eta: m.meanEta,
    donskerVaradhan: m.donskerVaradhan,
    top1: m.top1,
    gradNorm: m.gradNorm,
    stepsPerSecond,
  };
}
