import assert from "node:assert/strict";
import { Tensor } from "../../src/gpu/tensor.ts";
import { EmbeddingBag } from "../../src/nn/embedding.ts";
import { ParameterStore } from "../../src/nn/parameters.ts";
import { assertClose, assertFrobenius } from "../util/compare.ts";
import { centralDifferences } from "../util/contrast_reference.ts";
import { weightedSum } from "../util/nn_reference.ts";
import { gpuTest, runSteps, testGpu } from "../util/gpu.ts";
import { freshSeed, seededRandom, uniform } from "../util/random.ts";

/** Mean of each bag's rows in float64 (an empty bag gives zeros). */
function bagsRef(table: Float64Array, d: number, offsets: number[], ids: number[]): Float64Array {
  const out = new Float64Array((offsets.length - 1) * d);
  for (let b = 0; b + 1 < offsets.length; b++) {
    const n = offsets[b + 1] - offsets[b];
    for (let i = offsets[b]; i < offsets[b + 1]; i++) {
      for (let t = 0; t < d; t++) out[b * d + t] += table[ids[i] * d + t] / n;
    }
  }
  return out;
}

Deno.test({
  name: "EmbeddingBag forward matches float64 and its table gradient matches finite differences (V=37, D=33, 13 bags)",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const random = seededRandom(freshSeed("embedding bag"));
    const [vocab, d, bags, maxIds] = [37, 33, 13, 60];
    const store = new ParameterStore(gpu, { seed: 5 });
    const layer = new EmbeddingBag(store, "items", vocab, d);
    store.build();
    // Bag sizes 0..6, ids drawn from a few values so that ids repeat within and across bags.
    const offsets = [0];
    const ids: number[] = [];
    for (let b = 0; b < bags; b++) {
      const size = b === 4 ? 0 : 1 + Math.floor(random() * 6);
      for (let i = 0; i < size; i++) ids.push(Math.floor(random() * 9) * 4);
      offsets.push(ids.length);
    }
    const bound = layer.bind(gpu, { bags, maxIds });
    bound.setBags(offsets, ids);
    const r = uniform(random, bags * d);
    const dOut = Tensor.from(gpu, r, [bags, d]);
    const backward = bound.bindBackward(dOut);
    const encoder = gpu.device.createCommandEncoder();
    store.zeroGrads(encoder);
    gpu.submit("test", encoder);
    runSteps(gpu, bound.forward, backward);
    const table = Float64Array.from(await store.param("items.weight").read());
    // Forward: 1e-5 relative (a mean of at most 6 fp32 values), 1e-7 absolute.
    assertClose(await bound.output.read(), bagsRef(table, d, offsets, ids), { rtol: 1e-5, atol: 1e-7 }, "bags");
    const fd = centralDifferences(() => weightedSum(bagsRef(table, d, offsets, ids), r), table);
    const grad = await store.grad("items.weight").read();
    assertFrobenius(grad, fd, 2e-3, "table gradient"); // 2e-3 relative
    assert.ok(grad.every((g, i) => (fd[i] === 0) === (g === 0)), "exactly the rows that were used have gradients");

    // Plain Embedding: one id per bag; the same id twice sums its two gradients.
    bound.setIds([3, 3, 5, 0, 36, 1, 2, 3, 4, 5, 6, 7, 8]);
    const encoder2 = gpu.device.createCommandEncoder();
    store.zeroGrads(encoder2);
    gpu.submit("test", encoder2);
    runSteps(gpu, bound.forward, backward);
    const grad2 = await store.grad("items.weight").read();
    const expected = r[0 * d] + r[1 * d] + r[7 * d]; // id 3 appears in bags 0, 1 and 7
    assertClose([grad2[3 * d]], [expected], { rtol: 1e-6, atol: 1e-7 }, "id 3's gradient");
    assert.throws(() => bound.setBags([0, 2], [1, 2]), /offsets\.length must be bags \+ 1 = 14/);
    assert.throws(
      () => bound.setIds([37, ...Array(12).fill(0)]),
      /ids\[0\] must be an integer in \[0, 36\]: current value is 37/,
    );
    backward.destroy();
    bound.destroy();
    dOut.destroy();
    store.destroy();
  },
});
