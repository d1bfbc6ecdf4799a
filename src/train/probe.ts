/**
 * The linear probe: multinomial logistic regression trained on frozen
 * embeddings and scored on held-out ones, the second standard read-out of
 * a self-supervised encoder next to kNN. Full-batch Adam in float64 on the
 * host, a fixed number of steps from zero weights: deterministic, with no
 * GPU and no randomness.
 *
 * @module
 */

import { checkArrayLike, checkInt, checkNumber, checkObject, rangeError, typeError } from "../gpu/_check.ts";

/** Options of {@linkcode linearProbe}. */
export interface ProbeOptions {
  /** Full-batch steps (default 200). */
  steps?: number;
  /** Adam learning rate (default 0.05). */
  lr?: number;
  /** L2 penalty on the weights, not the biases (default 1e-4). */
  l2?: number;
}

/** What {@linkcode linearProbe} measures. */
export interface ProbeResult {
  /** Accuracy on the held-out rows. */
  accuracy: number;
  /** Accuracy on the rows it was trained on. */
  trainAccuracy: number;
  /** Mean cross-entropy on the training rows at the end (with the penalty left out). */
  trainLoss: number;
}

/**
 * Trains a linear classifier on `train` and scores it on `test`.
 *
 * @param train Training features, [N, dim] row-major.
 * @param trainLabels N labels in [0, classes).
 * @param test Held-out features, [M, dim].
 * @param testLabels M labels.
 * @param dim Feature width.
 * @param classes Number of classes.
 * @param options Steps, learning rate, L2 penalty.
 * @returns Held-out and training accuracy.
 * @throws {TypeError} When `train` or `test` is not a Float32Array, a labels argument is not array-like, `dim`,
 * `classes` or an option is not a number, or `options` is not an object.
 * @throws {RangeError} When a size, a label or an option is out of range, or a feature is not finite.
 *
 * @example Two separable clusters
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearProbe } from "./probe.ts";
 * const x = new Float32Array([1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9]);
 * const r = linearProbe(x, [0, 0, 1, 1], new Float32Array([0.8, 0.2, 0.2, 0.8]), [0, 1], 2, 2);
 * assert.equal(r.accuracy, 1);
 * ```
 */
export function linearProbe(
  train: Float32Array,
  trainLabels: ArrayLike<number>,
  test: Float32Array,
  testLabels: ArrayLike<number>,
  dim: number,
  classes: number,
  options: ProbeOptions = {},
): ProbeResult {
  const op = "linearProbe";
  checkInt(op, "dim", dim, 1);
  checkInt(op, "classes", classes, 2);
  checkObject(op, "options", options);
  const { steps = 200, lr = 0.05, l2 = 1e-4 } = options;
  checkInt(op, "options.steps", steps, 1);
  checkNumber(op, "options.lr", lr, (v) => v > 0, "> 0");
  checkNumber(op, "options.l2", l2, (v) => v >= 0, ">= 0");
  for (const [name, x, labels] of [["train", train, trainLabels], ["test", test, testLabels]] as const) {
    if (!(x instanceof Float32Array)) typeError(op, name, "a Float32Array of features", x);
    checkArrayLike(op, `${name}Labels`, labels, "an array of labels");
    if (labels.length < 1) rangeError(op, `${name}Labels.length`, ">= 1 (a row at least)", labels.length);
    if (x.length !== labels.length * dim) {
      rangeError(op, `${name}.length`, `labels·dim = ${labels.length * dim}`, x.length);
    }
    for (let i = 0; i < labels.length; i++) {
      if (typeof labels[i] !== "number" || !Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= classes) {
        rangeError(op, `${name}Labels[${i}]`, `an integer in [0, ${classes - 1}]`, labels[i]);
      }
    }
    const bad = x.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) rangeError(op, `${name}[${bad}]`, "finite", x[bad]);
  }
  const n = trainLabels.length;
  const width = (dim + 1) * classes; // weights [dim, classes], then biases [classes]
  const w = new Float64Array(width);
  const grad = new Float64Array(width);
  const m = new Float64Array(width);
  const v = new Float64Array(width);
  const p = new Float64Array(classes);
  let loss = 0;
  for (let t = 1; t <= steps; t++) {
    grad.fill(0);
    loss = 0;
    for (let i = 0; i < n; i++) {
      softmaxRow(w, train, i, dim, classes, p);
      loss -= Math.log(Math.max(p[trainLabels[i]], 1e-300));
      p[trainLabels[i]] -= 1; // ∂(cross-entropy)/∂logits
      for (let c = 0; c < classes; c++) {
        const g = p[c] / n;
        for (let d = 0; d < dim; d++) grad[d * classes + c] += g * train[i * dim + d];
        grad[dim * classes + c] += g;
      }
    }
    for (let j = 0; j < dim * classes; j++) grad[j] += l2 * w[j];
    // Adam, β = (0.9, 0.999), ε = 1e-8, bias-corrected.
    for (let j = 0; j < width; j++) {
      m[j] = 0.9 * m[j] + 0.1 * grad[j];
      v[j] = 0.999 * v[j] + 0.001 * grad[j] * grad[j];
      w[j] -= (lr * (m[j] / (1 - 0.9 ** t))) / (Math.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8);
    }
  }
  const accuracyOf = (x: Float32Array, labels: ArrayLike<number>) => {
    let right = 0;
    for (let i = 0; i < labels.length; i++) {
      softmaxRow(w, x, i, dim, classes, p);
      let best = 0;
      for (let c = 1; c < classes; c++) if (p[c] > p[best]) best = c;
      if (best === labels[i]) right++;
    }
    return right / labels.length;
  };
  return { accuracy: accuracyOf(test, testLabels), trainAccuracy: accuracyOf(train, trainLabels), trainLoss: loss / n };
}

/** p = softmax(x_i·W + b), with the maximum subtracted. */
function softmaxRow(w: Float64Array, x: Float32Array, i: number, dim: number, classes: number, p: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) {
    let z = w[dim * classes + c];
    for (let d = 0; d < dim; d++) z += x[i * dim + d] * w[d * classes + c];
    p[c] = z;
    max = Math.max(max, z);
  }
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += p[c] = Math.exp(p[c] - max);
  for (let c = 0; c < classes; c++) p[c] /= sum;
}
