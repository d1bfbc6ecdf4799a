import assert from "node:assert/strict";
import { syntheticImages } from "../../src/data/dataset.ts";
import { resolveTrainerConfig } from "../../src/train/config.ts";
import { lambdaFromClasses, lambdaFromLabelNoise } from "../../src/schedule/theory.ts";

const train = syntheticImages({ rows: 2000, side: 4, classes: 5 }); // the default kNN bank is 2,000 rows

Deno.test("an empty config resolves to the documented defaults, λ from the classes and the label noise", () => {
  const c = resolveTrainerConfig({}, train);
  assert.deepEqual(c.dims, [16, 256, 128]);
  assert.deepEqual([c.batch, c.kMax, c.steps, c.seed, c.lr, c.metricsEvery], [256, 64, 600, 1, 2e-3, 10]);
  assert.deepEqual(c.schedule, { kind: "closed" });
  assert.deepEqual(c.evalSizes, { bank: 2000, queries: 1000, k: 10 });
  assert.equal(c.lambda, lambdaFromLabelNoise(5, 0));
  assert.equal(resolveTrainerConfig({ labelNoise: 0.2 }, train).lambda, lambdaFromLabelNoise(5, 0.2));
  assert.equal(resolveTrainerConfig({ excludeSameLabel: false }, train).lambda, lambdaFromClasses(5));
  assert.equal(resolveTrainerConfig({ batch: 8 }, train).kMax, 7, "K_max is capped by the batch");
  assert.equal(resolveTrainerConfig({ lambda: 0.5 }, train).lambda, 0.5);
});

Deno.test("a resolved config is plain data: it survives JSON as a checkpoint stores it", () => {
  const c = resolveTrainerConfig({ schedule: { kind: "ans", kStar: 4 }, augment: {} }, train);
  assert.deepEqual(JSON.parse(JSON.stringify(c)), c);
});

Deno.test("bad settings are rejected, naming the setting and its value", () => {
  const cases: [object, RegExp][] = [
    [{ dims: [15, 8] }, /config\.dims must be widths starting with the dataset's row width \(16\)/],
    [{ batch: 1 }, /config\.batch must be an integer in \[2, 1048576\]: current value is 1/],
    [{ batch: 1e9 }, /config\.batch must be an integer in \[2, 1048576\]: current value is 1000000000/],
    [{ stpes: 10 } as object, /config\.stpes must be a setting of TrainerConfig \(mode, dims, /],
    [{ batch: 8, kMax: 8 }, /config\.kMax must be an integer in \[1, 7\]: current value is 8/],
    [{ lambda: 0 }, /config\.lambda must be in \(0, 1\]: current value is 0/],
    [
      { batch: 8, queue: 7 },
      /config\.queue must be 0 or >= config\.batch \(8\), the positives a step pushes: current value is 7/,
    ],
    [{ labelNoise: 1 }, /config\.labelNoise must be in \[0, 1\): current value is 1/],
    [{ lr: -1 }, /config\.lr must be > 0: current value is -1/],
    [
      { schedule: { kind: "linear" } },
      /config\.schedule\.kind must be "fixed", "ans" or "closed": current value is "linear"/,
    ],
  ];
  for (const [config, message] of cases) assert.throws(() => resolveTrainerConfig(config, train), message);
  assert.throws(() => resolveTrainerConfig(null as unknown as object, train), TypeError);
});
