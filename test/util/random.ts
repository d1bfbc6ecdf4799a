/** Seeded random data for tests: the same seed gives the same arrays. */

export { seededRandom } from "../../src/data/random.ts";

/** `n` values uniform in [-scale, scale). */
export function uniform(random: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * random() - 1) * scale;
  return out;
}

/** Scales each row of `values` ([rows, dim]) to unit length, in place; returns `values`. */
export function unitRows(values: Float32Array, dim: number): Float32Array {
  for (let i = 0; i < values.length / dim; i++) {
    let sq = 0;
    for (let t = 0; t < dim; t++) sq += values[i * dim + t] ** 2;
    for (let t = 0; t < dim; t++) values[i * dim + t] /= Math.sqrt(sq);
  }
  return values;
}

/** A fresh seed per run, printed so a failure can be replayed with NCEGPU_SEED. */
export function freshSeed(label: string): number {
  let fixed: string | undefined;
  try {
    fixed = Deno.env.get("NCEGPU_SEED");
  } catch {
    fixed = undefined;
  }
  const seed = fixed ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
  console.log(`${label}: seed ${seed}`);
  return seed;
}
