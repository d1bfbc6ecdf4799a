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

import { checkInt, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { sequence } from "../gpu/_kernel.ts";
import { Tensor } from "../gpu/tensor.ts";
import { type Activation, activationBackward, activationForward } from "../ops/activation.ts";
import { l2normBackward, l2normForward } from "../ops/l2norm.ts";
import { MatmulKernel } from "../ops/matmul.ts";
import type { Init, ParameterStore } from "./parameters.ts";

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
   * @throws {TypeError} When `dOutput` or `dInput` is not a Tensor (for a {@linkcode Linear} layer, not an f32 one).
   * @throws {RangeError} When `dOutput` or `dInput` does not have the output's or the input's shape, in f32.
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
}

function checkInput(op: string, input: Tensor, dim: number): number {
  if (!(input instanceof Tensor)) typeError(op, "input", "a Tensor", input);
  if (input.shape.length !== 2 || input.shape[1] !== dim || input.dtype !== "f32") {
    rangeError(op, "input.shape", `[rows, ${dim}] (f32)`, input.shape);
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
   * @throws {TypeError} When `inDim` or `outDim` is not a number.
   * @throws {RangeError} When `inDim` or `outDim` is not an integer >= 1, `store` is built, or the names are taken.
   */
  constructor(store: ParameterStore, name: string, inDim: number, outDim: number, init: Init = "kaiming") {
    checkInt("Linear", "inDim", inDim, 1);
    checkInt("Linear", "outDim", outDim, 1);
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
   * Binds the layer to `input`: allocates the output and records the forward.
   *
   * @param gpu The context.
   * @param input f32 [rows, inDim].
   * @returns The bound layer.
   * @throws {TypeError} When `input` is not a Tensor.
   * @throws {RangeError} When `input` is not f32 [rows, inDim], or the store is not built.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, input: Tensor): BoundLayer {
    const rows = checkInput(`Linear ${this.name}`, input, this.inDim);
    const store = this.#store;
    const w = store.param(`${this.name}.weight`);
    const output = Tensor.empty(gpu, [rows, this.outDim]);
    const forward = new MatmulKernel(gpu, input, w, { bias: store.param(`${this.name}.bias`), out: output });
    const owned: Tensor[] = [output];
    return boundLayer(output, forward, owned, (dOutput, dInput) => {
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
   * @throws {RangeError} When `kind` is not "relu", "gelu" or "tanh".
   */
  constructor(kind: Activation) {
    if (!["relu", "gelu", "tanh"].includes(kind)) {
      rangeError("ActivationLayer", "kind", '"relu", "gelu" or "tanh"', kind);
    }
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
   * @throws {TypeError} When `input` is not an f32 Tensor.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, input: Tensor): BoundLayer {
    const output = Tensor.empty(gpu, input.shape);
    const forward = activationForward(gpu, this.kind, input, output);
    return boundLayer(
      output,
      forward,
      [output],
      (dOutput, dInput) => dInput ? activationBackward(gpu, this.kind, input, dOutput, dInput) : sequence([]),
    );
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
   * @throws {TypeError} When `input` is not a 2-D Tensor.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, input: Tensor): BoundLayer {
    const output = Tensor.empty(gpu, input.shape);
    const norms = Tensor.empty(gpu, [input.shape[0]]);
    const forward = l2normForward(gpu, input, output, norms);
    return boundLayer(
      output,
      forward,
      [output, norms],
      (dOutput, dInput) => dInput ? l2normBackward(gpu, output, norms, dOutput, dInput) : sequence([]),
    );
  }
}
