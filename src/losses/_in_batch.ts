/**
 * The in-batch layouts that {@linkcode NtXentLoss} and {@linkcode SupConLoss}
 * share (docs/science.md §1.4): the scores S = Z·Zᵀ of N rows, materialised
 * (one N×N buffer) or tiled (never stored: an online log-sum-exp over column
 * tiles, recomputed in backward), the row reduction over them, and the
 * symmetric backward dZ_a = Σ_k (G_ak + G_ka)·z_k, which holds for every
 * loss whose scores come from one symmetric S.
 *
 * @module
 */

import { checkInt, rangeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { BLOCK_BYTES, BlockFlag, contrastKernel, packBlock, rowReduction, WHOLE } from "../ops/contrast.ts";
import { MatmulKernel } from "../ops/matmul.ts";
import type { RowTensors } from "./loss.ts";

const MATERIALISE_MAX_BYTES = 64 * 2 ** 20;
const DEFAULT_TILE = 2048;

/** How the scores of an in-batch loss are held. */
export interface InBatchLayout {
  /** "materialised" or "tiled". */
  layout: "materialised" | "tiled";
  /** Tile edge (N when materialised). */
  tile: number;
}

/**
 * Chooses the layout for `rows` rows, checking `tile` (before any GPU work):
 * absent, the whole matrix when it takes at most 64 MiB and fits a storage
 * binding, else tiles of 2048.
 *
 * @param gpu The context (for its binding limit).
 * @param op The op, named by errors.
 * @param rows N.
 * @param tile `options.tile`: a multiple of 64 whose tile² floats fit one binding, or undefined.
 * @param arg How errors name `tile` (default "options.tile").
 * @returns The layout and tile edge.
 * @throws {TypeError} When `tile` is not a number.
 * @throws {RangeError} When `tile` is not a multiple of 64 whose tile² floats fit one storage binding.
 */
export function inBatchLayout(
  gpu: Gpu,
  op: string,
  rows: number,
  tile: number | undefined,
  arg = "options.tile",
): InBatchLayout {
  const bindingLimit = gpu.limits.maxStorageBufferBindingSize;
  if (tile === undefined) {
    const materialised = rows * rows * 4 <= Math.min(MATERIALISE_MAX_BYTES, bindingLimit);
    return materialised ? { layout: "materialised", tile: rows } : { layout: "tiled", tile: DEFAULT_TILE };
  }
  checkInt(op, arg, tile, 64);
  if (tile % 64 !== 0) rangeError(op, arg, "a multiple of 64", tile);
  if (tile * tile * 4 > bindingLimit) {
    rangeError(
      op,
      arg,
      `at most ${Math.floor(Math.sqrt(bindingLimit / 4))} (tile² floats in one binding)`,
      tile,
    );
  }
  return { layout: "tiled", tile };
}

/** The loss's per-row tensors and its gradient. */
export interface InBatchTensors extends RowTensors {
  /** ∂(mean loss)/∂Z, [N, D]. */
  dZ: Tensor;
}

/**
 * Every dispatch of an in-batch loss but its read-outs, bound once: forward
 * (positive scores if the loss has a partner row, scores, row reduction),
 * then backward (dScores, dZ).
 *
 * Materialised: S = Z·Zᵀ (matmul), one row reduction that leaves G in place
 * of S, dZ = G·Z + Gᵀ·Z (two matmuls). Tiled: for each tile of rows and of
 * columns, S_tile by matmul and its rows merged into running log-sum-exp
 * statistics; then backward recomputes each tile, turns it into G_ak + G_ka
 * and accumulates G_tile·Z_cols into dZ_rows. Only one tile of scores ever
 * exists.
 */
export class InBatchPasses implements Encodable {
  readonly #forward: Encodable[] = [];
  readonly #backward: Encodable[] = [];
  readonly #blocks: GPUBuffer;
  readonly #gpu: Gpu;

  /**
   * Allocates the score buffer and block uniforms and binds every dispatch.
   *
   * @param gpu The context.
   * @param op The op, for labels and errors.
   * @param z Embeddings, f32 [N, D].
   * @param t The loss's per-row tensors and dZ.
   * @param layout From {@linkcode inBatchLayout}.
   * @param options `pairScores`: run `pair_scores` (NT-Xent's partner row) first; `tensor`: allocates a tensor the
   * loss frees.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(
    gpu: Gpu,
    op: string,
    z: Tensor,
    t: InBatchTensors,
    layout: InBatchLayout,
    options: { pairScores: boolean; tensor: (shape: number[]) => Tensor },
  ) {
    this.#gpu = gpu;
    const [rows, dim] = z.shape;
    const tile = layout.tile;
    const rowState = {
      params: t.params,
      pos_scores: t.posScores,
      stats: t.stats,
      row_out: t.rowOutputs,
      below: t.belowCounts,
      coef: t.coef,
      labels: t.labels,
    };
    const matmul = (a: Tensor, b: Tensor, o: ConstructorParameters<typeof MatmulKernel>[3]) =>
      new MatmulKernel(gpu, a, b, o);
    const nTiles = Math.ceil(rows / tile);
    const slot = Math.max(BLOCK_BYTES, gpu.limits.minUniformBufferOffsetAlignment);
    this.#blocks = gpu.acquire(
      `${op}:blocks`,
      slot * nTiles * nTiles,
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    );
    const blockAt = (i: number) => ({ buffer: this.#blocks, offset: i * slot, size: BLOCK_BYTES });
    if (options.pairScores) {
      this.#forward.push(
        contrastKernel(gpu, op, "pair_scores", { params: t.params, q: z, pos_scores: t.posScores }, { threads: rows }),
      );
    }

    if (layout.layout === "materialised") {
      const s = options.tensor([rows, rows]);
      gpu.device.queue.writeBuffer(
        this.#blocks,
        0,
        packBlock({ row0: 0, col0: 0, nrows: rows, ncols: rows, stride: rows, flags: WHOLE }),
      );
      const scores = matmul(z, z, { form: "nt", out: s });
      const reduce = rowReduction(gpu, op, { ...rowState, block: blockAt(0), scores: s }, rows, rows).kernel;
      this.#forward.push(scores, reduce);
      this.#backward.push(
        matmul(s, z, { form: "nn", out: t.dZ }),
        matmul(s, z, { form: "tn", out: t.dZ, accumulate: true }),
      );
      return;
    }
    const buffer = options.tensor([tile, tile]);
    for (let r = 0; r < nTiles; r++) {
      const row0 = r * tile;
      const nrows = Math.min(tile, rows - row0);
      const zRows = z.view(row0 * dim, [nrows, dim]);
      const dzRows = t.dZ.view(row0 * dim, [nrows, dim]);
      for (let c = 0; c < nTiles; c++) {
        const col0 = c * tile;
        const ncols = Math.min(tile, rows - col0);
        const zCols = z.view(col0 * dim, [ncols, dim]);
        const s = buffer.view(0, [nrows, ncols]);
        const index = r * nTiles + c;
        const flags = (c === 0 ? BlockFlag.first : 0) | (c === nTiles - 1 ? BlockFlag.last : 0);
        gpu.device.queue.writeBuffer(
          this.#blocks,
          index * slot,
          packBlock({ row0, col0, nrows, ncols, stride: ncols, flags }),
        );
        const block = blockAt(index);
        const scores = matmul(zRows, zCols, { form: "nt", out: s });
        const reduce = rowReduction(gpu, op, { ...rowState, block, scores: s }, nrows, ncols).kernel;
        this.#forward.push(scores, reduce);
        this.#backward.push(
          scores,
          contrastKernel(
            gpu,
            op,
            "sym_grad_tile",
            { params: t.params, block, scores: s, coef: t.coef, labels: t.labels },
            { threads: nrows * ncols },
          ),
          matmul(s, zCols, { form: "nn", out: dzRows, accumulate: c > 0 }),
        );
      }
    }
  }

  /**
   * Records forward (scores, statistics, loss) then backward (dScores, dZ) into `pass`.
   *
   * @param pass An open compute pass.
   */
  encode(pass: GPUComputePassEncoder): void {
    for (const part of this.#forward) part.encode(pass);
    for (const part of this.#backward) part.encode(pass);
  }

  /** Frees the dispatches and block uniforms (not the tensors `tensor` made: the loss owns those). */
  destroy(): void {
    for (const part of new Set([...this.#forward, ...this.#backward])) part.destroy();
    this.#gpu.release(this.#blocks);
  }
}
