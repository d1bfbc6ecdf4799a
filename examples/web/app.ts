/**
 * The demo page's module (bundled by examples/web/build.ts, served by
 * `deno task web`): trains the default encoder of `deno task train` (MLP
 * 784→256→128, InfoNCE, closed-loop K, batch 128, K ≤ 32) on the user's GPU
 * through WebGPU, on Fashion-MNIST fetched from the server when it has the
 * Debian data set, else on the synthetic set. Live Vega-Lite charts of the
 * loss, K against the theory's K*, and kNN accuracy next to raw pixels' on
 * the same bank and queries; start/stop; the checkpoint as a download, and a
 * checkpoint upload to resume.
 *
 * Query parameters: `steps` (default 700), `every` (steps between kNN
 * evaluations; default 100, fewer for short runs), `seed` (default 1),
 * `data=synthetic` (skip Fashion-MNIST), `autostart=1`.
 *
 * `window.__demo` exposes the state for the headless test (test/browser/web_page_test.ts).
 *
 * @module
 */

import * as vega from "vega";
import * as vegaLite from "vega-lite";
import {
  knnEvaluate,
  type LabelledBytes,
  MNIST_FILES,
  mnistSplits,
  parseIdx,
  pixelEmbeddings,
  requestGpu,
  syntheticSplits,
  Trainer,
  type TrainerConfig,
  type TrainRecord,
} from "../../src/web.ts";

/** Items of the kNN bank (the first training items) and queries (the first test items). */
const BANK = 2000;
const QUERIES = 1000;
const KNN_K = 10;

const params = new URLSearchParams(location.search);
const int = (name: string, fallback: number, min: number): number => {
  const text = params.get(name);
  const value = text === null ? fallback : Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`?${name} must be an integer >= ${min}: got ${text}`);
  }
  return value;
};

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  adapter: $("adapter"),
  data: $("data"),
  model: $("model"),
  noWebgpu: $("no-webgpu"),
  toggle: $<HTMLButtonElement>("toggle"),
  download: $<HTMLButtonElement>("download"),
  upload: $<HTMLInputElement>("upload"),
  uploadLabel: $("upload-label"),
  progress: $("progress"),
  message: $("message"),
  step: $("step"),
  loss: $("loss"),
  k: $("k"),
  accuracy: $("accuracy"),
  pixels: $("pixels"),
};

type State = "loading" | "ready" | "training" | "stopped" | "done" | "error" | "no-webgpu";

/** What the headless test reads. */
const demo = {
  state: "loading" as State,
  steps: 0,
  stepsDone: 0,
  adapter: "",
  dataset: "",
  config: null as TrainerConfig | null,
  evals: [] as { step: number; accuracy: number }[],
  accuracy: null as number | null,
  pixelAccuracy: null as number | null,
  error: null as string | null,
  /** Rows in each chart's data (what Vega holds). */
  chartRows(): Record<string, number> {
    return {
      loss: charts.loss?.data("records").length ?? 0,
      k: charts.k?.data("records").length ?? 0,
      accuracy: charts.accuracy?.data("evals").length ?? 0,
    };
  },
  /** The trainer's checkpoint now, base64 (what the download link holds). */
  async checkpointBase64(): Promise<string> {
    const bytes = await trainer!.saveBytes();
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  },
};
(globalThis as Record<string, unknown>).__demo = demo;

function setState(state: State): void {
  demo.state = state;
  document.body.dataset.state = state;
  const busy = state === "training";
  const usable = state === "ready" || state === "stopped" || state === "done" || state === "training";
  ui.toggle.disabled = !usable || state === "done";
  ui.toggle.textContent = busy
    ? "Stop"
    : state === "done"
    ? "Done"
    : trainer && trainer.stepsDone > 0
    ? "Continue"
    : "Start";
  ui.download.disabled = busy || !trainer || !usable;
  ui.upload.disabled = busy || !usable;
}

function say(text: string, error = false): void {
  ui.message.textContent = text;
  ui.message.className = error ? "error" : "";
}

function fail(error: unknown): void {
  demo.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  say(demo.error, true);
  setState("error");
  console.error(error);
}

// ---------------------------------------------------------------- charts

const charts: { loss?: vega.View; k?: vega.View; accuracy?: vega.View } = {};

async function chart(container: string, spec: vegaLite.TopLevelSpec): Promise<vega.View> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "svg", container: `#${container}`, hover: true });
  await view.runAsync();
  return view;
}

const step = { field: "step", type: "quantitative", title: "step" } as const;

