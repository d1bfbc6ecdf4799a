import assert from "node:assert/strict";
import type { ContrastiveReadouts } from "../../src/losses/loss.ts";
import { NtXentLoss } from "../../src/losses/nt_xent.ts";
import { SampledContrastiveLoss } from "../../src/losses/sampled.ts";
import type { NegativeWeighting } from "../../src/losses/weighting.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { assertClose, assertFrobenius } from "../util/compare.ts";
import {
  batch,
  centralDifferences,
  inBatchRows,
  type RefBatch,
  type RefWeighting,
  rowClamped,
  sampledRows,
} from "../util/contrast_reference.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { assertGradient, assertRefusedFirst, column, FORWARD, readRows } from "../util/loss_check.ts";
import { freshSeed, seededRandom } from "../util/random.ts";
import { gaussian } from "../../src/data/random.ts";

/** The four weightings, as the GPU and the reference each take them. */
const WEIGHTINGS: { name: string; gpu: NegativeWeighting; ref: RefWeighting }[] = [
  { name: "InfoNCE", gpu: "infonce", ref: { kind: "infonce" } },
  { name: "ADNCE", gpu: { kind: "adnce", mu: 0.4, sigma: 0.3 }, ref: { kind: "adnce", mu: 0.4, sigma: 0.3 } },
  { name: "DCL", gpu: { kind: "dcl", tauPlus: 0.3 }, ref: { kind: "dcl", tauPlus: 0.3 } },
  { name: "HCL", gpu: { kind: "hcl", beta: 1, tauPlus: 0.3 }, ref: { kind: "hcl", beta: 1, tauPlus: 0.3 } },
];

function unitRows(random: () => number, rows: number, d: number): Float64Array {
  const out = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    let norm = 0;
    for (let t = 0; t < d; t++) norm += (out[i * d + t] = gaussian(random)) ** 2;
    for (let t = 0; t < d; t++) out[i * d + t] /= Math.sqrt(norm);
  }
  return out;
}

/** Row `to` becomes a unit vector at cosine ≈ `cos` with row `from` of `src`. */
function correlate(dst: Float64Array, to: number, src: Float64Array, from: number, d: number, cos: number): void {
  let norm = 0;
  for (let t = 0; t < d; t++) {
    dst[to * d + t] = cos * src[from * d + t] + Math.sqrt(1 - cos * cos) * dst[to * d + t];
    norm += dst[to * d + t] ** 2;
  }
  for (let t = 0; t < d; t++) dst[to * d + t] /= Math.sqrt(norm);
}

interface SampledCase {
  b: number;
  d: number;
  n: number;
  k: number;
  kMax: number;
  q: Float64Array;
  c: Float64Array;
  idx: Uint32Array;
}

/** Unit anchors and candidates; row i's positive is candidate i at a cosine spread over [-0.2, 0.95]. */
function sampledCase(seed: number, b = 13, d = 33, n = 29, k = 7, kMax = 9): SampledCase {
  const random = seededRandom(seed);
  const q = unitRows(random, b, d);
  const c = unitRows(random, n, d);
  for (let i = 0; i < b; i++) correlate(c, i, q, i, d, -0.2 + (1.15 * i) / Math.max(1, b - 1));
  const idx = new Uint32Array(b * (kMax + 1));
  for (let i = 0; i < b; i++) {
    idx[i * (kMax + 1)] = i;
    for (let j = 1; j <= kMax; j++) idx[i * (kMax + 1) + j] = Math.floor(random() * n);
  }
  return { b, d, n, k, kMax, q, c, idx };
}

/** 2B unit rows; row i + B is view 2 of row i at a cosine spread over [-0.2, 0.95]. */
function inBatchCase(seed: number, b: number, d: number): Float64Array {
  const random = seededRandom(seed);
  const z = unitRows(random, 2 * b, d);
  for (let i = 0; i < b; i++) correlate(z, b + i, z, i, d, -0.2 + (1.15 * i) / Math.max(1, b - 1));
  return z;
}

