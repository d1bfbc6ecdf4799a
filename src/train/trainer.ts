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
 * Everything bound on the GPU lives in one object (src/train/_trainer_device.ts);
 * everything else on the host. When the device is lost, the trainer binds
 * again on a new device, restores its last in-memory snapshot (parameters,
 * moments, samplers, schedule, rank counts) and replays from there: a run
 * replays exactly, so it ends as if nothing had happened.
 *
 * @module
 */

import { checkInt, checkObject, typeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { DeviceLostError } from "../gpu/errors.ts";
import { checkGpu } from "../gpu/tensor.ts";
import type { LabelledBytes } from "../data/dataset.ts";
import { SampledContrastiveLoss } from "../losses/sampled.ts";
import { bestKFromCounts, type EffectivenessOptions } from "../schedule/theory.ts";
import { resumeTrainer, trainerCheckpointBytes } from "./_trainer_checkpoint.ts";
import { bindTrainerDevice, type TrainerDevice } from "./_trainer_device.ts";
import {
  type RecoveryOptions,
  recoveryOptions,
  restoreDevice,
  type TrainerOptions,
  type TrainerSnapshot,
  trainerSnapshot,
} from "./recovery.ts";
import { buildSchedule, type ResolvedTrainerConfig, resolveTrainerConfig, type TrainerConfig } from "./config.ts";
import { evaluationRows, knnEvaluate, knnEvaluateOnGpu, type KnnResult, pixelEmbeddings } from "./eval.ts";
import { KNN_CANDIDATES } from "../ops/knn.ts";
import { restoreStates } from "./state.ts";
import { drawBatch, type HostBatch, hostBatch, type RunState, runState } from "./_batch.ts";
import { nonFinite, type NonFiniteLossError, type TrainerHooks, type TrainRecord, trainRecord } from "./records.ts";
import type { StepMetrics } from "./step.ts";

/**
 * A bound training run. Construct, then {@linkcode Trainer.run}; evaluate
 * with {@linkcode Trainer.evaluate}; save and resume with
 * {@linkcode Trainer.save} and {@linkcode Trainer.resume}. A lost device is
 * recovered from by default ({@linkcode RecoveryOptions}).
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
  readonly #data: { train: LabelledBytes; test: LabelledBytes };
  #device: TrainerDevice;
  /** Devices this trainer requested itself (after a loss), which it destroys. */
  readonly #requested: Gpu[] = [];
  readonly #recovery: Required<RecoveryOptions> | null;
  #snapshot: TrainerSnapshot | null = null;
  /** The pieces of F(K) and pseudo-counts behind the recorded K* (the closed loop's own, when it is the schedule). */
  readonly #theory: EffectivenessOptions & { pseudoCounts?: number };
  /** The samplers, the schedule and the rank counts in flight: the run's host state. */
  readonly #run: RunState;
  /** Host-side batch arrays, rewritten every step. */
  readonly #host: HostBatch;
  #hooks: TrainerHooks = {};
  /** The last step and record handed to the hooks: a replay after a recovery does not hand them out again. */
  #reported = { step: 0, record: 0 };
  #started = 0; // when run() began, and at which step: for the steps/s rate
  #startStep = 0;
  #failed: NonFiniteLossError | null = null;
  #destroyed = false;

  /**
   * Checks everything (the config against the data), then uploads the
   * datasets and binds every kernel once.
   *
   * @param gpu The context.
   * @param data Training and test sets (same width and classes).
   * @param config The run.
   * @param options Recovery from a lost device.
   * @throws {TypeError} When `gpu` is not a Gpu, `data` or the config is not an object, `data.train` or `data.test`
   * is not a labelled dataset, a config field or option has the wrong type (see {@linkcode resolveTrainerConfig}),
   * or augmentation is asked for rows that are not images.
   * @throws {RangeError} When a config field, an option, or the data is out of range (a dataset too large for one
   * storage binding included); the message names it.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(
    gpu: Gpu,
    data: { train: LabelledBytes; test: LabelledBytes },
    config: TrainerConfig = {},
    options: TrainerOptions = {},
  ) {
    checkGpu("Trainer", gpu);
    checkObject("Trainer", "data", data, "{ train, test }");
    const cfg = resolveTrainerConfig(config, data.train, data.test ?? null);
    this.config = cfg;
    const schedule = buildSchedule(cfg);
    this.#theory = cfg.schedule.kind === "closed" ? cfg.schedule : {};
    this.#recovery = recoveryOptions(options);
    this.#run = runState(cfg, data.train.labels, schedule);
    this.#host = hostBatch(cfg);
    this.#data = data;
    this.#device = bindTrainerDevice(gpu, data, cfg, schedule.next({ step: 0, totalSteps: cfg.steps }));
  }

  /** The device the trainer runs on now (a new one after it recovered from a lost one). */
  get gpu(): Gpu {
    return this.#device.gpu;
  }

  /** Steps completed. */
  get stepsDone(): number {
    return this.#device.step.step;
  }

  /** The K the loss uses now (in SimCLR mode every other view: 2B − 2). */
  get k(): number {
    const loss = this.#device.step.loss;
    return loss instanceof SampledContrastiveLoss ? loss.k : 2 * this.config.batch - 2;
  }

  /**
   * Trains until `until` steps are done (default: the configured total),
   * one submit per step, checking every metrics record for non-finite values.
   * A lost device is replaced and the run replayed from the last snapshot.
   *
   * @param options `until`: stop after this many steps in all; `hooks`: progress callbacks.
   * @returns The metrics records of this call, in order.
   * @throws {NonFiniteLossError} When the loss or gradient norm stops being finite.
   * @throws {TypeError} When `until` is not a number, or the trainer is destroyed.
   * @throws {RangeError} When `until` is below the steps done or above the configured total.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost and recovery is off or failed `attempts` times in a row.
   */
  async run(options: { until?: number; hooks?: TrainerHooks } = {}): Promise<TrainRecord[]> {
    if (this.#destroyed) typeError("Trainer.run", "the trainer", "live (not destroyed)", "destroyed");
    const until = options.until ?? this.config.steps;
    checkInt("Trainer.run", "options.until", until, this.stepsDone, this.config.steps);
    this.#hooks = options.hooks ?? {};
    this.#started = performance.now();
    this.#startStep = this.stepsDone;
    const first = this.records.length;
    await this.#recovering(() => this.#steps(until));
    return this.records.slice(first);
  }

  /** The training loop from the steps done to `until`, with a snapshot at its start and every `snapshotEvery`. */
  async #steps(until: number): Promise<void> {
    const step = this.#device.step;
    for (let s = this.stepsDone + 1; s <= until; s++) {
      const every = this.#recovery?.snapshotEvery;
      if (every && (s === this.#startStep + 1 || (s - 1) % every === 0) && this.#snapshot?.device.step !== s - 1) {
        await this.#takeSnapshot();
      }
      const due = this.#run.feedback.dueAt(s);
      if (due !== null) {
        this.#accept(step.takeMetrics());
        if (this.config.mode !== "supcon") { // SupCon has no rank counts to wait for (#accept)
          if (!this.#run.feedback.has(due)) this.#accept(await step.flush()); // late: wait for exactly these
          this.#run.feedback.apply(due);
        }
      }
      const counts = this.#run.feedback.current;
      const loss = step.loss;
      const k = loss instanceof SampledContrastiveLoss
        ? this.#run.schedule.next({
          step: s - 1,
          totalSteps: this.config.steps,
          counts: counts ? { below: counts.below, kNow: counts.k } : undefined,
        })
        : this.k; // SimCLR: every other view, always
      if (loss instanceof SampledContrastiveLoss && k !== loss.k) loss.setK(k);
      drawBatch(this.#run, this.#host, this.#device, this.config);
      await step.run();
      if (s > this.#reported.step) this.#hooks.onStep?.(this.#reported.step = s, k);
      this.#accept(step.takeMetrics());
    }
    this.#accept(await step.flush());
  }

  /**
   * Runs `work`; when the device is lost, binds again on a new one, restores the
   * last snapshot, replays to where the work started, and runs it again.
   */
  async #recovering<T>(work: () => Promise<T>): Promise<T> {
    const target = this.stepsDone;
    for (let attempt = 1;; attempt++) {
      try {
        return await work();
      } catch (error) {
        const recovery = this.#recovery;
        if (!(error instanceof DeviceLostError) || !recovery || !this.#snapshot || attempt > recovery.attempts) {
          throw error;
        }
        const lost = this.#device;
        const gpu = await recovery.requestGpu();
        this.#requested.push(gpu);
        // Measured variants carry over where the new context has none (usually the same adapter).
        for (const [key, choice] of lost.gpu.tuning) if (!gpu.tuning.has(key)) gpu.tuning.set(key, choice);
        lost.destroy(); // its buffers belong to the lost device
        const { device, states, records } = this.#snapshot;
        this.#device = bindTrainerDevice(gpu, this.#data, this.config, 1);
        restoreDevice(this.#device, device);
        restoreStates(this.#run, structuredClone(states));
        this.records.length = records;
        this.#failed = null;
        if (this.stepsDone < target) await this.#steps(target);
      }
    }
  }

  async #takeSnapshot(): Promise<void> {
    this.#accept(await this.#device.step.flush());
    this.#snapshot = await trainerSnapshot(this.#device, this.#run, this.records.length);
  }

  #accept(metrics: StepMetrics[]): void {
    if (this.#failed) throw this.#failed;
    for (const m of metrics) {
      this.#failed = nonFinite(m);
      // Sticky: once a step is non-finite, neither training nor saving goes on.
      if (this.#failed) throw this.#failed;
      const k = m.negatives;
      // SupCon's step reads back no rank counts (its K is a mean over rows): no feedback, and no K*: 0. Otherwise
      // K* exactly as the closed loop computes it (its pieces and pseudo-counts).
      const ranked = m.below !== undefined;
      const below = ranked ? Array.from(m.below!) : [];
      if (ranked) this.#run.feedback.add({ step: m.step, k, below });
      const kStar = ranked ? bestKFromCounts(this.config.lambda, below, k, this.config.kMax, this.#theory) : 0;
      const rate = (this.stepsDone - this.#startStep) / ((performance.now() - this.#started) / 1000);
      const record = trainRecord(m, ranked ? below : null, kStar, rate);
      this.records.push(record);
      if (m.step > this.#reported.record) this.#hooks.onRecord?.((this.#reported.record = m.step, record));
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
   * @throws {DeviceLostError} When the device is lost and recovery is off or failed.
   */
  embed(split: "train" | "test", rows: ArrayLike<number>): Promise<Float32Array> {
    return this.#recovering(() => this.#device.embedder().embed(split, rows));
  }

  /**
   * kNN accuracy (and recall@1, @5) of test embeddings against training
   * embeddings, both with their clean labels: the first `bank` rows of a
   * seeded permutation of the training set, the first `queries` test rows. The neighbours are found on the GPU
   * (knnEvaluateOnGpu, the host scan's answer exactly) when k ≤ 32, else on the host.
   *
   * @param sizes Bank, queries and k (default the config's `evalSizes`).
   * @param source "encoder" (default), or "pixels": the raw-pixel baseline under the same protocol.
   * @returns The result.
   * @throws {TypeError} When a size is not a number, or the trainer is destroyed.
   * @throws {RangeError} When `sizes.bank` or `sizes.queries` is not an integer in [1, rows of its set], or `sizes.k`
   * not one in [1, bank].
   * @throws {OutOfMemoryError} On first use, when the embedder's chunk exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending, or the embedding work causes one.
   * @throws {DeviceLostError} When the device is lost and recovery is off or failed.
   */
  async evaluate(
    sizes: { bank: number; queries: number; k?: number } = this.config.evalSizes,
    source: "encoder" | "pixels" = "encoder",
  ): Promise<KnnResult> {
    const op = "Trainer.evaluate";
    if (this.#destroyed) typeError(op, "the trainer", "live (not destroyed)", "destroyed");
    const { train, test } = this.#data;
    checkInt(op, "sizes.bank", sizes.bank, 1, train.rows);
    checkInt(op, "sizes.queries", sizes.queries, 1, test.rows);
    const { bankRows, queryRows, bankLabels, queryLabels } = evaluationRows(train, test, sizes);
    const pixels = source === "pixels";
    const args = [
      pixels ? pixelEmbeddings(train, bankRows) : await this.embed("train", bankRows),
      bankLabels,
      pixels ? pixelEmbeddings(test, queryRows) : await this.embed("test", queryRows),
      queryLabels,
      pixels ? train.width : this.config.dims[this.config.dims.length - 1],
      { k: sizes.k ?? 10 },
    ] as const;
    if ((sizes.k ?? 10) > KNN_CANDIDATES) return knnEvaluate(...args); // the GPU search keeps 32 per query
    return await this.#recovering(() => knnEvaluateOnGpu(this.gpu, ...args));
  }

  /**
   * Saves parameters, optimizer moments, samplers, schedule and rank counts
   * in flight, atomically. Waits for every submitted step and refuses to
   * save non-finite metrics.
   *
   * @param path The checkpoint file.
   * @throws {TypeError} When `path` is not a string, or the trainer is destroyed.
   * @throws {RangeError} When `path` is empty.
   * @throws {Deno.errors.NotFound} When the folder does not exist (checked before the tensors are read back).
   * @throws {NonFiniteLossError} When a step's metrics were not finite: the last good checkpoint stays.
   * @throws {GpuError} When submitted work caused a GPU error (the tensors are read back first).
   * @throws {DeviceLostError} When the device is lost and recovery is off or failed.
   */
  async save(path: string): Promise<void> {
    const files = await import("./_atomic_file.ts"); // Deno only: lazily, so pages never load it
    await files.checkSavePath("Trainer.save", path); // before the tensors are read back
    await files.writeFileAtomic(path, await this.saveBytes());
  }

  /**
   * The checkpoint {@linkcode Trainer.save} writes, as safetensors bytes (a
   * page offers them as a download). Waits for every submitted step and
   * refuses to save non-finite metrics.
   *
   * @returns The checkpoint's bytes.
   * @throws {TypeError} When the trainer is destroyed.
   * @throws {NonFiniteLossError} When a step's metrics were not finite.
   * @throws {GpuError} When submitted work caused a GPU error (the tensors are read back first).
   * @throws {DeviceLostError} When the device is lost and recovery is off or failed.
   */
  async saveBytes(): Promise<Uint8Array> {
    if (this.#destroyed) typeError("Trainer.saveBytes", "the trainer", "live (not destroyed)", "destroyed");
    return await this.#recovering(async () => {
      this.#accept(await this.#device.step.flush());
      return await trainerCheckpointBytes(this.#device, this.#run, this.config, this.#data);
    });
  }

  /**
   * Loads a checkpoint saved by a trainer with the same config, and continues from its step.
   *
   * @param path The checkpoint file.
   * @throws {TypeError} When `path` is not a string, or the trainer is destroyed.
   * @throws {CheckpointError} When the file cannot be read, is not a valid checkpoint of this model, or holds no
   * trainer state.
   * @throws {RangeError} When `path` is empty, or the file's config or data differ (named), or its state is invalid.
   */
  async resume(path: string): Promise<void> {
    const { readCheckpointFile } = await import("./_atomic_file.ts"); // Deno only: lazily, so pages never load it
    this.#resume("Trainer.resume", await readCheckpointFile("Trainer.resume", path), path);
  }

  /**
   * Loads checkpoint bytes saved by a trainer with the same config (from
   * {@linkcode Trainer.saveBytes}, a file or an upload), and continues from their step.
   *
   * @param bytes The checkpoint's bytes.
   * @param source The name errors start with (default `"checkpoint"`).
   * @throws {TypeError} When `bytes` is not a Uint8Array, `source` not a string, or the trainer is destroyed.
   * @throws {CheckpointError} When the bytes are not a valid checkpoint of this model, or hold no trainer state.
   * @throws {RangeError} When they were saved with another config or data (each setting that differs named, before
   * anything is loaded), or their sampler, schedule or feedback state is missing or invalid.
   */
  resumeBytes(bytes: Uint8Array, source: string = "checkpoint"): void {
    this.#resume("Trainer.resumeBytes", bytes, source);
  }

  #resume(op: string, bytes: Uint8Array, source: string): void {
    if (this.#destroyed) typeError(op, "the trainer", "live (not destroyed)", "destroyed");
    resumeTrainer(op, bytes, source, { device: this.#device, run: this.#run, config: this.config, data: this.#data });
    this.#snapshot = null; // the snapshot was of the run before the resume
  }

  /** Frees everything the trainer allocated, and the devices it requested after a loss. Later calls do nothing. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#device.destroy();
    for (const gpu of this.#requested) gpu.destroy();
  }
}
