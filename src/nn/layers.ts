/**
 * Layers with explicit forward and backward over GPU tensors, and
 * Sequential. A layer is declared once (its parameters live in a
 * {@linkcode ParameterStore}) and bound to a batch: binding allocates its
 * activations and records its kernels, so a training step only encodes.
 * Parameter gradients accumulate (`+=`; zero them once per step with
 * `store.zeroGrads`), activation gradients are overwritten (`=`).
 *
 * @module
 */

import { checkBool, checkEnum, checkInt, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { sequence } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, Tensor } from "../gpu/tensor.ts";
import { type Activation, activationBackward, activationForward, ACTIVATIONS } from "../ops/activation.ts";
import { l2normBackward, l2normForward } from "../ops/l2norm.ts";
import { MatmulKernel } from "../ops/matmul.ts";
import { type Init, INITS, ParameterStore } from "./parameters.ts";

/** A layer bound to one batch: its output and its forward, and how to bind its backward. */
export interface BoundLayer {
  /** The output [rows, outDim]. */
  readonly output: Tensor;
  /** Records the forward. */
  readonly forward: Encodable;
  /**
   * Binds the backward.
   *
   * @param dOutput Gradient with respect to the output.
   * @param dInput Where to write the gradient with respect to the input, or null if not needed.
   * @returns The backward work.
   * @throws {TypeError} When `dOutput` or `dInput` is not a live f32 Tensor of the Gpu the layer is bound on.
   * @throws {RangeError} When `dOutput` or `dInput` does not have as many elements as the output or the input.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bindBackward(dOutput: Tensor, dInput: Tensor | null): Encodable;
  /** Frees the activations and the bound work. */
  destroy(): void;
}

/**
 * A bound layer from its output, its forward, the tensors it owns and how to
 * build its backward; `destroy` frees the forward, every backward bound, and
 * the owned tensors (a backward may add to `owned`).
 */
function boundLayer(
  output: Tensor,
  forward: Encodable,
  owned: Tensor[],
  backward: (dOutput: Tensor, dInput: Tensor | null) => Encodable,
): BoundLayer {
  const backwards: Encodable[] = [];
  return {
    output,
    forward,
    bindBackward: (dOutput, dInput) => {
      const work = backward(dOutput, dInput);
      backwards.push(work);
      return work;
    },
    destroy: () => {
      forward.destroy();
      backwards.forEach((b) => b.destroy());
      owned.forEach((t) => t.destroy());
    },
  };
}

/** A layer: declared once, bound to any number of batches. */
export interface Layer {
  /** A name for errors and checkpoints. */
  readonly name: string;
  /** The output width for an input width. */
  outputDim(inputDim: number): number;
  /** Binds the layer to `input` [rows, inDim]. */
  bind(gpu: Gpu, input: Tensor): BoundLayer;
  /**
   * Throws what `bind` on `gpu` would throw for a reason other than its input (parameters not built, or on another
   * Gpu), before anything is allocated; a network checks every layer this way before binding the first.
   */
  checkBindable?(gpu: Gpu): void;
}

/** Checks a gradient argument: a live f32 tensor of `gpu` with `like`'s number of elements. */
function checkGrad(op: string, arg: string, t: Tensor, gpu: Gpu, like: Tensor): void {
  checkTensor(op, arg, t, gpu, "f32");
  if (t.size !== like.size) rangeError(op, `${arg}.shape`, `[${like.shape.join(", ")}] (f32)`, t.shape);
}

/** Checks a layer's input: a live f32 [rows, D] tensor of `gpu`, with D = `dim` when given; returns rows. */
function checkInput(op: string, gpu: Gpu, input: Tensor, dim?: number): number {
  checkGpu(op, gpu);
  checkTensor(op, "input", input, gpu, "f32");
  if (input.shape.length !== 2 || (dim !== undefined && input.shape[1] !== dim)) {
    rangeError(op, "input.shape", `[rows, ${dim ?? "D"}] (f32)`, input.shape);
  }
  return input.shape[0];
}

/** y = x·W + b with W [in, out], b [out]; backward dW += xᵀ·dY, db += Σ_rows dY, dX = dY·Wᵀ. */
export class Linear implements Layer {
  readonly name: string;
  /** Input width. */
  readonly inDim: number;
  /** Output width. */
  readonly outDim: number;
  readonly #store: ParameterStore;

  /**
   * Declares W and b in `store`.
   *
   * @param store Where the parameters live.
   * @param name Prefix of the parameter names (`<name>.weight`, `<name>.bias`).
   * @param inDim Input width.
   * @param outDim Output width.
   * @param init Initialiser of W (default Kaiming); b starts at zero.
   * @throws {TypeError} When `store` is not a ParameterStore, `name` or `init` is not a string, or `inDim` or
   * `outDim` is not a number.
   * @throws {RangeError} When `name` is empty, `inDim` or `outDim` is not an integer >= 1, `init` is unknown, `store`
   * is built, or the names are taken.
   */
  constructor(store: ParameterStore, name: string, inDim: number, outDim: number, init: Init = "kaiming") {
    if (!(store instanceof ParameterStore)) typeError("Linear", "store", "a ParameterStore", store);
    checkString("Linear", "name", name, true);
    checkInt("Linear", "inDim", inDim, 1);
    checkInt("Linear", "outDim", outDim, 1);
    checkEnum("Linear", "init", init, INITS);
    if (store.built) rangeError("Linear", "store", "not built yet (declare every layer, then build)", "built");
    this.name = name;
    this.inDim = inDim;
    this.outDim = outDim;
    this.#store = store;
    store.add(`${name}.weight`, [inDim, outDim], init, [inDim, outDim]);
    store.add(`${name}.bias`, [outDim], "zeros");
  }

