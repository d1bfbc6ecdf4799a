/**
 * Labelled u8 datasets: the host form that readers and generators produce,
 * and the GPU-resident form a trainer gathers from. The pixels go to the
 * GPU once, as bytes packed in u32, and are converted to f32 inside the
 * gather kernel (with an optional affine warp for augmentation).
 *
 * @module
 */

import { checkArrayLike, checkInt, checkNumber, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { checkGpu, Tensor } from "../gpu/tensor.ts";
import { type ByteRowLayout, gatherBytes, type GatherOptions, packBytes, wordsPerRow } from "../ops/gather.ts";
import { injectLabelNoise } from "./idx.ts";
import { checkSeed, Rng } from "./random.ts";
import { checkNoise, SyntheticClusters } from "./synthetic.ts";

/** Labelled images (or any fixed-width byte rows) on the host. */
export interface LabelledBytes {
  /** rows·width bytes, row-major. */
  images: Uint8Array;
  /** Number of rows. */
  rows: number;
  /** Bytes per row. */
  width: number;
  /** [height, width] when a row is an image (augmentation needs it). */
  imageShape?: readonly [number, number];
  /** The labels training sees (possibly noisy), one per row, in [0, classes). */
  labels: Uint8Array;
  /** The true labels, when known (evaluation uses them). */
  cleanLabels: Uint8Array;
  /** Number of classes. */
  classes: number;
}

/**
 * Checks that `data` is internally consistent.
 *
 * @param op The caller, for errors.
 * @param name The argument's name.
 * @param data The dataset.
 * @throws {TypeError} When `data` is not an object, a size is not a number, `images` is not a Uint8Array, the labels
 * are not array-like, or `imageShape` is not an array.
 * @throws {RangeError} When a size is out of range, a length disagrees with `rows`, a label is not an integer in
 * [0, classes), or `imageShape` is not two integers >= 1 that multiply to `width`.
 */
export function checkLabelledBytes(op: string, name: string, data: LabelledBytes): void {
  checkObject(op, name, data, "a labelled dataset");
  checkInt(op, `${name}.rows`, data.rows, 1);
  checkInt(op, `${name}.width`, data.width, 1);
  checkInt(op, `${name}.classes`, data.classes, 2, 256);
  if (!(data.images instanceof Uint8Array)) typeError(op, `${name}.images`, "a Uint8Array", data.images);
  if (data.images.length !== data.rows * data.width) {
    rangeError(op, `${name}.images.length`, `rows·width = ${data.rows * data.width}`, data.images.length);
  }
  if (data.imageShape !== undefined) {
    const shape = data.imageShape;
    if (!Array.isArray(shape)) typeError(op, `${name}.imageShape`, "[height, width]", shape);
    if (
      shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 1) || shape[0] * shape[1] !== data.width
    ) {
      rangeError(op, `${name}.imageShape`, `[h, w] of integers >= 1 with h·w = width (${data.width})`, shape);
    }
  }
  for (const key of ["labels", "cleanLabels"] as const) {
    const labels: ArrayLike<unknown> = data[key];
    checkArrayLike(op, `${name}.${key}`, labels, "an array of labels");
    if (labels.length !== data.rows) {
      rangeError(op, `${name}.${key}.length`, `rows (${data.rows})`, labels.length);
    }
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i];
      if (typeof y !== "number" || !Number.isInteger(y) || y < 0 || y >= data.classes) {
        rangeError(op, `${name}.${key}[${i}]`, `an integer in [0, ${data.classes - 1}] (< classes)`, y);
      }
    }
  }
}

/**
 * Checks that a dataset's packed bytes fit one storage binding of `gpu` (what {@linkcode DeviceDataset} uploads).
 *
 * @param op The op, for the message.
 * @param name The dataset argument's name.
 * @param data A checked dataset.
 * @param gpu The context.
 * @throws {RangeError} When the packed bytes exceed the device's `maxStorageBufferBindingSize`.
 */
export function checkFitsDevice(op: string, name: string, data: LabelledBytes, gpu: Gpu): void {
  const bytes = data.rows * wordsPerRow(data.width) * 4;
  const limit = gpu.limits.maxStorageBufferBindingSize;
  if (bytes > limit) {
    rangeError(op, `${name}.images`, `at most maxStorageBufferBindingSize (${limit}) bytes once packed`, bytes);
  }
}

