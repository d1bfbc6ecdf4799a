import assert from "node:assert/strict";
import { SupConLoss } from "../../src/losses/supcon.ts";
import { NtXentLoss } from "../../src/losses/nt_xent.ts";
import type { NegativeWeighting } from "../../src/losses/weighting.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { gaussian } from "../../src/data/random.ts";
import { assertClose, assertFrobenius, relativeFrobenius } from "../util/compare.ts";
import { centralDifferences, type RefSupCon, supcon } from "../util/contrast_reference.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";
import { assertGradient, assertRefusedFirst, column, FORWARD, readRows } from "../util/loss_check.ts";
import { freshSeed, seededRandom } from "../util/random.ts";

type RefW = { kind: "infonce" } | { kind: "adnce"; mu: number; sigma: number };
const WEIGHTINGS: { name: string; gpu: NegativeWeighting; ref: RefW }[] = [
  { name: "InfoNCE", gpu: "infonce", ref: { kind: "infonce" } },
  { name: "ADNCE", gpu: { kind: "adnce", mu: 0.4, sigma: 0.3 }, ref: { kind: "adnce", mu: 0.4, sigma: 0.3 } },
];

/** N unit rows in `classes` clusters: row i is its class centre plus noise (same-class cosine ≈ 0.5). */
function clustered(seed: number, n: number, d: number, classes: number): { z: Float64Array; labels: number[] } {
  const random = seededRandom(seed);
  const centres = Float64Array.from({ length: classes * d }, () => gaussian(random));
  const labels = Array.from({ length: n }, () => Math.floor(random() * classes));
  const z = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let t = 0; t < d; t++) norm += (z[i * d + t] = centres[labels[i] * d + t] + gaussian(random)) ** 2;
    for (let t = 0; t < d; t++) z[i * d + t] /= Math.sqrt(norm);
  }
  return { z, labels };
}

async function runSupCon(
  gpu: Gpu,
  z64: Float64Array,
  labels: ArrayLike<number>,
  d: number,
  tau: number,
  weighting: NegativeWeighting,
  tile?: number,
) {
  const n = z64.length / d;
  const z = Tensor.from(gpu, new Float32Array(z64), [n, d]);
  const loss = new SupConLoss(gpu, z, { tau, weighting, tile, labels });
  loss.dZ.fill(NaN); // every element must be written
  loss.run();
  const out = {
    layout: loss.layout,
    anchors: loss.anchors,
    ...await readRows(loss),
    dZ: await loss.dZ.read() as Float32Array,
  };
  loss.destroy();
  z.destroy();
  return out;
}

type Got = Awaited<ReturnType<typeof runSupCon>>;

/** Largest |got − ref| / (|ref| + atol/rtol) over a list: the error in units of the forward tolerance. */
function worst(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < ref.length; i++) e = Math.max(e, Math.abs(got[i] - ref[i]) / (Math.abs(ref[i]) + 0.1));
  return e;
}

/** Row losses (0 for anchors without a positive), mean positive logits, η and the read-outs, against float64. */
function assertForward(got: Got, ref: RefSupCon, label: string): void {
  assertClose(column(got.rowOutputs, 0), ref.rows.map((r) => r?.loss ?? 0), FORWARD, `${label} row losses`);
  assertClose(column(got.rowOutputs, 2), ref.rows.map((r) => r?.meanPositive ?? 0), FORWARD, `${label} mean l_p`);
  assertClose(column(got.rowOutputs, 1), ref.rows.map((r) => r?.eta ?? 0), { rtol: 1e-4, atol: 1e-4 }, `${label} η`);
  for (const v of got.rowOutputs) assert.ok(!Number.isNaN(v), `${label}: a row output is NaN`);
  assert.equal(got.readouts.rows, ref.anchors, `${label} rows (anchors with a positive)`);
  assert.equal(got.anchors, ref.anchors, `${label} anchors`);
  for (const name of ["meanLoss", "miBound", "donskerVaradhan", "meanEta", "negatives"] as const) {
    assertClose([got.readouts[name]], [ref[name]], { rtol: 1e-4, atol: 1e-4 }, `${label} ${name}`);
  }
  assertClose([got.readouts.top1], [ref.top1], { rtol: 0, atol: 1e-6 }, `${label} top1`);
  assert.equal(got.readouts.belowFraction, 0, `${label} belowFraction (not defined for SupCon)`);
  assert.ok(got.below.every((b) => b === 0), `${label} belowCounts are 0`);
  console.log(
    `${label}: max row-loss error ${
      worst(column(got.rowOutputs, 0), ref.rows.map((r) => r?.loss ?? 0)).toExponential(2)
    }` +
      ` (relative, +0.1 floor), mean-loss error ${
        (Math.abs(got.readouts.meanLoss - ref.meanLoss) / Math.abs(ref.meanLoss || 1)).toExponential(2)
      }`,
  );
}

