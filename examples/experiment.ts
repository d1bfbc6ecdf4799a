/**
 * `deno task experiment` — how many negatives, where the question lives:
 * negatives drawn without looking at labels (uniform over the other rows of
 * a batch of 257), so that a fraction 1/C of them share the
 * anchor's class; λ = 1 − 1/C is set by merging classes (C ∈ {2, 5, 10}),
 * with symmetric label noise r on top. Per cell (dataset, C, r) and seed it
 * trains with fixed K from 1 to 256, with ANS ramping to the theory's K*, and
 * with the closed loop given λ and estimating λ, then measures kNN accuracy
 * on the clean (merged) test labels. Writes docs/experiment.md, .svg and
 * every run to docs/experiment-runs.jsonl.
 *
 * Runs are appended as they finish and a rerun skips those already there
 * (same dataset, C, r, seed, method, steps), so the experiment can be
 * stopped and continued; the report says how many seeds each cell has.
 * Seeds go outermost: the first seed of every cell comes first.
 *
 *   deno task experiment [--steps 2000] [--seeds 3] [--datasets fashion,synthetic] [--classes 10,5,2]
 *                        [--rates 0,0.2] [--ks 1,2,4,8,16,32,64,128,256] [--batch 257] [--queue 0]
 *                        [--report-only] [--fresh]
 *
 * A queue of past positives (--batch 128 --queue 256, MoCo's FIFO without its
 * momentum encoder) was the first design; it collapsed the synthetic runs and
 * cost Fashion-MNIST about 5 points, so the default draws every negative from
 * the batch. Runs of either design are kept apart by their batch and queue.
 */

import {
  FASHION_MNIST_MERGES,
  injectLabelNoise,
  type LabelledBytes,
  limitBestK,
  loadMnistFiles,
  mergeClasses,
  moduloMerge,
  requestGpu,
  resolveTrainerConfig,
  Rng,
  syntheticSplits,
  Trainer,
  type TrainerConfig,
} from "../mod.ts";
import { integerFlag, listFlag, namesFlag, parseFlags, requireFashion } from "./_args.ts";
import { stats, table, writeVegaLiteSvg } from "./_report.ts";
import { otherDesignLines, type Run } from "./_experiment_designs.ts";
import { SYNTHETIC_NOISE } from "./synthetic_noise.ts";
import { appendJsonl } from "../src/train/console.ts";

const args = parseFlags(
  {
    steps: { type: "string", default: "2000" },
    seeds: { type: "string", default: "3" },
    datasets: { type: "string", default: "fashion,synthetic" },
    classes: { type: "string", default: "10,5,2" },
    rates: { type: "string", default: "0,0.2" },
    ks: { type: "string", default: "1,2,4,8,16,32,64,128,256" },
    batch: { type: "string", default: "257" },
    queue: { type: "string", default: "0" },
    "report-only": { type: "boolean", default: false },
    fresh: { type: "boolean", default: false },
  },
  `Usage: deno task experiment [options]
  --steps N        training steps per run (default 2000)
  --seeds N        seeds per cell, 1..N (default 3)
  --datasets LIST  fashion and/or synthetic (default fashion,synthetic; fashion needs dataset-fashion-mnist)
  --classes LIST   merged class counts C, each 2, 5 or 10 (default 10,5,2: C = 10 first, where a PyTorch run found an interior best K)
  --rates LIST     symmetric label-noise rates on the merged labels (default 0,0.2)
  --ks LIST        fixed K values, each in 1..256 (default 1,2,4,8,16,32,64,128,256)
  --batch B        anchors per step (default 257: K up to 256 from the batch alone)
  --queue N        past positives' embeddings to draw negatives from too (default 0; MoCo's FIFO without a
                   momentum encoder, which collapsed training here: see docs/experiment.md)
  --report-only    write the report from the runs already in experiment-runs.jsonl, train nothing
  --fresh          forget earlier runs (default: skip runs already recorded)
  --out DIR        where experiment.md, experiment.svg and experiment-runs.jsonl go (default docs)`,
);
const steps = integerFlag("steps", args.steps, 10);
const seeds = integerFlag("seeds", args.seeds, 1);
const classesList = listFlag("classes", args.classes, (v) => [2, 5, 10].includes(v), "2, 5 or 10");
const rates = listFlag("rates", args.rates, (v) => v >= 0 && v < 1, "rates in [0, 1)");
const FIXED = listFlag("ks", args.ks, (v) => Number.isInteger(v) && v >= 1 && v <= 256, "integers in 1..256");
const datasets = namesFlag("datasets", args.datasets, ["fashion", "synthetic"]);
if (!args["report-only"]) await requireFashion(datasets, "or --datasets synthetic");

