/**
 * `deno task train` — the main job: trains an MLP encoder contrastively with
 * closed-loop adaptive K (docs/science.md §3) on Fashion-MNIST when it is
 * installed (Debian: `apt-get install dataset-fashion-mnist`) or given with
 * `--data DIR`, otherwise on the embedded synthetic set. Prints progress,
 * the K curve and the final kNN accuracy on the clean test labels; writes
 * metrics.jsonl, curves.svg and checkpoint.safetensors into `--out`.
 *
 *   deno task train --help
 */

import { parseArgs } from "node:util";
import {
  type AffineRanges,
  CheckpointError,
  FASHION_MNIST_DIR,
  FASHION_MNIST_MERGES,
  hasMnistFiles,
  injectLabelNoise,
  type LabelledBytes,
  limitBestK,
  loadMnistFiles,
  mergeClasses,
  moduloMerge,
  NonFiniteLossError,
  OutOfMemoryError,
  type PhotometricRanges,
  requestGpu,
  resolveTrainerConfig,
  Rng,
  type ScheduleConfig,
  svgCharts,
  syntheticSplits,
  terminalCharts,
  Trainer,
  type TrainerConfig,
  tuneTrainer,
} from "../mod.ts";
import { choiceFlag, exitOnMistakes, integerFlag, outFolder, queueFlag, realFlag } from "./_args.ts";
import { appendJsonl, consoleHooks, quietNodeDeprecations } from "../src/train/console.ts";
import { K_LIMIT } from "../src/ops/contrast.ts";

exitOnMistakes("train");

const HELP = `Usage: deno task train [options]

Mode
  --mode NAME           pairs: same-label positives, K sampled negatives, adaptive K (default)
                        simclr: no labels; two augmented views per item, the other 2B − 2 views as negatives
                        (SimCLR's NT-Xent); labels only evaluate, next to raw pixels under the same kNN
                        supcon: two augmented views per item; every view with the same label is a positive
Data
  --data DIR            folder with the four (Fashion-)MNIST IDX files, gzipped or not
                        (default: ${FASHION_MNIST_DIR} when present, else the synthetic set)
  --synthetic           use the embedded synthetic set (12,000 train + 2,000 test, 10 classes)
  --noise R             flip this fraction of the training labels (symmetric label noise; default 0)
  --classes C           merge the 10 classes into C = 2 or 5 by a fixed mapping (Fashion-MNIST: FASHION_MNIST_MERGES;
                        synthetic: y mod C); evaluation uses the merged labels too (default 10)
  --augment / --no-augment
                        random affine warps of both views on the GPU (default: off in pairs mode, where it cost
                        3 points at 3,000 steps; on in simclr and supcon modes, with random resized crops,
                        contrast, brightness and pixel noise)
Model and loss
  --dims A,B,...        encoder widths after the input (default 256,128; simclr 512,128)
  --loss NAME           infonce | adnce | dcl | hcl (default infonce)
  --tau T               temperature (default 0.1; simclr 0.2)
  --lr LR               peak Adam learning rate, warm-up then cosine (default 0.002)
K (negatives per anchor)
  --negatives HOW       aware: only rows of another label (default); unaware: uniform, so a fraction ≈ 1/C of
                        them share the anchor's class (λ = 1 − 1/C)
  --queue N             also draw negatives from a queue of the last N positives' embeddings (MoCo-style, no
                        gradient through them), so K can pass the batch (default 0). Without MoCo's momentum
                        encoder it collapsed training on the synthetic set and held Fashion-MNIST to 82–84%
                        (67–72% with 20% label noise) where the batch alone reached 87–89% (docs/experiment.md);
                        a larger --batch gives K up to B − 1 without it
  --schedule NAME       closed | ans | fixed (default closed)
  --kmax K              largest K, at most batch − 1 + queue (default 32, or batch − 1 + queue if smaller)
  --k K                 K of the fixed schedule (default 8)
  --kstar K             K* the ANS schedule ramps to (default: the theory's K* for λ, model-accuracy limit)
  --lambda L            label reliability λ for the theory (default: from the classes, --noise and --negatives)
  --estimate-lambda     the closed loop estimates λ from the rank counts instead (docs/science.md §3)
Run
  --steps N             training steps (default 3000; simclr and supcon 700)
  --batch B             anchor-positive pairs (simclr: items, 2B views) per step (default 128; simclr 256)
  --seed S              seed of everything (default 1)
  --eval-every N        quick kNN evaluation (2,000 train × 1,000 test) every N steps (default 500)
  --final-bank N        training items in the final kNN bank (default 10000)
  --final-queries N     test items in the final evaluation (default: the whole test set)
  --out DIR             where metrics.jsonl, curves.svg and checkpoint.safetensors go (default runs/train)
  --resume FILE         continue from a checkpoint of the same configuration
  --no-tune             run the untuned matmul defaults (default: measure the variants at the step's shapes
                        once per adapter, cached in $NCEGPU_CACHE_DIR, else $XDG_CACHE_HOME/ncegpu, else
                        ~/.cache/ncegpu)
  --help                this text`;

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    data: { type: "string" },
    synthetic: { type: "boolean", default: false },
    noise: { type: "string", default: "0" },
    classes: { type: "string", default: "10" },
    negatives: { type: "string", default: "aware" },
    queue: { type: "string", default: "0" },
    "estimate-lambda": { type: "boolean", default: false },
    augment: { type: "boolean" },
    "no-augment": { type: "boolean", default: false },
    mode: { type: "string", default: "pairs" },
    dims: { type: "string" },
    loss: { type: "string", default: "infonce" },
    tau: { type: "string" },
    lr: { type: "string", default: "0.002" },
    schedule: { type: "string", default: "closed" },
    kmax: { type: "string" },
    k: { type: "string" },
    kstar: { type: "string" },
    lambda: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string" },
    seed: { type: "string", default: "1" },
    "eval-every": { type: "string", default: "500" },
    "final-bank": { type: "string" },
    "final-queries": { type: "string" },
    out: { type: "string", default: "runs/train" },
    resume: { type: "string" },
    "no-tune": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(HELP);
  Deno.exit(0);
}

