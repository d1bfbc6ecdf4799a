import assert from "node:assert/strict";
import { PHOTOMETRIC_FLOATS, randomPhotometric, randomWarps } from "../../src/data/augment.ts";
import { Rng } from "../../src/data/random.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { gatherBytes, packBytes, WARP_FLOATS } from "../../src/ops/gather.ts";
import { assertClose } from "../util/compare.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";
import { freshSeed } from "../util/random.ts";

// A 9-wide, 7-tall image: 63 bytes per row, so rows are padded to 16 words.
const [H, W] = [7, 9];
const WIDTH = H * W;

function table(rng: Rng, rows: number): Uint8Array {
  return Uint8Array.from({ length: rows * WIDTH }, () => Math.floor(rng.next() * 256));
}

/** Float64 bilinear sampling of `image` at the inverse warp `m` (column-major mat3, 12 floats), 0 outside. */
function warpedRef(image: Uint8Array, m: Float32Array): Float64Array {
  const out = new Float64Array(WIDTH);
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= W || y >= H ? 0 : image[y * W + x]);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const u = x + 0.5 - W / 2;
      const v = y + 0.5 - H / 2;
      const sx = m[0] * u + m[4] * v + m[8] + W / 2 - 0.5;
      const sy = m[1] * u + m[5] * v + m[9] + H / 2 - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[y * W + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

Deno.test({
  name: "gatherBytes() converts u8 rows exactly and warps them like a float64 bilinear reference (13-row table)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(freshSeed("gather"));
    const rows = 13;
    const bytes = table(rng, rows);
    const ids = Uint32Array.from({ length: 11 }, () => Math.floor(rng.next() * rows)); // repeats allowed
    const data = Tensor.from(gpu, packBytes(bytes, rows, WIDTH), [rows * 16]);
    const idTensor = Tensor.from(gpu, ids, [ids.length]);
    // Large ranges so that samples leave the image and land between pixels.
    const warps = randomWarps(rng, ids.length, { rotate: 40, scale: [0.6, 1.4], shear: 0.3, translate: 3 });
    const warpTensor = Tensor.from(gpu, warps, [ids.length, WARP_FLOATS]);
    const plain = Tensor.from(gpu, new Float32Array(ids.length * WIDTH).fill(NaN), [ids.length, WIDTH]);
    const warped = Tensor.from(gpu, new Float32Array(ids.length * WIDTH).fill(NaN), [ids.length, WIDTH]);
    const layout = { rows, width: WIDTH, imageShape: [H, W] as const };
    const steps = [
      gatherBytes(gpu, data, layout, idTensor, plain, { scale: 2 / 255, shift: -1 }),
      gatherBytes(gpu, data, layout, idTensor, warped, { warps: warpTensor }),
    ];
    runSteps(gpu, ...steps);
    const expectedPlain = new Float64Array(ids.length * WIDTH);
    const expectedWarped = new Float64Array(ids.length * WIDTH);
    for (let r = 0; r < ids.length; r++) {
      const image = bytes.subarray(ids[r] * WIDTH, (ids[r] + 1) * WIDTH);
      for (let p = 0; p < WIDTH; p++) expectedPlain[r * WIDTH + p] = (2 / 255) * image[p] - 1;
      const ref = warpedRef(image, warps.subarray(r * WARP_FLOATS, (r + 1) * WARP_FLOATS));
      for (let p = 0; p < WIDTH; p++) expectedWarped[r * WIDTH + p] = ref[p] / 255;
    }
    // Plain: one fp32 multiply-add of an exact byte, 1e-6 relative.
    assertClose(await plain.read(), expectedPlain, { rtol: 1e-6, atol: 1e-7 }, "gather");
    // Warped: fp32 coordinates and weights, 1e-4 relative with a 1e-5 floor (bilinear is continuous, so
    // coordinate rounding moves a value by at most its slope times ~1e-6 pixels).
    assertClose(await warped.read(), expectedWarped, { rtol: 1e-4, atol: 1e-5 }, "warped gather");
    const outside = Array.from(await warped.read()).filter((v) => v === 0).length;
    assert.ok(outside > 0, "the warps were meant to sample outside some images");
    steps.forEach((s) => s.destroy());
    [data, idTensor, warpTensor, plain, warped].forEach((t) => t.destroy());
  },
});

