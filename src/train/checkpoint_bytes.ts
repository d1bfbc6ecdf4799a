/**
 * Training checkpoints as safetensors bytes: parameters, optimizer moments,
 * the step, the RNG state and the run's config. Core (no files): a page
 * downloads the bytes as a Blob and loads them back from an upload; Deno
 * writes the same bytes to disk with `saveCheckpoint` (src/train/checkpoint.ts).
 * Loading validates every name, shape and dtype against the model before
 * touching the GPU.
 *
 * @module
 */

import { checkInt, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import { ParameterStore } from "../nn/parameters.ts";
import { Optimizer } from "../optim/optimizer.ts";
import {
  checkHostTensors,
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
} from "./safetensors.ts";

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

/**
 * Checks the model a checkpoint is saved from or loaded into, before any GPU work.
 *
 * @param op The op, for the message.
 * @param store The parameters.
 * @param optimizer The optimizer, or null.
 * @throws {TypeError} When `store` is not a live ParameterStore, or `optimizer` is neither null nor a live Optimizer
 * of `store`.
 * @throws {RangeError} When `store` is not built.
 */
export function checkModel(op: string, store: ParameterStore, optimizer: Optimizer | null): void {
  if (!(store instanceof ParameterStore)) typeError(op, "store", "a ParameterStore", store);
  if (store.destroyed) typeError(op, "store", "live (not destroyed)", "destroyed");
  if (!store.built) rangeError(op, "store", "built (call store.build() first)", "not built");
  if (optimizer === null) return;
  if (!(optimizer instanceof Optimizer)) typeError(op, "optimizer", "an Optimizer, or null", optimizer);
  if (optimizer.destroyed) typeError(op, "optimizer", "live (not destroyed)", "destroyed");
  if (optimizer.store !== store) typeError(op, "optimizer", "the Optimizer of store", "an optimizer of another store");
}

/**
 * Checks what a checkpoint records besides tensors, before any GPU readback.
 *
 * @param op The op, for the message.
 * @param state The state.
 * @returns `state.config` as JSON.
 * @throws {TypeError} When `state` is not an object, `state.step` or `state.rngState` is not a number,
 * `state.config` is not JSON-serialisable, or `state.extra` is not an object of host tensors.
 * @throws {RangeError} When `state.step` is not an integer >= 0, `state.rngState` not one in [0, 2³² − 1], or an extra
 * tensor is invalid (see `encodeSafetensors`).
 */
export function checkState(op: string, state: CheckpointState): string {
  checkObject(op, "state", state);
  checkInt(op, "state.step", state.step, 0);
  if (state.rngState !== undefined) checkInt(op, "state.rngState", state.rngState, 0, 2 ** 32 - 1);
  let json: string | undefined;
  try {
    json = JSON.stringify(state.config ?? null);
  } catch {
    // A cycle or a BigInt: json stays undefined.
  }
  if (typeof json !== "string") typeError(op, "state.config", "JSON-serialisable (plain data)", state.config);
  if (state.extra !== undefined) checkHostTensors(op, "state.extra", state.extra);
  return json;
}

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
 * The checkpoint of parameters, optimizer moments and state, as safetensors
 * bytes (what `saveCheckpoint` writes to a file).
 *
 * @param store The parameters.
 * @param optimizer The optimizer whose moments to save, or null.
 * @param state Step, RNG state, config.
 * @returns The bytes.
 * @throws {TypeError} Before any GPU work: when `store` is not a live ParameterStore, `optimizer` neither null nor a
 * live Optimizer of `store`, `state` not an object, `state.step` or `state.rngState` not a number, `state.config`
 * not JSON-serialisable, or `state.extra` not an object of host tensors.
 * @throws {RangeError} Before any GPU work: when `store` is not built, `state.step` is not an integer >= 0,
 * `state.rngState` not one in [0, 2³² − 1], or an extra tensor is invalid.
 * @throws {GpuError} When submitted work caused a GPU error (the tensors are read back first).
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Bytes out, bytes in
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointBytes, loadCheckpointBytes, ParameterStore, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu, { seed: 1 });
 * store.add("w", [4, 3], "xavier");
 * store.build();
 * const bytes = await checkpointBytes(store, null, { step: 12, config: { lr: 0.1 } });
 * const blob = new Blob([bytes as BlobPart]); // in a page: a download link's href = URL.createObjectURL(blob)
 * const state = loadCheckpointBytes(new Uint8Array(await blob.arrayBuffer()), store, null);
 * assert.equal(state.step, 12);
 * gpu.destroy();
 * ```
 */
export async function checkpointBytes(
  store: ParameterStore,
  optimizer: Optimizer | null,
  state: CheckpointState,
): Promise<Uint8Array> {
  const op = "checkpointBytes";
  checkModel(op, store, optimizer);
  const config = checkState(op, state);
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
    config,
  };
  if (state.rngState !== undefined) metadata.rng_state = String(state.rngState);
  return encodeSafetensors(tensors, metadata);
}

/**
 * Loads checkpoint bytes into `store` (and `optimizer`'s moments and step),
 * after checking that they hold exactly the tensors this model expects.
 *
 * @param bytes The checkpoint's bytes (from {@linkcode checkpointBytes}, a file, or an upload).
 * @param store The parameters to overwrite (built, same layers as when saved).
 * @param optimizer The optimizer to restore, or null.
 * @param options `source`: the name errors start with (default `"checkpoint"`; a file's path for files).
 * @returns The saved state.
 * @throws {CheckpointError} Before any GPU write: when the bytes break a rule of the safetensors format (see
 * `decodeSafetensors`); when their metadata is not an ncegpu checkpoint's (format, optimizer kind, `step` and
 * `optimizer_step` not decimal step counts, `rng_state` not a 32-bit integer, `config` not JSON); or when their
 * tensors do not fit the model (a missing or extra tensor, a dtype other than F32, another shape).
 * @throws {TypeError} When `bytes` is not a Uint8Array, `store` not a live ParameterStore, `optimizer` neither null
 * nor a live Optimizer of `store`, `options` not an object, or `options.source` not a string.
 * @throws {RangeError} When `store` is not built.
 *
 * @example A checkpoint of another model is refused before anything is written
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, checkpointBytes, loadCheckpointBytes, ParameterStore, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const small = new ParameterStore(gpu, { seed: 1 });
 * small.add("w", [4, 3], "xavier");
 * small.build();
 * const large = new ParameterStore(gpu, { seed: 1 });
 * large.add("w", [5, 3], "xavier");
 * large.build();
 * const bytes = await checkpointBytes(small, null, { step: 1 });
 * assert.throws(() => loadCheckpointBytes(bytes, large, null, { source: "upload" }), CheckpointError);
 * gpu.destroy();
 * ```
 */