const mode = choiceFlag("mode", args.mode, ["pairs", "simclr", "supcon"] as const);
const DEFAULTS = {
  pairs: { dims: "256,128", batch: "128", tau: "0.1", steps: "3000" },
  simclr: { dims: "512,128", batch: "256", tau: "0.2", steps: "700" },
  supcon: { dims: "512,128", batch: "256", tau: "0.1", steps: "700" },
};
const steps = integerFlag("steps", args.steps ?? DEFAULTS[mode].steps, 1);
const batch = integerFlag("batch", args.batch ?? DEFAULTS[mode].batch, 2);
// The views modes push nothing into a queue (they ignore --queue, noted below): only its upper bound applies.
const queue = queueFlag(args.queue, mode === "pairs" ? batch : 0);
// The views modes read no --kmax (they are noted below as ignoring it), so only pairs mode checks it.
const kMax = args.kmax === undefined || mode !== "pairs"
  ? Math.min(32, batch - 1 + queue)
  : integerFlag("kmax", args.kmax, 1);
if (kMax > Math.min(batch - 1 + queue, K_LIMIT)) {
  // The trainer would refuse it too, but by its config name (config.kMax), not by the flag.
  const most = Math.min(batch - 1 + queue, K_LIMIT);
  throw new RangeError(`--kmax must be at most --batch − 1 + --queue = ${most} (and ${K_LIMIT}): got ${kMax}`);
}
const classes = integerFlag("classes", args.classes, 2);
if (![2, 5, 10].includes(classes)) throw new RangeError(`--classes must be 2, 5 or 10: got ${args.classes}`);
const negatives = choiceFlag("negatives", args.negatives, ["aware", "unaware"] as const);
const seed = integerFlag("seed", args.seed, 0);
const evalEvery = integerFlag("eval-every", args["eval-every"], 1);
const noise = realFlag("noise", args.noise, (v) => v >= 0 && v < 1, "in [0, 1)");
const loss = choiceFlag("loss", args.loss, ["infonce", "adnce", "dcl", "hcl"] as const);
const scheduleKind = choiceFlag("schedule", args.schedule, ["closed", "ans", "fixed"] as const);
const hidden = (args.dims ?? DEFAULTS[mode].dims).split(",").map((d) => integerFlag("dims", d, 1));

