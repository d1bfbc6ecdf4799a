/**
 * The trainer: supervised contrastive training of an MLP encoder on a
 * labelled u8 dataset resident on the GPU, with K negatives per anchor
 * chosen by a K schedule (fixed, ANS or closed loop).
 *
 * A step, all in one command buffer and one submit:
 *   gather B anchors and B positives (u8 → f32, optional affine warps)
 *   → encode both (one shared MLP, L2-normalised)
 *   → sampled-K loss over the batch's positives (row i's positive is
 *     candidate i; its negatives are other rows' positives, label-aware)
 *   → backward → optimizer.
 * A positive is another training item with the anchor's (possibly noisy)
 * label, so label noise makes some "negatives" really positives: the
 * setting of science.md section 3.
 *
 * Rank counts come back a metrics period late and are applied at a fixed
 * step, never "whenever they arrive", so a run is the same on every replay
 * and a resumed run repeats the uninterrupted one exactly.
 *
 * @module
 */

import { checkInt, checkNumber, rangeError, typeError } from "../gpu/check.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Step } from "../gpu/dispatch.ts";
import { Tensor } from "../gpu/tensor.ts";
import { type AffineRanges, randomWarps } from "../data/augment.ts";
import { DeviceDataset, type LabelledBytes } from "../data/dataset.ts";
import { Rng } from "../data/random.ts";
import type { ContrastiveOptions } from "../losses/contrastive.ts";
import { mlp, type Sequential } from "../nn/layers.ts";
import { ParameterStore } from "../nn/parameters.ts";
import type { Activation } from "../ops/activation.ts";
import { WARP_FLOATS } from "../ops/gather.ts";
import { type OptimizerOptions, warmupCosine } from "../optim/optimizer.ts";
import { InBatchSampler } from "../sampling/in_batch.ts";
import { ansSchedule, closedLoopK, fixedK, type KSchedule } from "../schedule/schedules.ts";
import {
  bestKFromCounts,
  type EffectivenessOptions,
  lambdaFromClasses,
  lambdaFromLabelNoise,
  modelAccuracyFromCounts,
} from "../schedule/theory.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { knnEvaluate, type KnnResult } from "./eval.ts";
import { type StepMetrics, type TwoTowerStep, twoTowerStep } from "./step.ts";

/** How K moves: a plain-data description, so that it can live in a config file and a checkpoint. */
export type ScheduleConfig =
  | { kind: "fixed"; k: number }
  | { kind: "ans"; kStar: number; warmup?: number; decayStart?: number; decayTo?: number }
  | (
    & {
      kind: "closed";
      every?: number;
      smoothing?: number;
      maxChange?: number;
      initial?: number;
      pseudoCounts?: number;
    }
    & EffectivenessOptions
  );

/** Everything a run depends on (plain data: it is saved in checkpoints). */
export interface TrainerConfig {
  /** Encoder widths, input first; the input must be the dataset's row width (default [width, 256, 128]). */
  dims?: number[];
  /** Hidden activation (default "relu"). */
  activation?: Activation;
  /** Anchor-positive pairs per step, B (default 256). */
  batch?: number;
  /** The largest K; buffers are sized for it, 1..B−1 (default 64). */
  kMax?: number;
  /** The K schedule (default closed loop). */
  schedule?: ScheduleConfig;
  /** Label reliability λ for the K theory (default 1 − 1/C, or from `labelNoise` with label-aware negatives). */
  lambda?: number;
  /** Symmetric label-noise rate of the training labels, when known; sets the default λ (default 0). */
  labelNoise?: number;
  /** Never use a negative with the anchor's label (default true). */
  excludeSameLabel?: boolean;
  /** Temperature and negative weighting (default τ = 0.1, InfoNCE). */
  loss?: ContrastiveOptions;
  /** Peak learning rate of Adam with warm-up and cosine decay (default 2e-3). */
  lr?: number;
  /** Adam or AdamW, weight decay, clipping (default Adam, clip at 1). */
  optimizer?: Omit<OptimizerOptions, "lr">;
  /** Steps (default 600). */
  steps?: number;
  /** Seed of initialisation, batches, negatives and warps (default 1). */
  seed?: number;
  /** Affine augmentation ranges for both views, or null for none (default: none). */
  augment?: AffineRanges | null;
  /** Read metrics every this many steps (default 10). */
  metricsEvery?: number;
  /** Bank and query sizes of the periodic kNN evaluation, and its neighbours (default 2,000, 1,000, k = 10). */
  evalSizes?: { bank: number; queries: number; k?: number };
}

