/**
 * `deno task bench`: runs every benchmark family on the default adapter,
 * prints one table, and writes the same rows as JSON to
 * bench/results/<adapter>.json for later comparison.
 */

import { requestGpu } from "../src/gpu/device.ts";
import { benchContrast } from "./contrast_bench.ts";
import { benchMatmul } from "./matmul_bench.ts";

const gpu = await requestGpu();
const log = (line: string) => console.error(line);
const started = new Date();
log(`adapter: ${gpu.info.description} (${gpu.info.vendor}, fallback: ${gpu.info.isFallbackAdapter})`);
log(`timing: ${gpu.hasTimestamps ? "timestamp queries" : "wall clock"}, median of repeated runs`);

const rows = await benchMatmul(gpu, log);
const contrast = await benchContrast(gpu, log);

const header = "| op | form | shape (M×N×K) | variant | median ms | GFLOP/s | naive ms | speed-up vs naive |";
const lines = [
  `Benchmark ${started.toISOString().slice(0, 10)} on ${gpu.info.description}` +
  ` (${gpu.hasTimestamps ? "GPU timestamps" : "wall clock"}, medians)`,
  "",
  header,
  "|---|---|---|---|---:|---:|---:|---:|",
  ...rows.map((r) =>
    `| ${r.op} | ${r.form} | ${r.shape} | ${r.variant} | ${r.medianMs.toFixed(2)} | ${r.gflops.toFixed(2)} | ${
      r.baselineMs.toFixed(2)
    } | ${r.speedup.toFixed(1)}× |`
  ),
  "",
  "Loss against encoder, standard step (B anchors, each 1 positive + K negatives, every candidate encoded; τ = 0.1):",
  "",
  "| loss | B | K | D | loss ms | encoder matmuls ms | loss share of step |",
  "|---|---:|---:|---:|---:|---:|---:|",
  ...contrast.steps.map((r) =>
    `| ${r.weighting} | ${r.b} | ${r.k} | ${r.d} | ${r.lossMs.toFixed(2)} | ${r.encoderMs.toFixed(0)} | ${
      (100 * r.lossShare).toFixed(1)
    }% |`
  ),
  "",
  "In-batch (SimCLR) InfoNCE, forward + backward, tiled against materialised at equal size:",
  "",
  "| layout | 2B | D | tile | median ms | loss buffers MiB (peak) | time vs materialised |",
  "|---|---:|---:|---:|---:|---:|---:|",
  ...contrast.layouts.map((r) =>
    `| ${r.layout} | ${r.rows} | ${r.d} | ${r.tile} | ${r.medianMs.toFixed(0)} | ${r.peakMiB.toFixed(1)} | ${
      r.ratio.toFixed(2)
    }× |`
  ),
];
console.log(lines.join("\n"));

const slug = gpu.info.description.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
await Deno.mkdir("bench/results", { recursive: true });
const file = `bench/results/${slug}.json`;
await Deno.writeTextFile(
  file,
  JSON.stringify(
    { date: started.toISOString(), adapter: gpu.info, tuning: Object.fromEntries(gpu.tuning), rows, contrast },
    null,
    2,
  ) +
    "\n",
);
log(`wrote ${file}`);
gpu.destroy();
