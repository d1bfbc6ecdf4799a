/**
 * kNN evaluation benchmark: the GPU neighbour search (matmul blocks, 32
 * candidates per query, float64 re-ranking on the host) against the host
 * scan it replaces, on the same unit-norm embeddings in the same run; the
 * two must return the same neighbour lists.
 */

import { Rng } from "../src/data/random.ts";
import type { Gpu } from "../src/gpu/device.ts";
import { median } from "../src/gpu/_median.ts";
import { gpuNeighbours, hostNeighbours } from "../src/ops/knn.ts";
import { uniform, unitRows } from "../test/util/random.ts";

/** One row of the report. */
export interface KnnBenchRow {
  /** Bank rows. */
  bank: number;
  /** Queries. */
  queries: number;
  /** Embedding width. */
  dim: number;
  /** Neighbours per query. */
  depth: number;
  /** Median wall-clock ms of the host scan. */
  hostMs: number;
  /** Median wall-clock ms of the GPU search, uploads and read-backs included. */
  gpuMs: number;
  /** hostMs / gpuMs. */
  speedup: number;
  /** GFLOP/s of the GPU search (2·N·Q·D multiply-adds). */
  gpuGflops: number;
  /** Queries the GPU search settled on the host (near-ties at the cut). */
  hostScans: number;
}

/**
 * Times both searches at the evaluation sizes (10,000 × 10,000 and a smaller one).
 *
 * @param gpu The context.
 * @param log Progress messages.
 * @param runs Timed runs of each (medians); the host scan at 10k × 10k takes seconds.
 * @returns One row per size.
 */
export async function benchKnn(gpu: Gpu, log: (line: string) => void, runs = 3): Promise<KnnBenchRow[]> {
  const rng = new Rng(11);
  const rows: KnnBenchRow[] = [];
  for (const [bank, queries, dim] of [[2000, 1000, 128], [10_000, 10_000, 128]]) {
    const depth = 10;
    log(`knn: ${queries} queries × ${bank} bank rows, D = ${dim}, depth ${depth}`);
    const b = unitRows(uniform(() => rng.next(), bank * dim), dim);
    const q = unitRows(uniform(() => rng.next(), queries * dim), dim);
    const hostMs: number[] = [];
    const gpuMs: number[] = [];
    let hostScans = 0;
    await gpuNeighbours(gpu, b, q.subarray(0, dim), dim, depth); // pipelines compiled outside the timing
    for (let r = 0; r < runs; r++) {
      let t0 = performance.now();
      const onGpu = await gpuNeighbours(gpu, b, q, dim, depth);
      gpuMs.push(performance.now() - t0);
      t0 = performance.now();
      const onHost = hostNeighbours(b, q, dim, depth);
      hostMs.push(performance.now() - t0);
      if (onGpu.rows.some((v, i) => v !== onHost.rows[i])) throw new Error("knn bench: GPU and host lists differ");
      hostScans = onGpu.hostScans;
    }
    const [h, g] = [median(hostMs), median(gpuMs)];
    rows.push({
      bank,
      queries,
      dim,
      depth,
      hostMs: h,
      gpuMs: g,
      speedup: h / g,
      gpuGflops: (2 * bank * queries * dim) / g / 1e6,
      hostScans,
    });
  }
  return rows;
}
