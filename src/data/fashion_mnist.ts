/**
 * Fashion-MNIST (or MNIST) from its four IDX files: 28×28 u8 images and
 * labels of 10 classes. Debian's `dataset-fashion-mnist` installs them in
 * {@linkcode FASHION_MNIST_DIR}. Deno-only (reads files).
 *
 * @module
 */

import { checkString } from "../gpu/_check.ts";
import { IdxError, readIdx } from "./idx.ts";
import type { LabelledBytes } from "./dataset.ts";
import { checkMnistOptions, MNIST_FILES as FILES, mnistSplits } from "./mnist.ts";

/** Where Debian's `dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

async function find(dir: string, stem: string): Promise<string> {
  for (const name of [`${stem}.gz`, stem]) {
    try {
      await Deno.stat(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // try the next name
    }
  }
  throw new IdxError(
    `${dir}/${stem}.gz`,
    "not found (nor uncompressed); install dataset-fashion-mnist or give the folder that holds the four files",
  );
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
 * @throws {RangeError} When `dir` is empty, `options` names something other than `labelNoise` and `seed`,
 * `options.labelNoise` is not in [0, 1), or `options.seed` is not finite (checked before any file is read).
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
  const noise = checkMnistOptions(op, options); // before any file is read
  const read = async ([imageStem, labelStem]: readonly [string, string]) => {
    const sources = { images: await find(dir, imageStem), labels: await find(dir, labelStem) };
    return { images: await readIdx(sources.images), labels: await readIdx(sources.labels), sources };
  };
  return mnistSplits(await read(FILES.train), await read(FILES.test), noise);
}
