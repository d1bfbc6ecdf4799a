import assert from "node:assert/strict";
import { consoleHooks } from "../../src/train/console.ts";
import type { TrainRecord } from "../../src/train/records.ts";

function record(step: number): TrainRecord {
  return {
    step,
    loss: 2 / step,
    k: 4,
    kStar: 5,
    pB: 0.5,
    lambdaHat: 0.9,
    miBound: 1,
    eta: 0.25,
    donskerVaradhan: 0.5,
    top1: 0.5,
    gradNorm: 1,
    stepsPerSecond: 9,
  };
}

/** Runs `fn` with console.log captured. */
function captured(fn: () => void): string[] {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    fn();
  } finally {
    console.log = log;
  }
  return lines;
}

Deno.test("without a terminal, progress is a plain line every tenth of the run and metrics every printEvery records", async () => {
  const jsonl = await Deno.makeTempFile({ suffix: ".jsonl" });
  const lines = captured(() => {
    const hooks = consoleHooks({ total: 100, jsonl, printEvery: 3, bar: false });
    for (let step = 1; step <= 100; step++) {
      hooks.onStep!(step, 4);
      if (step % 10 === 0) hooks.onRecord!(record(step));
    }
    hooks.line("a message");
    hooks.close();
  });
  const progress = lines.filter((l) => /^step \d+\/100 {2}K 4 .* steps\/s {2}ETA \d+:\d\d$/.test(l));
  assert.deepEqual(progress.map((l) => Number(l.split(/[ /]/)[1])), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  const metrics = lines.filter((l) => l.startsWith("step") && l.includes("loss"));
  assert.deepEqual(metrics.map((l) => l.split(":")[0]), ["step 10", "step 40", "step 70", "step 100"]);
  assert.match(metrics[0], /loss 0\.2000 {2}K 4 \(K\* 5\) {2}P̂\(B\|K\) 0\.500/);
  assert.equal(lines.at(-1), "a message");
  assert.ok(lines.every((l) => !l.includes("\x1b")), "no escape sequences in a log");
  const written = (await Deno.readTextFile(jsonl)).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(written.map((r) => [r.type, r.step]), Array.from({ length: 10 }, (_, i) => ["train", 10 * (i + 1)]));
  await Deno.remove(jsonl);
});

Deno.test("a resumed run counts progress from where it started", () => {
  const lines = captured(() => {
    const hooks = consoleHooks({ total: 50, start: 30, bar: false });
    for (let step = 31; step <= 50; step++) hooks.onStep!(step, 2);
    hooks.close();
  });
  assert.deepEqual(lines.map((l) => Number(l.split(/[ /]/)[1])), [32, 34, 36, 38, 40, 42, 44, 46, 48, 50]);
});
