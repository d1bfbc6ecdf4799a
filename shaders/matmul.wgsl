// C = op(A) · op(B) (+ bias) (+ C when ACCUMULATE), fp32, row-major.
//
//   op(A) is M×K: A is [M, K], or [K, M] when TRANS_A (C = Aᵀ·B, dW = Xᵀ·dY).
//   op(B) is K×N: B is [K, N], or [N, K] when TRANS_B (C = A·Bᵀ, dX = dY·Wᵀ).
//   bias is [N], added to every row when HAS_BIAS. C is [M, N].
//   ACCUMULATE adds into C instead of overwriting it (parameter grads +=).
//
// Nine entry points, five algorithms; the launcher picks one per adapter and
// shape class by measuring (src/ops/matmul.ts, src/ops/matmul_tuning.ts).
// Any M, N, K work (the vec4 entry points: see below) and the inner loops
// have no branches: a thread at the edge may read past a row or the buffer,
// and those values only feed outputs that the store guard drops. Past the
// buffer, WebGPU defines the result (a value inside the binding, or zero).
// matmul_tiled clamps instead: a GPU does not pay for the min().
//
//   matmul_naive  one thread per output. The reference kernel and the
//                 baseline of the benchmark.
//   matmul_reg    one thread per TM×TN block held in registers, no shared
//                 memory: each loaded element feeds TM or TN FMAs. This is
//                 what llvmpipe prefers; its storage loads cost ~20 cycles
//                 per lane (measured; README, Benchmarks), registers
//                 almost nothing.
//   matmul_unrolled8x16, matmul_unrolled16x32
//                 matmul_reg at 8×16 and 16×32 with named accumulators,
//                 unrolled (written by bench/gen_matmul_unrolled.ts): what
//                 llvmpipe needs to keep them in registers.
//   matmul_vec8x16_nn, matmul_vec8x16_tn, matmul_vec16x32_nn, matmul_vec16x32_tn
//                 the same blocks reading op(B)'s rows, and in "tn" op(A)'s
//                 columns, as vec4s through the A4 and B4 views: llvmpipe
//                 turns every storage load into a loop over SIMD lanes, so
//                 one vec4 load costs little more than one f32 load (1.35–1.45×
//                 faster at dW = Xᵀ·dY, 784×256×16896; README, Benchmarks).
//                 Only where those rows are whole vec4s (the launcher checks).
//   matmul_tiled  a TM×TN register block per thread fed from BK-deep tiles
//                 of A and B staged in workgroup memory, columns strided by
//                 WG_X so that neighbouring invocations read neighbouring
//                 addresses (what a discrete GPU prefers).

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override WG_X: u32 = 8;
override WG_Y: u32 = 8;
// Register block per thread; at most MAX_T × MAX_T.
override TM: u32 = 4;
override TN: u32 = 4;
// Depth of a shared-memory tile (matmul_tiled only).
override BK: u32 = 16;

const MAX_T: u32 = 8u;

// The generated entry points run k over [k_begin, k_end): a multiply with a long K may be split into several
// dispatches that accumulate (the launcher's kChunk), so that a workgroup's rows of A and B stay in cache while its
// SIMD batches go over them one after another. The other entry points run all of [0, K).
struct Dims {
  M: u32,
  N: u32,
  K: u32,
  k_begin: u32,
  k_end: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
// The same buffers as A and B, read four floats at a time by the matmul_vec… entry points (the launcher binds
// them only when the rows they read are whole vec4s: N, and in form "tn" M, a multiple of 4).
@group(0) @binding(5) var<storage, read> A4: array<vec4f>;
@group(0) @binding(6) var<storage, read> B4: array<vec4f>;

fn load_a(m: u32, k: u32) -> f32 {
  if (TRANS_A) {
    return A[k * dims.M + m];
  }
  return A[m * dims.K + k];
}

fn load_b(k: u32, n: u32) -> f32 {
  if (TRANS_B) {
    return B[n * dims.K + k];
  }
  return B[k * dims.N + n];
}

fn store_c(m: u32, n: u32, value: f32) {
  var v = value;
  if (HAS_BIAS) {
    v += bias[n];
  }
  let i = m * dims.N + n;
  if (ACCUMULATE) {
    v += C[i];
  }
  C[i] = v;
}

// Dispatch: (ceil(N / WG_X), ceil(M / WG_Y)) workgroups.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3u) {
  let m = gid.y;
  let n = gid.x;
  if (m >= dims.M || n >= dims.N) {
    return;
  }
  var acc = 0.0;
  for (var k = 0u; k < dims.K; k++) {
    acc += load_a(m, k) * load_b(k, n);
  }
  store_c(m, n, acc);
}

