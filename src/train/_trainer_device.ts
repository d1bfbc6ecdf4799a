/**
 * What a trainer binds on one device: the datasets on the GPU, the
 * parameters and encoder, the training step with its input buffers and
 * gathers, and (on first use) the evaluation embedder. Everything else a
 * trainer holds lives on the host, so after a lost device it binds this
 * again on a new one, copies a snapshot in, and goes on.
 *
 * @module
 */

import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { checkFitsDevice, DeviceDataset, type LabelledBytes } from "../data/dataset.ts";
import { mlp, type Sequential } from "../nn/sequential.ts";
import { ParameterStore } from "../nn/parameters.ts";
import { WARP_FLOATS } from "../ops/gather.ts";
import { PHOTOMETRIC_FLOATS } from "../data/augment.ts";
import { warmupCosine } from "../optim/optimizer.ts";
import type { ResolvedTrainerConfig } from "./config.ts";
import { Embedder } from "./embedder.ts";
import { TrainingStep } from "./step.ts";
import { EmbeddingQueue } from "../sampling/queue.ts";

/** A trainer's GPU side. */
export interface TrainerDevice {
  /** The device. */
  readonly gpu: Gpu;
  /** The training set, resident. */
  readonly train: DeviceDataset;
  /** The test set, resident (the training set's object when they are the same). */
  readonly test: DeviceDataset;
  /** Parameters and gradients. */
  readonly store: ParameterStore;
  /** The encoder (one, shared by anchors and positives). */
  readonly encoder: Sequential;
  /** The bound training step. */
  readonly step: TrainingStep;
  /**
   * Row numbers the step gathers, written every step: anchors then positives (pairs mode), or every view
   * (views modes: items, then the same items again).
   */
  readonly ids: { anchors: Tensor; positives: Tensor | null };
  /** Inverse warps, as `ids` (null without augmentation). */
  readonly warps: { anchors: Tensor; positives: Tensor | null } | null;
  /** The queue of past positives' embeddings (pairs mode with `queue` > 0), or null. */
  readonly queue: EmbeddingQueue | null;
  /** Photometric changes, as `ids` (null without them). */
  readonly photometric: { anchors: Tensor; positives: Tensor | null } | null;
  /** The evaluation embedder, bound on first use. */
  embedder(): Embedder<"train" | "test">;
  /** Frees everything bound on the device (not the device). */
  destroy(): void;
}

/**
 * Uploads the data and binds the model and the step on `gpu`.
 *
 * @param gpu The device.
 * @param data Training and test sets.
 * @param cfg The resolved config (checked before any GPU work).
 * @param k0 The K of the first step.
 * @returns The bound device side.
 * @throws {RangeError} When a dataset's packed bytes exceed one storage binding (before anything is uploaded).
 */
export function bindTrainerDevice(
  gpu: Gpu,
  data: { train: LabelledBytes; test: LabelledBytes },
  cfg: ResolvedTrainerConfig,
  k0: number,
): TrainerDevice {
  const { batch, kMax } = cfg;
  // Both sets fit the device before either is uploaded (the config checked everything else).
  checkFitsDevice("Trainer", "data.train", data.train, gpu);
  checkFitsDevice("Trainer", "data.test", data.test, gpu);
  const owned: { destroy(): void }[] = [];
  const train = new DeviceDataset(gpu, data.train);
  const test = data.test === data.train ? train : new DeviceDataset(gpu, data.test);
  owned.push(train);
  if (test !== train) owned.push(test);
  const store = new ParameterStore(gpu, { seed: cfg.seed });
  const encoder = mlp(store, cfg.dims, { activation: cfg.activation, normalize: true });
  store.build();
  const width = data.train.width;
  // Pairs: anchors into xq and positives into xc, gathered apart. Views: every view of the batch into one
  // input of 2B rows, gathered at once (rows i and i + B are two views of item i).
  const views = cfg.mode !== "pairs";
  const rows = views ? 2 * batch : batch;
  const xq = Tensor.empty(gpu, [rows, width]);
  const xc = views ? null : Tensor.empty(gpu, [batch, width]);
  const both = (make: () => Tensor) => ({ anchors: make(), positives: views ? null : make() });
  const ids = both(() => Tensor.zeros(gpu, [rows], "u32"));
  const warps = cfg.augment ? both(() => Tensor.empty(gpu, [rows, WARP_FLOATS])) : null;
  const photometric = cfg.photometric ? both(() => Tensor.empty(gpu, [rows, PHOTOMETRIC_FLOATS])) : null;
  const gather = {
    query: train.gather(ids.anchors, xq, { warps: warps?.anchors, photometric: photometric?.anchors }),
    candidate: xc
      ? train.gather(ids.positives!, xc, { warps: warps?.positives!, photometric: photometric?.positives! })
      : undefined,
  };
  // Pairs mode with a queue: past positives' embeddings, read by the loss as candidates B.. (detached).
  const queue = !views && cfg.queue > 0
    ? new EmbeddingQueue(gpu, { capacity: cfg.queue, dim: cfg.dims.at(-1)! })
    : null;
  const lr = warmupCosine({ peak: cfg.lr, floor: cfg.lr / 20, warmup: Math.ceil(cfg.steps / 20), total: cfg.steps });
  const step = new TrainingStep(gpu, {
    store,
    query: encoder,
    candidate: views ? undefined : encoder,
    xq,
    xc: xc ?? undefined,
    gather,
    queue: queue ?? undefined,
  }, {
    loss: views
      ? { ...cfg.loss, layout: "views", supcon: cfg.mode === "supcon" }
      : { ...cfg.loss, kMax, k: k0, queue: queue?.embeddings },
    optimizer: { ...cfg.optimizer, lr },
    metricsEvery: cfg.metricsEvery,
    counts: cfg.mode !== "supcon", // SupCon has no single positive to rank negatives against: no rank counts
  });
  owned.push(step, gather.query, xq);
  if (queue) owned.push(queue);
  for (const part of [gather.candidate, xc]) if (part) owned.push(part);
  for (const pair of [ids, warps, photometric]) {
    if (pair) owned.push(pair.anchors);
    if (pair?.positives) owned.push(pair.positives);
  }
  let embedder: Embedder<"train" | "test"> | null = null;
  return {
    gpu,
    train,
    test,
    store,
    encoder,
    step,
    ids,
    warps,
    photometric,
    queue,
    embedder() {
      if (!embedder) owned.push(embedder = new Embedder(gpu, encoder, { train, test }));
      return embedder;
    },
    destroy() {
      for (const part of owned.reverse()) part.destroy();
      store.destroy();
    },
  };
}