const BATCH = integerFlag("batch", args.batch, 2);
const QUEUE = integerFlag("queue", args.queue, 0);
const K_MAX = Math.min(256, BATCH - 1 + QUEUE);
if (Math.max(...FIXED) > K_MAX) {
  throw new RangeError(
    `--ks goes up to ${Math.max(...FIXED)}, but --batch ${BATCH} --queue ${QUEUE} give K at most ${K_MAX}`,
  );
}
const SHAPES = {
  fashion: { name: "Fashion-MNIST", dims: [784, 256, 128], bank: 5000, queries: 2000 },
  synthetic: {
    name: `synthetic clusters (16×16, noise ${SYNTHETIC_NOISE})`,
    dims: [256, 128, 64],
    bank: 5000,
    queries: 2000,
  },
} as const;

type Method = { name: string; config: (kStar: number) => Partial<TrainerConfig> };
const METHODS: Method[] = [
  ...FIXED.map((k) => ({ name: `K=${k}`, config: () => ({ schedule: { kind: "fixed" as const, k } }) })),
  { name: "ANS", config: (kStar) => ({ schedule: { kind: "ans" as const, kStar, warmup: 0.2 } }) },
  { name: "closed loop, λ known", config: () => ({ schedule: { kind: "closed" as const } }) },
  {
    name: "closed loop, λ estimated",
    config: () => ({ schedule: { kind: "closed" as const, estimateLambda: true } }),
  },
];

/** The dataset with its classes merged to C, then r of the merged training labels flipped. */
async function load(dataset: string, classes: number, rate: number, seed: number) {
  const raw = dataset === "fashion"
    ? await loadMnistFiles()
    : syntheticSplits({ side: 16, noise: SYNTHETIC_NOISE, seed, trainRows: 12_000, testRows: 2_000 });
  const mapping = dataset === "fashion" ? FASHION_MNIST_MERGES[classes as 2 | 5 | 10] : moduloMerge(10, classes);
  const train = mergeClasses(raw.train, mapping);
  const test = mergeClasses(raw.test, mapping);
  const rng = new Rng(1000 + seed);
  const labels = rate > 0 ? injectLabelNoise(train.cleanLabels, classes, rate, () => rng.next()).labels : train.labels;
  return { train: { ...train, labels } as LabelledBytes, test };
}

const runsPath = `${args.out}/experiment-runs.jsonl`;
// Batch and queue, and the synthetic set's noise (runs before it was recorded had 3.5): runs differing in these are
// kept apart.
const design = (r: Pick<Run, "batch" | "queue" | "dataset" | "noise">) =>
  `B=${r.batch ?? 128} queue=${r.queue ?? 256}` + (r.dataset === "synthetic" ? ` noise=${r.noise ?? 3.5}` : "");
