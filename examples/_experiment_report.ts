/**
 * The P1 experiment's run record and its report (examples/experiment.ts trains, this writes docs/experiment.md and
 * .svg from the recorded runs). Runs of another design (another batch, queue or synthetic noise than the flags ask
 * for) are listed apart, never mixed into the tables of the current design.
 */

import { limitBestK } from "../mod.ts";
import { oneDecimal, stats, table, writeVegaLiteSvg } from "./_report.ts";

/** One run of the experiment, as docs/experiment-runs.jsonl records it. */
export interface Run {
  dataset: string;
  classes: number;
  rate: number;
  seed: number;
  method: string;
  steps: number;
  /** Anchors per step and queue length; runs before these were recorded had 128 and 256. */
  batch?: number;
  queue?: number;
  /** The synthetic set's pixel noise; runs before it was recorded had 3.5. */
  noise?: number;
  lambda: number;
  accuracy: number;
  recall1: number;
  kFinal: number;
  kMean: number;
  kStarFinal: number;
  lambdaHat: number;
  seconds: number;
}

/**
 * The section's lines, or none when every run is of the current design.
 *
 * @param runs Runs of the same length and another design.
 * @param design A run's design, as its key writes it.
 * @param methodsOf The methods some runs used, in report order.
 * @param pct Mean ± sd of accuracies, as the report prints them.
 * @returns Markdown lines.
 */
function otherDesignLines<R extends Run>(
  runs: R[],
  design: (r: R) => string,
  methodsOf: (some: R[]) => string[],
  pct: (xs: number[]) => string,
): string[] {
  if (!runs.length) return [];
  const columnOf = (r: R) => `${r.dataset}, C = ${r.classes}, r = ${r.rate}, ${design(r)}`;
  const columns = [...new Set(runs.map(columnOf))];
  const of = (column: string, method: string) =>
    runs.filter((r) => columnOf(r) === column && r.method === method).map((r) => r.accuracy);
  return [
    "## Runs of another design (not in the tables above)",
    "",
    "The first design drew negatives from the other 127 rows of a batch of 128 and from a queue of the last 256",
    "positives' embeddings (MoCo's FIFO, detached, but without MoCo's momentum encoder: the queue holds what the",
    "encoder itself gave one or two steps before). On the synthetic set (C = 10, r = 0) it collapsed training:",
    "kNN at chance (10–11% at K = 1, 2 over 2,000 steps); in 300-step checks at K = 8 the loss fell, then went",
    "back to log(K + 1) with the gradient norm near 0 within 40 steps, at lr 2e-3 and 5e-4 and with a queue of 128",
    "(26–35%), while the same check without the queue reached 98.8%. On Fashion-MNIST it learned, but to 82–84%",
    "at every K (C = 10, r = 0, one seed) where the main job's recipe without a queue reaches 88%. MoCo reports",
    "that its queue fails to train without the momentum encoder (He et al. 2020, §4.1, m = 0). ",
    "These runs measure the queue, not K, so they are listed here and nowhere else. A synthetic run at noise 3.5",
    "(B = 257, no queue) saturated at 99.2%; the synthetic set now has noise 4.25 (docs/synthetic-noise.md).",
    "",
    ...table(["method", ...columns], methodsOf(runs).map((name) => [name, ...columns.map((c) => pct(of(c, name)))])),
    "",
  ];
}

/** What the report is written from: the flags' grid, the design's shapes and every recorded run. */
export interface ReportInput {
  /** Folder of experiment.md, experiment.svg and experiment-label-aware.md. */
  out: string;
  steps: number;
  seeds: number;
  datasets: string[];
  classes: number[];
  rates: number[];
  /** The fixed K values of the grid. */
  fixedKs: number[];
  /** Every method's name in report order: fixed K first, then the adaptive ones. */
  methods: string[];
  batch: number;
  queue: number;
  kMax: number;
  adapter: string;
  shapes: Record<string, { name: string; dims: readonly number[]; bank: number; queries: number }>;
  recorded: Run[];
  /** A run's design (batch, queue, synthetic noise) as the run key writes it, and the flags' design per dataset. */
  design: (r: Run) => string;
  currentDesign: (dataset: string) => string;
}

