/**
 * A GPU tensor: a buffer (or a range of one) with a shape and an element
 * type. Row-major, densely packed. Tensors are created from the pool of a
 * {@linkcode Gpu} and must be released with {@linkcode Tensor.destroy}; there
 * is no garbage collection of GPU memory. A view ({@linkcode Tensor.view})
 * names a range of its parent's buffer and owns nothing.
 *
 * @module
 */

import { rangeError, typeError } from "./_check.ts";
import type { Gpu } from "./device.ts";

/** Element types a tensor can hold. All are 4 bytes wide. */
export type DType = "f32" | "u32" | "i32";

/** The typed array that holds a tensor's elements on the host. */
export type HostArray = Float32Array | Uint32Array | Int32Array;

const TENSOR_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function checkShape(op: string, shape: readonly number[]): number {
  if (!Array.isArray(shape)) typeError(op, "shape", "an array of integers", shape);
  let size = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) {
      rangeError(op, "shape", "non-negative integers", shape);
    }
    size *= dim;
  }
  return size;
}

function dtypeOf(data: HostArray): DType {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Uint32Array) return "u32";
  return "i32";
}

/**
 * A GPU tensor.
 *
 * @example Upload, read back, free
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * import { Tensor } from "./tensor.ts";
 * const gpu = await requestGpu();
 * const t = Tensor.from(gpu, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * assert.deepEqual(t.shape, [2, 3]);
 * assert.deepEqual(await t.read(), new Float32Array([1, 2, 3, 4, 5, 6]));
 * t.destroy();
 * gpu.destroy();
 * ```
 */
export class Tensor {
  /** The context the buffer belongs to. */
  readonly gpu: Gpu;
  /** The buffer; at least 4 bytes even for an empty tensor. */
  readonly buffer: GPUBuffer;
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Byte offset of element 0 in `buffer` (non-zero only for views). */
  readonly offset: number;
  /** The tensor this one is a view of, or null if it owns its buffer. */
  readonly parent: Tensor | null;
  #destroyed = false;

  private constructor(
    gpu: Gpu,
    buffer: GPUBuffer,
    shape: readonly number[],
    dtype: DType,
    offset = 0,
    parent: Tensor | null = null,
  ) {
    this.gpu = gpu;
    this.buffer = buffer;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
    this.offset = offset;
    this.parent = parent;
  }

  /**
   * A view of `size(shape)` elements starting at element `start` of this
   * tensor: same buffer, no copy, no allocation. Its byte offset must be a
   * multiple of the device's `minStorageBufferOffsetAlignment` (256 bytes
   * on most GPUs), because kernels bind it as a buffer range.
   *
   * @param start First element, counted in this tensor.
   * @param shape Dimensions of the view.
   * @returns The view; destroying it does nothing, destroying the parent ends it.
   * @throws {TypeError} When this tensor is destroyed, or `shape` is not an array.
   * @throws {RangeError} When `shape` has a dimension that is not a non-negative integer or holds no element, or the
   * view is out of this tensor's bounds or not at an aligned byte offset.
   *
   * @example Rows 64..127 of a matrix
   * ```ts
   * import assert from "node:assert/strict";
   * import { requestGpu, Tensor } from "../../mod.ts";
   * const gpu = await requestGpu();
   * const m = Tensor.from(gpu, Float32Array.from({ length: 128 * 4 }, (_, i) => i), [128, 4]);
   * const lower = m.view(64 * 4, [64, 4]);
   * assert.equal((await lower.read())[0], 256);
   * gpu.destroy();
   * ```
   */
  view(start: number, shape: readonly number[]): Tensor {
    const op = "Tensor.view";
    this.#checkAlive(op);
    const size = checkShape(op, shape);
    if (!Number.isInteger(start) || start < 0 || start + size > this.size) {
      rangeError(op, "start", `an integer in [0, ${this.size - size}] for a view of ${size} elements`, start);
    }
    const offset = this.offset + start * 4;
    const alignment = this.gpu.limits.minStorageBufferOffsetAlignment;
    if (offset % alignment !== 0) {
      rangeError(op, "start", `at a byte offset that is a multiple of ${alignment}`, start);
    }
    if (size === 0) rangeError(op, "shape", "non-empty", shape);
    return new Tensor(this.gpu, this.buffer, shape, this.dtype, offset, this.parent ?? this);
  }

  /** The buffer range to bind: `{ buffer, offset, size }`. */
  get binding(): GPUBufferBinding {
    return { buffer: this.buffer, offset: this.offset, size: Math.max(4, this.bytes) };
  }

  /**
   * True when this tensor's bytes overlap `other`'s (views of one buffer
   * included).
   */
  overlaps(other: Tensor): boolean {
    return this.buffer === other.buffer && this.offset < other.offset + Math.max(4, other.bytes) &&
      other.offset < this.offset + Math.max(4, this.bytes);
  }

