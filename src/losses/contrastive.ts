/**
 * Contrastive losses on the GPU: InfoNCE, ADNCE, DCL and HCL (science.md
 * §1–2) as one softmax-contrast reduction, in three layouts.
 *
 * - {@linkcode SampledContrastiveLoss}: each anchor has its own positive and
 *   K negatives, given as indices into a candidate table; K is a runtime
 *   value below a fixed K_max.
 * - {@linkcode InBatchContrastiveLoss}: SimCLR's 2B views, each row's
 *   positive its partner view, its negatives all other rows. Materialised
 *   (the 2B×2B score matrix in one buffer) or tiled (never stored; an online
 *   log-sum-exp over column tiles, recomputed in backward).
 *
 * A loss is bound to its tensors once and then encoded into a training
 * step's compute pass any number of times: forward, backward and read-outs
 * together, with no allocation, no pipeline creation and no readback. The
 * gradients are those of the mean loss over rows.
 *
 * @module
 */

import { checkInt, checkNumber, rangeError, typeError } from "../gpu/check.ts";
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, encodeDispatch } from "../gpu/dispatch.ts";
import { Tensor } from "../gpu/tensor.ts";
import {
  BLOCK_BYTES,
  BlockFlag,
  contrastDispatch,
  type ContrastParams,
  groupsFor,
  packBlock,
  packContrastParams,
  PARAMS_BYTES,
  PARAMS_K_OFFSET,
} from "../ops/contrast.ts";
import { MatmulKernel } from "../ops/matmul.ts";
import { type NegativeWeighting, weightingParams } from "./weighting.ts";

/** Options shared by every layout. */
export interface ContrastiveOptions {
  /** Temperature τ > 0 (default 0.1). */
  tau?: number;
  /** How negatives are weighted (default InfoNCE). */
  weighting?: NegativeWeighting;
}

/** What one step's loss reports, computed on the GPU in the same pass. */
export interface ContrastiveReadouts {
  /** Mean loss over rows. */
  meanLoss: number;
  /** InfoNCE mutual-information bound log(M+1) − L, capped at log(M+1). */
  miBound: number;
  /**
   * Donsker–Varadhan estimate, T = s/τ: mean over rows of T(positive) −
   * LSE over all (row, negative) pairs of T + log(number of such pairs).
   */
  donskerVaradhan: number;
  /**
   * Mean KL radius η = log M − H(π), π the row's distribution over its
   * negatives ∝ weight·e^l (P2's DRO reading).
   */
  meanEta: number;
  /** Mean over rows of (negatives scored below the positive) / M. */
  belowFraction: number;
  /** Negatives per row, M (K, or 2B − 2 in-batch). */
  negatives: number;
  /** Rows (anchors). */
  rows: number;
  /** Fraction of rows whose positive outscores every negative. */
  top1: number;
}

const READOUT_FIELDS = [
  "meanLoss",
  "miBound",
  "donskerVaradhan",
  "meanEta",
  "belowFraction",
  "negatives",
  "rows",
  "top1",
] as const;

/**
 * Names the eight floats of a loss's `readouts` tensor.
 *
 * @param data The tensor's contents.
 * @returns The read-outs by name.
 */
export function parseReadouts(data: ArrayLike<number>): ContrastiveReadouts {
  const out = {} as ContrastiveReadouts;
  READOUT_FIELDS.forEach((name, i) => (out[name] = data[i]));
  return out;
}

function checkEmbeddings(op: string, arg: string, t: Tensor): void {
  if (!(t instanceof Tensor)) typeError(op, arg, "a Tensor", t);
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
    rangeError(op, `${arg}.shape`, "[rows, D] with rows, D >= 1", t.shape);
  }
  if (t.dtype !== "f32") typeError(op, `${arg}.dtype`, '"f32"', t.dtype);
}

/**
 * Checks an index table against its shape and copies it into `into`.
 */