// Data: real when available, else synthetic.
if (args.synthetic && args.data !== undefined) {
  throw new RangeError(`--synthetic and --data ${args.data}: give one of them, not both`);
}
const dataDir = args.data ?? (!args.synthetic && await hasMnistFiles() ? FASHION_MNIST_DIR : null);
if (args.data !== undefined) {
  const isFolder = await Deno.stat(args.data).then((info) => info.isDirectory, () => false);
  if (!isFolder) throw new RangeError(`--data must be a folder holding the four IDX files: got ${args.data}`);
}
const realImages = dataDir !== null && !args.synthetic;
let data: { train: LabelledBytes; test: LabelledBytes };
let dataName: string;
if (realImages) {
  data = await loadMnistFiles(dataDir, { labelNoise: classes === 10 ? noise : 0, seed });
  dataName = `${dataDir} (${data.train.rows} train, ${data.test.rows} test)`;
} else {
  data = syntheticSplits({ labelNoise: classes === 10 ? noise : 0, seed: 100 + seed });
  dataName = "synthetic clusters (12,000 train, 2,000 test; --data DIR or dataset-fashion-mnist for real data)";
}

if (classes !== 10) {
  // Merge first, then flip among the merged classes: a flip always changes the label the trainer sees.
  const mapping = realImages ? FASHION_MNIST_MERGES[classes as 2 | 5] : moduloMerge(10, classes);
  const [train, test] = [mergeClasses(data.train, mapping), mergeClasses(data.test, mapping)];
  const rng = new Rng(seed);
  const labels = noise > 0
    ? injectLabelNoise(train.cleanLabels, classes, noise, () => rng.next()).labels
    : train.labels;
  data = { train: { ...train, labels }, test };
  dataName += `, merged into ${classes} classes`;
}

// Defaults measured on Fashion-MNIST (README, "The main job's defaults"): in pairs mode augmentation cost 3 points.
if (args.augment && args["no-augment"]) throw new RangeError("--augment and --no-augment: give one of them, not both");
const augmenting = args.augment ?? (mode !== "pairs" && !args["no-augment"]);
// SimCLR learns only from what the two views share, so its views differ more: crops and photometric changes too.
const augment: AffineRanges | null = !augmenting
  ? null
  : mode !== "pairs"
  ? { rotate: 15, scale: [0.8, 1.2], shear: 0.15, translate: 2, crop: [0.5, 1] }
  : {};
const photometric: PhotometricRanges | null = augmenting && mode !== "pairs"
  ? { contrast: [0.7, 1.3], brightness: 0.2, noise: 0.1 }
  : null;
// Checked now, not after training: a final evaluation that cannot run would lose the run's last minutes.
const finalQueries = args["final-queries"] ? integerFlag("final-queries", args["final-queries"], 1) : data.test.rows;
if (finalQueries > data.test.rows) {
  throw new RangeError(`--final-queries must be at most the ${data.test.rows} test items: got ${finalQueries}`);
}
// The default, 10,000, is cut to a smaller training set; a value given is checked like --final-queries.
const finalBank = args["final-bank"] === undefined
  ? Math.min(10_000, data.train.rows)
  : integerFlag("final-bank", args["final-bank"], 10);
if (finalBank > data.train.rows) {
  throw new RangeError(`--final-bank must be at most the ${data.train.rows} training items: got ${finalBank}`);
}

const lambdaArg = args.lambda === undefined
  ? undefined
  : realFlag("lambda", args.lambda, (v) => v > 0 && v <= 1, "in (0, 1]");
const config: TrainerConfig = {
  mode,
  dims: [data.train.width, ...hidden],
  batch,
  kMax,
  queue,
  excludeSameLabel: negatives === "aware",
  steps,
  seed,
  labelNoise: noise,
  lambda: lambdaArg,
  loss: { tau: realFlag("tau", args.tau ?? DEFAULTS[mode].tau, (v) => v > 0, "> 0"), weighting: loss },
  lr: realFlag("lr", args.lr, (v) => v > 0, "> 0"),
  augment,
  photometric,
  metricsEvery: 10,
  evalSizes: { bank: Math.min(2000, data.train.rows), queries: Math.min(1000, data.test.rows) },
};

