/**
 * Training checkpoints in safetensors files (Deno only): the bytes of
 * src/train/checkpoint_bytes.ts, saved atomically (temp file, flush,
 * rename) and read back; loading validates every name, shape and dtype
 * against the model before touching the GPU. A page uses the bytes directly.
 *
 * @module
 */

import { checkFunction, checkObject, checkString } from "../gpu/_check.ts";
import type { ParameterStore } from "../nn/parameters.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import {
  checkModel,
  checkpointBytes,
  type CheckpointState,
  checkState,
  loadCheckpointBytes,
} from "./checkpoint_bytes.ts";
import { checkSavePath, readCheckpointFile, writeFileAtomic } from "./_atomic_file.ts";

/**
 * Saves parameters, optimizer moments and state to `path` atomically.
 *
 * @param path Destination (conventionally `.safetensors`).
 * @param store The parameters.
 * @param optimizer The optimizer whose moments to save, or null.
 * @param state Step, RNG state, config.
 * @param hooks For tests: `beforeRename` simulates a crash between write and rename.
 * @throws {TypeError} Before any GPU work: when `path` is not a string, `store` not a live ParameterStore,
 * `optimizer` neither null nor a live Optimizer of `store`, `state` not an object, `state.step` or `state.rngState`
 * not a number, `state.config` not JSON-serialisable, `state.extra` not an object of host tensors, `hooks` not an
 * object, or `hooks.beforeRename` not a function.
 * @throws {RangeError} Before any GPU work: when `path` is empty, `store` is not built, `state.step` is not an
 * integer >= 0, `state.rngState` not one in [0, 2³² − 1], or an extra tensor is invalid.
 * @throws {Deno.errors.NotFound} Before any GPU work: when the folder does not exist.
 * @throws {GpuError} When submitted work caused a GPU error (the tensors are read back first).
 * @throws {DeviceLostError} When the device is lost.
 * @throws {Deno.errors.PermissionDenied} When the folder cannot be written (and any other file-system error of the
 * write, unchanged).
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
  const op = "saveCheckpoint";
  checkString(op, "path", path, true);
  checkModel(op, store, optimizer);
  checkState(op, state);
  checkObject(op, "hooks", hooks);
  if (hooks.beforeRename != null) checkFunction(op, "hooks.beforeRename", hooks.beforeRename);
  await checkSavePath(op, path); // a missing folder, before the tensors are read back
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
 * @throws {TypeError} Before reading the file: when `path` is not a string, `store` not a live ParameterStore, or
 * `optimizer` neither null nor a live Optimizer of `store`.
 * @throws {RangeError} Before reading the file: when `path` is empty or `store` is not built.
 */
export async function loadCheckpoint(
  path: string,
  store: ParameterStore,
  optimizer: Optimizer | null,
): Promise<CheckpointState> {
  checkString("loadCheckpoint", "path", path, true);
  checkModel("loadCheckpoint", store, optimizer);
  return loadCheckpointBytes(await readCheckpointFile("loadCheckpoint", path), store, optimizer, { source: path });
}
