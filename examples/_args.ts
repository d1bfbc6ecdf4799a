/**
 * What the experiment scripts share on their command lines: `--out` and
 * `--help` with the script's own flags, and flags that are lists, checked
 * before any work with errors that name the flag.
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { CheckpointError, hasMnistFiles, IdxError, OutOfMemoryError } from "../mod.ts";

/**
 * Makes a wrong option or input a message and exit status 2, not a stack trace; anything else (a GPU fault, a bug)
 * keeps its stack. Call it first: a flag's error is thrown while the script's top level runs.
 *
 * @param task The `deno task` name, for the hint.
 */
export function exitOnMistakes(task: string): void {
  globalThis.addEventListener("unhandledrejection", (event) => {
    const error = event.reason;
    // Out of memory: a size the adapter cannot hold (--batch, --dims); the message names the tensor and the limit.
    const mistake = error instanceof RangeError || error instanceof TypeError || error instanceof IdxError ||
      error instanceof CheckpointError || error instanceof OutOfMemoryError || error instanceof Deno.errors.NotFound;
    if (!mistake) return;
    event.preventDefault();
    console.error(`error: ${error.message}\n(deno task ${task} --help lists the options)`);
    Deno.exit(2);
  });
}

const COMMON = {
  out: { type: "string", default: "docs" },
  help: { type: "boolean", default: false },
} as const;

/**
 * Parses Deno.args: `options`, plus `--out DIR` (default docs) and `--help`, which prints `usage` and exits.
 *
 * @param options The script's own flags.
 * @param usage What `--help` prints.
 * @returns The flags' values.
 */
export function parseFlags<const O extends ParseArgsOptionsConfig>(options: O, usage: string) {
  const { values } = parseArgs<{ args: string[]; options: O & typeof COMMON }>({
    args: Deno.args,
    options: { ...options, ...COMMON },
  });
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    Deno.exit(0);
  }
  outFolder((values as { out: string }).out);
  return values;
}

/**
 * Makes `--out` (and its parents) if it is not there, before any work: a file in its place, or a folder that cannot
 * be made, is a message naming the flag rather than a stack trace after the work.
 *
 * @param dir The flag's value.
 * @returns `dir`.
 * @throws {RangeError} `--out must be a folder that exists or can be made: got <dir> (<why>)`.
 */
export function outFolder(dir: string): string {
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (error) {
    // Deno's own text may end with advice about --allow-all, which is not what stopped it here.
    const why = (error as Error).message.replace(/,? ?run again with the --allow-\w+ flag/i, "");
    throw new RangeError(`--out must be a folder that exists or can be made: got ${dir} (${why})`);
  }
  return dir;
}

/**
 * `--queue`: 0, or at least `--batch` (each step pushes its B positives into the queue, so a shorter one would drop
 * some before they were used), and at most 2^20, the trainer's bound.
 *
 * @param text The flag's value.
 * @param batch The positives a step pushes (`--batch`; 0 where the mode pushes none).
 * @returns The queue's length.
 * @throws {RangeError} Naming `--queue`, its value and the bound it broke.
 */
export function queueFlag(text: string | undefined, batch: number): number {
  const queue = integerFlag("queue", text, 0);
  if (queue > 0 && queue < batch) {
    throw new RangeError(`--queue must be 0 or at least --batch (${batch}), the positives a step pushes: got ${queue}`);
  }
  if (queue > 1 << 20) throw new RangeError(`--queue must be at most ${1 << 20}: got ${queue}`);
  return queue;
}

/**
 * A comma-separated list of numbers, each checked.
 *
 * @param flag The flag's name, without dashes.
 * @param text Its value.
 * @param ok Whether a value is allowed.
 * @param expected What is allowed, for the message.
 * @returns The numbers.
 * @throws {RangeError} `--flag must list <expected>: got <value>`, at the first value refused.
 */
export function listFlag(flag: string, text: string, ok: (v: number) => boolean, expected: string): number[] {
  return text.split(",").map((t) => {
    const v = Number(t);
    if (!ok(v)) throw new RangeError(`--${flag} must list ${expected}: got ${t}`);
    return v;
  });
}

/**
 * One integer >= `min`.
 *
 * @param flag The flag's name, without dashes.
 * @param text Its value.
 * @param min The least value allowed.
 * @returns The integer.
 * @throws {RangeError} `--flag must be an integer >= <min>: got <text>`.
 */
export function integerFlag(flag: string, text: string | undefined, min: number): number {
  // Decimal digits only: Number() would also take "0x10", "1e3" and "" (as 16, 1000 and 0).
  const v = /^-?\d+$/.test(text ?? "") ? Number(text) : NaN;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`--${flag} must be an integer >= ${min}: got ${text}`);
  return v;
}

/**
 * One finite number that passes `ok`.
 *
 * @param flag The flag's name, without dashes.
 * @param text Its value.
 * @param ok What the value must satisfy.
 * @param expected What `ok` asks, for the message.
 * @returns The number.
 * @throws {RangeError} `--flag must be a finite number <expected>: got <text>`.
 */
export function realFlag(flag: string, text: string | undefined, ok: (v: number) => boolean, expected: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || !ok(v)) throw new RangeError(`--${flag} must be a finite number ${expected}: got ${text}`);
  return v;
}

/**
 * One name of `allowed`.
 *
 * @param flag The flag's name, without dashes.
 * @param text Its value.
 * @param allowed The names.
 * @returns The name.
 * @throws {RangeError} `--flag must be one of <allowed>: got <text>`.
 */
export function choiceFlag<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) throw new RangeError(`--${flag} must be one of ${allowed.join(", ")}: got ${text}`);
  return text as T;
}

/**
 * A comma-separated list of names, each one of `allowed`.
 *
 * @param flag The flag's name, without dashes.
 * @param text Its value.
 * @param allowed The names allowed.
 * @returns The names.
 * @throws {RangeError} `--flag must list a, b or c: got <name>`, at the first name refused.
 */
export function namesFlag(flag: string, text: string, allowed: readonly string[]): string[] {
  const names = text.split(",");
  const expected = allowed.length > 1 ? `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}` : allowed[0];
  for (const name of names) {
    if (!allowed.includes(name)) throw new RangeError(`--${flag} must list ${expected}: got ${name}`);
  }
  return names;
}

/**
 * Fails early when `datasets` names Fashion-MNIST and its files are not installed.
 *
 * @param datasets The datasets asked for.
 * @param instead The way around it, for the message ("or --datasets synthetic").
 * @throws {Deno.errors.NotFound} When "fashion" is asked for and the Debian package's files are missing.
 */
export async function requireFashion(datasets: readonly string[], instead: string): Promise<void> {
  if (datasets.includes("fashion") && !await hasMnistFiles()) {
    throw new Deno.errors.NotFound(
      `Fashion-MNIST is not installed: apt-get install -y dataset-fashion-mnist, ${instead}`,
    );
  }
}
