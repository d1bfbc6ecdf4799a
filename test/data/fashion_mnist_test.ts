import assert from "node:assert/strict";
import { FASHION_MNIST_DIR, hasMnistFiles, loadMnistFiles } from "../../src/data/fashion_mnist.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";

// Real data: CI installs dataset-fashion-mnist (.ci/run). Without it this test fails, saying so; it never skips.
async function fashionMnist() {
  assert.ok(
    await hasMnistFiles(),
    `Fashion-MNIST not found in ${FASHION_MNIST_DIR}: apt-get install -y dataset-fashion-mnist (see README)`,
  );
  return await loadMnistFiles();
}

Deno.test("Fashion-MNIST reads as 60,000 + 10,000 balanced 28×28 u8 images of 10 classes", async () => {
  const { train, test } = await fashionMnist();
  assert.deepEqual([train.rows, test.rows, train.width, train.classes], [60_000, 10_000, 784, 10]);
  assert.deepEqual(train.imageShape, [28, 28]);
  const counts = new Array(10).fill(0);
  train.labels.forEach((y) => counts[y]++);
  assert.deepEqual(counts, new Array(10).fill(6_000));
  const noisy = await loadMnistFiles(FASHION_MNIST_DIR, { labelNoise: 0.4, seed: 1 });
  const flipped = noisy.train.labels.filter((y, i) => y !== noisy.train.cleanLabels[i]).length / 60_000;
  assert.ok(Math.abs(flipped - 0.4) < 0.01, `flipped fraction ${flipped}`);
  assert.deepEqual(noisy.test.labels, test.labels, "test labels stay clean");
});

Deno.test({
  name: "a few hundred steps of closed-loop training on Fashion-MNIST reach at least 60% kNN test accuracy",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const data = await fashionMnist();
    const trainer = new Trainer(gpu, data, {
      dims: [784, 128, 64],
      batch: 64,
      kMax: 16,
      steps: 200,
      seed: 1,
      evalSizes: { bank: 2000, queries: 1000 },
    });
    const records = await trainer.run();
    const result = await trainer.evaluate();
    console.log(
      `loss ${records[0].loss.toFixed(3)} → ${records.at(-1)!.loss.toFixed(3)}, K ${records[0].k} → ` +
        `${records.at(-1)!.k}, kNN accuracy ${(100 * result.accuracy).toFixed(1)}% (2,000 train × 1,000 test)`,
    );
    assert.ok(result.accuracy >= 0.6, `kNN accuracy ${result.accuracy} < 0.6`);
    trainer.destroy();
  },
});
