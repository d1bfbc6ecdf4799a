/**
 * `deno task experiment:p2` — ADNCE tested where P2 claims it helps
 * (docs/science.md §4): self-supervised SimCLR, no labels in training, two
 * augmented views per item and the other 2B − 2 views as negatives, some of
 * them of the same class (the sampling bias). It trains with InfoNCE, DCL,
 * HCL and ADNCE on a small (μ, σ) grid around the official settings, at
 * equal τ for each τ, several seeds, on synthetic clusters with few and with
 * many classes (few classes: many same-class negatives) and on
 * Fashion-MNIST, then scores each encoder by kNN accuracy and a linear probe
 * on frozen features, next to raw pixels under the same protocol. It writes
 * a markdown report, a plot and every run's record into `docs/`.
 *
 *   deno task experiment:p2 [--steps 300] [--seeds 3] [--taus 0.1,0.2,0.5] [--datasets synthetic4,synthetic20,fashion]
 */

import {
  type AffineRanges,
  knnEvaluate,
  type LabelledBytes,
  linearProbe,
  loadMnistFiles,
  type NegativeWeighting,
  type PhotometricRanges,
  pixelEmbeddings,
  requestGpu,
  syntheticSplits,
  Trainer,
  type TrainerConfig,
} from "../mod.ts";
import { evaluationRows } from "../src/train/eval.ts";
import { exitOnMistakes, integerFlag, listFlag, namesFlag, parseFlags, requireFashion } from "./_args.ts";
import { freshRunLog, methodChart, minutesLeft, percent, stats, table, writeVegaLiteSvg } from "./_report.ts";

exitOnMistakes("experiment:p2");
const args = parseFlags(
  {
    steps: { type: "string", default: "300" },
    seeds: { type: "string", default: "3" },
    taus: { type: "string", default: "0.1,0.2,0.5" },
    datasets: { type: "string", default: "synthetic4,synthetic20,fashion" },
  },
  `Usage: deno task experiment:p2 [options]
  --steps N        training steps per run (default 300)
  --seeds N        seeds per cell, 1..N (default 3)
  --taus LIST      temperatures; every loss runs at each (default 0.1,0.2,0.5)
  --datasets LIST  synthetic4, synthetic20 (synthetic clusters with 4 or 20 classes) and/or fashion
                   (default all three; fashion needs dataset-fashion-mnist)
  --out DIR        where p2-experiment.md, p2-experiment.svg and p2-experiment-runs.jsonl go (default docs)`,
);
const steps = integerFlag("steps", args.steps, 10);
const seeds = integerFlag("seeds", args.seeds, 1);
const taus = listFlag("taus", args.taus, (t) => t > 0 && t <= 10, "temperatures in (0, 10]");

/** The losses compared, at equal τ: the weighting is the only difference. */
const METHODS: { name: string; weighting: NegativeWeighting }[] = [
  { name: "InfoNCE", weighting: "infonce" },
  { name: "DCL (τ+ 0.1)", weighting: { kind: "dcl", tauPlus: 0.1 } },
  { name: "HCL (β 1, τ+ 0.1)", weighting: { kind: "hcl", beta: 1, tauPlus: 0.1 } },
  { name: "ADNCE (μ 0.7, σ 0.5)", weighting: { kind: "adnce", mu: 0.7, sigma: 0.5 } }, // official CIFAR-10
  { name: "ADNCE (μ 0.8, σ 1.0)", weighting: { kind: "adnce", mu: 0.8, sigma: 1.0 } }, // official STL-10
  { name: "ADNCE (μ 0.6, σ 0.5)", weighting: { kind: "adnce", mu: 0.6, sigma: 0.5 } }, // their neighbour
];

/**
 * Per dataset: data, encoder, batch and views, sized so that one run takes seconds on llvmpipe. The synthetic
 * images are not spatial (each pixel is a coordinate of a random prototype), so warping would destroy what two
 * views share: their views differ only photometrically. Fashion-MNIST's views are warped and cropped as well.
 */
interface Setup {
  title: string;
  dims: number[];
  batch: number;
  augment: AffineRanges;
  photometric: PhotometricRanges;
  load: (seed: number) => Promise<{ train: LabelledBytes; test: LabelledBytes }>;
}
/** Synthetic clusters with `classes` classes, `share` of the negatives in the anchor's class. */
const synthetic = (classes: number, share: string): Setup => ({
  title: `Synthetic clusters, ${classes} classes (${share} of the negatives share the anchor's class)`,
  dims: [144, 128, 64],
  batch: 128,
  augment: { rotate: 0, scale: [1, 1], shear: 0, translate: 0 },
  photometric: { contrast: [0.8, 1.2], brightness: 0.1, noise: 0.1 },
  load: (seed) => Promise.resolve(syntheticSplits({ side: 12, classes, noise: 3, seed, testRows: 2000 })),
});
const SETUPS: Record<string, Setup> = {
  synthetic4: synthetic(4, "a quarter"),
  synthetic20: synthetic(20, "a twentieth"),
  fashion: {
    title: "Fashion-MNIST (10 classes)",
    dims: [784, 256, 128],
    batch: 128,
    augment: { rotate: 15, scale: [0.8, 1.2], shear: 0.15, translate: 2, crop: [0.5, 1] },
    photometric: { contrast: [0.7, 1.3], brightness: 0.2, noise: 0.1 },
    load: () => loadMnistFiles(),
  },
};
const datasets = namesFlag("datasets", args.datasets, Object.keys(SETUPS));
await requireFashion(datasets, "or leave fashion out");
const [BANK, QUERIES, PROBE_ROWS] = [5000, 2000, 3000];

