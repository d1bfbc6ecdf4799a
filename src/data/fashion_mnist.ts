/**
 * Fashion-MNIST (or MNIST) from its four IDX files: 28×28 u8 images and
 * labels of 10 classes. Debian's `dataset-fashion-mnist` installs them in
 * {@linkcode FASHION_MNIST_DIR}. Deno-only (reads files).
 *
 * @module
 */

import { checkNumber, checkObject, checkString } from "../gpu/_check.ts";
import { type IdxArray, IdxError, injectLabelNoise, readIdx } from "./idx.ts";
import type { LabelledBytes } from "./dataset.ts";
import { checkSeed, Rng } from "./random.ts";

/** Where Debian's `dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

const FILES = {
  train: ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
  test: ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
} as const;

async function find(dir: string, stem: string): Promise<string> {
  for (const name of [`${stem}.gz`, stem]) {
    try {
      await Deno.stat(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // try the next name
    }
  }
  throw new IdxError(`${dir}/${stem}.gz`, "not found (nor uncompressed); install dataset-fashion-mnist or pass --data");
}

/**
 * True when `dir` holds the four files.
 *
 * @param dir The folder (default {@linkcode FASHION_MNIST_DIR}).
 * @returns Whether all four are present.
 * @throws {TypeError} When `dir` is not a string.
 * @throws {RangeError} When `dir` is empty.
 */
export async function hasMnistFiles(dir: string = FASHION_MNIST_DIR): Promise<boolean> {
  checkString("hasMnistFiles", "dir", dir, true);
  try {
    for (const stem of [...FILES.train, ...FILES.test]) await find(dir, stem);
    return true;
  } catch {
    return false;
  }
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

/** One split as read: its two arrays (already checked) and their files. */
interface Split {
  images: IdxArray;
  labels: IdxArray;
  paths: { images: string; labels: string };
}

function labelled({ images, labels, paths }: Split, classes: number, labelNoise: number, seed: number): LabelledBytes {
  const [rows, h, w] = images.shape;
  const cleanLabels = labels.data as Uint8Array;
  const bad = cleanLabels.findIndex((y) => y >= classes);
  if (bad >= 0) {
    throw new IdxError(
      paths.labels,
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

/**
 * Reads the training and test splits. Label noise, when asked for, is
 * applied to the training labels only; `cleanLabels` keep the originals.
 * The number of classes is the largest training label + 1, for both splits.
 *
 * @param dir The folder with the four files, gzipped or not.
 * @param options Symmetric label-noise rate in [0, 1) for training labels (default 0), and its seed (default 0).
 * @returns The two splits.
 * @throws {TypeError} When `dir` is not a string, `options` is not an object, or `options.labelNoise` or
 * `options.seed` is not a number (checked before any file is read).
 * @throws {RangeError} When `dir` is empty, `options.labelNoise` is not in [0, 1), or `options.seed` is not finite
 * (checked before any file is read).
 * @throws {IdxError} When a file is missing or breaks a rule of IDX (see {@linkcode readIdx}), or when the files
 * are not an image data set: images not u8 [N, H, W]; labels not u8 [N] with one label per image; training labels
 * naming fewer than 2 classes; a test label not below the training labels' class count; test images of another
 * H×W than the training images. Each message names the file and the rule.
 */
export async function loadMnistFiles(
  dir: string = FASHION_MNIST_DIR,
  options: { labelNoise?: number; seed?: number } = {},
): Promise<{ train: LabelledBytes; test: LabelledBytes }> {
  const op = "loadMnistFiles";
  checkString(op, "dir", dir, true);
  checkObject(op, "options", options);
  const labelNoise = options.labelNoise ?? 0;
  checkNumber(op, "options.labelNoise", labelNoise, (v) => v >= 0 && v < 1, "in [0, 1)");
  const seed = options.seed ?? 0;
  checkSeed(op, "options.seed", seed);
  const read = async ([imageStem, labelStem]: readonly [string, string]): Promise<Split> => {
    const paths = { images: await find(dir, imageStem), labels: await find(dir, labelStem) };
    const images = await readIdx(paths.images);
    checkImages(images, paths.images);
    const labels = await readIdx(paths.labels);
    checkLabels(labels, images.shape[0], paths.labels);
    return { images, labels, paths };
  };
  const train = await read(FILES.train);
  const test = await read(FILES.test);
  const [trainShape, testShape] = [train.images.shape.slice(1), test.images.shape.slice(1)];
  if (testShape.join() !== trainShape.join()) {
    throw new IdxError(
      test.paths.images,
      `test images must be ${trainShape.join("×")} like the training images: current shape is [${
        test.images.shape.join(", ")
      }]`,
    );
  }
  const classes = classesOf(train.labels.data as Uint8Array, train.paths.labels);
  return {
    train: labelled(train, classes, labelNoise, seed),
    test: labelled(test, classes, 0, seed),
  };
}
