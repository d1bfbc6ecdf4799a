/**
 * The pipeline cache behind `Gpu.pipeline`: one shader module per WGSL
 * source, one layout per binding-kind list, one pipeline per (shader, entry
 * point, layout, override constants). Creating a pipeline happens once per
 * key; a training step only looks them up.
 *
 * @module
 */

import type { BindingKind, GpuCounters, OverrideConstants } from "./types.ts";

/** Whether NCEGPU_PRINT_WGSL=1 asks to print every shader as it is compiled (off without --allow-env). */
export function printWgsl(): boolean {
  try {
    // deno-lint-ignore no-explicit-any
    return (globalThis as any).Deno?.env.get("NCEGPU_PRINT_WGSL") === "1";
  } catch {
    return false;
  }
}

/** Runs `create` inside the context's error scopes, naming `op`. */
type Scoped = <T>(op: string, create: () => T) => T;

/** Shader modules, layouts and pipelines, created once each. */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #counters: GpuCounters;
  readonly #printWgsl: boolean;
  readonly #scoped: Scoped;
  /** Pipelines by WGSL source, then by (entry point, layout, constants). */
  readonly #pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #layouts = new Map<string, GPUPipelineLayout>();

  /**
   * An empty cache.
   *
   * @param device The device.
   * @param counters Where pipeline creations are counted.
   * @param printWgsl Print each shader as it is compiled (NCEGPU_PRINT_WGSL=1).
   * @param scoped Runs creation inside the context's error scopes.
   */
  constructor(device: GPUDevice, counters: GpuCounters, printWgsl: boolean, scoped: Scoped) {
    this.#device = device;
    this.#counters = counters;
    this.#printWgsl = printWgsl;
    this.#scoped = scoped;
  }

  /**
   * The pipeline for a key, created on a miss (after `beforeCreate`, which may throw a pending error).
   *
   * @param op The op, for labels and errors.
   * @param code WGSL source.
   * @param entryPoint The `@compute` entry point.
   * @param bindings Kinds of bindings 0..n-1 of group 0; `null` skips a number.
   * @param constants Override constants.
   * @param beforeCreate Runs only on a miss, before anything is created.
   * @returns The pipeline.
   */
  get(
    op: string,
    code: string,
    entryPoint: string,
    bindings: readonly (BindingKind | null)[],
    constants: OverrideConstants,
    beforeCreate: () => void,
  ): GPUComputePipeline {
    const numeric: Record<string, number> = {};
    for (const name of Object.keys(constants).sort()) numeric[name] = Number(constants[name]);
    const layoutKey = bindings.map((kind) => kind ?? "-").join(",");
    const key = `${entryPoint}|${layoutKey}|${JSON.stringify(numeric)}`;
    let forShader = this.#pipelines.get(code);
    if (!forShader) this.#pipelines.set(code, forShader = new Map());
    const cached = forShader.get(key);
    if (cached) return cached;
    beforeCreate();
    const module = this.#module(op, code);
    const layout = this.#layout(layoutKey, bindings);
    const pipeline = this.#scoped(op, () =>
      this.#device.createComputePipeline({
        label: `${op}:${entryPoint}`,
        layout,
        compute: { module, entryPoint, constants: numeric },
      }));
    this.#counters.pipelinesCreated++;
    forShader.set(key, pipeline);
    return pipeline;
  }

  #module(op: string, code: string): GPUShaderModule {
    const cached = this.#modules.get(code);
    if (cached) return cached;
    if (this.#printWgsl) console.error(`--- WGSL for ${op} ---\n${code}`);
    const module = this.#scoped(op, () => this.#device.createShaderModule({ label: op, code }));
    this.#modules.set(code, module);
    return module;
  }

  #layout(key: string, bindings: readonly (BindingKind | null)[]): GPUPipelineLayout {
    const cached = this.#layouts.get(key);
    if (cached) return cached;
    const entries: GPUBindGroupLayoutEntry[] = [];
    bindings.forEach((kind, binding) => {
      if (!kind) return;
      const type = kind === "uniform" ? "uniform" : kind === "read" ? "read-only-storage" : "storage";
      entries.push({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    });
    const bindGroupLayout = this.#device.createBindGroupLayout({ label: key, entries });
    const layout = this.#device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });
    this.#layouts.set(key, layout);
    return layout;
  }
}
