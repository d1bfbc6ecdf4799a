/**
 * Nearest neighbours by dot product (cosine for L2-normalised rows): the
 * exact host scan, and a GPU search that returns the same answer faster.
 *
 * The GPU search computes a block of similarities S = Q·Bᵀ with matmul,
 * keeps each row's {@linkcode KNN_CANDIDATES} best columns
 * (shaders/knn.wgsl), then re-scores those candidates on the host in
 * float64, exactly as the host scan does, and sorts them the same way
 * (similarity descending, then bank row ascending). The fp32 similarities
 * only choose candidates; a bound on their rounding error decides whether
 * the candidates surely hold the true top `depth`, and a row where it cannot
 * be sure (many near-ties at the cut) is scanned on the host. So the result
 * is identical to {@linkcode hostNeighbours}, ties included.
 *
 * @module
 */

import shader from "../../shaders/knn.wgsl" with { type: "text" };
import { checkInt, checkObject, rangeError, typeError } from "../gpu/_check.ts";
import type { Encodable, Gpu } from "../gpu/device.ts";
import { Kernel } from "../gpu/_kernel.ts";
import { checkGpu, checkTensor, Tensor } from "../gpu/tensor.ts";
import { MatmulKernel } from "./matmul.ts";

/**
 * Candidates the GPU keeps per query row (`M` in shaders/knn.wgsl); the deepest neighbour list it serves. At depth
 * 32 the GPU search cannot prove that no column outside its candidates belongs to the list, so every query is
 * scanned on the host as well; at depths near 32, ties or near-ties often send queries there. Depths up to about 24
 * stay on the GPU.
 */
export const KNN_CANDIDATES = 32;

const WG = 32; // threads per row; WG·M·8 bytes = 8 KiB of workgroup memory, within every adapter's 16 KiB
const SIMS_BYTES = 64 * 2 ** 20; // the default similarity scratch
const SUBMIT_QUERIES = 16_384; // the default queries per submit: their candidates take 4 MiB

/**
 * Binds the candidate selection: for each of `rows` rows of `sims`, its
 * {@linkcode KNN_CANDIDATES} largest entries among the first `columns`, best first.
 * Entries below −3.4e38 (−∞) and NaN are never candidates; a row with fewer
 * than 32 others pads with column 0xffffffff and similarity −3.4e38.
 * (gpuNeighbours only passes finite similarities far above that.)
 *
 * @param gpu The context.
 * @param sims f32 [rows, width], width a multiple of 4 (the kernel reads vec4s); columns past `columns` are padding.
 * @param candIdx u32 [rows, KNN_CANDIDATES]: columns (0xffffffff past the last when columns < KNN_CANDIDATES).
 * @param candSim f32 [rows, KNN_CANDIDATES]: their similarities.
 * @param columns The real columns, 1 … width (default width).
 * @param options `rankPool`: rows where at most this many entries reach the floor are ranked directly, the others
 * take the merge path (default 256, at most 1024; 0 sends every row down the merge path, so tests can run both
 * paths on the same rows).
 * @returns The bound work.
 * @throws {TypeError} When `gpu` is not a Gpu, or a tensor is not a live tensor of it of the dtype named.
 * @throws {RangeError} When `sims` is not 2-D with a width that is a multiple of 4, `columns` is not in [1, width],
 * a candidate tensor does not hold rows·KNN_CANDIDATES elements or shares a buffer with `sims`, the two overlap, or
 * `options.rankPool` is not an integer in [0, 1024].
 * @throws {GpuError} When an earlier op's GPU error is pending.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example The three best of a row of five (and three padding columns)
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, Tensor } from "../../mod.ts";
 * import { KNN_CANDIDATES, topCandidates } from "./knn.ts";
 * const gpu = await requestGpu();
 * const sims = Tensor.from(gpu, new Float32Array([0.1, 0.9, -0.5, 0.9, 0.3, 7, 7, 7]), [1, 8]);
 * const idx = Tensor.empty(gpu, [1, KNN_CANDIDATES], "u32");
 * const sim = Tensor.empty(gpu, [1, KNN_CANDIDATES]);
 * gpu.runPass("example", topCandidates(gpu, sims, idx, sim, 5));
 * assert.deepEqual(Array.from((await idx.read()).subarray(0, 3)), [1, 3, 4]); // ties: the lower column first
 * gpu.destroy();
 * ```
 */
