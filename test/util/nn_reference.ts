/** Float64 CPU references of the layers, written from their definitions (not from the WGSL). */

/** y = x·W + b; x [rows, n], W [n, m] row-major. */
export function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  rows: number,
  n: number,
  m: number,
): Float64Array {
  const y = new Float64Array(rows * m);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < m; j++) {
      let s = b[j];
      for (let k = 0; k < n; k++) s += x[i * n + k] * w[k * m + j];
      y[i * m + j] = s;
    }
  }
  return y;
}

/** The activations: ReLU, GELU in its tanh form, Tanh. */
export function activationRef(kind: "relu" | "gelu" | "tanh", v: number): number {
  if (kind === "relu") return Math.max(v, 0);
  if (kind === "tanh") return Math.tanh(v);
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

/** Each row divided by max(its L2 norm, 1e-12). */
export function l2normRef(h: ArrayLike<number>, rows: number, d: number): Float64Array {
  const z = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    let sq = 0;
    for (let t = 0; t < d; t++) sq += h[i * d + t] ** 2;
    const n = Math.max(Math.sqrt(sq), 1e-12);
    for (let t = 0; t < d; t++) z[i * d + t] = h[i * d + t] / n;
  }
  return z;
}

/** Σ out ⊙ R: a scalar whose gradient is R pulled back, so that symmetric errors cannot cancel. */
export function weightedSum(out: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * r[i];
  return s;
}
