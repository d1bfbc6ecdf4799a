/**
 * How a GPU context turns every failure into a typed error that names the
 * op: error scopes around creation and submission, uncaptured errors, and
 * device loss. Errors are sticky, as on CUDA: a scope's result arrives
 * asynchronously, so it is stored and thrown by the next call that checks
 * (`throwIfFailed`), and after the device is lost every wait rejects at
 * once instead of hanging.
 *
 * @module
 */

import { DeviceLostError, GpuError, OutOfMemoryError } from "./errors.ts";

/** The error state of one device. */
export class DeviceErrors {
  #pending: GpuError | null = null;
  #lost: DeviceLostError | null = null;
  #currentOp = "(no op)";
  readonly #lostPromise: Promise<never>;
  /** Error-scope pops not yet settled; `settled()` waits for them. */
  readonly #pops = new Set<Promise<unknown>>();

  /**
   * Listens to `device` for uncaptured errors and loss.
   *
   * @param device The device.
   */
  constructor(device: GPUDevice) {
    device.addEventListener("uncapturederror", (event) => {
      this.#record(toGpuError((event as GPUUncapturedErrorEvent).error, this.#currentOp));
      event.preventDefault();
    });
    this.#lostPromise = device.lost.then((info) => {
      this.#lost ??= new DeviceLostError(this.#currentOp, info.message || info.reason || "lost");
      throw this.#lost;
    });
    // Only awaited through Promise.race; keep an unobserved rejection from killing the process.
    this.#lostPromise.catch(() => {});
  }

  /** True once the device is lost or destroyed. */
  get isLost(): boolean {
    return this.#lost !== null;
  }

  /** Marks the device destroyed by its owner. */
  destroyed(): void {
    this.#lost ??= new DeviceLostError(this.#currentOp, "the device was destroyed");
  }

  /** Runs `fn` with `op` as the op that uncaptured errors and device loss will name. */
  withOp<T>(op: string, fn: () => T): T {
    const previous = this.#currentOp;
    this.#currentOp = op;
    try {
      return fn();
    } finally {
      this.#currentOp = previous;
    }
  }

  /** Throws a DeviceLostError if the device is lost, else the pending error once, if there is one. */
  throwIfFailed(op: string): void {
    if (this.#lost) throw new DeviceLostError(op, this.#lost.message);
    if (this.#pending) {
      const error = this.#pending;
      this.#pending = null;
      throw error;
    }
  }

  /** Resolves when every error scope pushed so far has been popped and recorded. */
  settled(): Promise<unknown> {
    return Promise.all(this.#pops);
  }

  /** Resolves like `promise`, or rejects with a DeviceLostError as soon as the device is lost. */
  raceLost<T>(op: string, promise: Promise<T>): Promise<T> {
    if (this.#lost) return Promise.reject(new DeviceLostError(op, this.#lost.message));
    return Promise.race([
      promise,
      this.#lostPromise.catch((lost: DeviceLostError) => {
        throw new DeviceLostError(op, lost.message);
      }),
    ]);
  }

  /**
   * The typed error for a rejection of GPU work: a DeviceLostError when the device is lost, else a GpuError.
   * WebGPU may reject work on a destroyed device before it reports the loss: wait up to 200 ms for it.
   */
  async failure(op: string, error: unknown): Promise<GpuError> {
    if (error instanceof DeviceLostError) return error;
    if (!this.#lost) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wait = new Promise<void>((resolve) => timer = setTimeout(resolve, 200));
      await Promise.race([this.#lostPromise.catch(() => {}), wait]);
      clearTimeout(timer);
    }
    if (this.#lost) return new DeviceLostError(op, this.#lost.message);
    return toGpuError(error, op);
  }

  /** Runs `create` inside out-of-memory, validation and internal error scopes that name `op`. */
  scoped<T>(device: GPUDevice, op: string, create: () => T): T {
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    try {
      return this.withOp(op, create);
    } catch (error) {
      // WebGPU throws (rather than reporting to a scope) for some invalid descriptors: type it, naming the op.
      throw toGpuError(error, op);
    } finally {
      // Popped whatever happened: a scope left pushed would swallow every later error.
      for (let i = 0; i < 3; i++) {
        const pop: Promise<unknown> = device.popErrorScope().then(
          (error) => error && this.#record(toGpuError(error, op)),
          () => {}, // a lost device rejects pops; loss is reported separately
        ).finally(() => this.#pops.delete(pop));
        this.#pops.add(pop);
      }
    }
  }

  #record(error: GpuError): void {
    this.#pending ??= error;
  }
}

/** A WebGPU error (or anything thrown by WebGPU) as the library's typed error, naming `op`. */
function toGpuError(error: unknown, op: string): GpuError {
  if (error instanceof GpuError) return error;
  // A GPUError is not an Error in every implementation, but always has a message.
  const message = (error as { message?: unknown })?.message;
  const text = typeof message === "string" ? message : String(error);
  if (typeof GPUOutOfMemoryError !== "undefined" && error instanceof GPUOutOfMemoryError) {
    return new OutOfMemoryError(op, text);
  }
  if (typeof GPUInternalError !== "undefined" && error instanceof GPUInternalError) {
    return new GpuError("internal", op, text);
  }
  return new GpuError("validation", op, text);
}
