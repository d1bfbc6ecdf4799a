import assert from "node:assert/strict";
import { IdxError, injectLabelNoise, parseIdx, readIdx } from "../../src/data/idx.ts";
import { seededRandom } from "../../src/data/random.ts";

/** IDX bytes for u8 data of `shape`, written here from the format's definition. */
function idxBytes(shape: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  header.set([0, 0, 0x08, shape.length]);
  const view = new DataView(header.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("readIdx reads gzipped and raw IDX files and keeps u8 data as u8", async () => {
  const dir = await Deno.makeTempDir();
  const images = Uint8Array.from({ length: 3 * 28 * 28 }, (_, i) => i % 251);
  const raw = idxBytes([3, 28, 28], images);
  await Deno.writeFile(`${dir}/images-idx3-ubyte`, raw);
  await Deno.writeFile(`${dir}/images-idx3-ubyte.gz`, await gzip(raw));
  for (const name of ["images-idx3-ubyte", "images-idx3-ubyte.gz"]) {
    const { shape, data } = await readIdx(`${dir}/${name}`);
    assert.deepEqual(shape, [3, 28, 28]);
    assert.ok(data instanceof Uint8Array);
    assert.deepEqual(data, images);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad IDX files are rejected with errors that say what is wrong", async () => {
  const good = idxBytes([2, 3], new Uint8Array(6));
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated data", good.slice(0, good.length - 1), /truncated: u8 \[2, 3\] needs 18 bytes, the file has 17/],
    ["trailing bytes", new Uint8Array([...good, 0]), /too long: u8 \[2, 3\] needs 18 bytes, the file has 19/],
    [
      "bad magic",
      new Uint8Array([1, ...good.slice(1)]),
      /not an IDX file: the magic number must start with two zero bytes/,
    ],
    ["unknown type", new Uint8Array([0, 0, 0x07, ...good.slice(3)]), /unknown IDX type code 0x7/],
    ["cut header", good.slice(0, 6), /truncated: the header of 2 dimensions needs 12 bytes, the file has 6/],
  ];
  for (const [label, bytes, message] of cases) {
    assert.throws(() => parseIdx(bytes, label), (e: Error) => e instanceof IdxError && message.test(e.message), label);
  }
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/broken.gz`, new Uint8Array([0x1f, 0x8b, 1, 2, 3]));
  await assert.rejects(readIdx(`${dir}/broken.gz`), /broken\.gz: is not valid gzip/);
  await assert.rejects(readIdx(`${dir}/missing`), /missing: cannot be read/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("symmetric label noise flips the requested fraction, always to another class, reproducibly", () => {
  const labels = Uint8Array.from({ length: 20000 }, (_, i) => i % 10);
  const a = injectLabelNoise(labels, 10, 0.4, seededRandom(9));
  const b = injectLabelNoise(labels, 10, 0.4, seededRandom(9));
  assert.deepEqual(a.labels, b.labels);
  let flips = 0;
  for (let i = 0; i < labels.length; i++) {
    assert.equal(a.flipped[i] === 1, a.labels[i] !== labels[i], `flip mask at ${i}`);
    flips += a.flipped[i];
  }
  // 20,000 draws at r = 0.4: the standard deviation of the fraction is 0.0035; allow 4 of them.
  assert.ok(Math.abs(flips / labels.length - 0.4) < 0.014, `flipped ${flips / labels.length}`);
  assert.deepEqual(injectLabelNoise(labels, 10, 0, seededRandom(1)).labels, labels);
  assert.throws(
    () => injectLabelNoise([10], 10, 0.1, seededRandom(1)),
    /labels\[0\] must be an integer in \[0, 9\]: current value is 10/,
  );
});

/** IDX bytes written by hand: magic (0, 0, type code, dimension count), each dimension big-endian, then `data`. */
function rawIdx(type: number, dims: number[], data: number | Uint8Array = 0): Uint8Array {
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  out.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

Deno.test("parseIdx() rejects a file breaking any rule of IDX with an IdxError naming the rule", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["3 bytes", new Uint8Array([0, 0, 8]), /truncated: 3 bytes, not even the 4-byte magic number/],
    [
      "second magic byte not 0",
      new Uint8Array([0, 1, 8, 1, 0, 0, 0, 1, 0]),
      /not an IDX file: the magic number must start with two zero bytes, found 0, 1/,
    ],
    [
      "type code 0x0a, between i8 and i16",
      rawIdx(0x0a, [1], 1),
      /unknown IDX type code 0xa: the format's codes are 0x08 \(u8\), 0x09 \(i8\), 0x0b \(i16\), 0x0c \(i32\), 0x0d \(f32\), 0x0e \(f64\)/,
    ],
    [
      "no dimensions",
      rawIdx(0x08, [], 1),
      /no dimensions: the magic number's dimension count \(its fourth byte\) must be >= 1: current value is 0/,
    ],
    [
      "header cut inside the third dimension",
      rawIdx(0x08, [1, 1, 1]).slice(0, 14),
      /truncated: the header of 3 dimensions needs 16 bytes, the file has 14/,
    ],
    ["a zero dimension", rawIdx(0x08, [2, 0, 3]), /dimension 1 of \[2, 0, 3\] is 0: every dimension must be >= 1/],
    ["i32 data one byte short", rawIdx(0x0c, [2], 7), /truncated: i32 \[2\] needs 16 bytes, the file has 15/],
    ["f64 data and a trailing byte", rawIdx(0x0e, [1], 9), /too long: f64 \[1\] needs 16 bytes, the file has 17/],
    [
      "dimensions whose product passes 2^64",
      rawIdx(0x08, [65536, 65536, 65536, 65536], 4),
      /truncated: u8 \[65536, 65536, 65536, 65536\] needs 18446744073709551636 bytes, the file has 24/,
    ],
  ];
  for (const [rule, bytes, message] of cases) {
    assert.throws(
      () => parseIdx(bytes, "bad-idx"),
      (e: Error) => e instanceof IdxError && e.message.startsWith("bad-idx: ") && message.test(e.message),
      rule,
    );
  }
});

Deno.test("readIdx() turns every broken gzip into an IdxError, and names the .gz file for a bad IDX inside", async () => {
  const dir = await Deno.makeTempDir();
  const gz = await gzip(idxBytes([4, 5], Uint8Array.from({ length: 20 }, (_, i) => i)));
  const crcFlipped = gz.slice();
  crcFlipped[gz.length - 8] ^= 0xff; // the CRC-32 is the trailer's first 4 bytes
  const cases: [string, Uint8Array, RegExp][] = [
    ["cut before its end", gz.slice(0, gz.length - 10), /is not valid gzip: it starts with the gzip magic bytes/],
    ["a wrong checksum", crcFlipped, /is not valid gzip: it starts with the gzip magic bytes/],
    ["bytes after the stream", new Uint8Array([...gz, 0, 0, 0]), /is not valid gzip: it starts with the gzip magic/],
    ["an IDX file cut short inside", await gzip(idxBytes([4, 5], new Uint8Array(19))), /truncated: u8 \[4, 5\]/],
  ];
  for (const [label, bytes, message] of cases) {
    const path = `${dir}/${label.replaceAll(" ", "_")}.gz`;
    await Deno.writeFile(path, bytes);
    await assert.rejects(
      readIdx(path),
      (e: Error) => e instanceof IdxError && e.message.startsWith(`${path}: `) && message.test(e.message),
      label,
    );
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseIdx() reads each type code's elements as big-endian numbers of that type", () => {
  const cases: [number, number, (v: DataView, at: number, x: number) => void, number[]][] = [
    [0x09, 1, (v, at, x) => v.setInt8(at, x), [-2, 3, -128]],
    [0x0b, 2, (v, at, x) => v.setInt16(at, x, false), [-2, 3, -32768]],
    [0x0c, 4, (v, at, x) => v.setInt32(at, x, false), [-2, 3, -(2 ** 31)]],
    [0x0d, 4, (v, at, x) => v.setFloat32(at, x, false), [-2, 3.5, 0.25]],
    [0x0e, 8, (v, at, x) => v.setFloat64(at, x, false), [-2, 3.5, 1e300]],
  ];
  for (const [type, size, write, expected] of cases) {
    const body = new Uint8Array(3 * size);
    expected.forEach((x, i) => write(new DataView(body.buffer), i * size, x));
    const { shape, data } = parseIdx(rawIdx(type, [3], body), `type 0x${type.toString(16)}`);
    assert.deepEqual(shape, [3]);
    assert.deepEqual([...data], expected, `type 0x${type.toString(16)}`);
  }
});
