import assert from "node:assert/strict";
import { requestGpu } from "../../src/gpu/device.ts";
import { DeviceLostError } from "../../src/gpu/errors.ts";
import { entryBindings, Kernel, shaderBindings } from "../../src/gpu/_kernel.ts";
import { Tensor } from "../../src/gpu/tensor.ts";
import { gpuTest, testGpu } from "../util/gpu.ts";

const SNIPPET = `
override WG: u32;
struct Dims { n: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage> spare: array<f32>; // storage without an access mode is read-only
// fn decoy() { spare[0]; } — a comment is not code
fn load(i: u32) -> f32 { return x[i]; }
@compute @workgroup_size(WG)
fn double(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < dims.n) { y[id.x] = 2.0 * load(id.x); }
}
@compute @workgroup_size(WG)
fn clear(@builtin(global_invocation_id) id: vec3u) {
  let n = dims.n; // "n" as a member name does not make a binding
  if (id.x < n) { y[id.x] = 0.0; }
}`;

Deno.test("shaderBindings() reads every group-0 binding with its kind, in binding order", () => {
  assert.deepEqual(shaderBindings(SNIPPET), [
    { name: "dims", binding: 0, kind: "uniform" },
    { name: "y", binding: 1, kind: "storage" },
    { name: "x", binding: 2, kind: "read" },
    { name: "spare", binding: 3, kind: "read" },
  ]);
});

Deno.test("entryBindings() follows the functions an entry point calls, and ignores comments and member names", () => {
  assert.deepEqual(entryBindings(SNIPPET, "double"), ["dims", "y", "x"]);
  assert.deepEqual(entryBindings(SNIPPET, "clear"), ["dims", "y"]);
});

Deno.test("a binding declared twice or outside group 0 is refused", () => {
  assert.throws(
    () =>
      shaderBindings("@group(0) @binding(1) var<storage> a: array<f32>; @group(0) @binding(1) var<storage> b: u32;"),
    /binding 1 is declared twice/,
  );
  assert.throws(() => shaderBindings("@group(1) @binding(0) var<storage> a: array<f32>;"), /group 1/);
});

// Each shader with the override constants that have no default in it.
const SHADERS: Record<string, Record<string, number>> = {
  activation: { WG: 64 },
  contrast: { WG: 64 },
  embedding: { WG: 64 },
  gather: { WG: 256 },
  knn: { WG: 32 },
  l2norm: { WG: 64 },
  matmul: {},
  optim: { WG: 256, ITEMS: 16 },
};

Deno.test({
  name: "every entry point of every shader binds exactly the bindings WebGPU itself finds it using",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const device = gpu.device;
    const buffer = (usage: GPUBufferUsageFlags) => device.createBuffer({ size: 4096, usage });
    const uniform = buffer(GPUBufferUsage.UNIFORM);
    const storage = buffer(GPUBufferUsage.STORAGE);
    let entries = 0;
    for (const [name, constants] of Object.entries(SHADERS)) {
      const code = await Deno.readTextFile(new URL(`../../shaders/${name}.wgsl`, import.meta.url));
      const declared = shaderBindings(code);
      assert.ok(declared.length > 0, `${name}.wgsl declares bindings`);
      const module = device.createShaderModule({ code });
      for (const [, entry] of code.matchAll(/@compute[^\n]*\n?\s*fn\s+(\w+)/g)) {
        const uses = entryBindings(code, entry);
        device.pushErrorScope("validation");
        // "auto" layout: WebGPU's own analysis of which bindings the entry point statically uses.
        const auto = device.createComputePipeline({
          layout: "auto",
          compute: { module, entryPoint: entry, constants },
        });
        device.createBindGroup({
          layout: auto.getBindGroupLayout(0),
          entries: declared.filter((b) => uses.includes(b.name)).map((b) => ({
            binding: b.binding,
            resource: { buffer: b.kind === "uniform" ? uniform : storage },
          })),
        });
        // The explicit layout built from the parsed kinds must validate against the shader too.
        const kinds = declared.map((b) => (uses.includes(b.name) ? b.kind : null));
        gpu.pipeline(`kernel_test:${name}`, code, entry, kinds, constants);
        const error = await device.popErrorScope();
        assert.equal(error, null, `${name}.wgsl ${entry} uses [${uses}]: ${error?.message}`);
        entries++;
      }
    }
    await gpu.sync("kernel_test");
    assert.ok(entries >= 20, `every entry point was checked (${entries})`);
    uniform.destroy();
    storage.destroy();
  },
});

