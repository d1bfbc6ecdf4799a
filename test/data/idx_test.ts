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
