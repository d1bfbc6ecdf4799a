/**
 * Launchers for shaders/contrast.wgsl, the softmax-contrast reduction behind
 * every contrastive loss (InfoNCE, ADNCE, DCL, HCL, SupCon) in every layout. The
 * losses in src/losses/ compose these dispatches; this file only knows how
 * each entry point is bound and sized.
 *
 * Forward and backward of a row are one entry point (`row_loss_and_grad`
 * with the GRAD flag); the layout-specific entries around it produce the scores
 * (`gather_scores`, `pair_scores`, or a matmul) and turn dScores into
 * embedding gradients (`gather_dq`, `gather_dc`, or a matmul); the three
 * gathers have vec4 forms (suffix 4) that give the same bits.
 *
 * @module
 */

import shader from "../../shaders/contrast.wgsl" with { type: "text" };
import type { Binding, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import type { Tensor } from "../gpu/tensor.ts";

/** Entry points of shaders/contrast.wgsl. */
export type ContrastEntry =
  | "gather_scores"
  | "gather_dq"
  | "gather_dc"
  | "gather_scores4"
  | "gather_dq4"
  | "gather_dc4"
  | "pair_scores"
  | "sym_grad_tile"
  | "row_loss_and_grad"
  | "row_loss_and_grad_by_thread"
  | "reduce_readouts";

/**
 * Threads per workgroup of every entry point (WGSL `WG`). A power of two, at most 128: the row reduction's tree halves
 * it, and `row_loss_and_grad_by_thread` replays that tree with a stack of log2(WG) + 1 ≤ 8 entries.
 */
const WG = 64;
if (WG > 128 || (WG & (WG - 1)) !== 0) throw new Error(`contrast.ts: WG must be a power of two ≤ 128, not ${WG}`);

/**
 * The largest |log-term| the reduction handles: every logit, and every
 * ADNCE/HCL term (1+β)·l + g, must stay within it so that the running
 * log-sum-exp states (whose empty value is −1e38) and their differences are
 * finite f32. Half of it goes to (1+β)/τ, half to ADNCE's 4/(2σ²).
 */
export const LOG_TERM_LIMIT = 1e37;

/** The largest K_max a sampled loss takes (its index table's columns); the K theory tabulates up to it. */
export const K_LIMIT = 65535;

/** Bytes of the `Params` and `Block` uniforms. */
export const PARAMS_BYTES = 64;
/** Bytes of one `Block` uniform. */
export const BLOCK_BYTES = 32;

/** Block flags (WGSL `FIRST`, `LAST`, `GRAD`). */
export const BlockFlag = { first: 1, last: 2, grad: 4 } as const;

/** The flags of a block that is the whole score matrix: its first and last column tile, with backward. */
export const WHOLE: number = BlockFlag.first | BlockFlag.last | BlockFlag.grad;

/** The scalar settings of one loss: the WGSL `Params` uniform. */
export interface ContrastParams {
  /** Anchor rows: B (sampled) or R = 2B (in-batch). */
  rows: number;
  /** Sampled: negatives in use. */
  k: number;
  /** Sampled: the index table has 1 + kMax columns. */
  kMax: number;
  /** Embedding dimension D. */
  dim: number;
  /** Sampled: rows of the candidate table. */
  candidates: number;
  /** In-batch layout (positive = partner row, self excluded). */
  inBatch: boolean;
  /** Apply DCL/HCL debiasing with its clamp. */
  debias: boolean;
  /** SupCon (in-batch): the `labels` binding decides each row's positives (default false). */
  supcon?: boolean;
  /** Sampled: rows of the queue of past candidates (candidate indices N..N+queued−1; default 0). */
  queued?: number;
  /** 1/τ. */
  invTau: number;
  /** HCL's β (0 otherwise). */
  beta: number;
  /** ADNCE's μ. */
  mu: number;
  /** ADNCE's 1/(2σ²); 0 disables the Gaussian weight. */
  invTwoSigma2: number;
  /** DCL/HCL's τ+. */
  tauPlus: number;
  /**
   * Factor on dScores: 1/rows for the gradient of the mean loss (SupCon: 1/(rows with a positive), or 0 when
   * none has one).
   */
  gradScale: number;
}

/** Writes `p` in the layout of the WGSL `Params` struct. */
export function packContrastParams(p: ContrastParams, into = new ArrayBuffer(PARAMS_BYTES)): ArrayBuffer {
  const u = new Uint32Array(into);
  const f = new Float32Array(into);
  u.set([p.rows, p.k, p.kMax, p.dim, p.candidates, p.inBatch ? 1 : 0, p.debias ? 1 : 0, p.supcon ? 1 : 0]);
  f.set([p.invTau, p.beta, p.mu, p.invTwoSigma2, p.tauPlus, p.gradScale], 8);
  u[14] = p.queued ?? 0;
  return into;
}

/** Byte offset of `k` in the `Params` uniform (for changing K alone). */
export const PARAMS_K_OFFSET = 4;

/** Byte offset of `grad_scale` in the `Params` uniform (SupCon rewrites it when the labels change). */
export const PARAMS_GRAD_SCALE_OFFSET = 52;

/** Floats per row of the WGSL `Stats` struct (the `stats` binding is [rows, STATS_FLOATS]). */
export const STATS_FLOATS = 12;

/** Writes one `Block` uniform: rows row0.., columns col0.., with a row stride and flags. */
export function packBlock(
  block: { row0: number; col0: number; nrows: number; ncols: number; stride: number; flags: number },
): Uint32Array {
  return new Uint32Array([block.row0, block.col0, block.nrows, block.ncols, block.stride, block.flags, 0, 0]);
}

/**
 * One kernel of shaders/contrast.wgsl. `row_loss_and_grad` runs one
 * workgroup per row (`rows`); every other entry one thread per item
 * (`threads`), `row_loss_and_grad_by_thread` one per row. The row
 * reduction is best made with {@linkcode rowReduction}.
 *
 * @param gpu The context.
 * @param op The op, for labels and errors.
 * @param entry The entry point.
 * @param bindings A tensor or buffer for every binding the entry uses, by its WGSL name.
 * @param grid `{ rows }` or `{ threads }`.
 * @returns The kernel, ready to encode any number of times.
 */
export function contrastKernel(
  gpu: Gpu,
  op: string,
  entry: ContrastEntry,
  bindings: Record<string, Tensor | Binding>,
  grid: { rows: number } | { threads: number },
): Kernel {
  const size = "rows" in grid ? { workgroups: grid.rows } : { threads: grid.threads };
  return new Kernel(gpu, { op, shader, entry, bindings, workgroupSize: WG, ...size });
}

/**
 * The widest block whose rows the reduction walks with one thread each, on a CPU adapter. On llvmpipe a workgroup per
 * row costs about 10 µs a row in barriers (3 ms of a 257-row sampled loss); a thread per row pays none, but walks its
 * row alone.
 */
export const ROW_BY_THREAD_MAX_COLUMNS = 1024;

/**
 * The row reduction (loss, statistics, and dScores in place) over a block of `rows` rows and `columns` columns: a
 * thread per row on a CPU adapter (`isFallbackAdapter`: llvmpipe, SwiftShader) while a row holds at most
 * {@linkcode ROW_BY_THREAD_MAX_COLUMNS} scores, where it was measured faster; else a workgroup per row, which is what
 * a GPU's thousands of lanes suit (not measured on one yet). Both forms give the same bits where the driver compiles
 * their shared arithmetic alike (test/ops/contrast_rows_test.ts compares them on the adapter it runs on).
 *
 * @param gpu The context.
 * @param op The op, for labels and errors.
 * @param bindings The bindings of `row_loss_and_grad`.
 * @param rows Rows of the block.
 * @param columns Columns of the block.
 * @returns The kernel, and whether it runs a thread per row.
 */
export function rowReduction(
  gpu: Gpu,
  op: string,
  bindings: Record<string, Tensor | Binding>,
  rows: number,
  columns: number,
): { kernel: Kernel; byThread: boolean } {
  const byThread = gpu.info.isFallbackAdapter && columns <= ROW_BY_THREAD_MAX_COLUMNS;
  const kernel = byThread
    ? contrastKernel(gpu, op, "row_loss_and_grad_by_thread", bindings, { threads: rows })
    : contrastKernel(gpu, op, "row_loss_and_grad", bindings, { rows });
  return { kernel, byThread };
}