function checkIndexTable(
  op: string,
  indices: ArrayLike<number>,
  shape: { rows: number; kMax: number; candidates: number },
  into: Uint32Array,
): void {
  if (indices === null || typeof indices !== "object" || typeof indices.length !== "number") {
    typeError(op, "indices", "an array of candidate indices", indices);
  }
  const total = shape.rows * (shape.kMax + 1);
  if (indices.length !== total) {
    rangeError(op, "indices.length", `B·(1 + kMax) = ${shape.rows}·${shape.kMax + 1} = ${total}`, indices.length);
  }
  for (let i = 0; i < total; i++) {
    const v = indices[i];
    if (!Number.isInteger(v) || v < 0 || v >= shape.candidates) {
      rangeError(op, `indices[${i}]`, `an integer in [0, ${shape.candidates - 1}] (a row of c)`, v);
    }
    into[i] = v;
  }
}

function baseParams(
  op: string,
  options: ContrastiveOptions,
): Omit<ContrastParams, "rows" | "k" | "kMax" | "dim" | "candidates" | "inBatch" | "gradScale"> {
  const tau = options.tau ?? 0.1;
  checkNumber(op, "options.tau", tau, (v) => v > 0, "> 0");
  const w = weightingParams(op, options.weighting);
  return {
    invTau: 1 / tau,
    beta: w.beta,
    mu: w.mu,
    invTwoSigma2: w.invTwoSigma2,
    tauPlus: w.tauPlus,
    debias: w.debias,
  };
}

/**
 * A contrastive loss bound to its tensors: what a trainer holds. Both
 * layouts share the parameters, the per-row outputs and the read-outs;
 * {@linkcode SampledContrastiveLoss} and {@linkcode InBatchContrastiveLoss}
 * add their gradients.
 */
export abstract class ContrastiveLoss {
  /** The context. */
  readonly gpu: Gpu;
  /** Anchor rows. */
  readonly rows: number;
  /** Embedding dimension D. */
  readonly dim: number;
  /** Eight floats, see {@linkcode ContrastiveReadouts}; rewritten by every encode. */
  readonly readouts: Tensor;
  /** Per row: loss, η, positive logit l_0, LSE of the plain negative logits. [rows, 4] f32. */
  readonly rowOutputs: Tensor;
  /** Per row: negatives scored strictly below the positive. [rows] u32 (input of the K theory). */
  readonly belowCounts: Tensor;
  /** The op name errors and labels use. */
  protected readonly op: string;
  /** The `Params` uniform of shaders/contrast.wgsl. */
  protected readonly params: GPUBuffer;
  /** Per row: the positive's score. */
  protected readonly posScores: Tensor;
  /** Per row: running statistics (tiled layout). */
  protected readonly stats: Tensor;
  /** Per row: the backward coefficients. */
  protected readonly coef: Tensor;
  /** Tensors freed by `destroy`. */
  protected readonly owned: Tensor[] = [];
  #readoutDispatch: Dispatch | null = null;

  /**
   * Allocates what every layout shares; subclasses validate their inputs first.
   *
   * @param gpu The context.
   * @param op The op name.
   * @param params The reduction's parameters.
   */
  protected constructor(gpu: Gpu, op: string, params: ContrastParams) {
    this.gpu = gpu;
    this.op = op;
    this.rows = params.rows;
    this.dim = params.dim;
    this.params = gpu.acquire(`${op}:params`, PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    gpu.device.queue.writeBuffer(this.params, 0, packContrastParams(params));
    this.readouts = this.tensor([8]);
    this.rowOutputs = this.tensor([params.rows, 4]);
    this.belowCounts = this.tensor([params.rows], "u32");
    this.posScores = this.tensor([params.rows]);
    this.stats = this.tensor([params.rows, 8]);
    this.coef = this.tensor([params.rows, 4]);
  }

  /**
   * A tensor that `destroy` frees.
   *
   * @param shape Dimensions.
   * @param dtype Element type.
   * @returns The tensor.
   */
  protected tensor(shape: number[], dtype: "f32" | "u32" = "f32"): Tensor {
    const t = Tensor.empty(this.gpu, shape, dtype);
    this.owned.push(t);
    return t;
  }

  /**
   * Records the read-out reduction (bound on first use), after the rows are done.
   *
   * @param pass An open compute pass.
   */
  protected encodeReadouts(pass: GPUComputePassEncoder): void {
    this.#readoutDispatch ??= contrastDispatch(this.gpu, this.op, "reduce_readouts", {
      params: this.params,
      rowOut: this.rowOutputs.binding,
      below: this.belowCounts.binding,
      readouts: this.readouts.binding,
    }, 1);
    encodeDispatch(pass, this.#readoutDispatch);
  }

