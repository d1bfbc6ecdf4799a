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

import { DeviceLostError, GpuError, NoAdapterError, OutOfMemoryError } from "./errors.ts";

/** Options for {@linkcode requestGpu}. */
export interface GpuOptions {
  /** Passed to `navigator.gpu.requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** Use this adapter instead of requesting one. */
  adapter?: GPUAdapter;
}

/** A plain copy of `adapter.info`, safe to print and to serialise. */
export interface AdapterInfo {
  /** Vendor, as the driver reports it (a PCI id on llvmpipe). */
  vendor: string;
  /** Architecture, often empty. */
  architecture: string;
  /** Device id, often empty or "0". */
  device: string;
  /**
   * Human-readable name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" or an NVIDIA GPU's name; when the adapter gives
   * none (Chromium's SwiftShader), its vendor and architecture ("google swiftshader").
   */
  description: string;
  /** True for software adapters such as llvmpipe. */
  isFallbackAdapter: boolean;
}

/** Counters that tests and benchmarks read to prove the hot path is clean. */
export interface GpuCounters {
  /** Compute pipelines created (cache misses). */
  pipelinesCreated: number;
  /** `createBuffer` calls, pool reuse excluded. */
  buffersAllocated: number;
  /** Buffers alive now, pooled free ones included. */
  liveBuffers: number;
  /** Bytes of the buffers alive now. */
  liveBytes: number;
  /** Highest `liveBytes` seen since creation or {@linkcode Gpu.resetPeak}. */
  peakLiveBytes: number;
  /** Queue submits. */
  submits: number;
}

/**
 * How a shader binding is declared. Layouts list them by binding number
 * from 0; `null` leaves a number unused (an entry point that uses only some
 * of a module's bindings).
 */
export type BindingKind = "uniform" | "read" | "storage";

/** A buffer or a range of one, bound to one binding. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/**
 * Work recorded into a compute pass: a kernel, a layer's forward or
 * backward, a loss. Bound once, encoded any number of times.
 */
export interface Encodable {
  /** Records the work into `pass`. */
  encode(pass: GPUComputePassEncoder): void;
  /** Returns what the work holds (uniforms, activations) to the pool; safe right after a submit. */
  destroy(): void;
}

/** Values of WGSL `override` constants; booleans are converted to 0/1. */
export type OverrideConstants = Record<string, number | boolean>;

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

function envFlag(name: string): boolean {
  try {
    // deno-lint-ignore no-explicit-any
    return (globalThis as any).Deno?.env.get(name) === "1";
  } catch {
    return false; // no --allow-env: the debug flag is simply off
  }
}

