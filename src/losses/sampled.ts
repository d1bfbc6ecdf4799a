/**
 * Sampled-K contrastive loss (docs/science.md §1): each anchor scores its
 * own positive and K sampled negatives, given as indices into a candidate
 * table. K is a runtime value below a fixed K_max, so a K schedule moves it
 * with one 4-byte write: no pipeline, no allocation.
 *
 * @module
 */

import { checkBool, checkInt, checkObject, rangeError } from "../gpu/_check.ts";
import type { Gpu } from "../gpu/device.ts";
import { checkGpu } from "../gpu/tensor.ts";
import type { Kernel } from "../gpu/_kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { InverseIndex } from "../ops/_inverse_index.ts";
import {
  BLOCK_BYTES,
  contrastKernel,
  K_LIMIT,
  packBlock,
  PARAMS_K_OFFSET,
  rowReduction,
  WHOLE,
} from "../ops/contrast.ts";
import { baseParams, checkEmbeddings, checkIndexTable, ContrastiveLoss, type ContrastiveOptions } from "./loss.ts";

/** Options of {@linkcode SampledContrastiveLoss}. */
export interface SampledContrastiveOptions extends ContrastiveOptions {
  /** Columns of negatives in the index table; buffers are sized for it. */
  kMax: number;
  /** Negatives in use, 1..kMax (default kMax); change it with `setK`. */
  k?: number;
  /** The index table, [B, 1 + kMax] row-major, column 0 the positive (or call `setIndices`). */
  indices?: ArrayLike<number>;
  /**
   * Past candidates, f32 [Nq, D] (an `EmbeddingQueue`'s embeddings): index N + s of the table is queue row s.
   * They are detached, as in MoCo: no gradient flows into them, and being a few steps old they score a
   * slightly stale encoder.
   */
  queue?: Tensor;
  /**
   * The gathers read embeddings as vec4s (default: when D is a multiple of 4). Both forms add in the same order,
   * so they give the same bits where the driver fuses fma alike for vectors and scalars (llvmpipe and SwiftShader
   * do: a test compares them); false forces the scalar form.
   */
  vectorized?: boolean;
}

/**
 * Checks the options of a sampled loss of `rows` anchors over `candidates` candidates of width `dim`, before any
 * GPU work (a training step checks its loss's options with it before it binds its encoders).
 *
 * @param op The op, named by errors.
 * @param gpu The context (the queue's).
 * @param shape B, D and N.
 * @param options The options.
 * @param prefix How errors name the options (default "options").
 * @returns K, the reduction's parameters, the queue's rows and the index table (zeros when not given).
 * @throws {TypeError} When `options` is not an object, one of its numbers is not a number, the weighting is neither
 * a name nor an object, `options.queue` is not a live f32 Tensor of `gpu`, or `options.indices` is not array-like.
 * @throws {RangeError} When an option is out of its range (see {@linkcode SampledContrastiveLoss}'s constructor).
 */
export function checkSampledOptions(
  op: string,
  gpu: Gpu,
  shape: { rows: number; dim: number; candidates: number },
  options: SampledContrastiveOptions,
  prefix = "options",
): { k: number; base: ReturnType<typeof baseParams>; queued: number; hostIndices: Uint32Array; vectorized: boolean } {
  checkObject(op, prefix, options, "an object with kMax");
  checkInt(op, `${prefix}.kMax`, options.kMax, 1, K_LIMIT);
  const k = options.k ?? options.kMax;
  checkInt(op, `${prefix}.k`, k, 1, options.kMax);
  const base = baseParams(op, options, prefix);
  const { rows, dim, candidates } = shape;
  const vectorized = options.vectorized ?? dim % 4 === 0;
  checkBool(op, `${prefix}.vectorized`, vectorized);
  if (vectorized && dim % 4 !== 0) {
    rangeError(op, `${prefix}.vectorized`, `false when D (${dim}) is not a multiple of 4`, vectorized);
  }
  const queue = options.queue;
  if (queue !== undefined) {
    checkEmbeddings(op, `${prefix}.queue`, queue, gpu);
    if (queue.shape[1] !== dim) rangeError(op, `${prefix}.queue.shape`, `[Nq, ${dim}] (the same D as q)`, queue.shape);
  }
  const queued = queue?.shape[0] ?? 0;
  const hostIndices = new Uint32Array(rows * (options.kMax + 1));
  const table = { rows, kMax: options.kMax, candidates: candidates + queued };
  if (options.indices !== undefined) checkIndexTable(op, `${prefix}.indices`, options.indices, table, hostIndices);
  return { k, base, queued, hostIndices, vectorized };
}