/** The shared gradient check (test/util/loss_check.ts), its relative Frobenius error printed. */
function assertGradientLogged(actual: Float32Array, expected: Float64Array, label: string): void {
  console.log(`${label}: relative Frobenius error ${relativeFrobenius(actual, expected).toExponential(2)}`);
  assertGradient(actual, expected, label);
}

/** ∂(mean loss)/∂Z by central differences of the float64 reference (ADNCE's weights held at z). */
function finiteDifferences(z: Float64Array, labels: number[], d: number, tau: number, w: RefW): Float64Array {
  const fixed = z.slice();
  const n = z.length / d;
  return centralDifferences(() => supcon(z, labels, { n, d }, tau, w, fixed).meanLoss, z);
}

for (const w of WEIGHTINGS) {
  Deno.test({
    name: `SupCon ${w.name} matches float64 at N=37 and N=67 (D=29, 5 classes, 3 anchors without a positive), ` +
      `materialised and tiled (tile 64), with finite-difference gradients`,
    ...gpuTest,
    async fn() {
      const gpu = await testGpu();
      const d = 29;
      const tau = 0.2;
      for (const n of [37, 67]) {
        const { z, labels } = clustered(freshSeed(`SupCon ${w.name} N=${n}`), n, d, 5);
        // Three anchors alone in their class: no positive, no term.
        labels[3] = 100;
        labels[n - 1] = 101;
        labels[n - 2] = 102;
        const ref = supcon(z, labels, { n, d }, tau, w.ref);
        assert.ok(ref.anchors <= n - 3 && ref.anchors > n / 2, `${ref.anchors} anchors with a positive`);
        const fd = finiteDifferences(z, labels, d, tau, w.ref);
        for (const tile of [undefined, 64]) {
          const got = await runSupCon(gpu, z, labels, d, tau, w.gpu, tile);
          const label = `SupCon ${w.name} N=${n} ${got.layout}`;
          assert.equal(got.layout, tile ? "tiled" : "materialised");
          assertForward(got, ref, label);
          assertGradientLogged(got.dZ, fd, `${label} dZ`);
        }
      }
    },
  });
}

Deno.test({
  name: "SupCon with unique labels for some anchors gives a finite loss equal to the reference that skips them",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [n, d, tau] = [41, 13, 0.1];
    const { z, labels } = clustered(freshSeed("SupCon unique labels"), n, d, 3);
    for (let i = 0; i < 9; i++) labels[4 * i] = 1000 + i; // nine anchors alone in their class
    const ref = supcon(z, labels, { n, d }, tau, { kind: "infonce" });
    const skipped = ref.rows.filter((r) => r === null).length;
    assert.ok(skipped >= 9, `${skipped} anchors without a positive`);
    // The reference that skips them: the mean over the others only.
    const others = ref.rows.filter((r) => r !== null).map((r) => r!.loss);
    assertClose([ref.meanLoss], [others.reduce((a, b) => a + b, 0) / others.length], { rtol: 1e-12, atol: 0 });
    const fd = finiteDifferences(z, labels, d, tau, { kind: "infonce" });
    for (const tile of [undefined, 64]) {
      const got = await runSupCon(gpu, z, labels, d, tau, "infonce", tile);
      assert.ok(Number.isFinite(got.readouts.meanLoss), `${got.layout}: mean loss ${got.readouts.meanLoss}`);
      assert.equal(got.readouts.rows, n - skipped);
      assertForward(got, ref, `unique labels ${got.layout}`);
      ref.rows.forEach((r, i) => {
        if (r === null) assert.equal(got.rowOutputs[4 * i], 0, `row ${i} without a positive has loss 0`);
      });
      assertGradientLogged(got.dZ, fd, `unique labels ${got.layout} dZ`);
    }
  },
});

