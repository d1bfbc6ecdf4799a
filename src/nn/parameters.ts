/**
 * One flat GPU buffer per kind: parameters, gradients (and, in src/optim,
 * optimizer moments). Each parameter is a view into them at a 256-byte
 * aligned offset, as llm.c points every tensor into one allocation from a
 * sizes table. The optimizer is then one dispatch and a checkpoint a few
 * copies.
 *
 * @module
 */

import { checkEnum, checkInt, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu, Tensor } from "../gpu/tensor.ts";
import { checkSeed, seededRandom } from "../data/random.ts";
import { OutOfMemoryError } from "../gpu/errors.ts";

/** How a parameter starts. */
export type Init = "kaiming" | "xavier" | "zeros";

/** The initialisers. */
export const INITS: readonly Init[] = ["kaiming", "xavier", "zeros"];

/** One named parameter: its shape and its place in the flat buffers. */
export interface ParameterSlot {
  /** Unique name, e.g. "0.weight". */
  name: string;
  /** Dimensions. */
  shape: readonly number[];
  /** First element in the flat buffers. */
  offset: number;
  /** Number of elements. */
  size: number;
  /** Initialisation. */
  init: Init;
  /** Fan-in and fan-out for the initialisers. */
  fan: [number, number];
}

/** Elements per alignment unit: 64 floats = 256 bytes, the largest minStorageBufferOffsetAlignment. */
const ALIGN = 64;

/**
 * The sizes table and, once built, the flat buffers.
 *
 * @example Two parameters in one buffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { ParameterStore, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu, { seed: 1 });
 * store.add("w", [3, 2], "xavier", [3, 2]);
 * store.add("b", [2], "zeros");
 * store.build();
 * assert.equal(store.param("b").offset, 256); // aligned after w's 6 floats
 * assert.deepEqual(await store.param("b").read(), new Float32Array([0, 0]));
 * gpu.destroy();
 * ```
 */
export class ParameterStore {
  /** The context. */
  readonly gpu: Gpu;
  /** Seed of the initialisers. */
  readonly seed: number;
  /** Slots in declaration order. */
  readonly slots: ParameterSlot[] = [];
  #length = 0;
  #params: Tensor | null = null;
  #grads: Tensor | null = null;
  #destroyed = false;

  /**
   * An empty store; declare parameters with `add`, then `build`.
   *
   * @param gpu The context.
   * @param options Seed of the initialisers (default 0; any finite number, its low 32 bits are used).
   * @throws {TypeError} When `gpu` is not a Gpu, `options` is not an object, or `options.seed` is not a number.
   * @throws {RangeError} When `options.seed` is NaN or ±Infinity.
   */
  constructor(gpu: Gpu, options: { seed?: number } = {}) {
    checkGpu("ParameterStore", gpu);
    checkObject("ParameterStore", "options", options);
    const seed = options.seed ?? 0;
    checkSeed("ParameterStore", "options.seed", seed);
    this.gpu = gpu;
    this.seed = seed;
  }

