/**
 * The IDX format of MNIST and Fashion-MNIST, gzip included: a 4-byte magic
 * (two zero bytes, a type code, the number of dimensions), each dimension
 * as a big-endian u32, then the data in row-major order, big-endian.
 * Reading checks every length and says what is wrong.
 *
 * @module
 */

import {
  checkArrayLike,
  checkFunction,
  checkInt,
  checkNumber,
  checkString,
  rangeError,
  typeError,
} from "../gpu/_check.ts";

/** A parsed IDX file. */
export interface IdxArray {
  /** Dimensions, outermost first (e.g. [60000, 28, 28]). */
  shape: number[];
  /** Elements: u8 data stays u8; other types are converted to the matching typed array. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** A file that is not a valid IDX file. */
export class IdxError extends Error {
  /**
   * An error about `source`; the message starts with it.
   *
   * @param source The file or label.
   * @param message What is wrong.
   */
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = "IdxError";
  }
}

const TYPES: Record<number, { size: number; name: string }> = {
  0x08: { size: 1, name: "u8" },
  0x09: { size: 1, name: "i8" },
  0x0b: { size: 2, name: "i16" },
  0x0c: { size: 4, name: "i32" },
  0x0d: { size: 4, name: "f32" },
  0x0e: { size: 8, name: "f64" },
};