  /**
   * An uninitialised tensor from the pool.
   *
   * @param gpu The context.
   * @param shape Dimensions.
   * @param dtype Element type (default f32).
   * @returns The tensor.
   * @throws {TypeError} When `shape` is not an array.
   * @throws {RangeError} When a dimension is not a non-negative integer.
   * @throws {OutOfMemoryError} When the tensor exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  static empty(gpu: Gpu, shape: readonly number[], dtype: DType = "f32"): Tensor {
    const size = checkShape("Tensor.empty", shape);
    const buffer = gpu.acquire(`tensor[${shape.join("x")}]`, size * 4, TENSOR_USAGE);
    return new Tensor(gpu, buffer, shape, dtype);
  }

  /**
   * A tensor holding zeros.
   *
   * @param gpu The context.
   * @param shape Dimensions.
   * @param dtype Element type (default f32).
   * @returns The tensor.
   * @throws {TypeError} When `shape` is not an array.
   * @throws {RangeError} When a dimension is not a non-negative integer.
   * @throws {OutOfMemoryError} When the tensor exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  static zeros(gpu: Gpu, shape: readonly number[], dtype: DType = "f32"): Tensor {
    const t = Tensor.empty(gpu, shape, dtype);
    t.fill(0);
    return t;
  }

  /**
   * Uploads `data` as a tensor of `shape`.
   *
   * @param gpu The context.
   * @param data Elements, row-major; its type sets the dtype.
   * @param shape Dimensions; their product must equal `data.length`.
   * @returns The tensor.
   * @throws {TypeError} When `shape` is not an array.
   * @throws {RangeError} When a dimension is not a non-negative integer, or their product is not `data.length`.
   * @throws {OutOfMemoryError} When the tensor exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  static from(gpu: Gpu, data: HostArray, shape: readonly number[]): Tensor {
    const size = checkShape("Tensor.from", shape);
    if (size !== data.length) {
      rangeError(
        "Tensor.from",
        "data.length",
        `the product of shape [${shape.join(", ")}] (${size})`,
        data.length,
      );
    }
    const t = Tensor.empty(gpu, shape, dtypeOf(data));
    t.write(data);
    return t;
  }

  /** Size of the data in bytes. */
  get bytes(): number {
    return this.size * 4;
  }

  /**
   * Overwrites the tensor with `data` (queue-ordered with submits).
   *
   * @param data Exactly `size` elements.
   * @throws {TypeError} When the tensor is destroyed.
   * @throws {RangeError} When `data.length` is not `size`.
   */
  write(data: HostArray): void {
    this.#checkAlive("Tensor.write");
    if (data.length !== this.size) rangeError("Tensor.write", "data.length", `${this.size}`, data.length);
    if (this.size > 0) {
      this.gpu.device.queue.writeBuffer(this.buffer, this.offset, data.buffer, data.byteOffset, this.bytes);
    }
  }

  /**
   * Sets every element to `value` (its bit pattern for the tensor's dtype).
   *
   * @param value The value.
   * @throws {TypeError} When the tensor is destroyed.
   */
  fill(value: number): void {
    this.#checkAlive("Tensor.fill");
    const host = this.dtype === "f32"
      ? new Float32Array(this.size)
      : this.dtype === "u32"
      ? new Uint32Array(this.size)
      : new Int32Array(this.size);
    host.fill(value);
    this.write(host);
  }

  /**
   * Copies the tensor to the host, after all submitted work.
   *
   * @returns A new typed array of `size` elements.
   * @throws {TypeError} When the tensor is destroyed.
   * @throws {GpuError} When submitted work caused a GPU error (validation, out of memory, internal).
   * @throws {DeviceLostError} When the device is lost, before or while waiting.
   */
  async read(): Promise<HostArray> {
    this.#checkAlive("Tensor.read");
    if (this.size === 0) return this.#view(new ArrayBuffer(0));
    const bytes = await this.gpu.readBuffer("Tensor.read", this.buffer, this.offset, this.bytes);
    return this.#view(bytes);
  }

  /** Returns the buffer to the pool; the tensor must not be used again. A view only marks itself destroyed. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (!this.parent) this.gpu.release(this.buffer);
  }

  /** True after {@linkcode Tensor.destroy} of this tensor or of the tensor it views. */
  get destroyed(): boolean {
    return this.#destroyed || (this.parent?.destroyed ?? false);
  }

  #view(bytes: ArrayBuffer): HostArray {
    return this.dtype === "f32"
      ? new Float32Array(bytes)
      : this.dtype === "u32"
      ? new Uint32Array(bytes)
      : new Int32Array(bytes);
  }

  #checkAlive(op: string): void {
    if (this.destroyed) typeError(op, "tensor", "a live tensor", "a destroyed tensor");
  }
}
