import assert from "node:assert/strict";
import { InverseIndex } from "../../src/ops/_inverse_index.ts";
import { freshSeed, seededRandom } from "../util/random.ts";

Deno.test("the inverse index lists, for each key, exactly the positions that hold it, ascending, on random tables", () => {
  const random = seededRandom(freshSeed("inverse index"));
  const index = new InverseIndex(37, 500);
  for (let trial = 0; trial < 50; trial++) {
    const count = Math.floor(random() * 500);
    const values = Uint32Array.from({ length: 500 }, () => Math.floor(random() * 37) ** 2 % 37); // uneven keys
    index.build(values, count);
    for (let key = 0; key < 37; key++) {
      const expected = [];
      for (let p = 0; p < count; p++) if (values[p] === key) expected.push(p);
      const got = Array.from(index.positions.subarray(index.offsets[key], index.offsets[key + 1]));
      assert.deepEqual(got, expected, `key ${key}, trial ${trial}`);
    }
    assert.equal(index.offsets[37], count);
  }
});

Deno.test("the inverse index of a table's leading columns lists only their positions, ascending", () => {
  const random = seededRandom(freshSeed("inverse index columns"));
  const [rows, stride, domain] = [23, 11, 7];
  const index = new InverseIndex(domain, rows * stride);
  const values = Uint32Array.from({ length: rows * stride }, () => Math.floor(random() * domain));
  for (const columns of [1, 2, 5, 11, 12]) {
    index.build(values, values.length, { stride, columns });
    for (let key = 0; key < domain; key++) {
      const expected = [];
      for (let p = 0; p < values.length; p++) if (p % stride < columns && values[p] === key) expected.push(p);
      const got = Array.from(index.positions.subarray(index.offsets[key], index.offsets[key + 1]));
      assert.deepEqual(got, expected, `key ${key}, ${columns} columns`);
    }
    assert.equal(index.offsets[domain], rows * Math.min(columns, stride));
  }
});