// Dispatch: (ceil(N / (WG_X·TN)), ceil(M / (WG_Y·TM))) workgroups.
// TN is a multiple of 4: accumulators are vec4 columns, which llvmpipe keeps
// in vector registers once the override-bounded loops are unrolled.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_reg(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  var acc: array<vec4f, MAX_T * MAX_T / 4u>;
  var b: array<vec4f, MAX_T / 4u>;
  for (var k = 0u; k < dims.K; k++) {
    for (var j = 0u; j < TN / 4u; j++) {
      let n = col0 + 4u * j;
      b[j] = vec4f(
        load_b(k, n),
        load_b(k, n + 1u),
        load_b(k, n + 2u),
        load_b(k, n + 3u),
      );
    }
    for (var i = 0u; i < TM; i++) {
      let a = load_a(row0 + i, k);
      for (var j = 0u; j < TN / 4u; j++) {
        acc[i * (MAX_T / 4u) + j] += a * b[j];
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let m = row0 + i;
    for (var j = 0u; j < TN / 4u; j++) {
      let v = acc[i * (MAX_T / 4u) + j];
      for (var c = 0u; c < 4u; c++) {
        let n = col0 + 4u * j + c;
        if (m < dims.M && n < dims.N) {
          store_c(m, n, v[c]);
        }
      }
    }
  }
}

// The first `vecs` vec4s of one row of a thread's block: guarded stores (edges of C only).
fn store_block_row(m: u32, col0: u32, vecs: u32, v: array<vec4f, 8>) {
  if (m >= dims.M) {
    return;
  }
  for (var j = 0u; j < vecs; j++) {
    for (var c = 0u; c < 4u; c++) {
      let n = col0 + 4u * j + c;
      if (n < dims.N) {
        store_c(m, n, v[j][c]);
      }
    }
  }
}

// matmul_reg with the block fixed (8×16 or 16×32) and its vec4 accumulators
// as named variables, unrolled: llvmpipe keeps named values in vector
// registers but an override-bounded private array in memory (~3.5 cycles per
// access, measured), which is what makes matmul_reg slower there. Each
// storage load is a loop over SIMD lanes, so throughput follows FMAs per
// loaded element: 128 FMAs from 24 loads per k at 8×16, 512 from 48 at
// 16×32. TM and TN are ignored. 128 named accumulators are too many to write
// by hand, hence the generator.
// BEGIN generated by bench/gen_matmul_unrolled.ts
// 8×16 named accumulators. Dispatch: (ceil(N / (WG_X·16)), ceil(M / (WG_Y·8))) workgroups.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_unrolled8x16(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 8u;
  let col0 = gid.x * 16u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0); var c0_2 = vec4f(0.0); var c0_3 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0); var c1_2 = vec4f(0.0); var c1_3 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0); var c2_2 = vec4f(0.0); var c2_3 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0); var c3_2 = vec4f(0.0); var c3_3 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0); var c4_2 = vec4f(0.0); var c4_3 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0); var c5_2 = vec4f(0.0); var c5_3 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0); var c6_2 = vec4f(0.0); var c6_3 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0); var c7_2 = vec4f(0.0); var c7_3 = vec4f(0.0);
  for (var k = dims.k_begin; k < dims.k_end; k++) {
    let b0 = vec4f(load_b(k, col0 + 0u), load_b(k, col0 + 1u), load_b(k, col0 + 2u), load_b(k, col0 + 3u));
    let b1 = vec4f(load_b(k, col0 + 4u), load_b(k, col0 + 5u), load_b(k, col0 + 6u), load_b(k, col0 + 7u));
    let b2 = vec4f(load_b(k, col0 + 8u), load_b(k, col0 + 9u), load_b(k, col0 + 10u), load_b(k, col0 + 11u));
    let b3 = vec4f(load_b(k, col0 + 12u), load_b(k, col0 + 13u), load_b(k, col0 + 14u), load_b(k, col0 + 15u));
    let a0 = vec4f(load_a(row0 + 0u, k));
    let a1 = vec4f(load_a(row0 + 1u, k));
    let a2 = vec4f(load_a(row0 + 2u, k));
    let a3 = vec4f(load_a(row0 + 3u, k));
    let a4 = vec4f(load_a(row0 + 4u, k));
    let a5 = vec4f(load_a(row0 + 5u, k));
    let a6 = vec4f(load_a(row0 + 6u, k));
    let a7 = vec4f(load_a(row0 + 7u, k));
    c0_0 = fma(a0, b0, c0_0); c0_1 = fma(a0, b1, c0_1); c0_2 = fma(a0, b2, c0_2); c0_3 = fma(a0, b3, c0_3);
    c1_0 = fma(a1, b0, c1_0); c1_1 = fma(a1, b1, c1_1); c1_2 = fma(a1, b2, c1_2); c1_3 = fma(a1, b3, c1_3);
    c2_0 = fma(a2, b0, c2_0); c2_1 = fma(a2, b1, c2_1); c2_2 = fma(a2, b2, c2_2); c2_3 = fma(a2, b3, c2_3);
    c3_0 = fma(a3, b0, c3_0); c3_1 = fma(a3, b1, c3_1); c3_2 = fma(a3, b2, c3_2); c3_3 = fma(a3, b3, c3_3);
    c4_0 = fma(a4, b0, c4_0); c4_1 = fma(a4, b1, c4_1); c4_2 = fma(a4, b2, c4_2); c4_3 = fma(a4, b3, c4_3);
    c5_0 = fma(a5, b0, c5_0); c5_1 = fma(a5, b1, c5_1); c5_2 = fma(a5, b2, c5_2); c5_3 = fma(a5, b3, c5_3);
    c6_0 = fma(a6, b0, c6_0); c6_1 = fma(a6, b1, c6_1); c6_2 = fma(a6, b2, c6_2); c6_3 = fma(a6, b3, c6_3);
    c7_0 = fma(a7, b0, c7_0); c7_1 = fma(a7, b1, c7_1); c7_2 = fma(a7, b2, c7_2); c7_3 = fma(a7, b3, c7_3);
  }
  store_block_row(row0 + 0u, col0, 4u, array<vec4f, 8>(c0_0, c0_1, c0_2, c0_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 1u, col0, 4u, array<vec4f, 8>(c1_0, c1_1, c1_2, c1_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 2u, col0, 4u, array<vec4f, 8>(c2_0, c2_1, c2_2, c2_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 3u, col0, 4u, array<vec4f, 8>(c3_0, c3_1, c3_2, c3_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 4u, col0, 4u, array<vec4f, 8>(c4_0, c4_1, c4_2, c4_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 5u, col0, 4u, array<vec4f, 8>(c5_0, c5_1, c5_2, c5_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 6u, col0, 4u, array<vec4f, 8>(c6_0, c6_1, c6_2, c6_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 7u, col0, 4u, array<vec4f, 8>(c7_0, c7_1, c7_2, c7_3, vec4f(), vec4f(), vec4f(), vec4f()));
}

// 16×32 named accumulators. Dispatch: (ceil(N / (WG_X·32)), ceil(M / (WG_Y·16))) workgroups.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_unrolled16x32(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 16u;
  let col0 = gid.x * 32u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0); var c0_2 = vec4f(0.0); var c0_3 = vec4f(0.0); var c0_4 = vec4f(0.0); var c0_5 = vec4f(0.0); var c0_6 = vec4f(0.0); var c0_7 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0); var c1_2 = vec4f(0.0); var c1_3 = vec4f(0.0); var c1_4 = vec4f(0.0); var c1_5 = vec4f(0.0); var c1_6 = vec4f(0.0); var c1_7 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0); var c2_2 = vec4f(0.0); var c2_3 = vec4f(0.0); var c2_4 = vec4f(0.0); var c2_5 = vec4f(0.0); var c2_6 = vec4f(0.0); var c2_7 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0); var c3_2 = vec4f(0.0); var c3_3 = vec4f(0.0); var c3_4 = vec4f(0.0); var c3_5 = vec4f(0.0); var c3_6 = vec4f(0.0); var c3_7 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0); var c4_2 = vec4f(0.0); var c4_3 = vec4f(0.0); var c4_4 = vec4f(0.0); var c4_5 = vec4f(0.0); var c4_6 = vec4f(0.0); var c4_7 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0); var c5_2 = vec4f(0.0); var c5_3 = vec4f(0.0); var c5_4 = vec4f(0.0); var c5_5 = vec4f(0.0); var c5_6 = vec4f(0.0); var c5_7 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0); var c6_2 = vec4f(0.0); var c6_3 = vec4f(0.0); var c6_4 = vec4f(0.0); var c6_5 = vec4f(0.0); var c6_6 = vec4f(0.0); var c6_7 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0); var c7_2 = vec4f(0.0); var c7_3 = vec4f(0.0); var c7_4 = vec4f(0.0); var c7_5 = vec4f(0.0); var c7_6 = vec4f(0.0); var c7_7 = vec4f(0.0);
  var c8_0 = vec4f(0.0); var c8_1 = vec4f(0.0); var c8_2 = vec4f(0.0); var c8_3 = vec4f(0.0); var c8_4 = vec4f(0.0); var c8_5 = vec4f(0.0); var c8_6 = vec4f(0.0); var c8_7 = vec4f(0.0);
  var c9_0 = vec4f(0.0); var c9_1 = vec4f(0.0); var c9_2 = vec4f(0.0); var c9_3 = vec4f(0.0); var c9_4 = vec4f(0.0); var c9_5 = vec4f(0.0); var c9_6 = vec4f(0.0); var c9_7 = vec4f(0.0);
  var c10_0 = vec4f(0.0); var c10_1 = vec4f(0.0); var c10_2 = vec4f(0.0); var c10_3 = vec4f(0.0); var c10_4 = vec4f(0.0); var c10_5 = vec4f(0.0); var c10_6 = vec4f(0.0); var c10_7 = vec4f(0.0);
  var c11_0 = vec4f(0.0); var c11_1 = vec4f(0.0); var c11_2 = vec4f(0.0); var c11_3 = vec4f(0.0); var c11_4 = vec4f(0.0); var c11_5 = vec4f(0.0); var c11_6 = vec4f(0.0); var c11_7 = vec4f(0.0);
  var c12_0 = vec4f(0.0); var c12_1 = vec4f(0.0); var c12_2 = vec4f(0.0); var c12_3 = vec4f(0.0); var c12_4 = vec4f(0.0); var c12_5 = vec4f(0.0); var c12_6 = vec4f(0.0); var c12_7 = vec4f(0.0);
  var c13_0 = vec4f(0.0); var c13_1 = vec4f(0.0); var c13_2 = vec4f(0.0); var c13_3 = vec4f(0.0); var c13_4 = vec4f(0.0); var c13_5 = vec4f(0.0); var c13_6 = vec4f(0.0); var c13_7 = vec4f(0.0);
  var c14_0 = vec4f(0.0); var c14_1 = vec4f(0.0); var c14_2 = vec4f(0.0); var c14_3 = vec4f(0.0); var c14_4 = vec4f(0.0); var c14_5 = vec4f(0.0); var c14_6 = vec4f(0.0); var c14_7 = vec4f(0.0);
  var c15_0 = vec4f(0.0); var c15_1 = vec4f(0.0); var c15_2 = vec4f(0.0); var c15_3 = vec4f(0.0); var c15_4 = vec4f(0.0); var c15_5 = vec4f(0.0); var c15_6 = vec4f(0.0); var c15_7 = vec4f(0.0);
  for (var k = dims.k_begin; k < dims.k_end; k++) {
    let b0 = vec4f(load_b(k, col0 + 0u), load_b(k, col0 + 1u), load_b(k, col0 + 2u), load_b(k, col0 + 3u));
    let b1 = vec4f(load_b(k, col0 + 4u), load_b(k, col0 + 5u), load_b(k, col0 + 6u), load_b(k, col0 + 7u));
    let b2 = vec4f(load_b(k, col0 + 8u), load_b(k, col0 + 9u), load_b(k, col0 + 10u), load_b(k, col0 + 11u));
    let b3 = vec4f(load_b(k, col0 + 12u), load_b(k, col0 + 13u), load_b(k, col0 + 14u), load_b(k, col0 + 15u));
    let b4 = vec4f(load_b(k, col0 + 16u), load_b(k, col0 + 17u), load_b(k, col0 + 18u), load_b(k, col0 + 19u));
    let b5 = vec4f(load_b(k, col0 + 20u), load_b(k, col0 + 21u), load_b(k, col0 + 22u), load_b(k, col0 + 23u));
    let b6 = vec4f(load_b(k, col0 + 24u), load_b(k, col0 + 25u), load_b(k, col0 + 26u), load_b(k, col0 + 27u));
    let b7 = vec4f(load_b(k, col0 + 28u), load_b(k, col0 + 29u), load_b(k, col0 + 30u), load_b(k, col0 + 31u));
    let a0 = vec4f(load_a(row0 + 0u, k));
    let a1 = vec4f(load_a(row0 + 1u, k));
    let a2 = vec4f(load_a(row0 + 2u, k));
    let a3 = vec4f(load_a(row0 + 3u, k));
    let a4 = vec4f(load_a(row0 + 4u, k));
    let a5 = vec4f(load_a(row0 + 5u, k));
    let a6 = vec4f(load_a(row0 + 6u, k));
    let a7 = vec4f(load_a(row0 + 7u, k));
    let a8 = vec4f(load_a(row0 + 8u, k));
    let a9 = vec4f(load_a(row0 + 9u, k));
    let a10 = vec4f(load_a(row0 + 10u, k));
    let a11 = vec4f(load_a(row0 + 11u, k));
    let a12 = vec4f(load_a(row0 + 12u, k));
    let a13 = vec4f(load_a(row0 + 13u, k));
    let a14 = vec4f(load_a(row0 + 14u, k));
    let a15 = vec4f(load_a(row0 + 15u, k));
    c0_0 = fma(a0, b0, c0_0); c0_1 = fma(a0, b1, c0_1); c0_2 = fma(a0, b2, c0_2); c0_3 = fma(a0, b3, c0_3); c0_4 = fma(a0, b4, c0_4); c0_5 = fma(a0, b5, c0_5); c0_6 = fma(a0, b6, c0_6); c0_7 = fma(a0, b7, c0_7);
    c1_0 = fma(a1, b0, c1_0); c1_1 = fma(a1, b1, c1_1); c1_2 = fma(a1, b2, c1_2); c1_3 = fma(a1, b3, c1_3); c1_4 = fma(a1, b4, c1_4); c1_5 = fma(a1, b5, c1_5); c1_6 = fma(a1, b6, c1_6); c1_7 = fma(a1, b7, c1_7);
    c2_0 = fma(a2, b0, c2_0); c2_1 = fma(a2, b1, c2_1); c2_2 = fma(a2, b2, c2_2); c2_3 = fma(a2, b3, c2_3); c2_4 = fma(a2, b4, c2_4); c2_5 = fma(a2, b5, c2_5); c2_6 = fma(a2, b6, c2_6); c2_7 = fma(a2, b7, c2_7);
    c3_0 = fma(a3, b0, c3_0); c3_1 = fma(a3, b1, c3_1); c3_2 = fma(a3, b2, c3_2); c3_3 = fma(a3, b3, c3_3); c3_4 = fma(a3, b4, c3_4); c3_5 = fma(a3, b5, c3_5); c3_6 = fma(a3, b6, c3_6); c3_7 = fma(a3, b7, c3_7);
    c4_0 = fma(a4, b0, c4_0); c4_1 = fma(a4, b1, c4_1); c4_2 = fma(a4, b2, c4_2); c4_3 = fma(a4, b3, c4_3); c4_4 = fma(a4, b4, c4_4); c4_5 = fma(a4, b5, c4_5); c4_6 = fma(a4, b6, c4_6); c4_7 = fma(a4, b7, c4_7);
    c5_0 = fma(a5, b0, c5_0); c5_1 = fma(a5, b1, c5_1); c5_2 = fma(a5, b2, c5_2); c5_3 = fma(a5, b3, c5_3); c5_4 = fma(a5, b4, c5_4); c5_5 = fma(a5, b5, c5_5); c5_6 = fma(a5, b6, c5_6); c5_7 = fma(a5, b7, c5_7);
    c6_0 = fma(a6, b0, c6_0); c6_1 = fma(a6, b1, c6_1); c6_2 = fma(a6, b2, c6_2); c6_3 = fma(a6, b3, c6_3); c6_4 = fma(a6, b4, c6_4); c6_5 = fma(a6, b5, c6_5); c6_6 = fma(a6, b6, c6_6); c6_7 = fma(a6, b7, c6_7);
    c7_0 = fma(a7, b0, c7_0); c7_1 = fma(a7, b1, c7_1); c7_2 = fma(a7, b2, c7_2); c7_3 = fma(a7, b3, c7_3); c7_4 = fma(a7, b4, c7_4); c7_5 = fma(a7, b5, c7_5); c7_6 = fma(a7, b6, c7_6); c7_7 = fma(a7, b7, c7_7);
    c8_0 = fma(a8, b0, c8_0); c8_1 = fma(a8, b1, c8_1); c8_2 = fma(a8, b2, c8_2); c8_3 = fma(a8, b3, c8_3); c8_4 = fma(a8, b4, c8_4); c8_5 = fma(a8, b5, c8_5); c8_6 = fma(a8, b6, c8_6); c8_7 = fma(a8, b7, c8_7);
    c9_0 = fma(a9, b0, c9_0); c9_1 = fma(a9, b1, c9_1); c9_2 = fma(a9, b2, c9_2); c9_3 = fma(a9, b3, c9_3); c9_4 = fma(a9, b4, c9_4); c9_5 = fma(a9, b5, c9_5); c9_6 = fma(a9, b6, c9_6); c9_7 = fma(a9, b7, c9_7);
    c10_0 = fma(a10, b0, c10_0); c10_1 = fma(a10, b1, c10_1); c10_2 = fma(a10, b2, c10_2); c10_3 = fma(a10, b3, c10_3); c10_4 = fma(a10, b4, c10_4); c10_5 = fma(a10, b5, c10_5); c10_6 = fma(a10, b6, c10_6); c10_7 = fma(a10, b7, c10_7);
    c11_0 = fma(a11, b0, c11_0); c11_1 = fma(a11, b1, c11_1); c11_2 = fma(a11, b2, c11_2); c11_3 = fma(a11, b3, c11_3); c11_4 = fma(a11, b4, c11_4); c11_5 = fma(a11, b5, c11_5); c11_6 = fma(a11, b6, c11_6); c11_7 = fma(a11, b7, c11_7);
    c12_0 = fma(a12, b0, c12_0); c12_1 = fma(a12, b1, c12_1); c12_2 = fma(a12, b2, c12_2); c12_3 = fma(a12, b3, c12_3); c12_4 = fma(a12, b4, c12_4); c12_5 = fma(a12, b5, c12_5); c12_6 = fma(a12, b6, c12_6); c12_7 = fma(a12, b7, c12_7);
    c13_0 = fma(a13, b0, c13_0); c13_1 = fma(a13, b1, c13_1); c13_2 = fma(a13, b2, c13_2); c13_3 = fma(a13, b3, c13_3); c13_4 = fma(a13, b4, c13_4); c13_5 = fma(a13, b5, c13_5); c13_6 = fma(a13, b6, c13_6); c13_7 = fma(a13, b7, c13_7);
    c14_0 = fma(a14, b0, c14_0); c14_1 = fma(a14, b1, c14_1); c14_2 = fma(a14, b2, c14_2); c14_3 = fma(a14, b3, c14_3); c14_4 = fma(a14, b4, c14_4); c14_5 = fma(a14, b5, c14_5); c14_6 = fma(a14, b6, c14_6); c14_7 = fma(a14, b7, c14_7);
    c15_0 = fma(a15, b0, c15_0); c15_1 = fma(a15, b1, c15_1); c15_2 = fma(a15, b2, c15_2); c15_3 = fma(a15, b3, c15_3); c15_4 = fma(a15, b4, c15_4); c15_5 = fma(a15, b5, c15_5); c15_6 = fma(a15, b6, c15_6); c15_7 = fma(a15, b7, c15_7);
  }
  store_block_row(row0 + 0u, col0, 8u, array<vec4f, 8>(c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7));
  store_block_row(row0 + 1u, col0, 8u, array<vec4f, 8>(c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7));
  store_block_row(row0 + 2u, col0, 8u, array<vec4f, 8>(c2_0, c2_1, c2_2, c2_3, c2_4, c2_5, c2_6, c2_7));
  store_block_row(row0 + 3u, col0, 8u, array<vec4f, 8>(c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c3_6, c3_7));
  store_block_row(row0 + 4u, col0, 8u, array<vec4f, 8>(c4_0, c4_1, c4_2, c4_3, c4_4, c4_5, c4_6, c4_7));
  store_block_row(row0 + 5u, col0, 8u, array<vec4f, 8>(c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c5_6, c5_7));
  store_block_row(row0 + 6u, col0, 8u, array<vec4f, 8>(c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c6_6, c6_7));
  store_block_row(row0 + 7u, col0, 8u, array<vec4f, 8>(c7_0, c7_1, c7_2, c7_3, c7_4, c7_5, c7_6, c7_7));
  store_block_row(row0 + 8u, col0, 8u, array<vec4f, 8>(c8_0, c8_1, c8_2, c8_3, c8_4, c8_5, c8_6, c8_7));
  store_block_row(row0 + 9u, col0, 8u, array<vec4f, 8>(c9_0, c9_1, c9_2, c9_3, c9_4, c9_5, c9_6, c9_7));
  store_block_row(row0 + 10u, col0, 8u, array<vec4f, 8>(c10_0, c10_1, c10_2, c10_3, c10_4, c10_5, c10_6, c10_7));
  store_block_row(row0 + 11u, col0, 8u, array<vec4f, 8>(c11_0, c11_1, c11_2, c11_3, c11_4, c11_5, c11_6, c11_7));
  store_block_row(row0 + 12u, col0, 8u, array<vec4f, 8>(c12_0, c12_1, c12_2, c12_3, c12_4, c12_5, c12_6, c12_7));
  store_block_row(row0 + 13u, col0, 8u, array<vec4f, 8>(c13_0, c13_1, c13_2, c13_3, c13_4, c13_5, c13_6, c13_7));
  store_block_row(row0 + 14u, col0, 8u, array<vec4f, 8>(c14_0, c14_1, c14_2, c14_3, c14_4, c14_5, c14_6, c14_7));
  store_block_row(row0 + 15u, col0, 8u, array<vec4f, 8>(c15_0, c15_1, c15_2, c15_3, c15_4, c15_5, c15_6, c15_7));
}