Deno.test({
  name: "SupCon where no anchor has a positive reports loss 0 and rows 0, with dZ all 0 and no NaN, in both layouts",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [n, d] = [37, 29];
    const { z } = clustered(freshSeed("SupCon no positives"), n, d, 5);
    const labels = Array.from({ length: n }, (_, i) => i);
    for (const w of WEIGHTINGS) {
      for (const tile of [undefined, 64]) {
        const got = await runSupCon(gpu, z, labels, d, 0.05, w.gpu, tile);
        const label = `${w.name} ${got.layout}`;
        assert.equal(got.anchors, 0);
        for (const [name, v] of Object.entries(got.readouts)) assert.equal(v, 0, `${label} ${name}`);
        assert.ok(got.dZ.every((v) => v === 0), `${label}: dZ is not all 0`);
        for (const v of got.rowOutputs) assert.ok(!Number.isNaN(v), `${label}: a row output is NaN`);
      }
    }
  },
});

Deno.test({
  name: "SupCon with one class (no negatives at all) matches float64 and its gradients, with no NaN",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [n, d, tau] = [23, 7, 0.2];
    const { z } = clustered(freshSeed("SupCon one class"), n, d, 1);
    const labels = new Array(n).fill(4);
    for (const w of WEIGHTINGS) {
      const ref = supcon(z, labels, { n, d }, tau, w.ref);
      const fd = finiteDifferences(z, labels, d, tau, w.ref);
      for (const tile of [undefined, 64]) {
        const got = await runSupCon(gpu, z, labels, d, tau, w.gpu, tile);
        const label = `one class ${w.name} ${got.layout}`;
        assertForward(got, ref, label);
        assert.equal(got.readouts.negatives, 0);
        assertGradientLogged(got.dZ, fd, `${label} dZ`);
      }
    }
  },
});

Deno.test({
  name: "SupCon at τ = 0.02 with scores at ±1 (duplicate and opposite rows) stays finite and matches float64",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [d, tau] = [6, 0.02];
    const random = seededRandom(freshSeed("SupCon τ = 0.02"));
    const base = clustered(Math.floor(random() * 2 ** 31), 4, d, 4).z;
    // 19 rows, each ±(one of four unit vectors): same-sign copies share a label, so logits are ±50 or near 0.
    const n = 19;
    const z = new Float64Array(n * d);
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * 4);
      const sign = random() < 0.5 ? -1 : 1;
      for (let t = 0; t < d; t++) z[i * d + t] = sign * base[j * d + t];
      labels.push(sign > 0 ? j : 10 + j);
    }
    for (const w of WEIGHTINGS) {
      const ref = supcon(z, labels, { n, d }, tau, w.ref);
      const got = await runSupCon(gpu, z, labels, d, tau, w.gpu);
      for (const v of [...got.rowOutputs, ...got.dZ]) assert.ok(!Number.isNaN(v), `${w.name}: NaN`);
      for (const v of got.dZ) assert.ok(Number.isFinite(v), `${w.name}: dZ holds ${v}`);
      assertClose(column(got.rowOutputs, 0), ref.rows.map((r) => r?.loss ?? 0), { rtol: 1e-4, atol: 1e-4 }, w.name);
      assertClose([got.readouts.meanLoss], [ref.meanLoss], { rtol: 1e-4, atol: 1e-4 }, `${w.name} mean loss`);
      const fd = finiteDifferences(z, labels, d, tau, w.ref);
      // A positive's gradient e^(l_p − log D) − 1/|P| cancels to ~e^(−30) here (its copies take all the mass), so
      // compare elementwise with the fp32 residue of summing N such terms of size 1/(τ·anchors) as the floor.
      const residue = (4 * n * 2 ** -23) / (tau * ref.anchors);
      assertClose(got.dZ, fd, { rtol: 2e-3, atol: residue }, `${w.name} dZ`);
    }
  },
});

