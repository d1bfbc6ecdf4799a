/**
 * The one way ncegpu runs WGSL. A {@linkcode Kernel} is one entry point of
 * one shader, bound to buffers by their WGSL names, with its grid: pipeline,
 * bind group and workgroup count in one object, encoded one way.
 *
 * The binding table is never written in TypeScript. It is read from the
 * shader's own `@group(0) @binding(n) var<…> name` lines
 * ({@linkcode shaderBindings}), and the bindings an entry point uses are
 * found by following its body and the functions it calls
 * ({@linkcode entryBindings}). A launcher passes exactly those names; a
 * missing or extra one throws, naming the op, the entry point and the names.
 * test/gpu/kernel_test.ts holds the parser to what WebGPU itself derives.
 *
 * A workgroup size is one TypeScript value: `workgroupSize` reaches WGSL as
 * the override constant `WG`, and the same value sizes the grid.
 *
 * @module
 */

import { rangeError, typeError } from "./_check.ts";
import type { Binding, BindingKind, Encodable, Gpu, OverrideConstants } from "./device.ts";
import { Tensor } from "./tensor.ts";

/** One `@group(0) @binding(n) var<…> name` declaration. */
export interface ShaderBinding {
  /** The variable's name in WGSL. */
  name: string;
  /** Its binding number. */
  binding: number;
  /** How it is declared: `var<uniform>`, `var<storage, read>` or `var<storage, read_write>`. */
  kind: BindingKind;
}

/** What {@linkcode entryBindings} and the kernels need to know of one shader, parsed once. */
interface ParsedShader {
  bindings: ShaderBinding[];
  /** Function name → identifiers its body mentions. */
  functions: Map<string, Set<string>>;
  entries: Map<string, string[]>;
}

const parsed = new Map<string, ParsedShader>();

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, "");
}

function parse(code: string): ParsedShader {
  const cached = parsed.get(code);
  if (cached) return cached;
  const text = stripComments(code);
  const bindings: ShaderBinding[] = [];
  const declaration = /@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*(?:<([^>]*)>)?\s*(\w+)/g;
  for (const [, group, binding, qualifiers = "", name] of text.matchAll(declaration)) {
    if (group !== "0") throw new Error(`internal: binding ${name} is in group ${group}; kernels bind group 0 only`);
    const [space, access] = qualifiers.split(",").map((s) => s.trim());
    const kind: BindingKind = space === "uniform" ? "uniform" : access === "read_write" ? "storage" : "read";
    const number = Number(binding);
    if (bindings.some((b) => b.binding === number)) throw new Error(`internal: binding ${number} is declared twice`);
    bindings.push({ name, binding: number, kind });
  }
  bindings.sort((a, b) => a.binding - b.binding);
  const functions = new Map<string, Set<string>>();
  for (const match of text.matchAll(/\bfn\s+(\w+)\s*\(/g)) {
    const open = text.indexOf("{", match.index);
    let depth = 0;
    let end = open;
    for (; end < text.length; end++) {
      if (text[end] === "{") depth++;
      else if (text[end] === "}" && --depth === 0) break;
    }
    // Identifiers, not member names: `params.rows` mentions params, not rows.
    const names = text.slice(open, end).matchAll(/(?<![.\w])[A-Za-z_]\w*/g);
    functions.set(match[1], new Set(Array.from(names, (m) => m[0])));
  }
  const result = { bindings, functions, entries: new Map<string, string[]>() };
  parsed.set(code, result);
  return result;
}

/**
 * Every group-0 binding a WGSL module declares, in binding-number order.
 *
 * @param code WGSL source.
 * @returns The declarations.
 */
export function shaderBindings(code: string): ShaderBinding[] {
  return parse(code).bindings;
}

/**
 * The names of the bindings `entry` uses: those its body mentions, and those
 * of every function it calls, transitively.
 *
 * @param code WGSL source.
 * @param entry An entry point of it.
 * @returns Binding names, in binding-number order.
 */
export function entryBindings(code: string, entry: string): string[] {
  const shader = parse(code);
  const cached = shader.entries.get(entry);
  if (cached) return cached;
  if (!shader.functions.has(entry)) throw new Error(`internal: the shader has no function ${entry}`);
  const seen = new Set<string>();
  const visit = (fn: string) => {
    if (seen.has(fn)) return;
    seen.add(fn);
    for (const name of shader.functions.get(fn)!) if (shader.functions.has(name)) visit(name);
  };
  visit(entry);
  const mentioned = new Set([...seen].flatMap((fn) => [...shader.functions.get(fn)!]));
  const uses = shader.bindings.filter((b) => mentioned.has(b.name)).map((b) => b.name);
  shader.entries.set(entry, uses);
  return uses;
}

/** What a {@linkcode Kernel} runs and how it is bound. */
export interface KernelSpec {
  /** The op, for labels and errors. */
  op: string;
  /** WGSL source. */
  shader: string;
  /** The `@compute` entry point. */
  entry: string;
  /** A tensor or buffer for every binding the entry point uses, by its WGSL name, and no other (undefined: absent). */
  bindings: Readonly<Record<string, Tensor | Binding | undefined>>;
  /**
   * Uniforms the kernel owns, by WGSL name: each is taken from the pool, written once, bound, and
   * returned to the pool by `destroy`.
   */
  uniforms?: Readonly<Record<string, ArrayBuffer | ArrayBufferView>>;
  /** Threads per workgroup, passed to WGSL as the override constant `WG`. */
  workgroupSize?: number;
  /** One thread per item: launches ceil(threads / workgroupSize) workgroups (needs `workgroupSize`). */
  threads?: number;
  /** Workgroups: a count (folded into x and y past the per-dimension limit), or an explicit [x, y] grid. */
  workgroups?: number | readonly [number, number];
  /** Further override constants. */
  constants?: OverrideConstants;
}

/**
 * A grid of `count` workgroups folded into x and y, because one dimension
 * holds at most `maxComputeWorkgroupsPerDimension` (65,535); kernels unfold
 * it as `wid.y * nwg.x + wid.x`.
 */
function foldGroups(gpu: Gpu, count: number): [number, number] {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y];
}

