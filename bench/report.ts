/**
 * `deno task bench [matmul] [contrast] [gather] [reduce] [knn] [step]`: runs the named benchmark
 * families (all when none is named) on the default adapter, prints their
 * tables, and writes the same rows as JSON, with the machine and versions,
 * to bench/results/<adapter>[-<families>].json for later comparison.
 *
 * `deno task bench --compare A.json B.json`: prints B/A for every median of
 * the rows the two files share (bench/compare.ts), and lists the others.
 */

import { type Gpu, requestGpu } from "../src/gpu/device.ts";
import { compareFiles } from "./compare.ts";
import { benchContrast } from "./contrast_bench.ts";
import { benchGather } from "./gather_bench.ts";
import { benchKnn } from "./knn_bench.ts";
import { benchReduce } from "./reduce_bench.ts";
import { machineInfo, machineLine } from "./machine.ts";
import { benchMatmul } from "./matmul_bench.ts";
import { benchStep, TFJS_VERSION } from "./step_bench.ts";
import { probeTorch, type TorchProbe } from "./torch_step.ts";

const compareAt = Deno.args.indexOf("--compare");
if (compareAt >= 0) {
  const files = Deno.args.slice(compareAt + 1);
  if (files.length !== 2) {
    console.error("usage: deno task bench --compare A.json B.json");
    Deno.exit(2);
  }
  try {
    console.log((await compareFiles(files[0], files[1])).join("\n"));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error)); // names the file; no stack for a user's typo
    Deno.exit(1);
  }
  Deno.exit(0);
}

const FAMILIES = ["matmul", "contrast", "gather", "reduce", "knn", "step"] as const;
const asked = Deno.args.filter((a) => !a.startsWith("-"));
for (const a of asked) {
  if (!(FAMILIES as readonly string[]).includes(a)) {
    console.error(`unknown benchmark family "${a}"; choose from ${FAMILIES.join(", ")}`);
    Deno.exit(2);
  }
}
const families = asked.length ? FAMILIES.filter((f) => asked.includes(f)) : [...FAMILIES];

const gpu = await requestGpu();
const log = (line: string) => console.error(line);
const started = new Date();
log(`adapter: ${gpu.info.description} (${gpu.info.vendor}, fallback: ${gpu.info.isFallbackAdapter})`);
log(`timing: ${gpu.hasTimestamps ? "timestamp queries" : "wall clock"}, median of repeated runs`);
const torch: TorchProbe | null = families.includes("step") ? await probeTorch() : null;
const machine = await machineInfo(gpu, { tfjs: families.includes("step") ? TFJS_VERSION : null, torch });
log(`machine: ${machineLine(machine)}`);

const lines = [
  `Benchmark ${started.toISOString().slice(0, 10)} on ${gpu.info.description}` +
  ` (${gpu.hasTimestamps ? "GPU timestamps" : "wall clock"}, medians)`,
  `Machine: ${machineLine(machine)}`,
];
const json: Record<string, unknown> = { date: started.toISOString(), adapter: gpu.info, machine };

/**
 * Runs a benchmark family when it was asked for: its result goes into the JSON under its name, and the lines
 * `report` makes of it into the printed report, after a blank line.
 */
async function section<T>(
  family: (typeof FAMILIES)[number],
  bench: (gpu: Gpu, log: (line: string) => void) => Promise<T>,
  report: (result: T) => string[],
): Promise<void> {
  if (!families.includes(family)) return;
  const result = await bench(gpu, log);
  json[family] = result;
  lines.push("", ...report(result));
}

/** A markdown table: each column is [header, "l" or "r" alignment, the cell of a row]. */
function table<R>(rows: readonly R[], columns: [string, "l" | "r", (row: R) => string][]): string[] {
  return [
    `| ${columns.map((c) => c[0]).join(" | ")} |`,
    `|${columns.map((c) => (c[1] === "r" ? "---:" : "---")).join("|")}|`,
    ...rows.map((row) => `| ${columns.map((c) => c[2](row)).join(" | ")} |`),
  ];
}

