/**
 * The median, for timings (src/gpu/timing.ts) and benchmarks.
 *
 * @module
 */

/**
 * The median of `values` (mean of the middle two for an even count).
 *
 * @param values Numbers; not modified.
 * @returns The median, or NaN for an empty list.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
