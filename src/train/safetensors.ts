/**
 * The safetensors file format, read and written without a library: an
 * 8-byte little-endian header length, a JSON header mapping each tensor
 * name to its dtype, shape and byte range, then the raw little-endian data.
 * Files are written to a temporary name, flushed and renamed, so a crash
 * never leaves a half-written file under the real name.
 *
 * @module
 */

import {
  checkEntry,
  checkLayout,
  CheckpointError,
  isCount,
  MAX_HEADER_BYTES,
  scanHeader,
  show,
  splitFile,
} from "./_safetensors_rules.ts";

export { CheckpointError };

import { checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";

/** Element types this library writes and reads (safetensors names). */
export type SafetensorsDtype = "F32" | "U32" | "I32" | "U8";

/** One named tensor on the host. */
export interface HostTensor {
  /** safetensors dtype. */
  dtype: SafetensorsDtype;
  /** Dimensions. */
  shape: number[];
  /** Elements, in an array matching dtype. */
  data: Float32Array | Uint32Array | Int32Array | Uint8Array;
}

/** The dtypes this library reads and writes, each with its typed array. */
const ARRAYS = { F32: Float32Array, U32: Uint32Array, I32: Int32Array, U8: Uint8Array } as const;

function isSupported(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === "string" && Object.hasOwn(ARRAYS, dtype);
}

/**
 * Checks named host tensors as {@linkcode encodeSafetensors} writes them (a checkpoint checks its extra tensors with
 * it before it reads anything back from the GPU).
 *
 * @param op The op, for the message.
 * @param arg How errors name the object of tensors.
 * @param tensors The tensors by name.
 * @throws {TypeError} When `tensors` or a tensor is not an object, or a tensor's data is not the typed array of its
 * dtype.
 * @throws {RangeError} When a tensor is named `__metadata__` or is not well-formed Unicode, or has a dtype other than
 * F32, U32, I32 or U8, or a shape that is not an array of non-negative integers whose product is its data's length.
 */
export function checkHostTensors(op: string, arg: string, tensors: Record<string, HostTensor>): void {
  checkObject(op, arg, tensors, "an object of tensors by name");
  for (const [name, t] of Object.entries(tensors)) {
    const at = `${arg}[${JSON.stringify(name)}]`;
    checkObject(op, at, t, "{ dtype, shape, data }");
    if (name === "__metadata__") {
      rangeError(op, "a tensor's name", 'anything but "__metadata__" (the format reserves it)', name);
    }
    if (!name.isWellFormed()) rangeError(op, "a tensor's name", "well-formed Unicode", name);
    if (!isSupported(t.dtype)) rangeError(op, `${at}.dtype`, "one of F32, U32, I32, U8", t.dtype);
    if (!(t.data instanceof ARRAYS[t.dtype])) {
      typeError(op, `${at}.data`, `a ${ARRAYS[t.dtype].name} (dtype ${t.dtype})`, t.data?.constructor?.name ?? t.data);
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
      rangeError(op, `${at}.shape`, "an array of non-negative integers", t.shape);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      rangeError(op, `${at}.data.length`, `the product of its shape (${count})`, t.data.length);
    }
  }
}

/**
 * Serialises tensors and string metadata to safetensors bytes. Tensors are laid out largest element first, then
 * by name, so that each starts at a multiple of its element size (the data starts 8-byte aligned), as the
 * reference implementation lays them out.
 *
 * @param tensors Named tensors.
 * @param metadata String-to-string metadata (`__metadata__`).
 * @returns The file's bytes.
 * @throws {TypeError} When `tensors`, a tensor or `metadata` is not an object, a tensor's data is not the typed array
 * of its dtype, or a metadata value is not a string.
 * @throws {RangeError} When a tensor is named `__metadata__`, has a dtype other than F32, U32, I32 or U8, a shape
 * that is not an array of non-negative integers or whose product is not its data's length, when a name or value
 * is not well-formed Unicode, or when the header would exceed the format's 100,000,000 bytes.
 *
 * @example Round trip in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } }, { step: "3" });
 * const back = decodeSafetensors(bytes, "memory");
 * assert.deepEqual(back.tensors.w.data, new Float32Array([1, 2]));
 * assert.equal(back.metadata.step, "3");
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const op = "encodeSafetensors";
  checkHostTensors(op, "tensors", tensors);
  checkObject(op, "metadata", metadata, "an object of strings by key");
  for (const [key, value] of Object.entries(metadata)) {
    const arg = `metadata[${JSON.stringify(key)}]`;
    if (typeof value !== "string") typeError(op, arg, "a string", value);
    if (!key.isWellFormed() || !value.isWellFormed()) {
      rangeError(op, `${arg} and its key`, "well-formed Unicode", value);
    }
  }
  const bytesOf = (name: string) => ARRAYS[tensors[name].dtype].BYTES_PER_ELEMENT;
  const names = Object.keys(tensors).sort((a, b) => bytesOf(b) - bytesOf(a) || (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference implementation does).
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES) rangeError(op, "the header's length", `<= ${MAX_HEADER_BYTES} bytes`, padded);
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, checking every rule of the format, in this order: the file has at least the 8-byte
 * header length; the header length is at most 100,000,000 and fits in the file; the header is UTF-8 JSON and a
 * JSON object; no object in it repeats a key (so tensor names are unique); `__metadata__`, when present, maps
 * strings to strings; every other entry is an object with exactly `dtype`, `shape` and `data_offsets`, the dtype
 * is in the format's table, the shape is an array of non-negative integers, the offsets are [begin, end] of
 * non-negative integers with begin <= end, all written as plain integers, and end − begin is the shape's element
 * count times the dtype's size; the tensors, in offset order, start at byte 0 of the data and cover it without
 * gaps or overlaps up to its last byte. Then the dtypes must be ones this library reads.
 *
 * @param bytes The file's bytes.
 * @param path The file's name, for errors.
 * @returns The tensors (copies) and the metadata (empty when the file has none).
 * @throws {TypeError} When `bytes` is not a Uint8Array, or `path` is not a string.
 * @throws {CheckpointError} When a rule of the format is broken (the message names the rule and the offending
 * tensor, key or value), or when a tensor's dtype is valid but not F32, U32, I32 or U8 ("unsupported dtype").
 *
 * @example A file with 4 bytes after its only tensor is rejected
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const good = encodeSafetensors({ w: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
 * const bad = new Uint8Array(good.length + 4);
 * bad.set(good);
 * assert.throws(() => decodeSafetensors(bad, "bad.safetensors"), CheckpointError);
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  path: string,
): { tensors: Record<string, HostTensor>; metadata: Record<string, string> } {
  if (!(bytes instanceof Uint8Array)) typeError("decodeSafetensors", "bytes", "a Uint8Array", bytes);
  checkString("decodeSafetensors", "path", path);
  const fail = (message: string): never => {
    throw new CheckpointError(path, message);
  };
  const { header, text, data } = splitFile(bytes, path);
  const { duplicate, numbers } = scanHeader(text);
  if (duplicate) {
    const where = duplicate.inside === undefined
      ? "tensor names must be unique"
      : `inside ${JSON.stringify(duplicate.inside)}; keys must be unique`;
    fail(`corrupted header: duplicate key ${JSON.stringify(duplicate.key)} (${where})`);
  }
  const metadata: [string, string][] = [];
  if (Object.hasOwn(header, "__metadata__")) {
    const meta = header.__metadata__;
    if (typeof meta !== "object" || meta === null || Array.isArray(meta)) {
      fail(`__metadata__ must be an object mapping strings to strings: current value is ${show(meta)}`);
    }
    for (const [key, value] of Object.entries(meta as object)) {
      if (typeof value !== "string") {
        const rule = "__metadata__ must map strings to strings";
        fail(`metadata ${JSON.stringify(key)} is not a string (${rule}): current value is ${show(value)}`);
      }
      metadata.push([key, value]);
    }
  }
  const entries = Object.entries(header)
    .filter(([name]) => name !== "__metadata__")
    .map(([name, entry]) => checkEntry(name, entry, numbers.get(name), path));
  checkLayout(entries, data.length, path);
  const tensors = entries.map(({ name, dtype, shape, begin, end }): [string, HostTensor] => {
    if (!isSupported(dtype)) {
      const readable = Object.keys(ARRAYS).join(", ");
      return fail(`tensor ${JSON.stringify(name)} has unsupported dtype "${dtype}": ncegpu reads only ${readable}`);
    }
    return [name, { dtype, shape, data: new ARRAYS[dtype](data.slice(begin, end).buffer) }];
  });
  // fromEntries defines own properties, so even a tensor named "__proto__" comes back as a tensor.
  return { tensors: Object.fromEntries(tensors), metadata: Object.fromEntries(metadata) };
}

/**
 * Reads and parses a safetensors file.
 *
 * @param path The file.
 * @returns Tensors and metadata.
 * @throws {TypeError} When `path` is not a string.
 * @throws {RangeError} When `path` is empty.
 * @throws {CheckpointError} When the file cannot be read, or breaks a rule of the format (see
 * {@linkcode decodeSafetensors}).
 */
export async function readSafetensors(
  path: string,
): Promise<{ tensors: Record<string, HostTensor>; metadata: Record<string, string> }> {
  checkString("readSafetensors", "path", path, true);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new CheckpointError(path, `cannot be read (${(error as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}