Deno.test({
  name:
    "SupCon at the extremes the kernel accepts (τ = 2e-37, σ = 6.4e-19) with 80 positives gives finite losses and dZ",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    // 80 rows at e_0 (one class: |P|·l_p = 79·5e36 would pass F32_MAX as a sum), 3 at e_1, 2 at −e_0.
    const n = 85;
    const host = new Float32Array(n * 2);
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const [x, y, label] = i < 80 ? [1, 0, 0] : i < 83 ? [0, 1, 1] : [-1, 0, 2];
      host.set([x, y], 2 * i);
      labels.push(label);
    }
    const z = Tensor.from(gpu, host, [n, 2]);
    for (const options of [{ tau: 2e-37 }, { weighting: { kind: "adnce", sigma: 6.4e-19 } as const }]) {
      for (const tile of [undefined, 64]) {
        const loss = new SupConLoss(gpu, z, { labels, tile, ...options });
        loss.run();
        const label = `${JSON.stringify(options)} ${loss.layout}`;
        const { meanLoss, rows } = await loss.readReadouts();
        assert.ok(Number.isFinite(meanLoss), `${label}: loss ${meanLoss}`);
        assert.equal(rows, n);
        assert.ok((await loss.rowOutputs.read()).every((v) => !Number.isNaN(v)), `${label}: a row output is NaN`);
        assert.ok((await loss.dZ.read()).every(Number.isFinite), `${label}: dZ finite`);
        loss.destroy();
      }
    }
    z.destroy();
  },
});

Deno.test({
  name: "SupCon with one positive per anchor (labels i mod B over 2B rows) equals NtXentLoss, row for row",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [b, d] = [19, 21];
    const { z } = clustered(freshSeed("SupCon = NT-Xent"), 2 * b, d, 7);
    const labels = Array.from({ length: 2 * b }, (_, i) => i % b);
    const zt = Tensor.from(gpu, new Float32Array(z), [2 * b, d]);
    for (const w of WEIGHTINGS) {
      const a = new SupConLoss(gpu, zt, { tau: 0.1, weighting: w.gpu, labels });
      const c = new NtXentLoss(gpu, zt, { tau: 0.1, weighting: w.gpu });
      a.run();
      c.run();
      const [ra, rc] = [await a.rowOutputs.read(), await c.rowOutputs.read()];
      assertClose(column(ra as Float32Array, 0), column(rc as Float32Array, 0), FORWARD, `${w.name} row losses`);
      assertClose(column(ra as Float32Array, 1), column(rc as Float32Array, 1), FORWARD, `${w.name} η`);
      assertFrobenius(await a.dZ.read(), await c.dZ.read(), 1e-5, `${w.name} dZ`);
      const [x, y] = [await a.readReadouts(), await c.readReadouts()];
      for (const name of ["meanLoss", "miBound", "donskerVaradhan", "meanEta", "negatives", "rows", "top1"] as const) {
        assertClose([x[name]], [y[name]], { rtol: 1e-5, atol: 1e-5 }, `${w.name} ${name}`);
      }
      a.destroy();
      c.destroy();
    }
    zt.destroy();
  },
});