await section("matmul", benchMatmul, (rows) =>
  table(rows, [
    ["op", "l", (r) => r.op],
    ["form", "l", (r) => r.form],
    ["shape (M×N×K)", "l", (r) => r.shape],
    ["variant", "l", (r) => r.variant],
    ["median ms", "r", (r) => r.medianMs.toFixed(2)],
    ["GFLOP/s", "r", (r) => r.gflops.toFixed(2)],
    ["naive ms", "r", (r) => r.baselineMs.toFixed(2)],
    ["speed-up vs naive", "r", (r) => `${r.speedup.toFixed(1)}×`],
  ]));

await section("contrast", benchContrast, (contrast) => [
  "Loss against encoder, standard step (B anchors, each 1 positive + K negatives, every candidate encoded; τ = 0.1):",
  "",
  ...table(contrast.steps, [
    ["loss", "l", (r) => r.weighting],
    ["B", "r", (r) => String(r.b)],
    ["K", "r", (r) => String(r.k)],
    ["D", "r", (r) => String(r.d)],
    ["loss ms", "r", (r) => r.lossMs.toFixed(2)],
    ["encoder matmuls ms", "r", (r) => r.encoderMs.toFixed(0)],
    ["loss share of step", "r", (r) => `${(100 * r.lossShare).toFixed(1)}%`],
  ]),
  "",
  "In-batch InfoNCE (SimCLR's NT-Xent; SupCon over 10 classes), forward + backward, tiled against materialised at " +
  "equal size:",
  "",
  ...table(contrast.layouts, [
    ["loss", "l", (r) => r.loss],
    ["layout", "l", (r) => r.layout],
    ["N", "r", (r) => String(r.rows)],
    ["D", "r", (r) => String(r.d)],
    ["tile", "r", (r) => String(r.tile)],
    ["median ms", "r", (r) => r.medianMs.toFixed(0)],
    ["loss buffers MiB (peak)", "r", (r) => r.peakMiB.toFixed(1)],
    ["time vs materialised", "r", (r) => `${r.ratio.toFixed(2)}×`],
  ]),
]);

await section("gather", benchGather, (rows) => [
  "Batch gather from a resident 60,000 × 784 u8 table (converted to f32 in the kernel) against converting on the " +
  "host and uploading:",
  "",
  ...table(rows, [
    ["path", "l", (r) => r.path],
    ["rows", "r", (r) => String(r.rows)],
    ["bytes/row", "r", (r) => String(r.width)],
    ["median ms", "r", (r) => r.medianMs.toFixed(3)],
    ["f32 GB/s delivered", "r", (r) => r.gbPerS.toFixed(2)],
    ["vs host path", "r", (r) => `${r.speedup.toFixed(1)}×`],
  ]),
]);

await section("reduce", benchReduce, (rows) => [
  "Column sums (the bias gradient Σ_rows dY) by columnSums against the ones-vector matmul it replaced (form tn, " +
  "naive), same data:",
  "",
  ...table(rows, [
    ["rows × cols", "l", (r) => `${r.rows} × ${r.cols}`],
    ["path", "l", (r) => r.path],
    ["median ms", "r", (r) => r.medianMs.toFixed(2)],
    ["GB/s read", "r", (r) => r.gbPerS.toFixed(1)],
    ["vs ones matmul", "r", (r) => `${r.speedup.toFixed(1)}×`],
  ]),
]);

