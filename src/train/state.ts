/**
 * One state protocol for everything a checkpoint saves beyond tensors: RNGs,
 * samplers, K schedules, the trainer's delayed rank counts. Each exposes a
 * JSON-ready copy of what decides its next output (`state`) and takes one
 * back (`setState`), so a resumed run repeats the uninterrupted one exactly.
 *
 * @module
 */

/** Something whose future a checkpoint can save and restore. */
export interface Stateful<S> {
  /** A JSON-serialisable copy of everything that decides what comes next. */
  readonly state: S;
  /**
   * Restores a copy taken from `state`.
   *
   * @param state The saved state.
   */
  setState(state: S): void;
}

/** The `state` of each part of a record of stateful parts. */
export type StatesOf<T extends Record<string, Stateful<unknown>>> = { [K in keyof T]: T[K]["state"] };

/**
 * The states of named parts, as one record (what a checkpoint stores).
 *
 * @param parts The parts by name.
 * @returns Their states by the same names.
 *
 * @example Save two generators, draw, restore, draw the same
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../data/random.ts";
 * import { restoreStates, statesOf } from "./state.ts";
 * const parts = { batches: new Rng(1), warps: new Rng(2) };
 * const saved = statesOf(parts);
 * const first = [parts.batches.next(), parts.warps.next()];
 * restoreStates(parts, JSON.parse(JSON.stringify(saved)));
 * assert.deepEqual([parts.batches.next(), parts.warps.next()], first);
 * ```
 */
export function statesOf<T extends Record<string, Stateful<unknown>>>(parts: T): StatesOf<T> {
  return Object.fromEntries(Object.entries(parts).map(([name, part]) => [name, part.state])) as StatesOf<T>;
}

/**
 * Restores every part from a record made by {@linkcode statesOf}.
 *
 * @param parts The parts by name.
 * @param saved Their saved states by the same names.
 * @throws {RangeError} When `saved` lacks a part's state.
 */
export function restoreStates<T extends Record<string, Stateful<unknown>>>(parts: T, saved: StatesOf<T>): void {
  for (const [name, part] of Object.entries(parts)) {
    if (!(name in saved)) throw new RangeError(`Cannot restore states as the saved record has no "${name}"`);
    part.setState(saved[name as keyof T]);
  }
}
