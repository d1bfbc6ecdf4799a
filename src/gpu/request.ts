/**
 * Acquiring the GPU: an adapter and a device with the limits that matter
 * raised to what the adapter offers.
 *
 * @module
 */

import { checkObject, typeError } from "./_check.ts";
import { Gpu } from "./device.ts";
import { GpuError, NoAdapterError } from "./errors.ts";
import type { GpuOptions } from "./types.ts";

const LIMITS_TO_RAISE = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxStorageBuffersPerShaderStage",
] as const;

const OPTIONAL_FEATURES: GPUFeatureName[] = ["timestamp-query", "shader-f16"];

/**
 * Acquires an adapter and a device with the limits that matter raised to
 * what the adapter offers, and `timestamp-query` and `shader-f16` enabled
 * when present.
 *
 * @param options Adapter choice.
 * @returns The GPU context.
 * @throws {TypeError} When `options` is not an object, or `options.adapter` is not a GPUAdapter (`options.powerPreference`
 * that is not a GPUPowerPreference is refused by WebGPU's own TypeError, which names it).
 * @throws {GpuError} When the adapter refuses to create a device.
 * @throws {NoAdapterError} When no WebGPU adapter exists.
 *
 * @example Acquire the GPU and print what it is
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * const gpu = await requestGpu();
 * console.log(gpu.info.description);
 * assert.equal(gpu.limits.maxStorageBufferBindingSize, gpu.adapter.limits.maxStorageBufferBindingSize);
 * gpu.destroy();
 * ```
 */
export async function requestGpu(options: GpuOptions = {}): Promise<Gpu> {
  checkObject("requestGpu", "options", options);
  if (options.adapter !== undefined && !(options.adapter instanceof GPUAdapter)) {
    typeError("requestGpu", "options.adapter", "a GPUAdapter (from navigator.gpu.requestAdapter)", options.adapter);
  }
  const adapter = options.adapter ??
    (await navigator.gpu?.requestAdapter({
      powerPreference: options.powerPreference ?? "high-performance",
    }));
  if (!adapter) throw new NoAdapterError();
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_TO_RAISE) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: "ncegpu", requiredLimits, requiredFeatures });
  } catch (error) {
    // For example an adapter given in options that already made its device.
    throw new GpuError("internal", "requestGpu", `the adapter gave no device (${(error as Error)?.message ?? error})`);
  }
  return new Gpu(adapter, device);
}
