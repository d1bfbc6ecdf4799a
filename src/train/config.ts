/**
 * What a training run depends on, as plain data (it is saved in every
 * checkpoint, and a resume must match it), and how its defaults resolve.
 *
 * @module
 */

import {
  checkBool,
  checkEnum,
  checkInt,
  checkNumber,
  checkObject,
  checkRange,
  F32_MAX,
  F32_MIN_NORMAL,
  rangeError,
  typeError,
} from "../gpu/_check.ts";
import {
  type AffineRanges,
  checkAffineRanges,
  checkPhotometricRanges,
  type PhotometricRanges,
} from "../data/augment.ts";
import { checkLabelledBytes, type LabelledBytes } from "../data/dataset.ts";
import { checkSeed } from "../data/random.ts";
import { baseParams, type ContrastiveOptions } from "../losses/loss.ts";
import { type Activation, ACTIVATIONS } from "../ops/activation.ts";
import { type OptimizerOptions, resolveOptimizerOptions } from "../optim/optimizer.ts";
import {
  type AnsOptions,
  ansSchedule,
  closedLoopK,
  type ClosedLoopOptions,
  fixedK,
  type KSchedule,
} from "../schedule/schedules.ts";
import { K_LIMIT, lambdaFromClasses, lambdaFromLabelNoise } from "../schedule/theory.ts";

/**
 * How K moves: a plain-data description, so that it can live in a config file and a checkpoint. "ans" takes
 * {@linkcode AnsOptions}; "closed" takes {@linkcode ClosedLoopOptions} but λ and kMax, which come from the config.
 */
export type ScheduleConfig =
  | { kind: "fixed"; k: number }
  | ({ kind: "ans" } & AnsOptions)
  | ({ kind: "closed" } & Omit<ClosedLoopOptions, "lambda" | "kMax">);

/**
 * What a step learns from:
 * - "pairs": an anchor and another item with its (possibly noisy) label as the positive, K sampled negatives
 *   from the batch's other positives (the K theory's setting, docs/science.md §3);
 * - "simclr": no labels: two augmented views of each item are the positive pair, the other 2B − 2 views the
 *   negatives (SimCLR's NT-Xent; P2's setting, docs/science.md §4); labels are used only to evaluate;
 * - "supcon": two augmented views of each item, and every view with the same label is a positive (SupCon,
 *   docs/science.md §2.5).
 */
export type TrainerMode = "pairs" | "simclr" | "supcon";

/** Everything a run depends on (plain data: it is saved in checkpoints). */
export interface TrainerConfig {
  /** What a step learns from (default "pairs"). */
  mode?: TrainerMode;
  /** Encoder widths, input first; the input must be the dataset's row width (default [width, 256, 128]). */
  dims?: number[];
  /** Hidden activation (default "relu"). */
  activation?: Activation;
  /** Anchor-positive pairs per step, B (default 256). */
  batch?: number;
  /** The largest K; buffers are sized for it, 1..B−1, or 1..B−1+queue with a queue (default 64, at most B − 1). */
  kMax?: number;
  /**
   * Pairs mode: a queue of this many past positives' embeddings (MoCo-style, detached) from which negatives
   * are drawn too, so K can exceed the batch; at least `batch`, the positives a step pushes (default 0: negatives
   * from the batch only).
   */
  queue?: number;
  /** The K schedule (default closed loop). */
  schedule?: ScheduleConfig;
  /** Label reliability λ for the K theory (default 1 − 1/C, or from `labelNoise` with label-aware negatives). */
  lambda?: number;
  /** Symmetric label-noise rate of the training labels, when known; sets the default λ (default 0). */
  labelNoise?: number;
  /** Never use a negative with the anchor's label (default true). */
  excludeSameLabel?: boolean;
  /** Temperature and negative weighting, and nothing else: the trainer sets the rest (default τ = 0.1, InfoNCE). */
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
  /** Photometric augmentation after the warp (contrast, brightness, noise), or null for none; needs `augment`. */
  photometric?: PhotometricRanges | null;
  /** Read metrics every this many steps (default 10). */
  metricsEvery?: number;
  /** Bank and query sizes of the periodic kNN evaluation, and its neighbours (default 2,000, 1,000, k = 10). */
  evalSizes?: { bank: number; queries: number; k?: number };
}

/** A config with every default filled in and λ resolved (what `Trainer.config` holds and checkpoints record). */
export type ResolvedTrainerConfig = Required<Omit<TrainerConfig, "lambda" | "evalSizes">> & {
  lambda: number;
  evalSizes: { bank: number; queries: number; k: number };
};