interface Run {
  dataset: string;
  tau: number;
  seed: number;
  method: string;
  knn: number;
  probe: number;
  loss: number;
  eta: number;
  donskerVaradhan: number;
  seconds: number;
}

/** kNN (k = 10, cosine) and a linear probe (trained on the bank's first rows) of bank and query embeddings. */
function score(
  bank: Float32Array,
  bankLabels: number[],
  queries: Float32Array,
  queryLabels: number[],
  dim: number,
  classes: number,
) {
  const knn = knnEvaluate(bank, bankLabels, queries, queryLabels, dim, { k: 10 }).accuracy;
  const probe = linearProbe(
    bank.subarray(0, PROBE_ROWS * dim),
    bankLabels.slice(0, PROBE_ROWS),
    queries,
    queryLabels,
    dim,
    classes,
    {
      steps: 150,
    },
  ).accuracy;
  return { knn, probe };
}

const gpu = await requestGpu();
const adapter = gpu.info.description || gpu.info.vendor;
const total = datasets.length * taus.length * seeds * METHODS.length;
console.log(
  `P2 experiment on ${adapter}: ${total} runs of ${steps} steps (${datasets} × τ ∈ {${taus}} × ${seeds} seeds)`,
);
const log = await freshRunLog(args.out, "p2-experiment-runs.jsonl");
const runs: Run[] = [];
const pixels: Record<string, { knn: number; probe: number }> = {};
const began = performance.now();
for (const dataset of datasets) {
  const setup = SETUPS[dataset];
  for (let seed = 1; seed <= seeds; seed++) {
    const data = await setup.load(seed);
    // The trainer's evaluation rows, for the raw-pixel baseline.
    const { bankRows, queryRows, bankLabels, queryLabels } = evaluationRows(data.train, data.test, {
      bank: BANK,
      queries: QUERIES,
    });
    if (seed === 1) {
      const width = data.train.width;
      pixels[dataset] = score(
        pixelEmbeddings(data.train, bankRows),
        bankLabels,
        pixelEmbeddings(data.test, queryRows),
        queryLabels,
        width,
        data.train.classes,
      );
    }
    for (const tau of taus) {
      for (const method of METHODS) {
        const config: TrainerConfig = {
          mode: "simclr",
          dims: [...setup.dims],
          batch: setup.batch,
          steps,
          seed,
          loss: { tau, weighting: method.weighting },
          augment: setup.augment,
          photometric: setup.photometric,
          metricsEvery: 10,
          evalSizes: { bank: BANK, queries: QUERIES },
        };
        const t0 = performance.now();
        const trainer = new Trainer(gpu, data, config);
        const records = await trainer.run();
        const dim = setup.dims.at(-1)!;
        const result = score(
          await trainer.embed("train", bankRows),
          bankLabels,
          await trainer.embed("test", queryRows),
          queryLabels,
          dim,
          data.train.classes,
        );
        trainer.destroy();
        const tail = records.slice(-5);
        const mean = (f: (r: (typeof records)[number]) => number) => tail.reduce((a, r) => a + f(r), 0) / tail.length;
        const run: Run = {
          dataset,
          tau,
          seed,
          method: method.name,
          ...result,
          loss: mean((r) => r.loss),
          eta: mean((r) => r.eta),
          donskerVaradhan: mean((r) => r.donskerVaradhan),
          seconds: (performance.now() - t0) / 1000,
        };
        runs.push(run);
        await log.append(run);
        console.log(
          `[${runs.length}/${total}] ${dataset} τ=${tau} seed ${seed} ${method.name}: kNN ${
            (100 * run.knn).toFixed(1)
          }%, probe ${(100 * run.probe).toFixed(1)}% (${run.seconds.toFixed(1)} s, ` +
            `ETA ${minutesLeft(began, runs.length, total)} min)`,
        );
      }
    }
  }
}

// The report: per dataset and τ, every method's kNN and probe accuracy (mean ± sd over seeds) and P2's
// diagnostics; then, per dataset, ADNCE's best grid point against InfoNCE at each τ, with the spread.
const cell = (d: string, tau: number, m: string) =>
  runs.filter((r) => r.dataset === d && r.tau === tau && r.method === m);
