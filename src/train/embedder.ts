/**
 * Embedding whole datasets with an encoder, a chunk of gathered rows per
 * submit, without augmentation: what evaluation feeds to kNN and probes.
 *
 * @module
 */

import { checkArrayLike, checkInt, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { checkGpu, Tensor } from "../gpu/tensor.ts";
import { DeviceDataset } from "../data/dataset.ts";
import { type BoundNetwork, Sequential } from "../nn/sequential.ts";

/**
 * An encoder bound once to a chunk of gathered rows, for embedding whole
 * datasets without augmentation: one gather and one forward per chunk.
 *
 * @example Embed three rows of a tiny dataset
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceDataset, mlp, ParameterStore, requestGpu, syntheticImages } from "../../mod.ts";
 * import { Embedder } from "./embedder.ts";
 * const gpu = await requestGpu();
 * const data = new DeviceDataset(gpu, syntheticImages({ rows: 10, side: 3 }));
 * const store = new ParameterStore(gpu, { seed: 1 });
 * const encoder = mlp(store, [9, 4]);
 * store.build();
 * const embedder = new Embedder(gpu, encoder, { data }, { chunk: 2 });
 * const z = await embedder.embed("data", [0, 5, 9]);
 * assert.equal(z.length, 3 * 4);
 * gpu.destroy();
 * ```
 */
export class Embedder<Name extends string> {
  /** Rows embedded per submit. */
  readonly chunk: number;
  /** Embedding width. */
  readonly dim: number;
  readonly #gpu: Gpu;
  readonly #datasets: Record<Name, DeviceDataset>;
  readonly #ids: Tensor;
  readonly #input: Tensor;
  readonly #bound: BoundNetwork;
  readonly #gathers: Record<Name, Encodable>;
  #destroyed = false;

  /**
   * Binds the encoder to one chunk and a gather from each dataset.
   *
   * @param gpu The context.
   * @param encoder The encoder (its input width must be the datasets' row width).
   * @param datasets The datasets, by name.
   * @param options Rows per chunk (default 500).
   * @throws {TypeError} When `gpu` is not a Gpu, `encoder` is not a Sequential, `datasets` is not an object of
   * DeviceDatasets of `gpu`, `options` is not an object or `options.chunk` not a number, or the encoder's parameters
   * are on another Gpu.
   * @throws {RangeError} When `datasets` is empty, `options.chunk` is not an integer ≥ 1, the datasets' widths differ
   * from each other or from the encoder's, or the encoder's store is not built; all before anything is allocated.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(
    gpu: Gpu,
    encoder: Sequential,
    datasets: Record<Name, DeviceDataset>,
    options: { chunk?: number } = {},
  ) {
    const op = "Embedder";
    checkGpu(op, gpu);
    if (!(encoder instanceof Sequential)) typeError(op, "encoder", "a Sequential", encoder);
    checkObject(op, "datasets", datasets, "an object of DeviceDatasets by name");
    checkObject(op, "options", options);
    this.chunk = options.chunk ?? 500;
    checkInt(op, "options.chunk", this.chunk, 1);
    const names = Object.keys(datasets) as Name[];
    if (names.length === 0) rangeError(op, "datasets", "at least one DeviceDataset", "an empty object");
    for (const name of names) {
      const d: unknown = datasets[name];
      if (!(d instanceof DeviceDataset)) typeError(op, `datasets.${name}`, "a DeviceDataset", d);
      if (d.data.gpu !== gpu) typeError(op, `datasets.${name}`, "a DeviceDataset of the same Gpu", "another Gpu's");
    }
    const width = datasets[names[0]].layout.width;
    for (const name of names) {
      if (datasets[name].layout.width !== width) {
        rangeError(
          op,
          `datasets.${name}.layout.width`,
          `the same width as the others (${width})`,
          datasets[name].layout.width,
        );
      }
    }
    this.dim = encoder.outputDim(width);
    encoder.checkBindable(gpu); // the store built, on this Gpu: before the chunk's buffers are allocated
    this.#gpu = gpu;
    this.#datasets = datasets;
    this.#ids = Tensor.zeros(gpu, [this.chunk], "u32");
    this.#input = Tensor.empty(gpu, [this.chunk, width]);
    this.#bound = encoder.bind(gpu, this.#input);
    const gathers = names.map((n) => [n, datasets[n].gather(this.#ids, this.#input)]);
    this.#gathers = Object.fromEntries(gathers) as Record<Name, Encodable>;
  }

  /**
   * Embeds rows of one dataset, a chunk per submit.
   *
   * @param name Which dataset.
   * @param rows Row numbers.
   * @returns Embeddings, [rows.length, D] row-major (empty for no rows).
   * @throws {TypeError} When the embedder is destroyed, `name` is not a string, or `rows` is not array-like.
   * @throws {RangeError} When `name` is not one of the datasets, or a row number is out of range.
   * @throws {GpuError} When an earlier op's GPU error is pending, or the embedding work causes one.
   * @throws {DeviceLostError} When the device is lost.
   */
  async embed(name: Name, rows: ArrayLike<number>): Promise<Float32Array> {
    const op = "Embedder.embed";
    if (this.#destroyed) typeError(op, "the embedder", "live (not destroyed)", "destroyed");
    checkString(op, "name", name);
    if (!Object.hasOwn(this.#datasets, name)) {
      rangeError(op, "name", `one of ${Object.keys(this.#datasets).join(", ")}`, name);
    }
    checkArrayLike(op, "rows", rows, "an array of row numbers");
    const { chunk, dim } = this;
    const gather = this.#gathers[name];
    const available = this.#datasets[name].layout.rows;
    const result = new Float32Array(rows.length * dim);
    const ids = new Uint32Array(chunk);
    for (let start = 0; start < rows.length; start += chunk) {
      const n = Math.min(chunk, rows.length - start);
      for (let i = 0; i < chunk; i++) {
        const r = rows[start + Math.min(i, n - 1)]; // a short last chunk repeats its last row
        if (!Number.isInteger(r) || r < 0 || r >= available) {
          rangeError(op, `rows[${start + i}]`, `an integer in [0, ${available - 1}]`, r);
        }
        ids[i] = r;
      }
      this.#ids.write(ids);
      this.#gpu.runPass("Embedder.embed", (pass) => {
        gather.encode(pass);
        this.#bound.forward.encode(pass);
      });
      const z = (await this.#bound.output.read()) as Float32Array;
      result.set(z.subarray(0, n * dim), start * dim);
    }
    return result;
  }

  /** Frees the chunk's buffers and bound work (not the datasets or the encoder's parameters). Later calls do nothing. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const gather of Object.values<Encodable>(this.#gathers)) gather.destroy();
    for (const t of [this.#bound, this.#ids, this.#input]) t.destroy();
  }
}
