/**
 * SimCLR's NT-Xent loss over 2B views (docs/science.md §1), with every
 * negative weighting of the shared reduction: rows i and i + B are the two
 * views of one example, each row's positive is its partner, its negatives
 * are the other 2B − 2 rows. Materialised (the 2B×2B score matrix in one
 * buffer) or tiled (never stored: an online log-sum-exp over column tiles,
 * recomputed in backward).
 *
 * @module
 */

import { checkObject, rangeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu, type Tensor } from "../gpu/tensor.ts";
import { type InBatchLayout, inBatchLayout, InBatchPasses } from "./_in_batch.ts";
import { baseParams, checkEmbeddings, ContrastiveLoss, type ContrastiveOptions } from "./loss.ts";

/** Options of {@linkcode NtXentLoss}. */
export interface NtXentOptions extends ContrastiveOptions {
  /**
   * Rows and columns per score tile, a multiple of 64: the loss never
   * stores more than tile² scores. Absent: the whole 2B×2B matrix when it
   * takes at most 64 MiB (and fits a storage binding), else 2048.
   */
  tile?: number;
}

/**
 * Checks the options of an NT-Xent loss over `rows` (2B) rows, before any GPU work (a training step checks its
 * loss's options with it before it binds its encoder).
 *
 * @param op The op, named by errors.
 * @param gpu The context (its binding limit bounds the tile).
 * @param rows 2B.
 * @param options The options.
 * @param prefix How errors name the options (default "options").
 * @returns The reduction's parameters and the layout.
 * @throws {TypeError} When `options` is not an object, `options.tau` or `options.tile` is not a number, or the
 * weighting is neither a name nor an object.
 * @throws {RangeError} When `options.tau` is not > 0, the weighting is invalid, or `options.tile` is not a multiple
 * of 64 whose tile² floats fit one storage binding.
 */
export function checkNtXentOptions(
  op: string,
  gpu: Gpu,
  rows: number,
  options: NtXentOptions,
  prefix = "options",
): { base: ReturnType<typeof baseParams>; layout: InBatchLayout } {
  checkObject(op, prefix, options);
  const base = baseParams(op, options, prefix);
  return { base, layout: inBatchLayout(gpu, op, rows, options.tile, `${prefix}.tile`) };
}

/**
 * SimCLR's NT-Xent loss: Z holds 2B embeddings, rows i and i + B are the
 * two views of one example; each row's negatives are the other 2B − 2 rows.
 * The backward is symmetric: dZ_a = Σ_k (G_ak + G_ka)·z_k.
 *
 * Materialised: S = Z·Zᵀ (matmul), one row reduction that leaves G in place
 * of S, dZ = G·Z + Gᵀ·Z (two matmuls). Tiled: for each tile of rows and of
 * columns, S_tile by matmul and its rows merged into running log-sum-exp
 * statistics; then backward recomputes each tile, turns it into G_ak + G_ka
 * and accumulates G_tile·Z_cols into dZ_rows. Only one tile of scores ever
 * exists, so 2B is bounded by time, not by the 128 MiB storage binding.
 *
 * @example SimCLR loss of 2 pairs
 * ```ts
 * import assert from "node:assert/strict";
 * import { NtXentLoss, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * // Rows 0, 1 are view 1 of examples 0, 1; rows 2, 3 their view 2.
 * const z = Tensor.from(gpu, new Float32Array([1, 0, 0, 1, 1, 0, 0, 1]), [4, 2]);
 * const loss = new NtXentLoss(gpu, z, { tau: 1, weighting: "infonce" });
 * loss.run();
 * const { meanLoss, negatives } = await loss.readReadouts();
 * assert.equal(negatives, 2);
 * // Each row: positive logit 1, negatives 0 and 0.
 * assert.ok(Math.abs(meanLoss - (Math.log(Math.E + 2) - 1)) < 1e-5);
 * assert.equal((await loss.dZ.read()).length, 8);
 * gpu.destroy();
 * ```
 */
export class NtXentLoss extends ContrastiveLoss {
  /** ∂(mean loss)/∂Z, [2B, D]; rewritten by every encode. */
  readonly dZ: Tensor;
  /** "materialised" or "tiled". */
  readonly layout: "materialised" | "tiled";
  /** Tile edge (2B when materialised). */
  readonly tile: number;
  readonly #passes: InBatchPasses;

  /**
   * Validates everything, then allocates and binds once.
   *
   * @param gpu The context.
   * @param z Embeddings, f32 [2B, D]: rows i and i + B are a positive pair.
   * @param options τ, weighting and tile.
   * @throws {TypeError} When `gpu` is not a Gpu, `z` is not a live f32 Tensor of `gpu`, `options` is not an object,
   * `options.tau` or `options.tile` is not a number, or `options.weighting` is neither a name nor an object.
   * @throws {RangeError} When `z` is not [2B, D] with 2B even and >= 4 and D >= 1, `options.tau` is not > 0, the
   * weighting is invalid, or `options.tile` is not a multiple of 64 whose tile² floats fit one storage binding.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, z: Tensor, options: NtXentOptions = {}) {
    const op = "NtXentLoss";
    checkGpu(op, gpu);
    checkEmbeddings(op, "z", z, gpu);
    const [rows, dim] = z.shape;
    if (rows % 2 !== 0 || rows < 4) {
      rangeError(op, "z.shape[0]", "an even number >= 4 (2B rows: two views of B >= 2 examples)", rows);
    }
    const { base, layout } = checkNtXentOptions(op, gpu, rows, options);
    super(gpu, op, { ...base, rows, k: 0, kMax: 0, dim, candidates: 0, inBatch: true, gradScale: 1 / rows });
    this.layout = layout.layout;
    this.tile = layout.tile;
    this.dZ = this.tensor([rows, dim]);
    this.#passes = new InBatchPasses(gpu, op, z, { ...this.rowTensors(), dZ: this.dZ }, layout, {
      pairScores: true,
      tensor: (shape) => this.tensor(shape),
    });
  }

  /**
   * Records forward (scores, statistics, loss) then backward (dScores, dZ)
   * and read-outs into `pass`.
   *
   * @param pass An open compute pass.
   * @throws {TypeError} When the loss is destroyed.
   * @throws {GpuError} On the first encode, when an earlier op's GPU error is pending.
   * @throws {DeviceLostError} On the first encode, when the device is lost.
   */
  encode(pass: GPUComputePassEncoder): void {
    this.checkAlive(`${this.op}.encode`);
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