/**
 * One entry point bound once and encoded any number of times, with no
 * allocation and no pipeline creation after construction.
 *
 * @example Fill a buffer with its indices
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, Tensor } from "../../mod.ts";
 * import { Kernel } from "./_kernel.ts";
 * const gpu = await requestGpu();
 * const out = Tensor.empty(gpu, [100], "u32");
 * const shader = `
 *   override WG: u32;
 *   @group(0) @binding(0) var<storage, read_write> out: array<u32>;
 *   @compute @workgroup_size(WG) fn fill(@builtin(global_invocation_id) id: vec3u) {
 *     if (id.x < arrayLength(&out)) { out[id.x] = id.x; }
 *   }`;
 * const kernel = new Kernel(gpu, { op: "fill", shader, entry: "fill", bindings: { out }, workgroupSize: 64, threads: 100 });
 * gpu.runPass("fill", kernel);
 * assert.equal((await out.read())[99], 99);
 * gpu.destroy();
 * ```
 */
export class Kernel implements Encodable {
  /** The op it belongs to. */
  readonly op: string;
  /** The entry point. */
  readonly entry: string;
  /** Workgroups along x and y. */
  readonly groups: readonly [number, number];
  readonly #gpu: Gpu;
  readonly #pipeline: GPUComputePipeline;
  readonly #bindGroup: GPUBindGroup;
  readonly #uniforms = new Map<string, GPUBuffer>();

