/**
 * Networks: Sequential (layers in order, its backward the layers' in
 * reverse), the MLP encoder every trainer builds, and two-tower encoders.
 *
 * @module
 */

import { checkBool, checkEnum, checkInt, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { sequence } from "../gpu/_kernel.ts";
import { checkGpu, Tensor } from "../gpu/tensor.ts";
import { type Activation, ACTIVATIONS } from "../ops/activation.ts";
import { ActivationLayer, type BoundLayer, checkGrad, checkInput, L2Normalize, type Layer, Linear } from "./layers.ts";
import { type Init, ParameterStore } from "./parameters.ts";

/** A network bound to one batch. */
export interface BoundNetwork {
  /** The input it was bound to. */
  readonly input: Tensor;
  /** The final output. */
  readonly output: Tensor;
  /** Records every layer's forward. */
  readonly forward: Encodable;
  /**
   * Binds the backward from the gradient of the output.
   *
   * @param dOutput Gradient with respect to the output (for example a loss's dQ).
   * @param dInput Where to write the gradient with respect to the input (default: not computed).
   * @returns The backward step (layers in reverse order).
   * @throws {TypeError} When `dOutput` or `dInput` is not a live f32 Tensor of the Gpu the network is bound on.
   * @throws {RangeError} When `dOutput` or `dInput` does not have as many elements as the output or the input.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bindBackward(dOutput: Tensor, dInput?: Tensor | null): Encodable;
  /** Frees activations, gradients and the bound work (not the parameters). */
  destroy(): void;
}

/**
 * Layers in order.
 *
 * @example A two-layer MLP with normalised output, forward on a batch of 4
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlp, ParameterStore, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu, { seed: 7 });
 * const net = mlp(store, [5, 8, 3], { activation: "gelu", normalize: true });
 * store.build();
 * const x = Tensor.from(gpu, new Float32Array(20).fill(0.5), [4, 5]);
 * const bound = net.bind(gpu, x);
 * gpu.runPass("example", bound.forward);
 * const z = await bound.output.read(); // [4, 3], unit rows
 * assert.ok(Math.abs(z[0] ** 2 + z[1] ** 2 + z[2] ** 2 - 1) < 1e-5);
 * gpu.destroy();
 * ```
 */
export class Sequential implements Layer {
  readonly name: string;
  /** The layers. */
  readonly layers: readonly Layer[];

  /**
   * Chains `layers`; widths are checked when it is bound.
   *
   * @param layers The layers, first to last.
   * @param name A name for errors.
   * @throws {TypeError} When `layers` is not an array of layers (objects with `bind` and `outputDim`), or `name` is
   * not a string.
   * @throws {RangeError} When `name` is empty.
   */
  constructor(layers: readonly Layer[], name = "sequential") {
    if (!Array.isArray(layers)) typeError("Sequential", "layers", "an array of layers", layers);
    layers.forEach((layer, i) => {
      const l = layer as Partial<Layer> | null;
      if (typeof l !== "object" || l === null || typeof l.bind !== "function" || typeof l.outputDim !== "function") {
        typeError("Sequential", `layers[${i}]`, "a layer (with bind and outputDim)", layer);
      }
    });
    checkString("Sequential", "name", name, true);
    this.layers = [...layers];
    this.name = name;
  }

  /**
   * The width after every layer, checking each layer's input width.
   *
   * @param inputDim The input width.
   * @returns The output width.
   * @throws {RangeError} When a layer does not accept the width before it.
   */
  outputDim(inputDim: number): number {
    return this.layers.reduce((d, l) => l.outputDim(d), inputDim);
  }

  /**
   * Checks every layer that can say whether it binds on `gpu`.
   *
   * @param gpu The context.
   * @throws {TypeError} When `gpu` is not a Gpu, or a layer's parameters are on another Gpu or destroyed.
   * @throws {RangeError} When a layer's parameters are not built.
   */
  checkBindable(gpu: Gpu): void {
    checkGpu(this.name, gpu);
    for (const layer of this.layers) layer.checkBindable?.(gpu);
  }

  /**
   * Binds every layer in order, after checking the widths.
   *
   * @param gpu The context.
   * @param input f32 [rows, D].
   * @returns The bound network.
   * @throws {TypeError} When `gpu` is not a Gpu (or not the Gpu of a layer's parameters), or `input` is not a live
   * f32 Tensor of it.
   * @throws {RangeError} When `input` is not 2-D, a layer does not accept the width before it, or a store is not
   * built.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, input: Tensor): BoundNetwork {
    this.checkBindable(gpu); // every layer's parameters, before any allocation
    checkInput(this.name, gpu, input);
    this.outputDim(input.shape[1]); // and the widths
    const bound: BoundLayer[] = [];
    let x = input;
    try {
      for (const layer of this.layers) {
        const b = layer.bind(gpu, x);
        bound.push(b);
        x = b.output;
      }
    } catch (error) {
      bound.forEach((b) => b.destroy()); // a layer that cannot say in advance why it fails
      throw error;
    }
    const grads: Tensor[] = [];
    return {
      input,
      output: x,
      forward: sequence(bound.map((b) => b.forward)),
      // Layers in reverse; each writes the gradient of its input, the previous layer's output.
      bindBackward: (dOutput, dInput = null) => {
        const op = `${this.name}.bindBackward`;
        checkGrad(op, "dOutput", dOutput, gpu, x);
        if (dInput != null) checkGrad(op, "dInput", dInput, gpu, input);
        const backwards: Encodable[] = [];
        let d = dOutput;
        for (let i = bound.length - 1; i >= 0; i--) {
          const dIn = i === 0 ? dInput : Tensor.empty(gpu, bound[i - 1].output.shape);
          if (i > 0) grads.push(dIn!);
          backwards.push(bound[i].bindBackward(d, dIn));
          if (dIn) d = dIn;
        }
        return sequence(backwards);
      },
      destroy: () => {
        bound.forEach((b) => b.destroy());
        grads.forEach((g) => g.destroy());
      },
    };
  }
}

/** Options of {@linkcode mlp}. */
export interface MlpOptions {
  /** Between linear layers (default "relu"). */
  activation?: Activation;
  /** End with L2 normalisation (default true: contrastive embeddings are compared by cosine). */
  normalize?: boolean;
  /** Name prefix of the parameters (default "mlp"). */
  name?: string;
}

/**
 * A multilayer perceptron: Linear, activation, …, Linear (, L2Normalize).
 *
 * @param store Where the parameters live (call `store.build()` after declaring every layer).
 * @param dims Widths, input first, e.g. [784, 256, 128].
 * @param options Activation and normalisation.
 * @returns The network.
 * @throws {TypeError} When `store` is not a ParameterStore, `dims` is not an array, a width is not a number,
 * `options` is not an object, `options.activation` or `options.name` is not a string, or `options.normalize` not a
 * boolean.
 * @throws {RangeError} When `dims` has fewer than two widths, a width is not an integer >= 1, `options.activation`
 * is unknown, `options.name` is empty, `store` is built, or a parameter name is taken.
 */
export function mlp(store: ParameterStore, dims: readonly number[], options: MlpOptions = {}): Sequential {
  const op = "mlp";
  if (!(store instanceof ParameterStore)) typeError(op, "store", "a ParameterStore", store);
  if (store.built) rangeError(op, "store", "not built yet (declare every layer, then build)", "built");
  if (!Array.isArray(dims)) typeError(op, "dims", "an array of widths", dims);
  if (dims.length < 2) rangeError(op, "dims", "at least two widths", dims);
  dims.forEach((d, i) => checkInt(op, `dims[${i}]`, d, 1));
  checkObject(op, "options", options);
  const activation = options.activation ?? "relu";
  checkEnum(op, "options.activation", activation, ACTIVATIONS);
  const prefix = options.name ?? "mlp";
  checkString(op, "options.name", prefix, true);
  if (options.normalize !== undefined) checkBool(op, "options.normalize", options.normalize);
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < dims.length; i++) {
    if (i > 0) layers.push(new ActivationLayer(activation));
    // Kaiming for layers feeding a ReLU-family activation, Xavier for the last.
    const init: Init = i + 2 < dims.length ? "kaiming" : "xavier";
    layers.push(new Linear(store, `${prefix}.${i}`, dims[i], dims[i + 1], init));
  }
  if (options.normalize ?? true) layers.push(new L2Normalize());
  return new Sequential(layers, prefix);
}

/** Options of {@linkcode twoTower}. */
export interface TwoTowerOptions extends Omit<MlpOptions, "name"> {
  /** One encoder for queries and candidates (true, the default) or one each. */
  shared?: boolean;
}

/**
 * Query and candidate encoders for a two-tower contrastive model: the same
 * MLP twice (shared; both towers' gradients accumulate into one set of
 * parameters) or two MLPs with parameters named `query.*` and `candidate.*`.
 *
 * @param store Where the parameters live (call `store.build()` afterwards).
 * @param dims Widths, input first.
 * @param options Sharing, activation, normalisation.
 * @returns The two encoders.
 * @throws {TypeError} When an argument has the wrong type (see {@linkcode mlp}), or `options.shared` is not a
 * boolean.
 * @throws {RangeError} When `dims` has fewer than two widths, a width is not an integer >= 1, `options.activation`
 * is unknown, `store` is built, or a parameter name is taken.
 *
 * @example Separate towers
 * ```ts
 * import assert from "node:assert/strict";
 * import { ParameterStore, requestGpu, twoTower } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu);
 * const { query, candidate } = twoTower(store, [16, 8], { shared: false });
 * assert.notEqual(query, candidate);
 * assert.deepEqual(store.slots.map((s) => s.name), ["query.0.weight", "query.0.bias", "candidate.0.weight", "candidate.0.bias"]);
 * gpu.destroy();
 * ```
 */
export function twoTower(
  store: ParameterStore,
  dims: readonly number[],
  options: TwoTowerOptions = {},
): { query: Sequential; candidate: Sequential } {
  checkObject("twoTower", "options", options);
  const { shared = true, ...rest } = options;
  checkBool("twoTower", "options.shared", shared);
  if (shared) {
    const encoder = mlp(store, dims, { ...rest, name: "encoder" });
    return { query: encoder, candidate: encoder };
  }
  return {
    query: mlp(store, dims, { ...rest, name: "query" }),
    candidate: mlp(store, dims, { ...rest, name: "candidate" }),
  };
}
