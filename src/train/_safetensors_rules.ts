/**
 * The rules of the safetensors format, checked on read, each failing with a
 * {@linkcode CheckpointError} that names it: header length and JSON, the
 * dtype table, shapes, offsets that cover the data exactly. The reference
 * is the Hugging Face implementation's `validate` (docs/science.md §5).
 *
 * @module
 */

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
/** One header entry that passed the format's per-tensor rules. */
export interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Bits per element of every dtype in the format's table (the reference implementation's `Dtype`). A file may
 * use any of them; this library turns only the {@linkcode SafetensorsDtype}s into typed arrays.
 */
export const DTYPE_BITS: ReadonlyMap<string, number> = new Map([
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

/** A non-negative integer that a JSON number can hold exactly. */
export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A short JSON rendering of a value from a header, for messages. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * What `JSON.parse` hides in a header: a key written twice in one object (it keeps the last) and, per top-level
 * entry, the first number written with a sign, fraction or exponent (it reads `2.0` and `-0` as integers, which the
 * format's integers are not). `text` must be valid JSON.
 */
export function scanHeader(
  text: string,
): { duplicate?: { key: string; inside?: string }; numbers: Map<string, string> } {
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
export function splitFile(
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
export function checkEntry(name: string, entry: unknown, literal: string | undefined, path: string): Entry {
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
 * Checks that the tensors, in offset order, cover the data buffer exactly: the first begins at byte 0, each next
 * one where the previous ends (no gap, no overlap), and the last ends at the buffer's last byte.
 */
export function checkLayout(entries: readonly Entry[], dataLength: number, path: string): void {
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
