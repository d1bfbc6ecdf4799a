/**
 * Training checkpoints in safetensors files (Deno only): the bytes of
 * src/train/checkpoint_bytes.ts, saved atomically (temp file, flush,
 * rename) and read back; loading validates every name, shape and dtype
 * against the model before touching the GPU. A page uses the bytes directly.
 *
 * @module
 */

import type { ParameterStore } from "../nn/parameters.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { checkpointBytes, checkpointConfig, type CheckpointState, loadCheckpointBytes } from "./checkpoint_bytes.ts";
import { readCheckpointFile, writeFileAtomic } from "./_atomic_file.ts";

export type { CheckpointState } from "./checkpoint_bytes.ts";

/**
 * Saves parameters, optimizer moments and state to `path` atomically.
 *
 * @param path Destination (conventionally `.safetensors`).
 * @param store The parameters.
 * @param optimizer The optimizer whose moments to save, or null.
 * @param state Step, RNG state, config.
 * @param hooks For tests: `beforeRename` simulates a crash between write and rename.
 * @throws {RangeError} When `store` is not built.
 * @throws {TypeError} When `store` or `optimizer` is destroyed, or `state.config` cannot be JSON-serialised.
 * @throws {GpuError} When submitted work caused a GPU error (the tensors are read back first).
 * @throws {DeviceLostError} When the device is lost.
 * @throws {Deno.errors.NotFound} When the folder does not exist (and any other file-system error, unchanged).
 *
 * @example Save and load
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadCheckpoint, ParameterStore, requestGpu, saveCheckpoint } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu, { seed: 1 });
 * store.add("w", [4, 3], "xavier");
 * store.build();
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveCheckpoint(path, store, null, { step: 12, config: { lr: 0.1 } });
 * const state = await loadCheckpoint(path, store, null);
 * assert.equal(state.step, 12);
 * gpu.destroy();
 * ```
 */
export async function saveCheckpoint(
  path: string,
  store: ParameterStore,
  optimizer: Optimizer | null,
  state: CheckpointState,
  hooks: { beforeRename?: () => void } = {},
): Promise<void> {
  await writeFileAtomic(path, await checkpointBytes(store, optimizer, state), hooks);
}

/**
 * Loads a checkpoint into `store` (and `optimizer`'s moments and step),
 * after checking that it holds exactly the tensors this model expects.
 *
 * @param path The checkpoint.
 * @param store The parameters to overwrite (built, same layers as when saved).
 * @param optimizer The optimizer to restore, or null.
 * @returns The saved state.
 * @throws {CheckpointError} Before any GPU write: when the file is missing or breaks a rule of the safetensors
 * format (see `decodeSafetensors`); when its metadata is not an ncegpu checkpoint's (format, optimizer
 * kind, `step` and `optimizer_step` not decimal step counts, `rng_state` not a 32-bit integer, `config` not JSON);
 * or when its tensors do not fit the model (a missing or extra tensor, a dtype other than F32, another shape).
 * @throws {RangeError} When `store` is not built.
 * @throws {TypeError} When `store` or `optimizer` is destroyed.
 */
export async function loadCheckpoint(
  path: string,
  store: ParameterStore,
  optimizer: Optimizer | null,
): Promise<CheckpointState> {
  return loadCheckpointBytes(await readCheckpointFile("loadCheckpoint", path), store, optimizer, { source: path });
}

/**
 * The config a checkpoint was saved with, without loading its tensors (a
 * trainer compares it with its own before it loads anything).
 *
 * @param path The checkpoint.
 * @returns The saved config (null when none was saved).
 * @throws {CheckpointError} When the file is not a valid checkpoint, or its config is not JSON.
 */
export async function readCheckpointConfig(path: string): Promise<unknown> {
  return checkpointConfig(await readCheckpointFile("readCheckpointConfig", path), path);
}