/** PCG's output permutation on 32 bits, as u32 arithmetic (the shader's `hash`, written again from PCG). */
function pcgHash(x: number): number {
  const state = (Math.imul(x, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The standard normal of pixel p under `seed`: Box–Muller on two hashed uniforms in (0, 1), in float64. */
function noiseRef(seed: number, p: number): number {
  const uniform = (k: number) => ((pcgHash((seed ^ pcgHash(k)) >>> 0) >>> 8) + 0.5) / 2 ** 24;
  return Math.sqrt(-2 * Math.log(uniform(2 * p))) * Math.cos(2 * Math.PI * uniform(2 * p + 1));
}

Deno.test({
  name: "gatherBytes() with photometric changes gives contrast·warped + brightness + noise·N(0, 1) as a float64 " +
    "reference does, and its noise is standard normal",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const rng = new Rng(freshSeed("gather photometric"));
    const rows = 13;
    const bytes = table(rng, rows);
    const ids = Uint32Array.from({ length: 200 }, () => Math.floor(rng.next() * rows));
    const data = Tensor.from(gpu, packBytes(bytes, rows, WIDTH), [rows * 16]);
    const idTensor = Tensor.from(gpu, ids, [ids.length]);
    const warps = randomWarps(rng, ids.length, { rotate: 30, scale: [0.8, 1.2], shear: 0.2, translate: 2 });
    const looks = randomPhotometric(rng, ids.length, { contrast: [0.5, 1.5], brightness: 0.3, noise: 0.2 });
    // Row 0: no image at all (contrast 0, brightness 0) and unit noise: the output is the noise itself.
    looks.set([0, 0, 1], 0);
    const warpTensor = Tensor.from(gpu, warps, [ids.length, WARP_FLOATS]);
    const lookTensor = Tensor.from(gpu, looks, [ids.length, PHOTOMETRIC_FLOATS]);
    const out = Tensor.from(gpu, new Float32Array(ids.length * WIDTH).fill(NaN), [ids.length, WIDTH]);
    const layout = { rows, width: WIDTH, imageShape: [H, W] as const };
    const step = gatherBytes(gpu, data, layout, idTensor, out, { warps: warpTensor, photometric: lookTensor });
    runSteps(gpu, step);
    const got = (await out.read()) as Float32Array;
    const seeds = new Uint32Array(looks.buffer);
    const expected = new Float64Array(ids.length * WIDTH);
    let maxNoise = 0;
    for (let r = 0; r < ids.length; r++) {
      const ref = warpedRef(bytes.subarray(ids[r] * WIDTH, (ids[r] + 1) * WIDTH), warps.subarray(r * 12, r * 12 + 12));
      const [contrast, brightness, sd] = looks.subarray(r * 4, r * 4 + 3);
      for (let p = 0; p < WIDTH; p++) {
        const n = noiseRef(seeds[r * 4 + 3], p);
        maxNoise = Math.max(maxNoise, Math.abs(n));
        expected[r * WIDTH + p] = contrast * (ref[p] / 255) + brightness + sd * n;
      }
    }
    // 1e-4 relative as for the warp, plus the shader's f32 log and cos: WGSL allows cos an absolute error of 2^-11,
    // which the noise scales by sd·sqrt(−2 log u1) ≤ 1·6 here: 3e-3 absolute.
    assertClose(got, expected, { rtol: 1e-4, atol: 3e-3 }, "photometric gather");
    assert.ok(maxNoise > 3, `a noise tail was reached (max |N| ${maxNoise.toFixed(2)})`);
    // The noise itself, over every pixel of every row: mean 0 and sd 1 within 4 standard errors.
    const samples: number[] = [];
    for (let r = 0; r < ids.length; r++) {
      const [contrast, brightness, sd] = looks.subarray(r * 4, r * 4 + 3);
      if (sd < 0.05) continue;
      const ref = warpedRef(bytes.subarray(ids[r] * WIDTH, (ids[r] + 1) * WIDTH), warps.subarray(r * 12, r * 12 + 12));
      for (let p = 0; p < WIDTH; p++) samples.push((got[r * WIDTH + p] - contrast * (ref[p] / 255) - brightness) / sd);
    }
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1));
    const se = 1 / Math.sqrt(samples.length);
    assert.ok(Math.abs(mean) < 4 * se, `noise mean ${mean} over ${samples.length} samples`);
    assert.ok(Math.abs(sd - 1) < 4 * se * Math.SQRT1_2, `noise sd ${sd} over ${samples.length} samples`);
    step.destroy();
    [data, idTensor, warpTensor, lookTensor, out].forEach((t) => t.destroy());
  },
});

Deno.test({
  name: "gatherBytes() rejects bad shapes before any GPU work, naming the argument",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const data = Tensor.zeros(gpu, [2 * 16], "u32");
    const ids = Tensor.zeros(gpu, [3], "u32");
    const out = Tensor.empty(gpu, [3, WIDTH]);
    const before = { ...gpu.counters };
    const layout = { rows: 2, width: WIDTH, imageShape: [H, W] as const };
    assert.throws(() => gatherBytes(gpu, data, { ...layout, rows: 3 }, ids, out), /data must be a u32 Tensor of/);
    assert.throws(() => gatherBytes(gpu, data, layout, ids, Tensor.empty(gpu, [2, WIDTH])), /out\.shape/);
    assert.throws(
      () => gatherBytes(gpu, data, { rows: 2, width: WIDTH, imageShape: [8, 8] }, ids, out),
      /layout\.imageShape must be \[h, w\] with h·w = width \(63\)/,
    );
    assert.throws(
      () => gatherBytes(gpu, data, { rows: 2, width: WIDTH }, ids, out, { warps: Tensor.empty(gpu, [3, 12]) }),
      /layout\.imageShape must be given when options\.warps is/,
    );
    assert.throws(() => gatherBytes(gpu, data, layout, ids, out, { warps: out }), /options\.warps\.shape/);
    assert.equal(gpu.counters.pipelinesCreated, before.pipelinesCreated);
    assert.throws(() => packBytes(new Uint8Array(5), 2, 3), /bytes\.length must be rows·width = 6/);
    [data, ids, out].forEach((t) => t.destroy());
  },
});
