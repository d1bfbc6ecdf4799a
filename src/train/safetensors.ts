/**
 * The safetensors file format, read and written without a library: an
 * 8-byte little-endian header length, a JSON header mapping each tensor
 * name to its dtype, shape and byte range, then the raw little-endian data.
 * Files are written to a temporary name, flushed and renamed, so a crash
 * never leaves a half-written file under the real name.
 *
 * @module
 */

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

/** A file that is not a valid safetensors file, or not the one expected. */
export class CheckpointError extends Error {
  /** The file. */
  readonly path: string;

  /**
   * An error about `path`; the message starts with the path.
   *
   * @param path The file.
   * @param message What is wrong.
   */
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "CheckpointError";
    this.path = path;
  }
}

/** The format's limit on the JSON header, in bytes (the reference implementation's `MAX_HEADER_SIZE`). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Bits per element of every dtype in the format's table (the reference implementation's `Dtype`). A file may
 * use any of them; this library turns only the {@linkcode SafetensorsDtype}s into typed arrays.
 */
const DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ["BOOL", 8],
  ["F4", 4],
  ["F6_E2M3", 6],
  ["F6_E3M2", 6],
  ["U8", 8],
  ["I8", 8],
  ["F8_E5M2", 8],
  ["F8_E4M3", 8],
  ["F8_E8M0", 8],
  ["F8_E4M3FNUZ", 8],
  ["F8_E5M2FNUZ", 8],
  ["I16", 16],
  ["U16", 16],
  ["F16", 16],
  ["BF16", 16],
  ["I32", 32],
  ["U32", 32],
  ["F32", 32],
  ["C64", 64],
  ["F64", 64],
  ["I64", 64],
  ["U64", 64],
]);

/** The dtypes this library reads and writes, each with its typed array. */
const ARRAYS = { F32: Float32Array, U32: Uint32Array, I32: Int32Array, U8: Uint8Array } as const;

function isSupported(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === "string" && Object.hasOwn(ARRAYS, dtype);
}

/** A non-negative integer that a JSON number can hold exactly. */
function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A short JSON rendering of a value from a header, for messages. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
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
  checkObject(op, "tensors", tensors, "an object of tensors by name");
  checkObject(op, "metadata", metadata, "an object of strings by key");
  for (const [name, t] of Object.entries(tensors)) {
    const arg = `tensors[${JSON.stringify(name)}]`;
    checkObject(op, arg, t, "{ dtype, shape, data }");
    if (name === "__metadata__") {
      rangeError(op, "a tensor's name", 'anything but "__metadata__" (the format reserves it)', name);
    }
    if (!name.isWellFormed()) rangeError(op, "a tensor's name", "well-formed Unicode", name);
    if (!isSupported(t.dtype)) rangeError(op, `${arg}.dtype`, "one of F32, U32, I32, U8", t.dtype);
    if (!(t.data instanceof ARRAYS[t.dtype])) {
      typeError(op, `${arg}.data`, `a ${ARRAYS[t.dtype].name} (dtype ${t.dtype})`, t.data?.constructor?.name ?? t.data);
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
      rangeError(op, `${arg}.shape`, "an array of non-negative integers", t.shape);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      rangeError(op, `${arg}.data.length`, `the product of its shape (${count})`, t.data.length);
    }
  }
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

/** One header entry that passed the format's per-tensor rules. */
interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * What `JSON.parse` hides in a header: a key written twice in one object (it keeps the last) and, per top-level
 * entry, the first number written with a sign, fraction or exponent (it reads `2.0` and `-0` as integers, which the
 * format's integers are not). `text` must be valid JSON.
 */
function scanHeader(text: string): { duplicate?: { key: string; inside?: string }; numbers: Map<string, string> } {
  const open: (Set<string> | null)[] = []; // the keys of each open object; null for an open array
  const numbers = new Map<string, string>();
  let entry: string | undefined; // the top-level key whose value is being read
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      let k = j + 1;
      while (k < text.length && " \t\n\r".includes(text[k])) k++;
      if (text[k] === ":") {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const keys = open[open.length - 1]!;
        if (keys.has(key)) return { duplicate: { key, inside: open.length > 1 ? entry : undefined }, numbers };
        keys.add(key);
        if (open.length === 1) entry = key;
      }
      i = j;
    } else if (c === "{") {
      open.push(new Set());
    } else if (c === "[") {
      open.push(null);
    } else if (c === "}" || c === "]") {
      open.pop();
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      let j = i;
      while (j < text.length && "+-.0123456789eE".includes(text[j])) j++;
      const literal = text.slice(i, j);
      if (!/^[0-9]+$/.test(literal) && entry !== undefined && !numbers.has(entry)) numbers.set(entry, literal);
      i = j - 1;
    }
  }
  return { numbers };
}

