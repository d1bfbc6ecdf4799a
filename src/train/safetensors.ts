/**
 * The safetensors file format, read and written without a library: an
 * 8-byte little-endian header length, a JSON header mapping each tensor
 * name to its dtype, shape and byte range, then the raw little-endian data.
 * Files are written to a temporary name, flushed and renamed, so a crash
 * never leaves a half-written file under the real name.
 *
 * @module
 */

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

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, U32: 4, I32: 4, U8: 1 };

/**
 * Serialises tensors and string metadata to safetensors bytes.
 *
 * @param tensors Named tensors (written in name order).
 * @param metadata String-to-string metadata (`__metadata__`).
 * @returns The file's bytes.
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
  const names = Object.keys(tensors).sort();
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
 * Parses safetensors bytes, checking every length and offset.
 *
 * @param bytes The file's bytes.
 * @param path The file's name, for errors.
 * @returns The tensors (copies) and the metadata.
 * @throws {CheckpointError} On a truncated or corrupted file.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  path: string,
): { tensors: Record<string, HostTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) {
    throw new CheckpointError(path, `truncated: ${bytes.length} bytes, not even the 8-byte header length`);
  }
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) {
    throw new CheckpointError(
      path,
      `truncated or corrupted: the header claims ${headerLength} bytes, the file has ${
        bytes.length - 8
      } after the length`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new CheckpointError(path, `corrupted header: not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new CheckpointError(path, "corrupted header: not a JSON object");
  }
  const data = bytes.subarray(8 + headerLength);
  const tensors: Record<string, HostTensor> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e.dtype as SafetensorsDtype;
    if (!(dtype in BYTES)) {
      throw new CheckpointError(path, `tensor "${name}" has unsupported dtype ${JSON.stringify(e.dtype)}`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError(path, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new CheckpointError(path, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = shape.reduce((a: number, b: number) => a * b, 1) * BYTES[dtype];
    if (end - begin !== expected) {
      throw new CheckpointError(
        path,
        `tensor "${name}" spans ${end - begin} bytes, but ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
      );
    }
    if (end > data.length) {
      throw new CheckpointError(
        path,
        `truncated: tensor "${name}" ends at byte ${end} of the data, which has ${data.length}`,
      );
    }
    ranges.push([begin, end, name]);
    const copy = data.slice(begin, end);
    const buffer = copy.buffer;
    tensors[name] = {
      dtype,
      shape: shape as number[],
      data: dtype === "F32"
        ? new Float32Array(buffer)
        : dtype === "U32"
        ? new Uint32Array(buffer)
        : dtype === "I32"
        ? new Int32Array(buffer)
        : new Uint8Array(buffer),
    };
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) {
      throw new CheckpointError(path, `corrupted: tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
    }
  }
  const meta = (header.__metadata__ ?? {}) as Record<string, unknown>;
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string") throw new CheckpointError(path, `metadata "${k}" is not a string`);
    metadata[k] = v;
  }
  return { tensors, metadata };
}

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same folder,
 * flushed to disk, then renamed over `path`. Until the rename, `path` keeps
 * its previous contents.
 *
 * @param path Destination.
 * @param bytes Contents.
 * @param hooks For tests: `beforeRename` runs between the flush and the rename (throw to simulate a crash).
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  hooks: { beforeRename?: () => void } = {},
): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(temp, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.syncData();
  } catch (error) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  file.close();
  hooks.beforeRename?.();
  await Deno.rename(temp, path);
}

/**
 * Reads and parses a safetensors file.
 *
 * @param path The file.
 * @returns Tensors and metadata.
 * @throws {CheckpointError} When the file is missing, truncated or corrupted.
 */
export async function readSafetensors(
  path: string,
): Promise<{ tensors: Record<string, HostTensor>; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new CheckpointError(path, `cannot be read (${(error as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}
