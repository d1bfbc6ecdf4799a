/**
 * One training step as one command buffer: zero the gradients, then in one
 * compute pass the encoders' forward, the loss (forward and backward), the
 * encoders' backward and the optimizer, then one submit. Nothing is read
 * back inside the step: every `metricsEvery` steps the loss's read-outs are
 * copied into a ring of staging buffers and mapped asynchronously, so they
 * arrive a few steps late without stalling the GPU.
 *
 * @module
 */

import { checkInt } from "../gpu/check.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Step } from "../gpu/dispatch.ts";
import type { Tensor } from "../gpu/tensor.ts";
import {
  type ContrastiveLoss,
  type ContrastiveReadouts,
  parseReadouts,
  SampledContrastiveLoss,
  type SampledContrastiveOptions,
} from "../losses/contrastive.ts";
import type { Sequential } from "../nn/layers.ts";
import type { ParameterStore } from "../nn/parameters.ts";
import { Optimizer, type OptimizerOptions } from "../optim/optimizer.ts";

/** What a step reports, a few steps after it ran. */
export interface StepMetrics extends ContrastiveReadouts {
  /** The step (1-based) these read-outs belong to. */
  step: number;
  /** Global gradient norm before clipping (0 when the optimizer does not clip). */
  gradNorm: number;
  /** Per-row count of negatives scored below the positive (when the step was built with `counts`). */
  below?: Uint32Array;
}

/** Options of {@linkcode TrainingStep}. */
export interface StepOptions {
  /** Copy read-outs every this many steps (default 1). */
  metricsEvery?: number;
  /** Staging buffers in flight (default 4). */
  ring?: number;
  /** Also read the per-row rank counts (default false). */
  counts?: boolean;
}

/** The parts of a step, in the order they run. */
export interface StepParts {
  /** Parameters whose gradients are zeroed first. */
  store: ParameterStore;
  /** Encoder forwards (for example the anchor and candidate towers). */
  forward: readonly Pick<Step, "encode">[];
  /** The loss, reading the encoders' outputs and writing their output gradients. */
  loss: ContrastiveLoss;
  /** Encoder backwards, from the loss's gradients. */
  backward: readonly Pick<Step, "encode">[];
  /** The update. */
  optimizer: Optimizer;
}

const METRIC_BYTES = 48; // 8 read-outs + [clip scale, grad norm], padded; then the rank counts when asked for

/**
 * A bound training step.
 *
 * Used by the real-training test (test/train/step_test.ts), the soak (`deno task soak`) and the step benchmark.
 */
export class TrainingStep {
  /** Steps run. */
  step = 0;
  /** Copy read-outs every this many steps. */
  readonly metricsEvery: number;
  readonly #gpu: Gpu;
  readonly #parts: StepParts;
  readonly #free: GPUBuffer[] = [];
  readonly #pending: Promise<void>[] = [];
  readonly #ready: StepMetrics[] = [];
  readonly #ring: GPUBuffer[] = [];
  readonly #counts: boolean;

