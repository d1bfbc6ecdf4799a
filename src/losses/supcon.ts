/**
 * Supervised contrastive loss, SupCon's "L_out" (docs/science.md §2.5): N
 * labelled embeddings, each row's positives the other rows with its label,
 * its negatives the rest; the mean over positives outside the log. The same
 * reduction and in-batch layouts as {@linkcode NtXentLoss}, materialised or
 * tiled; labels change with a buffer write, never a new pipeline.
 *
 * @module
 */

import { checkArrayLike, checkObject, rangeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu, type Tensor } from "../gpu/tensor.ts";
import { PARAMS_GRAD_SCALE_OFFSET } from "../ops/contrast.ts";
import { type InBatchLayout, inBatchLayout, InBatchPasses } from "./_in_batch.ts";
import { baseParams, checkEmbeddings, ContrastiveLoss, type ContrastiveOptions } from "./loss.ts";

/** Options of {@linkcode SupConLoss}. */
export interface SupConOptions extends ContrastiveOptions {
  /**
   * Rows and columns per score tile, a multiple of 64: the loss never
   * stores more than tile² scores. Absent: the whole N×N matrix when it
   * takes at most 64 MiB (and fits a storage binding), else 2048.
   */
  tile?: number;
  /** Class labels, N integers >= 0 (or call `setLabels` before the first encode). */
  labels?: ArrayLike<number>;
}

const U32_MAX = 2 ** 32 - 1;

/**
 * Checks labels and copies them into `into`; returns how many rows have a positive (another row with their label).
 * Every check comes before the copy, so `into` is untouched when it throws.
 */
function checkLabels(op: string, arg: string, labels: ArrayLike<number>, into: Uint32Array): number {
  checkArrayLike(op, arg, labels, "an array of class labels");
  if (labels.length !== into.length) {
    rangeError(op, `${arg}.length`, `N = ${into.length} (one per row of z)`, labels.length);
  }
  const counts = new Map<number, number>();
  for (let i = 0; i < into.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) rangeError(op, `${arg}[${i}]`, "an integer in [0, 2³² − 1]", v);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  let anchors = 0;
  for (const n of counts.values()) if (n > 1) anchors += n;
  for (let i = 0; i < into.length; i++) into[i] = labels[i];
  return anchors;
}

/**
 * Checks the options of a SupCon loss over `rows` rows, before any GPU work (a training step checks its loss's
 * options with it before it binds its encoder).
 *
 * @param op The op, named by errors.
 * @param gpu The context (its binding limit bounds the tile).
 * @param rows N.
 * @param options The options.
 * @param prefix How errors name the options (default "options").
 * @returns The reduction's parameters, the layout, the labels (zeros when not given) and the rows that have a
 * positive (−1 when no labels are given).
 * @throws {TypeError} When `options` is not an object, `options.tau` or `options.tile` is not a number, the
 * weighting is neither a name nor an object, or `options.labels` is not array-like.
 * @throws {RangeError} When the weighting is DCL, HCL or invalid, `options.tau` is not > 0, `options.tile` is not a
 * multiple of 64 whose tile² floats fit one storage binding, or `options.labels` is not N integers in [0, 2³² − 1].
 */
export function checkSupConOptions(
  op: string,
  gpu: Gpu,
  rows: number,
  options: SupConOptions,
  prefix = "options",
): { base: ReturnType<typeof baseParams>; layout: InBatchLayout; hostLabels: Uint32Array; anchors: number } {
  checkObject(op, prefix, options);
  const w = options.weighting;
  const kind = typeof w === "string" ? w : (typeof w === "object" && w !== null ? w.kind : undefined);
  if (kind === "dcl" || kind === "hcl") {
    // DCL/HCL subtract τ+·M·e^(l_0), the expected mass of one positive among the negatives: defined for
    // one positive per anchor, not for SupCon's many (docs/science.md §2.5).
    rangeError(op, `${prefix}.weighting.kind`, '"infonce" or "adnce" (DCL and HCL debias one positive)', kind);
  }
  const base = baseParams(op, options, prefix);
  const layout = inBatchLayout(gpu, op, rows, options.tile, `${prefix}.tile`);
  const hostLabels = new Uint32Array(rows);
  const labels = options.labels;
  const anchors = labels === undefined ? -1 : checkLabels(op, `${prefix}.labels`, labels, hostLabels);
  return { base, layout, hostLabels, anchors };
}

/**
 * Supervised contrastive loss [SupCon]: for anchor i with positives P(i)
 * (the other rows with its label) and every other row A(i),
 *
 *   L_i = −(1/|P(i)|)·Σ_{p ∈ P(i)} [ l_ip − log Σ_{a ∈ A(i)} e^(l_ia) ],  l = s/τ,
 *
 * averaged over the anchors that have a positive; an anchor without one has
 * no term (loss 0, no gradient) and is left out of the mean and of every
 * read-out. With `weighting: "adnce"` the Gaussian weights apply to the
 * negatives only (docs/science.md §2.5). DCL and HCL are rejected: their
 * debiasing subtracts the mass of one positive, which SupCon does not have.
 *
 * Materialised or tiled as {@linkcode NtXentLoss}; the backward is the same
 * symmetric dZ_a = Σ_k (G_ak + G_ka)·z_k. Read-outs for many positives: see
 * {@linkcode ContrastiveReadouts} (`top1` is the fraction of anchors whose
 * best-scoring other row shares their label; `belowFraction` is 0).
 *
 * @example Two classes of two rows
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, SupConLoss, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * // Rows 0, 1 are class 7 along x; rows 2, 3 class 9 along y; row 4 is alone in class 3.
 * const z = Tensor.from(gpu, new Float32Array([1, 0, 1, 0, 0, 1, 0, 1, -1, 0]), [5, 2]);
 * const loss = new SupConLoss(gpu, z, { tau: 1, labels: [7, 7, 9, 9, 3] });
 * loss.run();
 * const { meanLoss, rows, top1 } = await loss.readReadouts();
 * assert.equal(rows, 4); // row 4 has no positive: no term
 * // Rows 0..3: one positive at logit 1, negatives at 0, 0 and −1 or 0.
 * const l0 = Math.log(Math.E + 2 + Math.exp(-1)) - 1;
 * const l2 = Math.log(Math.E + 3) - 1;
 * assert.ok(Math.abs(meanLoss - (l0 + l2) / 2) < 1e-5);
 * assert.equal(top1, 1);
 * loss.setLabels([7, 7, 7, 9, 9]); // a buffer write: no pipeline, no allocation
 * loss.run();
 * assert.equal((await loss.readReadouts()).rows, 5);
 * gpu.destroy();
 * ```
 */
