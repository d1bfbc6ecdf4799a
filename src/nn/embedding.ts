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
import { checkArrayLike, checkEnum, checkInt, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, Tensor } from "../gpu/tensor.ts";
import { InverseIndex } from "../ops/_inverse_index.ts";
import { type Init, INITS, ParameterStore } from "./parameters.ts";

const WG = 64;

/** An embedding bag bound to a batch of `bags` bags holding at most `maxIds` ids in all. */
export interface BoundEmbedding {
  /** Mean of each bag's rows, [bags, D]. */
  readonly output: Tensor;
  /** Records the forward. */
  readonly forward: Encodable;
  /**
   * Uploads this step's bags: bag b holds ids[offsets[b] .. offsets[b+1]].
   *
   * @param offsets bags + 1 non-decreasing offsets from 0.
   * @param ids The ids, each < vocab.
   * @throws {TypeError} When `offsets` or `ids` is not array-like.
   * @throws {RangeError} When `offsets` is not bags + 1 non-decreasing integers from 0 to at most maxIds, `ids` holds
   * fewer than offsets[bags] ids, or an id is not an integer in [0, vocab).
   */
  setBags(offsets: ArrayLike<number>, ids: ArrayLike<number>): void;
  /**
   * Uploads one id per bag (plain Embedding).
   *
   * @param ids bags ids.
   * @throws {TypeError} When `ids` is not array-like.
   * @throws {RangeError} When `ids` is not `bags` integers in [0, vocab).
   */
  setIds(ids: ArrayLike<number>): void;
  /**
   * Binds the backward: the table's gradient += the mean's adjoint.
   *
   * @param dOutput Gradient with respect to the output.
   * @returns The backward step.
   * @throws {TypeError} When `dOutput` is not a live f32 Tensor of the bound Gpu.
   * @throws {RangeError} When `dOutput` does not have bags·D elements.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bindBackward(dOutput: Tensor): Encodable;
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
 * gpu.runPass("example", bound.forward);
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
   * @throws {TypeError} When `store` is not a ParameterStore, `name` or `init` is not a string, or `vocab` or `dim`
   * is not a number.
   * @throws {RangeError} When `name` is empty, `vocab` or `dim` is not an integer >= 1, `init` is unknown, `store` is
   * built, or the name is taken.
   */
  constructor(store: ParameterStore, name: string, vocab: number, dim: number, init: Init = "xavier") {
    const op = "EmbeddingBag";
    if (!(store instanceof ParameterStore)) typeError(op, "store", "a ParameterStore", store);
    checkString(op, "name", name, true);
    checkInt(op, "vocab", vocab, 1);
    checkInt(op, "dim", dim, 1);
    checkEnum(op, "init", init, INITS);
    if (store.built) rangeError(op, "store", "not built yet (declare every layer, then build)", "built");
    this.name = name;
    this.vocab = vocab;
    this.dim = dim;
    this.#store = store;
    store.add(`${name}.weight`, [vocab, dim], init, [vocab, dim]);
  }

