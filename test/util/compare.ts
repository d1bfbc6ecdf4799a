/**
 * Comparison helpers in the spirit of llm.c's validate_result: elementwise
 * |actual - expected| <= atol + rtol·|expected|, non-finite values handled
 * explicitly, and the first mismatches printed with their index.
 */

import { AssertionError } from "node:assert/strict";

type Numbers = ArrayLike<number>;

/** Asserts elementwise closeness; NaN or ±Inf anywhere in `actual` fails unless equal to `expected`'s exact same infinity. */
export function assertClose(
  actual: Numbers,
  expected: Numbers,
  tol: { rtol: number; atol: number | Numbers },
  label = "values",
): void {
  const atol = (i: number) => typeof tol.atol === "number" ? tol.atol : tol.atol[i];
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${label}: length ${actual.length} != expected ${expected.length}` });
  }
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    let ok: boolean;
    if (!Number.isFinite(e)) ok = a === e; // only an identical infinity matches; NaN never does
    else ok = Number.isFinite(a) && Math.abs(a - e) <= atol(i) + tol.rtol * Math.abs(e);
    if (!ok) {
      count++;
      if (bad.length < 8) bad.push(`  [${i}] got ${a}, expected ${e}`);
    }
  }
  if (count > 0) {
    throw new AssertionError({
      message: `${label}: ${count} of ${actual.length} outside atol ${
        typeof tol.atol === "number" ? tol.atol : "(per element)"
      } + rtol ${tol.rtol}·|ref|:\n${bad.join("\n")}`,
    });
  }
}

/** ‖actual − expected‖_F / ‖expected‖_F; Infinity if `actual` has a non-finite value. */
export function relativeFrobenius(actual: Numbers, expected: Numbers): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!Number.isFinite(actual[i])) return Infinity;
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

/** Asserts relativeFrobenius(actual, expected) <= tol, naming the first non-finite element if any. */
export function assertFrobenius(actual: Numbers, expected: Numbers, tol: number, label = "values"): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${label}: length ${actual.length} != expected ${expected.length}` });
  }
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i])) {
      throw new AssertionError({ message: `${label}: element ${i} is ${actual[i]} (never written, or overflow)` });
    }
  }
  const err = relativeFrobenius(actual, expected);
  if (!(err <= tol)) {
    throw new AssertionError({ message: `${label}: relative Frobenius error ${err.toExponential(3)} > ${tol}` });
  }
}