/** One metrics record (what the JSONL file and the charts hold). */
export interface TrainRecord {
  /** The step (1-based) the numbers belong to. */
  step: number;
  /** Mean loss of the batch. */
  loss: number;
  /** K used at that step. */
  k: number;
  /** K* of the K theory for that step's rank counts and λ. */
  kStar: number;
  /** P̂(B|K) at the K used: how often the model ranks the positive above all K negatives. */
  pB: number;
  /** InfoNCE mutual-information bound. */
  miBound: number;
  /** Mean DRO radius η. */
  eta: number;
  /** Fraction of rows whose positive beats every negative. */
  top1: number;
  /** Global gradient norm. */
  gradNorm: number;
  /** Steps per second since the run (or the resume) started. */
  stepsPerSecond: number;
}

/** A run stopped because the loss or the gradients stopped being finite. */
export class NonFiniteLossError extends Error {
  /** The first step whose metrics were not finite. */
  readonly step: number;

  /**
   * An error for `step`.
   *
   * @param step The step.
   * @param what Which number, and its value.
   */
  constructor(step: number, what: string) {
    super(`training stopped at step ${step}: ${what} is not finite; the last checkpoint is untouched`);
    this.name = "NonFiniteLossError";
    this.step = step;
  }
}

/** Callbacks a front end attaches (progress bar, JSONL, charts). */
export interface TrainerHooks {
  /** After every submitted step. */
  onStep?(step: number, k: number): void;
  /** When a metrics record arrives (a few steps late, in order). */
  onRecord?(record: TrainRecord): void;
}

/** A config with every default filled in and λ resolved (what `Trainer.config` holds and checkpoints record). */
export type ResolvedTrainerConfig = Required<Omit<TrainerConfig, "lambda" | "evalSizes">> & {
  lambda: number;
  evalSizes: { bank: number; queries: number; k: number };
};

function resolve(config: TrainerConfig, train: LabelledBytes): ResolvedTrainerConfig {
  const op = "Trainer";
  if (typeof config !== "object" || config === null) typeError(op, "config", "an object", config);
  const dims = config.dims ?? [train.width, 256, 128];
  if (!Array.isArray(dims) || dims.length < 2 || dims[0] !== train.width) {
    rangeError(op, "config.dims", `widths starting with the dataset's row width (${train.width})`, dims);
  }
  dims.forEach((d, i) => checkInt(op, `config.dims[${i}]`, d, 1));
  const batch = config.batch ?? 256;
  checkInt(op, "config.batch", batch, 2);
  const kMax = config.kMax ?? Math.min(64, batch - 1);
  checkInt(op, "config.kMax", kMax, 1, batch - 1);
  const steps = config.steps ?? 600;
  checkInt(op, "config.steps", steps, 1);
  const labelNoise = config.labelNoise ?? 0;
  checkNumber(op, "config.labelNoise", labelNoise, (v) => v >= 0 && v < 1, "in [0, 1)");
  const excludeSameLabel = config.excludeSameLabel ?? true;
  // λ: with label-aware negatives a false negative needs a flipped label; without, any same-class draw is one.
  const lambda = config.lambda ??
    (excludeSameLabel ? lambdaFromLabelNoise(train.classes, labelNoise) : lambdaFromClasses(train.classes));
  checkNumber(op, "config.lambda", lambda, (v) => v > 0 && v <= 1, "in (0, 1]");
  const lr = config.lr ?? 2e-3;
  checkNumber(op, "config.lr", lr, (v) => v > 0, "> 0");
  const metricsEvery = config.metricsEvery ?? 10;
  checkInt(op, "config.metricsEvery", metricsEvery, 1);
  const evalSizes = { k: 10, ...(config.evalSizes ?? { bank: 2000, queries: 1000 }) };
  checkInt(op, "config.evalSizes.bank", evalSizes.bank, evalSizes.k);
  checkInt(op, "config.evalSizes.queries", evalSizes.queries, 1);
  const schedule = config.schedule ?? { kind: "closed" };
  if (!["fixed", "ans", "closed"].includes(schedule?.kind)) {
    rangeError(op, "config.schedule.kind", '"fixed", "ans" or "closed"', schedule?.kind);
  }
  return {
    dims,
    activation: config.activation ?? "relu",
    batch,
    kMax,
    schedule,
    lambda,
    labelNoise,
    excludeSameLabel,
    loss: config.loss ?? { tau: 0.1 },
    lr,
    optimizer: config.optimizer ?? { kind: "adam", clipNorm: 1 },
    steps,
    seed: config.seed ?? 1,
    augment: config.augment ?? null,
    metricsEvery,
    evalSizes,
  };
}

