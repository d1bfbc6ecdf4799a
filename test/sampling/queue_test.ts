import assert from "node:assert/strict";
import { Tensor } from "../../src/gpu/tensor.ts";
import { EmbeddingQueue } from "../../src/sampling/queue.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";

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