// Checked whatever the schedule, before any GPU work; a flag the schedule does not read is said to be ignored.
const fixedK = integerFlag("k", args.k ?? String(Math.min(8, kMax)), 1);
const kStarFlag = args.kstar === undefined ? null : integerFlag("kstar", args.kstar, 1);
for (const [flag, k] of [["k", fixedK], ["kstar", kStarFlag ?? 1]] as const) {
  if (k > kMax) throw new RangeError(`--${flag} must be at most --kmax (${kMax}): got ${k}`);
}
const pairsOnly = ["schedule", "k", "kstar", "kmax", "queue", "negatives", "lambda", "estimate-lambda"];
// SimCLR reads no training label, so flipping some changes nothing; SupCon's positives are its labels.
const modeIgnores = mode === "pairs" ? [] : mode === "simclr" ? [...pairsOnly, "noise"] : pairsOnly;
const ignored = modeIgnores.filter((flag) => Deno.args.some((a) => a.split("=")[0] === `--${flag}`));
if (ignored.length) {
  // The views modes take every other view of the batch as a negative: K, its schedule and λ do not apply.
  console.log(`note: --mode ${mode} ignores ${ignored.map((f) => `--${f}`).join(", ")}`);
}
for (
  const [flag, given, reader] of [
    ["k", args.k, "fixed"],
    ["kstar", args.kstar, "ans"],
    ["estimate-lambda", args["estimate-lambda"] || undefined, "closed"],
    ["lambda", args.lambda, "closed or ans"],
  ] as const
) {
  if (mode === "pairs" && given !== undefined && !reader.split(" or ").includes(scheduleKind)) {
    console.log(`note: --${flag} is read by --schedule ${reader} only; this run's schedule is ${scheduleKind}`);
  }
}
if (args["estimate-lambda"] && noise > 0) {
  // Measured in the P1 experiment: at r = 0.2 λ̂ read 0.33–0.44 below λ (docs/science.md §3.8).
  console.log("note: --estimate-lambda takes every positive to be a true one, so under --noise it reads far below λ");
}
if (args.resume !== undefined) {
  const kind = await Deno.stat(args.resume).then((info) => info.isFile ? null : "a folder", () => "no such file");
  if (kind) throw new RangeError(`--resume must be a checkpoint file: got ${args.resume} (${kind})`);
}
outFolder(args.out);
const gpu = await requestGpu();
const lambda = resolveTrainerConfig(config, data.train).lambda;
const limitKStar = limitBestK(lambda, kMax); // docs/science.md §3: the μ → 1 limit
const schedule: ScheduleConfig = scheduleKind === "fixed"
  ? { kind: "fixed", k: fixedK }
  : scheduleKind === "ans"
  ? { kind: "ans", kStar: kStarFlag ?? limitKStar, warmup: 0.2 }
  : { kind: "closed", estimateLambda: args["estimate-lambda"] };
if (!args["no-tune"]) {
  // Measured once per adapter and shape class, then read from the cache: the step runs the fastest variants. A
  // cache that cannot be read or written costs the caching, not the run: measured again, without it, and said.
  const t0 = performance.now();
  let tuning;
  try {
    tuning = await tuneTrainer(gpu, data, { ...config, schedule });
  } catch (error) {
    // The config, or a size the adapter cannot hold: not the cache's fault.
    if (error instanceof TypeError || error instanceof RangeError || error instanceof OutOfMemoryError) throw error;
    console.log(`matmul: the tuning cache is unusable, measuring without it (--no-tune skips tuning): ${error}`);
    gpu.tuning.clear();
    tuning = await tuneTrainer(gpu, data, { ...config, schedule }, { cache: null });
  }
  const measured = new Set(tuning.trials.map((t) => t.key)).size;
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const from = tuning.path ? ` (cache: ${tuning.path})` : " (not cached)";
  console.log(
    measured
      ? `matmul: measured ${measured} shape classes in ${seconds} s, read ${tuning.loaded} choices${from}`
      : `matmul: ${tuning.loaded} tuned choices${from}`,
  );
}
const trainer = new Trainer(gpu, data, { ...config, schedule });

const jsonl = `${args.out}/metrics.jsonl`;
const checkpoint = `${args.out}/checkpoint.safetensors`;
if (args.resume) {
  try {
    await trainer.resume(args.resume);
  } catch (error) {
    // The checkpoint's own config (steps, dims, …) must be repeated by the flags; say which flag the message is about.
    if (error instanceof CheckpointError) {
      throw new RangeError(`--resume ${args.resume} is not a checkpoint this run can read: ${error.message}`);
    }
    if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
    throw new RangeError(`--resume ${args.resume}: ${error.message} (repeat the checkpoint's flags)`);
  }
  console.log(`resumed from ${args.resume} at step ${trainer.stepsDone}`);
  // Records past the checkpoint's step were written by the interrupted run; the resumed one writes them again.
  const kept = (await Deno.readTextFile(jsonl).catch(() => "")).split("\n").filter((line) => {
    return line !== "" && (JSON.parse(line).step ?? 0) <= trainer.stepsDone;
  });
  await Deno.writeTextFile(jsonl, kept.map((line) => line + "\n").join(""));
} else {
  await Deno.writeTextFile(jsonl, "");
}