  /**
   * Binds the parts; allocates the staging ring once.
   *
   * @param gpu The context.
   * @param parts Store, forwards, loss, backwards, optimizer.
   * @param options `metricsEvery` (default 1), `ring`, the staging buffers in flight (default 4), and
   *   `counts`: also read the per-row rank counts (what a closed-loop K schedule needs; default false).
   */
  constructor(gpu: Gpu, parts: StepParts, options: StepOptions = {}) {
    this.metricsEvery = options.metricsEvery ?? 1;
    checkInt("TrainingStep", "options.metricsEvery", this.metricsEvery, 1);
    const ring = options.ring ?? 4;
    checkInt("TrainingStep", "options.ring", ring, 1, 64);
    this.#gpu = gpu;
    this.#parts = parts;
    this.#counts = options.counts ?? false;
    const bytes = METRIC_BYTES + (this.#counts ? parts.loss.belowCounts.bytes : 0);
    for (let i = 0; i < ring; i++) {
      const b = gpu.createBuffer(
        "TrainingStep:metrics",
        bytes,
        GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      );
      this.#ring.push(b);
      this.#free.push(b);
    }
  }

  /**
   * Records and submits one step. Waits only when every staging buffer is
   * still in flight (the GPU is `ring` metric steps behind): back-pressure,
   * not a readback.
   */
  async run(): Promise<void> {
    const gpu = this.#gpu;
    const { store, forward, loss, backward, optimizer } = this.#parts;
    this.step++;
    const wantMetrics = this.step % this.metricsEvery === 0;
    if (wantMetrics && this.#free.length === 0) await this.#pending[0];
    const encoder = gpu.device.createCommandEncoder({ label: "TrainingStep" });
    store.zeroGrads(encoder);
    const pass = encoder.beginComputePass({ label: "TrainingStep" });
    for (const s of forward) s.encode(pass);
    loss.encode(pass);
    for (const s of backward) s.encode(pass);
    optimizer.encode(pass);
    pass.end();
    let staging: GPUBuffer | undefined;
    if (wantMetrics) {
      staging = this.#free.pop()!;
      encoder.copyBufferToBuffer(loss.readouts.buffer, loss.readouts.offset, staging, 0, 32);
      encoder.copyBufferToBuffer(optimizer.clip.buffer, optimizer.clip.offset, staging, 32, 8);
      const below = loss.belowCounts;
      if (this.#counts) encoder.copyBufferToBuffer(below.buffer, below.offset, staging, METRIC_BYTES, below.bytes);
    }
    gpu.submit("TrainingStep", encoder);
    if (staging) this.#collect(staging, this.step);
  }

  #collect(staging: GPUBuffer, step: number): void {
    const done = this.#gpu.raceLost("TrainingStep:metrics", staging.mapAsync(GPUMapMode.READ)).then(() => {
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      const f = new Float32Array(bytes, 0, 10);
      const below = this.#counts ? new Uint32Array(bytes, METRIC_BYTES) : undefined;
      this.#ready.push({ ...parseReadouts(f), step, gradNorm: f[9], below });
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
   */
  async flush(): Promise<StepMetrics[]> {
    await Promise.all(this.#pending);
    return this.takeMetrics();
  }

  /** Frees the staging ring (after {@linkcode TrainingStep.flush}). */
  destroy(): void {
    for (const b of this.#ring) this.#gpu.destroyBuffer(b);
  }
}

/** A bound two-tower sampled-K step and the parts a caller reads. */
export interface TwoTowerStep {
  /** The step; `run()` it once per batch. */
  step: TrainingStep;
  /** The loss (read-outs, rank counts, K). */
  loss: SampledContrastiveLoss;
  /** The optimizer (moments, step count). */
  optimizer: Optimizer;
  /** Frees the step, the towers' activations, the loss and the optimizer (not the store or the inputs). */
  destroy(): void;
}

/**
 * Binds the common contrastive step: query and candidate encoders over
 * their input tensors, a sampled-K loss between their outputs, their
 * backward from its dQ and dC, and an optimizer over `store`.
 *
 * @param gpu The context.
 * @param parts The parameters (built), the two encoders (the same one for shared towers), their inputs, and
 *   work to record before the encoders.
 * @param options The loss's and the optimizer's options, and the metrics cadence.
 * @returns The bound step.
 *
 * @example Three steps of a small shared two-tower model
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlp, ParameterStore, requestGpu, Tensor, twoTowerStep } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu, { seed: 1 });
 * const encoder = mlp(store, [6, 5, 4]);
 * store.build();
 * const xq = Tensor.from(gpu, new Float32Array(12).fill(0.3), [2, 6]);
 * const xc = Tensor.from(gpu, Float32Array.from({ length: 36 }, (_, i) => Math.sin(i)), [6, 6]);
 * const run = twoTowerStep(gpu, { store, query: encoder, candidate: encoder, xq, xc }, {
 *   loss: { kMax: 2, indices: [0, 1, 2, 3, 4, 5] },
 *   optimizer: { kind: "adam", lr: 1e-2 },
 * });
 * for (let i = 0; i < 3; i++) await run.step.run();
 * assert.equal((await run.step.flush()).length, 3);
 * gpu.destroy();
 * ```
 */
export function twoTowerStep(
  gpu: Gpu,
  parts: {
    store: ParameterStore;
    query: Sequential;
    candidate: Sequential;
    xq: Tensor;
    xc: Tensor;
    /** Work recorded before the encoders, such as the gathers that fill xq and xc. */
    before?: readonly Pick<Step, "encode">[];
  },
  options: { loss: SampledContrastiveOptions; optimizer: OptimizerOptions } & StepOptions,
): TwoTowerStep {
  const q = parts.query.bind(gpu, parts.xq);
  const c = parts.candidate.bind(gpu, parts.xc);
  const loss = new SampledContrastiveLoss(gpu, q.output, c.output, options.loss);
  const optimizer = new Optimizer(gpu, parts.store, options.optimizer);
  const step = new TrainingStep(gpu, {
    store: parts.store,
    forward: [...(parts.before ?? []), q.forward, c.forward],
    loss,
    backward: [q.bindBackward(loss.dQ), c.bindBackward(loss.dC)],
    optimizer,
  }, { metricsEvery: options.metricsEvery, ring: options.ring, counts: options.counts });
  return {
    step,
    loss,
    optimizer,
    destroy() {
      step.destroy();
      for (const t of [q, c, loss, optimizer]) t.destroy();
    },
  };
}