/**
 * Sampled-K InfoNCE and its weighted relatives: anchor i scores Q_i against
 * candidates C[idx[i, 0..K]], idx[i, 0] its positive.
 *
 * Per encode: scores by gather, one row reduction (loss and dScores), dQ by
 * gather, dC by a gather over the inverse index, read-outs: five dispatches.
 *
 * @example InfoNCE with 3 negatives, then K = 1
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, SampledContrastiveLoss, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const q = Tensor.from(gpu, new Float32Array([1, 0, 0, 1]), [2, 2]);
 * const c = Tensor.from(gpu, new Float32Array([1, 0, 0, 1, -1, 0, 0, -1]), [4, 2]);
 * const loss = new SampledContrastiveLoss(gpu, q, c, {
 *   kMax: 3,
 *   tau: 0.5,
 *   indices: [0, 1, 2, 3, 1, 0, 2, 3], // row 0: positive 0; row 1: positive 1
 * });
 * loss.run();
 * const all = await loss.readReadouts();
 * // Each row: logits 2 (positive), 0, -2 and 0: L = -2 + log(e² + 2 + e⁻²).
 * assert.ok(Math.abs(all.meanLoss - (Math.log(Math.exp(2) + 2 + Math.exp(-2)) - 2)) < 1e-5);
 * loss.setK(1);
 * loss.run();
 * assert.equal((await loss.readReadouts()).negatives, 1);
 * const dQ = await loss.dQ.read(); // ∂(mean loss)/∂Q, [2, 2]
 * assert.equal(dQ.length, 4);
 * gpu.destroy();
 * ```
 */
export class SampledContrastiveLoss extends ContrastiveLoss {
  /** The largest K the buffers hold. */
  readonly kMax: number;
  /** Whether the gathers run in their vec4 form (`options.vectorized`). */
  readonly vectorized: boolean;
  /**
   * Whether the row reduction runs a thread per row (on a CPU adapter, rows of 1 + K_max ≤ 1024 scores) or a
   * workgroup per row (see `rowReduction`).
   */
  readonly rowsByThread: boolean;
  /** Rows of the candidate table. */
  readonly candidates: number;
  /** Rows of the queue of past candidates (0 without one); the table's indices go up to candidates + queued − 1. */
  readonly queued: number;
  /** ∂(mean loss)/∂Q, [B, D]; rewritten by every encode. */
  readonly dQ: Tensor;
  /** ∂(mean loss)/∂C, [N, D]; rewritten by every encode. */
  readonly dC: Tensor;
  /** Scores, then dScores, [B, 1 + kMax] (columns past K unused). */
  readonly scores: Tensor;
  #k: number;
  #hasIndices = false;
  readonly #indices: Tensor;
  /** Which slots of the index table hold each candidate (for dC), on the host and on the GPU. */
  readonly #inverse: InverseIndex;
  #inverseColumns = 0; // the index table's leading columns #inverse covers
  readonly #csrOffsets: Tensor;
  readonly #csrSlots: Tensor;
  readonly #hostIndices: Uint32Array;
  readonly #hostK = new Uint32Array(1);
  readonly #kernels: Kernel[];
  readonly #block: GPUBuffer;

