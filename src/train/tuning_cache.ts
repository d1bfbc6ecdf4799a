/**
 * Matmul choices cached on disk (Deno only): one JSON file per adapter, so
 * that a second run binds the measured variants without measuring again.
 * {@linkcode tuneTrainer} measures the shapes a trainer's step binds; the
 * file is written atomically, like a checkpoint.
 *
 * @module
 */

import { checkArrayLike, checkInt, checkObject, checkString, rangeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu } from "../gpu/tensor.ts";
import { checkVariant, MATMUL_VARIANTS, recordBoundMatmuls } from "../ops/matmul.ts";
import { type MatmulTrial, tuneMatmulShapes } from "../ops/matmul_tuning.ts";
import { applyMatmulTuning, type MatmulTuningRecord, matmulTuningRecord } from "../ops/matmul_tuning_record.ts";
import type { LabelledBytes } from "../data/dataset.ts";
import { writeFileAtomic } from "./_atomic_file.ts";
import { resolveTrainerConfig, type TrainerConfig } from "./config.ts";
import { Trainer } from "./trainer.ts";

/**
 * The folder of the tuning caches: `$NCEGPU_CACHE_DIR` when set and not
 * empty, else `$XDG_CACHE_HOME/ncegpu` when that is an absolute path, else
 * `$HOME/.cache/ncegpu`; `.ncegpu-cache` under the working folder when none
 * is set or the environment may not be read.
 *
 * @returns The folder (it may not exist yet).
 */
export function defaultTuningCacheDir(): string {
  try {
    const own = Deno.env.get("NCEGPU_CACHE_DIR");
    if (own) return own;
    const xdg = Deno.env.get("XDG_CACHE_HOME");
    if (xdg?.startsWith("/")) return `${xdg}/ncegpu`; // the XDG spec ignores a relative path
    const home = Deno.env.get("HOME");
    if (home) return `${home}/.cache/ncegpu`;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  return ".ncegpu-cache";
}

/**
 * The cache file of `gpu`'s adapter in `dir`: `matmul-<adapter>.json`.
 *
 * @param gpu The context.
 * @param dir The folder (default {@linkcode defaultTuningCacheDir}).
 * @returns The path.
 * @throws {TypeError} When `gpu` is not a Gpu or `dir` not a string.
 * @throws {RangeError} When `dir` is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, tuningCachePath } from "../../mod.ts";
 * const gpu = await requestGpu();
 * assert.match(tuningCachePath(gpu, "/tmp/cache"), /^\/tmp\/cache\/matmul-[a-z0-9-]+\.json$/);
 * gpu.destroy();
 * ```
 */
export function tuningCachePath(gpu: Gpu, dir: string = defaultTuningCacheDir()): string {
  checkGpu("tuningCachePath", gpu);
  checkString("tuningCachePath", "dir", dir, true);
  const { description, vendor } = gpu.info;
  const slug = (description || vendor || "adapter").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `${dir}/matmul-${slug || "adapter"}.json`;
}

/**
 * Reads a cache file into `gpu.tuning` (see `applyMatmulTuning`). A missing
 * file applies nothing; so does a file measured on another adapter.
 *
 * @param gpu The context.
 * @param path The file (default {@linkcode tuningCachePath}`(gpu)`).
 * @returns How many choices were applied.
 * @throws {TypeError} When `gpu` is not a Gpu or `path` not a string.
 * @throws {RangeError} When `path` is empty.
 * @throws {Error} When the file exists but is not a tuning cache (not JSON, or a field breaks a rule); the message
 * names the file and the rule, and says that deleting it makes the next run measure again. When it cannot be read
 * (a folder on its path is a file, no permission); the message names it, `cause` is the file-system error.
 */
export async function loadMatmulTuning(gpu: Gpu, path?: string): Promise<number> {
  const op = "loadMatmulTuning";
  checkGpu(op, gpu);
  const file = path === undefined ? tuningCachePath(gpu) : path;
  checkString(op, "path", file, true);
  let text;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    // Deno's file errors do not always name the path (NotADirectory does not): this one does.
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`${op}: cannot read ${file} (${why})`, { cause: error });
  }
  try {
    return applyMatmulTuning(gpu, JSON.parse(text) as MatmulTuningRecord);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`${op}: ${file} is not a matmul tuning cache (${why}); delete it to measure again`);
  }
}

/**
 * Writes `gpu.tuning`'s matmul choices to a cache file, atomically, creating its folder.
 *
 * @param gpu The context.
 * @param path The file (default {@linkcode tuningCachePath}`(gpu)`).
 * @throws {TypeError} When `gpu` is not a Gpu or `path` not a string.
 * @throws {RangeError} When `path` is empty.
 * @throws {Error} When the folder or the file cannot be written; the message names the file, `cause` is the
 * file-system error.
 */
export async function saveMatmulTuning(gpu: Gpu, path?: string): Promise<void> {
  const op = "saveMatmulTuning";
  checkGpu(op, gpu);
  const file = path === undefined ? tuningCachePath(gpu) : path;
  checkString(op, "path", file, true);
  const text = JSON.stringify(matmulTuningRecord(gpu), null, 2) + "\n";
  try {
    const slash = file.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(file.slice(0, slash), { recursive: true });
    await writeFileAtomic(file, new TextEncoder().encode(text));
  } catch (error) {
    // Deno's file errors do not always name the path (NotADirectory does not): this one does.
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`${op}: cannot write ${file} (${why})`, { cause: error });
  }
}