/**
 * Acquires an adapter and a device with the limits that matter raised to
 * what the adapter offers, and `timestamp-query` and `shader-f16` enabled
 * when present.
 *
 * @param options Adapter choice.
 * @returns The GPU context.
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
  const adapter = options.adapter ??
    (await navigator.gpu?.requestAdapter({
      powerPreference: options.powerPreference ?? "high-performance",
    }));
  if (!adapter) throw new NoAdapterError();
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_TO_RAISE) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    label: "ncegpu",
    requiredLimits,
    requiredFeatures,
  });
  return new Gpu(adapter, device);
}

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
  /** Free buffers kept for reuse; see {@linkcode Gpu.acquire}. */
  readonly #pool = new Map<string, GPUBuffer[]>();
  /** Pipelines by WGSL source, then by (entry point, layout, constants). */
  readonly #pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  readonly #modules = new Map<string, GPUShaderModule>();
  /** Error-scope pops not yet settled; {@linkcode Gpu.sync} waits for them. */
  readonly #pops = new Set<Promise<unknown>>();
  readonly #layouts = new Map<string, GPUPipelineLayout>();
  readonly #bufferBytes = new WeakMap<GPUBuffer, number>();
  readonly #pooled = new WeakSet<GPUBuffer>();
  readonly #lostPromise: Promise<never>;
  #pending: GpuError | null = null;
  #lost: DeviceLostError | null = null;
  #currentOp = "(no op)";
  readonly #printWgsl = envFlag("NCEGPU_PRINT_WGSL");

  /**
   * Use {@linkcode requestGpu}; this constructor only wires an existing device.
   *
   * @param adapter The adapter.
   * @param device A device from that adapter.
   */
  constructor(adapter: GPUAdapter, device: GPUDevice) {
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
    this.hasTimestamps = device.features.has("timestamp-query");
    this.hasF16 = device.features.has("shader-f16");
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#record(this.#toGpuError(error, this.#currentOp));
      event.preventDefault();
    });
    this.#lostPromise = device.lost.then((info) => {
      this.#lost ??= new DeviceLostError(this.#currentOp, info.message || info.reason || "lost");
      throw this.#lost;
    });
    // The race promise is only awaited through Promise.race; keep an
    // unobserved rejection from killing the process.
    this.#lostPromise.catch(() => {});
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
    return this.#lost !== null;
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
    const previous = this.#currentOp;
    this.#currentOp = op;
    try {
      return fn();
    } finally {
      this.#currentOp = previous;
    }
  }

  /**
   * Throws the stored error, or a DeviceLostError, if there is one.
   *
   * @param op The op checking, named by a DeviceLostError.
   * @throws {GpuError} When an earlier op's GPU error is pending (it is thrown once, then cleared).
   * @throws {DeviceLostError} When the device is lost.
   */
  throwIfFailed(op: string): void {
    if (this.#lost) throw new DeviceLostError(op, this.#lost.message);
    if (this.#pending) {
      const error = this.#pending;
      this.#pending = null;
      throw error;
    }
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
    const buffer = this.#scoped(op, () => this.device.createBuffer({ label: op, size, usage }));
    this.#bufferBytes.set(buffer, size);
    this.counters.buffersAllocated++;
    this.counters.liveBuffers++;
    this.counters.liveBytes += size;
    this.counters.peakLiveBytes = Math.max(this.counters.peakLiveBytes, this.counters.liveBytes);
    return buffer;
  }

  /** Destroys a buffer made by {@linkcode Gpu.createBuffer} and updates the counters. */
  destroyBuffer(buffer: GPUBuffer): void {
    const size = this.#bufferBytes.get(buffer);
    if (size === undefined) return; // not ours, or already destroyed
    this.#bufferBytes.delete(buffer);
    this.counters.liveBuffers--;
    this.counters.liveBytes -= size;
    buffer.destroy();
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
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const free = this.#pool.get(`${usage}:${size}`);
    const reused = free?.pop();
    if (reused) {
      this.#pooled.delete(reused);
      return reused;
    }
    return this.createBuffer(op, size, usage);
  }

  /**
   * Returns a buffer to the pool. Safe right after a submit that uses it:
   * queue writes and submits that reuse it are ordered after that submit.
   */
  release(buffer: GPUBuffer): void {
    // A second release of the same buffer would let two later owners share it.
    if (!this.#bufferBytes.has(buffer) || this.#pooled.has(buffer)) return;
    this.#pooled.add(buffer);
    const key = `${buffer.usage}:${buffer.size}`;
    const free = this.#pool.get(key) ?? [];
    free.push(buffer);
    this.#pool.set(key, free);
  }

  /** Destroys every free pooled buffer. */
  trimPool(): void {
    for (const free of this.#pool.values()) {
      for (const b of free) {
        this.#pooled.delete(b);
        this.destroyBuffer(b);
      }
    }
    this.#pool.clear();
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
    const numeric: Record<string, number> = {};
    for (const name of Object.keys(constants).sort()) numeric[name] = Number(constants[name]);
    const layoutKey = bindings.map((kind) => kind ?? "-").join(",");
    const key = `${entryPoint}|${layoutKey}|${JSON.stringify(numeric)}`;
    let forShader = this.#pipelines.get(code);
    if (!forShader) this.#pipelines.set(code, forShader = new Map());
    const cached = forShader.get(key);
    if (cached) return cached;
    this.throwIfFailed(op);
    const module = this.#module(op, code);
    const layout = this.#layout(layoutKey, bindings);
    const pipeline = this.#scoped(op, () =>
      this.device.createComputePipeline({
        label: `${op}:${entryPoint}`,
        layout,
        compute: { module, entryPoint, constants: numeric },
      }));
    this.counters.pipelinesCreated++;
    forShader.set(key, pipeline);
    return pipeline;
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
    await this.raceLost(op, Promise.all(this.#pops));
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
    if (error instanceof DeviceLostError) return error;
    if (!this.#lost) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wait = new Promise<void>((resolve) => timer = setTimeout(resolve, 200));
      await Promise.race([this.#lostPromise.catch(() => {}), wait]);
      clearTimeout(timer);
    }
    if (this.#lost) return new DeviceLostError(op, this.#lost.message);
    return this.#toGpuError(error, op);
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
    if (this.#lost) return Promise.reject(new DeviceLostError(op, this.#lost.message));
    return Promise.race([
      promise,
      this.#lostPromise.catch((lost: DeviceLostError) => {
        throw new DeviceLostError(op, lost.message);
      }),
    ]);
  }

  /** Destroys the device; every later call rejects with DeviceLostError. */
  destroy(): void {
    this.#lost ??= new DeviceLostError(this.#currentOp, "the device was destroyed");
    this.device.destroy();
  }

  #record(error: GpuError): void {
    this.#pending ??= error;
  }

  #toGpuError(error: unknown, op: string): GpuError {
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

  #scoped<T>(op: string, create: () => T): T {
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    this.device.pushErrorScope("internal");
    const result = this.withOp(op, create);
    for (let i = 0; i < 3; i++) {
      const pop: Promise<unknown> = this.device.popErrorScope().then(
        (error) => error && this.#record(this.#toGpuError(error, op)),
        () => {}, // a lost device rejects pops; loss is reported separately
      ).finally(() => this.#pops.delete(pop));
      this.#pops.add(pop);
    }
    return result;
  }

  #module(op: string, code: string): GPUShaderModule {
    const cached = this.#modules.get(code);
    if (cached) return cached;
    if (this.#printWgsl) console.error(`--- WGSL for ${op} ---\n${code}`);
    const module = this.#scoped(op, () => this.device.createShaderModule({ label: op, code }));
    this.#modules.set(code, module);
    return module;
  }

  #layout(key: string, bindings: readonly (BindingKind | null)[]): GPUPipelineLayout {
    const cached = this.#layouts.get(key);
    if (cached) return cached;
    const entries: GPUBindGroupLayoutEntry[] = [];
    bindings.forEach((kind, binding) => {
      if (!kind) return;
      const type = kind === "uniform" ? "uniform" : kind === "read" ? "read-only-storage" : "storage";
      entries.push({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    });
    const bindGroupLayout = this.device.createBindGroupLayout({ label: key, entries });
    const layout = this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });
    this.#layouts.set(key, layout);
    return layout;
  }
}