/**
 * A labelled byte dataset resident on the GPU.
 *
 * @example Upload three 2×2 images and gather two of them as f32
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceDataset, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const images = new Uint8Array([0, 0, 0, 0, 255, 255, 255, 255, 0, 255, 0, 255]);
 * const labels = new Uint8Array([0, 1, 0]);
 * const data = new DeviceDataset(gpu, {
 *   images, rows: 3, width: 4, imageShape: [2, 2], labels, cleanLabels: labels, classes: 2,
 * });
 * const ids = Tensor.from(gpu, new Uint32Array([2, 1]), [2]);
 * const out = Tensor.empty(gpu, [2, 4]);
 * gpu.runPass("example", data.gather(ids, out));
 * assert.deepEqual(await out.read(), new Float32Array([0, 1, 0, 1, 1, 1, 1, 1]));
 * gpu.destroy();
 * ```
 */
export class DeviceDataset {
  /** The host dataset (labels stay on the host: samplers read them). */
  readonly host: LabelledBytes;
  /** The packed bytes, u32. */
  readonly data: Tensor;
  /** Rows, width and image shape. */
  readonly layout: ByteRowLayout;

  /**
   * Uploads the bytes once, after checking they fit one storage binding.
   *
   * @param gpu The context.
   * @param host The dataset.
   * @throws {TypeError} When `gpu` is not a Gpu, `host` is not an object, `host.rows`, `host.width` or
   * `host.classes` is not a number, `host.images` is not a Uint8Array, or its labels are not array-like.
   * @throws {RangeError} When `host` is inconsistent (sizes, lengths, labels not in [0, classes), classes not in
   * [2, 256], an image shape that does not multiply to the width), or its packed bytes exceed the device's
   * `maxStorageBufferBindingSize`.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, host: LabelledBytes) {
    const op = "DeviceDataset";
    checkGpu(op, gpu);
    checkLabelledBytes(op, "host", host);
    checkFitsDevice(op, "host", host, gpu);
    this.host = host;
    this.layout = { rows: host.rows, width: host.width, imageShape: host.imageShape };
    const packed = packBytes(host.images, host.rows, host.width);
    this.data = Tensor.from(gpu, packed, [packed.length]);
  }

  /**
   * Binds a gather of rows `ids` into `out` (see `gatherBytes`).
   *
   * @param ids u32 [R] row numbers.
   * @param out f32 [R, width].
   * @param options Scale (default 1/255), shift, warps.
   * @returns The bound work.
   * @throws {TypeError} When `ids` is not a u32 Tensor, an option is not a number, or `options.warps` is given for
   * rows that are not images (no `imageShape`).
   * @throws {RangeError} When `out` is not f32 [R, width], `options.warps` not f32 [R, 12], a scale or shift is not
   * finite, or `imageShape` does not multiply to the width.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  gather(ids: Tensor, out: Tensor, options: GatherOptions = {}): Encodable {
    return gatherBytes(this.data.gpu, this.data, this.layout, ids, out, options);
  }

  /** Frees the GPU copy. */
  destroy(): void {
    this.data.destroy();
  }
}

/** Options of {@linkcode syntheticImages}. */
export interface SyntheticImagesOptions {
  /** Rows (default 12,000). */
  rows?: number;
  /** Classes (default 10). */
  classes?: number;
  /** Noise around a class prototype, relative to the prototypes' spread (default 4). */
  noise?: number;
  /** Symmetric label-noise rate r in [0, 1) applied to the training labels (default 0). */
  labelNoise?: number;
  /** Seed of prototypes, samples and label noise (default 0). */
  seed?: number;
  /** Image side: rows are side² bytes (default 28, an MNIST image's). */
  side?: number;
}

/**
 * The embedded default dataset: {@linkcode SyntheticClusters} quantised to
 * MNIST-shaped bytes (v ↦ 128 + 40v/√(1 + noise²), clamped), with balanced classes and
 * a known symmetric label-noise rate, so that λ is known exactly.
 *
 * @param options Size, classes, noise, label noise, seed.
 * @returns The dataset; `cleanLabels` are the true classes.
 * @throws {TypeError} When `options` is not an object, or `options.rows`, `classes`, `side`, `labelNoise`, `noise`
 * or `seed` is not a number.
 * @throws {RangeError} When `options.rows` is not an integer >= 1, `options.classes` not one in [2, 256],
 * `options.side` not one in [1, 4096], `options.labelNoise` not in [0, 1), `options.noise` not in [0, 2.1e37], or
 * `options.seed` not finite.
 *
 * @example 100 rows with 20% of the labels flipped
 * ```ts
 * import assert from "node:assert/strict";
 * import { syntheticImages } from "../../mod.ts";
 * const data = syntheticImages({ rows: 100, labelNoise: 0.2, seed: 3 });
 * assert.equal(data.images.length, 100 * 784);
 * const flipped = data.labels.filter((y, i) => y !== data.cleanLabels[i]).length;
 * assert.ok(flipped > 5 && flipped < 40);
 * ```
 */