async function makeCharts(): Promise<void> {
  // A fixed legend domain and resize on every change: a legend of no rows makes an empty view's bounds infinite.
  const size = { width: 300, height: 200, autosize: { type: "pad", resize: true } } as const;
  charts.loss = await chart("loss-chart", {
    ...size,
    data: { name: "records" },
    mark: { type: "line", color: "#2458d3" },
    encoding: { x: step, y: { field: "loss", type: "quantitative", scale: { zero: false }, title: "loss" } },
  });
  charts.k = await chart("k-chart", {
    ...size,
    data: { name: "records" },
    transform: [{ fold: ["K", "K*"], as: ["series", "value"] }],
    mark: { type: "line", interpolate: "step-after" },
    encoding: {
      x: step,
      y: { field: "value", type: "quantitative", title: "negatives" },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: ["K", "K*"], range: ["#2458d3", "#d89a00"] },
        legend: { orient: "bottom", direction: "horizontal" },
      },
    },
  });
  charts.accuracy = await chart("accuracy-chart", {
    ...size,
    data: { name: "evals" },
    mark: { type: "line", point: true },
    encoding: {
      x: step,
      y: { field: "accuracy", type: "quantitative", scale: { zero: false }, title: "%" },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: ["encoder", "raw pixels"], range: ["#1a7f37", "#8a93a6"] },
        legend: { orient: "bottom", direction: "horizontal" },
      },
    },
  });
}

function clearCharts(): void {
  charts.loss?.remove("records", () => true).run();
  charts.k?.remove("records", () => true).run();
  charts.accuracy?.remove("evals", () => true).run();
}

function addRecord(r: TrainRecord): void {
  const row = { step: r.step, loss: r.loss, K: r.k, "K*": r.kStar };
  charts.loss?.insert("records", [row]).run();
  charts.k?.insert("records", [row]).run();
  ui.loss.textContent = r.loss.toFixed(3);
  ui.k.textContent = `${r.k} (${r.kStar})`;
}

// ---------------------------------------------------------------- data

