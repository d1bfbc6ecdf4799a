/**
 * One flat GPU buffer per kind: parameters, gradients (and, in src/optim,
 * optimizer moments). Each parameter is a view into them at a 256-byte
 * aligned offset, as llm.c points every tensor into one allocation from a
 * sizes table. The optimizer is then one dispatch and a checkpoint a few
 * copies.
 *
 * @module
 */

import { checkInt, rangeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { seededRandom } from "../data/random.ts";

/** How a parameter starts. */
export type Init = "kaiming" | "xavier" | "zeros";

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

  /**
   * An empty store; declare parameters with `add`, then `build`.
   *
   * @param gpu The context.
   * @param options Seed of the initialisers (default 0).
   */
  constructor(gpu: Gpu, options: { seed?: number } = {}) {
    this.gpu = gpu;
    this.seed = options.seed ?? 0;
  }

  /**
   * Declares a parameter; call before {@linkcode ParameterStore.build}.
   *
   * @param name Unique name.
   * @param shape Dimensions.
   * @param init Initialiser.
   * @param fan Fan-in and fan-out (default from a [in, out] shape).
   * @returns Its slot.
   * @throws {TypeError} When a dimension of `shape` is not a number.
   * @throws {RangeError} When the store is already built, `name` is taken, or a dimension is not an integer >= 1.
   */
  add(name: string, shape: readonly number[], init: Init, fan?: [number, number]): ParameterSlot {
    const op = "ParameterStore.add";
    if (this.#params) rangeError(op, "name", "declared before build()", name);
    if (this.slots.some((s) => s.name === name)) rangeError(op, "name", "unique", name);
    for (const d of shape) checkInt(op, "shape", d, 1);
    const size = shape.reduce((a, b) => a * b, 1);
    const slot: ParameterSlot = {
      name,
      shape: [...shape],
      offset: this.#length,
      size,
      init,
      fan: fan ?? [shape[0], shape[shape.length - 1]],
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
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  build(): void {
    if (this.#params) return;
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
    this.#params = Tensor.from(this.gpu, host, [host.length]);
    this.#grads = Tensor.zeros(this.gpu, [host.length]);
  }

  /**
   * The flat parameter buffer.
   *
   * @throws {RangeError} When the store is not built.
   */
  get params(): Tensor {
    return this.#built().params;
  }

  /**
   * The flat gradient buffer.
   *
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
   * @throws {TypeError} When `shape` is not an array, or the store is destroyed.
   * @throws {RangeError} When `name` is not declared, the store is not built, or `shape` is not a valid shape that
   * fits in the flat buffer from the slot's offset.
   */
  param(name: string, shape?: readonly number[]): Tensor {
    const slot = this.slot(name);
    return this.#built().params.view(slot.offset, shape ?? slot.shape);
  }

  /**
   * A parameter's gradient as a view of the flat buffer.
   *
   * @param name Its name.
   * @param shape A reshape of the same size (default its own shape).
   * @returns The view.
   * @throws {TypeError} When `shape` is not an array, or the store is destroyed.
   * @throws {RangeError} When `name` is not declared, the store is not built, or `shape` is not a valid shape that
   * fits in the flat buffer from the slot's offset.
   */
  grad(name: string, shape?: readonly number[]): Tensor {
    const slot = this.slot(name);
    return this.#built().grads.view(slot.offset, shape ?? slot.shape);
  }

  /**
   * A slot by name.
   *
   * @param name Its name.
   * @returns The slot.
   * @throws {RangeError} When `name` is not declared.
   */
  slot(name: string): ParameterSlot {
    const slot = this.slots.find((s) => s.name === name);
    if (!slot) rangeError("ParameterStore", "name", `one of ${this.slots.map((s) => s.name).join(", ")}`, name);
    return slot;
  }

  /**
   * Records zeroing of every gradient (gradients accumulate, `+=`, through the step).
   *
   * @param encoder The step's encoder, outside any pass.
   * @throws {RangeError} When the store is not built.
   */
  zeroGrads(encoder: GPUCommandEncoder): void {
    const grads = this.#built().grads;
    encoder.clearBuffer(grads.buffer, grads.offset, grads.bytes);
  }

  /** Frees the flat buffers. */
  destroy(): void {
    this.#params?.destroy();
    this.#grads?.destroy();
  }

  #built(): { params: Tensor; grads: Tensor } {
    if (!this.#params || !this.#grads) {
      rangeError("ParameterStore", "build()", "called before parameters are used", "not called");
    }
    return { params: this.#params, grads: this.#grads };
  }
}