function buildSchedule(config: ResolvedTrainerConfig): KSchedule {
  const s = config.schedule;
  if (s.kind === "fixed") return fixedK(s.k);
  if (s.kind === "ans") return ansSchedule(s);
  const { kind: _, ...options } = s;
  return closedLoopK({ every: 20, maxChange: 4, ...options, lambda: config.lambda, kMax: config.kMax });
}

/** Trainer state beyond tensors, saved in a checkpoint. */
interface SavedState {
  batchRng: number;
  warpRng: number;
  sampler: number;
  schedule: number[] | null;
  /** Rank counts of metrics steps not yet applied, and the one in use. */
  counts: { step: number; k: number; below: number[] }[];
  latest: { step: number; k: number; below: number[] } | null;
}

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
  /** Steps completed. */
  stepsDone = 0;
  /** Every metrics record of this process, in order. */
  readonly records: TrainRecord[] = [];
  readonly #gpu: Gpu;
  readonly #train: DeviceDataset;
  readonly #test: DeviceDataset;
  readonly #store: ParameterStore;
  readonly #encoder: Sequential;
  readonly #run: TwoTowerStep;
  readonly #schedule: KSchedule;
  /** The pieces of F(K) and pseudo-counts behind the recorded K* (the closed loop's own, when it is the schedule). */
  readonly #theory: EffectivenessOptions & { pseudoCounts?: number };
  readonly #sampler: InBatchSampler;
  readonly #batchRng: Rng;
  readonly #warpRng: Rng;
  readonly #byLabel: Uint32Array[];
  readonly #ids: { anchors: Tensor; positives: Tensor };
  readonly #warps: { anchors: Tensor; positives: Tensor } | null;
  readonly #owned: { destroy(): void }[] = [];
  readonly #host: {
    anchors: Uint32Array;
    positives: Uint32Array;
    labels: Uint32Array;
    table: Uint32Array;
    warps: Float32Array;
  };
  #counts = new Map<number, { step: number; k: number; below: number[] }>();
  #latest: { step: number; k: number; below: number[] } | null = null;
  #hooks: TrainerHooks = {};
  #started = 0;
  #startStep = 0;
  #failed: NonFiniteLossError | null = null;
  #eval: {
    ids: Tensor;
    input: Tensor;
    bound: ReturnType<Sequential["bind"]>;
    gather: Record<"train" | "test", Step>;
  } | null = null;
  /** A fixed, seeded order of the training rows: the kNN bank is its first rows. */
  #bankOrder: Uint32Array | null = null;

  /**
   * Checks the config against the data, then uploads the datasets and binds
   * every kernel once.
   *
   * @param gpu The context.
   * @param data Training and test sets (same width and classes).
   * @param config The run.
   */
  constructor(gpu: Gpu, data: { train: LabelledBytes; test: LabelledBytes }, config: TrainerConfig = {}) {
    const op = "Trainer";
    if (data?.test?.width !== data?.train?.width) {
      rangeError(op, "data.test.width", `the training set's (${data?.train?.width})`, data?.test?.width);
    }
    const cfg = resolve(config, data.train);
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
    this.#byLabel = Array.from({ length: data.train.classes }, () => [] as number[])
      .map((list, y) => {
        data.train.labels.forEach((l, i) => l === y && list.push(i));
        return Uint32Array.from(list);
      });
    this.#gpu = gpu;
    this.#train = new DeviceDataset(gpu, data.train);
    this.#test = data.test === data.train ? this.#train : new DeviceDataset(gpu, data.test);
    this.#owned.push(this.#train);
    if (this.#test !== this.#train) this.#owned.push(this.#test);
    this.#store = new ParameterStore(gpu, { seed: cfg.seed });
    this.#encoder = mlp(this.#store, cfg.dims, { activation: cfg.activation, normalize: true });
    this.#store.build();
    const { batch, kMax } = cfg;
    const width = data.train.width;
    const xq = Tensor.empty(gpu, [batch, width]);
    const xc = Tensor.empty(gpu, [batch, width]);
    this.#ids = { anchors: Tensor.zeros(gpu, [batch], "u32"), positives: Tensor.zeros(gpu, [batch], "u32") };
    this.#warps = cfg.augment
      ? { anchors: Tensor.empty(gpu, [batch, WARP_FLOATS]), positives: Tensor.empty(gpu, [batch, WARP_FLOATS]) }
      : null;
    const gathers = [
      this.#train.gather(this.#ids.anchors, xq, { warps: this.#warps?.anchors }),
      this.#train.gather(this.#ids.positives, xc, { warps: this.#warps?.positives }),
    ];
    this.#sampler = new InBatchSampler({ batch, kMax, excludeSameLabel: cfg.excludeSameLabel, seed: cfg.seed + 1 });
    this.#batchRng = new Rng(cfg.seed + 2);
    this.#warpRng = new Rng(cfg.seed + 3);
    this.#host = {
      anchors: new Uint32Array(batch),
      positives: new Uint32Array(batch),
      labels: new Uint32Array(batch),
      table: new Uint32Array(batch * (kMax + 1)),
      warps: new Float32Array(batch * WARP_FLOATS),
    };
    const k0 = this.#schedule.next({ step: 0, totalSteps: cfg.steps });
    this.#run = twoTowerStep(gpu, {
      store: this.#store,
      query: this.#encoder,
      candidate: this.#encoder,
      xq,
      xc,
      before: gathers,
    }, {
      loss: { ...cfg.loss, kMax, k: k0 },
      optimizer: {
        ...cfg.optimizer,
        lr: warmupCosine({ peak: cfg.lr, floor: cfg.lr / 20, warmup: Math.ceil(cfg.steps / 20), total: cfg.steps }),
      },
      metricsEvery: cfg.metricsEvery,
      counts: true,
    });
    this.#owned.push(
      this.#run,
      ...gathers,
      xq,
      xc,
      this.#ids.anchors,
      this.#ids.positives,
      ...(this.#warps ? [this.#warps.anchors, this.#warps.positives] : []),
    );
  }

  /**
   * The config with every default filled in and λ resolved, without touching the GPU.
   *
   * @param config The run.
   * @param train The training set (its width and classes set defaults).
   * @returns The resolved config.
   */
  static resolve(config: TrainerConfig, train: LabelledBytes): ResolvedTrainerConfig {
    return resolve(config, train);
  }

  /** The K the loss uses now. */
  get k(): number {
    return this.#run.loss.k;
  }

  /**
   * Trains until `until` steps are done (default: the configured total),
   * one submit per step, checking every metrics record for non-finite values.
   *
   * @param options `until`: stop after this many steps in all; `hooks`: progress callbacks.
   * @returns The metrics records of this call, in order.
   * @throws {NonFiniteLossError} When the loss or gradient norm stops being finite.
   */
  async run(options: { until?: number; hooks?: TrainerHooks } = {}): Promise<TrainRecord[]> {
    const until = options.until ?? this.config.steps;
    checkInt("Trainer.run", "options.until", until, this.stepsDone, this.config.steps);
    this.#hooks = options.hooks ?? {};
    this.#started = performance.now();
    this.#startStep = this.stepsDone;
    const first = this.records.length;
    const every = this.config.metricsEvery;
    for (let s = this.stepsDone + 1; s <= until; s++) {
      // Apply the counts of step s − 1 − every (if it was a metrics step): late, but at a fixed step.
      const due = s - 1 - every;
      if (due >= 1 && due % every === 0) {
        this.#take();
        if (!this.#counts.has(due)) {
          await this.#run.step.flush().then((m) => this.#accept(m));
        }
        this.#latest = this.#counts.get(due)!;
        this.#counts.delete(due);
      }
      const latest = this.#latest;
      const k = this.#schedule.next({
        step: s - 1,
        totalSteps: this.config.steps,
        counts: latest ? { below: latest.below, kNow: latest.k } : undefined,
      });
      if (k !== this.#run.loss.k) this.#run.loss.setK(k);
      this.#prepareBatch();
      await this.#run.step.run();
      this.stepsDone = s;
      this.#hooks.onStep?.(s, k);
      this.#take();
    }
    this.#accept(await this.#run.step.flush());
    return this.records.slice(first);
  }

  #take(): void {
    this.#accept(this.#run.step.takeMetrics());
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
      this.#counts.set(m.step, { step: m.step, k, below });
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

  #prepareBatch(): void {
    const { batch } = this.config;
    const h = this.#host;
    const labels = this.#train.host.labels;
    const rng = this.#batchRng;
    const rows = this.#train.host.rows;
    for (let i = 0; i < batch; i++) {
      const a = Math.floor(rng.next() * rows);
      const same = this.#byLabel[labels[a]];
      let p = a;
      // Another item with the anchor's label (the anchor itself only when it is alone in its class).
      for (let tries = 0; p === a && tries < 8; tries++) p = same[Math.floor(rng.next() * same.length)];
      h.anchors[i] = a;
      h.positives[i] = p;
      h.labels[i] = labels[a];
    }
    this.#sampler.sample(h.labels, h.table);
    this.#run.loss.setIndices(h.table);
    this.#ids.anchors.write(h.anchors);
    this.#ids.positives.write(h.positives);
    if (this.#warps && this.config.augment) {
      this.#warps.anchors.write(randomWarps(this.#warpRng, batch, this.config.augment, h.warps));
      this.#warps.positives.write(randomWarps(this.#warpRng, batch, this.config.augment, h.warps));
    }
  }

  /**
   * Embeds rows of the training or test set (no augmentation) in chunks.
   *
   * @param split Which set.
   * @param rows Row numbers.
   * @returns Embeddings, [rows.length, D] row-major.
   */
  async embed(split: "train" | "test", rows: ArrayLike<number>): Promise<Float32Array> {
    const gpu = this.#gpu;
    const chunk = 500;
    const dims = this.config.dims;
    const out = dims[dims.length - 1];
    if (!this.#eval) {
      const ids = Tensor.zeros(gpu, [chunk], "u32");
      const input = Tensor.empty(gpu, [chunk, dims[0]]);
      const bound = this.#encoder.bind(gpu, input);
      const gather = { train: this.#train.gather(ids, input), test: this.#test.gather(ids, input) };
      this.#eval = { ids, input, bound, gather };
      this.#owned.push(ids, input, bound, gather.train, gather.test);
    }
    const e = this.#eval;
    const gather = e.gather[split];
    const result = new Float32Array(rows.length * out);
    const ids = new Uint32Array(chunk);
    const data = split === "train" ? this.#train : this.#test;
    for (let start = 0; start < rows.length; start += chunk) {
      const n = Math.min(chunk, rows.length - start);
      for (let i = 0; i < chunk; i++) {
        const r = rows[start + Math.min(i, n - 1)];
        if (!Number.isInteger(r) || r < 0 || r >= data.host.rows) {
          rangeError("Trainer.embed", `rows[${start + i}]`, `an integer in [0, ${data.host.rows - 1}]`, r);
        }
        ids[i] = r;
      }
      e.ids.write(ids);
      const encoder = gpu.device.createCommandEncoder({ label: "Trainer.embed" });
      const pass = encoder.beginComputePass();
      gather.encode(pass);
      e.bound.forward.encode(pass);
      pass.end();
      gpu.submit("Trainer.embed", encoder);
      const z = (await e.bound.output.read()) as Float32Array;
      result.set(z.subarray(0, n * out), start * out);
    }
    return result;
  }

  /**
   * kNN accuracy (and recall@1, @5) of test embeddings against training
   * embeddings, both with their clean labels: the first `bank` rows of a
   * seeded permutation of the training set, the first `queries` test rows.
   *
   * @param sizes Bank, queries and k (default the config's `evalSizes`).
   * @returns The result.
   */
  async evaluate(sizes: { bank: number; queries: number; k?: number } = this.config.evalSizes): Promise<KnnResult> {
    const op = "Trainer.evaluate";
    checkInt(op, "sizes.bank", sizes.bank, 1, this.#train.host.rows);
    checkInt(op, "sizes.queries", sizes.queries, 1, this.#test.host.rows);
    if (!this.#bankOrder) {
      const order = Uint32Array.from({ length: this.#train.host.rows }, (_, i) => i);
      const rng = new Rng(12345);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      this.#bankOrder = order;
    }
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
   * Saves parameters, optimizer moments, RNG and schedule state atomically.
   * Waits for every submitted step and refuses to save non-finite metrics.
   *
   * @param path The checkpoint file.
   */
  async save(path: string): Promise<void> {
    this.#accept(await this.#run.step.flush());
    const state: SavedState = {
      batchRng: this.#batchRng.state,
      warpRng: this.#warpRng.state,
      sampler: this.#sampler.state,
      schedule: this.#schedule.state?.() ?? null,
      counts: [...this.#counts.values()].filter((c) => c.step > this.stepsDone - 2 * this.config.metricsEvery - 1),
      latest: this.#latest,
    };
    await saveCheckpoint(path, this.#store, this.#run.optimizer, {
      step: this.stepsDone,
      rngState: this.#batchRng.state,
      config: { trainer: this.config, state },
    });
  }

  /**
   * Loads a checkpoint saved by a trainer with the same config, and continues from its step.
   *
   * @param path The checkpoint file.
   */
  async resume(path: string): Promise<void> {
    const saved = await loadCheckpoint(path, this.#store, this.#run.optimizer);
    const { trainer, state } = saved.config as { trainer: unknown; state: SavedState };
    const mine = JSON.stringify(this.config);
    if (JSON.stringify(trainer) !== mine) {
      rangeError("Trainer.resume", "config", `the checkpoint's ${JSON.stringify(trainer)}`, mine);
    }
    this.stepsDone = saved.step;
    this.#batchRng.state = state.batchRng;
    this.#warpRng.state = state.warpRng;
    this.#sampler.setState(state.sampler);
    if (state.schedule) this.#schedule.setState?.(state.schedule);
    this.#counts = new Map(state.counts.map((c) => [c.step, c]));
    this.#latest = state.latest;
    this.#run.step.step = saved.step; // metrics steps are multiples of metricsEvery in the run's numbering
  }

  /** Frees everything the trainer allocated. */
  destroy(): void {
    for (const t of this.#owned.reverse()) t.destroy();
    this.#store.destroy();
  }
}
