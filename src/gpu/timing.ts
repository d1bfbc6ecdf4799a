/**
 * GPU timing: timestamp queries around one compute pass where the device has
 * them, else wall clock around a submit that is waited for. Always the median
 * of repeated runs, after warm-up runs that are thrown away.
 *
 * @module
 */

import { checkBool, checkFunction, checkInt, checkObject, checkString } from "./_check.ts";
import { checkGpu } from "./tensor.ts";
import type { Gpu } from "./device.ts";
import { median } from "./_median.ts";

/** Options for {@linkcode timeGpu}. */
export interface TimingOptions {
  /** Untimed runs first (pipeline warm-up, caches). Default 2. */
  warmup?: number;
  /** Timed runs. Default 10. */
  iterations?: number;
  /** Force the wall clock even where timestamps exist. */
  wallClock?: boolean;
  /** Name used in errors. Default "timeGpu". */
  op?: string;
}

/** The result of {@linkcode timeGpu}. */
export interface Timing {
  /** Median over the timed runs, in milliseconds. */
  medianMs: number;
  /** Every timed run, in milliseconds, in order. */
  samplesMs: number[];
  /** How the runs were timed. */
  method: "timestamp" | "wall";
}

/**
 * Times the work `encode` records into one compute pass.
 *
 * @param gpu The context.
 * @param encode Records the work (dispatches) into the pass.
 * @param options Repetitions and method.
 * @returns The median and every sample.
 * @throws {TypeError} When `gpu` is not a Gpu, `encode` is not a function, `options` is not an object,
 * `options.warmup` or `options.iterations` is not a number, `options.wallClock` not a boolean or `options.op` not a
 * string.
 * @throws {RangeError} When `options.warmup` is not an integer >= 0, `options.iterations` not one >= 1, or
 * `options.op` is empty.
 * @throws {GpuError} When an earlier op's GPU error is pending, or the timed work causes one.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Time an empty pass
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * import { timeGpu } from "./timing.ts";
 * const gpu = await requestGpu();
 * const t = await timeGpu(gpu, () => {}, { iterations: 3 });
 * assert.equal(t.method, gpu.hasTimestamps ? "timestamp" : "wall");
 * assert.ok(t.medianMs >= 0);
 * gpu.destroy();
 * ```
 */
export async function timeGpu(
  gpu: Gpu,
  encode: (pass: GPUComputePassEncoder) => void,
  options: TimingOptions = {},
): Promise<Timing> {
  checkObject("timeGpu", "options", options);
  const op = options.op ?? "timeGpu";
  checkString("timeGpu", "options.op", op, true);
  checkGpu(op, gpu);
  checkFunction(op, "encode", encode, "a function recording work into a compute pass");
  const warmup = options.warmup ?? 2;
  const iterations = options.iterations ?? 10;
  checkInt(op, "options.warmup", warmup, 0);
  checkInt(op, "options.iterations", iterations, 1);
  if (options.wallClock !== undefined) checkBool(op, "options.wallClock", options.wallClock);
  const useTimestamps = gpu.hasTimestamps && !options.wallClock;
  const device = gpu.device;
  let querySet: GPUQuerySet | null = null;
  let resolve: GPUBuffer | null = null;
  const samplesMs: number[] = [];
  try {
    if (useTimestamps) {
      // Inside the try: if either creation throws, the finally frees the other.
      resolve = gpu.acquire(`${op}:resolve`, 16, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
      querySet = device.createQuerySet({ type: "timestamp", count: 2 });
    }
    for (let run = 0; run < warmup + iterations; run++) {
      const encoder = device.createCommandEncoder({ label: op });
      const pass = encoder.beginComputePass(
        querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
      );
      encode(pass);
      pass.end();
      if (querySet && resolve) encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
      const start = performance.now();
      gpu.submit(op, encoder);
      if (resolve) {
        const ticks = new BigUint64Array(await gpu.readBuffer(op, resolve, 0, 16));
        if (run >= warmup) samplesMs.push(Number(ticks[1] - ticks[0]) / 1e6);
      } else {
        await gpu.sync(op);
        if (run >= warmup) samplesMs.push(performance.now() - start);
      }
    }
  } finally {
    querySet?.destroy();
    if (resolve) gpu.release(resolve);
  }
  return { medianMs: median(samplesMs), samplesMs, method: useTimestamps ? "timestamp" : "wall" };
}