  /**
   * Allocates for a batch shape and binds the forward.
   *
   * @param gpu The context (the store's).
   * @param shape Bags per batch and the most ids a batch may hold.
   * @returns The bound embedding.
   * @throws {TypeError} When `gpu` is not the store's Gpu, `shape` is not an object, `shape.bags` or `shape.maxIds`
   * is not a number, or the store is destroyed.
   * @throws {RangeError} When `shape.bags` or `shape.maxIds` is not an integer >= 1, or the store is not built.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  bind(gpu: Gpu, shape: { bags: number; maxIds: number }): BoundEmbedding {
    const op = `EmbeddingBag ${this.name}`;
    checkGpu(op, gpu);
    if (gpu !== this.#store.gpu) typeError(op, "gpu", "the Gpu of the layer's ParameterStore", "another Gpu");
    checkObject(op, "shape", shape);
    checkInt(op, "shape.bags", shape.bags, 1);
    checkInt(op, "shape.maxIds", shape.maxIds, 1);
    const table = this.#store.param(`${this.name}.weight`); // before allocating: throws when the store is not built
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
    const kernels: Kernel[] = [];
    const host = {
      ids: new Uint32Array(maxIds),
      offsets: new Uint32Array(bags + 1),
      uniq: new Uint32Array(maxIds),
      /** Each id's place in `uniq` (its local id), and each occurrence's local id and bag. */
      slotOf: new Int32Array(vocab).fill(-1),
      local: new Uint32Array(maxIds),
      bagOf: new Uint32Array(maxIds),
      invBags: new Uint32Array(maxIds),
      inverse: new InverseIndex(maxIds, maxIds),
      identity: Uint32Array.from({ length: bags + 1 }, (_, b) => b), // offsets of one id per bag
    };
    const kernel = (entry: string, bindings: Record<string, Tensor | GPUBuffer>, threads: number) => {
      const k = new Kernel(gpu, { op, shader, entry, bindings, workgroupSize: WG, threads });
      kernels.push(k);
      return k;
    };
    const forward = kernel("bag_forward", { dims, table, ids, bag_offsets: offsets, out: output }, bags * dim);
    const setBags = (bagOffsets: ArrayLike<number>, bagIds: ArrayLike<number>) => {
      const set = `${op}.setBags`;
      checkArrayLike(set, "offsets", bagOffsets, "an array of bag offsets");
      checkArrayLike(set, "ids", bagIds, "an array of ids");
      if (bagOffsets.length !== bags + 1) {
        rangeError(set, "offsets.length", `bags + 1 = ${bags + 1}`, bagOffsets.length);
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
      if (bagIds.length < total) rangeError(set, "ids.length", `at least offsets[${bags}] = ${total}`, bagIds.length);
      for (let i = 0; i < total; i++) {
        const v = bagIds[i];
        if (!Number.isInteger(v) || v < 0 || v >= vocab) {
          rangeError(set, `ids[${i}]`, `an integer in [0, ${vocab - 1}]`, v);
        }
        host.ids[i] = v;
      }
      for (let b = 0; b <= bags; b++) host.offsets[b] = bagOffsets[b];
      // Distinct ids in first-seen order (local ids), then which occurrences, hence which bags, use each.
      let unique = 0;
      for (let i = 0; i < total; i++) {
        if (host.slotOf[host.ids[i]] < 0) {
          host.slotOf[host.ids[i]] = unique;
          host.uniq[unique++] = host.ids[i];
        }
        host.local[i] = host.slotOf[host.ids[i]];
      }
      for (let b = 0; b < bags; b++) host.bagOf.fill(b, host.offsets[b], host.offsets[b + 1]);
      host.inverse.build(host.local, total);
      for (let p = 0; p < total; p++) host.invBags[p] = host.bagOf[host.inverse.positions[p]];
      for (let u = 0; u < unique; u++) host.slotOf[host.uniq[u]] = -1;
      dimsHost[2] = unique;
      gpu.device.queue.writeBuffer(dims, 0, dimsHost);
      ids.write(host.ids);
      offsets.write(host.offsets);
      uniq.write(host.uniq);
      invOffsets.write(host.inverse.offsets);
      invBags.write(host.invBags);
    };
    return {
      output,
      forward,
      setBags,
      setIds: (oneEach) => {
        checkArrayLike(`${op}.setIds`, "ids", oneEach, "an array of ids");
        if (oneEach.length !== bags) rangeError(`${op}.setIds`, "ids.length", `bags (${bags})`, oneEach.length);
        setBags(host.identity, oneEach);
      },
      bindBackward: (dOutput) => {
        checkTensor(`${op}.bindBackward`, "dOutput", dOutput, gpu, "f32");
        if (dOutput.size !== bags * dim) {
          rangeError(`${op}.bindBackward`, "dOutput.shape", `[${bags}, ${dim}]`, dOutput.shape);
        }
        const dTable = this.#store.grad(`${this.name}.weight`);
        return kernel("bag_backward", {
          dims,
          bag_offsets: offsets,
          d_out: dOutput,
          d_table: dTable,
          uniq,
          inv_offsets: invOffsets,
          inv_bags: invBags,
        }, maxIds * dim);
      },
      destroy: () => {
        kernels.forEach((k) => k.destroy());
        owned.forEach((t) => t.destroy());
        gpu.release(dims);
      },
    };
  }
}