Deno.test({
  name: "changing SupCon labels between runs creates no pipeline and no buffer, and each labelling is right",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [n, d, tau] = [37, 29, 0.2];
    const { z } = clustered(freshSeed("SupCon labels loop"), n, d, 5);
    const zt = Tensor.from(gpu, new Float32Array(z), [n, d]);
    for (const tile of [undefined, 64]) {
      const loss = new SupConLoss(gpu, zt, { tau, tile });
      const random = seededRandom(freshSeed("labellings"));
      let after: { pipelines: number; buffers: number } | null = null;
      for (const classes of [2, 5, 11, 37, 40, 1]) {
        const labels = Array.from({ length: n }, () => Math.floor(random() * classes));
        loss.setLabels(labels);
        loss.run();
        const ref = supcon(z, labels, { n, d }, tau, { kind: "infonce" });
        const got = await loss.readReadouts();
        assert.equal(got.rows, ref.anchors, `${classes} classes: rows`);
        assertClose([got.meanLoss], [ref.meanLoss], FORWARD, `${loss.layout}, ${classes} classes: mean loss`);
        after ??= { pipelines: gpu.counters.pipelinesCreated, buffers: gpu.counters.buffersAllocated };
      }
      assert.equal(gpu.counters.pipelinesCreated, after!.pipelines, "pipelines created while labels changed");
      assert.equal(gpu.counters.buffersAllocated, after!.buffers, "buffers allocated while labels changed");
      loss.destroy();
    }
    zt.destroy();
  },
});

Deno.test({
  name: "SupCon rejects DCL, HCL and bad labels before any GPU work, naming the argument and its value",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const z = Tensor.zeros(gpu, [5, 3]);
    const one = Tensor.zeros(gpu, [1, 3]);
    const cases: [string, () => unknown, RegExp][] = [
      [
        "DCL",
        () => new SupConLoss(gpu, z, { weighting: "dcl", labels: [0, 0, 1, 1, 2] }),
        /options\.weighting\.kind must be "infonce" or "adnce" .*: current value is "dcl"/,
      ],
      [
        "HCL",
        () => new SupConLoss(gpu, z, { weighting: { kind: "hcl", beta: 2 } }),
        /options\.weighting\.kind must be "infonce" or "adnce" .*: current value is "hcl"/,
      ],
      ["N = 1", () => new SupConLoss(gpu, one), /z\.shape\[0\] must be >= 2 .*: current value is 1/],
      [
        "labels too short",
        () => new SupConLoss(gpu, z, { labels: [0, 1] }),
        /options\.labels\.length must be N = 5 .*: current value is 2/,
      ],
      [
        "negative label",
        () => new SupConLoss(gpu, z, { labels: [0, 1, -1, 0, 1] }),
        /options\.labels\[2\] must be an integer in \[0, 2³² − 1\]: current value is -1/,
      ],
      [
        "fractional label",
        () => new SupConLoss(gpu, z, { labels: [0, 1, 2, 0.5, 1] }),
        /options\.labels\[3\] must be an integer in \[0, 2³² − 1\]: current value is 0\.5/,
      ],
      [
        "label past u32",
        () => new SupConLoss(gpu, z, { labels: [0, 1, 2, 2 ** 32, 1] }),
        /options\.labels\[3\] must be an integer .*: current value is 4294967296/,
      ],
      [
        "labels not an array",
        () => new SupConLoss(gpu, z, { labels: 3 as unknown as number[] }),
        /options\.labels must be an array of class labels: current value is 3/,
      ],
      [
        "tile not a multiple of 64",
        () => new SupConLoss(gpu, z, { tile: 100 }),
        /options\.tile must be a multiple of 64: current value is 100/,
      ],
    ];
    const loss = new SupConLoss(gpu, z);
    assert.throws(() => loss.run(), /labels must be set .* before the first encode: current value is "unset"/);
    cases.push(
      [
        "setLabels NaN",
        () => loss.setLabels([0, 1, NaN, 0, 1]),
        /labels\[2\] must be an integer .*: current value is NaN/,
      ],
      [
        "setLabels length",
        () => loss.setLabels([0, 1, 2, 0, 1, 2]),
        /labels\.length must be N = 5 .*: current value is 6/,
      ],
    );
    assertRefusedFirst(gpu, cases);
    assert.equal(loss.anchors, -1, "failed setLabels left the loss without labels");
    loss.destroy();
    z.destroy();
    one.destroy();
  },
});
