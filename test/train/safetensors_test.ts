import assert from "node:assert/strict";
import {
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  readSafetensors,
} from "../../src/train/safetensors.ts";

/**
 * A safetensors file written here from the format's definition: the header's length as a little-endian u64
 * (`claimedLength` overrides it), the header's bytes, then `data` (or that many zero bytes).
 */
function file(header: string | Uint8Array, data: number | Uint8Array = 0, claimedLength?: bigint): Uint8Array {
  const headerBytes = typeof header === "string" ? new TextEncoder().encode(header) : header;
  const dataBytes = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + headerBytes.length + dataBytes.length);
  new DataView(out.buffer).setBigUint64(0, claimedLength ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(dataBytes, 8 + headerBytes.length);
  return out;
}

/** A header's JSON for the given entries (`JSON.stringify` of an object literal). */
function json(header: Record<string, unknown>): string {
  return JSON.stringify(header);
}

const F32_1 = { dtype: "F32", shape: [1], data_offsets: [0, 4] };

/** The file's header as `JSON.parse` reads it, from the length prefix (as a reader of the format would). */
function headerOf(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
}

Deno.test("decodeSafetensors() rejects a file breaking any rule of the format with a CheckpointError naming the rule", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["file shorter than the 8-byte length", new Uint8Array(7), /truncated: 7 bytes, not even the 8-byte header length/],
    [
      "header length over the format's 100,000,000-byte limit",
      file("{}", 0, 100_000_001n),
      /corrupted header length: must be <= 100000000 bytes \(the format's limit\): current value is 100000001/,
    ],
    [
      "header length 2^64 - 1",
      file("{}", 0, 2n ** 64n - 1n),
      /corrupted header length: must be <= 100000000 bytes.*current value is 18446744073709551615/,
    ],
    [
      "header length past the end of the file",
      file("{}", 0, 50n),
      /truncated or corrupted: the header claims 50 bytes, the file has 2 after the length/,
    ],
    [
      "header that is not UTF-8",
      file(new Uint8Array([0x7b, 0xff, 0x7d])),
      /corrupted header: not valid UTF-8 JSON \(its bytes are not UTF-8\)/,
    ],
    [
      "header starting with a byte-order mark",
      file(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])),
      /corrupted header: not valid UTF-8 JSON \(/,
    ],
    ["header that is not JSON", file('{"a":'), /corrupted header: not valid UTF-8 JSON \(/],
    ["empty header", file(""), /corrupted header: not valid UTF-8 JSON \(/],
    ["header that is a JSON array", file("[]"), /corrupted header: must be a JSON object: current value is \[\]/],
    ["header that is a JSON string", file('"w"'), /corrupted header: must be a JSON object: current value is "w"/],
    [
      "the same tensor name twice",
      file(`{"a":${JSON.stringify(F32_1)},"a":${JSON.stringify(F32_1)}}`, 4),
      /corrupted header: duplicate key "a" \(tensor names must be unique\)/,
    ],
    [
      "the same key twice inside an entry",
      file('{"a":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4),
      /corrupted header: duplicate key "dtype" \(inside "a"; keys must be unique\)/,
    ],
    [
      "an entry that is not an object",
      file(json({ a: 3 })),
      /tensor "a" must be an object with dtype, shape and data_offsets: current value is 3/,
    ],
    [
      "an entry without data_offsets",
      file(json({ a: { dtype: "F32", shape: [1] } })),
      /tensor "a" must have exactly the keys dtype, shape and data_offsets: current keys are dtype, shape$/,
    ],
    [
      "an entry with a key beyond the three",
      file(json({ a: { ...F32_1, extra: 1 } }), 4),
      /tensor "a" must have exactly the keys .*: current keys are data_offsets, dtype, extra, shape$/,
    ],
    [
      "a dtype outside the format's table",
      file(json({ a: { ...F32_1, dtype: "F31" } }), 4),
      /tensor "a" has unknown dtype "F31": the format's dtypes are BOOL, .*F32/,
    ],
    [
      "a dtype that is not a string",
      file(json({ a: { ...F32_1, dtype: 32 } }), 4),
      /tensor "a" has unknown dtype 32/,
    ],
    [
      "a shape that is not an array",
      file(json({ a: { ...F32_1, shape: "1" } }), 4),
      /tensor "a" has an invalid shape: must be an array of non-negative integers: current value is "1"/,
    ],
    [
      "a negative dimension",
      file(json({ a: { ...F32_1, shape: [-1] } }), 4),
      /tensor "a" has an invalid shape: must be an array of non-negative integers: current value is \[-1\]/,
    ],
    [
      "a fractional dimension",
      file(json({ a: { ...F32_1, shape: [0.5] } }), 4),
      /tensor "a" has an invalid shape: .*current value is \[0\.5\]/,
    ],
    [
      "data_offsets of three numbers",
      file(json({ a: { ...F32_1, data_offsets: [0, 4, 4] } }), 4),
      /tensor "a" has invalid data_offsets: must be \[begin, end\] of non-negative integers: current value is \[0,4,4\]/,
    ],
    [
      "a negative offset",
      file(json({ a: { ...F32_1, data_offsets: [-4, 0] } }), 4),
      /tensor "a" has invalid data_offsets: must be \[begin, end\] .*current value is \[-4,0\]/,
    ],
    [
      "begin after end",
      file(json({ a: { ...F32_1, data_offsets: [8, 4] } }), 8),
      /tensor "a" has invalid data_offsets: begin must be <= end: current value is \[8, 4\]/,
    ],
    [
      "a dimension written 1.0",
      file('{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', 4),
      /tensor "a" has the number 1\.0 in its entry: shape and data_offsets must be written as plain integers/,
    ],
    [
      "an offset written -0",
      file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[-0,4]}}', 4),
      /tensor "a" has the number -0 in its entry/,
    ],
    [
      "a byte range that does not match dtype and shape",
      file(json({ a: { ...F32_1, shape: [3], data_offsets: [0, 8] } }), 8),
      /tensor "a" spans 8 bytes, but F32 \[3\] needs 12/,
    ],
    [
      "a 4-bit dtype whose elements end mid-byte",
      file(json({ a: { dtype: "F4", shape: [3], data_offsets: [0, 2] } }), 2),
      /tensor "a" has F4 \[3\]: 12 bits, not a whole number of bytes/,
    ],
    [
      "a first tensor that does not start at byte 0",
      file(json({ a: { ...F32_1, data_offsets: [4, 8] } }), 8),
      /gap: the first tensor "a" begins at byte 4; the tensors must cover the data from byte 0/,
    ],
    [
      "a 4-byte hole between two tensors",
      file(json({ a: F32_1, b: { ...F32_1, data_offsets: [8, 12] } }), 12),
      /gap: 4 unused bytes between tensor "a" \(ends at 4\) and tensor "b" \(begins at 8\); .* without gaps/,
    ],
    [
      "two tensors sharing bytes",
      file(json({ a: { ...F32_1, shape: [2], data_offsets: [0, 8] }, b: { ...F32_1, data_offsets: [4, 8] } }), 8),
      /corrupted: tensors "a" and "b" overlap \(bytes 4 to 8 of the data\)/,
    ],
    [
      "data shorter than the tensors",
      file(json({ a: F32_1 }), 2),
      /truncated: tensor "a" ends at byte 4 of the data, which has 2/,
    ],
    [
      "8 data bytes after a tensor at [0, 4]",
      file(json({ a: F32_1 }), 8),
      /too long: 4 trailing bytes; the tensors cover 4 bytes of the data, which has 8, and must cover it exactly/,
    ],
    [
      "data bytes and no tensor",
      file(json({}), 4),
      /too long: 4 trailing bytes; the tensors cover 0 bytes/,
    ],
    [
      "__metadata__ that is a string",
      file(json({ __metadata__: "x" })),
      /__metadata__ must be an object mapping strings to strings: current value is "x"/,
    ],
    [
      "__metadata__ that is null",
      file(json({ __metadata__: null })),
      /__metadata__ must be an object mapping strings to strings: current value is null/,
    ],
    [
      "a metadata value that is a number",
      file(json({ __metadata__: { step: 3 } })),
      /metadata "step" is not a string \(__metadata__ must map strings to strings\): current value is 3/,
    ],
    [
      "a valid dtype this library cannot hold in a typed array",
      file(json({ a: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } }), 4),
      /tensor "a" has unsupported dtype "BF16": ncegpu reads only F32, U32, I32, U8/,
    ],
  ];
  for (const [rule, bytes, message] of cases) {
    assert.throws(
      () => decodeSafetensors(bytes, "bad.safetensors"),
      (e: Error) =>
        e instanceof CheckpointError && e.message.startsWith("bad.safetensors: ") && message.test(e.message),
      rule,
    );
  }
});