// 8×16 named accumulators, vec4 loads, form "nn". Dispatch: as matmul_unrolled8x16.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vec8x16_nn(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 8u;
  let col0 = gid.x * 16u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0); var c0_2 = vec4f(0.0); var c0_3 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0); var c1_2 = vec4f(0.0); var c1_3 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0); var c2_2 = vec4f(0.0); var c2_3 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0); var c3_2 = vec4f(0.0); var c3_3 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0); var c4_2 = vec4f(0.0); var c4_3 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0); var c5_2 = vec4f(0.0); var c5_3 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0); var c6_2 = vec4f(0.0); var c6_3 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0); var c7_2 = vec4f(0.0); var c7_3 = vec4f(0.0);
  for (var k = dims.k_begin; k < dims.k_end; k++) {
    let bk = (k * dims.N + col0) / 4u;
    let b0 = B4[bk + 0u];
    let b1 = B4[bk + 1u];
    let b2 = B4[bk + 2u];
    let b3 = B4[bk + 3u];
    let a0 = vec4f(A[(row0 + 0u) * dims.K + k]);
    let a1 = vec4f(A[(row0 + 1u) * dims.K + k]);
    let a2 = vec4f(A[(row0 + 2u) * dims.K + k]);
    let a3 = vec4f(A[(row0 + 3u) * dims.K + k]);
    let a4 = vec4f(A[(row0 + 4u) * dims.K + k]);
    let a5 = vec4f(A[(row0 + 5u) * dims.K + k]);
    let a6 = vec4f(A[(row0 + 6u) * dims.K + k]);
    let a7 = vec4f(A[(row0 + 7u) * dims.K + k]);
    c0_0 = fma(a0, b0, c0_0); c0_1 = fma(a0, b1, c0_1); c0_2 = fma(a0, b2, c0_2); c0_3 = fma(a0, b3, c0_3);
    c1_0 = fma(a1, b0, c1_0); c1_1 = fma(a1, b1, c1_1); c1_2 = fma(a1, b2, c1_2); c1_3 = fma(a1, b3, c1_3);
    c2_0 = fma(a2, b0, c2_0); c2_1 = fma(a2, b1, c2_1); c2_2 = fma(a2, b2, c2_2); c2_3 = fma(a2, b3, c2_3);
    c3_0 = fma(a3, b0, c3_0); c3_1 = fma(a3, b1, c3_1); c3_2 = fma(a3, b2, c3_2); c3_3 = fma(a3, b3, c3_3);
    c4_0 = fma(a4, b0, c4_0); c4_1 = fma(a4, b1, c4_1); c4_2 = fma(a4, b2, c4_2); c4_3 = fma(a4, b3, c4_3);
    c5_0 = fma(a5, b0, c5_0); c5_1 = fma(a5, b1, c5_1); c5_2 = fma(a5, b2, c5_2); c5_3 = fma(a5, b3, c5_3);
    c6_0 = fma(a6, b0, c6_0); c6_1 = fma(a6, b1, c6_1); c6_2 = fma(a6, b2, c6_2); c6_3 = fma(a6, b3, c6_3);
    c7_0 = fma(a7, b0, c7_0); c7_1 = fma(a7, b1, c7_1); c7_2 = fma(a7, b2, c7_2); c7_3 = fma(a7, b3, c7_3);
  }
  store_block_row(row0 + 0u, col0, 4u, array<vec4f, 8>(c0_0, c0_1, c0_2, c0_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 1u, col0, 4u, array<vec4f, 8>(c1_0, c1_1, c1_2, c1_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 2u, col0, 4u, array<vec4f, 8>(c2_0, c2_1, c2_2, c2_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 3u, col0, 4u, array<vec4f, 8>(c3_0, c3_1, c3_2, c3_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 4u, col0, 4u, array<vec4f, 8>(c4_0, c4_1, c4_2, c4_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 5u, col0, 4u, array<vec4f, 8>(c5_0, c5_1, c5_2, c5_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 6u, col0, 4u, array<vec4f, 8>(c6_0, c6_1, c6_2, c6_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 7u, col0, 4u, array<vec4f, 8>(c7_0, c7_1, c7_2, c7_3, vec4f(), vec4f(), vec4f(), vec4f()));
}

// 8×16 named accumulators, vec4 loads, form "tn". Dispatch: as matmul_unrolled8x16.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vec8x16_tn(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 8u;
  let col0 = gid.x * 16u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0); var c0_2 = vec4f(0.0); var c0_3 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0); var c1_2 = vec4f(0.0); var c1_3 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0); var c2_2 = vec4f(0.0); var c2_3 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0); var c3_2 = vec4f(0.0); var c3_3 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0); var c4_2 = vec4f(0.0); var c4_3 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0); var c5_2 = vec4f(0.0); var c5_3 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0); var c6_2 = vec4f(0.0); var c6_3 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0); var c7_2 = vec4f(0.0); var c7_3 = vec4f(0.0);
  for (var k = dims.k_begin; k < dims.k_end; k++) {
    let bk = (k * dims.N + col0) / 4u;
    let b0 = B4[bk + 0u];
    let b1 = B4[bk + 1u];
    let b2 = B4[bk + 2u];
    let b3 = B4[bk + 3u];
    let ak = (k * dims.M + row0) / 4u;
    let av0 = A4[ak + 0u];
    let av1 = A4[ak + 1u];
    let a0 = vec4f(av0[0]);
    let a1 = vec4f(av0[1]);
    let a2 = vec4f(av0[2]);
    let a3 = vec4f(av0[3]);
    let a4 = vec4f(av1[0]);
    let a5 = vec4f(av1[1]);
    let a6 = vec4f(av1[2]);
    let a7 = vec4f(av1[3]);
    c0_0 = fma(a0, b0, c0_0); c0_1 = fma(a0, b1, c0_1); c0_2 = fma(a0, b2, c0_2); c0_3 = fma(a0, b3, c0_3);
    c1_0 = fma(a1, b0, c1_0); c1_1 = fma(a1, b1, c1_1); c1_2 = fma(a1, b2, c1_2); c1_3 = fma(a1, b3, c1_3);
    c2_0 = fma(a2, b0, c2_0); c2_1 = fma(a2, b1, c2_1); c2_2 = fma(a2, b2, c2_2); c2_3 = fma(a2, b3, c2_3);
    c3_0 = fma(a3, b0, c3_0); c3_1 = fma(a3, b1, c3_1); c3_2 = fma(a3, b2, c3_2); c3_3 = fma(a3, b3, c3_3);
    c4_0 = fma(a4, b0, c4_0); c4_1 = fma(a4, b1, c4_1); c4_2 = fma(a4, b2, c4_2); c4_3 = fma(a4, b3, c4_3);
    c5_0 = fma(a5, b0, c5_0); c5_1 = fma(a5, b1, c5_1); c5_2 = fma(a5, b2, c5_2); c5_3 = fma(a5, b3, c5_3);
    c6_0 = fma(a6, b0, c6_0); c6_1 = fma(a6, b1, c6_1); c6_2 = fma(a6, b2, c6_2); c6_3 = fma(a6, b3, c6_3);
    c7_0 = fma(a7, b0, c7_0); c7_1 = fma(a7, b1, c7_1); c7_2 = fma(a7, b2, c7_2); c7_3 = fma(a7, b3, c7_3);
  }
  store_block_row(row0 + 0u, col0, 4u, array<vec4f, 8>(c0_0, c0_1, c0_2, c0_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 1u, col0, 4u, array<vec4f, 8>(c1_0, c1_1, c1_2, c1_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 2u, col0, 4u, array<vec4f, 8>(c2_0, c2_1, c2_2, c2_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 3u, col0, 4u, array<vec4f, 8>(c3_0, c3_1, c3_2, c3_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 4u, col0, 4u, array<vec4f, 8>(c4_0, c4_1, c4_2, c4_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 5u, col0, 4u, array<vec4f, 8>(c5_0, c5_1, c5_2, c5_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 6u, col0, 4u, array<vec4f, 8>(c6_0, c6_1, c6_2, c6_3, vec4f(), vec4f(), vec4f(), vec4f()));
  store_block_row(row0 + 7u, col0, 4u, array<vec4f, 8>(c7_0, c7_1, c7_2, c7_3, vec4f(), vec4f(), vec4f(), vec4f()));
}

// 16×32 named accumulators, vec4 loads, form "nn". Dispatch: as matmul_unrolled16x32.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vec16x32_nn(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 16u;
  let col0 = gid.x * 32u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0); var c0_2 = vec4f(0.0); var c0_3 = vec4f(0.0); var c0_4 = vec4f(0.0); var c0_5 = vec4f(0.0); var c0_6 = vec4f(0.0); var c0_7 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0); var c1_2 = vec4f(0.0); var c1_3 = vec4f(0.0); var c1_4 = vec4f(0.0); var c1_5 = vec4f(0.0); var c1_6 = vec4f(0.0); var c1_7 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0); var c2_2 = vec4f(0.0); var c2_3 = vec4f(0.0); var c2_4 = vec4f(0.0); var c2_5 = vec4f(0.0); var c2_6 = vec4f(0.0); var c2_7 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0); var c3_2 = vec4f(0.0); var c3_3 = vec4f(0.0); var c3_4 = vec4f(0.0); var c3_5 = vec4f(0.0); var c3_6 = vec4f(0.0); var c3_7 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0); var c4_2 = vec4f(0.0); var c4_3 = vec4f(0.0); var c4_4 = vec4f(0.0); var c4_5 = vec4f(0.0); var c4_6 = vec4f(0.0); var c4_7 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0); var c5_2 = vec4f(0.0); var c5_3 = vec4f(0.0); var c5_4 = vec4f(0.0); var c5_5 = vec4f(0.0); var c5_6 = vec4f(0.0); var c5_7 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0); var c6_2 = vec4f(0.0); var c6_3 = vec4f(0.0); var c6_4 = vec4f(0.0); var c6_5 = vec4f(0.0); var c6_6 = vec4f(0.0); var c6_7 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0); var c7_2 = vec4f(0.0); var c7_3 = vec4f(0.0); var c7_4 = vec4f(0.0); var c7_5 = vec4f(0.0); var c7_6 = vec4f(0.0); var c7_7 = vec4f(0.0);
  var c8_0 = vec4f(0.0); var c8_1 = vec4f(0.0); var c8_2 = vec4f(0.0); var c8_3 = vec4f(0.0); var c8_4 = vec4f(0.0); var c8_5 = vec4f(0.0); var c8_6 = vec4f(0.0); var c8_7 = vec4f(0.0);
  var c9_0 = vec4f(0.0); var c9_1 = vec4f(0.0); var c9_2 = vec4f(0.0); var c9_3 = vec4f(0.0); var c9_4 = vec4f(0.0); var c9_5 = vec4f(0.0); var c9_6 = vec4f(0.0); var c9_7 = vec4f(0.0);
  var c10_0 = vec4f(0.0); var c10_1 = vec4f(0.0); var c10_2 = vec4f(0.0); var c10_3 = vec4f(0.0); var c10_4 = vec4f(0.0); var c10_5 = vec4f(0.0); var c10_6 = vec4f(0.0); var c10_7 = vec4f(0.0);
  var c11_0 = vec4f(0.0); var c11_1 = vec4f(0.0); var c11_2 = vec4f(0.0); var c11_3 = vec4f(0.0); var c11_4 = vec4f(0.0); var c11_5 = vec4f(0.0); var c11_6 = vec4f(0.0); var c11_7 = vec4f(0.0);
  var c12_0 = vec4f(0.0); var c12_1 = vec4f(0.0); var c12_2 = vec4f(0.0); var c12_3 = vec4f(0.0); var c12_4 = vec4f(0.0); var c12_5 = vec4f(0.0); var c12_6 = vec4f(0.0); var c12_7 = vec4f(0.0);
  var c13_0 = vec4f(0.0); var c13_1 = vec4f(0.0); var c13_2 = vec4f(0.0); var c13_3 = vec4f(0.0); var c13_4 = vec4f(0.0); var c13_5 = vec4f(0.0); var c13_6 = vec4f(0.0); var c13_7 = vec4f(0.0);
  var c14_0 = vec4f(0.0); var c14_1 = vec4f(0.0); var c14_2 = vec4f(0.0); var c14_3 = vec4f(0.0); var c14_4 = vec4f(0.0); var c14_5 = vec4f(0.0); var c14_6 = vec4f(0.0); var c14_7 = vec4f(0.0);
  var c15_0 = vec4f(0.0); var c15_1 = vec4f(0.0); var c15_2 = vec4f(0.0); var c15_3 = vec4f(0.0); var c15_4 = vec4f(0.0); var c15_5 = vec4f(0.0); var c15_6 = vec4f(0.0); var c15_7 = vec4f(0.0);
  for (var k = dims.k_begin; k < dims.k_end; k++) {
    let bk = (k * dims.N + col0) / 4u;
    let b0 = B4[bk + 0u];
    let b1 = B4[bk + 1u];
    let b2 = B4[bk + 2u];
    let b3 = B4[bk + 3u];
    let b4 = B4[bk + 4u];
    let b5 = B4[bk + 5u];
    let b6 = B4[bk + 6u];
    let b7 = B4[bk + 7u];
    let a0 = vec4f(A[(row0 + 0u) * dims.K + k]);
    let a1 = vec4f(A[(row0 + 1u) * dims.K + k]);
    let a2 = vec4f(A[(row0 + 2u) * dims.K + k]);
    let a3 = vec4f(A[(row0 + 3u) * dims.K + k]);
    let a4 = vec4f(A[(row0 + 4u) * dims.K + k]);
    let a5 = vec4f(A[(row0 + 5u) * dims.K + k]);
    let a6 = vec4f(A[(row0 + 6u) * dims.K + k]);
    let a7 = vec4f(A[(row0 + 7u) * dims.K + k]);
    let a8 = vec4f(A[(row0 + 8u) * dims.K + k]);
    let a9 = vec4f(A[(row0 + 9u) * dims.K + k]);
    let a10 = vec4f(A[(row0 + 10u) * dims.K + k]);
    let a11 = vec4f(A[(row0 + 11u) * dims.K + k]);
    let a12 = vec4f(A[(row0 + 12u) * dims.K + k]);
    let a13 = vec4f(A[(row0 + 13u) * dims.K + k]);
    let a14 = vec4f(A[(row0 + 14u) * dims.K + k]);
    let a15 = vec4f(A[(row0 + 15u) * dims.K + k]);
    c0_0 = fma(a0, b0, c0_0); c0_1 = fma(a0, b1, c0_1); c0_2 = fma(a0, b2, c0_2); c0_3 = fma(a0, b3, c0_3); c0_4 = fma(a0, b4, c0_4); c0_5 = fma(a0, b5, c0_5); c0_6 = fma(a0, b6, c0_6); c0_7 = fma(a0, b7, c0_7);
    c1_0 = fma(a1, b0, c1_0); c1_1 = fma(a1, b1, c1_1); c1_2 = fma(a1, b2, c1_2); c1_3 = fma(a1, b3, c1_3); c1_4 = fma(a1, b4, c1_4); c1_5 = fma(a1, b5, c1_5); c1_6 = fma(a1, b6, c1_6); c1_7 = fma(a1, b7, c1_7);
    c2_0 = fma(a2, b0, c2_0); c2_1 = fma(a2, b1, c2_1); c2_2 = fma(a2, b2, c2_2); c2_3 = fma(a2, b3, c2_3); c2_4 = fma(a2, b4, c2_4); c2_5 = fma(a2, b5, c2_5); c2_6 = fma(a2, b6, c2_6); c2_7 = fma(a2, b7, c2_7);
    c3_0 = fma(a3, b0, c3_0); c3_1 = fma(a3, b1, c3_1); c3_2 = fma(a3, b2, c3_2); c3_3 = fma(a3, b3, c3_3); c3_4 = fma(a3, b4, c3_4); c3_5 = fma(a3, b5, c3_5); c3_6 = fma(a3, b6, c3_6); c3_7 = fma(a3, b7, c3_7);
    c4_0 = fma(a4, b0, c4_0); c4_1 = fma(a4, b1, c4_1); c4_2 = fma(a4, b2, c4_2); c4_3 = fma(a4, b3, c4_3); c4_4 = fma(a4, b4, c4_4); c4_5 = fma(a4, b5, c4_5); c4_6 = fma(a4, b6, c4_6); c4_7 = fma(a4, b7, c4_7);
    c5_0 = fma(a5, b0, c5_0); c5_1 = fma(a5, b1, c5_1); c5_2 = fma(a5, b2, c5_2); c5_3 = fma(a5, b3, c5_3); c5_4 = fma(a5, b4, c5_4); c5_5 = fma(a5, b5, c5_5); c5_6 = fma(a5, b6, c5_6); c5_7 = fma(a5, b7, c5_7);
    c6_0 = fma(a6, b0, c6_0); c6_1 = fma(a6, b1, c6_1); c6_2 = fma(a6, b2, c6_2); c6_3 = fma(a6, b3, c6_3); c6_4 = fma(a6, b4, c6_4); c6_5 = fma(a6, b5, c6_5); c6_6 = fma(a6, b6, c6_6); c6_7 = fma(a6, b7, c6_7);
    c7_0 = fma(a7, b0, c7_0); c7_1 = fma(a7, b1, c7_1); c7_2 = fma(a7, b2, c7_2); c7_3 = fma(a7, b3, c7_3); c7_4 = fma(a7, b4, c7_4); c7_5 = fma(a7, b5, c7_5); c7_6 = fma(a7, b6, c7_6); c7_7 = fma(a7, b7, c7_7);
    c8_0 = fma(a8, b0, c8_0); c8_1 = fma(a8, b1, c8_1); c8_2 = fma(a8, b2, c8_2); c8_3 = fma(a8, b3, c8_3); c8_4 = fma(a8, b4, c8_4); c8_5 = fma(a8, b5, c8_5); c8_6 = fma(a8, b6, c8_6); c8_7 = fma(a8, b7, c8_7);
    c9_0 = fma(a9, b0, c9_0); c9_1 = fma(a9, b1, c9_1); c9_2 = fma(a9, b2, c9_2); c9_3 = fma(a9, b3, c9_3); c9_4 = fma(a9, b4, c9_4); c9_5 = fma(a9, b5, c9_5); c9_6 = fma(a9, b6, c9_6); c9_7 = fma(a9, b7, c9_7);
    c10_0 = fma(a10, b0, c10_0); c10_1 = fma(a10, b1, c10_1); c10_2 = fma(a10, b2, c10_2); c10_3 = fma(a10, b3, c10_3); c10_4 = fma(a10, b4, c10_4); c10_5 = fma(a10, b5, c10_5); c10_6 = fma(a10, b6, c10_6); c10_7 = fma(a10, b7, c10_7);
    c11_0 = fma(a11, b0, c11_0); c11_1 = fma(a11, b1, c11_1); c11_2 = fma(a11, b2, c11_2); c11_3 = fma(a11, b3, c11_3); c11_4 = fma(a11, b4, c11_4); c11_5 = fma(a11, b5, c11_5); c11_6 = fma(a11, b6, c11_6); c11_7 = fma(a11, b7, c11_7);
    c12_0 = fma(a12, b0, c12_0); c12_1 = fma(a12, b1, c12_1); c12_2 = fma(a12, b2, c12_2); c12_3 = fma(a12, b3, c12_3); c12_4 = fma(a12, b4, c12_4); c12_5 = fma(a12, b5, c12_5); c12_6 = fma(a12, b6, c12_6); c12_7 = fma(a12, b7, c12_7);
    c13_0 = fma(a13, b0, c13_0); c13_1 = fma(a13, b1, c13_1); c13_2 = fma(a13, b2, c13_2); c13_3 = fma(a13, b3, c13_3); c13_4 = fma(a13, b4, c13_4); c13_5 = fma(a13, b5, c13_5); c13_6 = fma(a13, b6, c13_6); c13_7 = fma(a13, b7, c13_7);
    c14_0 = fma(a14, b0, c14_0); c14_1 = fma(a14, b1, c14_1); c14_2 = fma(a14, b2, c14_2); c14_3 = fma(a14, b3, c14_3); c14_4 = fma(a14, b4, c14_4); c14_5 = fma(a14, b5, c14_5); c14_6 = fma(a14, b6, c14_6); c14_7 = fma(a14, b7, c14_7);
    c15_0 = fma(a15, b0, c15_0); c15_1 = fma(a15, b1, c15_1); c15_2 = fma(a15, b2, c15_2); c15_3 = fma(a15, b3, c15_3); c15_4 = fma(a15, b4, c15_4); c15_5 = fma(a15, b5, c15_5); c15_6 = fma(a15, b6, c15_6); c15_7 = fma(a15, b7, c15_7);
  }
  store_block_row(row0 + 0u, col0, 8u, array<vec4f, 8>(c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7));
  store_block_row(row0 + 1u, col0, 8u, array<vec4f, 8>(c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7));
  store_block_row(row0 + 2u, col0, 8u, array<vec4f, 8>(c2_0, c2_1, c2_2, c2_3, c2_4, c2_5, c2_6, c2_7));
  store_block_row(row0 + 3u, col0, 8u, array<vec4f, 8>(c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c3_6, c3_7));
  store_block_row(row0 + 4u, col0, 8u, array<vec4f, 8>(c4_0, c4_1, c4_2, c4_3, c4_4, c4_5, c4_6, c4_7));
  store_block_row(row0 + 5u, col0, 8u, array<vec4f, 8>(c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c5_6, c5_7));
  store_block_row(row0 + 6u, col0, 8u, array<vec4f, 8>(c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c6_6, c6_7));
  store_block_row(row0 + 7u, col0, 8u, array<vec4f, 8>(c7_0, c7_1, c7_2, c7_3, c7_4, c7_5, c7_6, c7_7));
  store_block_row(row0 + 8u, col0, 8u, array<vec4f, 8>(c8_0, c8_1, c8_2, c8_3, c8_4, c8_5, c8_6, c8_7));
  store_block_row(row0 + 9u, col0, 8u, array<vec4f, 8>(c9_0, c9_1, c9_2, c9_3, c9_4, c9_5, c9_6, c9_7));
  store_block_row(row0 + 10u, col0, 8u, array<vec4f, 8>(c10_0, c10_1, c10_2, c10_3, c10_4, c10_5, c10_6, c10_7));
  store_block_row(row0 + 11u, col0, 8u, array<vec4f, 8>(c11_0, c11_1, c11_2, c11_3, c11_4, c11_5, c11_6, c11_7));
  store_block_row(row0 + 12u, col0, 8u, array<vec4f, 8>(c12_0, c12_1, c12_2, c12_3, c12_4, c12_5, c12_6, c12_7));
  store_block_row(row0 + 13u, col0, 8u, array<vec4f, 8>(c13_0, c13_1, c13_2, c13_3, c13_4, c13_5, c13_6, c13_7));
  store_block_row(row0 + 14u, col0, 8u, array<vec4f, 8>(c14_0, c14_1, c14_2, c14_3, c14_4, c14_5, c14_6, c14_7));
  store_block_row(row0 + 15u, col0, 8u, array<vec4f, 8>(c15_0, c15_1, c15_2, c15_3, c15_4, c15_5, c15_6, c15_7));
}