async function runSampled(gpu: Gpu, s: SampledCase, tau: number, weighting: NegativeWeighting, vectorized?: boolean) {
  const q = Tensor.from(gpu, new Float32Array(s.q), [s.b, s.d]);
  const c = Tensor.from(gpu, new Float32Array(s.c), [s.n, s.d]);
  const options = { kMax: s.kMax, k: s.k, tau, weighting, indices: s.idx, vectorized };
  const loss = new SampledContrastiveLoss(gpu, q, c, options);
  loss.dQ.fill(NaN); // every element must be written
  loss.dC.fill(NaN);
  loss.run();
  const out = {
    ...await readRows(loss),
    dQ: await loss.dQ.read() as Float32Array,
    dC: await loss.dC.read() as Float32Array,
    vectorized: loss.vectorized,
  };
  loss.destroy();
  q.destroy();
  c.destroy();
  return out;
}

async function runInBatch(
  gpu: Gpu,
  z64: Float64Array,
  r: number,
  d: number,
  tau: number,
  w: NegativeWeighting,
  tile?: number,
) {
  const z = Tensor.from(gpu, new Float32Array(z64), [r, d]);
  const loss = new NtXentLoss(gpu, z, { tau, weighting: w, tile });
  loss.dZ.fill(NaN);
  loss.run();
  const out = { layout: loss.layout, ...await readRows(loss), dZ: await loss.dZ.read() as Float32Array };
  loss.destroy();
  z.destroy();
  return out;
}

/** Forward: per-row loss, η and counts, and the batch read-outs, against the float64 reference. */
function assertForward(
  got: { readouts: ContrastiveReadouts; rowOutputs: Float32Array; below: Uint32Array },
  ref: RefBatch,
  label: string,
): void {
  // Row losses: 1e-4 relative, plus, where DCL/HCL's debiasing cancels, the fp32 error that cancellation
  // amplifies (1e-6 of the sums, times the row's conditioning; 0 extra for InfoNCE and ADNCE).
  const atol = ref.rows.map((r) => FORWARD.atol + 1e-6 * Math.max(0, r.conditioning - 1));
  assertClose(column(got.rowOutputs, 0), ref.rows.map((r) => r.loss), { ...FORWARD, atol }, `${label} row losses`);
  assertClose(column(got.rowOutputs, 1), ref.rows.map((r) => r.eta), { rtol: 1e-4, atol: 1e-4 }, `${label} row η`);
  // Counts are exact except where a negative ties the positive to fp32 precision.
  const ties = ref.rows.reduce((a, r) => a + r.nearTies, 0);
  ref.rows.forEach((r, i) => {
    assert.ok(
      Math.abs(got.below[i] - r.below) <= r.nearTies,
      `${label} row ${i}: ${got.below[i]} below, f64 ${r.below}`,
    );
  });
  for (const name of ["meanLoss", "miBound", "donskerVaradhan", "meanEta"] as const) {
    assertClose([got.readouts[name]], [ref[name]], { rtol: 1e-4, atol: 1e-4 }, `${label} ${name}`);
  }
  const n = ref.rows.length;
  assertClose([got.readouts.belowFraction], [ref.belowFraction], {
    rtol: 1e-6,
    atol: 1e-6 + ties / (n * ref.negatives),
  }, `${label} belowFraction`);
  assertClose([got.readouts.top1], [ref.top1], { rtol: 0, atol: 1e-6 + ties / n }, `${label} top1`);
  assert.equal(got.readouts.negatives, ref.negatives);
}

function sampledRef(s: SampledCase, tau: number, w: RefWeighting): RefBatch {
  return batch(sampledRows(s.q, s.c, s.idx, s), tau, w);
}

/** ∂(mean loss)/∂q and ∂/∂c by central differences of the float64 reference (ADNCE's weights held fixed). */
function sampledFiniteDifferences(s: SampledCase, tau: number, w: RefWeighting) {
  const fixed = { q: s.q.slice(), c: s.c.slice() };
  const f = () => batch(sampledRows(s.q, s.c, s.idx, s, fixed), tau, w).meanLoss;
  return { dQ: centralDifferences(f, s.q), dC: centralDifferences(f, s.c) };
}

