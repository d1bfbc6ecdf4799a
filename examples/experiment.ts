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
import { exitOnMistakes, integerFlag, listFlag, namesFlag, parseFlags, queueFlag, requireFashion } from "./_args.ts";
import { type Run, writeExperimentReport } from "./_experiment_report.ts";
import { SYNTHETIC_NOISE } from "./synthetic_noise.ts";
import { appendJsonl } from "../src/train/console.ts";

exitOnMistakes("experiment");
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
  --classes LIST   merged class counts C, each 2, 5 or 10 (default 10,5,2)
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
const QUEUE = queueFlag(args.queue, BATCH);
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
if (args.fresh && args["report-only"]) {
  throw new RangeError(`--fresh would empty ${runsPath}, the runs --report-only reports: give one of them`);
}
if (args.fresh) await Deno.writeTextFile(runsPath, "");
let recorded: Run[] = [];
try {
  recorded = (await Deno.readTextFile(runsPath)).split("\n").filter(Boolean).map((l) => JSON.parse(l));
} catch (error) {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
if (args["report-only"] && !recorded.length) {
  throw new RangeError(
    `--report-only needs recorded runs, and ${runsPath} has none: is --out the folder that has them?`,
  );
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
  args["report-only"]
    ? `experiment report from the ${done.size} runs recorded in ${runsPath} (${plan.length} of the grid not run)`
    : `experiment on ${adapter}: ${plan.length} runs of ${steps} steps to go (${done.size} recorded in ${runsPath})`,
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

const lines = await writeExperimentReport({
  out: args.out,
  steps,
  seeds,
  datasets,
  classes: classesList,
  rates,
  fixedKs: FIXED,
  methods: METHODS.map((m) => m.name),
  batch: BATCH,
  queue: QUEUE,
  kMax: K_MAX,
  adapter,
  shapes: SHAPES,
  recorded,
  design,
  currentDesign: current,
});
console.log(lines.join("\n"));
console.log(`wrote ${args.out}/experiment.md, ${args.out}/experiment.svg (${recorded.length} runs in ${runsPath})`);
gpu.destroy();
