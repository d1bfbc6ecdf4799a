/**
 * Float64 CPU references, written from the definitions (not from the WGSL).
 */

/** Element (r, c) of a row-major matrix with `cols` columns, optionally read transposed. */
function at(x: ArrayLike<number>, rows: number, cols: number, r: number, c: number, transposed: boolean): number {
  // transposed: x is stored as [cols, rows] and we want (r, c) of its transpose
  return transposed ? x[c * rows + r] : x[r * cols + c];
}

/**
 * C = op(A)·op(B) (+ bias) in float64. op(A) is M×K, op(B) is K×N.
 * A is [M, K] or, transposed, [K, M]; B is [K, N] or, transposed, [N, K].
 */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  opts: { transA?: boolean; transB?: boolean; bias?: ArrayLike<number> } = {},
): Float64Array {
  const c = new Float64Array(m * n);
  const row = new Float64Array(k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) row[p] = at(a, m, k, i, p, opts.transA ?? false);
    for (let j = 0; j < n; j++) {
      let s = opts.bias ? opts.bias[j] : 0;
      for (let p = 0; p < k; p++) s += row[p] * at(b, k, n, p, j, opts.transB ?? false);
      c[i * n + j] = s;
    }
  }
  return c;
}
