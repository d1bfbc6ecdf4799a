/**
 * Gather benchmark: a batch of rows gathered from a u8 table resident on
 * the GPU (plain and through affine warps), against the host path it
 * replaces: converting the same rows to f32 in JavaScript and uploading
 * them with writeBuffer, timed in the same run.
 */

import { randomWarps } from "../src/data/augment.ts";
import { Rng } from "../src/data/random.ts";
import type { Gpu } from "../src/gpu/device.ts";
import { Tensor } from "../src/gpu/tensor.ts";
import { median } from "../src/gpu/_median.ts";
import { timeGpu } from "../src/gpu/timing.ts";
import { gatherBytes, packBytes, WARP_FLOATS } from "../src/ops/gather.ts";

/** One row of the report. */
export interface GatherBenchRow {
  /** "gather", "gather + warp" or the host baseline. */
  path: string;
  /** Rows per batch. */
  rows: number;
  /** Bytes per row. */
  width: number;
  /** Median milliseconds per batch. */
  medianMs: number;
  /** f32 bytes delivered per second, GB/s. */
  gbPerS: number;
  /** Host-upload time divided by this path's. */
  speedup: number;
}

/**
 * Times the gathers and the host baseline at B rows of a 60,000 × 784 table.
 *
 * @param gpu The context.
 * @param log Progress messages.
 * @returns One row per path and batch size.
 */
export async function benchGather(gpu: Gpu, log: (line: string) => void): Promise<GatherBenchRow[]> {
  const [tableRows, width] = [60_000, 784];
  const rng = new Rng(3);
  const bytes = Uint8Array.from({ length: tableRows * width }, () => Math.floor(rng.next() * 256));
  const data = Tensor.from(gpu, packBytes(bytes, tableRows, width), [tableRows * (width / 4)]);
  const layout = { rows: tableRows, width, imageShape: [28, 28] as const };
  const rows: GatherBenchRow[] = [];
  for (const b of [256, 1024]) {
    log(`gather: ${b} rows of ${width} bytes`);
    const ids = Uint32Array.from({ length: b }, () => Math.floor(rng.next() * tableRows));
    const idTensor = Tensor.from(gpu, ids, [b]);
    const out = Tensor.empty(gpu, [b, width]);
    const warps = Tensor.from(gpu, randomWarps(rng, b), [b, WARP_FLOATS]);
    const host = new Float32Array(b * width);
    // Host path: the conversion a trainer without a resident dataset does every step, then the upload.
    const hostMs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      for (let r = 0; r < b; r++) {
        const src = ids[r] * width;
        for (let p = 0; p < width; p++) host[r * width + p] = bytes[src + p] / 255;
      }
      out.write(host);
      await gpu.sync("bench:gather:host");
      if (i > 1) hostMs.push(performance.now() - t0);
    }
    const baseline = median(hostMs);
    const delivered = b * width * 4;
    rows.push({
      path: "host convert + writeBuffer",
      rows: b,
      width,
      medianMs: baseline,
      gbPerS: delivered / baseline / 1e6,
      speedup: 1,
    });
    for (const [path, options] of [["gather", {}], ["gather + warp", { warps }]] as const) {
      const step = gatherBytes(gpu, data, layout, idTensor, out, options);
      const t = await timeGpu(gpu, (pass) => step.encode(pass), { op: `bench:${path}`, iterations: 7 });
      step.destroy();
      rows.push({
        path,
        rows: b,
        width,
        medianMs: t.medianMs,
        gbPerS: delivered / t.medianMs / 1e6,
        speedup: baseline / t.medianMs,
      });
    }
    [idTensor, out, warps].forEach((t) => t.destroy());
  }
  data.destroy();
  return rows;
}
