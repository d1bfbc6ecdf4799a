/**
 * MNIST-style image data sets (Fashion-MNIST, MNIST) from their four IDX arrays, however the bytes were read: the
 * checks and the label noise of `loadMnistFiles` (Deno, from files), for pages that fetch the files themselves. No
 * file access.
 *
 * @module
 */

import { checkInt, checkNumber, checkObject, checkString, rangeError, typeError } from "../gpu/_check.ts";
import { type IdxArray, IdxError, injectLabelNoise } from "./idx.ts";
import type { LabelledBytes } from "./dataset.ts";
import { checkSeed, Rng } from "./random.ts";

/** The four files' names without `.gz`: images and labels of the training and the test split. */
export const MNIST_FILES: Readonly<{
  train: readonly ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"];
  test: readonly ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
}> = Object.freeze({
  train: Object.freeze(["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] as const),
  test: Object.freeze(["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] as const),
});

/** One split as read: its images and labels, and where each came from (error messages name them). */
export interface IdxSplit {
  /** u8 [N, H, W]. */
  images: IdxArray;
  /** u8 [N]. */
  labels: IdxArray;
  /** A path or URL per array. */
  sources: { images: string; labels: string };
}

/** The name of an IDX array's element type, from its typed array. */
function typeOf(array: IdxArray): string {
  return array.data instanceof Uint8Array ? "u8" : array.data.constructor.name;
}

/** The images of one split: u8 [N, H, W]. */
function checkImages(images: IdxArray, path: string): void {
  if (images.shape.length !== 3) {
    throw new IdxError(path, `images must have 3 dimensions [N, H, W]: current shape is [${images.shape.join(", ")}]`);
  }
  if (!(images.data instanceof Uint8Array)) {
    throw new IdxError(path, `images must be u8 (IDX type code 0x08): current type is ${typeOf(images)}`);
  }
}

/** The labels of one split: u8 [N], one per image. */
function checkLabels(labels: IdxArray, rows: number, path: string): void {
  if (labels.shape.length !== 1) {
    throw new IdxError(path, `labels must have 1 dimension [N]: current shape is [${labels.shape.join(", ")}]`);
  }
  if (!(labels.data instanceof Uint8Array)) {
    throw new IdxError(path, `labels must be u8 (IDX type code 0x08): current type is ${typeOf(labels)}`);
  }
  if (labels.shape[0] !== rows) {
    throw new IdxError(path, `labels must be one per image (${rows} images): current count is ${labels.shape[0]}`);
  }
}

/** The number of classes the training labels imply: the largest label + 1 (a loop: a spread overflows the stack). */
function classesOf(labels: Uint8Array, path: string): number {
  let largest = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > largest) largest = labels[i];
  if (largest < 1) {
    throw new IdxError(path, `labels must name at least 2 classes: the largest training label is ${largest}`);
  }
  return largest + 1;
}

function labelled(
  { images, labels, sources }: IdxSplit,
  classes: number,
  labelNoise: number,
  seed: number,
): LabelledBytes {
  const [rows, h, w] = images.shape;
  const cleanLabels = labels.data as Uint8Array;
  const bad = cleanLabels.findIndex((y) => y >= classes);
  if (bad >= 0) {
    throw new IdxError(
      sources.labels,
      `label ${bad} must be < classes (${classes}, the largest training label + 1): current value is ${
        cleanLabels[bad]
      }`,
    );
  }
  const rng = new Rng(seed);
  const noisy = labelNoise > 0
    ? injectLabelNoise(cleanLabels, classes, labelNoise, () => rng.next()).labels
    : cleanLabels;
  return {
    images: images.data as Uint8Array,
    rows,
    width: h * w,
    imageShape: [h, w],
    labels: noisy,
    cleanLabels,
    classes,
  };
}

function checkSplit(op: string, arg: string, split: IdxSplit): void {
  checkObject(op, arg, split);
  for (const part of ["images", "labels"] as const) {
    const array = split[part];
    if (typeof array !== "object" || array === null || !Array.isArray(array.shape) || !ArrayBuffer.isView(array.data)) {
      typeError(op, `${arg}.${part}`, "an IdxArray ({ shape, data }, as parseIdx returns)", array);
    }
    array.shape.forEach((size, i) => checkInt(op, `${arg}.${part}.shape[${i}]`, size, 0));
    const elements = array.shape.reduce((a, b) => a * b, 1);
    if (array.data.length !== elements) {
      rangeError(
        op,
        `${arg}.${part}.data.length`,
        `the product of its shape [${array.shape}] (${elements})`,
        array.data.length,
      );
    }
  }
  checkObject(op, `${arg}.sources`, split.sources);
  checkString(op, `${arg}.sources.images`, split.sources.images);
  checkString(op, `${arg}.sources.labels`, split.sources.labels);
}

/**
 * The training and test splits from their IDX arrays. Label noise, when asked for, is applied to the training labels
 * only; `cleanLabels` keep the originals. The number of classes is the largest training label + 1, for both splits.
 *
 * @example Two tiny splits of 2×2 images
 * ```ts
 * import assert from "node:assert/strict";
 * import { mnistSplits } from "./mnist.ts";
 * const split = (rows: number) => ({
 *   images: { shape: [rows, 2, 2], data: new Uint8Array(rows * 4) },
 *   labels: { shape: [rows], data: Uint8Array.from({ length: rows }, (_, i) => i % 3) },
 *   sources: { images: "images", labels: "labels" },
 * });
 * const { train, test } = mnistSplits(split(6), split(4));
 * assert.deepEqual([train.rows, test.rows, train.width, train.classes], [6, 4, 4, 3]);
 * ```
 *
 * @param train The training split's arrays.
 * @param test The test split's arrays.
 * @param options Symmetric label-noise rate in [0, 1) for training labels (default 0), and its seed (default 0).
 * @returns The two splits, sharing the arrays' bytes.
 * @throws {TypeError} When a split is not an object of two IdxArrays and their sources, a shape entry is not a number,
 * `options` is not an object, or `options.labelNoise` or `options.seed` is not a number.
 * @throws {RangeError} When a shape entry is not an integer ≥ 0, an array's data length is not the product of its shape,
 * `options` names something other than `labelNoise` and `seed`, `options.labelNoise` is not in [0, 1), or
 * `options.seed` is not finite.
 * @throws {IdxError} When the arrays are not an image data set: images not u8 [N, H, W]; labels not u8 [N] with one
 * label per image; training labels naming fewer than 2 classes; a test label not below the training labels' class
 * count; test images of another H×W than the training images. Each message names the source and the rule.
 */
export function mnistSplits(
  train: IdxSplit,
  test: IdxSplit,
  options: { labelNoise?: number; seed?: number } = {},
): { train: LabelledBytes; test: LabelledBytes } {
  const op = "mnistSplits";
  checkSplit(op, "train", train);
  checkSplit(op, "test", test);
  const { labelNoise, seed } = checkMnistOptions(op, options);
  for (const split of [train, test]) {
    checkImages(split.images, split.sources.images);
    checkLabels(split.labels, split.images.shape[0], split.sources.labels);
  }
  const [trainShape, testShape] = [train.images.shape.slice(1), test.images.shape.slice(1)];
  if (testShape.join() !== trainShape.join()) {
    throw new IdxError(
      test.sources.images,
      `test images must be ${trainShape.join("×")} like the training images: current shape is [${
        test.images.shape.join(", ")
      }]`,
    );
  }
  const classes = classesOf(train.labels.data as Uint8Array, train.sources.labels);
  return {
    train: labelled(train, classes, labelNoise, seed),
    test: labelled(test, classes, 0, seed),
  };
}

/**
 * The label-noise options of {@linkcode mnistSplits} and `loadMnistFiles`, checked, with their defaults.
 *
 * @param op The op, for errors.
 * @param options The options.
 * @returns The rate and the seed.
 */
export function checkMnistOptions(
  op: string,
  options: { labelNoise?: number; seed?: number },
): { labelNoise: number; seed: number } {
  checkObject(op, "options", options);
  const unknown = Object.keys(options).filter((key) => key !== "labelNoise" && key !== "seed");
  if (unknown.length > 0) rangeError(op, `options.${unknown[0]}`, "an option of labelNoise, seed", "set");
  const labelNoise = options.labelNoise ?? 0;
  checkNumber(op, "options.labelNoise", labelNoise, (v) => v >= 0 && v < 1, "in [0, 1)");
  const seed = options.seed ?? 0;
  checkSeed(op, "options.seed", seed);
  return { labelNoise, seed };
}
