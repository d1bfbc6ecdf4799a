/**
 * The types the GPU context shares with everything bound on it: adapter
 * information, counters, how bindings are declared and given, and the one
 * interface of work recorded into a compute pass.
 *
 * @module
 */

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
