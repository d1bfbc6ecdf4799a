/**
 * Recovery from a lost device: what a trainer snapshots on the host (the
 * parameters and optimizer moments; the host state is snapshotted by the
 * trainer through the state protocol) and the options that govern it.
 *
 * @module
 */

import { checkInt, checkObject, typeError } from "../gpu/_check.ts";
import { type Gpu, requestGpu } from "../gpu/device.ts";
import type { QueueState } from "../sampling/queue.ts";
import { type StatesOf, statesOf } from "./state.ts";
import type { RunState } from "./_batch.ts";
import type { TrainerDevice } from "./_trainer_device.ts";

/** How a trainer survives a lost device (a driver reset, a browser tab losing its GPU). */
export interface RecoveryOptions {
  /** A new device (default: `requestGpu()`). */
  requestGpu?: () => Promise<Gpu>;
  /** Take an in-memory snapshot every this many steps (default 100); recovery replays at most this many. */
  snapshotEvery?: number;
  /** Devices to try in a row before giving up and throwing the DeviceLostError (default 3). */
  attempts?: number;
}

/** Options of a {@linkcode Trainer} that are not part of the run's config (they change nothing it computes). */
export interface TrainerOptions {
  /** Recover from a lost device (default: on, with the defaults of {@linkcode RecoveryOptions}), or false. */
  recovery?: RecoveryOptions | false;
}

/** A host copy of what training changes on the GPU. */
export interface DeviceSnapshot {
  /** Steps done when it was taken (the optimizer's count). */
  step: number;
  /** The flat parameters. */
  params: Float32Array;
  /** The optimizer's moments. */
  m: Float32Array;
  v: Float32Array;
  /** The queue of past candidates, when the run has one: its embeddings and its host state. */
  queue: { embeddings: Float32Array; state: QueueState } | null;
}

/** A trainer's snapshot: its device side, its run state and how many records there were. */
export interface TrainerSnapshot {
  /** Parameters, moments and queue. */
  device: DeviceSnapshot;
  /** Samplers, schedule and rank counts in flight. */
  states: StatesOf<RunState>;
  /** Records kept (those after are replayed). */
  records: number;
}

/**
 * The recovery options with defaults filled in, or null when recovery is off.
 *
 * @param options The trainer's options.
 * @returns The options.
 * @throws {RangeError} When `snapshotEvery` or `attempts` is not an integer ≥ 1.
 * @throws {TypeError} When `options` or `options.recovery` is not an object (`recovery` may be false), or
 * `requestGpu` is not a function.
 */
export function recoveryOptions(options: TrainerOptions): Required<RecoveryOptions> | null {
  const op = "Trainer";
  checkObject(op, "options", options);
  if (options.recovery === false) return null;
  const r = options.recovery ?? {};
  checkObject(op, "options.recovery", r, "an object of recovery options, or false");
  const snapshotEvery = r.snapshotEvery ?? 100;
  checkInt(op, "options.recovery.snapshotEvery", snapshotEvery, 1);
  const attempts = r.attempts ?? 3;
  checkInt(op, "options.recovery.attempts", attempts, 1);
  if (r.requestGpu !== undefined && typeof r.requestGpu !== "function") {
    typeError(op, "options.recovery.requestGpu", "a function returning a Promise<Gpu>", r.requestGpu);
  }
  return { snapshotEvery, attempts, requestGpu: r.requestGpu ?? (() => requestGpu()) };
}

/**
 * Copies the parameters and moments to the host (after every submitted step has reported).
 *
 * @param device The bound device side.
 * @returns The snapshot.
 */
export async function snapshotDevice(device: TrainerDevice): Promise<DeviceSnapshot> {
  const { store, step } = device;
  return {
    step: step.step,
    params: (await store.params.read()) as Float32Array,
    m: (await step.optimizer.m.read()) as Float32Array,
    v: (await step.optimizer.v.read()) as Float32Array,
    queue: device.queue
      ? {
        embeddings: (await device.queue.embeddings.read()) as Float32Array,
        state: structuredClone(device.queue.state),
      }
      : null,
  };
}

/**
 * A trainer's snapshot: its device side, a copy of its run state, and how many records it had.
 *
 * @param device The bound device side (every submitted step has reported).
 * @param run The run's host state.
 * @param records Records kept so far.
 * @returns The snapshot.
 */
export async function trainerSnapshot(device: TrainerDevice, run: RunState, records: number): Promise<TrainerSnapshot> {
  return { device: await snapshotDevice(device), states: structuredClone(statesOf(run)), records };
}

/**
 * Writes a snapshot into a freshly bound device side.
 *
 * @param device The bound device side.
 * @param snapshot A snapshot of the same model.
 */
export function restoreDevice(device: TrainerDevice, snapshot: DeviceSnapshot): void {
  device.store.params.write(snapshot.params);
  device.step.optimizer.m.write(snapshot.m);
  device.step.optimizer.v.write(snapshot.v);
  device.step.optimizer.setStep(snapshot.step);
  if (device.queue && snapshot.queue) {
    device.queue.embeddings.write(snapshot.queue.embeddings);
    device.queue.setState(snapshot.queue.state);
  }
}
