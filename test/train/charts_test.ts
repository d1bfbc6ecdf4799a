import assert from "node:assert/strict";
import { svgCharts, terminalCharts } from "../../src/train/charts.ts";
import type { TrainRecord } from "../../src/train/records.ts";

const records: TrainRecord[] = Array.from({ length: 200 }, (_, i) => ({
  step: 10 * (i + 1),
  loss: 2 / (1 + i / 20),
  k: Math.min(32, 1 + Math.floor(i / 5)),
  kStar: 32,
  pB: 0.5,
  lambdaHat: 0.9,
  miBound: 1,
  eta: 0.1,
  donskerVaradhan: 0.2,
  top1: 0.5,
  gradNorm: 1,
  stepsPerSecond: 5,
}));
const evals = [{ step: 500, accuracy: 0.7 }, { step: 1000, accuracy: 0.8 }, { step: 2000, accuracy: 0.85 }];

Deno.test("terminalCharts() fits a long run into the width, and without colour draws K and K* apart with no escapes", () => {
  const plain = terminalCharts(records, evals, { width: 50, color: false });
  assert.ok(!plain.includes("\x1b["), "no ANSI escapes");
  for (
    const title of ["loss (steps 10–2000)", "K (steps 10–2000)", "the theory's K* (steps 10–2000)", "kNN accuracy"]
  ) {
    assert.ok(plain.includes(title), `missing "${title}"`);
  }
  // Each plotted row is the axis label, the axis and at most 50 points.
  const longest = Math.max(...plain.split("\n").map((line) => line.replace(/^ *[-\d.]+ [┤┼]/, "").length));
  assert.ok(longest <= 50, `a row is ${longest} wide`);
  assert.ok(terminalCharts(records, evals).includes("\x1b[34m"), "K in blue by default");
});

Deno.test("svgCharts() renders loss, K, K* and accuracy as one SVG", async () => {
  const svg = await svgCharts(records, evals, "test run");
  assert.match(svg, /^<svg/);
  for (const label of ["test run", "K used", "K* (theory)", "kNN accuracy", "loss"]) {
    assert.ok(svg.includes(label), `the SVG names "${label}"`);
  }
});

Deno.test("terminalCharts() draws a one-point run at its value (asciichart alone labels a flat series 0.00)", () => {
  const one = [{ ...records[0], loss: 0.4897, k: 3, kStar: 3 }];
  const text = terminalCharts(one, [], { color: false });
  const loss = text.split("\n").slice(1).find((line) => line.includes("┼"));
  assert.match(loss ?? "", /0\.49 ┼/, `the loss's point is labelled with its value: ${loss}`);
  assert.doesNotMatch(text, /0\.00 ┼/);
});
