import assert from "node:assert/strict";
import { baseParams } from "../../src/losses/loss.ts";
import type { NegativeWeighting } from "../../src/losses/weighting.ts";
import {
  BLOCK_BYTES,
  BlockFlag,
  contrastKernel,
  packBlock,
  packContrastParams,
  STATS_FLOATS,
  WHOLE,
} from "../../src/ops/contrast.ts";
import type { ContrastParams } from "../../src/ops/contrast.ts";
import { sequence } from "../../src/gpu/_kernel.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { SampledContrastiveLoss } from "../../src/losses/sampled.ts";
import { assertClose } from "../util/compare.ts";
import { batch, centralDifferences, sampledRows } from "../util/contrast_reference.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { assertGradient, FORWARD } from "../util/loss_check.ts";
import { freshSeed, seededRandom } from "../util/random.ts";

// The row reduction's two forms, a workgroup per row (`row_loss_and_grad`) and a thread per row
// (`row_loss_and_grad_by_thread`, which `rowReduction` picks on CPU adapters for rows of at most 1024 scores), must
// give the same bits: the thread walks the workgroup's lanes and merges them in its tree's order. Correctness against
// float64 is tested through the losses (contrast_test.ts and test/losses/).

const WEIGHTINGS: [string, NegativeWeighting][] = [
  ["InfoNCE", "infonce"],
  ["ADNCE", { kind: "adnce", mu: 0.4, sigma: 0.3 }],
  ["DCL", { kind: "dcl", tauPlus: 0.3 }],
  ["HCL", { kind: "hcl", beta: 1, tauPlus: 0.3 }],
];

type Form = "row_loss_and_grad" | "row_loss_and_grad_by_thread";
interface BlockScores {
  col0: number;
  ncols: number;
  flags: number;
  scores: Float32Array; // [rows, ncols]
}

/** Runs the blocks in order through one form; returns every buffer the reduction writes. */
async function reduceRows(
  gpu: Gpu,
  form: Form,
  params: ContrastParams,
  posScores: Float32Array,
  blocks: BlockScores[],
  labels: Uint32Array,
): Promise<Record<string, ArrayLike<number>>> {
  const rows = params.rows;
  const uniform = (bytes: ArrayBuffer | Uint32Array, size: number) => {
    const b = gpu.acquire("test:uniform", size, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    gpu.device.queue.writeBuffer(b, 0, bytes);
    return b;
  };
  const paramsBuffer = uniform(packContrastParams(params), 64);
  const state = {
    params: paramsBuffer,
    pos_scores: Tensor.from(gpu, posScores, [rows]),
    stats: Tensor.zeros(gpu, [rows, STATS_FLOATS]),
    row_out: Tensor.zeros(gpu, [rows, 4]),
    below: Tensor.from(gpu, new Uint32Array(rows), [rows]),
    coef: Tensor.zeros(gpu, [rows, 4]),
    labels: Tensor.from(gpu, labels, [labels.length]),
  };
  const scores = blocks.map((b) => Tensor.from(gpu, b.scores, [rows, b.ncols]));
  const uniforms = blocks.map((b) =>
    uniform(
      packBlock({ row0: 0, col0: b.col0, nrows: rows, ncols: b.ncols, stride: b.ncols, flags: b.flags }),
      BLOCK_BYTES,
    )
  );
  const kernels = blocks.map((_, i) =>
    contrastKernel(
      gpu,
      "test",
      form,
      { ...state, block: uniforms[i], scores: scores[i] },
      form === "row_loss_and_grad" ? { rows } : { threads: rows },
    )
  );
  gpu.runPass("test", sequence(kernels));
  const out: Record<string, ArrayLike<number>> = {};
  for (const name of ["stats", "row_out", "below", "coef"] as const) out[name] = await state[name].read();
  for (const [i, s] of scores.entries()) out[`scores ${i}`] = await s.read();
  kernels.forEach((k) => k.destroy());
  [state.pos_scores, state.stats, state.row_out, state.below, state.coef, state.labels, ...scores].forEach((t) =>
    t.destroy()
  );
  [paramsBuffer, ...uniforms].forEach((b) => gpu.release(b));
  return out;
}

function randomScores(random: () => number, count: number): Float32Array {
  return Float32Array.from({ length: count }, () => 2 * random() - 1);
}

for (const [name, weighting] of WEIGHTINGS) {
  Deno.test({
    name: `${name}: the sampled row reduction by thread gives the workgroup form's bits at B=13, K_max=150 ` +
      `(2-3 columns a lane), K = 1, 63, 100, 150`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const random = seededRandom(freshSeed(`rows ${name}`));
      const rows = 13;
      const kMax = 150;
      const width = kMax + 1;
      const scores = randomScores(random, rows * width);
      const posScores = Float32Array.from({ length: rows }, (_, i) => scores[i * width]);
      const tau = typeof weighting === "object" && weighting.kind !== "adnce" ? 0.5 : 0.2;
      for (const k of [1, 63, 100, 150]) {
        const params: ContrastParams = {
          ...baseParams("test", { weighting, tau }),
          rows,
          k,
          kMax,
          dim: 4,
          candidates: rows,
          inBatch: false,
          gradScale: 1 / rows,
        };
        const blocks = [{ col0: 0, ncols: width, flags: WHOLE, scores }];
        const labels = new Uint32Array(1);
        const byGroup = await reduceRows(gpu, "row_loss_and_grad", params, posScores, blocks, labels);
        const byThread = await reduceRows(gpu, "row_loss_and_grad_by_thread", params, posScores, blocks, labels);
        assert.ok(Array.from(byGroup.row_out).every(Number.isFinite), `${name} K=${k}: finite losses`);
        for (const part of Object.keys(byGroup)) {
          assert.deepEqual(byThread[part], byGroup[part], `${name} K=${k}: ${part} by thread and by workgroup`);
        }
      }
    },
  });
}

