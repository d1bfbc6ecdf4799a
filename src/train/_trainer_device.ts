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
import { DeviceDataset, type LabelledBytes } from "../data/dataset.ts";
import { mlp, type Sequential } from "../nn/layers.ts";
import { ParameterStore } from "../nn/parameters.ts";
import { WARP_FLOATS } from "../ops/gather.ts";
import { warmupCosine } from "../optim/optimizer.ts";
import type { ResolvedTrainerConfig } from "./config.ts";
import { Embedder } from "./eval.ts";
import { TrainingStep } from "./step.ts";

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
  /** Row numbers the step gathers, written every step. */
  readonly ids: { anchors: Tensor; positives: Tensor };
  /** Inverse warps of both views, written every step (null without augmentation). */
  readonly warps: { anchors: Tensor; positives: Tensor } | null;
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
 */
export function bindTrainerDevice(
  gpu: Gpu,
  data: { train: LabelledBytes; test: LabelledBytes },
  cfg: ResolvedTrainerConfig,
  k0: number,
): TrainerDevice {
  const { batch, kMax } = cfg;
  const owned: { destroy(): void }[] = [];
  const train = new DeviceDataset(gpu, data.train);
  const test = data.test === data.train ? train : new DeviceDataset(gpu, data.test);
  owned.push(train);
  if (test !== train) owned.push(test);
  const store = new ParameterStore(gpu, { seed: cfg.seed });
  const encoder = mlp(store, cfg.dims, { activation: cfg.activation, normalize: true });
  store.build();
  const width = data.train.width;
  const xq = Tensor.empty(gpu, [batch, width]);
  const xc = Tensor.empty(gpu, [batch, width]);
  const ids = { anchors: Tensor.zeros(gpu, [batch], "u32"), positives: Tensor.zeros(gpu, [batch], "u32") };
  const warps = cfg.augment
    ? { anchors: Tensor.empty(gpu, [batch, WARP_FLOATS]), positives: Tensor.empty(gpu, [batch, WARP_FLOATS]) }
    : null;
  const gather = {
    query: train.gather(ids.anchors, xq, { warps: warps?.anchors }),
    candidate: train.gather(ids.positives, xc, { warps: warps?.positives }),
  };
  const lr = warmupCosine({ peak: cfg.lr, floor: cfg.lr / 20, warmup: Math.ceil(cfg.steps / 20), total: cfg.steps });
  const step = new TrainingStep(gpu, { store, query: encoder, candidate: encoder, xq, xc, gather }, {
    loss: { ...cfg.loss, kMax, k: k0 },
    optimizer: { ...cfg.optimizer, lr },
    metricsEvery: cfg.metricsEvery,
    counts: true,
  });
  owned.push(step, gather.query, gather.candidate, xq, xc, ids.anchors, ids.positives);
  if (warps) owned.push(warps.anchors, warps.positives);
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
