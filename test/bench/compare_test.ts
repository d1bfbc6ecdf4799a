import assert from "node:assert/strict";
import { compareResults, type FamilySpec, formatComparison } from "../../bench/compare.ts";

const step = (k: number, ncegpuMs: number, torchMs: number | null = null) => ({
  k,
  b: 256,
  ncegpuMs,
  tfjsMs: 3 * ncegpuMs,
  torchMs,
  speedup: 3,
});

Deno.test("compareResults() matches rows by their key fields in any order and gives B/A per median", () => {
  const a = { step: [step(1, 100), step(4, 200)] };
  const b = { step: [step(4, 300, 600), step(1, 50)] }; // other order; PyTorch only in B
  const c = compareResults(a, b);
  const ratios = c.matched.map((m) => [m.row, m.median, m.a, m.b, m.ratio]);
  assert.deepEqual(ratios, [
    ["b=256, k=1", "ncegpuMs", 100, 50, 0.5],
    ["b=256, k=1", "tfjsMs", 300, 150, 0.5],
    ["b=256, k=4", "ncegpuMs", 200, 300, 1.5],
    ["b=256, k=4", "tfjsMs", 600, 900, 1.5],
    ["b=256, k=4", "torchMs", null, 600, null], // a median in one file only: shown, no ratio
  ]);
  assert.deepEqual([c.onlyA, c.onlyB], [[], []]);
});

Deno.test("compareResults() lists rows and families found in one file only", () => {
  const a = { step: [step(1, 100), step(16, 900)], gather: [{ path: "gpu", rows: 256, width: 784, medianMs: 1 }] };
  const b = { step: [step(1, 100), step(64, 4000)] };
  const c = compareResults(a, b);
  assert.deepEqual(c.onlyA, [
    { family: "gather", row: "path=gpu, rows=256, width=784" },
    { family: "step", row: "b=256, k=16" },
  ]);
  assert.deepEqual(c.onlyB, [{ family: "step", row: "b=256, k=64" }]);
  assert.deepEqual(c.matched.map((m) => m.ratio), [1, 1]);
});

Deno.test("compareResults() reads the old name of the matmul rows, ignores the variant in the key and notes it", () => {
  const row = (variant: string, medianMs: number) => ({
    op: "matmul",
    form: "nn",
    shape: "512x512x512",
    variant,
    medianMs,
    baselineMs: 1000,
  });
  const c = compareResults({ rows: [row("reg8x8", 200)] }, { matmul: [row("named8x16", 100)] });
  assert.deepEqual(c.matched.map((m) => [m.median, m.ratio, m.note]), [
    ["medianMs", 0.5, "variant reg8x8 → named8x16"],
    ["baselineMs", 1, "variant reg8x8 → named8x16"],
  ]);
});

Deno.test("compareResults() keeps repeated keys apart, marks missing key fields and never divides by zero", () => {
  const spec: FamilySpec[] = [{ name: "x", at: [["x"]], keys: ["n", "loss"], medians: ["ms"] }];
  const a = { x: [{ n: 1, loss: "a", ms: 2 }, { n: 1, loss: "a", ms: 4 }, { n: 2, ms: 0 }] };
  const b = { x: [{ n: 1, loss: "a", ms: 3 }, { n: 1, loss: "a", ms: 8 }, { n: 2, ms: 5 }] };
  const c = compareResults(a, b, spec);
  assert.deepEqual(c.matched.map((m) => [m.row, m.ratio]), [
    ["n=1, loss=a", 1.5],
    ["n=1, loss=a #2", 2],
    ["n=2, loss=?", null],
  ]);
});

Deno.test("formatComparison() prints a ratio table, then the rows of each file alone", () => {
  const a = { adapter: { description: "gpu A" }, date: "2026-11-24T00:00:00Z", step: [step(1, 100), step(4, 1)] };
  const b = {
    adapter: { description: "gpu B" },
    machine: { git: { commit: "0123456789abcdef" } },
    step: [step(1, 50)],
  };
  const lines = formatComparison(compareResults(a, b), { a: ["a.json", a], b: ["b.json", b] });
  assert.deepEqual(lines, [
    "A: a.json (gpu A, 2026-11-24)",
    "B: b.json (gpu B, undated, commit 0123456)",
    "",
    "| family | row | median | A ms | B ms | B/A |",
    "|---|---|---|---:|---:|---:|",
    "| step | b=256, k=1 | ncegpuMs | 100 | 50.0 | 0.50× |",
    "| step | b=256, k=1 | tfjsMs | 300 | 150 | 0.50× |",
    "",
    "Only in A:",
    "- step: b=256, k=4",
  ]);
});