/**
 * Two fp32 gradients of the same quantity computed two ways: elementwise 1e-5·|b| + 1e-5·max|b|. The absolute term
 * is there because an element can be a near-cancelling sum of terms as large as max|b|. ADNCE adds its log-weight
 * to each logit, which costs a few ulps of the larger of the two.
 */
function assertSameGradient(a: Float32Array, b: Float32Array, label: string): void {
  const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(a, b, { rtol: 1e-5, atol: 1e-5 * scale }, label);
}

for (const w of WEIGHTINGS) {
  Deno.test({
    name: `sampled ${w.name} matches float64 at B=13, K=7 (K_max=9), N=29, D=33 (scalar gathers) and D=36 (vec4 ` +
      `gathers, bit for bit the scalar ones), and its backward matches finite differences`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      for (const d of [33, 36]) {
        const s = sampledCase(freshSeed(`sampled ${w.name} D=${d}`), 13, d);
        const tau = w.ref.kind === "hcl" || w.ref.kind === "dcl" ? 0.5 : 0.2;
        const ref = sampledRef(s, tau, w.ref);
        if (w.ref.kind === "dcl" || w.ref.kind === "hcl") {
          const clamped = sampledRows(s.q, s.c, s.idx, s).map((row) => rowClamped(row, tau, w.ref));
          assert.ok(clamped.some((x) => x) && clamped.some((x) => !x), `both clamp branches present: ${clamped}`);
        }
        const got = await runSampled(gpu, s, tau, w.gpu);
        const label = `sampled ${w.name} D=${d}`;
        assertForward(got, ref, label);
        const fd = sampledFiniteDifferences(s, tau, w.ref);
        assertGradient(got.dQ, fd.dQ, `${label} dQ`);
        assertGradient(got.dC, fd.dC, `${label} dC`);
        assert.equal(got.vectorized, d % 4 === 0, `${label}: the vec4 gathers run exactly when D is a multiple of 4`);
        if (d % 4 === 0) {
          // The vec4 gathers add in the scalar ones' order: the same bits, not just close.
          const scalar = await runSampled(gpu, s, tau, w.gpu, false);
          assert.equal(scalar.vectorized, false);
          for (const part of ["rowOutputs", "dQ", "dC"] as const) {
            assert.deepEqual(got[part], scalar[part], `${label}: ${part} of the vec4 and scalar gathers`);
          }
        }
      }
    },
  });

  Deno.test({
    name: `in-batch ${w.name} matches float64 at B=13, D=33, materialised and tiled, with finite-difference gradients`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const b = 13;
      const d = 33;
      const r = 2 * b;
      const z = inBatchCase(freshSeed(`in-batch ${w.name}`), b, d);
      const tau = w.ref.kind === "hcl" || w.ref.kind === "dcl" ? 0.5 : 0.2;
      const ref = batch(inBatchRows(z, { r, d }), tau, w.ref);
      if (w.ref.kind === "dcl" || w.ref.kind === "hcl") {
        const clamped = inBatchRows(z, { r, d }).map((row) => rowClamped(row, tau, w.ref));
        assert.ok(clamped.some((x) => x) && clamped.some((x) => !x), `both clamp branches present: ${clamped}`);
      }
      const fixed = z.slice();
      const fd = centralDifferences(() => batch(inBatchRows(z, { r, d }, fixed), tau, w.ref).meanLoss, z);
      for (const tile of [undefined, 64]) {
        const got = await runInBatch(gpu, z, r, d, tau, w.gpu, tile);
        assert.equal(got.layout, tile ? "tiled" : "materialised");
        assertForward(got, ref, `in-batch ${w.name} ${got.layout}`);
        assertGradient(got.dZ, fd, `in-batch ${w.name} ${got.layout} dZ`);
      }
    },
  });
}