const current = (dataset: string) => design({ batch: BATCH, queue: QUEUE, dataset, noise: SYNTHETIC_NOISE });
const key = (
  r: Pick<Run, "dataset" | "classes" | "rate" | "seed" | "method" | "steps" | "batch" | "queue" | "noise">,
) => [r.dataset, r.classes, r.rate, r.seed, r.method, r.steps, design(r)].join("|");
await Deno.mkdir(args.out, { recursive: true });
if (args.fresh) await Deno.writeTextFile(runsPath, "");
let recorded: Run[] = [];
try {
  recorded = (await Deno.readTextFile(runsPath)).split("\n").filter(Boolean).map((l) => JSON.parse(l));
} catch (error) {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
const done = new Set(recorded.map(key));

const gpu = await requestGpu();
const adapter = gpu.info.description || gpu.info.vendor;
const plan: { dataset: string; classes: number; rate: number; seed: number; method: Method }[] = [];
for (let seed = 1; seed <= seeds; seed++) {
  for (const dataset of datasets) {
    for (const classes of classesList) {
      for (const rate of rates) {
        for (const method of METHODS) {
          const run = { dataset, classes, rate, seed, method: method.name, steps, batch: BATCH, queue: QUEUE };
          if (!done.has(key({ ...run, noise: SYNTHETIC_NOISE }))) plan.push({ dataset, classes, rate, seed, method });
        }
      }
    }
  }
}
console.log(
  `experiment on ${adapter}: ${plan.length} runs of ${steps} steps to go (${done.size} recorded in ${runsPath})`,
);
const began = performance.now();
type Loaded = { id: string; data: { train: LabelledBytes; test: LabelledBytes } };
let loaded = null as Loaded | null;
for (const [i, p] of (args["report-only"] ? [] : plan).entries()) {
  const id = `${p.dataset}|${p.classes}|${p.rate}|${p.seed}`;
  if (loaded?.id !== id) loaded = { id, data: await load(p.dataset, p.classes, p.rate, p.seed) };
  const shape = SHAPES[p.dataset as keyof typeof SHAPES];
  const base: TrainerConfig = {
    dims: [...shape.dims],
    batch: BATCH,
    kMax: K_MAX,
    queue: QUEUE,
    excludeSameLabel: false,
    steps,
    seed: p.seed,
    metricsEvery: 10,
    evalSizes: { bank: shape.bank, queries: shape.queries },
  };
  const lambda = resolveTrainerConfig(base, loaded.data.train).lambda;
  const t0 = performance.now();
  const trainer = new Trainer(gpu, loaded.data, { ...base, ...p.method.config(limitBestK(lambda, K_MAX)) });
  const records = await trainer.run();
  const result = await trainer.evaluate();
  trainer.destroy();
  const tail = records.slice(-10);
  const mean = (f: (r: (typeof records)[number]) => number, rs = tail) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  const run: Run = {
    dataset: p.dataset,
    classes: p.classes,
    rate: p.rate,
    seed: p.seed,
    method: p.method.name,
    steps,
    batch: BATCH,
    queue: QUEUE,
    ...(p.dataset === "synthetic" ? { noise: SYNTHETIC_NOISE } : {}),
    lambda,
    accuracy: result.accuracy,
    recall1: result.recall[1],
    kFinal: records.at(-1)!.k,
    kMean: mean((r) => r.k, records),
    kStarFinal: mean((r) => r.kStar),
    lambdaHat: mean((r) => r.lambdaHat),
    seconds: (performance.now() - t0) / 1000,
  };
  recorded.push(run);
  await appendJsonl(runsPath, run);
  const eta = ((performance.now() - began) / 1000 / (i + 1)) * (plan.length - i - 1);
  console.log(
    `[${i + 1}/${plan.length}] ${p.dataset} C=${p.classes} r=${p.rate} seed ${p.seed} ${p.method.name}: ` +
      `${(100 * run.accuracy).toFixed(1)}% (K ${run.kFinal}, λ̂ ${run.lambdaHat.toFixed(3)}, ` +
      `${run.seconds.toFixed(0)} s, ETA ${(eta / 3600).toFixed(1)} h)`,
  );
}

// The report, from every recorded run of this length and design.
const thisDesign = (r: Run) => r.steps === steps && design(r) === current(r.dataset);
// Runs of the planned grid only (the flags' datasets, C, r, seeds and methods), so "N of M planned" counts like with like.
const runs = recorded.filter((r) =>
  thisDesign(r) && datasets.includes(r.dataset) && classesList.includes(r.classes) && rates.includes(r.rate) &&
  r.seed <= seeds && METHODS.some((m) => m.name === r.method)
);
const otherDesigns = recorded.filter((r) => r.steps === steps && design(r) !== current(r.dataset));
const cellRuns = (d: string, c: number, r: number, m: string) =>
  runs.filter((x) => x.dataset === d && x.classes === c && x.rate === r && x.method === m);
const pct = (xs: number[]) => {
  if (!xs.length) return "—";
  const s = stats(xs.map((x) => 100 * x));
  return xs.length > 1 ? `${s.m.toFixed(1)} ± ${s.sd.toFixed(1)}` : `${s.m.toFixed(1)} (1 seed)`;
};
const date = new Date().toISOString().slice(0, 10);
/** The methods some runs used, fixed K first by K, then the adaptive ones in METHODS' order. */
function methodsOf(some: Run[]): string[] {
  const names = [...new Set(some.map((r) => r.method))];
  const k = (name: string) => (name.startsWith("K=") ? Number(name.slice(2)) : Infinity);
  const rank = (name: string) => METHODS.findIndex((m) => m.name === name);
  return names.sort((a, b) => k(a) - k(b) || rank(a) - rank(b));
}
const lines = [
  "# Experiment: how many negatives, with label-unaware negatives",
  "",
  `Command: \`deno task experiment --steps ${steps} --seeds ${seeds} --datasets ${datasets} --classes ${classesList} ` +
  `--rates ${rates} --ks ${FIXED} --batch ${BATCH} --queue ${QUEUE}\`  `,
  `Report written ${date}. Adapter: ${adapter}. Runs recorded: ${runs.length} of ${
    datasets.length * classesList.length * rates.length * seeds * METHODS.length
  } planned (seeds 1–${seeds}); each cell below says how many seeds it has.`,
  "",
  "Setting (P1's): an anchor's positive is another training item with its (noisy, merged) label; its K negatives",
  `are drawn uniformly, without looking at labels, from the other ${BATCH - 1} rows of the batch` +
  (QUEUE ? ` and a queue of the last ${QUEUE} positives' embeddings (MoCo-style, no gradient through them).` : "."),
  "A negative shares the anchor's class with",
  "probability 1/C, so λ = 1 − 1/C: C = 2, 5, 10 give λ = 0.5, 0.8, 0.9. Label noise r flips merged training",
  "labels symmetrically (it corrupts positives; λ as modelled does not include it). Accuracy: kNN (k = 10) on clean",
  "merged test labels against clean-labelled training items, mean ± sd over seeds, in %. " +
  Object.entries(SHAPES).filter(([d]) => datasets.includes(d)).map(([, s]) =>
    `${s.name}: MLP ${s.dims.join("→")}, bank ${s.bank} × ${s.queries} queries`
  ).join("; ") + `. B = ${BATCH}, τ = 0.1, InfoNCE, Adam (peak lr 2e-3, warm-up and cosine), ${steps} steps, ` +
  `K_max = ${K_MAX}.`,
  "ANS ramps K from 1 to K*(λ, μ → 1) over the first 20% and holds. The closed loop recomputes K* every 20 steps",
  'from the live rank counts (F(K) variant "model": I(K) = 1 − P(B|K), w_good = 1, w_bad = −1, Beta(1, 1)',
  'pseudo-counts; smoothed, at most ±4 per update); "λ estimated" replaces the known λ by the running estimate',
  "λ̂ = 2·(fraction of negatives below the positive) − 1 (docs/science.md §3). F(K)'s pieces were fixed before",
  "these runs and not changed after.",
  "",
];
const points: Record<string, unknown>[] = [];
for (const d of datasets) {
  lines.push(`## ${SHAPES[d as keyof typeof SHAPES].name}`, "");
  const cells = classesList.flatMap((c) => rates.map((r) => ({ c, r, label: `C = ${c}, r = ${r}` })));
  lines.push(
    ...table(
      ["method", ...cells.map((x) => x.label)],
      METHODS.map((m) => [m.name, ...cells.map(({ c, r }) => pct(cellRuns(d, c, r, m.name).map((x) => x.accuracy)))]),
    ),
    "",
  );
  const summary = (label: string, f: (c: number, r: number) => string) => [label, ...cells.map(({ c, r }) => f(c, r))];
  // The best fixed K only once every fixed K of the cell has run: a best among some would mislead.
  const bestFixed = (c: number, r: number) => {
    const fixed = FIXED.map((k) => ({ k, xs: cellRuns(d, c, r, `K=${k}`).map((x) => x.accuracy) }));
    if (fixed.some((b) => !b.xs.length)) return undefined;
    return fixed.map((b) => ({ ...b, m: stats(b.xs).m })).sort((a, b) => b.m - a.m)[0];
  };
  const versus = (c: number, r: number, name: string) => {
    const best = bestFixed(c, r);
    const xs = cellRuns(d, c, r, name).map((x) => x.accuracy);
    if (!best || !xs.length) return "—";
    const diff = 100 * (stats(xs).m - best.m);
    return `${diff >= 0 ? "+" : ""}${diff.toFixed(1)}`;
  };
  const kMeans = (c: number, r: number, name: string, f: (x: Run) => number, digits = 1) => {
    const xs = cellRuns(d, c, r, name).map(f);
    return xs.length ? stats(xs).m.toFixed(digits) : "—";
  };
  lines.push(
    ...table(["summary", ...cells.map((x) => x.label)], [
      summary("λ = 1 − 1/C", (c) => (1 - 1 / c).toFixed(2)),
      summary("best fixed K (accuracy)", (c, r) => {
        const b = bestFixed(c, r);
        return b ? `${b.k} (${(100 * b.m).toFixed(1)})` : "—";
      }),
      summary('K* predicted, F "model", μ → 1', (c) => String(limitBestK(1 - 1 / c, K_MAX))),
      summary('K* predicted, F "mi" (log(K+1)), μ → 1', (c) => {
        return String(limitBestK(1 - 1 / c, K_MAX, { informativeness: "mi" }));
      }),
      summary(
        "K* of the closed loop at the end (λ known)",
        (c, r) => kMeans(c, r, "closed loop, λ known", (x) => x.kStarFinal),
      ),
      summary(
        "K at the end (λ known / λ estimated)",
        (c, r) =>
          `${kMeans(c, r, "closed loop, λ known", (x) => x.kFinal)} / ${
            kMeans(c, r, "closed loop, λ estimated", (x) => x.kFinal)
          }`,
      ),
      summary(
        "λ̂ at the end (estimated run)",
        (c, r) => kMeans(c, r, "closed loop, λ estimated", (x) => x.lambdaHat, 3),
      ),
      summary("ANS − best fixed (points)", (c, r) => versus(c, r, "ANS")),
      summary("closed loop, λ known − best fixed", (c, r) => versus(c, r, "closed loop, λ known")),
      summary("closed loop, λ estimated − best fixed", (c, r) => versus(c, r, "closed loop, λ estimated")),
      summary(
        "seeds in the cell (fewest over methods)",
        (c, r) => String(Math.min(...METHODS.map((m) => cellRuns(d, c, r, m.name).length))),
      ),
    ]),
    "",
  );
  for (const { c, r, label } of cells) {
    for (const k of FIXED) {
      const xs = cellRuns(d, c, r, `K=${k}`).map((x) => 100 * x.accuracy);
      if (xs.length) {
        points.push({ dataset: d, cell: label, k, accuracy: stats(xs).m, sd: stats(xs).sd, kind: "fixed K" });
      }
    }
    points.push({ dataset: d, cell: label, k: limitBestK(1 - 1 / c, K_MAX), kind: "K* (model, μ → 1)" });
  }
}
lines.push("![accuracy against fixed K per λ, predicted K* marked](experiment.svg)", "");
lines.push(...otherDesignLines(otherDesigns, design, methodsOf, pct));
lines.push(
  "## The first experiment: label-aware negatives",
  "",
  "Kept from before (docs/experiment-label-aware.md, `deno task experiment:label-aware`): negatives drawn only among",
  "rows with another label, so λ < 1 only through label noise.",
  "",
  ...(await Deno.readTextFile(`${args.out}/experiment-label-aware.md`)).split("\n").slice(1)
    .map((l) => l.replace(/^## /, "### ")),
);
await Deno.writeTextFile(`${args.out}/experiment.md`, lines.join("\n") + "\n");
await writeVegaLiteSvg(`${args.out}/experiment.svg`, {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  title: `kNN accuracy against fixed K (mean over seeds; rule: predicted K*), ${steps} steps, ${adapter}`,
  data: { values: points },
  facet: {
    row: { field: "dataset", type: "nominal", title: null },
    column: {
      field: "cell",
      type: "nominal",
      title: null,
      sort: classesList.flatMap((c) => rates.map((r) => `C = ${c}, r = ${r}`)),
    },
  },
  spec: {
    width: 150,
    height: 120,
    layer: [
      {
        transform: [{ filter: "datum.kind === 'fixed K'" }],
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "k", type: "quantitative", scale: { type: "log", base: 2 }, title: "K" },
          y: { field: "accuracy", type: "quantitative", scale: { zero: false }, title: "kNN accuracy (%)" },
        },
      },
      {
        transform: [{ filter: "datum.kind !== 'fixed K'" }],
        mark: { type: "rule", color: "firebrick", strokeDash: [4, 3] },
        encoding: { x: { field: "k", type: "quantitative" } },
      },
    ],
  },
  resolve: { scale: { y: "independent" } },
});
console.log(lines.join("\n"));
console.log(`wrote ${args.out}/experiment.md, ${args.out}/experiment.svg (${runs.length} runs in ${runsPath})`);
gpu.destroy();
