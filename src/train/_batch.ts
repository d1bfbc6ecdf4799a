/**
 * One batch, drawn on the host and uploaded: what a training step reads
 * besides the dataset (row ids, the negatives' index table, warps and
 * photometric changes), and the run state that draws it.
 *
 * @module
 */

import { PHOTOMETRIC_FLOATS, randomPhotometric, randomWarps } from "../data/augment.ts";
import { Rng } from "../data/random.ts";
import { SampledContrastiveLoss } from "../losses/sampled.ts";
import { SupConLoss } from "../losses/supcon.ts";
import { WARP_FLOATS } from "../ops/gather.ts";
import { BatchNegativeSampler } from "../sampling/batch_negatives.ts";
import { PairSampler } from "../sampling/pairs.ts";
import { RankCountFeedback } from "../schedule/feedback.ts";
import type { KSchedule } from "../schedule/schedules.ts";
import type { ResolvedTrainerConfig } from "./config.ts";
import type { TrainerDevice } from "./_trainer_device.ts";

/** What decides a run's future besides tensors: what checkpoints and snapshots save, by name. */
export type RunState = {
  pairs: PairSampler;
  negatives: BatchNegativeSampler;
  warps: Rng;
  schedule: KSchedule;
  feedback: RankCountFeedback;
};

/**
 * A run's host state at its start, seeded from the config: negatives seed + 1, pairs seed + 2, warps seed + 3.
 *
 * @param cfg The resolved config.
 * @param labels The training labels (noisy, as training sees them).
 * @param schedule The K schedule.
 * @returns The run state.
 */
export function runState(cfg: ResolvedTrainerConfig, labels: ArrayLike<number>, schedule: KSchedule): RunState {
  const { batch, kMax, seed } = cfg;
  return {
    negatives: new BatchNegativeSampler({
      batch,
      kMax,
      excludeSameLabel: cfg.excludeSameLabel,
      seed: seed + 1,
      queue: cfg.queue,
    }),
    pairs: new PairSampler(labels, { batch, seed: seed + 2, sameItem: cfg.mode !== "pairs" }),
    warps: new Rng(seed + 3),
    schedule,
    feedback: new RankCountFeedback(cfg.metricsEvery),
  };
}

/** Host arrays of one batch: the index table, the views' ids, warps and photometric changes. */
export interface HostBatch {
  table: Uint32Array;
  ids: Uint32Array;
  labels: Uint32Array;
  warps: Float32Array;
  looks: Float32Array;
}

/**
 * The host arrays a config's batches need, allocated once.
 *
 * @param cfg The resolved config.
 * @returns The arrays.
 */
export function hostBatch(cfg: ResolvedTrainerConfig): HostBatch {
  const rows = cfg.mode === "pairs" ? cfg.batch : 2 * cfg.batch;
  return {
    table: new Uint32Array(cfg.mode === "pairs" ? cfg.batch * (cfg.kMax + 1) : 0),
    ids: new Uint32Array(rows),
    labels: new Uint32Array(rows),
    warps: new Float32Array(rows * WARP_FLOATS),
    looks: new Float32Array(rows * PHOTOMETRIC_FLOATS),
  };
}

/**
 * Draws the next batch and uploads it: pairs (and negatives, in pairs mode), then the augmentations.
 *
 * @param run The samplers and the augmentation stream.
 * @param host The host arrays.
 * @param device The GPU side.
 * @param cfg The resolved config.
 */
export function drawBatch(run: RunState, host: HostBatch, device: TrainerDevice, cfg: ResolvedTrainerConfig): void {
  const { batch, augment, photometric: looks } = cfg;
  const { step, ids, warps, photometric } = device;
  run.pairs.sample();
  if (step.loss instanceof SampledContrastiveLoss) {
    const queue = device.queue;
    run.negatives.sample(
      run.pairs.labels,
      host.table,
      queue ? { filled: queue.filled, labels: queue.slotLabels } : undefined,
    );
    step.queueLabels = run.pairs.labels; // the positives this step pushes into the queue
    step.loss.setIndices(host.table);
    ids.anchors.write(run.pairs.anchors);
    ids.positives!.write(run.pairs.positives);
  } else {
    // Views: rows i and i + B are two views of one item.
    host.ids.set(run.pairs.anchors, 0);
    host.ids.set(run.pairs.positives, batch);
    ids.anchors.write(host.ids);
    if (step.loss instanceof SupConLoss) {
      host.labels.set(run.pairs.labels, 0);
      host.labels.set(run.pairs.labels, batch);
      step.loss.setLabels(host.labels);
    }
  }
  const rows = ids.positives ? batch : 2 * batch;
  for (const side of ["anchors", "positives"] as const) {
    if (augment && warps?.[side]) warps[side].write(randomWarps(run.warps, rows, augment, host.warps));
    if (looks && photometric?.[side]) photometric[side].write(randomPhotometric(run.warps, rows, looks, host.looks));
  }
}