  /**
   * Declares a parameter; call before {@linkcode ParameterStore.build}.
   *
   * @param name Unique name.
   * @param shape Dimensions (at least one; a scalar is [1]).
   * @param init Initialiser.
   * @param fan Fan-in and fan-out, integers >= 1 (default the first and last dimensions of `shape`).
   * @returns Its slot.
   * @throws {TypeError} When `name` is not a string, `shape` is not an array of numbers, `init` is not a string, or
   * `fan` is not an array of two numbers.
   * @throws {RangeError} When the store is already built, `name` is empty or taken, `shape` is empty or has a
   * dimension that is not an integer >= 1, `init` is not "kaiming", "xavier" or "zeros", or a fan is not an integer
   * >= 1.
   */
  add(name: string, shape: readonly number[], init: Init, fan?: [number, number]): ParameterSlot {
    const op = "ParameterStore.add";
    checkString(op, "name", name, true);
    if (this.#params) rangeError(op, "name", "declared before build()", name);
    if (this.slots.some((s) => s.name === name)) rangeError(op, "name", "unique", name);
    if (!Array.isArray(shape)) typeError(op, "shape", "an array of integers", shape);
    if (shape.length === 0) rangeError(op, "shape", "at least one dimension (a scalar is [1])", shape);
    shape.forEach((d, i) => checkInt(op, `shape[${i}]`, d, 1));
    checkEnum(op, "init", init, INITS);
    if (fan !== undefined) {
      if (!Array.isArray(fan) || fan.length !== 2) typeError(op, "fan", "[fanIn, fanOut]", fan);
      checkInt(op, "fan[0]", fan[0], 1);
      checkInt(op, "fan[1]", fan[1], 1);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    const slot: ParameterSlot = {
      name,
      shape: [...shape],
      offset: this.#length,
      size,
      init,
      fan: fan ? [fan[0], fan[1]] : [shape[0], shape[shape.length - 1]],
    };
    this.#length += Math.ceil(size / ALIGN) * ALIGN;
    this.slots.push(slot);
    return slot;
  }

  /** Elements in each flat buffer (padding included). */
  get length(): number {
    return this.#length;
  }

  /**
   * Allocates the flat parameter and gradient buffers and initialises the parameters (seeded).
   *
   * @throws {TypeError} When the store is destroyed.
   * @throws {OutOfMemoryError} When the flat buffer exceeds the device's buffer limits (checked before the host
   * copy is allocated).
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  build(): void {
    if (this.#destroyed) typeError("ParameterStore.build", "the store", "live (not destroyed)", "destroyed");
    if (this.#params) return;
    // Checked before the host copy: a store of billions of floats would otherwise fail as the host's
    // "Array buffer allocation failed", naming neither the store nor the limit.
    const bytes = 4 * Math.max(1, this.#length);
    const limit = Math.min(this.gpu.limits.maxStorageBufferBindingSize, this.gpu.limits.maxBufferSize);
    if (bytes > limit) {
      throw new OutOfMemoryError(
        "ParameterStore.build",
        `${this.slots.length} parameter tensors of ${this.#length} floats in all (${bytes} bytes in one flat ` +
          `buffer) exceed the device's largest storage buffer (${limit} bytes); declare smaller parameters`,
      );
    }
    const host = new Float32Array(Math.max(1, this.#length));
    const random = seededRandom(this.seed);
    for (const slot of this.slots) {
      const [fanIn, fanOut] = slot.fan;
      // Kaiming (He) uniform for ReLU-family layers: bound √(6/fan_in); Xavier (Glorot): √(6/(fan_in+fan_out)).
      const bound = slot.init === "kaiming"
        ? Math.sqrt(6 / fanIn)
        : slot.init === "xavier"
        ? Math.sqrt(6 / (fanIn + fanOut))
        : 0;
      for (let i = 0; i < slot.size; i++) host[slot.offset + i] = bound === 0 ? 0 : (2 * random() - 1) * bound;
    }
    const params = Tensor.from(this.gpu, host, [host.length]);
    try {
      this.#grads = Tensor.zeros(this.gpu, [host.length]);
    } catch (error) {
      params.destroy();
      throw error;
    }
    this.#params = params;
  }

  /**
   * The flat parameter buffer.
   *
   * @throws {TypeError} When the store is destroyed.
   * @throws {RangeError} When the store is not built.
   */
  get params(): Tensor {
    return this.#built().params;
  }

  /**
   * The flat gradient buffer.
   *
   * @throws {TypeError} When the store is destroyed.
   * @throws {RangeError} When the store is not built.
   */
  get grads(): Tensor {
    return this.#built().grads;
  }

  /**
   * A parameter as a view of the flat buffer.
   *
   * @param name Its name.
   * @param shape A reshape of the same size (default its own shape).
   * @returns The view.
   * @throws {TypeError} When `name` is not a string, `shape` is not an array of numbers, or the store is destroyed.
   * @throws {RangeError} When `name` is not declared, the store is not built, or `shape` does not hold exactly the
   * parameter's elements.
   */
  param(name: string, shape?: readonly number[]): Tensor {
    return this.#view("ParameterStore.param", "params", name, shape);
  }

  /**
   * A parameter's gradient as a view of the flat buffer.
   *
   * @param name Its name.
   * @param shape A reshape of the same size (default its own shape).
   * @returns The view.
   * @throws {TypeError} When `name` is not a string, `shape` is not an array of numbers, or the store is destroyed.
   * @throws {RangeError} When `name` is not declared, the store is not built, or `shape` does not hold exactly the
   * parameter's elements.
   */
  grad(name: string, shape?: readonly number[]): Tensor {
    return this.#view("ParameterStore.grad", "grads", name, shape);
  }

  #view(op: string, kind: "params" | "grads", name: string, shape?: readonly number[]): Tensor {
    const slot = this.#slot(op, name);
    const flat = this.#built(op)[kind];
    if (shape === undefined) return flat.view(slot.offset, slot.shape);
    if (!Array.isArray(shape)) typeError(op, "shape", "an array of integers", shape);
    shape.forEach((d, i) => checkInt(op, `shape[${i}]`, d, 0));
    const size = shape.reduce((a, b) => a * b, 1);
    // A view of another size would read or write the neighbouring parameters.
    if (size !== slot.size) rangeError(op, "shape", `a shape of ${slot.size} elements (${name})`, shape);
    return flat.view(slot.offset, shape);
  }

  /**
   * A slot by name.
   *
   * @param name Its name.
   * @returns The slot.
   * @throws {TypeError} When `name` is not a string.
   * @throws {RangeError} When `name` is not declared.
   */
  slot(name: string): ParameterSlot {
    return this.#slot("ParameterStore.slot", name);
  }

  #slot(op: string, name: string): ParameterSlot {
    checkString(op, "name", name);
    const slot = this.slots.find((s) => s.name === name);
    if (!slot) rangeError(op, "name", `one of ${this.slots.map((s) => s.name).join(", ")}`, name);
    return slot;
  }

  /**
   * Records zeroing of every gradient (gradients accumulate, `+=`, through the step).
   *
   * @param encoder The step's encoder, outside any pass.
   * @throws {TypeError} When `encoder` is not a GPUCommandEncoder, or the store is destroyed.
   * @throws {RangeError} When the store is not built.
   */
  zeroGrads(encoder: GPUCommandEncoder): void {
    const op = "ParameterStore.zeroGrads";
    if (!(encoder instanceof GPUCommandEncoder)) typeError(op, "encoder", "a GPUCommandEncoder", encoder);
    const grads = this.#built(op).grads;
    encoder.clearBuffer(grads.buffer, grads.offset, grads.bytes);
  }

  /** True once the flat buffers exist ({@linkcode ParameterStore.build}) and until {@linkcode ParameterStore.destroy}. */
  get built(): boolean {
    return this.#params !== null && !this.#destroyed;
  }

  /** True after {@linkcode ParameterStore.destroy}. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Frees the flat buffers; later uses of the store throw. */
  destroy(): void {
    this.#destroyed = true;
    this.#params?.destroy();
    this.#grads?.destroy();
  }

  #built(op = "ParameterStore"): { params: Tensor; grads: Tensor } {
    if (this.#destroyed) typeError(op, "the store", "live (not destroyed)", "destroyed");
    if (!this.#params || !this.#grads) {
      rangeError("ParameterStore", "build()", "called before parameters are used", "not called");
    }
    return { params: this.#params, grads: this.#grads };
  }
}