  /**
   * Records forward, backward and read-outs into `pass`.
   *
   * @param pass An open compute pass.
   */
  abstract encode(pass: GPUComputePassEncoder): void;

  /**
   * Runs the loss once in its own submit. A training step encodes instead.
   */
  run(): void {
    const encoder = this.gpu.device.createCommandEncoder({ label: this.op });
    const pass = encoder.beginComputePass({ label: this.op });
    this.encode(pass);
    pass.end();
    this.gpu.submit(this.op, encoder);
  }

  /**
   * Reads the read-outs of the last encoded run. This waits for the GPU; a
   * trainer copies `readouts` into a staging ring instead and reads it a
   * few steps late.
   *
   * @returns The read-outs.
   */
  async readReadouts(): Promise<ContrastiveReadouts> {
    return parseReadouts(await this.readouts.read());
  }

  /** Frees every buffer the loss owns (not its inputs); safe right after a submit. */
  destroy(): void {
    for (const t of this.owned) t.destroy();
    this.gpu.release(this.params);
  }
}

/** Options of {@linkcode SampledContrastiveLoss}. */
export interface SampledContrastiveOptions extends ContrastiveOptions {
  /** Columns of negatives in the index table; buffers are sized for it. */
  kMax: number;
  /** Negatives in use, 1..kMax (default kMax); change it with `setK`. */
  k?: number;
  /** The index table, [B, 1 + kMax] row-major, column 0 the positive (or call `setIndices`). */
  indices?: ArrayLike<number>;
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
  /** Rows of the candidate table. */
  readonly candidates: number;
  /** ∂(mean loss)/∂Q, [B, D]; rewritten by every encode. */
  readonly dQ: Tensor;
  /** ∂(mean loss)/∂C, [N, D]; rewritten by every encode. */
  readonly dC: Tensor;
  /** Scores, then dScores, [B, 1 + kMax] (columns past K unused). */
  readonly scores: Tensor;
  #k: number;
  #hasIndices = false;
  readonly #indices: Tensor;
  readonly #csrOffsets: Tensor;
  readonly #csrSlots: Tensor;
  readonly #hostIndices: Uint32Array;
  readonly #hostOffsets: Uint32Array;
  readonly #hostCursor: Uint32Array;
  readonly #hostSlots: Uint32Array;
  readonly #hostK = new Uint32Array(1);
  readonly #dispatches: Dispatch[];
  readonly #block: GPUBuffer;

