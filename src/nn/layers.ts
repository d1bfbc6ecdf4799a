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

import { checkEnum, checkInt, checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { buildSequence, sequence } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, Tensor } from "../gpu/tensor.ts";
import { type Activation, activationBackward, activationForward, ACTIVATIONS } from "../ops/activation.ts";
import { l2normBackward, l2normForward } from "../ops/l2norm.ts";
import { MatmulKernel, transposeKernel } from "../ops/matmul.ts";
import { columnSums } from "../ops/reduce.ts";
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
export function checkGrad(op: string, arg: string, t: Tensor, gpu: Gpu, like: Tensor): void {
  checkTensor(op, arg, t, gpu, "f32");
  if (t.size !== like.size) rangeError(op, `${arg}.shape`, `[${like.shape.join(", ")}] (f32)`, t.shape);
}

/** Checks a layer's input: a live f32 [rows, D] tensor of `gpu`, with D = `dim` when given; returns rows. */
export function checkInput(op: string, gpu: Gpu, input: Tensor, dim?: number): number {
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
      return buildSequence((add) => {
        add(
          new MatmulKernel(gpu, input, dOutput, {
            form: "tn",
            out: store.grad(`${this.name}.weight`),
            accumulate: true,
          }),
        );
        add(columnSums(gpu, dOutput, store.grad(`${this.name}.bias`), { accumulate: true }));
        if (dInput) {
          // dX = dY·Wᵀ in form "nn" on a copy of Wᵀ made each step (small), where the vec4 variants apply.
          const wT = Tensor.empty(gpu, [this.outDim, this.inDim]);
          owned.push(wT);
          add(transposeKernel(gpu, w, wT));
          add(new MatmulKernel(gpu, dOutput, wT, { out: dInput }));
        }
      });
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
