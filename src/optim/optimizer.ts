/**
 * SGD with momentum, Adam and AdamW over a {@linkcode ParameterStore}'s flat
 * buffers (shaders/optim.wgsl): one dispatch per step, moments in flat
 * buffers of their own, optional global-norm gradient clipping computed on
 * the GPU (no readback), and a warm-up + cosine learning-rate schedule.
 *
 * @module
 */

import shader from "../../shaders/optim.wgsl" with { type: "text" };
import {
  checkEnum,
  checkInt,
  checkNumber,
  checkObject,
  checkRange,
  F32_MAX,
  F32_MIN_NORMAL,
  typeError,
} from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, Tensor } from "../gpu/tensor.ts";
import { ParameterStore } from "../nn/parameters.ts";

/** Which update rule. */
export type OptimizerKind = "sgd" | "adam" | "adamw";

/** Options of {@linkcode Optimizer}. */
export interface OptimizerOptions {
  /** The update rule. */
  kind: OptimizerKind;
  /** Learning rate, or a function of the step (1-based) such as {@linkcode warmupCosine}. */
  lr: number | ((step: number) => number);
  /** SGD momentum in [0, 1) (default 0.9). */
  momentum?: number;
  /** Adam β1 in [0, 1) (default 0.9). */
  beta1?: number;
  /** Adam β2 in [0, 1) (default 0.999). */
  beta2?: number;
  /** Adam ε > 0 (default 1e-8). */
  eps?: number;
  /** Weight decay ≥ 0: L2 for SGD and Adam, decoupled for AdamW (default 0; 0.01 for AdamW). */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm (default: no clipping). */
  clipNorm?: number;
}

const OP = "Optimizer";
const WG = 256;
const ITEMS = 16;
const HYPER_BYTES = 64;

/**
 * Warm-up then cosine decay: lr rises linearly to `peak` over `warmup`
 * steps, then follows a half cosine down to `floor` at `total`.
 *
 * @param options Peak, floor (default 0), warm-up steps and total steps.
 * @returns The schedule, a function of the step (1-based), which throws a TypeError for a step that is not a
 * number and a RangeError for one that is not an integer >= 0.
 * @throws {TypeError} When `options` is not an object, or `options.peak`, `floor`, `warmup` or `total` is not a
 * number.
 * @throws {RangeError} When `options.peak` is not finite and > 0, `floor` not finite in [0, peak], `warmup` not an
 * integer >= 0, or `total` not one >= max(1, warmup).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { warmupCosine } from "./optimizer.ts";
 * const lr = warmupCosine({ peak: 1e-3, warmup: 10, total: 110 });
 * assert.equal(lr(5), 5e-4);
 * assert.equal(lr(10), 1e-3);
 * assert.ok(Math.abs(lr(60) - 5e-4) < 1e-12);
 * ```
 */
export function warmupCosine(
  options: { peak: number; floor?: number; warmup: number; total: number },
): (step: number) => number {
  checkObject("warmupCosine", "options", options);
  const { peak, floor = 0, warmup, total } = options;
  checkNumber("warmupCosine", "options.peak", peak, (v) => v > 0, "> 0");
  checkNumber("warmupCosine", "options.floor", floor, (v) => v >= 0 && v <= peak, `in [0, peak (${peak})]`);
  checkInt("warmupCosine", "options.warmup", warmup, 0);
  checkInt("warmupCosine", "options.total", total, Math.max(1, warmup));
  return (step) => {
    checkInt("warmupCosine schedule", "step", step, 0);
    if (step <= warmup) return (peak * step) / Math.max(1, warmup);
    const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
  };
}

/** Optimizer options with every default filled in. */
export type ResolvedOptimizerOptions = Required<Omit<OptimizerOptions, "clipNorm">> & { clipNorm: number };

/**
 * The options with defaults filled in, checked for what the kernel computes
 * with them, before any GPU work (the trainer checks its config with it).
 *
 * @param op The op, named by errors.
 * @param options The options.
 * @param prefix How errors name the options object (default "options").
 * @returns The resolved options (clipNorm 0: no clipping).
 * @throws {TypeError} When `options.lr` is neither a number nor a function, or another hyper-parameter is not a
 * number.
 * @throws {RangeError} When `options.kind` is unknown or a hyper-parameter is out of its range.
 */
