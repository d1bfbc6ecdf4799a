import assert from "node:assert/strict";
import { Tensor } from "../../src/gpu/tensor.ts";
import { COLUMN_CHUNK, columnSums } from "../../src/ops/reduce.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";

/** The float64 reference: each column summed down its rows. */
function columnSumsF64(x: Float32Array, rows: number, cols: number): Float64Array {
  const sums = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sums[c] += x[r * cols + c];
  return sums;
}

Deno.test({
  name: "columnSums() matches float64 (1e-5 relative to Σ|x|), overwriting and accumulating, with scalar and vec4 " +
    "loads (rows 1, 255, 257, 1031; cols 1, 7, 12, 132)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("column sums"));
    for (const rows of [1, COLUMN_CHUNK - 1, COLUMN_CHUNK + 1, 1031]) {
      for (const cols of [1, 7, 12, 132]) {
        const values = uniform(random, rows * cols);
        const start = uniform(random, cols);
        const x = Tensor.from(gpu, values, [rows, cols]);
        const [overwritten, accumulated] = [Tensor.from(gpu, start, [cols]), Tensor.from(gpu, start, [cols])];
        const work = [columnSums(gpu, x, overwritten), columnSums(gpu, x, accumulated, { accumulate: true })];
        runSteps(gpu, ...work);
        const want = columnSumsF64(values, rows, cols);
        const scale = columnSumsF64(values.map(Math.abs), rows, cols);
        const [got, gotAcc] = [await overwritten.read(), await accumulated.read()];
        for (let c = 0; c < cols; c++) {
          // fp32 sums of up to 1031 terms: the error stays far below 1e-5 of the sum of magnitudes.
          const tolerance = 1e-5 * (scale[c] + Math.abs(start[c]));
          assert.ok(Math.abs(got[c] - want[c]) <= tolerance, `${rows}×${cols} col ${c}: ${got[c]} vs ${want[c]}`);
          assert.ok(Math.abs(gotAcc[c] - (want[c] + start[c])) <= tolerance, `${rows}×${cols} col ${c} accumulated`);
        }
        work.forEach((w) => w.destroy());
        [x, overwritten, accumulated].forEach((t) => t.destroy());
      }
    }
  },
});

Deno.test({
  name: "columnSums() of no rows writes zeros, and with accumulate leaves out as it was",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const x = Tensor.empty(gpu, [0, 5]);
    const [overwritten, accumulated] = [
      Tensor.from(gpu, new Float32Array([1, 2, 3, 4, 5]), [5]),
      Tensor.zeros(gpu, [5]),
    ];
    accumulated.write(new Float32Array([1, 2, 3, 4, 5]));
    const work = [columnSums(gpu, x, overwritten), columnSums(gpu, x, accumulated, { accumulate: true })];
    runSteps(gpu, ...work);
    assert.deepEqual(await overwritten.read(), new Float32Array(5));
    assert.deepEqual(await accumulated.read(), new Float32Array([1, 2, 3, 4, 5]));
    work.forEach((w) => w.destroy());
    [x, overwritten, accumulated].forEach((t) => t.destroy());
  },
});
