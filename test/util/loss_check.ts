/**
 * What the contrastive-loss tests check a GPU loss with: the tolerances
 * (docs/science.md: forward 1e-4 relative, gradients 2e-3 relative in the
 * Frobenius norm), the per-row outputs read back, and the gradient check.
 */

import assert from "node:assert/strict";
import type { Gpu } from "../../src/gpu/device.ts";
import type { ContrastiveReadouts } from "../../src/losses/loss.ts";
import type { Tensor } from "../../src/gpu/tensor.ts";
import { assertClose, assertFrobenius } from "./compare.ts";

/** Forward tolerance: 1e-4 relative. */
export const FORWARD = { rtol: 1e-4, atol: 1e-5 };
/** Gradient tolerance: 2e-3 relative in the Frobenius norm. */
export const GRAD_FROBENIUS = 2e-3;

/** Column `col` of [rows, 4] row outputs (loss, η, positive logit, LSE of the negatives). */
export function column(rowOutputs: Float32Array, col: number): Float32Array {
  return rowOutputs.filter((_, i) => i % 4 === col);
}

/** What every loss writes per run: the read-outs, the per-row outputs and the rank counts, read back. */
export async function readRows(
  loss: { readReadouts(): Promise<ContrastiveReadouts>; rowOutputs: Tensor; belowCounts: Tensor },
): Promise<{ readouts: ContrastiveReadouts; rowOutputs: Float32Array; below: Uint32Array }> {
  return {
    readouts: await loss.readReadouts(),
    rowOutputs: await loss.rowOutputs.read() as Float32Array,
    below: await loss.belowCounts.read() as Uint32Array,
  };
}

/**
 * 2e-3 relative in the Frobenius norm, and elementwise 2e-3·|ref| + max(1e-4·max|ref|, floor). `floor` is for
 * gradients that are exact cancellations of large terms, where fp32 leaves a rounding residue.
 */
export function assertGradient(actual: Float32Array, expected: Float64Array, label: string, floor = 0): void {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertFrobenius(actual, expected, GRAD_FROBENIUS, label);
  assertClose(actual, expected, { rtol: 2e-3, atol: Math.max(1e-4 * scale, floor) }, label);
}

/** Each case throws a TypeError or RangeError whose message matches, before any GPU work (no buffer, no pipeline). */
export function assertRefusedFirst(gpu: Gpu, cases: [label: string, make: () => unknown, message: RegExp][]): void {
  for (const [label, make, message] of cases) {
    const before = { ...gpu.counters };
    assert.throws(
      make,
      (e: Error) => (e instanceof RangeError || e instanceof TypeError) && message.test(e.message),
      label,
    );
    assert.equal(gpu.counters.buffersAllocated, before.buffersAllocated, `${label}: allocated`);
    assert.equal(gpu.counters.pipelinesCreated, before.pipelinesCreated, `${label}: built a pipeline`);
  }
}