/** The header and the data buffer of a file, after the rules on the length prefix and the header's encoding. */
function splitFile(
  bytes: Uint8Array,
  path: string,
): { header: Record<string, unknown>; text: string; data: Uint8Array } {
  if (bytes.length < 8) {
    throw new CheckpointError(path, `truncated: ${bytes.length} bytes, not even the 8-byte header length`);
  }
  const claimed = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (claimed > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(
      path,
      `corrupted header length: must be <= ${MAX_HEADER_BYTES} bytes (the format's limit): current value is ${claimed}`,
    );
  }
  const headerLength = Number(claimed);
  if (headerLength > bytes.length - 8) {
    throw new CheckpointError(
      path,
      `truncated or corrupted: the header claims ${headerLength} bytes, the file has ${
        bytes.length - 8
      } after the length`,
    );
  }
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, where JSON.parse rejects it (as the reference does).
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw new CheckpointError(path, "corrupted header: not valid UTF-8 JSON (its bytes are not UTF-8)");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(path, `corrupted header: not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new CheckpointError(path, `corrupted header: must be a JSON object: current value is ${show(header)}`);
  }
  return { header: header as Record<string, unknown>, text, data: bytes.subarray(8 + headerLength) };
}

/** Checks one tensor's entry against the format's rules on its keys, dtype, shape, offsets and size. */
function checkEntry(name: string, entry: unknown, literal: string | undefined, path: string): Entry {
  const fail = (rule: string): never => {
    throw new CheckpointError(path, `tensor ${JSON.stringify(name)} ${rule}`);
  };
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    return fail(`must be an object with dtype, shape and data_offsets: current value is ${show(entry)}`);
  }
  const keys = Object.keys(entry).sort();
  if (keys.join(",") !== "data_offsets,dtype,shape") {
    fail(`must have exactly the keys dtype, shape and data_offsets: current keys are ${keys.join(", ") || "none"}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== "string" || !DTYPE_BITS.has(dtype)) {
    return fail(`has unknown dtype ${show(dtype)}: the format's dtypes are ${[...DTYPE_BITS.keys()].join(", ")}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    return fail(`has an invalid shape: must be an array of non-negative integers: current value is ${show(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return fail(
      `has invalid data_offsets: must be [begin, end] of non-negative integers: current value is ${show(offsets)}`,
    );
  }
  if (literal !== undefined) {
    fail(`has the number ${literal} in its entry: shape and data_offsets must be written as plain integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`has invalid data_offsets: begin must be <= end: current value is [${begin}, ${end}]`);
  const bits = shape.reduce((a: number, b: number) => a * b, DTYPE_BITS.get(dtype)!);
  if (!Number.isSafeInteger(bits)) fail(`has ${dtype} ${JSON.stringify(shape)}: more bytes than a file can hold`);
  if (bits % 8 !== 0) fail(`has ${dtype} ${JSON.stringify(shape)}: ${bits} bits, not a whole number of bytes`);
  if (end - begin !== bits / 8) {
    fail(`spans ${end - begin} bytes, but ${dtype} ${JSON.stringify(shape)} needs ${bits / 8}`);
  }
  return { name, dtype, shape, begin, end };
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
 * Checks that the tensors, in offset order, cover the data buffer exactly: the first begins at byte 0, each next
 * one where the previous ends (no gap, no overlap), and the last ends at the buffer's last byte.
 */
function checkLayout(entries: readonly Entry[], dataLength: number, path: string): void {
  const fail = (message: string): never => {
    throw new CheckpointError(path, message);
  };
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const e of byOffset) {
    if (e.begin > covered && previous === undefined) {
      fail(`gap: the first tensor "${e.name}" begins at byte ${e.begin}; the tensors must cover the data from byte 0`);
    }
    if (e.begin > covered) {
      const where = `tensor "${previous!.name}" (ends at ${covered}) and tensor "${e.name}" (begins at ${e.begin})`;
      fail(`gap: ${e.begin - covered} unused bytes between ${where}; the tensors must cover the data without gaps`);
    }
    if (e.begin < covered) {
      fail(
        `corrupted: tensors "${previous!.name}" and "${e.name}" overlap (bytes ${e.begin} to ${covered} of the data)`,
      );
    }
    if (e.end > dataLength) {
      fail(`truncated: tensor "${e.name}" ends at byte ${e.end} of the data, which has ${dataLength}`);
    }
    covered = e.end;
    previous = e;
  }
  if (covered < dataLength) {
    const cover = `the tensors cover ${covered} bytes of the data, which has ${dataLength}, and must cover it exactly`;
    fail(`too long: ${dataLength - covered} trailing bytes; ${cover}`);
  }
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