Deno.test("every dtype of the format's table passes the format's checks; those without a typed array are unsupported, not unknown", () => {
  // The format's table (the brief's list), with bytes per element.
  const table: [string, number][] = [
    ["BOOL", 1],
    ["U8", 1],
    ["I8", 1],
    ["F8_E5M2", 1],
    ["F8_E4M3", 1],
    ["I16", 2],
    ["U16", 2],
    ["F16", 2],
    ["BF16", 2],
    ["I32", 4],
    ["U32", 4],
    ["F32", 4],
    ["F64", 8],
    ["I64", 8],
    ["U64", 8],
  ];
  for (const [dtype, size] of table) {
    const bytes = file(json({ t: { dtype, shape: [3], data_offsets: [0, 3 * size] } }), 3 * size);
    if (["F32", "U32", "I32", "U8"].includes(dtype)) {
      const { tensors } = decodeSafetensors(bytes, dtype);
      assert.equal(tensors.t.data.length, 3, dtype);
      assert.equal(tensors.t.data.byteLength, 3 * size, dtype);
    } else {
      assert.throws(() => decodeSafetensors(bytes, dtype), /has unsupported dtype/, dtype);
    }
  }
});

Deno.test("decodeSafetensors() reads zero-size tensors, space-padded headers, files without tensors, and any entry order", () => {
  const header = json({
    empty: { dtype: "F32", shape: [0, 5], data_offsets: [4, 4] },
    b: { dtype: "U8", shape: [2], data_offsets: [4, 6] },
    a: { dtype: "I32", shape: [1], data_offsets: [0, 4] },
    __metadata__: { note: "by hand" },
  });
  const data = new Uint8Array([0xff, 0xff, 0xff, 0xff, 7, 9]);
  const { tensors, metadata } = decodeSafetensors(file(header + "   ", data), "hand");
  assert.deepEqual(tensors.a, { dtype: "I32", shape: [1], data: new Int32Array([-1]) });
  assert.deepEqual(tensors.b, { dtype: "U8", shape: [2], data: new Uint8Array([7, 9]) });
  assert.deepEqual(tensors.empty, { dtype: "F32", shape: [0, 5], data: new Float32Array(0) });
  assert.deepEqual(metadata, { note: "by hand" });
  assert.deepEqual(decodeSafetensors(file("{}"), "nothing"), { tensors: {}, metadata: {} });
});

