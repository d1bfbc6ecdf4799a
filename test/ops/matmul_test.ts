import assert from "node:assert/strict";
import {
  matmul,
  MATMUL_VARIANTS,
  type MatmulForm,
  MatmulKernel,
  matmulShapeClass,
  matmulVariantFits,
  transposeKernel,
} from "../../src/ops/matmul.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { assertFrobenius } from "../util/compare.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";
import { runMatmulCase } from "../util/matmul_check.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";

const FORMS: MatmulForm[] = ["nn", "nt", "tn"];
// Relative Frobenius error of fp32 against fp64; the bound.
const FROBENIUS_TOL = 1e-4;

/** Runs one matmul on fresh data with the output poisoned, and checks it. */
async function checkMatmul(
  m: number,
  n: number,
  k: number,
  form: MatmulForm,
  variant: string | undefined,
  opts: { bias?: boolean; accumulate?: boolean } = {},
): Promise<void> {
  const label = `${form} ${m}x${n}x${k} ${variant ?? "default"}`;
  const gpu = await testGpu();
  const { got, expected } = await runMatmulCase(gpu, { m, n, k, form, variant, ...opts, seed: freshSeed(label) });
  assertFrobenius(got, expected, FROBENIUS_TOL, label);
}

const SMALL_SHAPES: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [127, 257, 65], [33, 4, 61]];
// The vec4 variants need N (and in "tn" M) a multiple of 4; K and the block edges stay odd.
const VEC4_SHAPES: [number, number, number][] = [[4, 4, 1], [7, 12, 5], [124, 260, 65], [36, 4, 61]];

// K past the chunk of a k-chunked variant: three dispatches, the last a partial one.
const LONG_K = 2 * 1024 + 39;

for (const variant of Object.keys(MATMUL_VARIANTS)) {
  const { vec4, kChunk } = MATMUL_VARIANTS[variant];
  const small = vec4 ? VEC4_SHAPES : SMALL_SHAPES;
  const shapes: [number, number, number][] = kChunk
    ? [...small.slice(0, 2), [vec4 ? 36 : 33, vec4 ? 20 : 19, LONG_K], [4, 4, kChunk + 1]]
    : small;
  const fitting = (form: MatmulForm) => shapes.filter(([m, n]) => matmulVariantFits(variant, form, m, n));
  const forms = FORMS.filter((form) => fitting(form).length > 0);
  Deno.test({
    name: `matmul variant ${variant} matches float64 in forms ${forms.join(", ")} at ${
      shapes.map((s) => s.join("x")).join(", ")
    } (where it fits)`,
    ...gpuTest,
    fn: async () => {
      for (const form of forms) {
        for (const [m, n, k] of fitting(form)) await checkMatmul(m, n, k, form, variant);
      }
    },
  });
}

Deno.test({
  name: "an empty inner dimension gives zeros (or the bias, or out unchanged) with the untuned default, which then " +
    "reads no vec4",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const a = Tensor.zeros(gpu, [3, 0]);
    const b = Tensor.zeros(gpu, [0, 8]);
    const bias = Tensor.from(gpu, Float32Array.from({ length: 8 }, (_, i) => i), [8]);
    const kernel = new MatmulKernel(gpu, a, b, { bias });
    assert.ok(!MATMUL_VARIANTS[kernel.variant].vec4, `${kernel.variant} binds no empty vec4 view`);
    gpu.runPass("test", kernel);
    assert.deepEqual(Array.from(await kernel.out.read()), [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
    ]);
    kernel.destroy();
    for (const t of [a, b, bias, kernel.out]) t.destroy();
  },
});

Deno.test({
  name: "a vec4 variant is refused by name where it does not fit, and a tuned choice of it falls back to its sibling",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const a = Tensor.zeros(gpu, [6, 5]);
    const b = Tensor.zeros(gpu, [5, 7]);
    assert.throws(
      () => new MatmulKernel(gpu, a, b, { variant: "vec8x16" }),
      (e: unknown) =>
        e instanceof RangeError && /options\.variant must be a variant that fits form "nn"/.test(e.message),
    );
    const key = matmulShapeClass("nn", 6, 7, 5);
    gpu.tuning.set(key, "vec8x16");
    try {
      const kernel = new MatmulKernel(gpu, a, b);
      assert.equal(kernel.variant, "named8x16", "N = 7: the same block with scalar loads");
      kernel.destroy();
      kernel.out.destroy();
      const label = "nn 6x7x5 tuned vec8x16";
      const { got, expected } = await runMatmulCase(gpu, { m: 6, n: 7, k: 5, form: "nn", seed: freshSeed(label) });
      assertFrobenius(got, expected, FROBENIUS_TOL, label);
    } finally {
      gpu.tuning.delete(key);
      a.destroy();
      b.destroy();
    }
  },
});

