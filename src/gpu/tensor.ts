/**
 * A GPU tensor: a buffer (or a range of one) with a shape and an element
 * type. Row-major, densely packed. Tensors are created from the pool of a
 * {@linkcode Gpu} and must be released with {@linkcode Tensor.destroy}; there
 * is no garbage collection of GPU memory. A view ({@linkcode Tensor.view})
 * names a range of its parent's buffer and owns nothing.
 *
 * @module
 */

import { checkEnum, checkInt, F32_MAX, rangeError, typeError } from "./_check.ts";
import { Gpu } from "./device.ts";

/** Element types a tensor can hold. All are 4 bytes wide. */
export type DType = "f32" | "u32" | "i32";

/** The typed array that holds a tensor's elements on the host. */
export type HostArray = Float32Array | Uint32Array | Int32Array;

const TENSOR_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

const DTYPES: readonly DType[] = ["f32", "u32", "i32"];
const ARRAY_NAMES: Record<DType, string> = { f32: "Float32Array", u32: "Uint32Array", i32: "Int32Array" };

function checkShape(op: string, shape: readonly number[]): number {
  if (!Array.isArray(shape)) typeError(op, "shape", "an array of integers", shape);
  let size = 1;
  for (const dim of shape) {
    if (typeof dim !== "number") typeError(op, "shape", "an array of integers", shape);
    if (!Number.isInteger(dim) || dim < 0) {
      rangeError(op, "shape", "non-negative integers", shape);
    }
    size *= dim;
  }
  return size;
}

/** The dtype a host array uploads as, or null when it is not a {@linkcode HostArray}. */
function dtypeOf(data: unknown): DType | null {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Uint32Array) return "u32";
  if (data instanceof Int32Array) return "i32";
  return null;
}

/**
 * Checks that `gpu` is a {@linkcode Gpu}: the first check of every op that takes one.
 *
 * @param op The op, for the message.
 * @param gpu The argument.
 * @param arg Its name (default "gpu").
 * @throws {TypeError} When `gpu` is not a Gpu (for example a GPUDevice, or null).
 */
export function checkGpu(op: string, gpu: unknown, arg = "gpu"): asserts gpu is Gpu {
  if (!(gpu instanceof Gpu)) typeError(op, arg, "a Gpu (from requestGpu)", gpu);
}

/**
 * Checks that `t` is a live tensor of `gpu` (and of `dtype`, when given): the one check every launcher runs on
 * every tensor argument before any GPU work. Shapes are the launcher's own (a RangeError).
 *
 * @param op The op, for the message.
 * @param arg The argument's name.
 * @param t The argument.
 * @param gpu The context the op runs on.
 * @param dtype The element type it must have.
 * @throws {TypeError} When `t` is not a Tensor, is destroyed, belongs to another Gpu, or has another dtype.
 */
export function checkTensor(op: string, arg: string, t: unknown, gpu: Gpu, dtype?: DType): asserts t is Tensor {
  if (!(t instanceof Tensor)) typeError(op, arg, dtype ? `a Tensor (${dtype})` : "a Tensor", t);
  if (t.destroyed) typeError(op, arg, "a live Tensor", "a destroyed tensor");
  if (t.gpu !== gpu) typeError(op, arg, "a Tensor of the same Gpu", "a tensor of another Gpu");
  if (dtype !== undefined && t.dtype !== dtype) typeError(op, `${arg}.dtype`, JSON.stringify(dtype), t.dtype);
}

/**
 * {@linkcode checkTensor} for an f32 matrix, which must also be two-dimensional.
 *
 * @param op The op, for the message.
 * @param arg The argument's name.
 * @param t The value.
 * @param gpu The Gpu it must belong to.
 * @returns Its rows and columns.
 * @throws {TypeError} When `t` is not a live f32 Tensor of `gpu`.
 * @throws {RangeError} When it is not two-dimensional.
 */