  /**
   * Checks the bindings against the shader, then creates (or takes from the cache) the pipeline, takes the
   * uniforms from the pool and binds. Nothing is held when it throws.
   *
   * @param gpu The context.
   * @param spec Shader, entry point, bindings and grid.
   * @throws {TypeError} When the bindings are not exactly those the entry point uses.
   * @throws {RangeError} When the grid exceeds the device's workgroups per dimension.
   * @throws {GpuError} When the pipeline is not cached yet (or a uniform must be allocated) and an earlier op's GPU
   * error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, spec: KernelSpec) {
    const { op, shader, entry } = spec;
    const uses = entryBindings(shader, entry);
    const bound = Object.keys(spec.bindings).filter((n) => spec.bindings[n] !== undefined);
    const given = [...bound, ...Object.keys(spec.uniforms ?? {})];
    const missing = uses.filter((n) => !given.includes(n));
    const extra = given.filter((n) => !uses.includes(n));
    if (missing.length || extra.length) {
      typeError(op, `the bindings of ${entry}`, `exactly [${uses.join(", ")}] (from the WGSL)`, given);
    }
    const constants: OverrideConstants = { ...spec.constants };
    if (spec.workgroupSize !== undefined) constants.WG = spec.workgroupSize;
    let groups: [number, number];
    if (spec.workgroups === undefined) {
      if (spec.threads === undefined || spec.workgroupSize === undefined) {
        throw new Error(`internal: ${op}:${entry} needs workgroups, or threads and workgroupSize`);
      }
      groups = foldGroups(gpu, Math.ceil(spec.threads / spec.workgroupSize));
    } else {
      groups = typeof spec.workgroups === "number" ? foldGroups(gpu, spec.workgroups) : [...spec.workgroups];
    }
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    if (groups[0] > max || groups[1] > max) {
      rangeError(op, "the grid", `at most ${max} workgroups per dimension`, groups);
    }
    this.op = op;
    this.entry = entry;
    this.groups = groups;
    this.#gpu = gpu;
    const declared = shaderBindings(shader);
    const kinds: (BindingKind | null)[] = [];
    for (const b of declared) kinds[b.binding] = uses.includes(b.name) ? b.kind : null;
    for (let i = 0; i < kinds.length; i++) kinds[i] ??= null;
    // The pipeline first: if creating it throws (a pending GPU error, a lost device), no uniform is held.
    this.#pipeline = gpu.pipeline(op, shader, entry, kinds, constants);
    try {
      for (const [name, data] of Object.entries(spec.uniforms ?? {})) {
        const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
        const buffer = gpu.acquire(`${op}:${name}`, data.byteLength, usage);
        this.#uniforms.set(name, buffer);
        gpu.device.queue.writeBuffer(buffer, 0, data);
      }
      const resources: (Binding | null)[] = kinds.map(() => null);
      for (const b of declared) {
        if (!uses.includes(b.name)) continue;
        const value = this.#uniforms.get(b.name) ?? spec.bindings[b.name];
        resources[b.binding] = value instanceof Tensor ? value.binding : value!;
      }
      this.#bindGroup = gpu.bindGroup(op, this.#pipeline, resources);
    } catch (error) {
      this.destroy(); // the uniforms taken before the failure: nothing is held when the constructor throws
      throw error;
    }
  }

  /**
   * Records the dispatch into `pass` (nothing for an empty grid).
   *
   * @param pass An open compute pass.
   */
  encode(pass: GPUComputePassEncoder): void {
    if (this.groups[0] === 0 || this.groups[1] === 0) return;
    pass.setPipeline(this.#pipeline);
    pass.setBindGroup(0, this.#bindGroup);
    pass.dispatchWorkgroups(this.groups[0], this.groups[1]);
  }

  /** Returns the owned uniforms to the pool; safe right after a submit. */
  destroy(): void {
    for (const buffer of this.#uniforms.values()) this.#gpu.release(buffer);
    this.#uniforms.clear();
  }
}

/**
 * Work that runs in order: the one way to combine kernels (a layer's
 * backward, a network's forward). `destroy` frees every part, then what the
 * work owns besides (scratch buffers).
 *
 * @param parts The work, first to last.
 * @param owned Buffers the work uses and frees with its parts.
 * @returns One encodable.
 */
export function sequence(parts: readonly Encodable[], owned: readonly { destroy(): void }[] = []): Encodable {
  return {
    encode: (pass) => {
      for (const part of parts) part.encode(pass);
    },
    destroy: () => {
      for (const part of parts) part.destroy();
      for (const x of owned) x.destroy();
    },
  };
}

/**
 * A {@linkcode sequence} built part by part: when building throws (a pending
 * GPU error, a lost device, a buffer past the limits), the parts built so far
 * and `owned` are freed before the error goes on, so a failed bind holds
 * nothing.
 *
 * @param build Adds the parts, first to last.
 * @param owned Buffers the work uses and frees with its parts.
 * @returns One encodable.
 */
export function buildSequence(
  build: (add: (part: Encodable) => void) => void,
  owned: readonly { destroy(): void }[] = [],
): Encodable {
  const parts: Encodable[] = [];
  try {
    build((part) => parts.push(part));
  } catch (error) {
    for (const part of parts) part.destroy();
    for (const x of owned) x.destroy();
    throw error;
  }
  return sequence(parts, owned);
}
