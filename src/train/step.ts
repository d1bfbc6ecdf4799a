/**
 * One training step as one command buffer and one submit, recorded by one
 * function in the order it runs ({@linkcode TrainingStep}): zero the
 * gradients, gather the batch, encoder forward, loss forward and backward,
 * encoder backward, optimizer, metrics copy. Nothing is read back inside the
 * step: every `metricsEvery` steps the loss's read-outs are copied into a
 * ring of staging buffers and mapped asynchronously, so they arrive a few
 * steps late without stalling the GPU.
 *
 * @module
 */

import { checkBool, checkEnum, checkFunction, checkInt, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { DeviceLostError, type GpuError } from "../gpu/errors.ts";
import { checkGpu, checkTensor, type Tensor } from "../gpu/tensor.ts";
import { type ContrastiveReadouts, parseReadouts } from "../losses/loss.ts";
import { checkNtXentOptions, NtXentLoss, type NtXentOptions } from "../losses/nt_xent.ts";
import { checkSupConOptions, SupConLoss } from "../losses/supcon.ts";
import { checkSampledOptions, SampledContrastiveLoss, type SampledContrastiveOptions } from "../losses/sampled.ts";
import { type BoundNetwork, Sequential } from "../nn/sequential.ts";
import { ParameterStore } from "../nn/parameters.ts";
import { Optimizer, type OptimizerOptions, resolveOptimizerOptions } from "../optim/optimizer.ts";
import { EmbeddingQueue } from "../sampling/queue.ts";

/** What a step reports, a few steps after it ran. */
export interface StepMetrics extends ContrastiveReadouts {
  /** The step (1-based) these read-outs belong to. */
  step: number;
  /** Global gradient norm before clipping (0 when the optimizer does not clip). */
  gradNorm: number;
  /** Per-row count of negatives scored below the positive (when the step was built with `counts`). */
  below?: Uint32Array;
}

/**
 * The models and inputs of a {@linkcode TrainingStep}. In the sampled
 * layout, anchors and candidates have an encoder each (the same object for
 * one shared encoder); in the views layout there are only `query` and `xq`,
 * holding every view.
 */
export interface StepParts {
  /** The parameters, gradients zeroed at the start of every step. */
  store: ParameterStore;
  /** The anchors' encoder (views layout: the one encoder). */
  query: Sequential;
  /** The candidates' encoder (sampled layout only). */
  candidate?: Sequential;
  /** Anchor inputs [B, in] (views layout: [2B, in], rows i and i + B two views of one item). */
  xq: Tensor;
  /** Candidate inputs [N, in] (sampled layout only). */
  xc?: Tensor;
  /** Work that fills the inputs at the start of the step (the trainer's gathers); absent: the caller writes them. */
  gather?: { query: Encodable; candidate?: Encodable };
  /**
   * Sampled layout: a queue of past candidates. The loss reads it as candidates N.. (pass its embeddings as
   * `options.loss.queue`), and each step pushes its candidates' embeddings into it after its pass.
   */
  queue?: EmbeddingQueue;
}

/** The loss of the views layout: SimCLR's NT-Xent over every row of `xq`, or SupCon with labels. */
export interface ViewsLossOptions extends NtXentOptions {
  /** Selects the views layout. */
  layout: "views";
  /** SupCon: every row with the same label is a positive (set them with `loss.setLabels` each step). */
  supcon?: boolean;
}

/** Options of {@linkcode TrainingStep}. */
export interface StepOptions {
  /** The loss: sampled K between the two encoders' outputs (default layout), or NT-Xent over views. */
  loss: SampledContrastiveOptions | ViewsLossOptions;
  /** The update rule over `store`. */
  optimizer: OptimizerOptions;
  /** Copy read-outs every this many steps (default 1). */
  metricsEvery?: number;
  /** Staging buffers in flight (default 4). */
  ring?: number;
  /** Also read the per-row rank counts (what a closed-loop K schedule needs; default false). */
  counts?: boolean;
}

const METRIC_BYTES = 48; // 8 read-outs + [clip scale, grad norm], padded; then the rank counts when asked for
const OP = "TrainingStep";

/**
 * Checks everything a step binds, before anything is allocated: the options, the store, each encoder with its
 * input, the loss's options against the encoders' output shapes, the queue, the gathers and the optimizer's options.
 *
 * @returns The layout, the ring's length and the cadence.
 */
function checkStep(
  gpu: Gpu,
  parts: StepParts,
  options: StepOptions,
): { views: boolean; ring: number; metricsEvery: number; counts: boolean } {
  checkGpu(OP, gpu);
  checkObject(OP, "parts", parts);
  checkObject(OP, "options", options);
  const metricsEvery = options.metricsEvery ?? 1;
  checkInt(OP, "options.metricsEvery", metricsEvery, 1);
  const ring = options.ring ?? 4;
  checkInt(OP, "options.ring", ring, 1, 64);
  const counts = options.counts ?? false;
  checkBool(OP, "options.counts", counts);
  const store = parts.store;
  if (!(store instanceof ParameterStore)) typeError(OP, "parts.store", "a ParameterStore", store);
  if (store.gpu !== gpu) typeError(OP, "parts.store", "a ParameterStore of the same Gpu", "a store of another Gpu");
  if (!store.built) rangeError(OP, "parts.store", "built (and not destroyed)", "not built");
  const loss = options.loss;
  checkObject(OP, "options.loss", loss);
  const layout = (loss as Partial<ViewsLossOptions>).layout;
  if (layout !== undefined) checkEnum(OP, "options.loss.layout", layout, ["views"] as const);
  const views = layout === "views";
  const [rows, dim] = encoderShape(gpu, parts.query, parts.xq, "query", "xq");
  if (views) {
    const supcon = (loss as ViewsLossOptions).supcon ?? false;
    checkBool(OP, "options.loss.supcon", supcon);
    if (supcon && rows < 2) rangeError(OP, "parts.xq.shape[0]", ">= 2 (SupCon: an anchor and another row)", rows);
    if (!supcon && (rows % 2 !== 0 || rows < 4)) {
      rangeError(OP, "parts.xq.shape[0]", "an even number >= 4 (2B rows: two views of B >= 2 examples)", rows);
    }
    if (supcon) checkSupConOptions(OP, gpu, rows, loss as ViewsLossOptions, "options.loss");
    else checkNtXentOptions(OP, gpu, rows, loss as ViewsLossOptions, "options.loss");
  } else {
    const [candidates, width] = encoderShape(gpu, parts.candidate, parts.xc, "candidate", "xc");
    if (width !== dim) rangeError(OP, "parts.candidate", `an encoder to the query's width (${dim})`, width);
    checkSampledOptions(OP, gpu, { rows, dim, candidates }, loss as SampledContrastiveOptions, "options.loss");
    const queue = parts.queue;
    if (queue !== undefined) {
      if (!(queue instanceof EmbeddingQueue)) typeError(OP, "parts.queue", "an EmbeddingQueue", queue);
      checkTensor(OP, "parts.queue.embeddings", queue.embeddings, gpu, "f32");
      if (queue.dim !== dim) rangeError(OP, "parts.queue.dim", `the encoders' width (${dim})`, queue.dim);
      if (queue.capacity < candidates) {
        rangeError(OP, "parts.queue.capacity", `>= the candidates pushed each step (${candidates})`, queue.capacity);
      }
    }
  }
  if (parts.gather !== undefined) {
    checkObject(OP, "parts.gather", parts.gather);
    for (const key of ["query", "candidate"] as const) {
      const work = parts.gather[key];
      if (key === "query" || work !== undefined) {
        checkFunction(OP, `parts.gather.${key}.encode`, (work as Partial<Encodable> | undefined)?.encode);
      }
    }
  }
  resolveOptimizerOptions(OP, options.optimizer, "options.optimizer");
  return { views, ring, metricsEvery, counts };
}

/** Checks an encoder and its input as its bind would, under the step's names; returns its output's [rows, D]. */
function encoderShape(gpu: Gpu, net: unknown, x: unknown, name: string, input: string): [number, number] {
  if (!(net instanceof Sequential)) typeError(OP, `parts.${name}`, "a Sequential (an encoder)", net);
  checkTensor(OP, `parts.${input}`, x, gpu, "f32");
  if (x.shape.length !== 2 || x.shape[0] < 1) {
    rangeError(OP, `parts.${input}.shape`, "[rows, width] with rows >= 1", x.shape);
  }
  net.checkBindable(gpu);
  return [x.shape[0], net.outputDim(x.shape[1])];
}

/**
 * A bound contrastive training step: query and candidate encoders over
 * their inputs, a sampled-K loss between their outputs, their backward from
 * its dQ and dC, and an optimizer over the store; or, in the views layout,
 * one encoder over 2B views, SimCLR's NT-Xent, and its backward from dZ. The step count is the
 * optimizer's (what Adam's bias correction, the learning-rate schedule and a
 * checkpoint need): the one counter of a run.
 *
 * @example Three steps of a small shared encoder
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlp, ParameterStore, requestGpu, Tensor, TrainingStep } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu, { seed: 1 });
 * const encoder = mlp(store, [6, 5, 4]);
 * store.build();
 * const xq = Tensor.from(gpu, new Float32Array(12).fill(0.3), [2, 6]);
 * const xc = Tensor.from(gpu, Float32Array.from({ length: 36 }, (_, i) => Math.sin(i)), [6, 6]);
 * const step = new TrainingStep(gpu, { store, query: encoder, candidate: encoder, xq, xc }, {
 *   loss: { kMax: 2, indices: [0, 1, 2, 3, 4, 5] },
 *   optimizer: { kind: "adam", lr: 1e-2 },
 * });
 * for (let i = 0; i < 3; i++) await step.run();
 * assert.equal((await step.flush()).length, 3);
 * assert.equal(step.step, 3);
 * gpu.destroy();
 * ```
 */
export class TrainingStep {
  /** The loss (read-outs, rank counts; K and the index table in the sampled layout). */
  readonly loss: SampledContrastiveLoss | NtXentLoss | SupConLoss;
  /** The optimizer (moments, and the step count). */
  readonly optimizer: Optimizer;
  /** Copy read-outs every this many steps. */
  readonly metricsEvery: number;
  readonly #gpu: Gpu;
  readonly #store: ParameterStore;
  readonly #gather: { query: Encodable; candidate?: Encodable } | null;
  readonly #query: BoundNetwork;
  readonly #candidate: BoundNetwork | null;
  readonly #queryBackward: Encodable;
  readonly #candidateBackward: Encodable | null;
  readonly #counts: boolean;
  readonly #queue: EmbeddingQueue | null;
  /** The labels of the candidates this step pushes into the queue (set by the caller before `run`), or null. */
  queueLabels: ArrayLike<number> | null = null;
  readonly #ring: GPUBuffer[] = [];
  readonly #free: GPUBuffer[] = [];
  readonly #pending: Promise<void>[] = [];
  readonly #ready: StepMetrics[] = [];
  #failure: GpuError | null = null;

  /**
   * Checks everything, then binds the encoders, the loss and the optimizer, and allocates the staging ring, once.
   *
   * @param gpu The context.
   * @param parts Store, encoders, their inputs, and the work that fills them.
   * @param options The loss's and the optimizer's options, the metrics cadence and ring, and `counts`.
   * @throws {TypeError} When `gpu` is not a Gpu; `parts`, `options` or `options.loss` is not an object; `parts.store`
   * is not a ParameterStore of `gpu`; `parts.query` (or, in the sampled layout, `parts.candidate`) is not a
   * Sequential, or its parameters are on another Gpu; `parts.xq` (or `parts.xc`) is not a live f32 Tensor of `gpu`;
   * `parts.queue` is not a live EmbeddingQueue of `gpu`; `parts.gather` is not an object of Encodables;
   * `options.counts` or `options.loss.supcon` is not a boolean; or an option that must be a number is not one.
   * @throws {RangeError} When `metricsEvery` or `ring` is out of range, the store is not built, `options.loss.layout`
   * is not "views", the loss's or optimizer's options are out of range, an encoder does not accept its input's width,
   * the two encoders' widths differ, the views layout has too few rows, or the queue's width or capacity does not fit.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, parts: StepParts, options: StepOptions) {
    const { views, ring, metricsEvery, counts } = checkStep(gpu, parts, options);
    this.metricsEvery = metricsEvery;
    this.#gpu = gpu;
    this.#store = parts.store;
    this.#gather = parts.gather ?? null;
    this.#queue = parts.queue ?? null;
    this.#counts = counts;
    const lossOptions = options.loss;
    this.#query = parts.query.bind(gpu, parts.xq);
    this.#candidate = views ? null : parts.candidate!.bind(gpu, parts.xc!);
    if (views) {
      const { supcon, layout: _, ...viewOptions } = lossOptions as ViewsLossOptions;
      const loss = supcon
        ? new SupConLoss(gpu, this.#query.output, viewOptions)
        : new NtXentLoss(gpu, this.#query.output, viewOptions);
      this.loss = loss;
      this.#queryBackward = this.#query.bindBackward(loss.dZ);
      this.#candidateBackward = null;
    } else {
      const output = this.#candidate!.output;
      const loss = new SampledContrastiveLoss(
        gpu,
        this.#query.output,
        output,
        lossOptions as SampledContrastiveOptions,
      );
      this.loss = loss;
      this.#queryBackward = this.#query.bindBackward(loss.dQ);
      this.#candidateBackward = this.#candidate!.bindBackward(loss.dC);
    }
    this.optimizer = new Optimizer(gpu, parts.store, options.optimizer);
    const bytes = METRIC_BYTES + (this.#counts ? this.loss.belowCounts.bytes : 0);
    for (let i = 0; i < ring; i++) {
      this.#ring.push(
        gpu.createBuffer("TrainingStep:metrics", bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
      );
    }
    for (const b of this.#ring) this.#free.push(b);
  }

  /** Steps run (the optimizer's count; a loaded checkpoint sets it). */
  get step(): number {
    return this.optimizer.step;
  }

  /**
   * Records and submits one step. Waits only when every staging buffer is
   * still in flight (the GPU is `ring` metric steps behind): back-pressure,
   * not a readback.
   *
   * @throws {RangeError} When the loss has no index table yet, or the learning-rate function returns a negative or
   * non-finite rate.
   * @throws {TypeError} When the learning-rate function returns something other than a number.
   * @throws {GpuError} When an earlier op's GPU error is pending (nothing is submitted).
   * @throws {DeviceLostError} When the device is lost, before or while waiting for a free staging buffer.
   */
  async run(): Promise<void> {
    this.#throwIfFailed();
    const step = this.step + 1;
    const wantMetrics = step % this.metricsEvery === 0;
    if (wantMetrics && this.#free.length === 0) await this.#pending[0];
    this.#throwIfFailed();
    const encoder = this.#gpu.device.createCommandEncoder({ label: "TrainingStep" });
    const staging = wantMetrics ? this.#free.pop()! : null;
    try {
      this.#record(encoder, staging);
      this.#gpu.submit("TrainingStep", encoder);
    } catch (error) {
      if (staging) this.#free.push(staging); // the step never ran: its staging buffer is free again
      throw error;
    }
    if (staging) this.#collect(staging, step);
  }

  /** Throws the first failure of a metrics readback (device lost, GPU error) where a caller awaits; it stays. */
  #throwIfFailed(): void {
    const error = this.#failure;
    if (error) throw error;
  }

  /**
   * The step, in the order it runs. B anchors, N candidates, D the embedding width.
   *
   * @param encoder The step's command buffer.
   * @param staging Where this step's metrics go, or null on steps without metrics.
   */
  #record(encoder: GPUCommandEncoder, staging: GPUBuffer | null): void {
    const loss = this.loss;
    this.#store.zeroGrads(encoder); // parameter gradients accumulate (+=) through the backward
    const pass = encoder.beginComputePass({ label: "TrainingStep" });
    this.#gather?.query.encode(pass); //              dataset rows → xq [B, in]        (views: [2B, in])
    this.#gather?.candidate?.encode(pass); //         dataset rows → xc [N, in]
    this.#query.forward.encode(pass); //              xq → q [B, D]                     (views: z [2B, D])
    this.#candidate?.forward.encode(pass); //         xc → c [N, D]
    loss.encode(pass); //                             scores [B, 1+K] → dQ [B, D], dC [N, D] (views: S → dZ)
    this.#queryBackward.encode(pass); //              dQ (views: dZ) → parameter gradients (+=)
    this.#candidateBackward?.encode(pass); //         dC → parameter gradients (+=)
    this.optimizer.encode(pass); //                   clip, then one update over the flat buffers
    pass.end();
    // The candidates' embeddings join the queue of past candidates (a copy after the pass: detached).
    if (this.#queue && this.#candidate) {
      this.#queue.push(encoder, this.#candidate.output, this.queueLabels ?? undefined);
    }
    if (!staging) return;
    const { clip } = this.optimizer;
    encoder.copyBufferToBuffer(loss.readouts.buffer, loss.readouts.offset, staging, 0, 32);
    encoder.copyBufferToBuffer(clip.buffer, clip.offset, staging, 32, 8);
    const below = loss.belowCounts;
    if (this.#counts) encoder.copyBufferToBuffer(below.buffer, below.offset, staging, METRIC_BYTES, below.bytes);
  }

  #collect(staging: GPUBuffer, step: number): void {
    const op = "TrainingStep:metrics";
    const done = this.#gpu.raceLost(op, staging.mapAsync(GPUMapMode.READ)).then(() => {
      // A buffer of a lost device may still "map"; its contents are not this step's.
      if (this.#gpu.isLost) throw new DeviceLostError(op, "the device was lost while the metrics were in flight");
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      const f = new Float32Array(bytes, 0, 10);
      const below = this.#counts ? new Uint32Array(bytes, METRIC_BYTES) : undefined;
      this.#ready.push({ ...parseReadouts(f), step, gradNorm: f[9], below });
    }).catch(async (error) => {
      // Kept, not thrown here: nobody may be awaiting this promise (a trainer abandons a lost device's step).
      this.#failure ??= await this.#gpu.failure(op, error);
    }).finally(() => {
      this.#free.push(staging);
      this.#pending.splice(this.#pending.indexOf(done), 1);
    });
    this.#pending.push(done);
  }

  /**
   * Metrics that have arrived since the last call, oldest first; never waits.
   *
   * @returns The metrics.
   */
  takeMetrics(): StepMetrics[] {
    return this.#ready.splice(0, this.#ready.length).sort((a, b) => a.step - b.step);
  }

  /**
   * Waits for every step submitted so far to report.
   *
   * @returns Their metrics, oldest first.
   * @throws {DeviceLostError} When the device is lost while metrics are in flight.
   */
  async flush(): Promise<StepMetrics[]> {
    await Promise.all(this.#pending);
    this.#throwIfFailed();
    return this.takeMetrics();
  }

  /** Frees the staging ring, the loss, the optimizer and the encoders' activations (not the store or the inputs). */
  destroy(): void {
    for (const b of this.#ring) this.#gpu.destroyBuffer(b);
    for (const part of [this.#query, this.#candidate, this.loss, this.optimizer]) part?.destroy();
  }
}