  /**
   * The output width, after checking the input width.
   *
   * @param inputDim The input width.
   * @returns `outDim`.
   * @throws {RangeError} When `inputDim` is not `inDim`.
   */
  outputDim(inputDim: number): number {
    if (inputDim !== this.inDim) rangeError(`Linear ${this.name}`, "input width", `${this.inDim}`, inputDim);
    return this.outDim;
  }

  /**
   * Checks that the parameters can be bound on `gpu`.
   *
   * @param gpu The context.
   * @throws {TypeError} When `gpu` is not a Gpu or not the store's, or the store is destroyed.
   * @throws {RangeError} When the store is not built.
   */
  checkBindable(gpu: Gpu): void {
    const op = `Linear ${this.name}`;
    checkGpu(op, gpu);
    if (gpu !== this.#store.gpu) typeError(op, "gpu", "the Gpu of the layer's ParameterStore", "another Gpu");
    this.#store.param(`${this.name}.weight`); // throws when the store is not built, or destroyed
  }

  /**
   * Binds the layer to `input`: allocates the output and records the forward.
   *
   * @param gpu The context (the store's).
   * @param input f32 [rows, inDim].
   * @returns The bound layer.
   * @throws {TypeError} When `gpu` is not the store's Gpu, or `input` is not a live f32 Tensor of it.
   * @throws {RangeError} When `input` is not [rows, inDim], or the store is not built.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, input: Tensor): BoundLayer {
    const op = `Linear ${this.name}`;
    this.checkBindable(gpu);
    const rows = checkInput(op, gpu, input, this.inDim);
    const store = this.#store;
    const w = store.param(`${this.name}.weight`);
    const output = Tensor.empty(gpu, [rows, this.outDim]);
    const forward = new MatmulKernel(gpu, input, w, { bias: store.param(`${this.name}.bias`), out: output });
    const owned: Tensor[] = [output];
    return boundLayer(output, forward, owned, (dOutput, dInput) => {
      checkGrad(`${op}.bindBackward`, "dOutput", dOutput, gpu, output);
      if (dInput != null) checkGrad(`${op}.bindBackward`, "dInput", dInput, gpu, input);
      const ones = Tensor.empty(gpu, [rows, 1]);
      ones.fill(1);
      owned.push(ones);
      const kernels = [
        new MatmulKernel(gpu, input, dOutput, {
          form: "tn",
          out: store.grad(`${this.name}.weight`),
          accumulate: true,
        }),
        new MatmulKernel(gpu, ones, dOutput, {
          form: "tn",
          out: store.grad(`${this.name}.bias`, [1, this.outDim]),
          accumulate: true,
        }),
      ];
      if (dInput) kernels.push(new MatmulKernel(gpu, dOutput, w, { form: "nt", out: dInput }));
      return sequence(kernels);
    });
  }
}

/** An elementwise activation: ReLU, GELU (tanh form) or Tanh. */
export class ActivationLayer implements Layer {
  readonly name: string;
  /** Which activation. */
  readonly kind: Activation;

  /**
   * A parameter-free activation layer.
   *
   * @param kind The activation.
   * @throws {TypeError} When `kind` is not a string.
   * @throws {RangeError} When `kind` is not "relu", "gelu" or "tanh".
   */
  constructor(kind: Activation) {
    checkEnum("ActivationLayer", "kind", kind, ACTIVATIONS);
    this.kind = kind;
    this.name = kind;
  }

  outputDim(inputDim: number): number {
    return inputDim;
  }

  /**
   * Binds the layer to `input`: allocates the output and records the forward.
   *
   * @param gpu The context.
   * @param input An f32 tensor of any shape.
   * @returns The bound layer.
   * @throws {TypeError} When `gpu` is not a Gpu, or `input` is not a live f32 Tensor of it.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, input: Tensor): BoundLayer {
    const op = `ActivationLayer ${this.name}`;
    checkGpu(op, gpu);
    checkTensor(op, "input", input, gpu, "f32");
    const output = Tensor.empty(gpu, input.shape);
    const forward = activationForward(gpu, this.kind, input, output);
    return boundLayer(output, forward, [output], (dOutput, dInput) => {
      checkGrad(`${op}.bindBackward`, "dOutput", dOutput, gpu, output);
      if (dInput != null) checkGrad(`${op}.bindBackward`, "dInput", dInput, gpu, input);
      return dInput ? activationBackward(gpu, this.kind, input, dOutput, dInput) : sequence([]);
    });
  }
}

/** Row-wise L2 normalisation, z = h/‖h‖ (the embedding's last layer, so that scores are cosines). */
export class L2Normalize implements Layer {
  readonly name = "l2normalize";

  outputDim(inputDim: number): number {
    return inputDim;
  }

  /**
   * Binds the layer to `input`: allocates the output and the norms and records the forward.
   *
   * @param gpu The context.
   * @param input f32 [rows, D].
   * @returns The bound layer.
   * @throws {TypeError} When `gpu` is not a Gpu, or `input` is not a live f32 Tensor of it.
   * @throws {RangeError} When `input` is not 2-D.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, input: Tensor): BoundLayer {
    const op = "L2Normalize";
    const rows = checkInput(op, gpu, input);
    const output = Tensor.empty(gpu, input.shape);
    const norms = Tensor.empty(gpu, [rows]);
    const forward = l2normForward(gpu, input, output, norms);
    return boundLayer(output, forward, [output, norms], (dOutput, dInput) => {
      checkGrad(`${op}.bindBackward`, "dOutput", dOutput, gpu, output);
      if (dInput != null) checkGrad(`${op}.bindBackward`, "dInput", dInput, gpu, input);
      return dInput ? l2normBackward(gpu, output, norms, dOutput, dInput) : sequence([]);
    });
  }
}

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