export function syntheticImages(options: SyntheticImagesOptions = {}): LabelledBytes {
  const op = "syntheticImages";
  checkObject(op, "options", options);
  const { rows = 12_000, classes = 10, noise = 4, labelNoise = 0, seed = 0, side = 28 } = options;
  checkInt(op, "options.rows", rows, 1);
  checkInt(op, "options.classes", classes, 2, 256);
  checkInt(op, "options.side", side, 1, 4096);
  checkNumber(op, "options.labelNoise", labelNoise, (v) => v >= 0 && v < 1, "in [0, 1)");
  checkNoise(op, "options.noise", noise);
  checkSeed(op, "options.seed", seed);
  const width = side * side;
  const clusters = new SyntheticClusters({ classes, dim: width, noise, seed });
  const sample = new Float32Array(width);
  const toByte = 40 / Math.sqrt(1 + noise * noise); // ±3.2 standard deviations fit in a byte
  const images = new Uint8Array(rows * width);
  const cleanLabels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const y = r % classes; // balanced
    cleanLabels[r] = y;
    clusters.sample(y, sample, 0);
    for (let p = 0; p < width; p++) {
      images[r * width + p] = Math.max(0, Math.min(255, Math.round(128 + toByte * sample[p])));
    }
  }
  const noiseRng = new Rng(seed ^ 0x5bd1e995);
  const labels = injectLabelNoise(cleanLabels, classes, labelNoise, () => noiseRng.next()).labels;
  return { images, rows, width, imageShape: [side, side], labels, cleanLabels, classes };
}

/**
 * Rows [from, to) of a dataset, as a new dataset.
 *
 * @param data The dataset.
 * @param from First row.
 * @param to One past the last row.
 * @returns The slice (copied).
 * @throws {TypeError} When `data` is not a labelled dataset (see {@linkcode DeviceDataset}'s constructor), or `from`
 * or `to` is not a number.
 * @throws {RangeError} When `data` is inconsistent, `from` is not an integer in [0, rows), or `to` not one in
 * (from, rows].
 */
export function sliceRows(data: LabelledBytes, from: number, to: number): LabelledBytes {
  checkLabelledBytes("sliceRows", "data", data);
  checkInt("sliceRows", "from", from, 0, data.rows - 1);
  checkInt("sliceRows", "to", to, from + 1, data.rows);
  return {
    ...data,
    rows: to - from,
    images: data.images.slice(from * data.width, to * data.width),
    labels: data.labels.slice(from, to),
    cleanLabels: data.cleanLabels.slice(from, to),
  };
}

/**
 * Training and test splits of one synthetic task (shared prototypes): label
 * noise, when asked for, only in the training labels.
 *
 * @param options As {@linkcode syntheticImages}, with `trainRows` (default 12,000) and `testRows` (default 2,000).
 * @returns The two splits.
 * @throws {TypeError} When `options` is not an object, or a row count, `classes`, `side`, `labelNoise`, `noise` or
 * `seed` is not a number.
 * @throws {RangeError} When `options.trainRows` or `options.testRows` is not an integer >= 1, or another option is
 * out of range (see {@linkcode syntheticImages}).
 */
export function syntheticSplits(
  options: Omit<SyntheticImagesOptions, "rows"> & { trainRows?: number; testRows?: number } = {},
): { train: LabelledBytes; test: LabelledBytes } {
  checkObject("syntheticSplits", "options", options);
  const { trainRows = 12_000, testRows = 2_000, ...rest } = options;
  checkInt("syntheticSplits", "options.trainRows", trainRows, 1);
  checkInt("syntheticSplits", "options.testRows", testRows, 1);
  const all = syntheticImages({ ...rest, rows: trainRows + testRows });
  const test = sliceRows(all, trainRows, trainRows + testRows);
  return { train: sliceRows(all, 0, trainRows), test: { ...test, labels: test.cleanLabels } };
}

