/**
 * Argument checks that run before any GPU work. Messages follow Deno std:
 * `Cannot run <op> as <arg> must be <expectation>: current value is <value>`.
 *
 * @module
 */

const SHOW_MAX = 120;

/** A short rendering of a value for messages: arrays by their elements, typed arrays and objects by their kind. */
function show(value: unknown): string {
  const text = render(value);
  return text.length > SHOW_MAX ? `${text.slice(0, SHOW_MAX - 3)}...` : text;
}

function render(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(", ")}]`;
  if (typeof value === "string") return JSON.stringify(value);
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(${(value as { length?: number }).length ?? value.byteLength})`;
  }
  if (typeof value === "function") return `a function${value.name ? ` (${value.name})` : ""}`;
  if (typeof value === "object" && value !== null) {
    const name = Object.getPrototypeOf(value)?.constructor?.name;
    return !name || name === "Object" ? "an object" : `a ${name}`;
  }
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

/** `"a", "b" or "c"`: how messages list the values an argument may take. */
export function oneOf(allowed: readonly string[]): string {
  const quoted = allowed.map((v) => JSON.stringify(v));
  return quoted.length < 2 ? quoted.join("") : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
}

/**
 * Checks that `value` is one of the strings in `allowed` (own values of the list: a prototype key such as
 * "toString" is never one).
 *
 * @throws {TypeError} When `value` is not a string.
 * @throws {RangeError} When it is not in `allowed`.
 */
export function checkEnum<T extends string>(
  op: string,
  arg: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (typeof value !== "string") typeError(op, arg, oneOf(allowed), value);
  if (!(allowed as readonly string[]).includes(value)) rangeError(op, arg, oneOf(allowed), value);
}

/**
 * Checks that `value` is a boolean.
 *
 * @throws {TypeError} When it is not.
 */
export function checkBool(op: string, arg: string, value: unknown): asserts value is boolean {
  if (typeof value !== "boolean") typeError(op, arg, "a boolean", value);
}

/**
 * Checks that `value` is an object (not null, not a primitive): an options bag, a layout, a record.
 *
 * @throws {TypeError} When it is not.
 */
export function checkObject(op: string, arg: string, value: unknown, expected = "an object"): asserts value is object {
  if (typeof value !== "object" || value === null) typeError(op, arg, expected, value);
}

/**
 * Checks that `value` is a function.
 *
 * @throws {TypeError} When it is not.
 */
export function checkFunction(op: string, arg: string, value: unknown, expected = "a function"): void {
  if (typeof value !== "function") typeError(op, arg, expected, value);
}

/**
 * Checks that `value` is a string, and not empty when `nonEmpty`.
 *
 * @throws {TypeError} When it is not a string.
 * @throws {RangeError} When it is empty and `nonEmpty` is set.
 */
export function checkString(op: string, arg: string, value: unknown, nonEmpty = false): asserts value is string {
  if (typeof value !== "string") typeError(op, arg, nonEmpty ? "a non-empty string" : "a string", value);
  if (nonEmpty && value.length === 0) rangeError(op, arg, "a non-empty string", value);
}

/**
 * Checks that `value` is array-like (an array or a typed array: an object with a numeric length), as lists of
 * numbers are passed.
 *
 * @throws {TypeError} When it is not.
 */
export function checkArrayLike(
  op: string,
  arg: string,
  value: unknown,
  expected = "an array of numbers",
): asserts value is ArrayLike<unknown> {
  if (typeof value !== "object" || value === null || typeof (value as { length?: unknown }).length !== "number") {
    typeError(op, arg, expected, value);
  }
}

/**
 * Checks that every element of an array-like is an integer in [min, max], naming the first that is not.
 *
 * @throws {TypeError} When `values` is not array-like.
 * @throws {RangeError} When an element is not an integer in [min, max].
 */
export function checkIntegers(
  op: string,
  arg: string,
  values: ArrayLike<unknown>,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): asserts values is ArrayLike<number> {
  checkArrayLike(op, arg, values, "an array of integers");
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
      rangeError(op, `${arg}[${i}]`, range, v);
    }
  }
}
