/**
 * The GPU that tests share. A missing adapter throws NoAdapterError, which
 * fails every test that needs it: GPU tests never skip.
 */

import { type Encodable, type Gpu, requestGpu } from "../../src/gpu/device.ts";

let shared: Promise<Gpu> | null = null;

/** The shared test GPU, acquired on first use. */
export function testGpu(): Promise<Gpu> {
  shared ??= requestGpu();
  return shared;
}

/** Deno.test options for tests that keep a device open across tests. */
export const gpuTest = { sanitizeOps: false, sanitizeResources: false } as const;

/** Encodes `work` into one pass, in order, and submits it. */
export function runSteps(gpu: Gpu, ...work: Pick<Encodable, "encode">[]): void {
  gpu.runPass("test", (pass) => work.forEach((w) => w.encode(pass)));
}
