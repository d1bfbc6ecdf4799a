/**
 * What the experiment scripts share: mean ± sd, markdown tables, and a
 * Vega-Lite chart rendered to SVG headless.
 */

import { quietNodeDeprecations } from "../src/train/console.ts";

/** Mean and sample standard deviation (0 for one value). */
export function stats(xs: readonly number[]): { m: number; sd: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return { m, sd };
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