/**
 * Parses IDX bytes (already decompressed), checking every rule of the format in this order: at least the 4-byte
 * magic number; its first two bytes are 0; its third, the type code, is in the format's table (0x08 u8, 0x09 i8,
 * 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64); its fourth, the dimension count, is at least 1; the header (4 bytes
 * plus 4 per dimension) fits; every dimension is at least 1 (an empty array is refused: no IDX data set has one,
 * and a 0 here means a damaged header); and the data after the header is exactly the product of the dimensions
 * times the element size, neither shorter nor longer.
 *
 * @param bytes The file's contents.
 * @param source Its name, for errors.
 * @returns Shape and data.
 * @throws {TypeError} When `bytes` is not a Uint8Array, or `source` is not a string.
 * @throws {IdxError} When a rule of the format is broken; the message names the rule and the offending value.
 *
 * @example Two 2×2 u8 images
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]);
 * const { shape, data } = parseIdx(bytes, "example");
 * assert.deepEqual(shape, [2, 2, 2]);
 * assert.equal(data[7], 8);
 * ```
 */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (!(bytes instanceof Uint8Array)) typeError("parseIdx", "bytes", "a Uint8Array", bytes);
  checkString("parseIdx", "source", source);
  const fail = (message: string): never => {
    throw new IdxError(source, message);
  };
  if (bytes.length < 4) fail(`truncated: ${bytes.length} bytes, not even the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`not an IDX file: the magic number must start with two zero bytes, found ${bytes[0]}, ${bytes[1]}`);
  }
  const type = TYPES[bytes[2]];
  if (!type) {
    const table = Object.entries(TYPES).map(([code, t]) =>
      `0x${Number(code).toString(16).padStart(2, "0")} (${t.name})`
    ).join(", ");
    fail(`unknown IDX type code 0x${bytes[2].toString(16)}: the format's codes are ${table}`);
  }
  const ndim = bytes[3];
  if (ndim === 0) {
    fail("no dimensions: the magic number's dimension count (its fourth byte) must be >= 1: current value is 0");
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    fail(`truncated: the header of ${ndim} dimensions needs ${headerBytes} bytes, the file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const zero = shape.indexOf(0);
  if (zero >= 0) fail(`dimension ${zero} of [${shape.join(", ")}] is 0: every dimension must be >= 1`);
  // BigInt: 255 dimensions of up to 2^32 - 1 overflow a double's exact integers.
  const need = shape.reduce((a, b) => a * BigInt(b), BigInt(type.size)) + BigInt(headerBytes);
  if (BigInt(bytes.length) !== need) {
    const what = `${type.name} [${shape.join(", ")}] needs ${need} bytes, the file has ${bytes.length}`;
    fail(`${BigInt(bytes.length) < need ? "truncated" : "too long"}: ${what}`);
  }
  const count = (bytes.length - headerBytes) / type.size;
  const at = (i: number) => headerBytes + i * type.size;
  let data: IdxArray["data"];
  switch (type.name) {
    case "u8":
      data = bytes.slice(headerBytes);
      break;
    case "i8":
      data = new Int8Array(bytes.slice(headerBytes).buffer);
      break;
    case "i16":
      data = Int16Array.from({ length: count }, (_, i) => view.getInt16(at(i), false));
      break;
    case "i32":
      data = Int32Array.from({ length: count }, (_, i) => view.getInt32(at(i), false));
      break;
    case "f32":
      data = Float32Array.from({ length: count }, (_, i) => view.getFloat32(at(i), false));
      break;
    default:
      data = Float64Array.from({ length: count }, (_, i) => view.getFloat64(at(i), false));
  }
  return { shape, data };
}

/**
 * Reads an IDX file, gunzipping it when it starts with the gzip magic bytes (0x1f 0x8b; an IDX file starts with
 * 0x00 0x00, so the two cannot be confused).
 *
 * @param path The file (`.gz` or raw).
 * @returns Shape and data.
 * @throws {TypeError} When `path` is not a string.
 * @throws {IdxError} When the file cannot be read; when it starts like gzip but does not decompress (truncated,
 * a wrong checksum, bytes after the stream: the message says "is not valid gzip"); or when the IDX inside breaks
 * a rule of the format (see {@linkcode parseIdx}).
 */
export async function readIdx(path: string): Promise<IdxArray> {
  checkString("readIdx", "path", path, true);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new IdxError(path, `cannot be read (${(error as Error).message})`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (error) {
      throw new IdxError(
        path,
        `is not valid gzip: it starts with the gzip magic bytes but does not decompress (${(error as Error).message})`,
      );
    }
  }
  return parseIdx(bytes, path);
}

/**
 * Symmetric label noise: each label is replaced, with probability `rate`, by
 * one of the other `classes` − 1 classes chosen uniformly. Seeded.
 *
 * @param labels Clean labels in [0, classes).
 * @param classes Number of classes, at most 256 (the labels come back as bytes, like every dataset's here).
 * @param rate Noise rate r in [0, 1).
 * @param random A random stream (e.g. `seededRandom(seed)`).
 * @returns The noisy labels and which ones were changed.
 * @throws {TypeError} When `labels` is not array-like, `classes` or `rate` is not a number, or `random` is not a
 * function.
 * @throws {RangeError} When `classes` is not an integer in [2, 256], `rate` is not in [0, 1), or a label is not an
 * integer in [0, classes).
 */
export function injectLabelNoise(
  labels: ArrayLike<number>,
  classes: number,
  rate: number,
  random: () => number,
): { labels: Uint8Array; flipped: Uint8Array } {
  const op = "injectLabelNoise";
  checkArrayLike(op, "labels", labels, "an array of labels");
  // A u8 label holds 256 classes: more would wrap silently.
  checkInt(op, "classes", classes, 2, 256);
  checkNumber(op, "rate", rate, (v) => v >= 0 && v < 1, "in [0, 1)");
  checkFunction(op, "random", random, "a function returning numbers in [0, 1)");
  const out = new Uint8Array(labels.length);
  const flipped = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      rangeError(op, `labels[${i}]`, `an integer in [0, ${classes - 1}]`, y);
    }
    const u = random();
    if (!(typeof u === "number" && u >= 0 && u < 1)) rangeError(op, "random()", "a number in [0, 1)", u);
    if (u < rate) {
      const v = random();
      if (!(typeof v === "number" && v >= 0 && v < 1)) rangeError(op, "random()", "a number in [0, 1)", v);
      out[i] = (y + 1 + Math.floor(v * (classes - 1))) % classes;
      flipped[i] = 1;
    } else {
      out[i] = y;
    }
  }
  return { labels: out, flipped };
}