export function topCandidates(
  gpu: Gpu,
  sims: Tensor,
  candIdx: Tensor,
  candSim: Tensor,
  columns?: number,
  options: { rankPool?: number } = {},
): Encodable {
  const op = "topCandidates";
  checkGpu(op, gpu);
  checkObject(op, "options", options);
  const { rankPool = 256 } = options;
  checkInt(op, "options.rankPool", rankPool, 0, WG * KNN_CANDIDATES);
  checkTensor(op, "sims", sims, gpu, "f32");
  if (sims.shape.length !== 2 || sims.shape[1] % 4 !== 0) {
    rangeError(op, "sims.shape", "[rows, width] with width a multiple of 4", sims.shape);
  }
  const [rows, width] = sims.shape;
  if (columns !== undefined) checkInt(op, "columns", columns, 1, width);
  checkTensor(op, "candIdx", candIdx, gpu, "u32");
  checkTensor(op, "candSim", candSim, gpu, "f32");
  for (const [name, t] of [["candIdx", candIdx], ["candSim", candSim]] as const) {
    if (t.size !== rows * KNN_CANDIDATES) rangeError(op, `${name}.shape`, `[${rows}, ${KNN_CANDIDATES}]`, t.shape);
    // WebGPU refuses one buffer bound both read-only and writable in a dispatch, even at disjoint ranges.
    if (t.buffer === sims.buffer) rangeError(op, name, "in another buffer than sims", "a view of sims' buffer");
  }
  if (candIdx.overlaps(candSim)) rangeError(op, "candSim", "distinct from candIdx", "an overlapping tensor");
  return new Kernel(gpu, {
    op,
    shader,
    entry: "top_candidates",
    bindings: { sims, cand_idx: candIdx, cand_sim: candSim },
    uniforms: { params: new Uint32Array([rows, columns ?? width, width / 4, 0]) },
    workgroupSize: WG,
    constants: { RANK_POOL: rankPool },
    workgroups: rows,
  });
}

/** Neighbour lists of Q queries, `depth` each, query-major: bank rows and their float64 similarities. */
export interface Neighbours {
  /** List length per query. */
  depth: number;
  /** Bank rows, [Q, depth], best first (similarity descending, then row ascending). */
  rows: Int32Array;
  /** Their similarities, [Q, depth]. */
  sims: Float64Array;
  /** Queries the GPU search could not settle and scanned on the host (always all of them for the host scan). */
  hostScans: number;
}

/** Whether (s, j) ranks before (t, i): larger similarity first, then the lower row. */
function before(s: number, j: number, t: number, i: number): boolean {
  return s > t || (s === t && j < i);
}

/** q·b in float64, in one fixed order: the host scan and the GPU search's re-scoring agree to the last bit. */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += a[ao + t] * b[bo + t];
  return s;
}

/** Empties query i's list in `out`; returns where it starts. */
function clearList(out: Neighbours, i: number): number {
  const at = i * out.depth;
  out.sims.fill(-Infinity, at, at + out.depth);
  out.rows.fill(-1, at, at + out.depth);
  return at;
}

/** Puts bank row j, similarity s, into the ranked list starting at `at` if it belongs there. */
function offer(out: Neighbours, at: number, s: number, j: number): void {
  const { rows, sims } = out;
  let k = at + out.depth - 1;
  if (!before(s, j, sims[k], rows[k])) return;
  for (; k > at && before(s, j, sims[k - 1], rows[k - 1]); k--) {
    sims[k] = sims[k - 1];
    rows[k] = rows[k - 1];
  }
  sims[k] = s;
  rows[k] = j;
}

/** Scans the whole bank for query `i` and writes its `depth` best into `out` at i·depth. */
function scanQuery(bank: Float32Array, queries: Float32Array, dim: number, i: number, out: Neighbours): void {
  const at = clearList(out, i);
  const n = bank.length / dim;
  for (let j = 0; j < n; j++) offer(out, at, dot(queries, i * dim, bank, j * dim, dim), j);
}

