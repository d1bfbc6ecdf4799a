/**
 * Fashion-MNIST (or MNIST) from its four IDX files: 28×28 u8 images and
 * labels of 10 classes. Debian's `dataset-fashion-mnist` installs them in
 * {@linkcode FASHION_MNIST_DIR}. Deno-only (reads files).
 *
 * @module
 */

import { type IdxArray, IdxError, injectLabelNoise, readIdx } from "./idx.ts";
import type { LabelledBytes } from "./dataset.ts";
import { Rng } from "./random.ts";

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
 */
export async function hasMnistFiles(dir: string = FASHION_MNIST_DIR): Promise<boolean> {
  try {
    for (const stem of [...FILES.train, ...FILES.test]) await find(dir, stem);
    return true;
  } catch {
    return false;
  }
}

function labelled(images: IdxArray, labels: IdxArray, path: string, labelNoise: number, seed: number): LabelledBytes {
  const [rows, h, w] = images.shape;
  if (images.shape.length !== 3 || !(images.data instanceof Uint8Array)) {
    throw new IdxError(path, `images must be u8 [N, H, W]: got shape [${images.shape.join(", ")}]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== rows || !(labels.data instanceof Uint8Array)) {
    throw new IdxError(path, `labels must be u8 [${rows}]: got shape [${labels.shape.join(", ")}]`);
  }
  const cleanLabels = labels.data;
  const classes = Math.max(...cleanLabels) + 1;
  const rng = new Rng(seed);
  const noisy = labelNoise > 0
    ? injectLabelNoise(cleanLabels, classes, labelNoise, () => rng.next()).labels
    : cleanLabels;
  return { images: images.data, rows, width: h * w, imageShape: [h, w], labels: noisy, cleanLabels, classes };
}

/**
 * Reads the training and test splits. Label noise, when asked for, is
 * applied to the training labels only; `cleanLabels` keep the originals.
 *
 * @param dir The folder with the four files, gzipped or not.
 * @param options Symmetric label-noise rate for training labels, and its seed.
 * @returns The two splits.
 * @throws {IdxError} When a file is missing or malformed.
 */
export async function loadMnistFiles(
  dir: string = FASHION_MNIST_DIR,
  options: { labelNoise?: number; seed?: number } = {},
): Promise<{ train: LabelledBytes; test: LabelledBytes }> {
  const read = async ([images, labels]: readonly [string, string], noise: number) => {
    const [ip, lp] = [await find(dir, images), await find(dir, labels)];
    return labelled(await readIdx(ip), await readIdx(lp), ip, noise, options.seed ?? 0);
  };
  return { train: await read(FILES.train, options.labelNoise ?? 0), test: await read(FILES.test, 0) };
}