export class SupConLoss extends ContrastiveLoss {
  /** ∂(mean loss)/∂Z, [N, D]; rewritten by every encode. */
  readonly dZ: Tensor;
  /** "materialised" or "tiled". */
  readonly layout: "materialised" | "tiled";
  /** Tile edge (N when materialised). */
  readonly tile: number;
  readonly #passes: InBatchPasses;
  readonly #hostLabels: Uint32Array;
  readonly #hostScale = new Float32Array(1);
  #anchors = -1;

  /**
   * Validates everything, then allocates and binds once.
   *
   * @param gpu The context.
   * @param z Embeddings, f32 [N, D] (L2-normalised for the cosine reading), N >= 2.
   * @param options τ, weighting ("infonce" or "adnce"), tile and labels.
   * @throws {TypeError} When `gpu` is not a Gpu, `z` is not a live f32 Tensor of `gpu`, `options` is not an object,
   * `options.tau` or `options.tile` is not a number,
   * `options.weighting` is neither a name nor an object, or `options.labels` is not array-like.
   * @throws {RangeError} When `z` is not [N, D] with N >= 2 and D >= 1, `options.weighting.kind` is "dcl" or "hcl"
   * (or unknown), the weighting or `options.tau` is invalid, `options.tile` is not a multiple of 64 whose tile²
   * floats fit one storage binding, or `options.labels` is not N integers in [0, 2³² − 1].
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, z: Tensor, options: SupConOptions = {}) {
    const op = "SupConLoss";
    checkGpu(op, gpu);
    checkEmbeddings(op, "z", z, gpu);
    const [rows, dim] = z.shape;
    if (rows < 2) rangeError(op, "z.shape[0]", ">= 2 (N rows, an anchor and another)", rows);
    const { base, layout, hostLabels, anchors } = checkSupConOptions(op, gpu, rows, options);
    super(gpu, op, {
      ...base,
      rows,
      k: 0,
      kMax: 0,
      dim,
      candidates: 0,
      inBatch: true,
      supcon: true,
      gradScale: 0,
    });
    this.layout = layout.layout;
    this.tile = layout.tile;
    this.#hostLabels = hostLabels;
    this.dZ = this.tensor([rows, dim]);
    this.#passes = new InBatchPasses(gpu, op, z, { ...this.rowTensors(), dZ: this.dZ }, layout, {
      pairScores: false,
      tensor: (shape) => this.tensor(shape),
    });
    if (anchors >= 0) this.#upload(anchors);
  }

  /** Anchors that have a positive under the current labels (−1 before any labels are set). */
  get anchors(): number {
    return this.#anchors;
  }

  /**
   * Sets the labels for the next encodes: the labels buffer and the 4-byte
   * gradient scale 1/(anchors with a positive) are rewritten; no pipeline,
   * no allocation.
   *
   * @param labels N integers in [0, 2³² − 1], one per row of z.
   * @throws {TypeError} When `labels` is not array-like, or the loss is destroyed.
   * @throws {RangeError} When `labels` is not N integers in [0, 2³² − 1].
   */
  setLabels(labels: ArrayLike<number>): void {
    this.checkAlive(`${this.op}.setLabels`);
    const anchors = checkLabels(`${this.op}.setLabels`, "labels", labels, this.#hostLabels);
    this.#upload(anchors);
  }

  #upload(anchors: number): void {
    this.labels.write(this.#hostLabels);
    // The gradient of the mean over anchors with a positive; 0 when none has one (every row has no term).
    this.#hostScale[0] = anchors > 0 ? 1 / anchors : 0;
    this.gpu.device.queue.writeBuffer(this.params, PARAMS_GRAD_SCALE_OFFSET, this.#hostScale);
    this.#anchors = anchors;
  }

  /**
   * Records forward (scores, statistics, loss) then backward (dScores, dZ)
   * and read-outs into `pass`.
   *
   * @param pass An open compute pass.
   * @throws {TypeError} When the loss is destroyed.
   * @throws {RangeError} When no labels were set (`options.labels` or `setLabels`).
   * @throws {GpuError} On the first encode, when an earlier op's GPU error is pending.
   * @throws {DeviceLostError} On the first encode, when the device is lost.
   */
  encode(pass: GPUComputePassEncoder): void {
    this.checkAlive(`${this.op}.encode`);
    if (this.#anchors < 0) {
      rangeError(this.op, "labels", "set (options.labels or setLabels) before the first encode", "unset");
    }
    this.#passes.encode(pass);
    this.encodeReadouts(pass);
  }

  /** Frees every buffer the loss owns (not z). Later calls do nothing. */
  override destroy(): void {
    if (this.destroyed) return;
    this.#passes.destroy();
    super.destroy();
  }
}