Deno.test({
  name: "tiled in-batch over 3×3 tiles (2B=134, partial last tile) agrees with the materialised loss and float64",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const b = 67;
    const d = 33;
    const z = inBatchCase(freshSeed("tiled 134"), b, d);
    for (const w of WEIGHTINGS) {
      const tau = 0.2;
      const materialised = await runInBatch(gpu, z, 2 * b, d, tau, w.gpu);
      const tiled = await runInBatch(gpu, z, 2 * b, d, tau, w.gpu, 64);
      assertForward(tiled, batch(inBatchRows(z, { r: 2 * b, d }), tau, w.ref), `tiled ${w.name}`);
      assertClose(tiled.rowOutputs, materialised.rowOutputs, FORWARD, `${w.name} row outputs, tiled vs materialised`);
      assertFrobenius(tiled.dZ, materialised.dZ, 1e-4, `${w.name} dZ, tiled vs materialised`);
    }
  },
});

Deno.test({
  name: "ADNCE with σ = 1e6 equals InfoNCE in both layouts",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const s = sampledCase(freshSeed("ADNCE wide"));
    const wide: NegativeWeighting = { kind: "adnce", mu: 0.4, sigma: 1e6 };
    const a = await runSampled(gpu, s, 0.1, wide);
    const b = await runSampled(gpu, s, 0.1, "infonce");
    assertClose(a.rowOutputs, b.rowOutputs, { rtol: 1e-6, atol: 1e-6 }, "sampled row outputs");
    assertSameGradient(a.dQ, b.dQ, "sampled dQ");
    assertSameGradient(a.dC, b.dC, "sampled dC");
    const z = inBatchCase(freshSeed("ADNCE wide in-batch"), 13, 33);
    const x = await runInBatch(gpu, z, 26, 33, 0.1, wide);
    const y = await runInBatch(gpu, z, 26, 33, 0.1, "infonce");
    assertClose(x.rowOutputs, y.rowOutputs, { rtol: 1e-6, atol: 1e-6 }, "in-batch row outputs");
    assertSameGradient(x.dZ, y.dZ, "in-batch dZ");
  },
});

Deno.test({
  name: "ADNCE on a row whose negatives all score the same equals InfoNCE",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const s = sampledCase(freshSeed("equal negatives"));
    // Every negative of a row is one candidate, so its scores are equal.
    for (let i = 0; i < s.b; i++) s.idx.fill(s.b + (i % (s.n - s.b)), i * (s.kMax + 1) + 1, (i + 1) * (s.kMax + 1));
    const a = await runSampled(gpu, s, 0.1, { kind: "adnce", mu: 0.4, sigma: 0.3 });
    const b = await runSampled(gpu, s, 0.1, "infonce");
    assertClose(column(a.rowOutputs, 0), column(b.rowOutputs, 0), { rtol: 1e-6, atol: 1e-6 }, "row losses");
    assertSameGradient(a.dQ, b.dQ, "dQ");
    assertSameGradient(a.dC, b.dC, "dC");
    assertClose(
      column(b.rowOutputs, 0),
      sampledRef(s, 0.1, { kind: "infonce" }).rows.map((r) => r.loss),
      FORWARD,
      "vs float64",
    );
  },
});

Deno.test({
  name: "τ = 0.02 with scores at ±1 gives finite losses and gradients that agree with float64, for every weighting",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const seed = freshSeed("τ = 0.02");
    const random = seededRandom(seed);
    const b = 7;
    const d = 5;
    const s = sampledCase(seed, b, d, 2 * b, 6, 6);
    // Candidate i is anchor i (score +1), candidate b + i its opposite (score -1).
    s.q = unitRows(random, b, d);
    for (let i = 0; i < b; i++) {
      for (let t = 0; t < d; t++) {
        s.c[i * d + t] = s.q[i * d + t];
        s.c[(b + i) * d + t] = -s.q[i * d + t];
      }
      for (let j = 1; j <= s.kMax; j++) s.idx[i * (s.kMax + 1) + j] = random() < 0.3 ? i : b + i;
    }
    for (const w of WEIGHTINGS) {
      const got = await runSampled(gpu, s, 0.02, w.gpu);
      const ref = sampledRef(s, 0.02, w.ref);
      for (const v of [...got.rowOutputs, ...got.dQ, ...got.dC]) assert.ok(Number.isFinite(v), `${w.name}: ${v}`);
      assertClose(
        column(got.rowOutputs, 0),
        ref.rows.map((r) => r.loss),
        { rtol: 1e-4, atol: 1e-4 },
        `${w.name} losses`,
      );
      const fd = sampledFiniteDifferences(s, 0.02, w.ref);
      // dQ_i is parallel to q_i with a coefficient that cancels to ~0 (every candidate is ±q_i): allow the fp32
      // residue of summing K+1 terms each at most (1+2β)/((1-τ+)·τ·B): 4·(K+1)·2⁻²³ times that.
      const beta = w.ref.kind === "hcl" ? w.ref.beta : 0;
      const tauPlus = w.ref.kind === "hcl" || w.ref.kind === "dcl" ? w.ref.tauPlus : 0;
      const residue = (4 * (s.k + 1) * 2 ** -23 * (1 + 2 * beta)) / ((1 - tauPlus) * 0.02 * b);
      assertGradient(got.dQ, fd.dQ, `${w.name} dQ`, residue);
      assertGradient(got.dC, fd.dC, `${w.name} dC`, residue);
    }
  },
});

