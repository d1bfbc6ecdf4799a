/**
 * Float64 CPU references for the contrastive losses, written from the
 * formulas of docs/science.md §1–2 one loss at a time (not from the unified
 * log-term form the kernel uses), and a central-difference gradient.
 */

/** A weighting as the reference sees it: the loss's own parameters. */
export type RefWeighting =
  | { kind: "infonce" }
  | { kind: "adnce"; mu: number; sigma: number }
  | { kind: "dcl"; tauPlus: number }
  | { kind: "hcl"; beta: number; tauPlus: number };

/** One row's inputs: positive and negative cosines, and the scores ADNCE's (detached) weights use. */
export interface RefRow {
  pos: number;
  neg: number[];
  /** ADNCE only: the scores its weights are computed from (held constant under differentiation). */
  weightNeg?: number[];
}

/** One row's loss and read-outs. */
export interface RefRowResult {
  loss: number;
  eta: number;
  below: number;
  /** Negatives within 1e-5 of the positive's score, whose order fp32 may flip. */
  nearTies: number;
  l0: number;
  /** log Σ_k e^{l_k} over the plain negative logits. */
  lseNeg: number;
  /**
   * How much a relative error in the row's exponential sums reaches its loss: 1 for InfoNCE and ADNCE; for an
   * unclamped DCL/HCL row (R + τ+·M·P)/((1 − τ+)·(P + Ng)), which is large where the debiasing cancels
   * (R ≈ τ+·M·P) and an fp32 kernel cannot do better than ε·that.
   */
  conditioning: number;
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** The loss of one row, per docs/science.md §1–2. */
export function rowLoss(row: RefRow, tau: number, w: RefWeighting): RefRowResult {
  const M = row.neg.length;
  const l0 = row.pos / tau;
  const l = row.neg.map((s) => s / tau);
  const P = Math.exp(l0);
  let loss: number;
  let conditioning = 1;
  let logWeights: number[]; // log of each negative's weight in π ∝ weight·e^l
  switch (w.kind) {
    case "infonce":
      loss = -l0 + logSumExp([l0, ...l]);
      logWeights = l.map(() => 0);
      break;
    case "adnce": {
      const ws = (row.weightNeg ?? row.neg).map((s) => Math.exp(-((s - w.mu) ** 2) / (2 * w.sigma ** 2)));
      const mean = ws.reduce((a, b) => a + b, 0) / M;
      const c = ws.map((x) => x / mean);
      loss = -l0 + Math.log(P + l.reduce((acc, lk, k) => acc + c[k] * Math.exp(lk), 0));
      logWeights = c.map(Math.log);
      break;
    }
    case "dcl": {
      const sum = l.reduce((acc, lk) => acc + Math.exp(lk), 0);
      const ng = Math.max((sum - w.tauPlus * M * P) / (1 - w.tauPlus), M * Math.exp(-1 / tau));
      loss = -l0 + Math.log(P + ng);
      conditioning = (sum + w.tauPlus * M * P) / ((1 - w.tauPlus) * (P + ng));
      logWeights = l.map(() => 0);
      break;
    }
    case "hcl": {
      const num = l.reduce((acc, lk) => acc + Math.exp((1 + w.beta) * lk), 0);
      const den = l.reduce((acc, lk) => acc + Math.exp(w.beta * lk), 0);
      const R = (M * num) / den;
      const ng = Math.max((R - w.tauPlus * M * P) / (1 - w.tauPlus), M * Math.exp(-1 / tau));
      loss = -l0 + Math.log(P + ng);
      conditioning = (R + w.tauPlus * M * P) / ((1 - w.tauPlus) * (P + ng));
      logWeights = l.map((lk) => w.beta * lk);
      break;
    }
  }
  const biased = l.map((lk, k) => lk + logWeights[k]);
  const lse = logSumExp(biased);
  const pi = biased.map((x) => Math.exp(x - lse));
  const entropy = -pi.reduce((acc, p) => acc + (p > 0 ? p * Math.log(p) : 0), 0);
  return {
    loss,
    eta: Math.log(M) - entropy,
    below: row.neg.filter((s) => s < row.pos).length,
    nearTies: row.neg.filter((s) => Math.abs(s - row.pos) < 1e-5).length,
    l0,
    lseNeg: logSumExp(l),
    conditioning,
  };
}

/** Whether a DCL/HCL row sits on the clamp (Ng = M·e^(-1/τ)). */
export function rowClamped(row: RefRow, tau: number, w: RefWeighting): boolean {
  if (w.kind !== "dcl" && w.kind !== "hcl") return false;
  const M = row.neg.length;
  const l = row.neg.map((s) => s / tau);
  const P = Math.exp(row.pos / tau);
  const beta = w.kind === "hcl" ? w.beta : 0;
  const R = (M * l.reduce((a, x) => a + Math.exp((1 + beta) * x), 0)) / l.reduce((a, x) => a + Math.exp(beta * x), 0);
  return (R - w.tauPlus * M * P) / (1 - w.tauPlus) < M * Math.exp(-1 / tau);
}

/** Batch read-outs, as the kernel defines them (docs/science.md §1). */
export interface RefBatch {
  meanLoss: number;
  rows: RefRowResult[];
  miBound: number;
  donskerVaradhan: number;
  meanEta: number;
  belowFraction: number;
  top1: number;
  negatives: number;
}

/** Mean loss and read-outs over rows. */
export function batch(rows: RefRow[], tau: number, w: RefWeighting): RefBatch {
  const results = rows.map((r) => rowLoss(r, tau, w));
  const n = results.length;
  const M = rows[0].neg.length;
  const meanLoss = results.reduce((a, r) => a + r.loss, 0) / n;
  const logM1 = Math.log(M + 1);
  return {
    meanLoss,
    rows: results,
    miBound: Math.min(logM1 - meanLoss, logM1),
    donskerVaradhan: results.reduce((a, r) => a + r.l0, 0) / n - logSumExp(results.map((r) => r.lseNeg)) +
      Math.log(n * M),
    meanEta: results.reduce((a, r) => a + r.eta, 0) / n,
    belowFraction: results.reduce((a, r) => a + r.below / M, 0) / n,
    top1: results.filter((r) => r.below === M).length / n,
    negatives: M,
  };
}

/** Row i of a · row j of b, rows of width d. */
export function dot(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += a[i * d + t] * b[j * d + t];
  return s;
}

/** Rows of the sampled-K layout: anchor i against c[idx[i, 0..k]]. `weightFrom` gives ADNCE's detached scores. */
export function sampledRows(
  q: ArrayLike<number>,
  c: ArrayLike<number>,
  idx: ArrayLike<number>,
  shape: { b: number; d: number; k: number; kMax: number },
  weightFrom?: { q: ArrayLike<number>; c: ArrayLike<number> },
): RefRow[] {
  const rows: RefRow[] = [];
  const width = shape.kMax + 1;
  for (let i = 0; i < shape.b; i++) {
    const score = (qq: ArrayLike<number>, cc: ArrayLike<number>, j: number) =>
      dot(qq, i, cc, idx[i * width + j], shape.d);
    const neg: number[] = [];
    const weightNeg: number[] = [];
    for (let j = 1; j <= shape.k; j++) {
      neg.push(score(q, c, j));
      if (weightFrom) weightNeg.push(score(weightFrom.q, weightFrom.c, j));
    }
    rows.push({ pos: score(q, c, 0), neg, weightNeg: weightFrom ? weightNeg : undefined });
  }
  return rows;
}

/** Rows of the in-batch layout: z has r = 2B rows, row i's positive is (i + B) mod r. */
export function inBatchRows(
  z: ArrayLike<number>,
  shape: { r: number; d: number },
  weightFrom?: ArrayLike<number>,
): RefRow[] {
  const rows: RefRow[] = [];
  for (let i = 0; i < shape.r; i++) {
    const p = (i + shape.r / 2) % shape.r;
    const neg: number[] = [];
    const weightNeg: number[] = [];
    for (let k = 0; k < shape.r; k++) {
      if (k === i || k === p) continue;
      neg.push(dot(z, i, z, k, shape.d));
      if (weightFrom) weightNeg.push(dot(weightFrom, i, weightFrom, k, shape.d));
    }
    rows.push({ pos: dot(z, i, z, p, shape.d), neg, weightNeg: weightFrom ? weightNeg : undefined });
  }
  return rows;
}

/** One SupCon anchor's loss and read-outs (docs/science.md §2.5). */
export interface RefSupConRow {
  loss: number;
  /** |P(i)|. */
  positives: number;
  /** M = N − 1 − |P(i)|. */
  negatives: number;
  /** log M − H(π), π ∝ weight·e^l over the negatives (0 without negatives). */
  eta: number;
  /** mean_{p ∈ P(i)} l_ip. */
  meanPositive: number;
  /** Σ_{p ∈ P(i)} l_ip. */
  sumPositive: number;
  /** log Σ_k e^{l_ik} over the plain negative logits (−Infinity without negatives). */
  lseNeg: number;
  /** Whether the highest-scoring other row is a positive. */
  top1: boolean;
}

/** SupCon over a batch: per-anchor results (null: no positive, no term) and the read-outs over the others. */
export interface RefSupCon {
  rows: (RefSupConRow | null)[];
  meanLoss: number;
  /** Anchors with a positive. */
  anchors: number;
  /** Mean M over those anchors. */
  negatives: number;
  miBound: number;
  donskerVaradhan: number;
  meanEta: number;
  top1: number;
}

/**
 * SupCon's "L_out" (docs/science.md §2.5), written from the formula: for anchor i with positives P(i) = {p ≠ i :
 * y_p = y_i} and A(i) = {a ≠ i}, L_i = −(1/|P|)·Σ_p [l_ip − log Σ_a e^{l_ia}], l = s/τ; with ADNCE, D = Σ_p e^{l_p} +
 * Σ_k c_k·e^{l_k} over the negatives k ∉ P(i), c_k = w_k/mean_k w_k, w_k = exp(−(s_k − μ)²/(2σ²)) of the scores of
 * `weightFrom` (held constant). Anchors without a positive have no term; the mean is over the others (0 if none).
 */
export function supcon(
  z: ArrayLike<number>,
  labels: ArrayLike<number>,
  shape: { n: number; d: number },
  tau: number,
  w: { kind: "infonce" } | { kind: "adnce"; mu: number; sigma: number },
  weightFrom?: ArrayLike<number>,
): RefSupCon {
  const { n, d } = shape;
  const rows: (RefSupConRow | null)[] = [];
  for (let i = 0; i < n; i++) {
    const pos: number[] = [];
    const neg: number[] = [];
    const weightNeg: number[] = [];
    for (let a = 0; a < n; a++) {
      if (a === i) continue;
      const l = dot(z, i, z, a, d) / tau;
      if (labels[a] === labels[i]) pos.push(l);
      else {
        neg.push(l);
        weightNeg.push(dot(weightFrom ?? z, i, weightFrom ?? z, a, d));
      }
    }
    if (pos.length === 0) {
      rows.push(null);
      continue;
    }
    const M = neg.length;
    let logC = neg.map(() => 0); // log c_k
    if (w.kind === "adnce" && M > 0) {
      const ws = weightNeg.map((s) => Math.exp(-((s - w.mu) ** 2) / (2 * w.sigma ** 2)));
      const mean = ws.reduce((x, y) => x + y, 0) / M;
      logC = ws.map((x) => Math.log(x / mean));
    }
    const logD = logSumExp([...pos, ...neg.map((l, k) => l + logC[k])]);
    const loss = -pos.reduce((acc, lp) => acc + (lp - logD), 0) / pos.length;
    let eta = 0;
    if (M > 0) {
      const biased = neg.map((l, k) => l + logC[k]);
      const lse = logSumExp(biased);
      const pi = biased.map((x) => Math.exp(x - lse));
      eta = Math.log(M) + pi.reduce((acc, p) => acc + (p > 0 ? p * Math.log(p) : 0), 0);
    }
    const sumPositive = pos.reduce((x, y) => x + y, 0);
    rows.push({
      loss,
      positives: pos.length,
      negatives: M,
      eta,
      meanPositive: sumPositive / pos.length,
      sumPositive,
      lseNeg: M > 0 ? logSumExp(neg) : -Infinity,
      top1: M === 0 || Math.max(...pos) > Math.max(...neg),
    });
  }
  const valid = rows.filter((r): r is RefSupConRow => r !== null);
  const count = valid.length;
  const mean = (f: (r: RefSupConRow) => number) => (count ? valid.reduce((a, r) => a + f(r), 0) / count : 0);
  const meanLoss = mean((r) => r.loss);
  const logA = Math.log(n - 1);
  const pairsPos = valid.reduce((a, r) => a + r.positives, 0);
  const pairsNeg = valid.reduce((a, r) => a + r.negatives, 0);
  const withNeg = valid.filter((r) => r.negatives > 0);
  return {
    rows,
    meanLoss,
    anchors: count,
    negatives: mean((r) => r.negatives),
    miBound: count ? Math.min(logA - meanLoss, logA) : 0,
    donskerVaradhan: pairsNeg > 0
      ? valid.reduce((a, r) => a + r.sumPositive, 0) / pairsPos - logSumExp(withNeg.map((r) => r.lseNeg)) +
        Math.log(pairsNeg)
      : 0,
    meanEta: mean((r) => r.eta),
    top1: mean((r) => (r.top1 ? 1 : 0)),
  };
}

/** Central differences of `f` with respect to every element of `x` (restored afterwards). */
export function centralDifferences(f: () => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i];
    x[i] = saved + h;
    const up = f();
    x[i] = saved - h;
    const down = f();
    x[i] = saved;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}