function checkNeighbourArgs(
  op: string,
  bank: Float32Array,
  queries: Float32Array,
  dim: number,
  depth: number,
  maxDepth = Infinity,
): void {
  if (!(bank instanceof Float32Array)) typeError(op, "bank", "a Float32Array", bank);
  if (!(queries instanceof Float32Array)) typeError(op, "queries", "a Float32Array", queries);
  checkInt(op, "dim", dim, 1);
  if (bank.length === 0 || bank.length % dim !== 0) {
    rangeError(op, "bank.length", `a multiple of dim (${dim}), > 0`, bank.length);
  }
  if (queries.length % dim !== 0) rangeError(op, "queries.length", `a multiple of dim (${dim})`, queries.length);
  checkInt(op, "depth", depth, 1, Math.min(bank.length / dim, maxDepth));
  // NaN has no place in a ranking (the host scan and the GPU would order it differently), and ±Infinity makes the
  // dot products NaN: refused, as after a diverged run.
  for (const [name, values] of [["bank", bank], ["queries", queries]] as const) {
    const at = values.findIndex((v) => !Number.isFinite(v));
    if (at >= 0) rangeError(op, `${name}[${at}]`, "a finite number", values[at]);
  }
}

/**
 * The `depth` nearest bank rows of every query by float64 dot product, by
 * scanning the whole bank: the reference the GPU search must equal.
 *
 * @param bank [N, D] row-major.
 * @param queries [Q, D] row-major.
 * @param dim D.
 * @param depth Neighbours per query, at most N.
 * @returns The neighbour lists.
 * @throws {TypeError} When `bank` or `queries` is not a Float32Array, or `dim` or `depth` is not a number.
 * @throws {RangeError} When a length is not a multiple of `dim` (or the bank is empty), a value is not finite, or
 * `depth` is not in [1, N].
 *
 * @example Two bank rows, one query
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostNeighbours } from "./knn.ts";
 * const nn = hostNeighbours(new Float32Array([1, 0, 0, 1]), new Float32Array([0.6, 0.8]), 2, 2);
 * assert.deepEqual(Array.from(nn.rows), [1, 0]);
 * ```
 */
export function hostNeighbours(bank: Float32Array, queries: Float32Array, dim: number, depth: number): Neighbours {
  checkNeighbourArgs("hostNeighbours", bank, queries, dim, depth);
  const q = queries.length / dim;
  const out = { depth, rows: new Int32Array(q * depth), sims: new Float64Array(q * depth), hostScans: q };
  for (let i = 0; i < q; i++) scanQuery(bank, queries, dim, i, out);
  return out;
}

function rowNorms(x: Float32Array, dim: number): Float64Array {
  const norms = new Float64Array(x.length / dim);
  for (let i = 0; i < norms.length; i++) norms[i] = Math.sqrt(dot(x, i * dim, x, i * dim, dim));
  return norms;
}

/**
 * The same neighbour lists as {@linkcode hostNeighbours}, found on the GPU:
 * the bank is uploaded once; queries are scored in sub-blocks whose
 * similarities fit one scratch buffer (64 MiB by default) and reduced to
 * their candidates on the GPU; each submit of up to 16,384 queries costs one
 * wait and two small read-backs (the candidates and their scores).
 *
 * @param gpu The context.
 * @param bank [N, D] row-major.
 * @param queries [Q, D] row-major.
 * @param dim D.
 * @param depth Neighbours per query, at most N and at most {@linkcode KNN_CANDIDATES} (see there: near 32 the
 * search falls back to the host scan).
 * @param options `scratchBytes`: the similarity scratch buffer's size (default 64 MiB; at least 64 rows are scored
 * at a time whatever it says); `queriesPerSubmit`: queries per submit, a multiple of 64 (default 16,384).
 * @returns The neighbour lists; `hostScans` counts the queries settled on the host. The error bound that decides it
 * uses the largest bank norm for every query, so a bank with a few rows far longer than the rest sends most queries
 * to the host; and when ‖bank row‖·‖query‖ can pass 1e30, where fp32 sums could overflow, every query is scanned
 * on the host.
 * @throws {TypeError} When `gpu` is not a Gpu, `bank` or `queries` is not a Float32Array, `dim` or `depth` is not
 * a number, or `options` is not an object.
 * @throws {RangeError} When a length is not a multiple of `dim` (or the bank is empty), a value is not finite,
 * `depth` is not in [1, min(N, KNN_CANDIDATES)], `options.scratchBytes` is not a positive integer, or `options.queriesPerSubmit` is
 * not a positive multiple of 64.
 * @throws {RangeError} When a scratch block of 64 rows of similarities would pass the device's storage binding
 * limit (a bank of more than 524,288 rows at the default 128 MiB).
 * @throws {OutOfMemoryError} When a buffer (the transposed bank, a submit's queries or candidates) exceeds the
 * device's buffer limits; nothing allocated is kept.
 * @throws {GpuError} When an earlier op's GPU error is pending, or the search causes one.
 * @throws {DeviceLostError} When the device is lost.
 *
 * @example Agrees with the host scan
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../../mod.ts";
 * import { gpuNeighbours, hostNeighbours } from "./knn.ts";
 * const gpu = await requestGpu();
 * const bank = Float32Array.from({ length: 300 }, (_, i) => Math.sin(i));
 * const queries = Float32Array.from({ length: 30 }, (_, i) => Math.cos(i));
 * const onGpu = await gpuNeighbours(gpu, bank, queries, 3, 5);
 * assert.deepEqual(onGpu.rows, hostNeighbours(bank, queries, 3, 5).rows);
 * gpu.destroy();
 * ```
 */
