/**
 * The small training runs that the checkpoint and trainer tests resume and
 * compare: a TrainingStep on fixed data, and a Trainer on a small synthetic
 * task. No files: these also run in the browser (test/browser/run.ts).
 */

import { syntheticSplits } from "../../src/data/dataset.ts";
import type { Gpu } from "../../src/gpu/device.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { mlp } from "../../src/nn/sequential.ts";
import type { TrainerConfig } from "../../src/train/config.ts";
import type { TrainRecord } from "../../src/train/records.ts";
import { TrainingStep } from "../../src/train/step.ts";
import { seededRandom, uniform } from "./random.ts";

/** The step run's shape: B anchors, N candidates, K negatives, an MLP D_IN → HIDDEN → D_OUT. */
export const [B, N, K, D_IN, HIDDEN, D_OUT] = [9, 17, 5, 12, 10, 6];

/** A small two-tower run: shared MLP encoder, sampled InfoNCE, Adam; one submit per step. */
export function makeRun(gpu: Gpu, seed: number) {
  const random = seededRandom(99); // the data is the same for every run; only the initial parameters depend on seed
  const store = new ParameterStore(gpu, { seed });
  const net = mlp(store, [D_IN, HIDDEN, D_OUT], { activation: "gelu" });
  store.build();
  const xq = Tensor.from(gpu, uniform(random, B * D_IN), [B, D_IN]);
  const xc = Tensor.from(gpu, uniform(random, N * D_IN), [N, D_IN]);
  const indices = Uint32Array.from(
    { length: B * (K + 1) },
    (_, s) => (s % (K + 1) === 0 ? Math.floor(s / (K + 1)) : Math.floor(random() * N)),
  );
  const run = new TrainingStep(gpu, { store, query: net, candidate: net, xq, xc }, {
    loss: { kMax: K, tau: 0.2, indices },
    optimizer: { kind: "adam", lr: 0.01 },
  });
  return {
    store,
    optimizer: run.optimizer,
    async step(): Promise<number> {
      await run.run();
      return (await run.flush())[0].meanLoss;
    },
    destroy() {
      for (const t of [run, xq, xc, store]) t.destroy();
    },
  };
}

/**
 * A small task: 8×8 images, 10 classes; closed-loop K that moves every 5 steps, augmentation on, so that every
 * piece of state (batches, negatives, warps, schedule, rank counts in flight, Adam moments) must be restored.
 */
export function smallRun(seed: number, overrides: TrainerConfig = {}) {
  const data = syntheticSplits({ trainRows: 600, testRows: 200, side: 8, noise: 2, labelNoise: 0.2, seed });
  const config: TrainerConfig = {
    dims: [64, 32, 16],
    batch: 24,
    kMax: 12,
    steps: 40,
    seed,
    labelNoise: 0.2,
    schedule: { kind: "closed", every: 5, maxChange: 3 },
    augment: { rotate: 15, translate: 1 },
    metricsEvery: 5,
    evalSizes: { bank: 300, queries: 200, k: 5 },
    ...overrides,
  };
  return { data, config };
}

/** Records without the wall-clock rate, which is the only thing allowed to differ between runs. */
export function deterministic(records: TrainRecord[]) {
  return records.map(({ stepsPerSecond: _, ...rest }) => rest);
}