Deno.test("encodeSafetensors() output passes every rule, each tensor aligned to its element size, and reads back equal", () => {
  const tensors: Record<string, HostTensor> = {
    a_bytes: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
    b_floats: { dtype: "F32", shape: [2, 2], data: new Float32Array([0.5, -1, 3e-8, 7]) },
    c_empty: { dtype: "U32", shape: [0], data: new Uint32Array(0) },
    d_ints: { dtype: "I32", shape: [1], data: new Int32Array([-5]) },
  };
  const bytes = encodeSafetensors(tensors, { step: "9" });
  const header = headerOf(bytes);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0, "the data starts 8-byte aligned");
  for (const [name, t] of Object.entries(tensors)) {
    const [begin, end] = header[name].data_offsets;
    assert.equal(begin % t.data.BYTES_PER_ELEMENT, 0, `${name} starts at ${begin}`);
    assert.equal(end - begin, t.data.byteLength, name);
  }
  const back = decodeSafetensors(bytes, "memory");
  assert.deepEqual(back, { tensors, metadata: { step: "9" } });
});

Deno.test("encodeSafetensors() refuses tensors and metadata it could not write as a valid file", () => {
  const f32 = (data: Float32Array, shape = [data.length]): HostTensor => ({ dtype: "F32", shape, data });
  const cases: [string, Record<string, HostTensor>, Record<string, string>, ErrorConstructor, RegExp][] = [
    [
      "a tensor named __metadata__",
      { __metadata__: f32(new Float32Array(1)) },
      {},
      RangeError,
      /a tensor's name must be anything but "__metadata__".*current value is "__metadata__"/,
    ],
    [
      "a name with a lone surrogate",
      { "w\ud800": f32(new Float32Array(1)) },
      {},
      RangeError,
      /a tensor's name must be well-formed Unicode/,
    ],
    [
      "a dtype it does not write",
      { w: { dtype: "F64" as "F32", shape: [1], data: new Float32Array(1) } },
      {},
      RangeError,
      /tensors\["w"\]\.dtype must be one of F32, U32, I32, U8: current value is "F64"/,
    ],
    [
      "data of another array type",
      { w: { dtype: "U32", shape: [1], data: new Int32Array(1) } },
      {},
      TypeError,
      /tensors\["w"\]\.data must be a Uint32Array \(dtype U32\): current value is "Int32Array"/,
    ],
    [
      "a negative dimension",
      { w: f32(new Float32Array(1), [-1]) },
      {},
      RangeError,
      /tensors\["w"\]\.shape must be an array of non-negative integers: current value is \[-1\]/,
    ],
    [
      "a shape that does not match the data",
      { w: f32(new Float32Array(5), [2, 3]) },
      {},
      RangeError,
      /tensors\["w"\]\.data\.length must be the product of its shape \(6\): current value is 5/,
    ],
    [
      "a metadata value that is not a string",
      {},
      { step: 3 as unknown as string },
      TypeError,
      /metadata\["step"\] must be a string: current value is 3/,
    ],
  ];
  for (const [label, tensors, metadata, type, message] of cases) {
    assert.throws(
      () => encodeSafetensors(tensors, metadata),
      (e: Error) => e instanceof type && message.test(e.message),
      label,
    );
  }
});

Deno.test("readSafetensors() names a file that cannot be read", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(
    readSafetensors(`${dir}/missing.safetensors`),
    (e: Error) => e instanceof CheckpointError && /missing\.safetensors: cannot be read/.test(e.message),
  );
  await Deno.remove(dir);
});
