/**
 * `deno task experiment:noise` — chooses the synthetic set's pixel noise for
 * the P1 experiment before any K is run on it. At noise 3.5 the set
 * saturated (99.2% kNN at K = 1), so it could not show an effect of K. The
 * rule, fixed before looking at any trained run: the noise whose raw-pixel
 * kNN accuracy (k = 10, cosine, 5,000 bank rows chosen as the trainer chooses
 * them, the first 2,000 test rows, clean labels, 10 classes) is closest to
 * Fashion-MNIST's under the same protocol, so that the two datasets start
 * equally hard for a model that learns nothing. A first pass over a coarse
 * grid fixed in advance stepped past the target (92.75% at 3.5, 60.55% at 5,
 * against 80.25%) and so chose 3.5 again; the second pass, added after seeing
 * that, searches in steps of 0.25 between the two coarse noises around the
 * target. Both passes are reported. Writes synthetic-noise.md into --out (default docs). */

import { knnEvaluate, type LabelledBytes, loadMnistFiles, pixelEmbeddings, syntheticSplits } from "../mod.ts";
import { evaluationRows } from "../src/train/eval.ts";
import { exitOnMistakes, parseFlags, requireFashion } from "./_args.ts";
import { table } from "./_report.ts";

/** The noise the P1 experiment's synthetic set uses: this script's choice (docs/synthetic-noise.md). */
export const SYNTHETIC_NOISE = 4.25;

/** The first pass's grid, fixed with the rule; 3.5 is the noise the first runs used. */
export const NOISE_GRID = [3.5, 5, 7, 10, 14, 20] as const;
const [BANK, QUERIES, K, SEED] = [5000, 2000, 10, 1];

/** Raw-pixel kNN accuracy of a train/test split under the experiment's evaluation protocol. */
function pixelAccuracy(train: LabelledBytes, test: LabelledBytes): number {
  const { bankRows, queryRows, bankLabels, queryLabels } = evaluationRows(train, test, {
    bank: BANK,
    queries: QUERIES,
  });
  return knnEvaluate(
    pixelEmbeddings(train, bankRows),
    bankLabels,
    pixelEmbeddings(test, queryRows),
    queryLabels,
    train.width,
    { k: K },
  ).accuracy;
}

if (import.meta.main) {
  exitOnMistakes("experiment:noise");
  const args = parseFlags(
    {},
    `Usage: deno task experiment:noise [--out DIR]
  Measures raw-pixel kNN accuracy of Fashion-MNIST and of the synthetic set over a grid of pixel noises, and writes
  synthetic-noise.md (the P1 experiment's choice of noise, with both passes) into --out (default docs).`,
  );
  await requireFashion(["fashion"], "whose raw-pixel accuracy is the target");
  const fashion = await loadMnistFiles();
  const target = pixelAccuracy(fashion.train, fashion.test);
  console.log(`Fashion-MNIST, raw pixels: ${(100 * target).toFixed(2)}%`);
  const measure = (noise: number) => {
    const { train, test } = syntheticSplits({ side: 16, noise, seed: SEED, trainRows: 12_000, testRows: 2_000 });
    const accuracy = pixelAccuracy(train, test);
    console.log(`synthetic, noise ${noise}: ${(100 * accuracy).toFixed(2)}%`);
    return { noise, accuracy };
  };
  const closest = (rows: { noise: number; accuracy: number }[]) =>
    rows.reduce((a, b) => (Math.abs(b.accuracy - target) < Math.abs(a.accuracy - target) ? b : a));
  const coarse = NOISE_GRID.map(measure);
  // Accuracy falls as noise grows: the two coarse noises around the target bound the fine pass.
  const above = coarse.filter((r) => r.accuracy >= target).at(-1) ?? coarse[0];
  const below = coarse.find((r) => r.accuracy < target) ?? coarse.at(-1)!;
  const fine = [];
  for (let noise = above.noise + 0.25; noise < below.noise; noise += 0.25) fine.push(measure(noise));
  const chosen = closest([above, ...fine, below]);
  const rowsOf = (rows: { noise: number; accuracy: number }[]) =>
    table(
      ["noise", "raw-pixel kNN accuracy", "distance to Fashion-MNIST (points)"],
      rows.map((r) => [
        r === chosen ? `**${r.noise}**` : String(r.noise),
        `${(100 * r.accuracy).toFixed(2)}%`,
        (100 * Math.abs(r.accuracy - target)).toFixed(2),
      ]),
    );
  const lines = [
    "# The synthetic set's noise for the P1 experiment",
    "",
    `Chosen by \`deno task experiment:noise\` (examples/synthetic_noise.ts), ${
      new Date().toISOString().slice(0, 10)
    }, ` +
    "before any trained run at the new noise. At noise 3.5 one run of the experiment gave 99.2% kNN accuracy at " +
    "K = 1: the set was too easy to show an effect of K. The rule: the noise whose raw-pixel kNN accuracy is " +
    "closest to Fashion-MNIST's under the same protocol (k = 10, cosine, 5,000 training rows as the trainer picks " +
    "them, the first 2,000 test rows, clean labels, 10 classes; synthetic 16×16 images, seed 1).",
    "",
    `Fashion-MNIST, raw pixels: ${(100 * target).toFixed(2)}%.`,
    "",
    `First pass, a grid fixed in advance; its closest noise was ${closest(coarse).noise}:`,
    "",
    ...rowsOf(coarse),
    "",
    ...(fine.length
      ? [
        `Second pass, added after the first had stepped past the target: steps of 0.25 between ${above.noise} and ` +
        `${below.noise}:`,
        "",
        ...rowsOf(fine),
        "",
      ]
      : ["No second pass: no two neighbouring noises of the grid lie on either side of the target.", ""]),
    `Chosen: noise ${chosen.noise} (raw pixels ${(100 * chosen.accuracy).toFixed(2)}%).`,
    "",
  ];
  await Deno.writeTextFile(`${args.out}/synthetic-noise.md`, lines.join("\n"));
  console.log(`chosen: noise ${chosen.noise}; wrote ${args.out}/synthetic-noise.md`);
  if (chosen.noise !== SYNTHETIC_NOISE) {
    console.warn(`the experiment uses SYNTHETIC_NOISE = ${SYNTHETIC_NOISE}, not ${chosen.noise}: set it in this file`);
  }
}