  /**
   * Validates everything, then allocates and binds once.
   *
   * @param gpu The context.
   * @param q Anchors, f32 [B, D] (L2-normalised for the cosine reading).
   * @param c Candidates, f32 [N, D].
   * @param options kMax, k, τ, weighting and optionally the index table.
   * @throws {TypeError} When `gpu` is not a Gpu, `q` or `c` is not a live f32 Tensor of `gpu`, `options` is not an
   * object, one of its numbers is not a number, `options.weighting` is neither a name nor an object, or
   * `options.indices` is not array-like.
   * @throws {RangeError} When `q` or `c` is not [rows, D] with rows, D >= 1, their D differ, `options.kMax` is not an
   * integer in [1, 65535], `options.k` not one in [1, kMax], `options.tau` not > 0, the weighting is invalid, or
   * `options.indices` is not B·(1 + kMax) integers indexing rows of `c`.
   * @throws {OutOfMemoryError} When a buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  constructor(gpu: Gpu, q: Tensor, c: Tensor, options: SampledContrastiveOptions) {
    const op = "SampledContrastiveLoss";
    checkGpu(op, gpu);
    checkEmbeddings(op, "q", q, gpu);
    checkEmbeddings(op, "c", c, gpu);
    if (c.shape[1] !== q.shape[1]) {
      rangeError(op, "c.shape", `[N, ${q.shape[1]}] (the same D as q)`, c.shape);
    }
    const [rows, dim] = q.shape;
    const candidates = c.shape[0];
    const { k, base, queued, hostIndices, vectorized } = checkSampledOptions(
      op,
      gpu,
      { rows, dim, candidates },
      options,
    );
    const queue = options.queue;
    const width = options.kMax + 1;
    super(gpu, op, {
      ...base,
      rows,
      k,
      kMax: options.kMax,
      dim,
      candidates,
      queued,
      inBatch: false,
      gradScale: 1 / rows,
    });
    this.kMax = options.kMax;
    this.vectorized = vectorized;
    this.candidates = candidates;
    this.queued = queued;
    this.#k = k;
    this.#hostIndices = hostIndices;
    this.#inverse = new InverseIndex(candidates + queued, rows * width);
    this.#indices = this.tensor([rows, width], "u32");
    // dC is gathered for the live candidates only (queue rows get no gradient): their offsets are all it reads.
    this.#csrOffsets = this.tensor([candidates + 1], "u32");
    this.#csrSlots = this.tensor([rows * width], "u32");
    this.scores = this.tensor([rows, width]);
    this.dQ = this.tensor([rows, dim]);
    this.dC = this.tensor([candidates, dim]);
    const block = gpu.acquire(`${op}:block`, BLOCK_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.#block = block;
    gpu.device.queue.writeBuffer(
      block,
      0,
      packBlock({ row0: 0, col0: 0, nrows: rows, ncols: width, stride: width, flags: WHOLE }),
    );
    // The gathers in their vec4 form (same sums, same bits) or scalar: entry points and embedding bindings take the
    // suffix 4. A vec4 thread takes four slots of a score row, or four vec4 columns (16 floats) of a dQ or dC row.
    const suffix = vectorized ? "4" : "";
    const [slotThreads, columnThreads] = vectorized ? [Math.ceil(width / 4), Math.ceil(dim / 16)] : [width, dim];
    const embeddings = (bound: Record<string, Tensor | GPUBuffer>) =>
      Object.fromEntries(Object.entries(bound).map(([name, t]) => [name + suffix, t]));
    const table = { params: this.params, idx: this.#indices, scores: this.scores };
    // The queue (or, without one, a placeholder the kernels never read past N).
    const candidateTables = embeddings({ cand: c, queue: queue ?? gpu.dummy });
    const reduction = rowReduction(
      gpu,
      op,
      {
        params: this.params,
        block,
        scores: this.scores,
        pos_scores: this.posScores,
        stats: this.stats,
        row_out: this.rowOutputs,
        below: this.belowCounts,
        coef: this.coef,
        labels: this.labels,
      },
      rows,
      width,
    );
    this.rowsByThread = reduction.byThread;
    this.#kernels = [
      contrastKernel(gpu, op, `gather_scores${suffix}`, {
        ...table,
        ...embeddings({ q }),
        ...candidateTables,
        pos_scores: this.posScores,
      }, { threads: rows * slotThreads }),
      reduction.kernel,
      contrastKernel(gpu, op, `gather_dq${suffix}`, {
        ...table,
        ...candidateTables,
        ...embeddings({ grad_out: this.dQ }),
      }, { threads: rows * columnThreads }),
      contrastKernel(gpu, op, `gather_dc${suffix}`, {
        params: this.params,
        ...embeddings({ q, grad_out: this.dC }),
        scores: this.scores,
        csr_offsets: this.#csrOffsets,
        csr_slots: this.#csrSlots,
      }, { threads: candidates * columnThreads }),
    ];
    if (options.indices !== undefined) this.#upload();
  }

  /** Negatives in use. */
  get k(): number {
    return this.#k;
  }

