/**
 * Embedding and EmbeddingBag (mean over a bag of ids), for item or word
 * features, over shaders/embedding.wgsl. The table is a parameter in a
 * {@linkcode ParameterStore}; ids are uploaded per step with their inverse
 * index (which bags use each distinct id), built on the host, so that the
 * backward is a race-free gather.
 *
 * @module
 */

import shader from "../../shaders/embedding.wgsl" with { type: "text" };
import { checkInt, rangeError, typeError } from "../gpu/check.ts";
import type { BindingKind, Gpu } from "../gpu/device.ts";
import { encodeDispatch, namedDispatch, type Step } from "../gpu/dispatch.ts";
import { Tensor } from "../gpu/tensor.ts";
import type { Init, ParameterStore } from "./parameters.ts";

/** Bindings of shaders/embedding.wgsl by name, in binding-number order. */
const LAYOUT = {
  dims: "uniform",
  table: "read",
  ids: "read",
  offsets: "read",
  out: "storage",
  dOut: "read",
  dTable: "storage",
  uniq: "read",
  invOffsets: "read",
  invBags: "read",
} as const satisfies Record<string, BindingKind>;
type Slot = keyof typeof LAYOUT;

/** An embedding bag bound to a batch of `bags` bags holding at most `maxIds` ids in all. */
export interface BoundEmbedding {
  /** Mean of each bag's rows, [bags, D]. */
  readonly output: Tensor;
  /** Records the forward. */
  readonly forward: Step;
  /**
   * Uploads this step's bags: bag b holds ids[offsets[b] .. offsets[b+1]].
   *
   * @param offsets bags + 1 non-decreasing offsets from 0.
   * @param ids The ids, each < vocab.
   */
  setBags(offsets: ArrayLike<number>, ids: ArrayLike<number>): void;
  /**
   * Uploads one id per bag (plain Embedding).
   *
   * @param ids bags ids.
   */
  setIds(ids: ArrayLike<number>): void;
  /**
   * Binds the backward: the table's gradient += the mean's adjoint.
   *
   * @param dOutput Gradient with respect to the output.
   * @returns The backward step.
   */
  bindBackward(dOutput: Tensor): Step;
  /** Frees buffers and steps. */
  destroy(): void;
}

/**
 * A table of `vocab` rows of width `dim`, looked up by id and averaged per bag.
 *
 * @example Two bags: {2} and {0, 2}
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddingBag, ParameterStore, requestGpu } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const store = new ParameterStore(gpu);
 * const items = new EmbeddingBag(store, "items", 3, 2);
 * store.build();
 * store.param("items.weight").write(new Float32Array([0, 0, 1, 1, 4, 8]));
 * const bound = items.bind(gpu, { bags: 2, maxIds: 3 });
 * bound.setBags([0, 1, 3], [2, 0, 2]);
 * const encoder = gpu.device.createCommandEncoder();
 * const pass = encoder.beginComputePass();
 * bound.forward.encode(pass);
 * pass.end();
 * gpu.submit("example", encoder);
 * assert.deepEqual(await bound.output.read(), new Float32Array([4, 8, 2, 4]));
 * gpu.destroy();
 * ```
 */
export class EmbeddingBag {
  /** Name prefix of the table parameter (`<name>.weight`). */
  readonly name: string;
  /** Rows of the table. */
  readonly vocab: number;
  /** Width of a row. */
  readonly dim: number;
  readonly #store: ParameterStore;

  /**
   * Declares the table in `store`.
   *
   * @param store Where the table lives.
   * @param name Parameter name prefix.
   * @param vocab Number of ids.
   * @param dim Embedding width.
   * @param init Initialiser (default Xavier over [vocab, dim]).
   */
  constructor(store: ParameterStore, name: string, vocab: number, dim: number, init: Init = "xavier") {
    checkInt("EmbeddingBag", "vocab", vocab, 1);
    checkInt("EmbeddingBag", "dim", dim, 1);
    this.name = name;
    this.vocab = vocab;
    this.dim = dim;
    this.#store = store;
    store.add(`${name}.weight`, [vocab, dim], init, [vocab, dim]);
  }