// 16×32 named accumulators, vec4 loads, form "tn". Dispatch: as matmul_unrolled16x32.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vec16x32_tn(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 16u;
  let col0 = gid.x * 32u;
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0); var c0_2 = vec4f(0.0); var c0_3 = vec4f(0.0); var c0_4 = vec4f(0.0); var c0_5 = vec4f(0.0); var c0_6 = vec4f(0.0); var c0_7 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0); var c1_2 = vec4f(0.0); var c1_3 = vec4f(0.0); var c1_4 = vec4f(0.0); var c1_5 = vec4f(0.0); var c1_6 = vec4f(0.0); var c1_7 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0); var c2_2 = vec4f(0.0); var c2_3 = vec4f(0.0); var c2_4 = vec4f(0.0); var c2_5 = vec4f(0.0); var c2_6 = vec4f(0.0); var c2_7 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0); var c3_2 = vec4f(0.0); var c3_3 = vec4f(0.0); var c3_4 = vec4f(0.0); var c3_5 = vec4f(0.0); var c3_6 = vec4f(0.0); var c3_7 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0); var c4_2 = vec4f(0.0); var c4_3 = vec4f(0.0); var c4_4 = vec4f(0.0); var c4_5 = vec4f(0.0); var c4_6 = vec4f(0.0); var c4_7 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0); var c5_2 = vec4f(0.0); var c5_3 = vec4f(0.0); var c5_4 = vec4f(0.0); var c5_5 = vec4f(0.0); var c5_6 = vec4f(0.0); var c5_7 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0); var c6_2 = vec4f(0.0); var c6_3 = vec4f(0.0); var c6_4 = vec4f(0.0); var c6_5 = vec4f(0.0); var c6_6 = vec4f(0.0); var c6_7 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0); var c7_2 = vec4f(0.0); var c7_3 = vec4f(0.0); var c7_4 = vec4f(0.0); var c7_5 = vec4f(0.0); var c7_6 = vec4f(0.0); var c7_7 = vec4f(0.0);
  var c8_0 = vec4f(0.0); var c8_1 = vec4f(0.0); var c8_2 = vec4f(0.0); var c8_3 = vec4f(0.0); var c8_4 = vec4f(0.0); var c8_5 = vec4f(0.0); var c8_6 = vec4f(0.0); var c8_7 = vec4f(0.0);
  var c9_0 = vec4f(0.0); var c9_1 = vec4f(0.0); var c9_2 = vec4f(0.0); var c9_3 = vec4f(0.0); var c9_4 = vec4f(0.0); var c9_5 = vec4f(0.0); var c9_6 = vec4f(0.0); var c9_7 = vec4f(0.0);
  var c10_0 = vec4f(0.0); var c10_1 = vec4f(0.0); var c10_2 = vec4f(0.0); var c10_3 = vec4f(0.0); var c10_4 = vec4f(0.0); var c10_5 = vec4f(0.0); var c10_6 = vec4f(0.0); var c10_7 = vec4f(0.0);
  var c11_0 = vec4f(0.0); var c11_1 = vec4f(0.0); var c11_2 = vec4f(0.0); var c11_3 = vec4f(0.0); var c11_4 = vec4f(0.0); var c11_5 = vec4f(0.0); var c11_6 = vec4f(0.0); var c11_7 = vec4f(0.0);
  var c12_0 = vec4f(0.0); var c12_1 = vec4f(0.0); var c12_2 = vec4f(0.0); var c12_3 = vec4f(0.0); var c12_4 = vec4f(0.0); var c12_5 = vec4f(0.0); var c12_6 = vec4f(0.0); var c12_7 = vec4f(0.0);
  var c13_0 = vec4f(0.0); var c13_1 = vec4f(0.0); var c13_2 = vec4f(0.0); var c13_3 = vec4f(0.0); var c13_4 = vec4f(0.0); var c13_5 = vec4f(0.0); var c13_6 = vec4f(0.0); var c13_7 = vec4f(0.0);
  var c14_0 = vec4f(0.0); var c14_1 = vec4f(0.0); var c14_2 = vec4f(0.0); var c14_3 = vec4f(0.0); var c14_4 = vec4f(0.0); var c14_5 = vec4f(0.0); var c14_6 = vec4f(0.0); var c14_7 = vec4f(0.0);
  var c15_0 = vec4f(0.0); var c15_1 = vec4f(0.0); var c15_2 = vec4f(0.0); var c15_3 = vec4f(0.0); var c15_4 = vec4f(0.0); var c15_5 = vec4f(0.0); var c15_6 = vec4f(0.0); var c15_7 = vec4f(0.0);
  for (var k = dims.k_begin; k < dims.k_end; k++) {
    let bk = (k * dims.N + col0) / 4u;
    let b0 = B4[bk + 0u];
    let b1 = B4[bk + 1u];
    let b2 = B4[bk + 2u];
    let b3 = B4[bk + 3u];
    let b4 = B4[bk + 4u];
    let b5 = B4[bk + 5u];
    let b6 = B4[bk + 6u];
    let b7 = B4[bk + 7u];
    let ak = (k * dims.M + row0) / 4u;
    let av0 = A4[ak + 0u];
    let av1 = A4[ak + 1u];
    let av2 = A4[ak + 2u];
    let av3 = A4[ak + 3u];
    let a0 = vec4f(av0[0]);
    let a1 = vec4f(av0[1]);
    let a2 = vec4f(av0[2]);
    let a3 = vec4f(av0[3]);
    let a4 = vec4f(av1[0]);
    let a5 = vec4f(av1[1]);
    let a6 = vec4f(av1[2]);
    let a7 = vec4f(av1[3]);
    let a8 = vec4f(av2[0]);
    let a9 = vec4f(av2[1]);
    let a10 = vec4f(av2[2]);
    let a11 = vec4f(av2[3]);
    let a12 = vec4f(av3[0]);
    let a13 = vec4f(av3[1]);
    let a14 = vec4f(av3[2]);
    let a15 = vec4f(av3[3]);
    c0_0 = fma(a0, b0, c0_0); c0_1 = fma(a0, b1, c0_1); c0_2 = fma(a0, b2, c0_2); c0_3 = fma(a0, b3, c0_3); c0_4 = fma(a0, b4, c0_4); c0_5 = fma(a0, b5, c0_5); c0_6 = fma(a0, b6, c0_6); c0_7 = fma(a0, b7, c0_7);
    c1_0 = fma(a1, b0, c1_0); c1_1 = fma(a1, b1, c1_1); c1_2 = fma(a1, b2, c1_2); c1_3 = fma(a1, b3, c1_3); c1_4 = fma(a1, b4, c1_4); c1_5 = fma(a1, b5, c1_5); c1_6 = fma(a1, b6, c1_6); c1_7 = fma(a1, b7, c1_7);
    c2_0 = fma(a2, b0, c2_0); c2_1 = fma(a2, b1, c2_1); c2_2 = fma(a2, b2, c2_2); c2_3 = fma(a2, b3, c2_3); c2_4 = fma(a2, b4, c2_4); c2_5 = fma(a2, b5, c2_5); c2_6 = fma(a2, b6, c2_6); c2_7 = fma(a2, b7, c2_7);
    c3_0 = fma(a3, b0, c3_0); c3_1 = fma(a3, b1, c3_1); c3_2 = fma(a3, b2, c3_2); c3_3 = fma(a3, b3, c3_3); c3_4 = fma(a3, b4, c3_4); c3_5 = fma(a3, b5, c3_5); c3_6 = fma(a3, b6, c3_6); c3_7 = fma(a3, b7, c3_7);
    c4_0 = fma(a4, b0, c4_0); c4_1 = fma(a4, b1, c4_1); c4_2 = fma(a4, b2, c4_2); c4_3 = fma(a4, b3, c4_3); c4_4 = fma(a4, b4, c4_4); c4_5 = fma(a4, b5, c4_5); c4_6 = fma(a4, b6, c4_6); c4_7 = fma(a4, b7, c4_7);
    c5_0 = fma(a5, b0, c5_0); c5_1 = fma(a5, b1, c5_1); c5_2 = fma(a5, b2, c5_2); c5_3 = fma(a5, b3, c5_3); c5_4 = fma(a5, b4, c5_4); c5_5 = fma(a5, b5, c5_5); c5_6 = fma(a5, b6, c5_6); c5_7 = fma(a5, b7, c5_7);
    c6_0 = fma(a6, b0, c6_0); c6_1 = fma(a6, b1, c6_1); c6_2 = fma(a6, b2, c6_2); c6_3 = fma(a6, b3, c6_3); c6_4 = fma(a6, b4, c6_4); c6_5 = fma(a6, b5, c6_5); c6_6 = fma(a6, b6, c6_6); c6_7 = fma(a6, b7, c6_7);
    c7_0 = fma(a7, b0, c7_0); c7_1 = fma(a7, b1, c7_1); c7_2 = fma(a7, b2, c7_2); c7_3 = fma(a7, b3, c7_3); c7_4 = fma(a7, b4, c7_4); c7_5 = fma(a7, b5, c7_5); c7_6 = fma(a7, b6, c7_6); c7_7 = fma(a7, b7, c7_7);
    c8_0 = fma(a8, b0, c8_0); c8_1 = fma(a8, b1, c8_1); c8_2 = fma(a8, b2, c8_2); c8_3 = fma(a8, b3, c8_3); c8_4 = fma(a8, b4, c8_4); c8_5 = fma(a8, b5, c8_5); c8_6 = fma(a8, b6, c8_6); c8_7 = fma(a8, b7, c8_7);
    c9_0 = fma(a9, b0, c9_0); c9_1 = fma(a9, b1, c9_1); c9_2 = fma(a9, b2, c9_2); c9_3 = fma(a9, b3, c9_3); c9_4 = fma(a9, b4, c9_4); c9_5 = fma(a9, b5, c9_5); c9_6 = fma(a9, b6, c9_6); c9_7 = fma(a9, b7, c9_7);
    c10_0 = fma(a10, b0, c10_0); c10_1 = fma(a10, b1, c10_1); c10_2 = fma(a10, b2, c10_2); c10_3 = fma(a10, b3, c10_3); c10_4 = fma(a10, b4, c10_4); c10_5 = fma(a10, b5, c10_5); c10_6 = fma(a10, b6, c10_6); c10_7 = fma(a10, b7, c10_7);
    c11_0 = fma(a11, b0, c11_0); c11_1 = fma(a11, b1, c11_1); c11_2 = fma(a11, b2, c11_2); c11_3 = fma(a11, b3, c11_3); c11_4 = fma(a11, b4, c11_4); c11_5 = fma(a11, b5, c11_5); c11_6 = fma(a11, b6, c11_6); c11_7 = fma(a11, b7, c11_7);
    c12_0 = fma(a12, b0, c12_0); c12_1 = fma(a12, b1, c12_1); c12_2 = fma(a12, b2, c12_2); c12_3 = fma(a12, b3, c12_3); c12_4 = fma(a12, b4, c12_4); c12_5 = fma(a12, b5, c12_5); c12_6 = fma(a12, b6, c12_6); c12_7 = fma(a12, b7, c12_7);
    c13_0 = fma(a13, b0, c13_0); c13_1 = fma(a13, b1, c13_1); c13_2 = fma(a13, b2, c13_2); c13_3 = fma(a13, b3, c13_3); c13_4 = fma(a13, b4, c13_4); c13_5 = fma(a13, b5, c13_5); c13_6 = fma(a13, b6, c13_6); c13_7 = fma(a13, b7, c13_7);
    c14_0 = fma(a14, b0, c14_0); c14_1 = fma(a14, b1, c14_1); c14_2 = fma(a14, b2, c14_2); c14_3 = fma(a14, b3, c14_3); c14_4 = fma(a14, b4, c14_4); c14_5 = fma(a14, b5, c14_5); c14_6 = fma(a14, b6, c14_6); c14_7 = fma(a14, b7, c14_7);
    c15_0 = fma(a15, b0, c15_0); c15_1 = fma(a15, b1, c15_1); c15_2 = fma(a15, b2, c15_2); c15_3 = fma(a15, b3, c15_3); c15_4 = fma(a15, b4, c15_4); c15_5 = fma(a15, b5, c15_5); c15_6 = fma(a15, b6, c15_6); c15_7 = fma(a15, b7, c15_7);
  }
  store_block_row(row0 + 0u, col0, 8u, array<vec4f, 8>(c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7));
  store_block_row(row0 + 1u, col0, 8u, array<vec4f, 8>(c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7));
  store_block_row(row0 + 2u, col0, 8u, array<vec4f, 8>(c2_0, c2_1, c2_2, c2_3, c2_4, c2_5, c2_6, c2_7));
  store_block_row(row0 + 3u, col0, 8u, array<vec4f, 8>(c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c3_6, c3_7));
  store_block_row(row0 + 4u, col0, 8u, array<vec4f, 8>(c4_0, c4_1, c4_2, c4_3, c4_4, c4_5, c4_6, c4_7));
  store_block_row(row0 + 5u, col0, 8u, array<vec4f, 8>(c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c5_6, c5_7));
  store_block_row(row0 + 6u, col0, 8u, array<vec4f, 8>(c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c6_6, c6_7));
  store_block_row(row0 + 7u, col0, 8u, array<vec4f, 8>(c7_0, c7_1, c7_2, c7_3, c7_4, c7_5, c7_6, c7_7));
  store_block_row(row0 + 8u, col0, 8u, array<vec4f, 8>(c8_0, c8_1, c8_2, c8_3, c8_4, c8_5, c8_6, c8_7));
  store_block_row(row0 + 9u, col0, 8u, array<vec4f, 8>(c9_0, c9_1, c9_2, c9_3, c9_4, c9_5, c9_6, c9_7));
  store_block_row(row0 + 10u, col0, 8u, array<vec4f, 8>(c10_0, c10_1, c10_2, c10_3, c10_4, c10_5, c10_6, c10_7));
  store_block_row(row0 + 11u, col0, 8u, array<vec4f, 8>(c11_0, c11_1, c11_2, c11_3, c11_4, c11_5, c11_6, c11_7));
  store_block_row(row0 + 12u, col0, 8u, array<vec4f, 8>(c12_0, c12_1, c12_2, c12_3, c12_4, c12_5, c12_6, c12_7));
  store_block_row(row0 + 13u, col0, 8u, array<vec4f, 8>(c13_0, c13_1, c13_2, c13_3, c13_4, c13_5, c13_6, c13_7));
  store_block_row(row0 + 14u, col0, 8u, array<vec4f, 8>(c14_0, c14_1, c14_2, c14_3, c14_4, c14_5, c14_6, c14_7));
  store_block_row(row0 + 15u, col0, 8u, array<vec4f, 8>(c15_0, c15_1, c15_2, c15_3, c15_4, c15_5, c15_6, c15_7));
}
// END generated

