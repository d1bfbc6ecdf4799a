/**
 * `node:assert/strict` for the browser bundle of the test files: Deno's
 * built-in module does not exist in a page, so the runner's import map
 * sends the specifier here, to the npm `assert` package (Node's assert
 * ported to browsers), strict mode. Same API: ok, equal, deepEqual, throws,
 * rejects, match, AssertionError and the rest.
 *
 * @module
 */

// @ts-types="node:assert"
import assert from "assert";

const strict: typeof import("node:assert/strict") =
  (assert as unknown as { strict: typeof import("node:assert/strict") })
    .strict;
export default strict;
/** The error every failed assertion throws. */
export const AssertionError: typeof strict.AssertionError = strict.AssertionError;
