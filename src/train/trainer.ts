/**
 * The trainer: supervised contrastive training of an MLP encoder on a
 * labelled u8 dataset resident on the GPU, with K negatives per anchor
 * chosen by a K schedule (fixed, ANS or closed loop).
 *
 * Each step draws on the host, then runs on the GPU in one submit:
 *   pairs      B anchors and same-label positives        src/sampling/pairs.ts
 *   negatives  K_max per anchor among the other positives  src/sampling/batch_negatives.ts
 *   K          from the schedule and delayed rank counts  src/schedule/
 *   the step   gather → encode → loss → backward → optimizer → metrics copy  src/train/step.ts
 * A positive is another training item with the anchor's (possibly noisy)
 * label, so label noise makes some "negatives" really positives: the
 * setting of docs/science.md §3.
 *
 * @module
 */

import { checkInt, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { randomWarps } from "../data/augment.ts";
import { DeviceDataset, type LabelledBytes } from "../data/dataset.ts";
import { Rng } from "../data/random.ts";
import { mlp, type Sequential } from "../nn/layers.ts";
import { ParameterStore } from "../nn/parameters.ts";
import { WARP_FLOATS } from "../ops/gather.ts";
import { warmupCosine } from "../optim/optimizer.ts";
import { BatchNegativeSampler } from "../sampling/batch_negatives.ts";
import { PairSampler } from "../sampling/pairs.ts";
import { RankCountFeedback } from "../schedule/feedback.ts";
import type { KSchedule } from "../schedule/schedules.ts";
import { bestKFromCounts, type EffectivenessOptions, modelAccuracyFromCounts } from "../schedule/theory.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { buildSchedule, type ResolvedTrainerConfig, resolveTrainerConfig, type TrainerConfig } from "./config.ts";
import { Embedder, knnEvaluate, type KnnResult, seededOrder } from "./eval.ts";
import { restoreStates, type StatesOf, statesOf } from "./state.ts";
import { NonFiniteLossError, type TrainerHooks, type TrainRecord } from "./records.ts";
import { type StepMetrics, TrainingStep } from "./step.ts";

/** Everything besides tensors that decides what a run does next: what a checkpoint saves by name. */
type RunState = {
  pairs: PairSampler;
  negatives: BatchNegativeSampler;
  warps: Rng;
  schedule: KSchedule;
  feedback: RankCountFeedback;
};

/** The bank of the kNN evaluation is the first rows of this fixed permutation of the training set. */
const BANK_SEED = 12345;

/**
 * A bound training run. Construct, then {@linkcode Trainer.run}; evaluate
 * with {@linkcode Trainer.evaluate}; save and resume with
 * {@linkcode Trainer.save} and {@linkcode Trainer.resume}.
 *
 * @example A few steps on a tiny synthetic set
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, syntheticImages, Trainer } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const train = syntheticImages({ rows: 200, side: 6, seed: 1 });
 * const test = syntheticImages({ rows: 50, side: 6, seed: 2 });
 * const trainer = new Trainer(gpu, { train, test }, {
 *   dims: [36, 16], batch: 16, kMax: 4, steps: 20, metricsEvery: 5, evalSizes: { bank: 100, queries: 50 },
 * });
 * const records = await trainer.run();
 * assert.equal(records.at(-1)!.step, 20);
 * assert.ok((await trainer.evaluate()).accuracy >= 0);
 * trainer.destroy();
 * gpu.destroy();
 * ```
 */
export class Trainer {
  /** The resolved configuration. */
  readonly config: Readonly<ResolvedTrainerConfig>;
  /** Every metrics record of this process, in order. */
  readonly records: TrainRecord[] = [];
  readonly #gpu: Gpu;
  readonly #train: DeviceDataset;
  readonly #test: DeviceDataset;
  readonly #store: ParameterStore;
  readonly #encoder: Sequential;
  readonly #step: TrainingStep;
  readonly #schedule: KSchedule;
  /** The pieces of F(K) and pseudo-counts behind the recorded K* (the closed loop's own, when it is the schedule). */
  readonly #theory: EffectivenessOptions & { pseudoCounts?: number };
  readonly #pairs: PairSampler;
  readonly #negatives: BatchNegativeSampler;
  readonly #warpRng: Rng;
  readonly #feedback: RankCountFeedback;
  readonly #stateful: RunState;
  /** Host-side index table and warps, rewritten every step. */
  readonly #table: Uint32Array;
  readonly #hostWarps: Float32Array;
  readonly #ids: { anchors: Tensor; positives: Tensor };
  readonly #warps: { anchors: Tensor; positives: Tensor } | null;
  readonly #owned: { destroy(): void }[] = [];
  #embedder: Embedder<"train" | "test"> | null = null;
  #bankOrder: Uint32Array | null = null;
  #hooks: TrainerHooks = {};
  #started = 0;
  #startStep = 0;
  #failed: NonFiniteLossError | null = null;

  /**
   * Checks the config against the data, then uploads the datasets and binds
   * every kernel once.
   *
   * @param gpu The context.
   * @param data Training and test sets (same width and classes).
   * @param config The run.
   * @throws {TypeError} When the config is not an object, a field that must be a number is not one, or augmentation
   * is asked for rows that are not images.
   * @throws {RangeError} When a config field, or the data, is out of range; the message names it.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, data: { train: LabelledBytes; test: LabelledBytes }, config: TrainerConfig = {}) {
    const op = "Trainer";
    if (data?.test?.width !== data?.train?.width) {
      rangeError(op, "data.test.width", `the training set's (${data?.train?.width})`, data?.test?.width);
    }
    const cfg = resolveTrainerConfig(config, data.train);
    this.config = cfg;
    this.#schedule = buildSchedule(cfg);
    this.#theory = cfg.schedule.kind === "closed" ? cfg.schedule : {};
    if (cfg.augment && !data.train.imageShape) {
      typeError(op, "data.train.imageShape", "given when config.augment is set", undefined);
    }
    if (cfg.evalSizes.bank > data.train.rows) {
      rangeError(op, "config.evalSizes.bank", `<= training rows (${data.train.rows})`, cfg.evalSizes.bank);
    }
    if (cfg.evalSizes.queries > data.test.rows) {
      rangeError(op, "config.evalSizes.queries", `<= test rows (${data.test.rows})`, cfg.evalSizes.queries);
    }
    const { batch, kMax, seed } = cfg;
    this.#gpu = gpu;
    this.#train = new DeviceDataset(gpu, data.train);
    this.#test = data.test === data.train ? this.#train : new DeviceDataset(gpu, data.test);
    this.#owned.push(this.#train);
    if (this.#test !== this.#train) this.#owned.push(this.#test);
    this.#store = new ParameterStore(gpu, { seed });
    this.#encoder = mlp(this.#store, cfg.dims, { activation: cfg.activation, normalize: true });
    this.#store.build();
    const width = data.train.width;
    const xq = Tensor.empty(gpu, [batch, width]);
    const xc = Tensor.empty(gpu, [batch, width]);
    this.#ids = { anchors: Tensor.zeros(gpu, [batch], "u32"), positives: Tensor.zeros(gpu, [batch], "u32") };
    this.#warps = cfg.augment
      ? { anchors: Tensor.empty(gpu, [batch, WARP_FLOATS]), positives: Tensor.empty(gpu, [batch, WARP_FLOATS]) }
      : null;
    const gather: { query: Encodable; candidate: Encodable } = {
      query: this.#train.gather(this.#ids.anchors, xq, { warps: this.#warps?.anchors }),
      candidate: this.#train.gather(this.#ids.positives, xc, { warps: this.#warps?.positives }),
    };
    this.#negatives = new BatchNegativeSampler({ batch, kMax, excludeSameLabel: cfg.excludeSameLabel, seed: seed + 1 });
    this.#pairs = new PairSampler(data.train.labels, { batch, seed: seed + 2 });
    this.#warpRng = new Rng(seed + 3);
    this.#feedback = new RankCountFeedback(cfg.metricsEvery);
    this.#stateful = {
      pairs: this.#pairs,
      negatives: this.#negatives,
      warps: this.#warpRng,
      schedule: this.#schedule,
      feedback: this.#feedback,
    };
    this.#table = new Uint32Array(batch * (kMax + 1));
    this.#hostWarps = new Float32Array(batch * WARP_FLOATS);
    const k0 = this.#schedule.next({ step: 0, totalSteps: cfg.steps });
    const lr = warmupCosine({ peak: cfg.lr, floor: cfg.lr / 20, warmup: Math.ceil(cfg.steps / 20), total: cfg.steps });
    this.#step = new TrainingStep(gpu, {
      store: this.#store,
      query: this.#encoder,
      candidate: this.#encoder,
      xq,
      xc,
      gather,
    }, {
      loss: { ...cfg.loss, kMax, k: k0 },
      optimizer: { ...cfg.optimizer, lr },
      metricsEvery: cfg.metricsEvery,
      counts: true,
    });
    this.#owned.push(this.#step, gather.query, gather.candidate, xq, xc, this.#ids.anchors, this.#ids.positives);
    if (this.#warps) this.#owned.push(this.#warps.anchors, this.#warps.positives);
  }

  /** Steps completed. */
  get stepsDone(): number {
    return this.#step.step;
  }

  /** The K the loss uses now. */
  get k(): number {
    return this.#step.loss.k;
  }

  /**
   * Trains until `until` steps are done (default: the configured total),
   * one submit per step, checking every metrics record for non-finite values.
   *
   * @param options `until`: stop after this many steps in all; `hooks`: progress callbacks.
   * @returns The metrics records of this call, in order.
   * @throws {NonFiniteLossError} When the loss or gradient norm stops being finite.
   * @throws {TypeError} When `until` is not a number, or a `config.augment` range is not one.
   * @throws {RangeError} When `until` is below the steps done or above the configured total, an `ans` schedule
   * asks for a K above `kMax`, or a `config.augment` range is out of range (both checked only here).
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  async run(options: { until?: number; hooks?: TrainerHooks } = {}): Promise<TrainRecord[]> {
    const until = options.until ?? this.config.steps;
    checkInt("Trainer.run", "options.until", until, this.stepsDone, this.config.steps);
    this.#hooks = options.hooks ?? {};
    this.#started = performance.now();
    this.#startStep = this.stepsDone;
    const first = this.records.length;
    for (let s = this.stepsDone + 1; s <= until; s++) {
      const due = this.#feedback.dueAt(s);
      if (due !== null) {
        this.#accept(this.#step.takeMetrics());
        if (!this.#feedback.has(due)) this.#accept(await this.#step.flush()); // late: wait for exactly these
        this.#feedback.apply(due);
      }
      const counts = this.#feedback.current;
      const k = this.#schedule.next({
        step: s - 1,
        totalSteps: this.config.steps,
        counts: counts ? { below: counts.below, kNow: counts.k } : undefined,
      });
      if (k !== this.#step.loss.k) this.#step.loss.setK(k);
      this.#prepareBatch();
      await this.#step.run();
      this.#hooks.onStep?.(s, k);
      this.#accept(this.#step.takeMetrics());
    }
    this.#accept(await this.#step.flush());
    return this.records.slice(first);
  }

  #accept(metrics: StepMetrics[]): void {
    if (this.#failed) throw this.#failed;
    for (const m of metrics) {
      if (!Number.isFinite(m.meanLoss)) this.#failed = new NonFiniteLossError(m.step, `the loss (${m.meanLoss})`);
      else if (!Number.isFinite(m.gradNorm)) {
        this.#failed = new NonFiniteLossError(m.step, `the gradient norm (${m.gradNorm})`);
      }
      // Sticky: once a step is non-finite, neither training nor saving goes on.
      if (this.#failed) throw this.#failed;
      const below = Array.from(m.below!);
      const k = m.negatives;
      this.#feedback.add({ step: m.step, k, below });
      const record: TrainRecord = {
        step: m.step,
        loss: m.meanLoss,
        k,
        // K* exactly as the closed loop computes it (its pieces and pseudo-counts); P̂(B|K) raw.
        kStar: bestKFromCounts(this.config.lambda, below, k, this.config.kMax, this.#theory),
        pB: modelAccuracyFromCounts(below, k, k)[k - 1],
        miBound: m.miBound,
        eta: m.meanEta,
        top1: m.top1,
        gradNorm: m.gradNorm,
        stepsPerSecond: (this.stepsDone - this.#startStep) / ((performance.now() - this.#started) / 1000),
      };
      this.records.push(record);
      this.#hooks.onRecord?.(record);
    }
  }

  /** Draws the next batch on the host and uploads it: ids, the index table, warps. */
  #prepareBatch(): void {
    const { batch, augment } = this.config;
    const pairs = this.#pairs;
    pairs.sample();
    this.#negatives.sample(pairs.labels, this.#table);
    this.#step.loss.setIndices(this.#table);
    this.#ids.anchors.write(pairs.anchors);
    this.#ids.positives.write(pairs.positives);
    if (this.#warps && augment) {
      this.#warps.anchors.write(randomWarps(this.#warpRng, batch, augment, this.#hostWarps));
      this.#warps.positives.write(randomWarps(this.#warpRng, batch, augment, this.#hostWarps));
    }
  }

  /**
   * Embeds rows of the training or test set (no augmentation) in chunks.
   *
   * @param split Which set.
   * @param rows Row numbers.
   * @returns Embeddings, [rows.length, D] row-major.
   * @throws {RangeError} When a row number is out of range.
   * @throws {OutOfMemoryError} On first use, when the embedder's chunk exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending, or the embedding work causes one.
   * @throws {DeviceLostError} When the device is lost.
   */
  embed(split: "train" | "test", rows: ArrayLike<number>): Promise<Float32Array> {
    if (!this.#embedder) {
      this.#embedder = new Embedder(this.#gpu, this.#encoder, { train: this.#train, test: this.#test });
      this.#owned.push(this.#embedder);
    }
    return this.#embedder.embed(split, rows);
  }

  /**
   * kNN accuracy (and recall@1, @5) of test embeddings against training
   * embeddings, both with their clean labels: the first `bank` rows of a
   * seeded permutation of the training set, the first `queries` test rows.
   *
   * @param sizes Bank, queries and k (default the config's `evalSizes`).
   * @returns The result.
   * @throws {TypeError} When a size is not a number.
   * @throws {RangeError} When `sizes.bank` or `sizes.queries` is not an integer in [1, rows of its set], or `sizes.k`
   * not one in [1, bank].
   * @throws {OutOfMemoryError} On first use, when the embedder's chunk exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending, or the embedding work causes one.
   * @throws {DeviceLostError} When the device is lost.
   */
  async evaluate(sizes: { bank: number; queries: number; k?: number } = this.config.evalSizes): Promise<KnnResult> {
    const op = "Trainer.evaluate";
    checkInt(op, "sizes.bank", sizes.bank, 1, this.#train.host.rows);
    checkInt(op, "sizes.queries", sizes.queries, 1, this.#test.host.rows);
    this.#bankOrder ??= seededOrder(this.#train.host.rows, BANK_SEED);
    const bankRows = this.#bankOrder.subarray(0, sizes.bank);
    const queryRows = Uint32Array.from({ length: sizes.queries }, (_, i) => i);
    const dim = this.config.dims[this.config.dims.length - 1];
    return knnEvaluate(
      await this.embed("train", bankRows),
      Array.from(bankRows, (r) => this.#train.host.cleanLabels[r]),
      await this.embed("test", queryRows),
      Array.from(queryRows, (r) => this.#test.host.cleanLabels[r]),
      dim,
      { k: sizes.k ?? 10 },
    );
  }

  /**
   * Saves parameters, optimizer moments, samplers, schedule and rank counts
   * in flight, atomically. Waits for every submitted step and refuses to
   * save non-finite metrics.
   *
   * @param path The checkpoint file.
   * @throws {NonFiniteLossError} When a step's metrics were not finite: the last good checkpoint stays.
   * @throws {GpuError} When submitted work caused a GPU error (the tensors are read back first).
   * @throws {DeviceLostError} When the device is lost.
   * @throws {Deno.errors.NotFound} When the folder does not exist (and any other file-system error, unchanged).
   */
  async save(path: string): Promise<void> {
    this.#accept(await this.#step.flush());
    await saveCheckpoint(path, this.#store, this.#step.optimizer, {
      step: this.stepsDone,
      rngState: this.#pairs.state,
      config: { trainer: this.config, state: statesOf(this.#stateful) },
    });
  }

  /**
   * Loads a checkpoint saved by a trainer with the same config, and continues from its step.
   *
   * @param path The checkpoint file.
   * @throws {CheckpointError} When the file is not a valid checkpoint of this model.
   * @throws {RangeError} When it was saved with another config (checked after the tensors are loaded), or its
   * sampler, schedule or feedback state is missing or invalid.
   */
  async resume(path: string): Promise<void> {
    const saved = await loadCheckpoint(path, this.#store, this.#step.optimizer);
    const { trainer, state } = saved.config as { trainer: unknown; state: StatesOf<RunState> };
    const mine = JSON.stringify(this.config);
    if (JSON.stringify(trainer) !== mine) {
      rangeError("Trainer.resume", "config", `the checkpoint's ${JSON.stringify(trainer)}`, mine);
    }
    restoreStates(this.#stateful, state);
  }

  /** Frees everything the trainer allocated. */
  destroy(): void {
    for (const t of this.#owned.reverse()) t.destroy();
    this.#store.destroy();
  }
}
