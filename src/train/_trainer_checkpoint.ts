/**
 * A trainer's checkpoint: the bytes of src/train/checkpoint_bytes.ts with
 * the run's config, its host state (samplers, schedule, rank counts) and its
 * queue of past candidates, and the way back into a bound trainer.
 *
 * @module
 */

import { checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { QueueState } from "../sampling/queue.ts";
import { checkpointBytes, checkpointConfig, loadCheckpointBytes } from "./checkpoint_bytes.ts";
import type { ResolvedTrainerConfig } from "./config.ts";
import { CheckpointError } from "./safetensors.ts";
import { restoreStates, type StatesOf, statesOf } from "./state.ts";
import type { RunState } from "./_batch.ts";
import type { TrainerDevice } from "./_trainer_device.ts";

/**
 * The checkpoint of a trainer's device side and run state (after every submitted step has reported).
 *
 * @param device The bound device side.
 * @param run The run's host state.
 * @param config The resolved config, saved for resumes to compare.
 * @returns The safetensors bytes.
 */
export async function trainerCheckpointBytes(
  device: TrainerDevice,
  run: RunState,
  config: ResolvedTrainerConfig,
): Promise<Uint8Array> {
  const queue = device.queue;
  return await checkpointBytes(device.store, device.step.optimizer, {
    step: device.step.step,
    rngState: run.pairs.state,
    config: { trainer: config, state: statesOf(run), queue: queue?.state ?? null },
    extra: queue
      ? { queue: { dtype: "F32", shape: [...queue.embeddings.shape], data: await queue.embeddings.read() } }
      : undefined,
  });
}

/**
 * Loads checkpoint bytes saved by a trainer with the same config into `device` and `run`.
 *
 * @param op The method loading, for errors.
 * @param bytes The checkpoint's bytes.
 * @param source The name errors start with.
 * @param target The trainer's device side, run state and config.
 * @throws {TypeError} When `bytes` is not a Uint8Array or `source` not a string.
 * @throws {CheckpointError} When the bytes are not a valid checkpoint of this model, or hold no trainer state.
 * @throws {RangeError} When they were saved with another config (checked before anything is loaded), or their
 * sampler, schedule or feedback state is missing or invalid.
 */
export function resumeTrainer(
  op: string,
  bytes: Uint8Array,
  source: string,
  target: { device: TrainerDevice; run: RunState; config: ResolvedTrainerConfig },
): void {
  if (!(bytes instanceof Uint8Array)) typeError(op, "bytes", "a Uint8Array", bytes);
  checkString(op, "source", source);
  type Saved = { trainer?: unknown; state?: StatesOf<RunState>; queue?: QueueState | null };
  const saved = checkpointConfig(bytes, source) as Saved | null;
  if (!saved?.trainer || !saved.state) throw new CheckpointError(source, "holds no trainer config and state");
  const mine = JSON.stringify(target.config);
  if (JSON.stringify(saved.trainer) !== mine) {
    rangeError(op, "config", `the checkpoint's ${JSON.stringify(saved.trainer)}`, mine);
  }
  const { device } = target;
  const queue = device.queue;
  const noQueue = () => new CheckpointError(source, "holds no queue of past candidates of this run's size");
  if (queue && !saved.queue) throw noQueue(); // before anything is written
  const loaded = loadCheckpointBytes(bytes, device.store, device.step.optimizer, { source });
  if (queue && saved.queue) {
    const embeddings = loaded.extra?.queue?.data;
    if (!(embeddings instanceof Float32Array) || embeddings.length !== queue.embeddings.size) throw noQueue();
    queue.embeddings.write(embeddings);
    queue.setState(saved.queue);
  }
  restoreStates(target.run, saved.state);
}
