/**
 * Training checkpoints in safetensors: parameters, optimizer moments, the
 * step, the RNG state and the run's config. Saved atomically (temp file,
 * flush, rename); loading validates every name, shape and dtype against the
 * model before touching the GPU.
 *
 * @module
 */

import type { ParameterStore } from "../nn/parameters.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { CheckpointError, encodeSafetensors, type HostTensor, readSafetensors } from "./safetensors.ts";
import { writeFileAtomic } from "./_atomic_file.ts";

/** What a checkpoint records besides tensors. */
export interface CheckpointState {
  /** Training steps completed. */
  step: number;
  /** The sampler's RNG state, to resume the same stream. */
  rngState?: number;
  /** The run's configuration (JSON-serialisable). */
  config?: unknown;
  /** Further tensors the run needs to resume exactly (a trainer's queue of past candidates), saved as `extra/<name>`. */
  extra?: Record<string, HostTensor>;
}

const FORMAT = "ncegpu-checkpoint-1";

function tensorNames(
  store: ParameterStore,
  optimizer: Optimizer | null,
): { name: string; source: "params" | "m" | "v"; slot: string }[] {
  const out: { name: string; source: "params" | "m" | "v"; slot: string }[] = [];
  for (const s of store.slots) {
    out.push({ name: `param/${s.name}`, source: "params", slot: s.name });
    if (optimizer) out.push({ name: `optim.m/${s.name}`, source: "m", slot: s.name });
    if (optimizer && optimizer.kind !== "sgd") out.push({ name: `optim.v/${s.name}`, source: "v", slot: s.name });
  }
  return out;
}

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
  const flat = {
    params: (await store.params.read()) as Float32Array,
    m: optimizer ? (await optimizer.m.read()) as Float32Array : null,
    v: optimizer && optimizer.kind !== "sgd" ? (await optimizer.v.read()) as Float32Array : null,
  };
  const tensors: Record<string, HostTensor> = {};
  for (const t of tensorNames(store, optimizer)) {
    const s = store.slot(t.slot);
    tensors[t.name] = { dtype: "F32", shape: [...s.shape], data: flat[t.source]!.slice(s.offset, s.offset + s.size) };
  }
  for (const [name, tensor] of Object.entries(state.extra ?? {})) tensors[`extra/${name}`] = tensor;
  const metadata: Record<string, string> = {
    format: FORMAT,
    step: String(state.step),
    optimizer: optimizer?.kind ?? "none",
    optimizer_step: String(optimizer?.step ?? 0),
    config: JSON.stringify(state.config ?? null),
  };
  if (state.rngState !== undefined) metadata.rng_state = String(state.rngState);
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata), hooks);
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
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== FORMAT) {
    throw new CheckpointError(
      path,
      `not an ncegpu checkpoint (format ${JSON.stringify(metadata.format)}, expected "${FORMAT}")`,
    );
  }
  if (optimizer && metadata.optimizer !== optimizer.kind) {
    throw new CheckpointError(path, `saved with optimizer "${metadata.optimizer}", loading into "${optimizer.kind}"`);
  }
  const expected = tensorNames(store, optimizer);
  const missing = expected.filter((t) => !(t.name in tensors)).map((t) => t.name);
  if (missing.length) throw new CheckpointError(path, `missing tensors: ${missing.join(", ")}`);
  const known = new Set(expected.map((t) => t.name));
  const unknown = Object.keys(tensors).filter((n) =>
    !known.has(n) && !n.startsWith("extra/") && !(optimizer === null && n.startsWith("optim."))
  );
  if (unknown.length) throw new CheckpointError(path, `tensors this model does not have: ${unknown.join(", ")}`);
  const extra: Record<string, HostTensor> = {};
  for (const name of Object.keys(tensors)) if (name.startsWith("extra/")) extra[name.slice(6)] = tensors[name];
  const flat = {
    params: new Float32Array(store.params.size),
    m: optimizer ? new Float32Array(optimizer.m.size) : null,
    v: optimizer && optimizer.kind !== "sgd" ? new Float32Array(optimizer.v.size) : null,
  };
  for (const t of expected) {
    const s = store.slot(t.slot);
    const saved = tensors[t.name];
    if (saved.dtype !== "F32") throw new CheckpointError(path, `tensor "${t.name}" is ${saved.dtype}, expected F32`);
    if (saved.shape.join(",") !== s.shape.join(",")) {
      throw new CheckpointError(
        path,
        `tensor "${t.name}" has shape [${saved.shape.join(", ")}], the model expects [${s.shape.join(", ")}]`,
      );
    }
    flat[t.source]!.set(saved.data as Float32Array, s.offset);
  }
  const step = countIn(metadata, "step", path, "a step count");
  const optimizerStep = optimizer ? countIn(metadata, "optimizer_step", path, "a step count") : 0;
  const rngState = metadata.rng_state === undefined
    ? undefined
    : countIn(metadata, "rng_state", path, "a 32-bit RNG state", 2 ** 32 - 1);
  let config: unknown;
  try {
    config = JSON.parse(metadata.config ?? "null");
  } catch {
    throw new CheckpointError(path, "metadata config is not valid JSON");
  }
  store.params.write(flat.params);
  if (optimizer) {
    optimizer.m.write(flat.m!);
    if (flat.v) optimizer.v.write(flat.v);
    optimizer.setStep(optimizerStep);
  }
  return Object.keys(extra).length ? { step, rngState, config, extra } : { step, rngState, config };
}

/** The metadata value `key` as an integer in [0, max], written in decimal digits only. */
function countIn(
  metadata: Record<string, string>,
  key: string,
  path: string,
  what: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const text = metadata[key];
  const value = Number(text);
  if (text === undefined || !/^[0-9]+$/.test(text) || !(value <= max)) {
    throw new CheckpointError(path, `metadata ${key} ${JSON.stringify(text)} is not ${what}`);
  }
  return value;
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
  const { metadata } = await readSafetensors(path);
  if (metadata.format !== FORMAT) {
    throw new CheckpointError(path, `not an ncegpu checkpoint (format ${JSON.stringify(metadata.format)})`);
  }
  try {
    return JSON.parse(metadata.config ?? "null");
  } catch {
    throw new CheckpointError(path, "metadata config is not valid JSON");
  }
}
