/**
 * The closed loop's input, delayed by design. Rank counts of a metrics step
 * come back from the GPU a few steps late (the readback is asynchronous, so
 * the GPU never waits for the host). If they were used "whenever they
 * arrive", K would depend on timing. Instead the counts of metrics step m
 * take effect at step m + every + 1 exactly, whether they arrived early or
 * must be waited for: a run is the same on every replay, and a resumed run
 * repeats the uninterrupted one.
 *
 * @module
 */

import { checkInt, checkIntegers, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Stateful } from "../train/state.ts";

/**
 * Checks one metrics step's counts: a step >= 1, a K >= 1, and per-row counts that are integers >= 0. (That a
 * count is at most K is checked where counts are used, by the K theory: this path only carries them.)
 */
function checkCounts(op: string, arg: string, counts: RankCounts): void {
  checkObject(op, arg, counts, "{ step, k, below }");
  checkInt(op, `${arg}.step`, counts.step, 1);
  checkInt(op, `${arg}.k`, counts.k, 1);
  checkIntegers(op, `${arg}.below`, counts.below, 0);
}

/** The rank counts of one metrics step. */
export interface RankCounts {
  /** The metrics step (1-based) they were read at. */
  step: number;
  /** K in use at that step. */
  k: number;
  /** Per row: negatives scored below the positive. */
  below: number[];
}

/** What {@linkcode RankCountFeedback} saves: counts not yet in effect, and the ones in effect. */
export interface RankCountState {
  /** Counts that arrived and take effect later, oldest first. */
  pending: RankCounts[];
  /** The counts in effect, or null before the first take effect. */
  current: RankCounts | null;
}

/**
 * Rank counts in flight between the loss kernel and the K schedule.
 *
 * @example Counts of step 10 take effect at step 21 with metrics every 10 steps
 * ```ts
 * import assert from "node:assert/strict";
 * import { RankCountFeedback } from "./feedback.ts";
 * const feedback = new RankCountFeedback(10);
 * feedback.add({ step: 10, k: 4, below: [4, 3] });
 * assert.equal(feedback.dueAt(20), null);
 * assert.equal(feedback.dueAt(21), 10);
 * feedback.apply(10);
 * assert.deepEqual(feedback.current?.below, [4, 3]);
 * ```
 */
export class RankCountFeedback implements Stateful<RankCountState> {
  /** Metrics are read every this many steps. */
  readonly every: number;
  #pending = new Map<number, RankCounts>();
  #current: RankCounts | null = null;

  /**
   * An empty feedback path.
   *
   * @param every The metrics cadence, in steps.
   * @throws {TypeError} When `every` is not a number.
   * @throws {RangeError} When `every` is not an integer ≥ 1.
   */
  constructor(every: number) {
    checkInt("RankCountFeedback", "every", every, 1);
    this.every = every;
  }

  /**
   * The metrics step whose counts take effect at `step`, or null when none does.
   *
   * @param step The step about to run (1-based).
   * @returns A metrics step, or null.
   * @throws {TypeError} When `step` is not a number.
   * @throws {RangeError} When `step` is not an integer >= 1.
   */
  dueAt(step: number): number | null {
    checkInt("RankCountFeedback.dueAt", "step", step, 1);
    const due = step - 1 - this.every;
    return due >= 1 && due % this.every === 0 ? due : null;
  }

  /**
   * Keeps counts that arrived, until they are due.
   *
   * @param counts The counts of one metrics step.
   * @throws {TypeError} When `counts` is not an object, its step or K is not a number, or `below` is not array-like.
   * @throws {RangeError} When its step or K is not an integer >= 1, or a count is not an integer >= 0.
   */
  add(counts: RankCounts): void {
    checkCounts("RankCountFeedback.add", "counts", counts);
    this.#pending.set(counts.step, counts);
  }

  /**
   * Whether the counts of metrics step `step` have arrived.
   *
   * @param step A metrics step.
   * @returns True when they are pending.
   * @throws {TypeError} When `step` is not a number.
   * @throws {RangeError} When `step` is not an integer >= 1.
   */
  has(step: number): boolean {
    checkInt("RankCountFeedback.has", "step", step, 1);
    return this.#pending.has(step);
  }

  /**
   * Puts the counts of metrics step `step` in effect.
   *
   * @param step A metrics step whose counts have arrived.
   * @throws {TypeError} When `step` is not a number.
   * @throws {RangeError} When `step` is not an integer >= 1, or its counts have not arrived.
   */
  apply(step: number): void {
    checkInt("RankCountFeedback.apply", "step", step, 1);
    const counts = this.#pending.get(step);
    if (!counts) rangeError("RankCountFeedback.apply", "step", "a metrics step whose counts arrived", step);
    this.#current = counts;
    this.#pending.delete(step);
  }

  /** The counts in effect, or null before the first are due. */
  get current(): RankCounts | null {
    return this.#current;
  }

  /** Pending and current counts, for checkpoints. */
  get state(): RankCountState {
    return { pending: [...this.#pending.values()], current: this.#current };
  }

  /**
   * Restores a state saved from {@linkcode RankCountFeedback.state}.
   *
   * @param state The saved state.
   * @throws {TypeError} When `state` is not `{ pending: [...], current }`, or a counts record is not one.
   * @throws {RangeError} When a counts record is out of range (see {@linkcode RankCountFeedback.add}).
   */
  setState(state: RankCountState): void {
    const op = "RankCountFeedback.setState";
    checkObject(op, "state", state, "{ pending, current }");
    if (!Array.isArray(state.pending)) typeError(op, "state.pending", "an array of counts", state.pending);
    state.pending.forEach((c, i) => checkCounts(op, `state.pending[${i}]`, c));
    if (state.current !== null) checkCounts(op, "state.current", state.current);
    this.#pending = new Map(state.pending.map((c) => [c.step, c]));
    this.#current = state.current;
  }
}
