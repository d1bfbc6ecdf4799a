/**
 * Launchers for shaders/contrast.wgsl, the softmax-contrast reduction behind
 * every contrastive loss (InfoNCE, ADNCE, DCL, HCL) in every layout. The
 * losses in src/losses/ compose these dispatches; this file only knows how
 * each entry point is bound and sized.
 *
 * Forward and backward of a row are one entry point (`row_stats` with the
 * GRAD flag); the layout-specific entries around it produce the scores
 * (`gather_scores`, `pair_scores`, or a matmul) and turn dScores into
 * embedding gradients (`gather_dq`, `scatter_dc`, or a matmul).
 *
 * @module
 */

import shader from "../../shaders/contrast.wgsl" with { type: "text" };
import type { Binding, BindingKind, Gpu } from "../gpu/device.ts";
import { type Dispatch, namedDispatch } from "../gpu/dispatch.ts";

/** Entry points of shaders/contrast.wgsl. */
export type ContrastEntry =
  | "gather_scores"
  | "gather_dq"
  | "scatter_dc"
  | "pair_scores"
  | "sym_grad_tile"
  | "row_stats"
  | "reduce_readouts";

/** Bindings of shaders/contrast.wgsl by name, in binding-number order. */
const LAYOUT = {
  params: "uniform",
  block: "uniform",
  q: "read",
  cand: "read",
  idx: "read",
  scores: "storage",
  pos: "storage",
  stats: "storage",
  rowOut: "storage",
  below: "storage",
  coef: "storage",
  gradOut: "storage",
  csrOffsets: "read",
  csrSlots: "read",
  readouts: "storage",
} as const satisfies Record<string, BindingKind>;

/** A binding of shaders/contrast.wgsl by name. */
export type ContrastSlot = keyof typeof LAYOUT;

const USES: Record<ContrastEntry, readonly ContrastSlot[]> = {
  gather_scores: ["params", "q", "cand", "idx", "scores", "pos"],
  gather_dq: ["params", "cand", "idx", "scores", "gradOut"],
  scatter_dc: ["params", "q", "scores", "gradOut", "csrOffsets", "csrSlots"],
  pair_scores: ["params", "q", "pos"],
  sym_grad_tile: ["params", "block", "scores", "coef"],
  row_stats: ["params", "block", "scores", "pos", "stats", "rowOut", "below", "coef"],
  reduce_readouts: ["params", "rowOut", "below", "readouts"],
};

/** Threads per workgroup of every entry point (WGSL `WG`). */
export const CONTRAST_WORKGROUP = 64;

/** Bytes of the `Params` and `Block` uniforms. */
export const PARAMS_BYTES = 64;
/** Bytes of one `Block` uniform. */
export const BLOCK_BYTES = 32;

/** Block flags (WGSL `FIRST`, `LAST`, `GRAD`). */
export const BlockFlag = { first: 1, last: 2, grad: 4 } as const;

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
  /** Factor on dScores: 1/rows for the gradient of the mean loss. */
  gradScale: number;
}

/** Writes `p` in the layout of the WGSL `Params` struct. */
export function packContrastParams(p: ContrastParams, into = new ArrayBuffer(PARAMS_BYTES)): ArrayBuffer {
  const u = new Uint32Array(into);
  const f = new Float32Array(into);
  u.set([p.rows, p.k, p.kMax, p.dim, p.candidates, p.inBatch ? 1 : 0, p.debias ? 1 : 0, 0]);
  f.set([p.invTau, p.beta, p.mu, p.invTwoSigma2, p.tauPlus, p.gradScale, 0, 0], 8);
  return into;
}

/** Byte offset of `k` in the `Params` uniform (for changing K alone). */
export const PARAMS_K_OFFSET = 4;

/** Writes one `Block` uniform: rows row0.., columns col0.., with a row stride and flags. */
export function packBlock(
  block: { row0: number; col0: number; nrows: number; ncols: number; stride: number; flags: number },
): Uint32Array {
  return new Uint32Array([block.row0, block.col0, block.nrows, block.ncols, block.stride, block.flags, 0, 0]);
}

/**
 * One dispatch of `entry` over `count` workgroups (one per row for
 * `row_stats`, one per 64 threads elsewhere), bound to `resources`.
 *
 * @param gpu The context.
 * @param op The op, for labels and errors.
 * @param entry The entry point.
 * @param resources A buffer (or range) for every binding the entry uses.
 * @param count Workgroups.
 * @returns The dispatch, ready to encode any number of times.
 */
export function contrastDispatch(
  gpu: Gpu,
  op: string,
  entry: ContrastEntry,
  resources: Partial<Record<ContrastSlot, Binding>>,
  count: number,
): Dispatch {
  return namedDispatch(gpu, op, shader, entry, LAYOUT, USES[entry], resources, count);
}

/** Workgroups that cover `threads` threads, 64 per workgroup. */
export function groupsFor(threads: number): number {
  return Math.ceil(threads / CONTRAST_WORKGROUP);
}