Deno.test({
  name: "changing K up through 1..K_max and down again creates no pipeline and no buffer after the first call, and " +
    "each K's loss and gradients are right, with scalar (D=33) and vec4 (D=36, 40, 44: 1, 2 and 3 vec4 columns in a " +
    "thread's last group; the scalar bits at every K) gathers",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    for (const d of [33, 36, 40, 44]) {
      const s = sampledCase(freshSeed(`K loop D=${d}`), 13, d, 29, 1, 9);
      const q = Tensor.from(gpu, new Float32Array(s.q), [s.b, s.d]);
      const c = Tensor.from(gpu, new Float32Array(s.c), [s.n, s.d]);
      const options = { kMax: s.kMax, k: 1, tau: 0.2, indices: s.idx };
      const loss = new SampledContrastiveLoss(gpu, q, c, options);
      // A scalar twin of each vec4 loss: a vec4 thread's four slots (K_max + 1 = 10 per row) straddle K at most K.
      // dScores past K are zero in both, so the comparison catches a write into the next row, not within one.
      const scalar = d % 4 === 0 ? new SampledContrastiveLoss(gpu, q, c, { ...options, vectorized: false }) : null;
      assert.equal(loss.vectorized, d % 4 === 0);
      let after: { pipelines: number; buffers: number } | null = null;
      // Up from the K the table was set at, then down again: dC's inverse index, built for the columns in use when
      // the table was set, must grow with K (rebuilt by setK) and may stay larger when K shrinks.
      const ks = [
        ...Array.from({ length: s.kMax }, (_, i) => i + 1),
        ...Array.from({ length: s.kMax - 1 }, (_, i) => s.kMax - 1 - i),
      ];
      for (const k of ks) {
        loss.setK(k);
        loss.run();
        const readouts = await loss.readReadouts();
        assert.equal(readouts.negatives, k);
        const ref = sampledRef({ ...s, k }, 0.2, { kind: "infonce" });
        assertClose([readouts.meanLoss], [ref.meanLoss], FORWARD, `D=${d}: mean loss at K=${k}`);
        const fd = sampledFiniteDifferences({ ...s, k }, 0.2, { kind: "infonce" });
        const dQ = await loss.dQ.read() as Float32Array;
        const dC = await loss.dC.read() as Float32Array;
        assertGradient(dQ, fd.dQ, `D=${d}: dQ at K=${k}`);
        assertGradient(dC, fd.dC, `D=${d}: dC at K=${k}`);
        if (scalar) {
          scalar.setK(k);
          scalar.run();
          assert.deepEqual(await loss.scores.read(), await scalar.scores.read(), `vec4 and scalar dScores at K=${k}`);
          assert.deepEqual(dQ, await scalar.dQ.read(), `vec4 and scalar dQ at K=${k}`);
          assert.deepEqual(dC, await scalar.dC.read(), `vec4 and scalar dC at K=${k}`);
        }
        after ??= { pipelines: gpu.counters.pipelinesCreated, buffers: gpu.counters.buffersAllocated };
      }
      // A table refused halfway (its first rows valid) leaves the last good one whole: growing K afterwards rebuilds
      // dC's index from that table, not from a mix of the two.
      loss.setK(1);
      loss.setIndices(s.idx);
      const bad = Array.from(s.idx, (v, i) => (i < s.idx.length / 2 ? (v + 1) % s.n : v));
      bad[bad.length - 1] = s.n;
      assert.throws(() => loss.setIndices(bad), /indices\[\d+\] must be an integer/);
      loss.setK(s.kMax);
      loss.run();
      const whole = sampledFiniteDifferences({ ...s, k: s.kMax }, 0.2, { kind: "infonce" });
      assertGradient(await loss.dC.read() as Float32Array, whole.dC, `D=${d}: dC after a refused table and a larger K`);
      assert.equal(gpu.counters.pipelinesCreated, after!.pipelines, `D=${d}: pipelines created while K changed`);
      assert.equal(gpu.counters.buffersAllocated, after!.buffers, `D=${d}: buffers allocated while K changed`);
      loss.destroy();
      scalar?.destroy();
      q.destroy();
      c.destroy();
    }
  },
});