/** Fashion-MNIST from the server (gzip IDX, decompressed here), or null when the server has none. */
async function fashionMnist(): Promise<{ train: LabelledBytes; test: LabelledBytes } | null> {
  const urls = [...MNIST_FILES.train, ...MNIST_FILES.test].map((f) => `data/fashion-mnist/${f}.gz`);
  const responses = await Promise.all(urls.map((url) => fetch(url)));
  if (responses.some((r) => !r.ok)) return null;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(responses.map(async (r, i) => {
    const bytes = new Uint8Array(
      await new Response(r.body!.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer(),
    );
    return parseIdx(bytes, urls[i]);
  }));
  return mnistSplits(
    { images: trainImages, labels: trainLabels, sources: { images: urls[0], labels: urls[1] } },
    { images: testImages, labels: testLabels, sources: { images: urls[2], labels: urls[3] } },
  );
}

// ---------------------------------------------------------------- training

let trainer: Trainer | null = null;
let data: { train: LabelledBytes; test: LabelledBytes };
let evalRows: { bank: Uint32Array; queries: Uint32Array; bankLabels: Uint8Array; queryLabels: Uint8Array };
let running = false;
let every = 100;

async function evaluate(): Promise<void> {
  const t = trainer!;
  const dim = t.config.dims[t.config.dims.length - 1];
  const bank = await t.embed("train", evalRows.bank);
  const queries = await t.embed("test", evalRows.queries);
  const result = knnEvaluate(bank, evalRows.bankLabels, queries, evalRows.queryLabels, dim, { k: KNN_K });
  const point = { step: t.stepsDone, accuracy: result.accuracy };
  demo.evals.push(point);
  demo.accuracy = result.accuracy;
  charts.accuracy?.insert("evals", [
    { step: point.step, accuracy: 100 * result.accuracy, series: "encoder" },
    { step: point.step, accuracy: 100 * demo.pixelAccuracy!, series: "raw pixels" },
  ]).run();
  ui.accuracy.textContent = `${(100 * result.accuracy).toFixed(1)}%`;
}

async function trainLoop(): Promise<void> {
  const t = trainer!;
  const began = performance.now();
  const start = t.stepsDone;
  while (running && t.stepsDone < demo.steps) {
    const nextEval = Math.min(demo.steps, (Math.floor(t.stepsDone / every) + 1) * every);
    // Short chunks: the charts move and Stop answers within a few steps.
    await t.run({ until: Math.min(nextEval, t.stepsDone + 10), hooks: { onRecord: addRecord } });
    demo.stepsDone = t.stepsDone;
    ui.step.textContent = String(t.stepsDone);
    const rate = (t.stepsDone - start) / ((performance.now() - began) / 1000);
    ui.progress.textContent = `${t.stepsDone} / ${demo.steps} steps, ${rate.toFixed(1)} steps/s`;
    if (t.stepsDone === nextEval) await evaluate();
  }
}

function startOrStop(): void {
  if (running) {
    running = false; // the loop ends after its current chunk
    return;
  }
  running = true;
  setState("training");
  say("");
  trainLoop().then(() => {
    running = false;
    setState(trainer!.stepsDone >= demo.steps ? "done" : "stopped");
    if (demo.state === "done") say(`Done: ${demo.steps} steps.`);
  }, (error) => {
    running = false;
    fail(error);
  });
}

async function download(): Promise<void> {
  const bytes = await trainer!.saveBytes();
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `ncegpu-step-${trainer!.stepsDone}.safetensors`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  say(`Saved the checkpoint at step ${trainer!.stepsDone} (${bytes.length.toLocaleString()} bytes).`);
}

async function upload(file: File): Promise<void> {
  const t = trainer!;
  t.resumeBytes(new Uint8Array(await file.arrayBuffer()), file.name);
  demo.stepsDone = t.stepsDone;
  demo.evals = [];
  clearCharts();
  ui.step.textContent = String(t.stepsDone);
  ui.loss.textContent = ui.k.textContent = ui.accuracy.textContent = "–";
  await evaluate();
  say(`Resumed from ${file.name} at step ${t.stepsDone}.`);
  setState(t.stepsDone >= demo.steps ? "done" : "stopped");
}

async function main(): Promise<void> {
  demo.steps = int("steps", 700, 1);
  // Three evaluations in a short run (a multiple of the 10-step metrics period), else one every 100 steps.
  every = int("every", demo.steps < 300 ? Math.max(10, Math.round(demo.steps / 30) * 10) : 100, 1);
  if (!("gpu" in navigator)) {
    noWebgpu("this browser has no WebGPU (navigator.gpu is missing)");
    return;
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    noWebgpu("this browser has WebGPU, but it offered no adapter (navigator.gpu.requestAdapter() gave null)");
    return;
  }
  const gpu = await requestGpu();
  demo.adapter = `${gpu.info.description}${gpu.info.isFallbackAdapter ? " (a software fallback: slow)" : ""}`;
  ui.adapter.textContent = demo.adapter;

  say("Loading the data…");
  const real = params.get("data") === "synthetic" ? null : await fashionMnist();
  const seed = int("seed", 1, 0);
  data = real ?? syntheticSplits({ seed: 100 + seed });
  demo.dataset = real
    ? `Fashion-MNIST (${data.train.rows.toLocaleString()} train, ${data.test.rows.toLocaleString()} test)`
    : `synthetic clusters (${data.train.rows.toLocaleString()} train, ${data.test.rows.toLocaleString()} test; ` +
      "the server has no Fashion-MNIST: apt-get install dataset-fashion-mnist)";
  ui.data.textContent = demo.dataset;

  const config: TrainerConfig = {
    dims: [data.train.width, 256, 128],
    batch: 128,
    kMax: 32,
    steps: demo.steps,
    seed,
    lr: 0.002,
    augment: null, // as deno task train's default: the warps cost 3 points on Fashion-MNIST (README)
    metricsEvery: 10,
    evalSizes: { bank: Math.min(BANK, data.train.rows), queries: Math.min(QUERIES, data.test.rows) },
  };
  trainer = new Trainer(gpu, data, config);
  demo.config = trainer.config;
  ui.model.textContent = `MLP ${trainer.config.dims.join("→")} + L2 norm, InfoNCE τ ${trainer.config.loss.tau}, ` +
    `batch ${trainer.config.batch}, K ≤ ${trainer.config.kMax} (closed loop), ${demo.steps} steps, seed ${seed}`;

  // The kNN split: the first BANK training items against the first QUERIES test items, with clean labels.
  const bank = Uint32Array.from({ length: trainer.config.evalSizes.bank }, (_, i) => i);
  const queries = Uint32Array.from({ length: trainer.config.evalSizes.queries }, (_, i) => i);
  evalRows = {
    bank,
    queries,
    bankLabels: Uint8Array.from(bank, (r) => data.train.cleanLabels[r]),
    queryLabels: Uint8Array.from(queries, (r) => data.test.cleanLabels[r]),
  };
  say("Computing the raw-pixel baseline…");
  demo.pixelAccuracy = knnEvaluate(
    pixelEmbeddings(data.train, bank),
    evalRows.bankLabels,
    pixelEmbeddings(data.test, queries),
    evalRows.queryLabels,
    data.train.width,
    { k: KNN_K },
  ).accuracy;
  ui.pixels.textContent = `${(100 * demo.pixelAccuracy).toFixed(1)}%`;

  await makeCharts();
  ui.toggle.addEventListener("click", startOrStop);
  ui.download.addEventListener("click", () => download().catch(fail));
  ui.upload.addEventListener("change", () => {
    const file = ui.upload.files?.[0];
    ui.upload.value = "";
    if (file) upload(file).catch((error) => say(`Cannot resume from ${file.name}: ${error.message}`, true));
  });
  say(
    `kNN: ${bank.length.toLocaleString()} training items against ${queries.length.toLocaleString()} test items, ` +
      `k = ${KNN_K}, cosine; raw pixels on the same split.`,
  );
  setState("ready");
  if (params.get("autostart") === "1") startOrStop();
}

function noWebgpu(why: string): void {
  ui.noWebgpu.hidden = false;
  ui.noWebgpu.textContent = `No WebGPU: ${why}. This page trains on your GPU through WebGPU: open it in a browser ` +
    "that has it (Chrome or Edge 113 or newer; Chromium on Linux with --enable-unsafe-webgpu; Safari 26; Firefox " +
    "141 on Windows), or run `deno task train`, which needs only Deno. Nothing was trained.";
  ui.adapter.textContent = "none";
  say("");
  setState("no-webgpu");
}

setState("loading");
main().catch(fail);
