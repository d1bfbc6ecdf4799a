/**
 * Typed errors for everything that can go wrong on the GPU side. Each names
 * the op that was running, so a failure deep inside a training step says
 * which kernel or allocation caused it.
 *
 * @module
 */

/** What kind of GPU failure a {@linkcode GpuError} reports. */
export type GpuErrorKind =
  | "no-adapter"
  | "validation"
  | "out-of-memory"
  | "internal"
  | "device-lost";

/**
 * Base class of every error that comes from the GPU rather than from a bad
 * argument. `op` names the op that was running (for example `"matmul"`).
 *
 * @example Telling GPU failures from argument errors
 * ```ts
 * import assert from "node:assert/strict";
 * import { GpuError } from "./errors.ts";
 * const err = new GpuError("validation", "matmul", "Buffer is too small");
 * assert.ok(err instanceof GpuError);
 * assert.equal(err.op, "matmul");
 * ```
 */
export class GpuError extends Error {
  /** The op that was running when the error happened. */
  readonly op: string;
  /** The kind of failure. */
  readonly kind: GpuErrorKind;

  /**
   * Creates the error; the message is prefixed with the kind and the op.
   *
   * @param kind The kind of failure.
   * @param op The op that was running.
   * @param message What the GPU or the runtime reported.
   * @param options Standard error options (`cause`).
   */
  constructor(
    kind: GpuErrorKind,
    op: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`GPU ${kind} error in ${op}: ${message}`, options);
    this.name = "GpuError";
    this.kind = kind;
    this.op = op;
  }
}

/**
 * No WebGPU adapter could be found. The message says what to install.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoAdapterError } from "./errors.ts";
 * assert.match(new NoAdapterError().message, /mesa-vulkan-drivers/);
 * ```
 */
export class NoAdapterError extends GpuError {
  /** Creates the error with installation advice. */
  constructor() {
    super(
      "no-adapter",
      "requestGpu",
      "navigator.gpu.requestAdapter() found no adapter. On Linux without a GPU, " +
        "install Mesa's software drivers (apt-get install -y mesa-vulkan-drivers) " +
        "to get the llvmpipe adapter; with a GPU, install its Vulkan driver",
    );
    this.name = "NoAdapterError";
  }
}

/**
 * An allocation did not fit: either beyond the device's limits (thrown before
 * any GPU work) or refused by the driver.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutOfMemoryError } from "./errors.ts";
 * const err = new OutOfMemoryError("tensor", "8589934592 bytes > maxBufferSize");
 * assert.equal(err.kind, "out-of-memory");
 * ```
 */
export class OutOfMemoryError extends GpuError {
  /**
   * Creates the error.
   *
   * @param op The op that allocated.
   * @param message What did not fit.
   */
  constructor(op: string, message: string) {
    super("out-of-memory", op, message);
    this.name = "OutOfMemoryError";
  }
}

/**
 * The device was lost (destroyed, driver reset, or crashed). Every pending
 * and later call on the same {@linkcode Gpu} rejects with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceLostError } from "./errors.ts";
 * assert.equal(new DeviceLostError("matmul", "destroyed").op, "matmul");
 * ```
 */
export class DeviceLostError extends GpuError {
  /**
   * Creates the error.
   *
   * @param op The op that was running or was called.
   * @param message The reason the device reported.
   */
  constructor(op: string, message: string) {
    super("device-lost", op, message);
    this.name = "DeviceLostError";
  }
}