/**
 * Fashion-MNIST's 10 classes merged into C coarser, balanced ones, by a
 * fixed mapping (index: the original class; value: the merged one):
 * - C = 10: as they are.
 * - C = 5: tops (T-shirt/top, Shirt), warm tops (Pullover, Coat), long
 *   (Trouser, Dress), low shoes (Sandal, Sneaker), carried and boots (Bag,
 *   Ankle boot).
 * - C = 2: worn on the upper body or as a dress (T-shirt/top, Pullover,
 *   Dress, Coat, Shirt) against the rest (Trouser, Sandal, Sneaker, Bag,
 *   Ankle boot).
 * With label-unaware negatives a negative shares the anchor's merged class
 * with probability about 1/C, so λ ≈ 1 − 1/C: 0.9, 0.8, 0.5
 * (docs/science.md §4).
 */
export const FASHION_MNIST_MERGES: Readonly<Record<2 | 5 | 10, readonly number[]>> = Object.freeze({
  10: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  5: [0, 2, 1, 2, 1, 3, 0, 3, 4, 4],
  2: [0, 1, 0, 0, 0, 1, 0, 1, 1, 1],
});

/**
 * The mapping that merges `classes` balanced classes into `into` by
 * y ↦ y mod `into` (the synthetic set's merge).
 *
 * @param classes Classes now.
 * @param into Classes after the merge; must divide `classes`, so that the merged classes stay balanced.
 * @returns The mapping.
 * @throws {RangeError} When `into` is not an integer in [2, classes] that divides `classes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { moduloMerge } from "./dataset.ts";
 * assert.deepEqual(moduloMerge(6, 3), [0, 1, 2, 0, 1, 2]);
 * ```
 */
export function moduloMerge(classes: number, into: number): number[] {
  checkInt("moduloMerge", "classes", classes, 2, 256);
  checkInt("moduloMerge", "into", into, 2, classes);
  if (classes % into !== 0) rangeError("moduloMerge", "into", `a divisor of classes (${classes})`, into);
  return Array.from({ length: classes }, (_, y) => y % into);
}

/**
 * A dataset whose labels (noisy and clean) are mapped to coarser classes;
 * the images are shared, not copied.
 *
 * @param data The dataset.
 * @param mapping For each class, its merged class (integers from 0, every merged class used).
 * @returns The merged dataset.
 * @throws {TypeError} When `data` is not a labelled dataset (see {@linkcode DeviceDataset}'s constructor), or
 * `mapping` is not an array or holds a value that is not a number.
 * @throws {RangeError} When `data` is inconsistent, the mapping has not one entry per class, or its values are not
 * 0..C−1 all used with C ≥ 2.
 *
 * @example Four classes into two
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeClasses, syntheticImages } from "../../mod.ts";
 * const data = syntheticImages({ rows: 8, classes: 4, side: 2 });
 * const merged = mergeClasses(data, [0, 1, 0, 1]);
 * assert.equal(merged.classes, 2);
 * assert.deepEqual(Array.from(merged.cleanLabels), Array.from(data.cleanLabels, (y) => y % 2));
 * ```
 */
export function mergeClasses(data: LabelledBytes, mapping: readonly number[]): LabelledBytes {
  const op = "mergeClasses";
  checkLabelledBytes(op, "data", data);
  if (!Array.isArray(mapping)) typeError(op, "mapping", "an array of merged classes", mapping);
  if (mapping.length !== data.classes) {
    rangeError(op, "mapping.length", `data.classes (${data.classes})`, mapping.length);
  }
  mapping.forEach((y, i) => checkInt(op, `mapping[${i}]`, y, 0, data.classes - 1));
  const classes = mapping.reduce((a, y) => Math.max(a, y), -1) + 1;
  if (classes < 2) rangeError(op, "mapping", "at least two merged classes", mapping);
  for (let c = 0; c < classes; c++) {
    if (!mapping.includes(c)) rangeError(op, "mapping", `every merged class 0..${classes - 1} used`, mapping);
  }
  const map = (labels: Uint8Array) => labels.map((y) => mapping[y]);
  return { ...data, labels: map(data.labels), cleanLabels: map(data.cleanLabels), classes };
}