export async function gpuNeighbours(
  gpu: Gpu,
  bank: Float32Array,
  queries: Float32Array,
  dim: number,
  depth: number,
  options: { scratchBytes?: number; queriesPerSubmit?: number } = {},
): Promise<Neighbours> {
  const op = "gpuNeighbours";
  checkGpu(op, gpu);
  checkNeighbourArgs(op, bank, queries, dim, depth, KNN_CANDIDATES);
  checkObject(op, "options", options);
  const { scratchBytes = SIMS_BYTES, queriesPerSubmit = SUBMIT_QUERIES } = options;
  checkInt(op, "options.scratchBytes", scratchBytes, 1);
  checkInt(op, "options.queriesPerSubmit", queriesPerSubmit, 64);
  if (queriesPerSubmit % 64 !== 0) rangeError(op, "options.queriesPerSubmit", "a multiple of 64", queriesPerSubmit);
  const n = bank.length / dim;
  const q = queries.length / dim;
  const queryNorms = rowNorms(queries, dim);
  const maxBank = rowNorms(bank, dim).reduce((a, b) => Math.max(a, b), 0);
  const maxQuery = queryNorms.reduce((a, b) => Math.max(a, b), 0);
  // fp32 dot products of D terms err by at most γ_D·‖q‖·‖b‖, γ_D = D·u/(1 − D·u), u = 2^-23 (WGSL rounds each
  // add and multiply to a neighbour of the exact result; the order of the sum does not matter), plus D·2^-125
  // for subnormal products and sums flushed to zero (taken twice here), plus 2^-126·√D·(‖b‖ + ‖q‖) for subnormal
  // inputs flushed to zero; the host's float64 sums err by γ_D with u = 2^-53. Past 1e30 the fp32 sums could
  // overflow: then every query is scanned on the host.
  const gamma = (u: number) => (dim * u) / (1 - dim * u);
  // As error = slack·‖q‖ + floor, per query:
  const slack = (gamma(2 ** -23) + gamma(2 ** -53)) * maxBank + 2 ** -126 * Math.sqrt(dim);
  const floor = dim * 2 ** -124 + 2 ** -126 * Math.sqrt(dim) * maxBank;
  if (maxBank * maxQuery > 1e30 || dim * 2 ** -23 >= 0.5) return hostNeighbours(bank, queries, dim, depth);
  const out: Neighbours = { depth, rows: new Int32Array(q * depth), sims: new Float64Array(q * depth), hostScans: 0 };
  if (q === 0) return out;
  const width = Math.ceil(n / 4) * 4; // the selection reads vec4s; the padding columns score 0 and are never chosen
  // Queries go in sub-blocks of up to `sub` rows, each scored into one scratch block of similarities and reduced to
  // its candidates; a submit holds up to SUBMIT_QUERIES queries, so that one wait and one read-back serve many.
  // Multiples of 64 rows keep every view at a 256-byte offset.
  // One scratch block must fit a storage binding: at least 64 rows of it, or the bank is too wide for this search.
  const bindable = Math.floor(gpu.limits.maxStorageBufferBindingSize / 4 / width / 64) * 64;
  if (bindable < 64) {
    rangeError(op, "bank", `at most ${Math.floor(gpu.limits.maxStorageBufferBindingSize / 4 / 64)} rows`, `${n} rows`);
  }
  const sub = Math.min(bindable, Math.max(64, Math.floor(scratchBytes / 4 / width / 64) * 64));
  const block = Math.min(Math.ceil(q / 64) * 64, queriesPerSubmit);
  const owned: { destroy(): void }[] = []; // every buffer and kernel, freed however the search ends
  const own = <T extends { destroy(): void }>(x: T) => (owned.push(x), x);
  const bound = new Map<number, Encodable[]>(); // the work for a submit of this many (padded) rows
  try {
    // The bank transposed, [D, width]: S = Q·Bᵀ becomes form "nn", whose vec4-load variants read a row of it four
    // columns at a time (form "nt" has none).
    const bankT = own(Tensor.from(gpu, transposed(bank, n, dim, width), [dim, width]));
    const queryT = own(Tensor.empty(gpu, [block, dim]));
    const candIdx = own(Tensor.empty(gpu, [block, KNN_CANDIDATES], "u32"));
    const candSim = own(Tensor.empty(gpu, [block, KNN_CANDIDATES]));
    const scratch = own(Tensor.empty(gpu, [Math.min(sub, block), width]));
    const bind = (padded: number) => {
      const parts: Encodable[] = [];
      for (let first = 0; first < padded; first += sub) {
        const rows = Math.min(sub, padded - first);
        const at = (t: Tensor, cols: number) => t.view(first * cols, [rows, cols]);
        const sims = own(new MatmulKernel(gpu, at(queryT, dim), bankT, { out: scratch.view(0, [rows, width]) }));
        parts.push(
          sims,
          own(topCandidates(gpu, sims.out, at(candIdx, KNN_CANDIDATES), at(candSim, KNN_CANDIDATES), n)),
        );
      }
      bound.set(padded, parts);
      return parts;
    };
    const settled = Math.min(n, KNN_CANDIDATES); // candidates that are real columns
    // Query i's list from its candidates (fp32 best first), re-scored in float64 while one still can enter it.
    const rerank = (i: number, idx: Uint32Array, sim: Float32Array, base: number) => {
      const { sims } = out;
      const at = clearList(out, i);
      const last = at + depth - 1;
      const error = slack * queryNorms[i] + floor; // |float64 − fp32 score| < this
      let p = 0;
      // A candidate, and every one after it, scored at most sim[base + p] in fp32: once that plus the error is
      // below the list's last float64 score, none of them can enter the list, nor can a column left out.
      for (; p < settled && !(sim[base + p] + error < sims[last]); p++) {
        const j = idx[base + p];
        offer(out, at, dot(queries, i * dim, bank, j * dim, dim), j);
      }
      // All candidates scored: a column left out scored at most the last candidate's fp32 similarity, so its
      // float64 score is at most that plus the error; unless that is below the list's last, scan on the host.
      if (p === settled && n > KNN_CANDIDATES && !(sims[last] > sim[base + KNN_CANDIDATES - 1] + error)) {
        scanQuery(bank, queries, dim, i, out);
        out.hostScans++;
      }
    };
    for (let start = 0; start < q; start += block) {
      const rows = Math.min(block, q - start);
      const padded = Math.ceil(rows / 64) * 64;
      const chunk = queries.subarray(start * dim, (start + rows) * dim);
      queryT.view(0, [padded, dim]).write(rows === padded ? chunk : zeroPadded(chunk, padded * dim));
      const parts = bound.get(padded) ?? bind(padded);
      gpu.runPass(op, (pass) => {
        for (const part of parts) part.encode(pass);
      });
      const [idx, sim] = await Promise.all([candIdx.read(), candSim.read()]) as [Uint32Array, Float32Array];
      for (let r = 0; r < rows; r++) rerank(start + r, idx, sim, r * KNN_CANDIDATES);
    }
  } finally {
    for (const x of owned) x.destroy();
  }
  return out;
}

/** `values` [rows, cols] transposed to [cols, width], zeros past column `rows`. */
function transposed(values: Float32Array, rows: number, cols: number, width: number): Float32Array {
  const out = new Float32Array(cols * width);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * width + r] = values[r * cols + c];
  return out;
}

function zeroPadded(values: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(values);
  return out;
}