const date = new Date().toISOString().slice(0, 10);
const minutes = ((performance.now() - began) / 60000).toFixed(1);
const lines = [
  "# Experiment: ADNCE against InfoNCE where P2 says it helps (self-supervised SimCLR)",
  "",
  `Command: \`deno task experiment:p2 --steps ${steps} --seeds ${seeds} --taus ${taus} --datasets ${datasets}\`  `,
  `Date: ${date}. Adapter: ${adapter}. Seeds: 1–${seeds}. Wall time: ${minutes} min.`,
  "",
  "Each run trains an L2-normalised MLP with no labels: two augmented views of each of B items are a positive",
  'pair and the other 2B − 2 views are its negatives (SimCLR\'s NT-Xent; `Trainer` with `mode: "simclr"`). The',
  "losses differ only in how negatives are weighted (docs/science.md §2), at the same τ. After training, the",
  `frozen encoder embeds ${BANK} training items (the bank) and the first ${QUERIES} test items; the scores are`,
  "kNN accuracy (k = 10, cosine, clean labels) and a linear probe (multinomial logistic regression trained on",
  `the bank's first ${PROBE_ROWS} embeddings, 150 full-batch Adam steps) on the test items, in %, mean ± sd over`,
  "seeds. η is P2's DRO radius (mean over rows of log M − H(π)) and DV the Donsker–Varadhan estimate, both",
  "averaged over the last five metrics records. Raw pixels under the same protocol are the floor.",
  "Setups: " + datasets.map((d) => {
    const s = SETUPS[d];
    return `${d}: MLP ${s.dims.join("→")}, B = ${s.batch} (${2 * s.batch} views)`;
  }).join("; ") + `; Adam, peak lr 2e-3 with warm-up and cosine, ${steps} steps.`,
  "Nothing was tuned after seeing results: the grid above is every variant that was run.",
  "",
];
const points: Record<string, unknown>[] = [];
for (const d of datasets) {
  lines.push(`## ${SETUPS[d].title}`, "");
  lines.push(
    `Raw pixels: kNN ${(100 * pixels[d].knn).toFixed(1)}%, linear probe ${(100 * pixels[d].probe).toFixed(1)}%.`,
    "",
  );
  for (const tau of taus) {
    lines.push(`τ = ${tau}:`, "");
    lines.push(...table(
      ["loss", "kNN", "linear probe", "final loss", "η", "DV"],
      METHODS.map((m) => {
        const c = cell(d, tau, m.name);
        for (const r of c) points.push({ dataset: d, tau: `τ = ${tau}`, method: m.name, knn: 100 * r.knn });
        return [
          m.name,
          percent(c.map((r) => r.knn)),
          percent(c.map((r) => r.probe)),
          stats(c.map((r) => r.loss)).m.toFixed(3),
          stats(c.map((r) => r.eta)).m.toFixed(3),
          stats(c.map((r) => r.donskerVaradhan)).m.toFixed(3),
        ];
      }),
    ));
    lines.push("");
  }
  lines.push(
    "ADNCE against InfoNCE at equal τ (difference of the means, in points; sd of the per-seed differences):",
    "",
  );
  lines.push(...table(
    ["τ", "ADNCE grid point", "kNN Δ", "probe Δ"],
    taus.flatMap((tau) =>
      METHODS.filter((m) => m.name.startsWith("ADNCE")).map((m) => {
        const diff = (f: (r: Run) => number) => {
          const base = cell(d, tau, "InfoNCE");
          const per = cell(d, tau, m.name).map((r, i) => 100 * (f(r) - f(base[i])));
          const s = stats(per);
          return `${s.m >= 0 ? "+" : ""}${s.m.toFixed(1)} ± ${s.sd.toFixed(1)}`;
        };
        return [String(tau), m.name.replace("ADNCE ", ""), diff((r) => r.knn), diff((r) => r.probe)];
      })
    ),
  ));
  lines.push("");
}
lines.push("![kNN accuracy by loss and τ](p2-experiment.svg)", "");
await Deno.writeTextFile(`${args.out}/p2-experiment.md`, lines.join("\n"));
await writeVegaLiteSvg(
  `${args.out}/p2-experiment.svg`,
  methodChart({
    title: `SimCLR kNN accuracy by loss at equal τ (mean ± sd over ${seeds} seeds, ${steps} steps, ${adapter})`,
    points,
    methods: METHODS.map((m) => m.name),
    y: { field: "knn", title: "kNN accuracy (%)" },
    group: { field: "tau", title: null },
    width: 560,
    height: 170,
  }),
);
console.log(lines.join("\n"));
console.log(`wrote ${args.out}/p2-experiment.md, ${args.out}/p2-experiment.svg, ${log.path}`);
gpu.destroy();