export function resolveOptimizerOptions(
  op: string,
  options: OptimizerOptions,
  prefix = "options",
): ResolvedOptimizerOptions {
  checkObject(op, prefix, options);
  const kind = options.kind;
  checkEnum(op, `${prefix}.kind`, kind, ["sgd", "adam", "adamw"] as const);
  const o = {
    kind,
    lr: options.lr,
    momentum: options.momentum ?? 0.9,
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-8,
    weightDecay: options.weightDecay ?? (kind === "adamw" ? 0.01 : 0),
    clipNorm: options.clipNorm ?? 0,
  };
  if (typeof o.lr !== "function") checkNumber(op, `${prefix}.lr`, o.lr, (v) => v > 0, "> 0");
  checkNumber(op, `${prefix}.momentum`, o.momentum, (v) => v >= 0 && v < 1, "in [0, 1)");
  checkNumber(op, `${prefix}.beta1`, o.beta1, (v) => v >= 0 && v < 1, "in [0, 1)");
  checkNumber(op, `${prefix}.beta2`, o.beta2, (v) => v >= 0 && v < 1, "in [0, 1)");
  checkNumber(op, `${prefix}.eps`, o.eps, (v) => v > 0, "> 0");
  checkNumber(op, `${prefix}.weightDecay`, o.weightDecay, (v) => v >= 0, ">= 0");
  if (options.clipNorm !== undefined) checkNumber(op, `${prefix}.clipNorm`, o.clipNorm, (v) => v > 0, "> 0");
  // Each is an f32 in the kernel: finite there, and normal where a GPU flushing it to 0 would divide by 0.
  if (typeof o.lr !== "function") checkRange(op, `${prefix}.lr`, o.lr, F32_MIN_NORMAL, F32_MAX, "a normal f32");
  checkRange(op, `${prefix}.eps`, o.eps, F32_MIN_NORMAL, F32_MAX, "a normal f32, which keeps m/√v finite");
  checkRange(op, `${prefix}.weightDecay`, o.weightDecay, 0, F32_MAX, "a finite f32");
  checkRange(op, `${prefix}.clipNorm`, o.clipNorm || 1, F32_MIN_NORMAL, F32_MAX, "a normal f32");
  return o;
}

/**
 * An optimizer over every parameter of a store.
 *
 * @example Adam on one parameter
 * ```ts
 * import assert from "node:assert/strict";
 * import { Optimizer, ParameterStore, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu);
 * store.add("w", [2], "zeros");
 * store.build();
 * store.grad("w").write(new Float32Array([1, -1]));
 * const adam = new Optimizer(gpu, store, { kind: "adam", lr: 0.1 });
 * gpu.runPass("example", adam); // step 1: p -= lr · sign(g)
 * const w = await store.param("w").read();
 * assert.ok(Math.abs(w[0] + 0.1) < 1e-6 && Math.abs(w[1] - 0.1) < 1e-6);
 * gpu.destroy();
 * ```
 */
export class Optimizer implements Encodable {
  /** The update rule. */
  readonly kind: OptimizerKind;
  /** First moment (Adam) or velocity (SGD), flat like the parameters. */
  readonly m: Tensor;
  /** Second moment (Adam; a 1-element placeholder for SGD). */
  readonly v: Tensor;
  /** [clip scale, global gradient norm] of the last step (scale 1 without clipping). */
  readonly clip: Tensor;
  readonly #gpu: Gpu;
  readonly #store: ParameterStore;
  readonly #hyper: GPUBuffer;
  readonly #hyperHost = new ArrayBuffer(HYPER_BYTES);
  /** The float fields of the uniform, from element 4 on (the first four are the u32 sizes). */
  readonly #hyperFloats = new Float32Array(this.#hyperHost, 16, 11);
  readonly #kernels: Kernel[] = [];
  readonly #partial: Tensor;
  readonly #options: ResolvedOptimizerOptions;
  #step = 0;
  #destroyed = false;

