import assert from "node:assert/strict";
import { Tensor } from "../../src/gpu/tensor.ts";
import { allBatchNegatives, BatchNegativeSampler } from "../../src/sampling/batch_negatives.ts";
import { EmbeddingQueue } from "../../src/sampling/queue.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";

Deno.test("the in-batch sampler never returns a row's own positive, respects K_max and the labels, over many seeds", () => {
  for (let seed = 0; seed < 300; seed++) {
    const batch = 2 + (seed % 19); // down to 2 pairs, where the only negative is the other row
    const kMax = 1 + (seed % (batch - 1));
    const exclude = seed % 2 === 1;
    const labels = Array.from({ length: batch }, (_, i) => (i * 5 + seed) % 3);
    const sampler = new BatchNegativeSampler({ batch, kMax, excludeSameLabel: exclude, seed });
    const table = sampler.sample(labels);
    assert.equal(table.length, batch * (kMax + 1));
    for (let i = 0; i < batch; i++) {
      assert.equal(table[i * (kMax + 1)], i);
      const othersDiffer = labels.some((y, j) => j !== i && y !== labels[i]);
      for (let k = 1; k <= kMax; k++) {
        const n = table[i * (kMax + 1) + k];
        assert.ok(n !== i && n < batch, `seed ${seed} row ${i}: negative ${n}`);
        if (exclude && othersDiffer) assert.notEqual(labels[n], labels[i], `seed ${seed} row ${i}: same label`);
      }
    }
  }
});

Deno.test("in-batch tables are reproducible by seed and by restored state; allBatchNegatives lists every other row", () => {
  const labels = Array.from({ length: 64 }, (_, i) => i % 10);
  const a = new BatchNegativeSampler({ batch: 64, kMax: 32, excludeSameLabel: true, seed: 9 });
  const b = new BatchNegativeSampler({ batch: 64, kMax: 32, excludeSameLabel: true, seed: 9 });
  const c = new BatchNegativeSampler({ batch: 64, kMax: 32, excludeSameLabel: true, seed: 10 });
  const first = a.sample(labels);
  assert.deepEqual(first, b.sample(labels));
  assert.notDeepEqual(first, c.sample(labels));
  const saved = a.state;
  const next = a.sample(labels);
  a.setState(saved);
  assert.deepEqual(a.sample(labels), next);
  assert.deepEqual(allBatchNegatives(3), new Uint32Array([0, 1, 2, 1, 0, 2, 2, 0, 1]));
  assert.throws(() => new BatchNegativeSampler({ batch: 8, kMax: 8 }), /options\.kMax must be an integer in \[1, 7\]/);
  assert.throws(() => a.sample([1, 2]), /labels\.length must be batch \(64\) when excludeSameLabel is set/);
});

Deno.test({
  name: "the embedding queue is a FIFO on the GPU and samples only filled slots, never the anchor's label",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const [capacity, dim] = [10, 3];
    const queue = new EmbeddingQueue(gpu, { capacity, dim, seed: 5 });
    const expected = new Float32Array(capacity * dim);
    let head = 0;
    for (let push = 0; push < 4; push++) {
      const rows = 4;
      const host = Float32Array.from({ length: rows * dim }, (_, i) => push * 100 + i);
      const source = Tensor.from(gpu, host, [rows, dim]);
      const encoder = gpu.device.createCommandEncoder();
      queue.push(encoder, source, Array.from({ length: rows }, (_, i) => (push + i) % 4));
      gpu.submit("queue test", encoder);
      for (let r = 0; r < rows; r++) expected.set(host.subarray(r * dim, (r + 1) * dim), ((head + r) % capacity) * dim);
      head = (head + rows) % capacity;
      assert.equal(queue.filled, Math.min(capacity, 4 * (push + 1)));
      if (push === 0) {
        const slots = queue.sample(7, 5);
        assert.ok(slots.every((s) => s < 4), "only the four filled slots");
      }
      assert.deepEqual(await queue.embeddings.read(), expected, `after push ${push}`);
      source.destroy();
    }
    const anchorLabels = [0, 1, 2, 3, 0];
    const saved = queue.state;
    const slots = queue.sample(anchorLabels, 6, true);
    queue.setState(saved);
    assert.deepEqual(queue.sample(anchorLabels, 6, true), slots, "a restored state draws the same slots");
    const readback = await queue.embeddings.read();
    assert.equal(slots.length, 30);
    // Each slot's label is recoverable from its contents: row r of push p holds p·100 + r·dim.
    for (let i = 0; i < anchorLabels.length; i++) {
      for (let j = 0; j < 6; j++) {
        const s = slots[i * 6 + j];
        const first = readback[s * dim];
        const label = (Math.floor(first / 100) + (first % 100) / dim) % 4;
        assert.notEqual(label, anchorLabels[i], `row ${i} drew slot ${s} of the anchor's label`);
      }
    }
    queue.destroy();
  },
});
