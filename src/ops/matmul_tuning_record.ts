/**
 * Matmul choices as a record a cache keeps: {@linkcode matmulTuningRecord}
 * writes `gpu.tuning`'s matmul entries with the adapter they were measured
 * on, {@linkcode applyMatmulTuning} checks one and puts it back on the same
 * adapter (the Deno file cache is src/train/tuning_cache.ts).
 *
 * @module
 */

import { checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu } from "../gpu/tensor.ts";
import { checkVariant } from "./matmul_variants.ts";

/** Matmul choices as a cache stores them, with the adapter they were measured on. */
export interface MatmulTuningRecord {
  /** Always "ncegpu-matmul-tuning". */
  format: "ncegpu-matmul-tuning";
  /** Always 1. */
  version: 1;
  /** The adapter measured: choices apply only to the same vendor, architecture, device and description. */
  adapter: { vendor: string; architecture: string; device: string; description: string };
  /** `gpu.tuning` keys (`"matmul:<form>"` or a {@linkcode matmulShapeClass}) → variant names. */
  choices: Record<string, string>;
}

const KEY_PATTERN = /^matmul:(nn|nt|tn)(?::(\d+)x(\d+)x(\d+))?$/;

/** Whether `key` is `"matmul:<form>"` or a shape class: each dimension a power of two from 1 to 2³¹. */
function isTuningKey(key: string): boolean {
  const match = KEY_PATTERN.exec(key);
  if (!match) return false;
  return match.slice(2, 5).every((d) => d === undefined || (/^[1-9]\d{0,9}$/.test(d) && isPowerOfTwo(Number(d))));
}

function isPowerOfTwo(x: number): boolean {
  return x >= 1 && x <= 2 ** 31 && Number.isInteger(Math.log2(x));
}

function adapterOf(gpu: Gpu): MatmulTuningRecord["adapter"] {
  const { vendor, architecture, device, description } = gpu.info;
  return { vendor, architecture, device, description };
}

/**
 * The matmul choices in `gpu.tuning`, as a JSON-ready record.
 *
 * @param gpu The context.
 * @returns The record.
 * @throws {TypeError} When `gpu` is not a Gpu.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulTuningRecord, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * gpu.tuning.set("matmul:nn:256x256x1024", "reg8x8");
 * assert.deepEqual(matmulTuningRecord(gpu).choices, { "matmul:nn:256x256x1024": "reg8x8" });
 * gpu.destroy();
 * ```
 */
export function matmulTuningRecord(gpu: Gpu): MatmulTuningRecord {
  checkGpu("matmulTuningRecord", gpu);
  const choices = Object.fromEntries([...gpu.tuning].filter(([key]) => isTuningKey(key)).sort());
  return { format: "ncegpu-matmul-tuning", version: 1, adapter: adapterOf(gpu), choices };
}

/**
 * Puts a record's choices into `gpu.tuning`, after checking every field,
 * when it was measured on the same adapter; a record from another adapter
 * applies nothing (its timings say nothing about this one).
 *
 * @param gpu The context.
 * @param record A {@linkcode MatmulTuningRecord}, for example parsed from a cache file.
 * @returns How many choices were applied (0 for another adapter).
 * @throws {TypeError} When `gpu` is not a Gpu, `record` or `record.adapter` is not an object, `record.choices` not a
 * plain object,
 * or an adapter field or a choice is not a string.
 * @throws {RangeError} When `record.format` is not "ncegpu-matmul-tuning", `record.version` not 1, a key of
 * `record.choices` not `"matmul:<form>"` or a shape class (dimensions powers of two), or a choice not a variant's
 * name; nothing is applied then.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyMatmulTuning, matmulTuningRecord, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const record = { ...matmulTuningRecord(gpu), choices: { "matmul:tn:1024x256x256": "named16x32" } };
 * assert.equal(applyMatmulTuning(gpu, record), 1);
 * assert.equal(gpu.tuning.get("matmul:tn:1024x256x256"), "named16x32");
 * gpu.destroy();
 * ```
 */
export function applyMatmulTuning(gpu: Gpu, record: MatmulTuningRecord): number {
  const op = "applyMatmulTuning";
  checkGpu(op, gpu);
  checkObject(op, "record", record);
  if (record.format !== "ncegpu-matmul-tuning") {
    rangeError(op, "record.format", '"ncegpu-matmul-tuning"', record.format);
  }
  if (record.version !== 1) rangeError(op, "record.version", "1", record.version);
  checkObject(op, "record.adapter", record.adapter);
  const mine = adapterOf(gpu);
  for (const field of ["vendor", "architecture", "device", "description"] as const) {
    if (typeof record.adapter[field] !== "string") {
      typeError(op, `record.adapter.${field}`, "a string", record.adapter[field]);
    }
  }
  checkObject(op, "record.choices", record.choices);
  const proto = Object.getPrototypeOf(record.choices);
  if (proto !== Object.prototype && proto !== null) {
    typeError(op, "record.choices", "a plain object of key → variant name (as JSON.parse gives)", record.choices);
  }
  const entries = Object.entries(record.choices);
  for (const [key, variant] of entries) {
    if (!isTuningKey(key)) {
      rangeError(op, "record.choices key", '"matmul:<form>" or "matmul:<form>:<M>x<N>x<K>", powers of two', key);
    }
    checkVariant(op, `record.choices["${key}"]`, variant);
  }
  if ((Object.keys(mine) as (keyof typeof mine)[]).some((f) => record.adapter[f] !== mine[f])) return 0;
  for (const [key, variant] of entries) gpu.tuning.set(key, variant);
  return entries.length;
}