Deno.test({
  name: "matmul (default variant) matches float64 in all forms at 1024x512x768",
  ...gpuTest,
  fn: async () => {
    for (const form of FORMS) await checkMatmul(1024, 512, 768, form, undefined);
  },
});

Deno.test({
  name: "matmul fuses the bias and accumulates into out, in every variant",
  ...gpuTest,
  fn: async () => {
    for (const variant of Object.keys(MATMUL_VARIANTS)) {
      // k-chunked variants: K past the chunk, so that the bias is added once and the later chunks accumulate.
      const k = MATMUL_VARIANTS[variant].kChunk ? LONG_K : 19;
      if (MATMUL_VARIANTS[variant].vec4) {
        // Whole vec4 rows: N = 28 and, in "tn", M = 36; no form "nt". Bias and accumulate together in "tn" (a cold
        // compile of a 16×32 block takes ~14 s on llvmpipe per flag combination: two combinations, not three).
        await checkMatmul(37, 28, k, "nn", variant, { bias: true });
        await checkMatmul(36, 28, k, "tn", variant, { bias: true, accumulate: true });
        continue;
      }
      await checkMatmul(37, 29, k, "nn", variant, { bias: true });
      await checkMatmul(37, 29, k, "tn", variant, { accumulate: true });
      await checkMatmul(37, 29, k, "nt", variant, { bias: true, accumulate: true });
    }
  },
});

Deno.test({
  name: "a matmul whose out lives in an operand's buffer is refused by name, even at disjoint ranges",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    // [9, 11] · [11, 5] → [9, 5] and a bias of 5, at float offsets 0, 128, 192, 256 (views start at 256-byte steps).
    const pool = Tensor.zeros(gpu, [256 + 5]);
    const [a, b, out, bias] = [
      pool.view(0, [9, 11]),
      pool.view(128, [11, 5]),
      pool.view(192, [9, 5]),
      pool.view(256, [5]),
    ];
    const [ownA, ownB, ownBias] = [Tensor.zeros(gpu, [9, 11]), Tensor.zeros(gpu, [11, 5]), Tensor.zeros(gpu, [5])];
    const refused = /options\.out.*another buffer than a, b and options\.bias/;
    assert.throws(() => new MatmulKernel(gpu, a, ownB, { out }), refused);
    assert.throws(() => new MatmulKernel(gpu, ownA, b, { out }), refused);
    assert.throws(() => new MatmulKernel(gpu, ownA, ownB, { out, bias }), refused);
    // Inputs may share a buffer with each other: only reads.
    const shared = new MatmulKernel(gpu, a, b, { out: Tensor.empty(gpu, [9, 5]), bias: ownBias });
    shared.out.destroy();
    shared.destroy();
    [pool, ownA, ownB, ownBias].forEach((t) => t.destroy());
  },
});

Deno.test({
  name: "matmul kernels reuse cached pipelines and allocate nothing when encoded or called again",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const a = Tensor.zeros(gpu, [9, 11]);
    const b = Tensor.zeros(gpu, [11, 5]);
    new MatmulKernel(gpu, a, b, { variant: "reg8x8" }).destroy(); // warm the cache
    const before = { ...gpu.counters };
    const kernel = new MatmulKernel(gpu, a, b, { variant: "reg8x8", out: Tensor.empty(gpu, [9, 5]) });
    assert.equal(gpu.counters.pipelinesCreated, before.pipelinesCreated, "pipeline cache missed");
    const afterSetup = { ...gpu.counters };
    for (let step = 0; step < 20; step++) {
      const encoder = gpu.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      kernel.encode(pass);
      pass.end();
      gpu.submit("test", encoder);
    }
    await gpu.sync("test");
    assert.equal(gpu.counters.buffersAllocated, afterSetup.buffersAllocated, "encode allocated buffers");
    assert.equal(gpu.counters.pipelinesCreated, afterSetup.pipelinesCreated, "encode created pipelines");
    kernel.destroy();
    const beforeOneShot = gpu.counters.buffersAllocated;
    for (let call = 0; call < 5; call++) matmul(gpu, a, b, { variant: "reg8x8", out: kernel.out });
    await gpu.sync("test");
    assert.equal(gpu.counters.buffersAllocated, beforeOneShot, "one-shot matmul() allocated buffers");
    for (const t of [a, b, kernel.out]) t.destroy();
  },
});

