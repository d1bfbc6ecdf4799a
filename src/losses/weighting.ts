/**
 * Negative weightings: InfoNCE and the losses that re-weight its negatives
 * (docs/science.md §2). All of them are one reduction with a per-negative
 * log-bias; this file turns a weighting into that reduction's parameters,
 * after checking them.
 *
 * @module
 */

import { checkEnum, checkNumber, checkRange, F32_MAX, typeError } from "../gpu/_check.ts";
import { LOG_TERM_LIMIT } from "../ops/contrast.ts";

/** Plain InfoNCE: every negative weighs 1. */
export interface InfoNceWeighting {
  /** Discriminant. */
  kind: "infonce";
}

/**
 * Adjusted InfoNCE [P2]: negatives weighted by a Gaussian of their cosine,
 * w_k = exp(-(s_k-μ)²/(2σ²)), normalised by the row mean and detached.
 */
export interface AdnceWeighting {
  /** Discriminant. */
  kind: "adnce";
  /** Centre μ, in cosine units (default 0.7, the official CIFAR-10 setting). */
  mu?: number;
  /** Width σ > 0 (default 0.5). */
  sigma?: number;
}

/** Debiased contrastive loss: subtracts τ+ of the positive mass from the negatives. */
export interface DclWeighting {
  /** Discriminant. */
  kind: "dcl";
  /** Class prior τ+ in [0, 1) (default 0.1). */
  tauPlus?: number;
}

/** Hard-negative contrastive loss: DCL with importance exp(β·l_k), not detached. */
export interface HclWeighting {
  /** Discriminant. */
  kind: "hcl";
  /** Hardness β ≥ 0 (default 1; 0 is DCL). */
  beta?: number;
  /** Class prior τ+ in [0, 1) (default 0.1). */
  tauPlus?: number;
}

/** How a contrastive loss weighs its negatives; a bare name takes the defaults. */
export type NegativeWeighting =
  | InfoNceWeighting
  | AdnceWeighting
  | DclWeighting
  | HclWeighting
  | "infonce"
  | "adnce"
  | "dcl"
  | "hcl";

/** The reduction's parameters for one weighting (see shaders/contrast.wgsl). */
export interface WeightingParams {
  /** The weighting's name. */
  kind: "infonce" | "adnce" | "dcl" | "hcl";
  /** Exponent of HCL's importance weights. */
  beta: number;
  /** ADNCE's centre. */
  mu: number;
  /** ADNCE's 1/(2σ²); 0 when off. */
  invTwoSigma2: number;
  /** DCL/HCL's class prior. */
  tauPlus: number;
  /** Whether DCL/HCL debiasing (with its clamp) applies. */
  debias: boolean;
}

/**
 * Checks `weighting` and returns the reduction's parameters.
 *
 * @param op The op, named by errors.
 * @param weighting The weighting (default InfoNCE).
 * @param arg How errors name it (default "options.weighting").
 * @returns Its parameters.
 * @throws {TypeError} When `weighting` is neither a name nor an object, its kind is not a string, or one of its
 * numbers is not a number.
 * @throws {RangeError} When its kind is unknown, or `mu` is not finite, `sigma` not > 0, `tauPlus` not in [0, 1) or
 * `beta` not >= 0.
 *
 * @example HCL with its defaults
 * ```ts
 * import assert from "node:assert/strict";
 * import { weightingParams } from "./weighting.ts";
 * const p = weightingParams("contrastiveLoss", "hcl");
 * assert.deepEqual([p.beta, p.tauPlus, p.debias], [1, 0.1, true]);
 * ```
 */
export function weightingParams(
  op: string,
  weighting: NegativeWeighting = "infonce",
  arg = "options.weighting",
): WeightingParams {
  const w = typeof weighting === "string" ? { kind: weighting } : weighting;
  if (typeof w !== "object" || w === null) typeError(op, `${arg}`, "a weighting object or name", w);
  const none = { beta: 0, mu: 0, invTwoSigma2: 0, tauPlus: 0, debias: false };
  checkEnum(op, `${arg}.kind`, w.kind, ["infonce", "adnce", "dcl", "hcl"] as const);
  switch (w.kind) {
    case "infonce":
      return { kind: "infonce", ...none };
    case "adnce": {
      const { mu = 0.7, sigma = 0.5 } = w as AdnceWeighting;
      checkNumber(op, `${arg}.mu`, mu, () => true, "a finite number");
      checkRange(op, `${arg}.mu`, mu, -1, 1, "a cosine");
      checkNumber(op, `${arg}.sigma`, sigma, (v) => v > 0, "> 0");
      // The kernel computes (s − μ)²/(2σ²) with |s − μ| ≤ 2: half the reduction's log-term range.
      const minSigma = Math.sqrt(4 / LOG_TERM_LIMIT);
      checkRange(op, `${arg}.sigma`, sigma, minSigma, Number.MAX_VALUE, "4/(2σ²) ≤ 5e36");
      return { ...none, kind: "adnce", mu, invTwoSigma2: 1 / (2 * sigma * sigma) };
    }
    case "dcl":
    case "hcl": {
      const { tauPlus = 0.1 } = w as DclWeighting;
      const beta = w.kind === "hcl" ? ((w as HclWeighting).beta ?? 1) : 0;
      checkNumber(op, `${arg}.tauPlus`, tauPlus, (v) => v >= 0 && v < 1, "in [0, 1)");
      checkNumber(op, `${arg}.beta`, beta, (v) => v >= 0, ">= 0");
      // 1 − τ+ divides in f32: τ+ must round below 1 there.
      checkRange(op, `${arg}.tauPlus`, tauPlus, 0, 1 - 2 ** -24, "1 − τ+ > 0 in f32");
      checkRange(op, `${arg}.beta`, beta, 0, F32_MAX, "a finite f32");
      return { ...none, kind: w.kind, beta, tauPlus, debias: true };
    }
  }
}