/**
 * The variants {@linkcode tuneTrainer} measures unless told otherwise: all
 * but the 16×32 blocks (`naive` only at a 1 × N product, as
 * `tuneMatmulShapes` does). On llvmpipe a 16×32 block takes about 14 s to
 * compile the first time for each form and flag combination (a first run
 * spent 83 s compiling and timing them, against 8 s without), and at the
 * trainer's batch sizes it loses to the 8×16 blocks; pass `variants` to
 * measure it.
 */
export const TRAINER_TUNING_VARIANTS: readonly string[] = Object.freeze(
  Object.keys(MATMUL_VARIANTS).filter((v) => MATMUL_VARIANTS[v].tm * MATMUL_VARIANTS[v].tn < 512),
);

/** What {@linkcode tuneTrainer} did. */
export interface TrainerTuning {
  /** The cache file, or null when caching was off. */
  path: string | null;
  /** Choices read from the cache. */
  loaded: number;
  /** Trials of the shape classes measured now (none when the cache had them all). */
  trials: MatmulTrial[];
}

/**
 * Makes a trainer built afterwards on `gpu` with the same data and config
 * run measured matmul variants: reads the adapter's cache, binds a trainer
 * once to learn the shapes its step multiplies, measures the shape classes
 * the cache lacks (`tuneMatmulShapes`), and writes the cache back when it
 * measured anything. The trainer it bound is destroyed.
 *
 * @param gpu The context.
 * @param data What the trainer will train on.
 * @param config The trainer's config.
 * @param options `cache`: the file (default {@linkcode tuningCachePath}`(gpu)`; null: measure every time, write
 * nothing); `iterations`: timed runs per variant (default 3); `variants`: the candidates (default
 * {@linkcode TRAINER_TUNING_VARIANTS}).
 * @returns The cache path, the choices read and the trials run.
 * @throws {TypeError} When `options` is not an object, `options.cache` neither a string nor null, `options.variants`
 * not an array of strings, or anything
 * `new Trainer(gpu, data, config)` throws for.
 * @throws {RangeError} When `options.cache` is empty, `options.iterations` is not an integer >= 1,
 * `options.variants` is empty or names something that is not a key of `MATMUL_VARIANTS`, or for anything
 * `new Trainer` throws for; all before any GPU work.
 * @throws {Error} When the cache file exists but is not a tuning cache (see {@linkcode loadMatmulTuning}), or
 * cannot be written (see {@linkcode saveMatmulTuning}).
 *
 * @example Tune, then train with the choices
 * ```ts
 * import assert from "node:assert/strict";
 * import { boundMatmuls, requestGpu, syntheticSplits, Trainer, tuneTrainer } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const data = syntheticSplits({ trainRows: 200, testRows: 50, side: 8 });
 * const config = { dims: [64, 16], batch: 16, kMax: 4, steps: 2, evalSizes: { bank: 100, queries: 50 } };
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.remove(path);
 * const first = await tuneTrainer(gpu, data, config, { cache: path, iterations: 1 });
 * assert.ok(first.trials.length > 0);
 * const trainer = new Trainer(gpu, data, config);
 * for (const m of boundMatmuls(gpu)) assert.equal(m.variant, gpu.tuning.get(m.key));
 * trainer.destroy();
 * gpu.destroy();
 * ```
 */
export async function tuneTrainer(
  gpu: Gpu,
  data: { train: LabelledBytes; test: LabelledBytes },
  config: TrainerConfig = {},
  options: { cache?: string | null; iterations?: number; variants?: readonly string[] } = {},
): Promise<TrainerTuning> {
  const op = "tuneTrainer";
  checkGpu(op, gpu);
  checkObject(op, "options", options);
  checkInt(op, "options.iterations", options.iterations ?? 3, 1);
  const variants = options.variants ?? TRAINER_TUNING_VARIANTS;
  checkArrayLike(op, "options.variants", variants, "an array of variant names");
  if (variants.length === 0) rangeError(op, "options.variants", "at least one variant name", variants);
  Array.from(variants).forEach((name, i) => checkVariant(op, `options.variants[${i}]`, name));
  const path = options.cache === undefined ? tuningCachePath(gpu) : options.cache;
  if (path !== null) checkString(op, "options.cache", path, true);
  checkObject(op, "data", data, "{ train, test }");
  resolveTrainerConfig(config, data.train, data.test ?? null); // the config's errors before the cache's
  const loaded = path === null ? 0 : await loadMatmulTuning(gpu, path);
  // The shapes this trainer's step binds, and only those (not what the context bound before).
  const { bound } = recordBoundMatmuls(gpu, () => new Trainer(gpu, data, config).destroy());
  const trials = await tuneMatmulShapes(gpu, bound, { iterations: options.iterations, variants });
  if (path !== null && trials.length > 0) await saveMatmulTuning(gpu, path);
  return { path, loaded, trials };
}
