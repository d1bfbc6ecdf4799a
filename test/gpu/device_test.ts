import assert from "node:assert/strict";
import { requestGpu } from "../../src/gpu/device.ts";
import { DeviceLostError, GpuError, NoAdapterError, OutOfMemoryError } from "../../src/gpu/errors.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { median } from "../../src/gpu/_median.ts";
import { timeGpu } from "../../src/gpu/timing.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";

Deno.test({
  name: "requestGpu raises the limits that matter to what the adapter offers and reports adapter.info",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    console.log("adapter:", gpu.info);
    assert.ok(gpu.info.description.length > 0, "adapter.info.description is empty");
    for (const limit of ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize"] as const) {
      assert.equal(gpu.limits[limit], gpu.adapter.limits[limit], limit);
    }
    assert.equal(gpu.hasTimestamps, gpu.adapter.features.has("timestamp-query"));
    assert.equal(gpu.hasF16, gpu.adapter.features.has("shader-f16"));
  },
});

Deno.test("requestGpu without an adapter throws NoAdapterError saying what to install", async () => {
  const original = navigator.gpu.requestAdapter;
  navigator.gpu.requestAdapter = () => Promise.resolve(null);
  try {
    await assert.rejects(
      () => requestGpu(),
      (e: unknown) => e instanceof NoAdapterError && /mesa-vulkan-drivers/.test((e as Error).message),
    );
  } finally {
    navigator.gpu.requestAdapter = original;
  }
});

Deno.test({
  name: "an allocation beyond the device limits throws OutOfMemoryError before any GPU work",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const before = { ...gpu.counters };
    const tooBigForBinding = gpu.limits.maxStorageBufferBindingSize / 4 + 1;
    assert.throws(
      () => Tensor.empty(gpu, [tooBigForBinding]),
      (e: unknown) => e instanceof OutOfMemoryError && /maxStorageBufferBindingSize/.test((e as Error).message),
    );
    assert.throws(
      () => gpu.createBuffer("huge", gpu.limits.maxBufferSize + 4, GPUBufferUsage.COPY_DST),
      (e: unknown) => e instanceof OutOfMemoryError && (e as OutOfMemoryError).op === "huge",
    );
    assert.deepEqual(gpu.counters, before);
    await gpu.sync("after huge"); // nothing pending: the device is still healthy
  },
});

Deno.test({
  name: "a shader that does not compile surfaces as a GpuError naming the op at the next sync",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    gpu.pipeline("brokenOp", "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }", "main", []);
    await assert.rejects(
      () => gpu.sync("check"),
      (e: unknown) => e instanceof GpuError && e.kind === "validation" && e.op === "brokenOp",
    );
    await gpu.sync("after"); // the error was reported once, then cleared
  },
});

Deno.test({
  name: "an invalid submit surfaces as a GpuError naming the op",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const buffer = gpu.createBuffer("small", 16, GPUBufferUsage.COPY_SRC);
    const encoder = gpu.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, buffer, 0, 64); // out of range and same buffer
    gpu.submit("badCopy", encoder);
    await assert.rejects(() => gpu.sync("check"), (e: unknown) => e instanceof GpuError && e.op === "badCopy");
    gpu.destroyBuffer(buffer);
  },
});

Deno.test("calls on a destroyed device reject with DeviceLostError within 1 s, pending ones included", async () => {
  const gpu = await requestGpu();
  const size = 512;
  const a = Tensor.zeros(gpu, [size, size]);
  const c = matmul(gpu, a, a, { variant: "naive" }); // long enough to still be running
  const pending = c.read();
  const start = performance.now();
  gpu.destroy();
  await assert.rejects(pending, DeviceLostError);
  await assert.rejects(() => a.read(), DeviceLostError);
  await assert.rejects(() => gpu.sync("later"), DeviceLostError);
  assert.throws(() => Tensor.empty(gpu, [4]), DeviceLostError);
  const elapsed = performance.now() - start;
  assert.ok(elapsed < 1000, `rejections took ${elapsed.toFixed(0)} ms`);
  assert.ok(gpu.isLost);
});

Deno.test({
  name: "the buffer pool reuses released buffers and the counters track live bytes",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const first = Tensor.empty(gpu, [1001]);
    const afterFirst = { ...gpu.counters };
    first.destroy();
    const second = Tensor.empty(gpu, [1001]);
    assert.equal(second.buffer, first.buffer, "same size and usage reuses the buffer");
    assert.equal(gpu.counters.buffersAllocated, afterFirst.buffersAllocated);
    second.destroy();
    const liveBefore = gpu.counters.liveBytes;
    gpu.trimPool();
    assert.ok(gpu.counters.liveBytes <= liveBefore - 4004, "trimPool frees pooled bytes");
  },
});

Deno.test({
  name: "releasing a buffer twice pools it once, so two later owners never share it",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    const buffer = gpu.acquire("twice", 48, usage);
    gpu.release(buffer);
    gpu.release(buffer);
    const a = gpu.acquire("twice", 48, usage);
    const b = gpu.acquire("twice", 48, usage);
    assert.notEqual(a, b);
    gpu.release(a);
    gpu.release(b);
  },
});

Deno.test({
  name: "tensor views share their parent's buffer at aligned offsets and reject misaligned ones",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const parent = Tensor.from(gpu, Float32Array.from({ length: 256 }, (_, i) => i), [4, 64]);
    const before = gpu.counters.buffersAllocated;
    const row2 = parent.view(128, [1, 64]);
    assert.equal(gpu.counters.buffersAllocated, before, "a view allocates nothing");
    assert.equal((await row2.read())[0], 128);
    row2.write(new Float32Array(64).fill(-1));
    assert.equal((await parent.read())[130], -1);
    assert.ok(row2.overlaps(parent) && !row2.overlaps(parent.view(192, [64])));
    const alignment = gpu.limits.minStorageBufferOffsetAlignment;
    assert.throws(() => parent.view(alignment / 4 + 1, [8]), /Tensor\.view as start must be at a byte offset/);
    assert.throws(() => parent.view(250, [8]), /start must be an integer in \[0, 248\]/);
    parent.destroy();
    assert.ok(row2.destroyed, "a view ends with its parent");
  },
});

Deno.test({
  name: "tensors round-trip f32, u32 and i32 data, and empty shapes",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const cases = [
      new Float32Array([1.5, -2, 3e-8, NaN, Infinity]),
      new Uint32Array([0, 1, 2 ** 32 - 1, 7, 9]),
      new Int32Array([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1]),
    ];
    for (const data of cases) {
      const t = Tensor.from(gpu, data, [5]);
      assert.deepEqual(await t.read(), data);
      t.destroy();
    }
    const empty = Tensor.from(gpu, new Float32Array(0), [3, 0]);
    assert.equal((await empty.read()).length, 0);
    empty.destroy();
    assert.throws(
      () => Tensor.from(gpu, new Float32Array(5), [2, 3]),
      /data\.length must be the product of shape \[2, 3\] \(6\): current value is 5/,
    );
    assert.throws(() => Tensor.empty(gpu, [2, -1]), /shape must be non-negative integers: current value is \[2, -1\]/);
  },
});

Deno.test({
  name: "timeGpu returns the median of finite positive samples",
  ...gpuTest,
  fn: async () => {
    const gpu = await testGpu();
    const t = await timeGpu(gpu, () => {}, { iterations: 5, warmup: 1 });
    assert.equal(t.samplesMs.length, 5);
    assert.ok(t.samplesMs.every((s) => Number.isFinite(s) && s >= 0));
    assert.equal(t.medianMs, median(t.samplesMs));
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  },
});