for (const supcon of [false, true]) {
  const name = supcon ? "SupCon" : "in-batch InfoNCE (NT-Xent)";
  Deno.test({
    name: `${name} over three column blocks (FIRST, a middle one, LAST with backward): the row reduction by thread ` +
      "gives the workgroup form's bits at R=129, 50 + 45 + 34 columns",
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const random = seededRandom(freshSeed(`rows ${name}`));
      const widths = [50, 45, 34];
      const rows = widths[0] + widths[1] + widths[2];
      const labels = Uint32Array.from({ length: rows }, () => Math.floor(random() * 4));
      const params: ContrastParams = {
        ...baseParams("test", { tau: 0.2 }),
        rows,
        k: 0,
        kMax: 0,
        dim: 4,
        candidates: 0,
        inBatch: true,
        supcon,
        gradScale: 1 / rows,
      };
      const scores = randomScores(random, rows * rows);
      const columns = (col0: number, ncols: number) =>
        Float32Array.from(
          { length: rows * ncols },
          (_, e) => scores[Math.floor(e / ncols) * rows + col0 + (e % ncols)],
        );
      const flags = [BlockFlag.first, 0, BlockFlag.last | BlockFlag.grad];
      const col0s = [0, widths[0], widths[0] + widths[1]];
      const blocks = widths.map((ncols, b) => ({
        col0: col0s[b],
        ncols,
        flags: flags[b],
        scores: columns(col0s[b], ncols),
      }));
      // In-batch InfoNCE's positive is row i's partner, i ± R/2 (as the shader's partner()); SupCon reads none.
      const posScores = Float32Array.from({ length: rows }, (_, i) => scores[i * rows + ((i + (rows >> 1)) % rows)]);
      const byGroup = await reduceRows(gpu, "row_loss_and_grad", params, posScores, blocks, labels);
      const byThread = await reduceRows(gpu, "row_loss_and_grad_by_thread", params, posScores, blocks, labels);
      assert.ok(Array.from(byGroup.row_out).some((v) => v !== 0), `${name}: rows were finalised`);
      for (const part of Object.keys(byGroup)) {
        assert.deepEqual(byThread[part], byGroup[part], `${name}: ${part} by thread and by workgroup`);
      }
    },
  });
}

Deno.test({
  name: "a sampled loss with rows wider than 1024 scores (K_max = 1100) reduces a workgroup per row, and matches " +
    "float64 and finite differences at K = 3 and 1100; narrower rows go a thread per row on a CPU adapter",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("wide rows"));
    const [b, n, d, kMax] = [5, 40, 8, 1100];
    const q64 = Float64Array.from({ length: b * d }, () => random() - 0.5);
    const c64 = Float64Array.from({ length: n * d }, () => random() - 0.5);
    const idx = Uint32Array.from(
      { length: b * (kMax + 1) },
      (_, s) => s % (kMax + 1) === 0 ? s / (kMax + 1) : Math.floor(random() * n),
    );
    const q = Tensor.from(gpu, new Float32Array(q64), [b, d]);
    const c = Tensor.from(gpu, new Float32Array(c64), [n, d]);
    const narrow = new SampledContrastiveLoss(gpu, q, c, { kMax: 1023, tau: 0.2 });
    assert.equal(
      narrow.rowsByThread,
      gpu.info.isFallbackAdapter,
      "1 + K_max = 1024: a thread per row on a CPU adapter",
    );
    narrow.destroy();
    const loss = new SampledContrastiveLoss(gpu, q, c, { kMax, tau: 0.2, indices: idx });
    assert.equal(loss.rowsByThread, false, "1 + K_max = 1101: a workgroup per row");
    for (const k of [3, kMax]) {
      loss.setK(k);
      loss.run();
      const shape = { b, d, k, kMax };
      const ref = batch(sampledRows(q64, c64, idx, shape), 0.2, { kind: "infonce" });
      // fp32 forward: 1e-4 relative (FORWARD), as everywhere in the loss tests.
      assertClose([(await loss.readReadouts()).meanLoss], [ref.meanLoss], FORWARD, `mean loss at K=${k}`);
      const fixed = { q: q64.slice(), c: c64.slice() };
      const f = () => batch(sampledRows(q64, c64, idx, shape, fixed), 0.2, { kind: "infonce" }).meanLoss;
      // Gradients: 2e-3 relative against central differences of the float64 reference (assertGradient).
      assertGradient(await loss.dQ.read() as Float32Array, centralDifferences(f, q64), `dQ at K=${k}`);
      assertGradient(await loss.dC.read() as Float32Array, centralDifferences(f, c64), `dC at K=${k}`);
    }
    loss.destroy();
    q.destroy();
    c.destroy();
  },
});