Deno.test({
  name: "bad arguments throw before any GPU work, naming the argument and its value",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const q = Tensor.zeros(gpu, [4, 8]);
    const c = Tensor.zeros(gpu, [6, 8]);
    const c7 = Tensor.zeros(gpu, [6, 7]);
    const odd = Tensor.zeros(gpu, [5, 8]);
    const idx = new Uint32Array(4 * 3);
    const cases: [string, () => unknown, RegExp][] = [
      [
        "vec4 gathers at D = 7",
        () => new SampledContrastiveLoss(gpu, c7.view(0, [4, 7]), c7, { kMax: 2, vectorized: true }),
        /options\.vectorized must be false when D \(7\) is not a multiple of 4: current value is true/,
      ],
      [
        "τ = 0",
        () => new SampledContrastiveLoss(gpu, q, c, { kMax: 2, tau: 0 }),
        /options\.tau must be > 0: current value is 0/,
      ],
      [
        "σ = 0",
        () => new SampledContrastiveLoss(gpu, q, c, { kMax: 2, weighting: { kind: "adnce", sigma: 0 } }),
        /options\.weighting\.sigma must be > 0: current value is 0/,
      ],
      [
        "τ+ = 1",
        () => new NtXentLoss(gpu, q, { weighting: { kind: "dcl", tauPlus: 1 } }),
        /options\.weighting\.tauPlus must be in \[0, 1\): current value is 1/,
      ],
      [
        "β < 0",
        () => new NtXentLoss(gpu, q, { weighting: { kind: "hcl", beta: -1 } }),
        /options\.weighting\.beta must be >= 0: current value is -1/,
      ],
      [
        "K = 0",
        () => new SampledContrastiveLoss(gpu, q, c, { kMax: 2, k: 0 }),
        /options\.k must be an integer in \[1, 2\]: current value is 0/,
      ],
      [
        "K > K_max",
        () => new SampledContrastiveLoss(gpu, q, c, { kMax: 2, k: 3 }),
        /options\.k must be an integer in \[1, 2\]: current value is 3/,
      ],
      [
        "index ≥ N",
        () => new SampledContrastiveLoss(gpu, q, c, { kMax: 2, indices: idx.map((_, i) => (i === 5 ? 6 : 0)) }),
        /indices\[5\] must be an integer in \[0, 5\] \(a row of c\): current value is 6/,
      ],
      [
        "index table too short",
        () => new SampledContrastiveLoss(gpu, q, c, { kMax: 2, indices: [0, 1] }),
        /indices\.length must be B·\(1 \+ kMax\) = 4·3 = 12: current value is 2/,
      ],
      [
        "D mismatch",
        () => new SampledContrastiveLoss(gpu, q, c7, { kMax: 2 }),
        /c\.shape must be \[N, 8\] \(the same D as q\): current value is \[6, 7\]/,
      ],
      [
        "odd 2B",
        () => new NtXentLoss(gpu, odd),
        /z\.shape\[0\] must be an even number >= 4 .*: current value is 5/,
      ],
      [
        "tile not a multiple of 64",
        () => new NtXentLoss(gpu, q, { tile: 100 }),
        /options\.tile must be a multiple of 64: current value is 100/,
      ],
      [
        "unknown weighting",
        () => new NtXentLoss(gpu, q, { weighting: "nce" as NegativeWeighting }),
        /options\.weighting\.kind must be "infonce", "adnce", "dcl" or "hcl": current value is "nce"/,
      ],
    ];
    assertRefusedFirst(gpu, cases);
    const loss = new SampledContrastiveLoss(gpu, q, c, { kMax: 2, indices: idx });
    assert.throws(() => loss.setK(3), /k must be an integer in \[1, 2\]: current value is 3/);
    assert.throws(() => loss.setIndices([...idx.slice(0, 11), -1]), /indices\[11\] must be an integer in \[0, 5\]/);
    loss.destroy();
    for (const t of [q, c, c7, odd]) t.destroy();
  },
});