console.log(`adapter: ${gpu.info.description || gpu.info.vendor}`);
const flipped = noise > 0 && mode !== "simclr" ? `, ${noise * 100}% of training labels flipped` : "";
console.log(`data: ${dataName}${flipped}`);
console.log(
  `model: MLP ${trainer.config.dims.join("→")} + L2 norm, ${mode} mode, ${loss}, τ ${trainer.config.loss.tau}, ` +
    (mode !== "pairs"
      ? `${batch} items (${2 * batch} views, ${2 * batch - 2} negatives each), `
      : `batch ${batch}, K ≤ ${kMax}, label-${negatives} negatives${queue ? ` (+ a queue of ${queue})` : ""}, ` +
        `${scheduleKind} schedule${scheduleKind === "closed" && args["estimate-lambda"] ? " (λ estimated)" : ""}, ` +
        `λ = ${lambda.toFixed(4)} (K* in the μ → 1 limit: ${limitKStar}), `) +
    `augmentation ${augment ? "on" : "off"}${photometric ? " (with crops and photometric)" : ""}, ${steps} steps, ` +
    `seed ${seed}`,
);

const startStep = trainer.stepsDone;
const report = consoleHooks({ total: steps, start: startStep, jsonl });
const evals: { step: number; accuracy: number }[] = [];
const began = performance.now();
try {
  while (trainer.stepsDone < steps) {
    const next = Math.min(steps, (Math.floor(trainer.stepsDone / evalEvery) + 1) * evalEvery);
    await trainer.run({ until: next, hooks: report });
    if (next < steps) {
      const quick = await trainer.evaluate();
      evals.push({ step: next, accuracy: quick.accuracy });
      await appendJsonl(jsonl, { type: "eval", step: next, ...quick });
      report.line(`step ${next}: kNN accuracy ${(100 * quick.accuracy).toFixed(1)}% (2,000 × 1,000)`);
      await trainer.save(checkpoint);
    }
  }
} catch (error) {
  report.close();
  if (error instanceof NonFiniteLossError) {
    console.error(`${error.message} (${checkpoint})`);
    Deno.exit(1);
  }
  throw error;
}
report.close();
await trainer.save(checkpoint);
const trainSeconds = (performance.now() - began) / 1000;

console.log(`\nevaluating: ${finalBank} training items (clean labels) against ${finalQueries} test items…`);
const final = await trainer.evaluate({ bank: finalBank, queries: finalQueries, k: 10 });
evals.push({ step: steps, accuracy: final.accuracy });
await appendJsonl(jsonl, { type: "eval", step: steps, final: true, ...final });

console.log(terminalCharts(trainer.records, evals, { color: Deno.stdout.isTerminal() && !Deno.noColor }));
quietNodeDeprecations();
const svgPath = `${args.out}/curves.svg`;
await Deno.writeTextFile(
  svgPath,
  await svgCharts(trainer.records, evals, `ncegpu: ${loss}, ${scheduleKind} K, λ ${lambda.toFixed(3)}, seed ${seed}`),
);
const ks = trainer.records.map((r) => r.k);
const rate = `${((steps - startStep) / trainSeconds).toFixed(1)} steps/s, evaluations included`;
console.log(
  ks.length
    ? `\nK over training: ${ks[0]} → ${ks.at(-1)} (max ${ks.reduce((a, k) => Math.max(a, k), 0)}); ` +
      `trained ${steps - startStep} steps in ${trainSeconds.toFixed(0)} s (${rate})`
    : `\nno metrics records (one comes every 10 steps); trained ${steps - startStep} steps in ` +
      `${trainSeconds.toFixed(0)} s`,
);
console.log(
  `final kNN accuracy (k = 10, clean test labels): ${(100 * final.accuracy).toFixed(2)}%  ` +
    `recall@1 ${(100 * final.recall[1]).toFixed(2)}%  recall@5 ${(100 * final.recall[5]).toFixed(2)}%`,
);
if (mode === "simclr") {
  // No labels in training, so the bar is the raw pixels under the same kNN protocol (bank, queries, k, cosine).
  const pixels = await trainer.evaluate({ bank: finalBank, queries: finalQueries, k: 10 }, "pixels");
  await appendJsonl(jsonl, { type: "eval", step: steps, final: true, source: "pixels", ...pixels });
  console.log(`raw pixels, same kNN protocol: ${(100 * pixels.accuracy).toFixed(2)}%`);
}
console.log(`wrote ${jsonl}, ${svgPath}, ${checkpoint}`);
trainer.destroy();
gpu.destroy();