await section("knn", benchKnn, (rows) => [
  "kNN evaluation (unit-norm embeddings, 10 neighbours per query, identical lists): the GPU search (matmul blocks, " +
  "32 candidates per query, float64 re-ranking on the host; uploads and read-backs included) against the host " +
  "scan, wall clock:",
  "",
  ...table(rows, [
    ["queries × bank", "l", (r) => `${r.queries} × ${r.bank}`],
    ["D", "r", (r) => String(r.dim)],
    ["host ms", "r", (r) => r.hostMs.toFixed(0)],
    ["GPU ms", "r", (r) => r.gpuMs.toFixed(0)],
    ["GPU GFLOP/s", "r", (r) => r.gpuGflops.toFixed(1)],
    ["vs host", "r", (r) => `${r.speedup.toFixed(1)}×`],
    ["rows settled on host", "r", (r) => String(r.hostScans)],
  ]),
]);

await section("step", (gpu, log) => benchStep(gpu, log, torch!), (rows) => {
  const py = torch !== null && "version" in torch ? torch : null;
  const ms = (v: number | null) => (v === null ? "–" : v.toFixed(0));
  return [
    "Standard training step W: 784→256→128 ReLU MLP + L2 norm shared by anchors and candidates, B = 256, " +
    `K negatives, every candidate encoded, InfoNCE τ = 0.1, Adam; ncegpu against TensorFlow.js ${TFJS_VERSION} ` +
    "(WebGPU backend) on the same adapter" +
    (py ? ` and PyTorch ${py.version} on the CPU (${py.threads} threads, BLAS ${py.blas})` : "") +
    ", same parameters and inputs (first losses agree to 1e-4), wall clock per step. Pipelined: about 4 s of steps " +
    "(5 to 40, as many for each library) submitted back to back and one wait at the end, as a training loop runs them " +
    "(throughput), in three rounds with the libraries taking turns, medians (the rounds' ratios in brackets); " +
    "waited: the median " +
    "step with a wait after it (latency, one device poll included: an empty submit and wait take 11 ms here):",
    "",
    ...table(rows, [
      ["K", "r", (r) => String(r.k)],
      ["encoder rows", "r", (r) => String(r.b * (2 + r.k))],
      ["ncegpu ms/step", "r", (r) => r.ncegpuPipelinedMs.toFixed(0)],
      ["TF.js ms/step", "r", (r) => r.tfjsPipelinedMs.toFixed(0)],
      [
        "TF.js / ncegpu",
        "r",
        (r) => `${r.pipelinedSpeedup.toFixed(2)}× (${r.pipelinedRounds.map((x) => x.toFixed(2)).join(", ")})`,
      ],
      ["ncegpu waited", "r", (r) => r.ncegpuMs.toFixed(0)],
      ["TF.js waited", "r", (r) => r.tfjsMs.toFixed(0)],
      ["waited ratio", "r", (r) => `${r.speedup.toFixed(2)}×`],
      ...(py
        ? [
          ["PyTorch CPU ms/step", "r", (r) => ms(r.torchMs)],
          ["PyTorch / ncegpu", "r", (r) => (r.torchRatio === null ? "–" : `${r.torchRatio.toFixed(2)}×`)],
        ] satisfies [string, "r", (r: (typeof rows)[number]) => string][]
        : []),
      [
        `first loss (ncegpu, TF.js${py ? ", PyTorch" : ""})`,
        "l",
        (r) => [r.ncegpuLoss, r.tfjsLoss, ...(py ? [r.torchLoss] : [])].map((v) => v?.toFixed(5) ?? "–").join(", "),
      ],
    ]),
    ...(py ? [] : ["", `PyTorch column skipped: ${(torch as { skipped: string }).skipped}.`]),
  ];
});

console.log(lines.join("\n"));
const slug = gpu.info.description.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
const suffix = families.length === FAMILIES.length ? "" : `-${families.join("-")}`;
await Deno.mkdir("bench/results", { recursive: true });
const file = `bench/results/${slug}${suffix}.json`;
json.tuning = Object.fromEntries(gpu.tuning);
await Deno.writeTextFile(file, JSON.stringify(json, null, 2) + "\n");
log(`wrote ${file}`);
gpu.destroy();
