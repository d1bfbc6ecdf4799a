/**
 * Argument checks that run before any GPU work. Messages follow Deno std:
 * `Cannot run <op> as <arg> must be <expectation>: current value is <value>`.
 *
 * @module
 */

function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(", ")}]`;
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

function message(op: string, arg: string, expected: string, value: unknown): string {
  return `Cannot run ${op} as ${arg} must be ${expected}: current value is ${show(value)}`;
}

/** Throws a RangeError (a value out of range) in the project's format. */
export function rangeError(op: string, arg: string, expected: string, value: unknown): never {
  throw new RangeError(message(op, arg, expected, value));
}

/** Throws a TypeError (a wrong type or kind of value) in the project's format. */
export function typeError(op: string, arg: string, expected: string, value: unknown): never {
  throw new TypeError(message(op, arg, expected, value));
}

/** Checks that `value` is an integer in [min, max]. */
export function checkInt(
  op: string,
  arg: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (typeof value !== "number") typeError(op, arg, "a number", value);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    rangeError(op, arg, range, value);
  }
}

/** Checks that `value` is a finite number satisfying `ok`, described by `expected`. */
export function checkNumber(
  op: string,
  arg: string,
  value: number,
  ok: (v: number) => boolean,
  expected: string,
): void {
  if (typeof value !== "number") typeError(op, arg, "a number", value);
  if (!Number.isFinite(value) || !ok(value)) {
    rangeError(op, arg, expected, value);
  }
}

/** The largest finite f32. Options that reach a shader are f32 there, whatever they are in JavaScript. */
export const F32_MAX = 3.4028234663852886e38;

/** The smallest normal f32: below it a GPU may flush a value to 0. */
export const F32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * Checks that `value` is a finite number in [min, max], where the bounds are
 * what the kernel can compute with (for example 1/τ must be a finite f32).
 */
export function checkRange(op: string, arg: string, value: number, min: number, max: number, why = ""): void {
  const range = `in [${min.toPrecision(3)}, ${max.toPrecision(3)}]${why ? ` (${why})` : ""}`;
  checkNumber(op, arg, value, (v) => v >= min && v <= max, range);
}