/** The label-aware experiment's report, its headings one level down, or a line saying where it would come from. */
async function labelAwareSection(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").slice(1).map((l) => l.replace(/^## /, "### "));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return [`(${path} is not there: \`deno task experiment:label-aware --out\` writes it.)`];
  }
}

/** Writes docs/experiment.md and experiment.svg from the recorded runs and returns the markdown's lines. */
export async function writeExperimentReport(input: ReportInput): Promise<string[]> {
  const { steps, seeds, datasets, classes: classesList, rates, fixedKs, methods, kMax } = input;
  const runs = input.recorded.filter((r) =>
    r.steps === steps && input.design(r) === input.currentDesign(r.dataset) && datasets.includes(r.dataset) &&
    classesList.includes(r.classes) && rates.includes(r.rate) && r.seed <= seeds && methods.includes(r.method)
  );
  if (!runs.length) {
    // Said before a file is touched: an empty report would replace the one the runs file backs.
    throw new RangeError(
      `No recorded run in ${input.out}/experiment-runs.jsonl matches this grid (--steps ${steps}, --batch ` +
        `${input.batch}, --queue ${input.queue}, --datasets, --classes, --rates, --seeds): the report is left as it is`,
    );
  }
  const otherDesigns = input.recorded.filter((r) =>
    r.steps === steps && input.design(r) !== input.currentDesign(r.dataset)
  );
  const cellRuns = (d: string, c: number, r: number, m: string) =>
    runs.filter((x) => x.dataset === d && x.classes === c && x.rate === r && x.method === m);
  const pct = (xs: number[]) => {
    if (!xs.length) return "—";
    const s = stats(xs.map((x) => 100 * x));
    return xs.length > 1 ? `${oneDecimal(s.m)} ± ${oneDecimal(s.sd)}` : `${oneDecimal(s.m)} (1 seed)`;
  };
  // The methods some runs used: the grid's in its order, then any other (fixed K by K), so none is left out.
  const methodsOf = (some: Run[]) => {
    const others = [...new Set(some.map((r) => r.method))].filter((m) => !methods.includes(m));
    const k = (name: string) => (name.startsWith("K=") ? Number(name.slice(2)) : Infinity);
    others.sort((a, b) => k(a) - k(b) || a.localeCompare(b));
    return [...methods.filter((m) => some.some((r) => r.method === m)), ...others];
  };
  const cells = classesList.flatMap((c) => rates.map((r) => ({ c, r, label: `C = ${c}, r = ${r}` })));
  // How much picking the best of the fixed K on these seeds flatters it (points), from the seed-centred spread.
  const selectionBias = (d: string, c: number, r: number): number | undefined => {
    const ran = fixedKs.map((k) => cellRuns(d, c, r, `K=${k}`)).filter((xs) => xs.length);
    const seedsOf = ran.map((xs) => new Set(xs.map((x) => x.seed)));
    const shared = [...(seedsOf[0] ?? [])].filter((seed) => seedsOf.every((set) => set.has(seed)));
    if (ran.length < 2 || shared.length < 2) return undefined;
    const at = (xs: Run[], seed: number) => 100 * xs.find((x) => x.seed === seed)!.accuracy;
    const seedMean = shared.map((seed) => ran.reduce((a, xs) => a + at(xs, seed), 0) / ran.length);
    const variances = ran.map((xs) => stats(shared.map((seed, i) => at(xs, seed) - seedMean[i])).sd ** 2);
    const s = Math.sqrt(variances.reduce((a, v) => a + v, 0) / variances.length);
    return expectedMaxOfNormals(ran.length) * s / Math.sqrt(shared.length);
  };
  const biases = datasets.flatMap((d) => cells.map(({ c, r }) => selectionBias(d, c, r))).filter((b) =>
    b !== undefined
  );
  const biasRange = biases.length
    ? `${Math.min(...biases).toFixed(1)}–${Math.max(...biases).toFixed(1)} points in these cells`
    : "not known until a cell has two fixed K on two shared seeds";
  const lines = [
    "# Experiment: how many negatives, with label-unaware negatives",
    "",
    `Command: \`deno task experiment --steps ${steps} --seeds ${seeds} --datasets ${datasets} --classes ${classesList} ` +
    `--rates ${rates} --ks ${fixedKs} --batch ${input.batch} --queue ${input.queue}\`  `,
    `Report written ${
      new Date().toISOString().slice(0, 10)
    }. Adapter: ${input.adapter}. Runs recorded: ${runs.length} of ${
      datasets.length * classesList.length * rates.length * seeds * methods.length
    } planned (seeds 1–${seeds}); each cell below says how many seeds it has.`,
    "",
    "Setting (P1's): an anchor's positive is another training item with its (noisy, merged) label; its K negatives",
    `are drawn uniformly, without looking at labels, from the other ${input.batch - 1} rows of the batch` +
    (input.queue
      ? ` and a queue of the last ${input.queue} positives' embeddings (MoCo-style, no gradient through them).`
      : "."),
    "A negative shares the anchor's class with",
    "probability 1/C, so λ = 1 − 1/C: C = 2, 5, 10 give λ = 0.5, 0.8, 0.9. Label noise r flips merged training",
    "labels symmetrically (it corrupts positives; λ as modelled does not include it). Accuracy: kNN (k = 10) on clean",
    "merged test labels against clean-labelled training items, mean ± sd over seeds, in %. " +
    Object.entries(input.shapes).filter(([d]) => datasets.includes(d)).map(([, s]) =>
      `${s.name}: MLP ${s.dims.join("→")}, bank ${s.bank} × ${s.queries} queries`
    ).join("; ") + `. B = ${input.batch}, τ = 0.1, InfoNCE, Adam (peak lr 2e-3, warm-up and cosine), ${steps} steps, ` +
    `K_max = ${kMax}.`,
    "ANS ramps K from 1 to K*(λ, μ → 1) over the first 20% and holds. The closed loop recomputes K* every 20 steps",
    'from the live rank counts (F(K) variant "model": I(K) = 1 − P(B|K), w_good = 1, w_bad = −1, Beta(1, 1)',
    'pseudo-counts; smoothed, at most ±4 per update); "λ estimated" replaces the known λ by the running estimate',
    "λ̂ = 2·(fraction of negatives below the positive) − 1 (docs/science.md §3). F(K)'s pieces were fixed before",
    "these runs and not changed after.",
    "",
    "The best fixed K of a cell is the one with the highest mean, among the fixed K that ran there (the row says so",
    'when some did not), over the seeds every one of them ran (the row says how many when a K has more). "− best',
    'fixed" compares each method with that K seed by seed (same seed, same data) and gives the mean ± sd of those',
    "differences; a best K that lists two K means they tie on the mean, and the comparison is with the first.",
    "The best K is picked on the seeds it is compared on, so where the fixed K lie within noise of one",
    "another it looks better than it would on new seeds: with n fixed K, by about E_n·s/√seeds, where E_n is the",
    `expected largest of n standard normals (${expectedMaxOfNormals(fixedKs.length).toFixed(2)} for n = ` +
    `${fixedKs.length}) and s the seed-to-seed sd of a fixed K's`,
    "accuracy less its seed's mean over K, pooled over K as a root mean square. It assumes the fixed K are truly",
    "equal, so it is an upper bound where they are not. That is",
    `${biasRange} (each cell's is in its summary table): read differences of that size as ties.`,
    "",
  ];
  // Ranked on the seeds that every fixed K that ran shares, so that a K with one lucky seed cannot win over K with
  // three; undefined when no seed is shared.
  const bestFixed = (d: string, c: number, r: number) => {
    const ran = fixedKs.map((k) => ({ k, runs: cellRuns(d, c, r, `K=${k}`) })).filter((b) => b.runs.length);
    const shared = ran.map((b) => new Set(b.runs.map((x) => x.seed))).reduce(
      (a, b) => a.intersection(b),
      new Set([
        ...ran.flatMap((b) => b.runs.map((x) => x.seed)),
      ]),
    );
    if (!ran.length || !shared.size) return undefined;
    const withMeans = ran.map((b) => {
      const runs = b.runs.filter((x) => shared.has(x.seed));
      return { k: b.k, runs, m: stats(runs.map((x) => 100 * x.accuracy)).m };
    });
    const best = withMeans.sort((a, b) => b.m - a.m)[0];
    const most = Math.max(...ran.map((b) => b.runs.length));
    // K whose means equal the best's (to rounding error) are listed with it; "− best" compares with the first.
    const ks = withMeans.filter((w) => best.m - w.m < 1e-9).map((w) => w.k).sort((a, b) => a - b);
    return {
      ...best,
      ks,
      of: ran.length < fixedKs.length ? ran.map((b) => b.k) : undefined,
      seeds: shared.size < most ? shared.size : undefined,
    };
  };
  const versus = (d: string, c: number, r: number, name: string) => {
    const best = bestFixed(d, c, r);
    if (!best) return "—";
    const diffs = cellRuns(d, c, r, name).flatMap((x) => {
      const same = best.runs.find((b) => b.seed === x.seed);
      return same ? [100 * (x.accuracy - same.accuracy)] : [];
    });
    if (!diffs.length) return "—";
    const s = stats(diffs);
    const signed = (v: number) => `${v >= 0 ? "+" : "−"}${oneDecimal(Math.abs(v))}`;
    return diffs.length > 1 ? `${signed(s.m)} ± ${oneDecimal(s.sd)}` : `${signed(s.m)} (1 seed)`;
  };
  const kMeans = (d: string, c: number, r: number, name: string, f: (x: Run) => number, digits = 1) => {
    const xs = cellRuns(d, c, r, name).map(f);
    return xs.length ? stats(xs).m.toFixed(digits) : "—";
  };
  const seedCounts = (d: string, c: number, r: number) => {
    const n = methods.map((m) => cellRuns(d, c, r, m).length);
    return Math.min(...n) === Math.max(...n) ? String(n[0]) : `${Math.min(...n)}–${Math.max(...n)}`;
  };
  const kStars = (c: number) =>
    `${limitBestK(1 - 1 / c, kMax)} / ${limitBestK(1 - 1 / c, kMax, { informativeness: "mi" })}`;
  // One row per cell, fixed K as means only (their sd is in the tables below): the summary the README carries.
  lines.push(
    "## Overview",
    "",
    ...table(
      [
        "cell (λ)",
        ...fixedKs.map((k) => `K=${k}`),
        "best K",
        'K* ("model" / "mi")',
        "ANS − best",
        "closed, λ known − best",
        "closed, λ est. − best",
        "λ̂",
        "seeds",
      ],
      datasets.flatMap((d) =>
        cells.map(({ c, r }) => [
          `${d}, C = ${c}${r ? `, r = ${r}` : ""} (${(1 - 1 / c).toFixed(1)})`,
          ...fixedKs.map((k) => {
            const xs = cellRuns(d, c, r, `K=${k}`).map((x) => 100 * x.accuracy);
            return xs.length ? oneDecimal(stats(xs).m) : "—";
          }),
          bestFixed(d, c, r)?.ks.join(", ") ?? "—",
          kStars(c),
          versus(d, c, r, "ANS"),
          versus(d, c, r, "closed loop, λ known"),
          versus(d, c, r, "closed loop, λ estimated"),
          kMeans(d, c, r, "closed loop, λ estimated", (x) => x.lambdaHat, 3),
          seedCounts(d, c, r),
        ])
      ),
    ),
    "",
  );
  const points: Record<string, unknown>[] = [];
  for (const d of datasets) {
    lines.push(`## ${input.shapes[d].name}`, "");
    lines.push(
      ...table(
        ["method", ...cells.map((x) => x.label)],
        methods.map((m) => [m, ...cells.map(({ c, r }) => pct(cellRuns(d, c, r, m).map((x) => x.accuracy)))]),
      ),
      "",
    );
    const summary = (
      label: string,
      f: (c: number, r: number) => string,
    ) => [label, ...cells.map(({ c, r }) => f(c, r))];
    lines.push(
      ...table(["summary", ...cells.map((x) => x.label)], [
        summary("λ = 1 − 1/C", (c) => (1 - 1 / c).toFixed(2)),
        summary("best fixed K (accuracy)", (c, r) => {
          const b = bestFixed(d, c, r);
          if (!b) return "—";
          const on = b.seeds ? `, on ${b.seeds} shared seed${b.seeds > 1 ? "s" : ""}` : "";
          return `${b.ks.join(", ")} (${oneDecimal(b.m)})${b.of ? `, of K = ${b.of.join(", ")}` : ""}${on}`;
        }),
        summary('K* predicted, F "model", μ → 1', (c) => String(limitBestK(1 - 1 / c, kMax))),
        summary('K* predicted, F "mi" (log(K+1)), μ → 1', (c) => {
          return String(limitBestK(1 - 1 / c, kMax, { informativeness: "mi" }));
        }),
        summary(
          "K* of the closed loop at the end (λ known)",
          (c, r) => kMeans(d, c, r, "closed loop, λ known", (x) => x.kStarFinal),
        ),
        summary(
          "K at the end (λ known / λ estimated)",
          (c, r) =>
            `${kMeans(d, c, r, "closed loop, λ known", (x) => x.kFinal)} / ${
              kMeans(d, c, r, "closed loop, λ estimated", (x) => x.kFinal)
            }`,
        ),
        summary(
          "λ̂ at the end (estimated run)",
          (c, r) => kMeans(d, c, r, "closed loop, λ estimated", (x) => x.lambdaHat, 3),
        ),
        summary("ANS − best fixed (points)", (c, r) => versus(d, c, r, "ANS")),
        summary("closed loop, λ known − best fixed", (c, r) => versus(d, c, r, "closed loop, λ known")),
        summary("closed loop, λ estimated − best fixed", (c, r) => versus(d, c, r, "closed loop, λ estimated")),
        summary("the best K's selection bias, about (points)", (c, r) => selectionBias(d, c, r)?.toFixed(1) ?? "—"),
        summary("seeds per method in the cell", (c, r) => seedCounts(d, c, r)),
      ]),
      "",
    );
    for (const { c, r, label } of cells) {
      for (const k of fixedKs) {
        const xs = cellRuns(d, c, r, `K=${k}`).map((x) => 100 * x.accuracy);
        if (xs.length) {
          const { m, sd } = stats(xs);
          points.push({ dataset: d, cell: label, k, accuracy: m, low: m - sd, high: m + sd, kind: "fixed K" });
        }
      }
      points.push({ dataset: d, cell: label, k: limitBestK(1 - 1 / c, kMax), kind: "K* (model, μ → 1)" });
    }
  }
  lines.push("![accuracy against fixed K per λ, mean ± sd over seeds, predicted K* marked](experiment.svg)", "");
  lines.push(...otherDesignLines(otherDesigns, input.design, methodsOf, pct));
  lines.push(
    "## The first experiment: label-aware negatives",
    "",
    "Kept from before (docs/experiment-label-aware.md, `deno task experiment:label-aware`): negatives drawn only among",
    "rows with another label, so λ < 1 only through label noise.",
    "",
    ...(await labelAwareSection(`${input.out}/experiment-label-aware.md`)),
  );
  await Deno.writeTextFile(`${input.out}/experiment.md`, lines.join("\n") + "\n");
  await writeVegaLiteSvg(`${input.out}/experiment.svg`, {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title:
      `kNN accuracy against fixed K (mean ± sd over seeds; dashed: predicted K*), ${steps} steps, ${input.adapter}`,
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
          // ± one sd over seeds: on the synthetic set the seeds are also the data, so the bars are wide there.
          transform: [{ filter: "datum.kind === 'fixed K'" }],
          mark: { type: "rule", opacity: 0.5 },
          encoding: {
            x: { field: "k", type: "quantitative", scale: { type: "log", base: 2 } },
            y: { field: "low", type: "quantitative" },
            y2: { field: "high" },
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
  return lines;
}

/** The expected largest of n independent standard normals (0 for n = 1), by the trapezoid rule on [−8, 8]. */
function expectedMaxOfNormals(n: number): number {
  const h = 1e-3;
  let cdf = 0;
  let expected = 0;
  let previousPdf = 0;
  for (let x = -8; x <= 8; x += h) {
    const pdf = Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
    cdf += (pdf + previousPdf) * h / 2;
    previousPdf = pdf;
    // The largest of n has density n·φ(x)·Φ(x)^(n−1).
    expected += x * n * pdf * cdf ** (n - 1) * h;
  }
  return expected;
}