Deno.test({
  name: "sampled InfoNCE and ADNCE with a queue of 17 past candidates match float64 with scalar (D=33) and vec4 " +
    "(D=36, the scalar bits) gathers; no gradient reaches the queue",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    for (const d of [33, 36]) {
      const seed = freshSeed(`queue D=${d}`);
      // Candidates 0..N−1 are the batch's, N..N+17 the queue's; the table draws from both.
      const base = sampledCase(seed, 13, d, 29 + 17, 7, 9);
      const n = 29;
      const random = seededRandom(seed + 1);
      const idx = base.idx.map((v, slot) => (slot % 10 === 0 ? v : Math.floor(random() * (n + 17))));
      const s = { ...base, idx };
      for (const w of WEIGHTINGS.filter((x) => x.ref.kind === "infonce" || x.ref.kind === "adnce")) {
        const label = `queue ${w.name} D=${d}`;
        const q = Tensor.from(gpu, new Float32Array(s.q), [s.b, s.d]);
        const c = Tensor.from(gpu, new Float32Array(s.c.subarray(0, n * s.d)), [n, s.d]);
        const queue = Tensor.from(gpu, new Float32Array(s.c.subarray(n * s.d)), [17, s.d]);
        const options = { kMax: s.kMax, k: s.k, tau: 0.2, weighting: w.gpu, indices: s.idx, queue };
        const results = [];
        for (const vectorized of d % 4 === 0 ? [true, false] : [false]) {
          const loss = new SampledContrastiveLoss(gpu, q, c, { ...options, vectorized });
          assert.equal(loss.queued, 17);
          assert.equal(loss.vectorized, vectorized);
          loss.run();
          results.push({
            ...await readRows(loss),
            dQ: await loss.dQ.read() as Float32Array,
            dC: await loss.dC.read() as Float32Array,
          });
          assert.deepEqual(loss.dC.shape, [n, s.d], "dC covers the batch's candidates only");
          assert.throws(
            () => loss.setIndices(new Uint32Array(s.idx.length).fill(n + 17)),
            /indices\[0\] must be an integer in \[0, 45\]/,
          );
          loss.destroy();
        }
        const got = results[0];
        assertForward(got, sampledRef(s, 0.2, w.ref), label);
        const fd = sampledFiniteDifferences(s, 0.2, w.ref); // over all 46 candidates: the queue's rows too
        assertGradient(got.dQ, fd.dQ, `${label} dQ`);
        assertGradient(got.dC, fd.dC.slice(0, n * s.d), `${label} dC`);
        const queueGrad = fd.dC.slice(n * s.d).reduce((a, v) => a + Math.abs(v), 0);
        assert.ok(queueGrad > 0, "the queue's rows do enter the loss (their exact gradient is not 0)");
        if (results.length === 2) {
          for (const part of ["rowOutputs", "dQ", "dC"] as const) {
            assert.deepEqual(results[0][part], results[1][part], `${label}: ${part} of the vec4 and scalar gathers`);
          }
        }
        for (const t of [q, c, queue]) t.destroy();
      }
    }
  },
});