export function loadCheckpointBytes(
  bytes: Uint8Array,
  store: ParameterStore,
  optimizer: Optimizer | null,
  options: { source?: string } = {},
): CheckpointState {
  const op = "loadCheckpointBytes";
  if (!(bytes instanceof Uint8Array)) typeError(op, "bytes", "a Uint8Array", bytes);
  checkModel(op, store, optimizer);
  checkObject(op, "options", options);
  const source = options.source ?? "checkpoint";
  checkString(op, "options.source", source);
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== FORMAT) {
    throw new CheckpointError(
      source,
      `not an ncegpu checkpoint (format ${JSON.stringify(metadata.format)}, expected "${FORMAT}")`,
    );
  }
  if (optimizer && metadata.optimizer !== optimizer.kind) {
    throw new CheckpointError(source, `saved with optimizer "${metadata.optimizer}", loading into "${optimizer.kind}"`);
  }
  const expected = tensorNames(store, optimizer);
  const missing = expected.filter((t) => !(t.name in tensors)).map((t) => t.name);
  if (missing.length) throw new CheckpointError(source, `missing tensors: ${missing.join(", ")}`);
  const known = new Set(expected.map((t) => t.name));
  const unknown = Object.keys(tensors).filter((n) =>
    !known.has(n) && !n.startsWith("extra/") && !(optimizer === null && n.startsWith("optim."))
  );
  if (unknown.length) throw new CheckpointError(source, `tensors this model does not have: ${unknown.join(", ")}`);
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
    if (saved.dtype !== "F32") throw new CheckpointError(source, `tensor "${t.name}" is ${saved.dtype}, expected F32`);
    if (saved.shape.join(",") !== s.shape.join(",")) {
      throw new CheckpointError(
        source,
        `tensor "${t.name}" has shape [${saved.shape.join(", ")}], the model expects [${s.shape.join(", ")}]`,
      );
    }
    flat[t.source]!.set(saved.data as Float32Array, s.offset);
  }
  const step = countIn(metadata, "step", source, "a step count");
  const optimizerStep = optimizer ? countIn(metadata, "optimizer_step", source, "a step count") : 0;
  const rngState = metadata.rng_state === undefined
    ? undefined
    : countIn(metadata, "rng_state", source, "a 32-bit RNG state", 2 ** 32 - 1);
  let config: unknown;
  try {
    config = JSON.parse(metadata.config ?? "null");
  } catch {
    throw new CheckpointError(source, "metadata config is not valid JSON");
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
  source: string,
  what: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const text = metadata[key];
  const value = Number(text);
  if (text === undefined || !/^[0-9]+$/.test(text) || !(value <= max)) {
    throw new CheckpointError(source, `metadata ${key} ${JSON.stringify(text)} is not ${what}`);
  }
  return value;
}

/**
 * The config checkpoint bytes were saved with, without loading their
 * tensors (a trainer compares it with its own before it loads anything).
 *
 * @param bytes The checkpoint's bytes.
 * @param source The name errors start with (a file's path for files).
 * @returns The saved config (null when none was saved).
 * @throws {CheckpointError} When the bytes are not a valid checkpoint, or its config is not JSON.
 */
export function checkpointConfig(bytes: Uint8Array, source: string = "checkpoint"): unknown {
  const { metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== FORMAT) {
    throw new CheckpointError(source, `not an ncegpu checkpoint (format ${JSON.stringify(metadata.format)})`);
  }
  try {
    return JSON.parse(metadata.config ?? "null");
  } catch {
    throw new CheckpointError(source, "metadata config is not valid JSON");
  }
}