  /**
   * Sets the negatives in use for the next encodes: one 4-byte write, no
   * pipeline, no allocation. (When K has grown past the columns dC's inverse
   * index covers, the next encode rebuilds it from the table's host copy.)
   *
   * @param k 1..kMax.
   * @throws {TypeError} When `k` is not a number, or the loss is destroyed.
   * @throws {RangeError} When `k` is not an integer in [1, kMax].
   */
  setK(k: number): void {
    this.checkAlive(`${this.op}.setK`);
    checkInt(`${this.op}.setK`, "k", k, 1, this.kMax);
    this.#k = k;
    this.#hostK[0] = k;
    this.gpu.device.queue.writeBuffer(this.params, PARAMS_K_OFFSET, this.#hostK);
  }

  /**
   * Uploads a new index table and its inverse (which slots hold each
   * candidate, for dC), built on the host in O(B·kMax). Every column must
   * hold a valid candidate, also those past the current K.
   *
   * @param indices [B, 1 + kMax] row-major; column 0 is the positive.
   * @throws {TypeError} When `indices` is not array-like, or the loss is destroyed.
   * @throws {RangeError} When `indices` is not B·(1 + kMax) integers in [0, candidates).
   */
  setIndices(indices: ArrayLike<number>): void {
    this.checkAlive(`${this.op}.setIndices`);
    const shape = { rows: this.rows, kMax: this.kMax, candidates: this.candidates + this.queued };
    checkIndexTable(`${this.op}.setIndices`, "indices", indices, shape, this.#hostIndices);
    this.#upload();
  }

  #upload(): void {
    this.#indices.write(this.#hostIndices);
    this.#uploadInverse();
    this.#hasIndices = true;
  }

  /**
   * The inverse index of the columns in use (0..K), for dC: at K = 1 of K_max = 256 its lists are 2/257 as long
   * as over the whole table, and gather_dc walks them (it walked the whole table's, 12 of a 15 ms loss, before).
   * Slots stay ascending, so the sums, and their bits, are those over the whole table with columns past K skipped.
   */
  #uploadInverse(): void {
    const width = this.kMax + 1;
    this.#inverseColumns = this.#k + 1;
    this.#inverse.build(this.#hostIndices, this.#hostIndices.length, { stride: width, columns: this.#inverseColumns });
    const offsets = this.#inverse.offsets.subarray(0, this.candidates + 1);
    this.#csrOffsets.write(offsets);
    const slots = offsets[this.candidates]; // the live candidates' slots come first; queue rows get no dC
    const positions = this.#inverse.positions;
    const target = this.#csrSlots;
    if (slots > 0) {
      this.gpu.device.queue.writeBuffer(
        target.buffer,
        target.offset,
        positions.buffer,
        positions.byteOffset,
        slots * 4,
      );
    }
  }

  /**
   * Records scores, loss and dScores, dQ, dC and read-outs into `pass`.
   *
   * @param pass An open compute pass.
   * @throws {TypeError} When the loss is destroyed.
   * @throws {RangeError} When no index table was set (`options.indices` or `setIndices`).
   * @throws {GpuError} On the first encode, when an earlier op's GPU error is pending.
   * @throws {DeviceLostError} On the first encode, when the device is lost.
   */
  encode(pass: GPUComputePassEncoder): void {
    this.checkAlive(`${this.op}.encode`);
    if (!this.#hasIndices) {
      rangeError(this.op, "indices", "set (options.indices or setIndices) before the first encode", "unset");
    }
    // dC's index covers columns 0..K of the table as set: K grown since then needs it rebuilt (a queue write, which
    // lands before this pass's submit). Done here, once, rather than in setK, which the trainer follows by a new table.
    if (this.#k + 1 > this.#inverseColumns) this.#uploadInverse();
    for (const k of this.#kernels) k.encode(pass);
    this.encodeReadouts(pass);
  }

  /** Frees every buffer the loss owns (not q or c). Later calls do nothing. */
  override destroy(): void {
    if (this.destroyed) return;
    for (const k of this.#kernels) k.destroy();
    super.destroy();
    this.gpu.release(this.#block);
  }
}