// C [K, N] = B [N, K] transposed (transposeKernel in src/ops/matmul.ts): a layer's input gradient dY·Wᵀ then
// runs in form "nn" on Wᵀ, whose vec4 variants read a row of it four floats at a time (form "nt" reads one).
// Dispatch: (ceil(N / WG_X), ceil(K / WG_Y)) workgroups.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_transpose_b(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  let k = gid.y;
  if (n < dims.N && k < dims.K) {
    C[k * dims.N + n] = B[n * dims.K + k];
  }
}

// Tiles of op(A) [BM, BK] and op(B) [BK, BN] with BM = WG_Y·TM, BN = WG_X·TN.
var<workgroup> tile_a: array<f32, BK * WG_Y * TM>;
var<workgroup> tile_b: array<f32, BK * WG_X * TN>;

// Dispatch: as matmul_reg.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_tiled(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) lindex: u32,
) {
  let bm = WG_Y * TM;
  let bn = WG_X * TN;
  let block_row = wid.y * bm;
  let block_col = wid.x * bn;
  let threads = WG_X * WG_Y;
  let last_row = dims.M - 1u;
  let last_col = dims.N - 1u;
  var acc: array<f32, MAX_T * MAX_T>;
  var a: array<f32, MAX_T>;
  var b: array<f32, MAX_T>;
  for (var k0 = 0u; k0 < dims.K; k0 += BK) {
    // Cooperative loads; k past the end reads zeros so it adds nothing.
    for (var e = lindex; e < bm * BK; e += threads) {
      let r = e / BK;
      let kk = e % BK;
      let k = k0 + kk;
      var v = 0.0;
      if (k < dims.K) {
        v = load_a(min(block_row + r, last_row), k);
      }
      tile_a[kk * bm + r] = v;
    }
    for (var e = lindex; e < bn * BK; e += threads) {
      let kk = e / bn;
      let c = e % bn;
      let k = k0 + kk;
      var v = 0.0;
      if (k < dims.K) {
        v = load_b(k, min(block_col + c, last_col));
      }
      tile_b[kk * bn + c] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      for (var i = 0u; i < TM; i++) {
        a[i] = tile_a[kk * bm + lid.y * TM + i];
      }
      for (var j = 0u; j < TN; j++) {
        b[j] = tile_b[kk * bn + lid.x + j * WG_X];
      }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) {
          acc[i * MAX_T + j] += a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }
  let row0 = block_row + lid.y * TM;
  let col0 = block_col + lid.x;
  for (var i = 0u; i < TM; i++) {
    let m = row0 + i;
    for (var j = 0u; j < TN; j++) {
      let n = col0 + j * WG_X;
      if (m < dims.M && n < dims.N) {
        store_c(m, n, acc[i * MAX_T + j]);
      }
    }
  }
}