Deno.test({
  name: "a kernel given a binding its entry point does not use, or missing one, throws naming them before any GPU work",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const x = Tensor.zeros(gpu, [4]);
    const y = Tensor.zeros(gpu, [4]);
    const spec = { op: "snippet", shader: SNIPPET, entry: "double", workgroupSize: 64, threads: 4 };
    const pipelines = gpu.counters.pipelinesCreated;
    const dims = new Uint32Array([4, 0, 0, 0]);
    assert.throws(
      () => new Kernel(gpu, { ...spec, bindings: { x }, uniforms: { dims } }),
      /the bindings of double must be exactly \[dims, y, x\] \(from the WGSL\): current value is \[x, dims\]/,
    );
    assert.throws(
      () => new Kernel(gpu, { ...spec, bindings: { x, y, spare: x }, uniforms: { dims } }),
      /exactly \[dims, y, x\].*current value is \[x, y, spare, dims\]/,
    );
    assert.equal(gpu.counters.pipelinesCreated, pipelines);
    x.destroy();
    y.destroy();
  },
});

Deno.test({
  name: "workgroupSize reaches WGSL as WG: 37 items at 16 and at 64 threads per workgroup give the same result",
  ...gpuTest,
  async fn() {
    const gpu = await testGpu();
    const n = 37;
    const x = Tensor.from(gpu, Float32Array.from({ length: n }, (_, i) => i - 10.5), [n]);
    const results = [];
    for (const workgroupSize of [16, 64]) {
      const y = Tensor.empty(gpu, [n]);
      y.fill(-1);
      const kernel = new Kernel(gpu, {
        op: "snippet",
        shader: SNIPPET,
        entry: "double",
        bindings: { x, y },
        uniforms: { dims: new Uint32Array([n, 0, 0, 0]) },
        workgroupSize,
        threads: n,
      });
      assert.deepEqual(kernel.groups, [Math.ceil(n / workgroupSize), 1]);
      gpu.runPass("snippet", kernel);
      results.push(await y.read());
      kernel.destroy();
      y.destroy();
    }
    assert.deepEqual(results[0], Float32Array.from({ length: n }, (_, i) => 2 * (i - 10.5)));
    assert.deepEqual(results[1], results[0]);
    x.destroy();
  },
});

Deno.test({
  name: "a kernel whose pipeline cannot be created takes no uniform from the pool",
  ...gpuTest,
  async fn() {
    const gpu = await requestGpu(); // destroyed below: not the shared one
    const x = Tensor.zeros(gpu, [4]);
    const y = Tensor.empty(gpu, [4]);
    const spec = (workgroupSize: number) => ({
      op: "snippet",
      shader: SNIPPET,
      entry: "double",
      bindings: { x, y },
      uniforms: { dims: new Uint32Array([4, 0, 0, 0]) },
      workgroupSize,
      threads: 4,
    });
    new Kernel(gpu, spec(8)).destroy(); // its 16-byte uniform is back in the pool
    gpu.destroy(); // from now on a pipeline not yet cached throws DeviceLostError
    assert.throws(() => new Kernel(gpu, spec(16)), DeviceLostError);
    // The uniform is still pooled: taking it allocates nothing, which on a lost device would throw.
    gpu.acquire("check", 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  },
});
