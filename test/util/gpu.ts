/**
 * The GPU that tests share. A missing adapter throws NoAdapterError, which
 * fails every test that needs it: GPU tests never skip.
 */

import { type Gpu, requestGpu } from "../../src/gpu/device.ts";

let shared: Promise<Gpu> | null = null;

/** The shared test GPU, acquired on first use. */
export function testGpu(): Promise<Gpu> {
  shared ??= requestGpu();
  return shared;
}

/** Deno.test options for tests that keep a device open across tests. */
export const gpuTest = { sanitizeOps: false, sanitizeResources: false } as const;

/** Encodes `steps` into one pass and submits it. */
export function runSteps(gpu: Gpu, ...steps: { encode(pass: GPUComputePassEncoder): void }[]): void {
  const encoder = gpu.device.createCommandEncoder({ label: "test" });
  const pass = encoder.beginComputePass();
  for (const s of steps) s.encode(pass);
  pass.end();
  gpu.submit("test", encoder);
}