  /**
   * Validates everything, then allocates and binds once.
   *
   * @param gpu The context.
   * @param q Anchors, f32 [B, D] (L2-normalised for the cosine reading).
   * @param c Candidates, f32 [N, D].
   * @param options kMax, k, τ, weighting and optionally the index table.
   */
  constructor(gpu: Gpu, q: Tensor, c: Tensor, options: SampledContrastiveOptions) {
    const op = "SampledContrastiveLoss";
    checkEmbeddings(op, "q", q);
    checkEmbeddings(op, "c", c);
    if (c.shape[1] !== q.shape[1]) {
      rangeError(op, "c.shape", `[N, ${q.shape[1]}] (the same D as q)`, c.shape);
    }
    if (typeof options !== "object" || options === null) typeError(op, "options", "an object with kMax", options);
    checkInt(op, "options.kMax", options.kMax, 1, 65535);
    const k = options.k ?? options.kMax;
    checkInt(op, "options.k", k, 1, options.kMax);
    const base = baseParams(op, options);
    const [rows, dim] = q.shape;
    const candidates = c.shape[0];
    const width = options.kMax + 1;
    const hostIndices = new Uint32Array(rows * width);
    if (options.indices !== undefined) {
      checkIndexTable(op, options.indices, { rows, kMax: options.kMax, candidates }, hostIndices);
    }
    super(gpu, op, {
      ...base,
      rows,
      k,
      kMax: options.kMax,
      dim,
      candidates,
      inBatch: false,
      gradScale: 1 / rows,
    });
    this.kMax = options.kMax;
    this.candidates = candidates;
    this.#k = k;
    this.#hostIndices = hostIndices;
    this.#hostOffsets = new Uint32Array(candidates + 1);
    this.#hostCursor = new Uint32Array(candidates);
    this.#hostSlots = new Uint32Array(rows * width);
    this.#indices = this.tensor([rows, width], "u32");
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
      packBlock({ row0: 0, col0: 0, nrows: rows, ncols: width, stride: width, flags: 7 }),
    );
    const common = {
      params: this.params,
      q: q.binding,
      cand: c.binding,
      idx: this.#indices.binding,
      scores: this.scores.binding,
    };
    this.#dispatches = [
      contrastDispatch(gpu, op, "gather_scores", { ...common, pos: this.posScores.binding }, groupsFor(rows * width)),
      contrastDispatch(gpu, op, "row_stats", {
        ...common,
        block,
        pos: this.posScores.binding,
        stats: this.stats.binding,
        rowOut: this.rowOutputs.binding,
        below: this.belowCounts.binding,
        coef: this.coef.binding,
      }, rows),
      contrastDispatch(gpu, op, "gather_dq", { ...common, gradOut: this.dQ.binding }, groupsFor(rows * dim)),
      contrastDispatch(gpu, op, "scatter_dc", {
        ...common,
        gradOut: this.dC.binding,
        csrOffsets: this.#csrOffsets.binding,
        csrSlots: this.#csrSlots.binding,
      }, groupsFor(candidates * dim)),
    ];
    if (options.indices !== undefined) this.#upload();
  }

  /** Negatives in use. */
  get k(): number {
    return this.#k;
  }

  /**
   * Sets the negatives in use for the next encodes: one 4-byte write, no
   * pipeline, no allocation.
   *
   * @param k 1..kMax.
   */
  setK(k: number): void {
    checkInt(`${this.op}.setK`, "k", k, 1, this.kMax);
    this.#k = k;
    this.#hostK[0] = k;
    this.gpu.device.queue.writeBuffer(this.params, PARAMS_K_OFFSET, this.#hostK);
  }

  /**
   * Uploads a new index table and its inverse (which rows use each
   * candidate, for dC), built on the host in O(B·kMax). Every column must
   * hold a valid candidate, also those past the current K.
   *
   * @param indices [B, 1 + kMax] row-major; column 0 is the positive.
   */
  setIndices(indices: ArrayLike<number>): void {
    checkIndexTable(`${this.op}.setIndices`, indices, this, this.#hostIndices);
    this.#upload();
  }

  #upload(): void {
    // Counting sort of slots by candidate; slots stay ascending within a
    // candidate, so dC sums in a fixed order.
    const offsets = this.#hostOffsets;
    const cursor = this.#hostCursor;
    const slots = this.#hostSlots;
    const host = this.#hostIndices;
    offsets.fill(0);
    for (let s = 0; s < host.length; s++) offsets[host[s] + 1]++;
    for (let n = 0; n < this.candidates; n++) offsets[n + 1] += offsets[n];
    cursor.set(offsets.subarray(0, this.candidates));
    for (let s = 0; s < host.length; s++) slots[cursor[host[s]]++] = s;
    this.#indices.write(host);
    this.#csrOffsets.write(offsets);
    this.#csrSlots.write(slots);
    this.#hasIndices = true;
  }

  /**
   * Records scores, loss and dScores, dQ, dC and read-outs into `pass`.
   *
   * @param pass An open compute pass.
   */
  encode(pass: GPUComputePassEncoder): void {
    if (!this.#hasIndices) {
      rangeError(this.op, "indices", "set (options.indices or setIndices) before the first encode", "unset");
    }
    for (const d of this.#dispatches) encodeDispatch(pass, d);
    this.encodeReadouts(pass);
  }

  /** Frees every buffer the loss owns (not q or c). */
  override destroy(): void {
    super.destroy();
    this.gpu.release(this.#block);
  }
}

/** Options of {@linkcode InBatchContrastiveLoss}. */
export interface InBatchContrastiveOptions extends ContrastiveOptions {
  /**
   * Rows and columns per score tile, a multiple of 64: the loss never
   * stores more than tile² scores. Absent: the whole 2B×2B matrix when it
   * takes at most 64 MiB (and fits a storage binding), else 2048.
   */
  tile?: number;
}

const MATERIALISE_MAX_BYTES = 64 * 2 ** 20;
const DEFAULT_TILE = 2048;

/**
 * SimCLR's in-batch loss: Z holds 2B embeddings, rows i and i + B are the
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
 * import { InBatchContrastiveLoss, requestGpu, Tensor } from "../../mod.ts";
 * const gpu = await requestGpu();
 * // Rows 0, 1 are view 1 of examples 0, 1; rows 2, 3 their view 2.
 * const z = Tensor.from(gpu, new Float32Array([1, 0, 0, 1, 1, 0, 0, 1]), [4, 2]);
 * const loss = new InBatchContrastiveLoss(gpu, z, { tau: 1, weighting: "infonce" });
 * loss.run();
 * const { meanLoss, negatives } = await loss.readReadouts();
 * assert.equal(negatives, 2);
 * // Each row: positive logit 1, negatives 0 and 0.
 * assert.ok(Math.abs(meanLoss - (Math.log(Math.E + 2) - 1)) < 1e-5);
 * assert.equal((await loss.dZ.read()).length, 8);
 * gpu.destroy();
 * ```
 */
export class InBatchContrastiveLoss extends ContrastiveLoss {
  /** ∂(mean loss)/∂Z, [2B, D]; rewritten by every encode. */
  readonly dZ: Tensor;
  /** "materialised" or "tiled". */
  readonly layout: "materialised" | "tiled";
  /** Tile edge (2B when materialised). */
  readonly tile: number;
  readonly #forward: { encode(pass: GPUComputePassEncoder): void }[] = [];
  readonly #backward: { encode(pass: GPUComputePassEncoder): void }[] = [];
  readonly #kernels: MatmulKernel[] = [];
  readonly #blocks: GPUBuffer;

  /**
   * Validates everything, then allocates and binds once.
   *
   * @param gpu The context.
   * @param z Embeddings, f32 [2B, D]: rows i and i + B are a positive pair.
   * @param options τ, weighting and tile.
   */
  constructor(gpu: Gpu, z: Tensor, options: InBatchContrastiveOptions = {}) {
    const op = "InBatchContrastiveLoss";
    checkEmbeddings(op, "z", z);
    const [rows, dim] = z.shape;
    if (rows % 2 !== 0 || rows < 4) {
      rangeError(op, "z.shape[0]", "an even number >= 4 (2B rows: two views of B >= 2 examples)", rows);
    }
    const base = baseParams(op, options);
    const bindingLimit = gpu.limits.maxStorageBufferBindingSize;
    let tile: number;
    let layout: "materialised" | "tiled";
    if (options.tile === undefined) {
      const bytes = rows * rows * 4;
      layout = bytes <= Math.min(MATERIALISE_MAX_BYTES, bindingLimit) ? "materialised" : "tiled";
      tile = layout === "materialised" ? rows : DEFAULT_TILE;
    } else {
      checkInt(op, "options.tile", options.tile, 64);
      if (options.tile % 64 !== 0) rangeError(op, "options.tile", "a multiple of 64", options.tile);
      if (options.tile * options.tile * 4 > bindingLimit) {
        rangeError(
          op,
          "options.tile",
          `at most ${Math.floor(Math.sqrt(bindingLimit / 4))} (tile² floats in one binding)`,
          options.tile,
        );
      }
      layout = "tiled";
      tile = options.tile;
    }
    super(gpu, op, { ...base, rows, k: 0, kMax: 0, dim, candidates: 0, inBatch: true, gradScale: 1 / rows });
    this.layout = layout;
    this.tile = tile;
    this.dZ = this.tensor([rows, dim]);
    const shared = {
      params: this.params,
      q: z.binding,
      pos: this.posScores.binding,
      stats: this.stats.binding,
      rowOut: this.rowOutputs.binding,
      below: this.belowCounts.binding,
      coef: this.coef.binding,
    };
    const pair = contrastDispatch(gpu, op, "pair_scores", shared, groupsFor(rows));
    const nTiles = Math.ceil(rows / tile);
    const slot = Math.max(BLOCK_BYTES, gpu.limits.minUniformBufferOffsetAlignment);
    this.#blocks = gpu.acquire(
      `${op}:blocks`,
      slot * nTiles * nTiles,
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    );
    const blockAt = (i: number) => ({ buffer: this.#blocks, offset: i * slot, size: BLOCK_BYTES });
    const dispatch = (d: Dispatch) => ({ encode: (pass: GPUComputePassEncoder) => encodeDispatch(pass, d) });
    this.#forward.push(dispatch(pair));

    if (layout === "materialised") {
      const s = this.tensor([rows, rows]);
      gpu.device.queue.writeBuffer(
        this.#blocks,
        0,
        packBlock({ row0: 0, col0: 0, nrows: rows, ncols: rows, stride: rows, flags: 7 }),
      );
      const scores = this.#matmul(z, z, { form: "nt", out: s });
      const reduce = contrastDispatch(gpu, op, "row_stats", { ...shared, block: blockAt(0), scores: s.binding }, rows);
      this.#forward.push(scores, dispatch(reduce));
      this.#backward.push(
        this.#matmul(s, z, { form: "nn", out: this.dZ }),
        this.#matmul(s, z, { form: "tn", out: this.dZ, accumulate: true }),
      );
    } else {
      const buffer = this.tensor([tile, tile]);
      for (let r = 0; r < nTiles; r++) {
        const row0 = r * tile;
        const nrows = Math.min(tile, rows - row0);
        const zRows = z.view(row0 * dim, [nrows, dim]);
        const dzRows = this.dZ.view(row0 * dim, [nrows, dim]);
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
          const bound = { ...shared, block: blockAt(index), scores: s.binding };
          const scores = this.#matmul(zRows, zCols, { form: "nt", out: s });
          this.#forward.push(scores, dispatch(contrastDispatch(gpu, op, "row_stats", bound, nrows)));
          this.#backward.push(
            scores,
            dispatch(contrastDispatch(gpu, op, "sym_grad_tile", bound, groupsFor(nrows * ncols))),
            this.#matmul(s, zCols, { form: "nn", out: dzRows, accumulate: c > 0 }),
          );
        }
      }
    }
  }

  #matmul(a: Tensor, b: Tensor, options: ConstructorParameters<typeof MatmulKernel>[3]): MatmulKernel {
    const kernel = new MatmulKernel(this.gpu, a, b, options);
    this.#kernels.push(kernel);
    return kernel;
  }

  /**
   * Records forward (scores, statistics, loss) then backward (dScores, dZ)
   * and read-outs into `pass`.
   *
   * @param pass An open compute pass.
   */
  encode(pass: GPUComputePassEncoder): void {
    for (const step of this.#forward) step.encode(pass);
    for (const step of this.#backward) step.encode(pass);
    this.encodeReadouts(pass);
  }

  /** Frees every buffer the loss owns (not z). */
  override destroy(): void {
    for (const k of this.#kernels) k.destroy();
    super.destroy();
    this.gpu.release(this.#blocks);
  }
}