Deno.test({
  name: "matmul rejects bad arguments with errors that name them, before any GPU work",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const a = Tensor.zeros(gpu, [3, 5]);
    const b = Tensor.zeros(gpu, [6, 7]);
    const vector = Tensor.zeros(gpu, [5]);
    const bias4 = Tensor.zeros(gpu, [4]);
    const before = { ...gpu.counters };
    const cases: [() => unknown, ErrorConstructor, RegExp][] = [
      [
        () => matmul(gpu, a, b),
        RangeError,
        /b\.shape must be compatible with a\.shape \[3, 5\].*current value is \[6, 7\]/,
      ],
      [() => matmul(gpu, a, b, { form: "nt" }), RangeError, /b\.shape.*\[3, 5\].*form "nt".*current value is \[6, 7\]/],
      [() => matmul(gpu, a, vector), RangeError, /b\.shape must be two-dimensional: current value is \[5\]/],
      [() => matmul(gpu, a, a, { form: "xx" as MatmulForm }), RangeError, /options\.form.*current value is "xx"/],
      [() => matmul(gpu, a, a, { form: "tn", variant: "fastest" }), RangeError, /options\.variant.*"fastest"/],
      [
        () => matmul(gpu, a, a, { form: "tn", bias: bias4, variant: "naive" }),
        RangeError,
        /options\.bias\.shape must be \[5\].*current value is \[4\]/,
      ],
      [() => matmul(gpu, a, a, { form: "nt", accumulate: true }), RangeError, /options\.out must be given/],
      [() => matmul(gpu, a, a, { form: "nt", out: a }), RangeError, /options\.out\.shape must be \[3, 3\].*\[3, 5\]/],
      [() => matmul(gpu, a, "b" as unknown as Tensor), TypeError, /b must be a Tensor/],
    ];
    for (const [call, type, message] of cases) {
      assert.throws(call, (e: unknown) => e instanceof type && message.test((e as Error).message), String(message));
    }
    assert.deepEqual(gpu.counters, before, "an argument error did GPU work");
    for (const t of [a, b, vector, bias4]) t.destroy();
  },
});

Deno.test("the generated entry points in shaders/matmul.wgsl (8×16 and 16×32, scalar and vec4) are exactly what their generator writes", async () => {
  const { unrolledMatmuls } = await import("../../bench/gen_matmul_unrolled.ts");
  const shader = await Deno.readTextFile(new URL("../../shaders/matmul.wgsl", import.meta.url));
  const begin = shader.indexOf("// BEGIN generated");
  const end = shader.indexOf("// END generated") + "// END generated".length;
  assert.ok(begin >= 0 && end > begin, "the markers are in the shader");
  assert.equal(
    shader.slice(begin, end),
    unrolledMatmuls(),
    "regenerate with deno run bench/gen_matmul_unrolled.ts",
  );
});

Deno.test({
  name: "transposeKernel() writes the exact transpose (67 × 45 and 1 × 13) and refuses an out in its source's buffer " +
    "and a source past the grid's limit",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("transpose"));
    for (const [rows, cols] of [[67, 45], [1, 13]]) {
      const values = uniform(random, rows * cols);
      const source = Tensor.from(gpu, values, [rows, cols]);
      const out = Tensor.empty(gpu, [cols, rows]);
      const work = transposeKernel(gpu, source, out);
      runSteps(gpu, work);
      const got = await out.read();
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) assert.equal(got[c * rows + r], values[r * cols + c], `[${r}, ${c}]`);
      }
      work.destroy();
      [source, out].forEach((t) => t.destroy());
    }
    const square = Tensor.zeros(gpu, [4, 4]);
    assert.throws(() => transposeKernel(gpu, square, square), /out.*another buffer than source/);
    // Disjoint views of one buffer: WebGPU would refuse the dispatch, so the launcher refuses it first, by name.
    const pool = Tensor.zeros(gpu, [2, 64]);
    assert.throws(() => transposeKernel(gpu, pool.view(0, [4, 8]), pool.view(64, [8, 4])), /out.*another buffer/);
    pool.destroy();
    square.destroy();
    // Past the grid's limit (8 rows or columns per workgroup): refused by name, not by the device.
    const most = 8 * gpu.limits.maxComputeWorkgroupsPerDimension;
    const [tall, tallT] = [Tensor.empty(gpu, [most + 1, 1]), Tensor.empty(gpu, [1, most + 1])];
    assert.throws(() => transposeKernel(gpu, tall, tallT), /source\.shape.*at most/);
    [tall, tallT].forEach((t) => t.destroy());
  },
});
