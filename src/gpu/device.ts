/**
 * The GPU context: one adapter, one device, and everything that must be
 * shared by the ops that run on it: raised limits, error scopes, the
 * pipeline cache, the buffer pool and the counters tests assert on.
 *
 * Errors are sticky, as on CUDA: creation and submission run inside
 * validation and out-of-memory error scopes whose results arrive
 * asynchronously, so a failure is stored and thrown by the next awaited call
 * ({@linkcode Gpu.sync}, a tensor read), naming the op that caused it.
 *
 * @module
 */

import { typeError } from "./_check.ts";
import { type GpuError, OutOfMemoryError } from "./errors.ts";
import { DeviceErrors } from "./_device_errors.ts";
import { BufferPool } from "./_buffer_pool.ts";
import { PipelineCache, printWgsl } from "./_pipeline_cache.ts";
import type { AdapterInfo, Binding, BindingKind, Encodable, GpuCounters, OverrideConstants } from "./types.ts";

export { requestGpu } from "./request.ts";
export type { AdapterInfo, Binding, BindingKind, Encodable, GpuCounters } from "./types.ts";
export type { GpuOptions, OverrideConstants } from "./types.ts";

/**
 * The GPU context. Create it with {@linkcode requestGpu}.
 *
 * @example Allocate, run, and check counters
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * const gpu = await requestGpu();
 * const buffer = gpu.createBuffer("example", 1024, GPUBufferUsage.STORAGE);
 * assert.ok(gpu.counters.liveBytes >= 1024);
 * gpu.destroyBuffer(buffer);
 * await gpu.sync("example");
 * gpu.destroy();
 * ```
 */
export class Gpu {
  /** The adapter the device came from. */
  readonly adapter: GPUAdapter;
  /** The device; ops use it directly for encoding. */
  readonly device: GPUDevice;
  /** A plain copy of `adapter.info`. */
  readonly info: AdapterInfo;
  /** The device's limits (raised ones included). */
  readonly limits: GPUSupportedLimits;
  /** True when timestamp queries can time passes on the GPU itself. */
  readonly hasTimestamps: boolean;
  /** True when WGSL may `enable f16`. */
  readonly hasF16: boolean;
  /** Live counters; see {@linkcode GpuCounters}. */
  readonly counters: GpuCounters = {
    pipelinesCreated: 0,
    buffersAllocated: 0,
    liveBuffers: 0,
    liveBytes: 0,
    peakLiveBytes: 0,
    submits: 0,
  };
  /** Every buffer made here, and the free ones kept for reuse; see {@linkcode Gpu.acquire}. */
  readonly #buffers: BufferPool;
  /** Pending and sticky errors, error scopes, device loss. */
  readonly #errors: DeviceErrors;
  /** Pipelines by (shader, entry point, layout, constants), created once. */
  readonly #pipelines: PipelineCache;

