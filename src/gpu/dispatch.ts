/**
 * Recorded work: a dispatch (pipeline, bind group, grid) and the `Step`
 * interface that layers, losses and optimizers expose to a training step.
 *
 * @module
 */

import type { Binding, BindingKind, Gpu, OverrideConstants } from "./device.ts";

/** A pipeline, its bind group and its grid: one recorded dispatch. */
export interface Dispatch {
  /** The pipeline. */
  pipeline: GPUComputePipeline;
  /** Its bind group. */
  bindGroup: GPUBindGroup;
  /** Workgroups along x and y. */
  groups: [number, number];
}

/** Work bound once and recorded into a step's compute pass any number of times. */
export interface Step {
  /** Records the work into `pass`. */
  encode(pass: GPUComputePassEncoder): void;
  /** Returns what the step holds (uniforms) to the pool; safe right after a submit. */
  destroy(): void;
}

/** Records `d` into `pass`. */
export function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch): void {
  if (d.groups[0] === 0 || d.groups[1] === 0) return;
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.groups[0], d.groups[1]);
}

/**
 * A grid of `count` workgroups folded into x and y, because one dimension
 * holds at most `maxComputeWorkgroupsPerDimension` (65,535); kernels unfold
 * it as `wid.y * nwg.x + wid.x`.
 */
export function foldGroups(gpu: Gpu, count: number): [number, number] {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y];
}

/**
 * A step that runs `dispatches` in order and releases `uniforms` on destroy.
 *
 * @param gpu The context.
 * @param dispatches The work.
 * @param uniforms Pooled buffers the dispatches bind.
 * @returns The step.
 */
export function stepOf(gpu: Gpu, dispatches: readonly Dispatch[], uniforms: readonly GPUBuffer[] = []): Step {
  return {
    encode: (pass) => dispatches.forEach((d) => encodeDispatch(pass, d)),
    destroy: () => uniforms.forEach((u) => gpu.release(u)),
  };
}

/**
 * A uniform buffer from the pool holding `data`.
 *
 * @param gpu The context.
 * @param op The op, for labels.
 * @param data The contents.
 * @returns The buffer.
 */
export function uniformOf(gpu: Gpu, op: string, data: Uint32Array | Float32Array): GPUBuffer {
  const buffer = gpu.acquire(`${op}:uniform`, data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  gpu.device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/**
 * One dispatch of `entry` in a module whose bindings are named. `layout`
 * gives every binding of the module, by name and in binding-number order,
 * with its kind; the pipeline's layout holds only the names in `uses` (the
 * ones the entry point reads or writes) and leaves the other numbers empty.
 *
 * @param gpu The context.
 * @param op The op, for labels and errors.
 * @param code WGSL source.
 * @param entry The entry point.
 * @param layout The module's bindings: name → kind, in binding-number order.
 * @param uses The names this entry uses.
 * @param resources A buffer (or range) for each name in `uses`.
 * @param workgroups Workgroups to launch (folded into x and y).
 * @param constants Override constants.
 * @returns The dispatch.
 */
export function namedDispatch<Name extends string>(
  gpu: Gpu,
  op: string,
  code: string,
  entry: string,
  layout: Readonly<Record<Name, BindingKind>>,
  uses: readonly Name[],
  resources: Partial<Record<Name, Binding>>,
  workgroups: number,
  constants: OverrideConstants = {},
): Dispatch {
  const names = Object.keys(layout) as Name[];
  const pipeline = gpu.pipeline(op, code, entry, names.map((n) => (uses.includes(n) ? layout[n] : null)), constants);
  const bound = names.map((n) => {
    if (!uses.includes(n)) return null;
    const resource = resources[n];
    if (!resource) throw new Error(`internal: ${entry} needs a buffer for ${n}`);
    return resource;
  });
  return { pipeline, bindGroup: gpu.bindGroup(op, pipeline, bound), groups: foldGroups(gpu, workgroups) };
}
