/**
 * What the experiment scripts share: mean ± sd, markdown tables, a
 * Vega-Lite chart rendered to SVG headless (and the score-by-method chart
 * two of them draw), the JSON-lines file of runs and the ETA.
 */

import { appendJsonl, quietNodeDeprecations } from "../src/train/console.ts";

/** Mean and sample standard deviation (0 for one value). */
export function stats(xs: readonly number[]): { m: number; sd: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return { m, sd };
}

/**
 * One decimal, halves rounded away from zero: a mean of three accuracies such as 88.65 is stored as 88.6499…, which
 * `toFixed(1)` would round down while it rounds 88.35 up.
 */
export function oneDecimal(v: number): string {
  return (Math.sign(v) * Math.round(Math.abs(v) * 10 + 1e-6) / 10).toFixed(1);
}

/** "m ± sd" of percentages, one decimal. */
export function percent(xs: readonly number[]): string {
  const s = stats(xs.map((x) => 100 * x));
  return `${s.m.toFixed(1)} ± ${s.sd.toFixed(1)}`;
}

/** A markdown table: a header row, then rows of cells; `right` right-aligns every column but the first. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** Compiles a Vega-Lite spec and writes it as SVG, with no browser. */
export async function writeVegaLiteSvg(path: string, spec: Record<string, unknown>): Promise<void> {
  quietNodeDeprecations();
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  await Deno.writeTextFile(path, await new vega.View(vega.parse(compiled), { renderer: "none" }).toSVG());
}

/** What {@linkcode methodChart} plots. */
export interface MethodChart {
  /** The chart's title. */
  title: string;
  /** One point per run: its `dataset`, `method`, the score `y` and the `group` it is drawn in. */
  points: readonly Record<string, unknown>[];
  /** The methods, in the order the x axis lists them. */
  methods: readonly string[];
  /** The score's field, and the y axis's title. */
  y: { field: string; title: string };
  /** The field that groups runs side by side within a method (a colour each), and the legend's title. */
  group: { field: string; title: string | null };
  /** One panel's size in pixels. */
  width: number;
  height: number;
}

/**
 * A Vega-Lite spec: a panel per dataset, the score by method, each group's mean ± sd over seeds as an error bar
 * and its mean as a point.
 */
export function methodChart(c: MethodChart): Record<string, unknown> {
  const x = () => ({ field: "method", type: "nominal", sort: [...c.methods] });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: c.title,
    data: { values: c.points },
    facet: { row: { field: "dataset", type: "nominal", title: null } },
    spec: {
      width: c.width,
      height: c.height,
      layer: [
        {
          mark: { type: "errorbar", extent: "stdev" },
          encoding: {
            x: { ...x(), title: null },
            y: { field: c.y.field, type: "quantitative", scale: { zero: false }, title: c.y.title },
            color: { field: c.group.field, type: "nominal", title: c.group.title },
            xOffset: { field: c.group.field },
          },
        },
        {
          mark: { type: "point", filled: true },
          encoding: {
            x: x(),
            y: { aggregate: "mean", field: c.y.field, type: "quantitative" },
            color: { field: c.group.field, type: "nominal" },
            xOffset: { field: c.group.field },
          },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
  };
}

/**
 * A new, empty JSON-lines file of runs, `name` in `out` (a folder that `parseFlags` made).
 *
 * @returns Its path, and how to append a run as one line.
 */
export async function freshRunLog(
  out: string,
  name: string,
): Promise<{ path: string; append(run: unknown): Promise<void> }> {
  const path = `${out}/${name}`;
  await Deno.writeTextFile(path, "");
  return { path, append: (run) => appendJsonl(path, run) };
}

/** Whole minutes left when `done` of `total` runs took the time since `began` (a performance.now()). */
export function minutesLeft(began: number, done: number, total: number): number {
  const elapsed = (performance.now() - began) / 1000;
  return Math.round((elapsed / done) * (total - done) / 60);
}