  /**
   * Use {@linkcode requestGpu}; this constructor only wires an existing device.
   *
   * @param adapter The adapter.
   * @param device A device from that adapter.
   * @throws {TypeError} When `adapter` is not a GPUAdapter or `device` not a GPUDevice.
   */
  constructor(adapter: GPUAdapter, device: GPUDevice) {
    if (!(adapter instanceof GPUAdapter)) typeError("Gpu", "adapter", "a GPUAdapter", adapter);
    if (!(device instanceof GPUDevice)) typeError("Gpu", "device", "a GPUDevice (from adapter.requestDevice)", device);
    this.adapter = adapter;
    this.device = device;
    const i = adapter.info;
    this.info = {
      vendor: i.vendor,
      architecture: i.architecture,
      device: i.device,
      // Dawn's SwiftShader reports no description: name it by vendor and architecture ("google swiftshader").
      description: i.description || [i.vendor, i.architecture].filter(Boolean).join(" ") || "unnamed adapter",
      // deno-lint-ignore no-explicit-any
      isFallbackAdapter: Boolean((i as any).isFallbackAdapter),
    };
    this.limits = device.limits;
    this.#buffers = new BufferPool(this.counters);
    this.#pipelines = new PipelineCache(
      device,
      this.counters,
      printWgsl(),
      (op, create) => this.#scoped(op, create),
    );
    this.hasTimestamps = device.features.has("timestamp-query");
    this.hasF16 = device.features.has("shader-f16");
    this.#errors = new DeviceErrors(device);
  }

  /**
   * Variant choices measured on this device, keyed by op and form (for
   * example `"matmul:nt"` → `"reg8x8"`). Filled by tuners; read by launchers.
   */
  readonly tuning: Map<string, string> = new Map();

  #dummy: GPUBuffer | null = null;

  /**
   * A 16-byte storage buffer to bind where a kernel's optional input is absent.
   *
   * @throws {GpuError} On first use, when an earlier op's GPU error is pending.
   * @throws {DeviceLostError} On first use, when the device is lost.
   */
  get dummy(): GPUBuffer {
    this.#dummy ??= this.createBuffer("dummy", 16, GPUBufferUsage.STORAGE);
    return this.#dummy;
  }

  /** True once the device is lost or destroyed. */
  get isLost(): boolean {
    return this.#errors.isLost;
  }

  /** Resets `peakLiveBytes` to the current live bytes. */
  resetPeak(): void {
    this.counters.peakLiveBytes = this.counters.liveBytes;
  }

  /**
   * Runs `fn` with `op` as the op that uncaptured errors and device loss
   * will name.
   *
   * @param op The op name.
   * @param fn The work.
   * @returns What `fn` returns.
   */
  withOp<T>(op: string, fn: () => T): T {
    return this.#errors.withOp(op, fn);
  }

  /**
   * Throws the stored error, or a DeviceLostError, if there is one.
   *
   * @param op The op checking, named by a DeviceLostError.
   * @throws {GpuError} When an earlier op's GPU error is pending (it is thrown once, then cleared).
   * @throws {DeviceLostError} When the device is lost.
   */
  throwIfFailed(op: string): void {
    this.#errors.throwIfFailed(op);
  }

  /**
   * Creates a buffer inside validation and out-of-memory scopes. Sizes
   * beyond the device limits throw before touching the device.
   *
   * @param op The op allocating, for error messages and labels.
   * @param bytes Size in bytes (rounded up to a multiple of 4, at least 4).
   * @param usage `GPUBufferUsage` flags.
   * @returns The buffer.
   * @throws {OutOfMemoryError} When the size exceeds `maxBufferSize` (or, for a storage buffer,
   * `maxStorageBufferBindingSize`).
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  createBuffer(op: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    this.throwIfFailed(op);
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    // A storage buffer past the binding limit is named for it even when it also passes maxBufferSize (Dawn's
    // SwiftShader has both at 1 GiB): "split or tile it" is what the caller can act on.
    const overBuffer = size > this.limits.maxBufferSize;
    if ((usage & GPUBufferUsage.STORAGE) && size > this.limits.maxStorageBufferBindingSize) {
      const also = overBuffer ? ` and maxBufferSize (${this.limits.maxBufferSize})` : "";
      throw new OutOfMemoryError(
        op,
        `a storage buffer of ${size} bytes exceeds the device's maxStorageBufferBindingSize (${this.limits.maxStorageBufferBindingSize})${also}; split or tile it`,
      );
    }
    if (overBuffer) {
      throw new OutOfMemoryError(
        op,
        `a buffer of ${size} bytes exceeds the device's maxBufferSize (${this.limits.maxBufferSize})`,
      );
    }
    return this.#buffers.track(this.#scoped(op, () => this.device.createBuffer({ label: op, size, usage })), size);
  }

  /** Destroys a buffer made by {@linkcode Gpu.createBuffer} and updates the counters. */
  destroyBuffer(buffer: GPUBuffer): void {
    this.#buffers.destroy(buffer);
  }

  /**
   * Takes a buffer of exactly `bytes` (rounded to 4) and `usage` from the
   * pool, creating one only when none is free. A training loop that
   * acquires and releases the same sizes each step allocates nothing after
   * its first step.
   *
   * @param op The op acquiring.
   * @param bytes Size in bytes.
   * @param usage `GPUBufferUsage` flags.
   * @returns A buffer; its contents are undefined.
   * @throws {OutOfMemoryError} When no pooled buffer fits and the size exceeds the device's buffer limits.
   * @throws {GpuError} When no pooled buffer fits and an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When no pooled buffer fits and the device is lost.
   */
  acquire(op: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    return this.#buffers.take(bytes, usage) ?? this.createBuffer(op, bytes, usage);
  }

  /**
   * Returns a buffer to the pool. Safe right after a submit that uses it:
   * queue writes and submits that reuse it are ordered after that submit.
   */
  release(buffer: GPUBuffer): void {
    this.#buffers.release(buffer);
  }

  /** Destroys every free pooled buffer. */
  trimPool(): void {
    this.#buffers.trim();
  }

  /**
   * A compute pipeline from the cache, keyed by (shader, entry point,
   * override constants, binding layout). Creating it happens once.
   *
   * @param op The op, for labels and errors.
   * @param code WGSL source.
   * @param entryPoint The `@compute` entry point.
   * @param bindings Kinds of bindings 0..n-1 of group 0; `null` skips a number.
   * @param constants Override constants.
   * @returns The pipeline.
   * @throws {GpuError} When the pipeline is not cached yet and an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the pipeline is not cached yet and the device is lost.
   */
  pipeline(
    op: string,
    code: string,
    entryPoint: string,
    bindings: readonly (BindingKind | null)[],
    constants: OverrideConstants = {},
  ): GPUComputePipeline {
    return this.#pipelines.get(op, code, entryPoint, bindings, constants, () => this.throwIfFailed(op));
  }

  /**
   * A bind group for group 0 of `pipeline`, binding `resources` to 0..n-1.
   *
   * @param op The op, for labels.
   * @param pipeline A pipeline from {@linkcode Gpu.pipeline}.
   * @param resources One buffer (or range) per binding; `null` where the layout has none.
   * @returns The bind group.
   */
  bindGroup(op: string, pipeline: GPUComputePipeline, resources: readonly (Binding | null)[]): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    resources.forEach((r, binding) => {
      if (r) entries.push({ binding, resource: "buffer" in r ? r : { buffer: r } });
    });
    return this.#scoped(
      op,
      () => this.device.createBindGroup({ label: op, layout: pipeline.getBindGroupLayout(0), entries }),
    );
  }

  /**
   * Finishes `encoder` and submits it, inside error scopes that name `op`.
   *
   * @param op The op submitting.
   * @param encoder The encoder to finish.
   * @throws {GpuError} When an earlier op's GPU error is pending (nothing is submitted).
   * @throws {DeviceLostError} When the device is lost.
   */
  submit(op: string, encoder: GPUCommandEncoder): void {
    this.throwIfFailed(op);
    this.#scoped(op, () => this.device.queue.submit([encoder.finish()]));
    this.counters.submits++;
  }

  /**
   * Records `work` into one compute pass and submits it: how anything that
   * is not a training step runs now (a training step records its own
   * command buffer, to clear and copy around its pass).
   *
   * @param op The op, for labels and errors.
   * @param work What to record: an {@linkcode Encodable} or a function of the pass.
   * @throws {GpuError} When an earlier op's GPU error is pending (nothing is submitted).
   * @throws {DeviceLostError} When the device is lost.
   *
   * @example Run a kernel's work once
   * ```ts
   * import assert from "node:assert/strict";
   * import { activationForward, requestGpu, Tensor } from "../../mod.ts";
   * const gpu = await requestGpu();
   * const x = Tensor.from(gpu, new Float32Array([-1, 2]), [2]);
   * const y = Tensor.empty(gpu, [2]);
   * gpu.runPass("example", activationForward(gpu, "relu", x, y));
   * assert.deepEqual(await y.read(), new Float32Array([0, 2]));
   * gpu.destroy();
   * ```
   */
  runPass(op: string, work: Encodable | ((pass: GPUComputePassEncoder) => void)): void {
    const encoder = this.device.createCommandEncoder({ label: op });
    const pass = encoder.beginComputePass({ label: op });
    if (typeof work === "function") work(pass);
    else work.encode(pass);
    pass.end();
    this.submit(op, encoder);
  }

  /**
   * Waits for all submitted work, then throws any error it caused. Rejects
   * promptly with {@linkcode DeviceLostError} if the device is lost.
   *
   * @param op The op waiting, named by errors.
   * @throws {GpuError} When submitted work caused a GPU error (validation, out of memory, internal).
   * @throws {DeviceLostError} When the device is lost, before or while waiting.
   */
  async sync(op: string): Promise<void> {
    this.throwIfFailed(op);
    await this.raceLost(op, this.device.queue.onSubmittedWorkDone());
    await this.raceLost(op, this.#errors.settled());
    this.throwIfFailed(op);
  }

  /**
   * Copies `bytes` of `buffer` from `offset` to the host.
   *
   * @param op The op reading.
   * @param buffer A buffer with COPY_SRC usage.
   * @param offset Byte offset (multiple of 4).
   * @param bytes Byte count (multiple of 4).
   * @returns A copy of the bytes.
   * @throws {OutOfMemoryError} When `bytes` exceeds the device's `maxBufferSize` (the staging buffer).
   * @throws {GpuError} When submitted work caused a GPU error, or the copy or the mapping fails.
   * @throws {DeviceLostError} When the device is lost, before or while waiting.
   */
  async readBuffer(op: string, buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.throwIfFailed(op);
    const staging = this.acquire(`${op}:staging`, bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const encoder = this.device.createCommandEncoder({ label: `${op}:read` });
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, bytes);
    this.submit(op, encoder);
    try {
      await this.raceLost(op, staging.mapAsync(GPUMapMode.READ, 0, bytes));
    } catch (error) {
      this.release(staging);
      this.throwIfFailed(op);
      throw await this.failure(op, error);
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.release(staging);
    this.throwIfFailed(op);
    return copy;
  }

  /**
   * The error a caller should see for a rejection of GPU work: a
   * {@linkcode DeviceLostError} when the device is lost, else a
   * {@linkcode GpuError}. WebGPU may reject work on a destroyed device
   * (`OperationError`) before it reports the loss, so this waits up to
   * 200 ms for the loss to show before deciding.
   *
   * @param op The op that failed.
   * @param error What the work rejected with.
   * @returns The typed error.
   */
  async failure(op: string, error: unknown): Promise<GpuError> {
    return await this.#errors.failure(op, error);
  }

  /**
   * Resolves like `promise`, or rejects with DeviceLostError as soon as the
   * device is lost, so that no caller hangs on a dead device.
   *
   * @param op The op waiting, named by the error.
   * @param promise The work to wait for; its own rejection passes through.
   * @returns What `promise` resolves to.
   * @throws {DeviceLostError} When the device is lost, before or while waiting.
   */
  raceLost<T>(op: string, promise: Promise<T>): Promise<T> {
    return this.#errors.raceLost(op, promise);
  }

  /** Destroys the device; every later call rejects with DeviceLostError. */
  destroy(): void {
    this.#errors.destroyed();
    this.device.destroy();
  }

  #scoped<T>(op: string, create: () => T): T {
    return this.#errors.scoped(this.device, op, create);
  }
}
