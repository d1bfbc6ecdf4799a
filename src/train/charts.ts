/**
 * Training curves drawn two ways: in the terminal with asciichart, and as
 * an SVG file rendered by Vega-Lite (headless, no DOM): loss, K against
 * the theory's K*, and kNN accuracy over steps.
 *
 * @module
 */

import asciichart from "asciichart";
import { checkBool, checkInt, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { TrainRecord } from "./records.ts";

/** One evaluation point. */
export interface EvalPoint {
  /** Steps done when it was measured. */
  step: number;
  /** kNN accuracy in [0, 1]. */
  accuracy: number;
}

/** The fields a chart plots from each record and each evaluation point: finite numbers (a NaN breaks a plot's scale). */
const RECORD_FIELDS = ["step", "loss", "k", "kStar"] as const;
const EVAL_FIELDS = ["step", "accuracy"] as const;

function checkPoints(
  op: string,
  arg: string,
  points: readonly object[],
  fields: readonly string[],
  what: string,
): void {
  if (!Array.isArray(points)) typeError(op, arg, `an array of ${what}`, points);
  points.forEach((point, i) => {
    checkObject(op, `${arg}[${i}]`, point, what);
    for (const field of fields) {
      const v = (point as Record<string, unknown>)[field];
      if (typeof v !== "number") typeError(op, `${arg}[${i}].${field}`, "a number", v);
      if (!Number.isFinite(v)) rangeError(op, `${arg}[${i}].${field}`, "finite", v);
    }
  });
}

/** Resamples `values` to at most `width` points (mean of each bucket), so a long run fits a terminal line. */
function fit(values: readonly number[], width: number): number[] {
  if (values.length <= width) return [...values];
  return Array.from({ length: width }, (_, i) => {
    const from = Math.floor((i * values.length) / width);
    const to = Math.max(from + 1, Math.floor(((i + 1) * values.length) / width));
    return values.slice(from, to).reduce((a, b) => a + b, 0) / (to - from);
  });
}

/**
 * `asciichart.plot`, with a flat series (one point, or a constant K) drawn at its value: asciichart labels a zero
 * range 0.00 whatever the value.
 */
function plot(series: number[] | number[][], options: { height: number; colors?: string[] }): string {
  const values = series.flat();
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  if (lo !== hi) return asciichart.plot(series, options);
  const pad = Math.max(Math.abs(lo) * 0.01, 1e-6);
  return asciichart.plot(series, { ...options, min: lo - pad, max: hi + pad });
}

/**
 * Terminal charts of loss, K (with K*) and accuracy.
 *
 * @param records Metrics records in step order.
 * @param evals Evaluation points (may be empty).
 * @param options Plot width in characters (default 70), height in rows (default 8), and `color` for the two K
 *   series (default true; turn it off for logs and NO_COLOR).
 * @returns The text to print.
 * @throws {TypeError} When `records` or `evals` is not an array of records (with numeric step, loss, k and kStar;
 * step and accuracy), `options` is not an object, `options.width` or `options.height` is not a number, or
 * `options.color` not a boolean.
 * @throws {RangeError} When a plotted number is not finite, or `options.width` or `options.height` is not an
 * integer in [1, 1000].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { terminalCharts } from "../../mod.ts";
 * const records = [1, 2, 3].map((step) => ({
 *   step, loss: 3 / step, k: step, kStar: 3, pB: 0.5, miBound: 0, eta: 0, top1: 0.5, gradNorm: 1, stepsPerSecond: 1,
 *   lambdaHat: 0.9, donskerVaradhan: 0,
 * }));
 * assert.match(terminalCharts(records, [{ step: 3, accuracy: 0.8 }]), /loss/);
 * ```
 */
export function terminalCharts(
  records: readonly TrainRecord[],
  evals: readonly EvalPoint[],
  options: { width?: number; height?: number; color?: boolean } = {},
): string {
  const op = "terminalCharts";
  checkPoints(op, "records", records, RECORD_FIELDS, "training records");
  checkPoints(op, "evals", evals, EVAL_FIELDS, "evaluation points");
  checkObject(op, "options", options);
  const width = options.width ?? 70;
  const color = options.color ?? true;
  const height = options.height ?? 8;
  checkInt(op, "options.width", width, 1, 1000);
  checkInt(op, "options.height", height, 1, 1000);
  checkBool(op, "options.color", color);
  if (records.length === 0) return "(no metrics yet)";
  const span = `steps ${records[0].step}–${records.at(-1)!.step}`;
  const ks = fit(records.map((r) => r.k), width);
  const kStars = fit(records.map((r) => r.kStar), width);
  const parts = [`loss (${span})`, plot(fit(records.map((r) => r.loss), width), { height })];
  if (color) {
    parts.push(
      `K (blue) and the theory's K* (yellow) (${span})`,
      plot([ks, kStars], { height, colors: [asciichart.blue, asciichart.yellow] }),
    );
  } else {
    // Without colour two series on one plot cannot be told apart: one plot each.
    parts.push(
      `K (${span})`,
      plot(ks, { height }),
      `the theory's K* (${span})`,
      plot(kStars, { height }),
    );
  }
  if (evals.length > 1) {
    parts.push(
      `kNN accuracy, % (steps ${evals[0].step}–${evals.at(-1)!.step})`,
      plot(fit(evals.map((e) => 100 * e.accuracy), width), { height: Math.max(4, height - 2) }),
    );
  }
  return parts.join("\n");
}

/**
 * An SVG of three stacked panels (loss, K and K*, kNN accuracy) over steps,
 * rendered headless by Vega-Lite. Vega is imported on first use, so code
 * that never draws never loads it.
 *
 * @param records Metrics records in step order.
 * @param evals Evaluation points.
 * @param title A title (for example the run's configuration).
 * @returns The SVG text.
 * @throws {TypeError} When `records` or `evals` is not an array of records (see {@linkcode terminalCharts}), or
 * `title` is not a string; checked before Vega is loaded.
 * @throws {RangeError} When a plotted number is not finite.
 */
export async function svgCharts(
  records: readonly TrainRecord[],
  evals: readonly EvalPoint[],
  title: string,
): Promise<string> {
  const op = "svgCharts";
  checkPoints(op, "records", records, RECORD_FIELDS, "training records");
  checkPoints(op, "evals", evals, EVAL_FIELDS, "evaluation points");
  checkString(op, "title", title);
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const rows = [
    ...records.map((r) => ({ step: r.step, value: r.loss, panel: "loss", series: "loss" })),
    ...records.map((r) => ({ step: r.step, value: r.k, panel: "K", series: "K used" })),
    ...records.map((r) => ({ step: r.step, value: r.kStar, panel: "K", series: "K* (theory)" })),
    ...evals.map((e) => ({ step: e.step, value: 100 * e.accuracy, panel: "kNN accuracy (%)", series: "kNN accuracy" })),
  ];
  const spec = vegaLite.compile({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values: rows },
    facet: { row: { field: "panel", type: "nominal", sort: ["loss", "K", "kNN accuracy (%)"], title: null } },
    spec: {
      width: 560,
      height: 150,
      mark: { type: "line", point: evals.length < 30 ? { size: 12 } : false },
      encoding: {
        x: { field: "step", type: "quantitative" },
        y: { field: "value", type: "quantitative", scale: { zero: false }, title: null },
        color: { field: "series", type: "nominal" },
      },
    },
    resolve: { scale: { y: "independent" } },
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  return await view.toSVG();
}