  /**
   * Validates the options, then allocates the moments (zero) and binds once.
   *
   * @param gpu The context.
   * @param store The parameters (built).
   * @param options Rule and hyper-parameters.
   * @throws {TypeError} When `gpu` is not a Gpu, `store` is not a ParameterStore of it (or is destroyed), `options`
   * is not an object, `options.kind` is not a string, `options.lr` is neither a number nor a function, or another
   * hyper-parameter is not a number.
   * @throws {RangeError} When `options.kind` is unknown, a hyper-parameter is out of its documented range, or `store`
   * is not built.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, store: ParameterStore, options: OptimizerOptions) {
    checkGpu(OP, gpu);
    if (!(store instanceof ParameterStore)) typeError(OP, "store", "a ParameterStore", store);
    if (store.gpu !== gpu) typeError(OP, "store", "a ParameterStore of the same Gpu", "a store of another Gpu");
    const o = resolveOptimizerOptions(OP, options);
    const kind = o.kind;
    const n = store.params.size; // throws when the store is not built, before anything is allocated
    this.kind = kind;
    this.#options = o;
    this.#gpu = gpu;
    this.#store = store;
    this.m = Tensor.zeros(gpu, [n]);
    this.v = Tensor.zeros(gpu, [kind === "sgd" ? 1 : n]);
    this.clip = Tensor.from(gpu, new Float32Array([1, 0]), [2]);
    const partials = Math.ceil(n / (WG * ITEMS));
    this.#partial = Tensor.empty(gpu, [2 * partials]); // scaled partial sums, then their exponents
    this.#hyper = gpu.acquire(`${OP}:hyper`, HYPER_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const u = new Uint32Array(this.#hyperHost);
    u.set([n, kind === "adamw" ? 1 : 0, partials, 0]);
    const buffers = {
      hyper: this.#hyper,
      params: store.params,
      grads: store.grads,
      m: this.m,
      v: this.v,
      clip: this.clip,
      partial: this.#partial,
    };
    const kernel = (entry: string, names: (keyof typeof buffers)[], workgroups: number) =>
      new Kernel(gpu, {
        op: OP,
        shader,
        entry,
        bindings: Object.fromEntries(names.map((n) => [n, buffers[n]])),
        workgroupSize: WG,
        workgroups,
        constants: { ITEMS },
      });
    if (o.clipNorm > 0) {
      this.#kernels.push(
        kernel("sq_partial", ["hyper", "grads", "partial"], partials),
        kernel("clip_scale", ["hyper", "clip", "partial"], 1),
      );
    }
    this.#kernels.push(
      kind === "sgd"
        ? kernel("sgd_step", ["hyper", "params", "grads", "m", "clip"], Math.ceil(n / WG))
        : kernel("adam_step", ["hyper", "params", "grads", "m", "v", "clip"], Math.ceil(n / WG)),
    );
  }

  /** Steps taken (encodes so far): a run's one step counter, which `TrainingStep` and `Trainer` read. */
  get step(): number {
    return this.#step;
  }

  /** The learning rate the next step will use. */
  get nextLearningRate(): number {
    const lr = this.#options.lr;
    return typeof lr === "function" ? lr(this.#step + 1) : lr;
  }

  /**
   * Advances the step count, writes this step's hyper-parameters (learning
   * rate, bias corrections), and records the update into `pass`. Encode it
   * once per submitted step, after the backward.
   *
   * @param pass An open compute pass.
   * @throws {TypeError} When the optimizer is destroyed, or the `options.lr` function returns something other than
   * a number.
   * @throws {RangeError} When the `options.lr` function returns a negative or non-finite rate.
   */
  encode(pass: GPUComputePassEncoder): void {
    // Its uniform is back in the pool after destroy, where another owner may hold it.
    if (this.#destroyed) typeError(`${OP}.encode`, "the optimizer", "live (not destroyed)", "destroyed");
    const lr = this.nextLearningRate;
    if (typeof this.#options.lr === "function") { // a fixed rate was checked when the optimizer was made
      checkNumber(OP, "learning rate", lr, (v) => v >= 0, ">= 0 (from options.lr)");
      checkRange(OP, "learning rate", lr, 0, F32_MAX, "from options.lr, a finite f32");
    }
    this.#step++;
    const o = this.#options;
    // Written field by field into the view made once: nothing is allocated per step.
    const f = this.#hyperFloats;
    f[0] = lr;
    f[1] = o.beta1;
    f[2] = o.beta2;
    f[3] = o.eps;
    f[4] = o.weightDecay;
    f[5] = o.momentum;
    f[6] = 1 - o.beta1 ** this.#step;
    f[7] = 1 - o.beta2 ** this.#step;
    f[8] = o.clipNorm;
    f[9] = 1 - o.beta1;
    f[10] = 1 - o.beta2;
    this.#gpu.device.queue.writeBuffer(this.#hyper, 0, this.#hyperHost);
    for (const k of this.#kernels) k.encode(pass);
  }

  /**
   * Sets the step count, e.g. after loading a checkpoint.
   *
   * @param step Steps already taken.
   * @throws {TypeError} When `step` is not a number.
   * @throws {RangeError} When `step` is not an integer >= 0.
   */
  setStep(step: number): void {
    checkInt(`${OP}.setStep`, "step", step, 0);
    this.#step = step;
  }

  /** The store this optimizer updates. */
  get store(): ParameterStore {
    return this.#store;
  }

  /** True after {@linkcode Optimizer.destroy}. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Frees the moments and buffers (not the parameters). Later calls do nothing. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const k of this.#kernels) k.destroy();
    for (const t of [this.m, this.v, this.clip, this.#partial]) t.destroy();
    this.#gpu.release(this.#hyper);
  }
}