/** Every setting of TrainerConfig: any other key is refused (it would be ignored). */
const CONFIG_KEYS = [
  "mode",
  "dims",
  "activation",
  "batch",
  "kMax",
  "queue",
  "schedule",
  "lambda",
  "labelNoise",
  "excludeSameLabel",
  "loss",
  "lr",
  "optimizer",
  "steps",
  "seed",
  "augment",
  "photometric",
  "metricsEvery",
  "evalSizes",
] as const satisfies readonly (keyof TrainerConfig)[];

/**
 * The config with every default filled in and λ resolved, checked against
 * the training set before any GPU work.
 *
 * @param config The run.
 * @param train The training set (its width and classes set defaults).
 * @param test The test set (default the training set): its width and rows are checked.
 * @returns The resolved config.
 * @throws {TypeError} When `config` is not an object; `train` or `test` is not a labelled dataset (see
 * `DeviceDataset`); `config.dims`, `config.loss`, `config.optimizer`, `config.schedule` or `config.evalSizes` has
 * the wrong type; a field that must be a number, a string or a boolean is not one.
 * @throws {RangeError} When a field is out of range, an unknown name, not a setting of TrainerConfig, or
 * (`config.loss`) a field the trainer sets itself; the message names it.
 */
export function resolveTrainerConfig(
  config: TrainerConfig,
  train: LabelledBytes,
  test: LabelledBytes = train,
): ResolvedTrainerConfig {
  const op = "Trainer";
  checkObject(op, "config", config);
  // A misspelt setting would otherwise be ignored and its default used in silence.
  const unknown = Object.keys(config).filter((key) => !(CONFIG_KEYS as readonly string[]).includes(key));
  if (unknown.length) {
    rangeError(op, `config.${unknown[0]}`, `a setting of TrainerConfig (${CONFIG_KEYS.join(", ")})`, "set");
  }
  checkLabelledBytes(op, "data.train", train);
  checkLabelledBytes(op, "data.test", test);
  const dims = config.dims ?? [train.width, 256, 128];
  if (!Array.isArray(dims)) typeError(op, "config.dims", "an array of widths", dims);
  if (dims.length < 2 || dims[0] !== train.width) {
    rangeError(op, "config.dims", `widths starting with the dataset's row width (${train.width})`, dims);
  }
  dims.forEach((d, i) => checkInt(op, `config.dims[${i}]`, d, 1));
  const mode = config.mode ?? "pairs";
  checkEnum(op, "config.mode", mode, ["pairs", "simclr", "supcon"] as const);
  const batch = config.batch ?? 256;
  checkInt(op, "config.batch", batch, 2, 1 << 20); // beyond, host index tables would not fit an ArrayBuffer
  const queue = config.queue ?? 0;
  checkInt(op, "config.queue", queue, 0, 1 << 20);
  // Each step pushes its B positives' embeddings into the queue.
  if (mode === "pairs" && queue > 0 && queue < batch) {
    rangeError(op, "config.queue", `0 or >= config.batch (${batch}), the positives a step pushes`, queue);
  }
  const seed = config.seed ?? 1;
  checkSeed(op, "config.seed", seed);
  const kMax = config.kMax ?? Math.min(64, batch - 1);
  // At most what a step offers, and what the loss kernel takes (checked here, before any upload).
  checkInt(op, "config.kMax", kMax, 1, Math.min(batch - 1 + queue, K_LIMIT));
  const steps = config.steps ?? 600;
  checkInt(op, "config.steps", steps, 1);
  const labelNoise = config.labelNoise ?? 0;
  checkNumber(op, "config.labelNoise", labelNoise, (v) => v >= 0 && v < 1, "in [0, 1)");
  const excludeSameLabel = config.excludeSameLabel ?? true;
  checkBool(op, "config.excludeSameLabel", excludeSameLabel);
  // λ: with label-aware negatives a false negative needs a flipped label; without, any same-class draw is one.
  // SimCLR never looks at labels: its negatives are label-unaware whatever excludeSameLabel says.
  const labelAware = excludeSameLabel && config.mode !== "simclr";
  const lambda = config.lambda ??
    (labelAware ? lambdaFromLabelNoise(train.classes, labelNoise) : lambdaFromClasses(train.classes));
  checkNumber(op, "config.lambda", lambda, (v) => v > 0 && v <= 1, "in (0, 1]");
  const lr = config.lr ?? 2e-3;
  checkNumber(op, "config.lr", lr, (v) => v > 0, "> 0");
  checkRange(op, "config.lr", lr, F32_MIN_NORMAL, F32_MAX, "a normal f32");
  const metricsEvery = config.metricsEvery ?? 10;
  checkInt(op, "config.metricsEvery", metricsEvery, 1);
  const sizes = config.evalSizes ?? { bank: 2000, queries: 1000 };
  checkObject(op, "config.evalSizes", sizes);
  const evalSizes = { k: 10, ...sizes };
  evalSizes.k ??= 10;
  checkInt(op, "config.evalSizes.k", evalSizes.k, 1);
  checkInt(op, "config.evalSizes.bank", evalSizes.bank, evalSizes.k);
  checkInt(op, "config.evalSizes.queries", evalSizes.queries, 1);
  const schedule = config.schedule ?? { kind: "closed" };
  checkObject(op, "config.schedule", schedule);
  checkEnum(op, "config.schedule.kind", schedule.kind, ["fixed", "ans", "closed"] as const);
  // Everything below is checked here, before any GPU work, by the same functions the parts use later.
  if (schedule.kind === "fixed") checkInt(op, "config.schedule.k", schedule.k, 1, kMax);
  if (schedule.kind === "ans") {
    checkInt(op, "config.schedule.kStar", schedule.kStar, 1, kMax);
    checkInt(op, "config.schedule.decayTo", schedule.decayTo ?? 1, 1, kMax);
  }
  const activation = config.activation ?? "relu";
  checkEnum(op, "config.activation", activation, ACTIVATIONS);
  const loss = config.loss ?? { tau: 0.1 };
  checkObject(op, "config.loss", loss);
  // The trainer sets the layout, K, the index table and the queue itself: a field for them here would be spread
  // over the step's loss options.
  for (const key of Object.keys(loss)) {
    if (key !== "tau" && key !== "weighting") {
      rangeError(op, `config.loss.${key}`, "absent (config.loss holds tau and weighting)", (loss as never)[key]);
    }
  }
  baseParams(op, loss, "config.loss");
  const optimizer = config.optimizer ?? { kind: "adam", clipNorm: 1 };
  checkObject(op, "config.optimizer", optimizer);
  resolveOptimizerOptions(op, { ...optimizer, lr }, "config.optimizer");
  if (mode === "supcon") {
    const kind = typeof config.loss?.weighting === "string" ? config.loss.weighting : config.loss?.weighting?.kind;
    if (kind === "dcl" || kind === "hcl") {
      rangeError(op, "config.loss.weighting", '"infonce" or "adnce" with SupCon (DCL/HCL assume one positive)', kind);
    }
  }
  let augment = config.augment ?? null;
  if (augment?.crop && !augment.size && train.imageShape) augment = { ...augment, size: train.imageShape };
  if (augment !== null) checkAffineRanges(op, augment, "config.augment");
  const photometric = config.photometric ?? null;
  if (photometric !== null) {
    checkPhotometricRanges(op, photometric, "config.photometric");
    if (augment === null) typeError(op, "config.augment", "given when config.photometric is", augment);
  }
  if (test.width !== train.width) rangeError(op, "data.test.width", `the training set's (${train.width})`, test.width);
  if (augment && !train.imageShape) typeError(op, "data.train.imageShape", "given when config.augment is", undefined);
  // The defaults (2000 and 1000) can exceed a small data set: then the message says they were defaults.
  const defaulted = config.evalSizes === undefined ? "; the default: set config.evalSizes for a set this small" : "";
  if (evalSizes.bank > train.rows) {
    rangeError(op, "config.evalSizes.bank", `<= training rows (${train.rows})${defaulted}`, evalSizes.bank);
  }
  if (evalSizes.queries > test.rows) {
    rangeError(op, "config.evalSizes.queries", `<= test rows (${test.rows})${defaulted}`, evalSizes.queries);
  }
  return {
    mode,
    dims,
    activation,
    batch,
    kMax,
    queue,
    schedule,
    lambda,
    labelNoise,
    excludeSameLabel,
    loss,
    lr,
    optimizer,
    steps,
    seed,
    augment,
    photometric,
    metricsEvery,
    evalSizes,
  };
}

/**
 * The K schedule a resolved config describes.
 *
 * @param config The resolved config.
 * @returns The schedule.
 */
export function buildSchedule(config: ResolvedTrainerConfig): KSchedule {
  const s = config.schedule;
  if (s.kind === "fixed") return fixedK(s.k);
  if (s.kind === "ans") return ansSchedule(s);
  const { kind: _, ...options } = s;
  return closedLoopK({ every: 20, maxChange: 4, ...options, lambda: config.lambda, kMax: config.kMax });
}
