/**
 * What every contrastive loss shares: InfoNCE, ADNCE, DCL and HCL
 * (docs/science.md §1–2) are one softmax-contrast reduction
 * (shaders/contrast.wgsl) with a per-negative log-bias, in two layouts:
 *
 * - {@linkcode SampledContrastiveLoss} (src/losses/sampled.ts): each anchor
 *   has its own positive and K sampled negatives, given as indices into a
 *   candidate table; K is a runtime value below a fixed K_max.
 * - {@linkcode NtXentLoss} (src/losses/nt_xent.ts): SimCLR's NT-Xent over
 *   2B views, each row's positive its partner view, its negatives all other
 *   rows; materialised or tiled.
 * - {@linkcode SupConLoss} (src/losses/supcon.ts): supervised contrastive
 *   loss over N labelled rows, each row's positives the other rows with its
 *   label; the same two in-batch layouts.
 *
 * A loss is bound to its tensors once and then encoded into a training
 * step's compute pass any number of times: forward, backward and read-outs
 * together, with no allocation, no pipeline creation and no readback. The
 * gradients are those of the mean loss over rows (SupCon: over the rows that
 * have a positive).
 *
 * @module
 */

import { checkArrayLike, checkNumber, checkRange, F32_MIN_NORMAL, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import type { Kernel } from "../gpu/_kernel.ts";
import { checkTensor, Tensor } from "../gpu/tensor.ts";
import {
  contrastKernel,
  type ContrastParams,
  LOG_TERM_LIMIT,
  packContrastParams,
  PARAMS_BYTES,
  STATS_FLOATS,
} from "../ops/contrast.ts";
import { type NegativeWeighting, weightingParams } from "./weighting.ts";

/** Options shared by every layout. */
export interface ContrastiveOptions {
  /** Temperature τ > 0 (default 0.1). */
  tau?: number;
  /** How negatives are weighted (default InfoNCE). */
  weighting?: NegativeWeighting;
}

/**
 * What one step's loss reports, computed on the GPU in the same pass.
 *
 * For {@linkcode SupConLoss} every read-out is over the rows that have a
 * positive (all 0 when none has), and three are defined for many positives
 * (docs/science.md §2.5): `miBound` is log(N − 1) − L capped at log(N − 1),
 * `negatives` the mean M = N − 1 − |P| of those rows, and `top1` the fraction
 * of them whose highest-scoring other row is a positive. `belowFraction` is 0:
 * with many positives there is no one score to rank the negatives against
 * within one pass, and `belowCounts` holds zeros.
 */
export interface ContrastiveReadouts {
  /** Mean loss over rows. */
  meanLoss: number;
  /** InfoNCE mutual-information bound log(M+1) − L, capped at log(M+1). */
  miBound: number;
  /**
   * Donsker–Varadhan estimate, T = s/τ: mean over (row, positive) pairs of
   * T − LSE over all (row, negative) pairs of T + log(number of such pairs).
   */
  donskerVaradhan: number;
  /**
   * Mean KL radius η = log M − H(π), π the row's distribution over its
   * negatives ∝ weight·e^l (P2's DRO reading).
   */
  meanEta: number;
  /** Mean over rows of (negatives scored below the positive) / M (SupCon: 0). */
  belowFraction: number;
  /** Negatives per row, M (K, or 2B − 2 in-batch; SupCon: the mean N − 1 − |P|). */
  negatives: number;
  /** Rows (anchors; SupCon: those with a positive). */
  rows: number;
  /** Fraction of rows whose positive outscores every negative (SupCon: whose best-scoring other row is a positive). */
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

export function checkEmbeddings(op: string, arg: string, t: Tensor, gpu: Gpu): void {
  checkTensor(op, arg, t, gpu, "f32");
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
    rangeError(op, `${arg}.shape`, "[rows, D] with rows, D >= 1", t.shape);
  }
}

/**
 * Checks an index table against its shape and, only when all of it is valid, copies it into `into`: a refused
 * table leaves the last good one whole (an encode after K grows rebuilds dC's inverse index from that copy).
 */
export function checkIndexTable(
  op: string,
  arg: string,
  indices: ArrayLike<number>,
  shape: { rows: number; kMax: number; candidates: number },
  into: Uint32Array,
): void {
  checkArrayLike(op, arg, indices, "an array of candidate indices");
  const total = shape.rows * (shape.kMax + 1);
  if (indices.length !== total) {
    rangeError(op, `${arg}.length`, `B·(1 + kMax) = ${shape.rows}·${shape.kMax + 1} = ${total}`, indices.length);
  }
  for (let i = 0; i < total; i++) {
    const v = indices[i];
    if (!Number.isInteger(v) || v < 0 || v >= shape.candidates) {
      rangeError(op, `${arg}[${i}]`, `an integer in [0, ${shape.candidates - 1}] (a row of c)`, v);
    }
  }
  for (let i = 0; i < total; i++) into[i] = indices[i];
}

export function baseParams(
  op: string,
  options: ContrastiveOptions,
  prefix = "options",
): Omit<ContrastParams, "rows" | "k" | "kMax" | "dim" | "candidates" | "inBatch" | "gradScale"> {
  const w = weightingParams(op, options.weighting, `${prefix}.weighting`);
  const tau = options.tau ?? 0.1;
  checkNumber(op, `${prefix}.tau`, tau, (v) => v > 0, "> 0");
  // Logits reach (1 + β)/τ: half the reduction's log-term range; 1/τ must stay a normal f32 (GPUs may flush
  // smaller values to 0).
  const minTau = (1 + w.beta) / (LOG_TERM_LIMIT / 2);
  checkRange(op, `${prefix}.tau`, tau, minTau, 1 / F32_MIN_NORMAL, "(1 + β)/τ ≤ 5e36 and 1/τ a normal f32");
  return {
    invTau: 1 / tau,
    beta: w.beta,
    mu: w.mu,
    invTwoSigma2: w.invTwoSigma2,
    tauPlus: w.tauPlus,
    debias: w.debias,
  };
}

/** The per-row state and outputs of a loss, as shaders/contrast.wgsl binds them. */
export interface RowTensors {
  /** The `Params` uniform. */
  params: GPUBuffer;
  /** Per row: the positive's score. */
  posScores: Tensor;
  /** Per row: running statistics, then the row's totals. */
  stats: Tensor;
  /** Per row: loss, η, l_0, LSE of the plain negatives. */
  rowOutputs: Tensor;
  /** Per row: negatives below the positive. */
  belowCounts: Tensor;
  /** Per row: backward coefficients. */
  coef: Tensor;
  /** Per row: labels (SupCon; one unused element otherwise). */
  labels: Tensor;
}

/**
 * A contrastive loss bound to its tensors: what a trainer holds. Every
 * layout shares the parameters, the per-row outputs and the read-outs;
 * {@linkcode SampledContrastiveLoss}, {@linkcode NtXentLoss} and
 * {@linkcode SupConLoss} add their gradients.
 */
export abstract class ContrastiveLoss implements Encodable {
  /** The context. */
  readonly gpu: Gpu;
  /** Anchor rows. */
  readonly rows: number;
  /** Embedding dimension D. */
  readonly dim: number;
  /** Eight floats, see {@linkcode ContrastiveReadouts}; rewritten by every encode. */
  readonly readouts: Tensor;
  /**
   * Per row: loss, η, positive logit l_0 (SupCon: the mean positive logit), LSE of the plain negative logits
   * (−1e38 when the row has none). [rows, 4] f32. A SupCon row without a positive holds 0, 0, 0, −1e38.
   */
  readonly rowOutputs: Tensor;
  /** Per row: negatives scored strictly below the positive. [rows] u32 (input of the K theory; SupCon: 0). */
  readonly belowCounts: Tensor;
  /** The op name errors and labels use. */
  protected readonly op: string;
  /** The `Params` uniform of shaders/contrast.wgsl. */
  protected readonly params: GPUBuffer;
  /** Per row: the positive's score. */
  protected readonly posScores: Tensor;
  /** Per row: running statistics (tiled layout), and the row's totals after its last block. */
  protected readonly stats: Tensor;
  /** Per row: class labels (SupCon; a single unused element otherwise). */
  protected readonly labels: Tensor;
  /** Per row: the backward coefficients. */
  protected readonly coef: Tensor;
  /** Tensors freed by `destroy`. */
  protected readonly owned: Tensor[] = [];
  #readoutKernel: Kernel | null = null;
  #destroyed = false;

  /**
   * Allocates what every layout shares; subclasses validate their inputs first.
   *
   * @param gpu The context.
   * @param op The op name.
   * @param params The reduction's parameters.
   * @throws {TypeError} When called for ContrastiveLoss itself (it is abstract: construct a layout).
   * @throws {OutOfMemoryError} When a per-row buffer exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
   */
  protected constructor(gpu: Gpu, op: string, params: ContrastParams) {
    if (new.target === ContrastiveLoss) {
      typeError("ContrastiveLoss", "the class", "a layout (SampledContrastiveLoss or NtXentLoss)", "ContrastiveLoss");
    }
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
    this.stats = this.tensor([params.rows, STATS_FLOATS]);
    this.labels = this.tensor([params.supcon ? params.rows : 1], "u32");
    this.coef = this.tensor([params.rows, 4]);
  }

  /**
   * The per-row tensors, for binding a layout's kernels (src/losses/_in_batch.ts); internal.
   *
   * @returns Them, by their names here.
   * @ignore
   */
  protected rowTensors(): RowTensors {
    const { params, posScores, stats, rowOutputs, belowCounts, coef, labels } = this;
    return { params, posScores, stats, rowOutputs, belowCounts, coef, labels };
  }

  /**
   * A tensor that `destroy` frees.
   *
   * @param shape Dimensions.
   * @param dtype Element type.
   * @returns The tensor.
   * @throws {OutOfMemoryError} When the tensor exceeds the device's buffer limits.
   * @throws {GpuError} When an earlier op's GPU error is pending.
   * @throws {DeviceLostError} When the device is lost.
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
   * @throws {GpuError} On first use, when an earlier op's GPU error is pending.
   * @throws {DeviceLostError} On first use, when the device is lost.
   */
  protected encodeReadouts(pass: GPUComputePassEncoder): void {
    this.#readoutKernel ??= contrastKernel(this.gpu, this.op, "reduce_readouts", {
      params: this.params,
      row_out: this.rowOutputs,
      below: this.belowCounts,
      stats: this.stats,
      readouts: this.readouts,
    }, { rows: 1 });
    this.#readoutKernel.encode(pass);
  }

  /**
   * Records forward, backward and read-outs into `pass`.
   *
   * @param pass An open compute pass.
   */
  abstract encode(pass: GPUComputePassEncoder): void;

  /** True after {@linkcode ContrastiveLoss.destroy}. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Throws when the loss is destroyed: its buffers are back in the pool, where another owner may hold them now.
   *
   * @param op The method called, for the message.
   * @throws {TypeError} When the loss is destroyed.
   */
  protected checkAlive(op: string): void {
    if (this.#destroyed) typeError(op, "the loss", "live (not destroyed)", "destroyed");
  }

  /**
   * Runs the loss once in its own submit. A training step encodes instead.
   *
   * @throws {TypeError} When the loss is destroyed.
   * @throws {RangeError} When a {@linkcode SampledContrastiveLoss} has no index table, or a {@linkcode SupConLoss}
   * no labels, yet.
   * @throws {GpuError} When an earlier op's GPU error is pending (nothing is submitted).
   * @throws {DeviceLostError} When the device is lost.
   */
  run(): void {
    this.checkAlive(`${this.op}.run`);
    this.gpu.runPass(this.op, this);
  }

  /**
   * Reads the read-outs of the last encoded run. This waits for the GPU; a
   * trainer copies `readouts` into a staging ring instead and reads it a
   * few steps late.
   *
   * @returns The read-outs.
   * @throws {TypeError} When the loss is destroyed.
   * @throws {GpuError} When submitted work caused a GPU error (validation, out of memory, internal).
   * @throws {DeviceLostError} When the device is lost, before or while waiting.
   */
  async readReadouts(): Promise<ContrastiveReadouts> {
    this.checkAlive(`${this.op}.readReadouts`);
    return parseReadouts(await this.readouts.read());
  }

  /** Frees every buffer the loss owns (not its inputs); safe right after a submit. Later calls do nothing. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#readoutKernel?.destroy();
    for (const t of this.owned) t.destroy();
    this.gpu.release(this.params);
  }
}
