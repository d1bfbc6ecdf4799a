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
import type { LabelledBytes } from "../data/dataset.ts";
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
 * @param data The training and test sets, whose fingerprint resumes compare too.
 * @returns The safetensors bytes.
 */
export async function trainerCheckpointBytes(
  device: TrainerDevice,
  run: RunState,
  config: ResolvedTrainerConfig,
  data: TrainerData,
): Promise<Uint8Array> {
  const queue = device.queue;
  return await checkpointBytes(device.store, device.step.optimizer, {
    step: device.step.step,
    rngState: run.pairs.state,
    config: { trainer: config, state: statesOf(run), queue: queue?.state ?? null, data: dataFingerprint(data) },
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
  target: { device: TrainerDevice; run: RunState; config: ResolvedTrainerConfig; data: TrainerData },
): void {
  if (!(bytes instanceof Uint8Array)) typeError(op, "bytes", "a Uint8Array", bytes);
  checkString(op, "source", source);
  type Saved = { trainer?: unknown; state?: StatesOf<RunState>; queue?: QueueState | null; data?: unknown };
  const saved = checkpointConfig(bytes, source) as Saved | null;
  if (!saved?.trainer || !saved.state) throw new CheckpointError(source, "holds no trainer config and state");
  sameSettings(op, "config", saved.trainer as Record<string, unknown>, target.config);
  // Checkpoints from before the fingerprint have none: they resume as they did.
  if (saved.data !== undefined) {
    sameSettings(op, "data", saved.data as Record<string, unknown>, dataFingerprint(target.data));
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

/** The training and test sets a trainer runs on. */
type TrainerData = { train: LabelledBytes; test: LabelledBytes };

/**
 * What identifies a dataset without storing it: its shape, and FNV-1a hashes of its labels and of every 61st
 * image byte (enough to tell Fashion-MNIST from the synthetic set, or another noise seed, in milliseconds).
 */
function dataFingerprint(data: TrainerData): Record<string, string> {
  const fnv = (bytes: Uint8Array, stride: number) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < bytes.length; i += stride) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
    return h.toString(16).padStart(8, "0");
  };
  const one = (d: LabelledBytes) =>
    `${d.rows}×${d.width}, ${d.classes} classes, labels ${fnv(d.labels, 1)}, images ${fnv(d.images, 61)}`;
  return { train: one(data.train), test: one(data.test) };
}

/** Refuses a checkpoint whose settings differ from the run's, naming each setting that differs. */
function sameSettings(op: string, arg: string, saved: Record<string, unknown>, mine: object): void {
  const current = mine as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(current)])];
  const differ = keys.filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(current[k]));
  if (!differ.length) return;
  const [first, ...others] = differ;
  const also = others.length ? ` (${others.map((k) => `${arg}.${k}`).join(", ")} differ too)` : "";
  rangeError(op, `${arg}.${first}`, `the checkpoint's ${JSON.stringify(saved[first])}${also}`, current[first]);
}
