/**
 * The page side of the browser test runner (test/browser/run.ts): a stand-in
 * for `Deno.test` that collects the tests of the bundled test files in order,
 * and runs one when the runner asks, over the DevTools protocol, through
 * `globalThis.__harness`. It also stands in for the only other Deno APIs the
 * bundled files touch at run time: `Deno.env.get` (test/util/random.ts reads
 * NCEGPU_SEED; the page has no environment, so a fresh seed is drawn and
 * printed, as in Deno without the variable) and `Deno.readTextFile` of the
 * shaders (fetched from the runner's server). This module is imported first,
 * so `Deno` exists before any test file registers.
 *
 * @module
 */

/** A test as registered: its file, its name and its body. */
interface Registered {
  file: string;
  name: string;
  fn: (t: TestContext) => unknown;
  ignore: boolean;
}

/** The part of `Deno.TestContext` the test files use: steps. */
interface TestContext {
  name: string;
  step(
    nameOrDefinition: string | { name: string; fn: (t: TestContext) => unknown },
    fn?: (t: TestContext) => unknown,
  ): Promise<boolean>;
}

/** One step's outcome, flattened with its depth (1 = a step of the test). */
export interface StepResult {
  name: string;
  depth: number;
  ok: boolean;
  ms: number;
  error?: string;
}

/** One test's outcome, sent back to the runner as JSON. */
export interface TestResult {
  ok: boolean;
  ms: number;
  error?: string;
  steps: StepResult[];
  logs: string[];
}

const tests: Registered[] = [];
let currentFile = "(unknown file)";
let logs: string[] = [];

/** Marks the test file whose registrations follow (the runner's generated entry calls it before each import). */
export function enterFile(file: string): void {
  currentFile = file;
}

type Fn = (t: TestContext) => unknown;
type Definition = { name: string; fn: Fn; ignore?: boolean };

/** `Deno.test`'s three call forms: (definition), (name, fn), (name, options, fn). */
function register(a: string | Definition, b?: Fn | Partial<Definition>, c?: Fn): void {
  let definition: Definition;
  if (typeof a === "string") {
    definition = typeof b === "function" ? { name: a, fn: b } : { ...(b as Partial<Definition>), name: a, fn: c! };
  } else {
    definition = typeof b === "function" ? { ...a, fn: b } : a;
  }
  tests.push({ file: currentFile, name: definition.name, fn: definition.fn, ignore: definition.ignore === true });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    return error.stack?.includes(error.message) ? error.stack : `${error.message}\n${error.stack}`;
  }
  return String(error);
}

/** A context whose steps run in order and record their outcome in `steps`; `failed` counts failed steps. */
function context(name: string, depth: number, steps: StepResult[], failed: { count: number }): TestContext {
  return {
    name,
    async step(nameOrDefinition, fn) {
      const def = typeof nameOrDefinition === "string" ? { name: nameOrDefinition, fn: fn! } : nameOrDefinition;
      const entry: StepResult = { name: def.name, depth, ok: true, ms: 0 };
      steps.push(entry);
      const began = performance.now();
      const inner = { count: 0 };
      try {
        await def.fn(context(def.name, depth + 1, steps, inner));
        if (inner.count > 0) throw new Error(`${inner.count} nested step(s) failed`);
      } catch (error) {
        entry.ok = false;
        entry.error = describe(error);
        failed.count++;
      }
      entry.ms = performance.now() - began;
      return entry.ok;
    },
  };
}

/** Runs test `index` and returns its outcome; a test whose steps failed fails, as in Deno. */
async function run(index: number): Promise<TestResult> {
  const test = tests[index];
  const steps: StepResult[] = [];
  const failed = { count: 0 };
  logs = [];
  const began = performance.now();
  try {
    await test.fn(context(test.name, 1, steps, failed));
    if (failed.count > 0) throw new Error(`${failed.count} step(s) failed`);
    return { ok: true, ms: performance.now() - began, steps, logs };
  } catch (error) {
    return { ok: false, ms: performance.now() - began, error: describe(error), steps, logs };
  }
}

// Console output of a test goes to the runner with its result (and to the DevTools console as usual).
for (const level of ["log", "info", "warn", "error", "debug"] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    logs.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a) ?? String(a))).join(" "));
    original(...args);
  };
}

const scope = globalThis as Record<string, unknown>;
scope.Deno = {
  test: register,
  env: { get: (_name: string): string | undefined => undefined },
  // The tests read shaders/*.wgsl at `new URL("../../shaders/x.wgsl", import.meta.url)`: in the bundle that is
  // the runner's server, which serves the repository's shaders/ folder read-only.
  async readTextFile(path: string | URL): Promise<string> {
    const response = await fetch(path);
    if (!response.ok) throw new Error(`Deno.readTextFile stand-in: ${path}: HTTP ${response.status}`);
    return await response.text();
  },
};
// npm:assert (node:assert/strict's stand-in) reads process.env through its util dependency.
scope.process ??= { env: {}, version: "", versions: {}, platform: "browser", nextTick: queueMicrotask };
scope.__harness = {
  list: () => tests.map(({ file, name, ignore }) => ({ file, name, ignore })),
  run,
};