export function checkMatrix(op: string, arg: string, t: unknown, gpu: Gpu): [number, number] {
  checkTensor(op, arg, t, gpu, "f32");
  if (t.shape.length !== 2) rangeError(op, `${arg}.shape`, "[rows, cols]", t.shape);
  return [t.shape[0], t.shape[1]];
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
   * @throws {TypeError} When this tensor is destroyed, `start` is not a number, or `shape` is not an array of numbers.
   * @throws {RangeError} When `shape` has a dimension that is not a non-negative integer, holds no element or more
   * than this tensor, or the view is out of this tensor's bounds or not at an aligned byte offset.
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
    if (size > this.size) rangeError(op, "shape", `at most ${this.size} elements (this tensor's)`, shape);
    if (typeof start !== "number") typeError(op, "start", "an integer", start);
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
   *
   * @param other Another tensor.
   * @returns Whether they share a byte.
   * @throws {TypeError} When `other` is not a Tensor.
   */
  overlaps(other: Tensor): boolean {
    if (!(other instanceof Tensor)) typeError("Tensor.overlaps", "other", "a Tensor", other);
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
   * @throws {TypeError} When `gpu` is not a Gpu, `shape` is not an array of numbers, or `dtype` is not a string.
   * @throws {RangeError} When a dimension is not a non-negative integer, or `dtype` is not "f32", "u32" or "i32".
   * @throws {OutOfMemoryError} When the tensor exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  static empty(gpu: Gpu, shape: readonly number[], dtype: DType = "f32"): Tensor {
    return Tensor.#empty("Tensor.empty", gpu, shape, dtype);
  }

  static #empty(op: string, gpu: Gpu, shape: readonly number[], dtype: DType): Tensor {
    checkGpu(op, gpu);
    const size = checkShape(op, shape);
    checkEnum(op, "dtype", dtype, DTYPES);
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
   * @throws {TypeError} When `gpu` is not a Gpu, `shape` is not an array of numbers, or `dtype` is not a string.
   * @throws {RangeError} When a dimension is not a non-negative integer, or `dtype` is not "f32", "u32" or "i32".
   * @throws {OutOfMemoryError} When the tensor exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  static zeros(gpu: Gpu, shape: readonly number[], dtype: DType = "f32"): Tensor {
    const t = Tensor.#empty("Tensor.zeros", gpu, shape, dtype);
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
   * @throws {TypeError} When `gpu` is not a Gpu, `data` is not a Float32Array, Uint32Array or Int32Array, or `shape`
   * is not an array of numbers.
   * @throws {RangeError} When a dimension is not a non-negative integer, or their product is not `data.length`.
   * @throws {OutOfMemoryError} When the tensor exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  static from(gpu: Gpu, data: HostArray, shape: readonly number[]): Tensor {
    checkGpu("Tensor.from", gpu);
    const dtype = dtypeOf(data);
    if (dtype === null) typeError("Tensor.from", "data", "a Float32Array, Uint32Array or Int32Array", data);
    const size = checkShape("Tensor.from", shape);
    if (size !== data.length) {
      rangeError(
        "Tensor.from",
        "data.length",
        `the product of shape [${shape.join(", ")}] (${size})`,
        data.length,
      );
    }
    const t = Tensor.empty(gpu, shape, dtype);
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
   * @param data Exactly `size` elements, in the typed array of the tensor's dtype.
   * @throws {TypeError} When the tensor is destroyed, or `data` is not the typed array of its dtype.
   * @throws {RangeError} When `data.length` is not `size`.
   */
  write(data: HostArray): void {
    const op = "Tensor.write";
    this.#checkAlive(op);
    if (dtypeOf(data) !== this.dtype) typeError(op, "data", `a ${ARRAY_NAMES[this.dtype]} (dtype ${this.dtype})`, data);
    if (data.length !== this.size) rangeError(op, "data.length", `${this.size}`, data.length);
    if (this.size > 0) {
      this.gpu.device.queue.writeBuffer(this.buffer, this.offset, data.buffer, data.byteOffset, this.bytes);
    }
  }

  /**
   * Sets every element to `value` (its bit pattern for the tensor's dtype).
   *
   * @param value The value: for f32 any number an f32 holds (NaN and ±Infinity included, for poisoning), for u32 an
   * integer in [0, 2³² − 1], for i32 one in [−2³¹, 2³¹ − 1].
   * @throws {TypeError} When the tensor is destroyed, or `value` is not a number.
   * @throws {RangeError} When `value` does not fit the dtype (a finite f32 beyond ±3.4e38 would become ±Infinity).
   */
  fill(value: number): void {
    const op = "Tensor.fill";
    this.#checkAlive(op);
    if (typeof value !== "number") typeError(op, "value", "a number", value);
    if (this.dtype === "u32") checkInt(op, "value", value, 0, 2 ** 32 - 1);
    else if (this.dtype === "i32") checkInt(op, "value", value, -(2 ** 31), 2 ** 31 - 1);
    else if (Number.isFinite(value) && Math.abs(value) > F32_MAX) {
      rangeError(op, "value", "an f32: finite values within ±3.4e38 (or NaN, ±Infinity)", value);
    }
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