  /**
   * Allocates for a batch shape and binds the forward.
   *
   * @param gpu The context.
   * @param shape Bags per batch and the most ids a batch may hold.
   * @returns The bound embedding.
   */
  bind(gpu: Gpu, shape: { bags: number; maxIds: number }): BoundEmbedding {
    const op = `EmbeddingBag ${this.name}`;
    checkInt(op, "shape.bags", shape.bags, 1);
    checkInt(op, "shape.maxIds", shape.maxIds, 1);
    const { bags, maxIds } = shape;
    const { vocab, dim } = this;
    const ids = Tensor.zeros(gpu, [maxIds], "u32");
    const offsets = Tensor.zeros(gpu, [bags + 1], "u32");
    const uniq = Tensor.zeros(gpu, [maxIds], "u32");
    const invOffsets = Tensor.zeros(gpu, [maxIds + 1], "u32");
    const invBags = Tensor.zeros(gpu, [maxIds], "u32");
    const output = Tensor.empty(gpu, [bags, dim]);
    const dims = gpu.acquire(`${op}:dims`, 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const dimsHost = new Uint32Array([bags, dim, 0, 0]);
    gpu.device.queue.writeBuffer(dims, 0, dimsHost);
    const owned = [ids, offsets, uniq, invOffsets, invBags, output];
    const host = {
      ids: new Uint32Array(maxIds),
      offsets: new Uint32Array(bags + 1),
      uniq: new Uint32Array(maxIds),
      invOffsets: new Uint32Array(maxIds + 1),
      invBags: new Uint32Array(maxIds),
      slotOf: new Int32Array(vocab).fill(-1),
      count: new Uint32Array(maxIds),
      identity: Uint32Array.from({ length: bags + 1 }, (_, b) => b), // offsets of one id per bag
    };
    const resources: Record<Slot, GPUBufferBinding | GPUBuffer> = {
      dims,
      table: this.#store.param(`${this.name}.weight`).binding,
      ids: ids.binding,
      offsets: offsets.binding,
      out: output.binding,
      dOut: output.binding, // replaced in bindBackward
      dTable: this.#store.grad(`${this.name}.weight`).binding,
      uniq: uniq.binding,
      invOffsets: invOffsets.binding,
      invBags: invBags.binding,
    };
    const dispatch = (
      entry: string,
      uses: Slot[],
      bound: Record<Slot, GPUBufferBinding | GPUBuffer>,
      threads: number,
    ) => {
      const d = namedDispatch(gpu, op, shader, entry, LAYOUT, uses, bound, Math.ceil(threads / 64));
      return { encode: (pass: GPUComputePassEncoder) => encodeDispatch(pass, d), destroy: () => {} };
    };
    const forward = dispatch("bag_forward", ["dims", "table", "ids", "offsets", "out"], resources, bags * dim);
    const setBags = (bagOffsets: ArrayLike<number>, bagIds: ArrayLike<number>) => {
      const set = `${op}.setBags`;
      if (bagOffsets?.length !== bags + 1) {
        rangeError(set, "offsets.length", `bags + 1 = ${bags + 1}`, bagOffsets?.length);
      }
      if (bagOffsets[0] !== 0) rangeError(set, "offsets[0]", "0", bagOffsets[0]);
      for (let b = 0; b < bags; b++) {
        const o = bagOffsets[b + 1];
        if (!Number.isInteger(o) || o < bagOffsets[b]) {
          rangeError(set, `offsets[${b + 1}]`, `an integer >= offsets[${b}]`, o);
        }
      }
      const total = bagOffsets[bags];
      if (total > maxIds) rangeError(set, `offsets[${bags}]`, `<= maxIds (${maxIds})`, total);
      if (typeof bagIds !== "object" || bagIds === null || bagIds.length < total) {
        typeError(set, "ids", `an array of at least ${total} ids`, bagIds?.length);
      }
      for (let i = 0; i < total; i++) {
        const v = bagIds[i];
        if (!Number.isInteger(v) || v < 0 || v >= vocab) {
          rangeError(set, `ids[${i}]`, `an integer in [0, ${vocab - 1}]`, v);
        }
        host.ids[i] = v;
      }
      for (let b = 0; b <= bags; b++) host.offsets[b] = bagOffsets[b];
      // Inverse index: distinct ids in first-seen order, each with its bags in order.
      let unique = 0;
      for (let i = 0; i < total; i++) {
        if (host.slotOf[host.ids[i]] < 0) {
          host.slotOf[host.ids[i]] = unique;
          host.uniq[unique] = host.ids[i];
          host.count[unique++] = 0;
        }
        host.count[host.slotOf[host.ids[i]]]++;
      }
      host.invOffsets[0] = 0;
      for (let u = 0; u < unique; u++) host.invOffsets[u + 1] = host.invOffsets[u] + host.count[u];
      host.count.fill(0, 0, unique);
      for (let b = 0; b < bags; b++) {
        for (let i = host.offsets[b]; i < host.offsets[b + 1]; i++) {
          const u = host.slotOf[host.ids[i]];
          host.invBags[host.invOffsets[u] + host.count[u]++] = b;
        }
      }
      for (let u = 0; u < unique; u++) host.slotOf[host.uniq[u]] = -1;
      dimsHost[2] = unique;
      gpu.device.queue.writeBuffer(dims, 0, dimsHost);
      ids.write(host.ids);
      offsets.write(host.offsets);
      uniq.write(host.uniq);
      invOffsets.write(host.invOffsets);
      invBags.write(host.invBags);
    };
    return {
      output,
      forward,
      setBags,
      setIds: (oneEach) => {
        if (oneEach?.length !== bags) rangeError(`${op}.setIds`, "ids.length", `bags (${bags})`, oneEach?.length);
        setBags(host.identity, oneEach);
      },
      bindBackward: (dOutput) => {
        if (!(dOutput instanceof Tensor) || dOutput.size !== bags * dim) {
          rangeError(`${op}.bindBackward`, "dOutput.shape", `[${bags}, ${dim}]`, dOutput?.shape);
        }
        return dispatch(
          "bag_backward",
          ["dims", "offsets", "dOut", "dTable", "uniq", "invOffsets", "invBags"],
          { ...resources, dOut: dOutput.binding },
          maxIds * dim,
        );
      },
      destroy: () => {
        owned.forEach((t) => t.destroy());
        gpu.release(dims);
      },
    };
  }
}
