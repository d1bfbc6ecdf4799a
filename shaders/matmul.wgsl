// C = op(A) · op(B) (+ bias) (+ C when ACCUMULATE), fp32, row-major.
//
//   op(A) is M×K: A is [M, K], or [K, M] when TRANS_A (C = Aᵀ·B, dW = Xᵀ·dY).
//   op(B) is K×N: B is [K, N], or [N, K] when TRANS_B (C = A·Bᵀ, dX = dY·Wᵀ).
//   bias is [N], added to every row when HAS_BIAS. C is [M, N].
//   ACCUMULATE adds into C instead of overwriting it (parameter grads +=).
//
// Three entry points, one algorithm each; the launcher picks one per adapter
// by measuring (src/ops/matmul.ts). Any M, N, K work and the inner loops have
// no branches: a thread at the edge may read past a row or past the buffer,
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
//   matmul_unrolled  matmul_reg at 8×16 with named accumulators, unrolled
//                 by hand: what llvmpipe needs to keep them in registers.
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
// matmul_unrolled only: interleave the columns of a workgroup's threads (see unrolled_col).
override INTERLEAVE: bool = false;

const MAX_T: u32 = 8u;

struct Dims {
  M: u32,
  N: u32,
  K: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

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

// Column q (0..15) of a matmul_unrolled thread. Blocked: its 16 adjacent
// columns. Interleaved: the workgroup's WG_X threads take turns, so that
// invocations side by side read B at adjacent addresses; a CPU adapter runs
// them in SIMD lanes, and adjacent lanes make a cheaper gather.
fn unrolled_col(gx: u32, lx: u32, q: u32) -> u32 {
  if (INTERLEAVE) {
    return (gx - lx) * 16u + lx + WG_X * q;
  }
  return gx * 16u + q;
}

// One row of a thread's 8×16 block: guarded stores (edges of C only).
fn store_row16(m: u32, gx: u32, lx: u32, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  if (m >= dims.M) {
    return;
  }
  let v = array<vec4f, 4>(v0, v1, v2, v3);
  for (var j = 0u; j < 4u; j++) {
    for (var c = 0u; c < 4u; c++) {
      let n = unrolled_col(gx, lx, 4u * j + c);
      if (n < dims.N) {
        store_c(m, n, v[j][c]);
      }
    }
  }
}

// matmul_reg with the block fixed at 8×16 and its 32 vec4 accumulators as
// named variables, unrolled by hand: llvmpipe keeps named values in vector
// registers but an override-bounded private array in memory (~3.5 cycles
// per access, measured), which is what makes matmul_reg slower there. Per k:
// 8 loads of A and 16 of B feed 128 FMAs. TM, TN are ignored (8 and 16).
// Dispatch: (ceil(N / (WG_X·16)), ceil(M / (WG_Y·8))) workgroups.
@compute @workgroup_size(WG_X, WG_Y)
fn matmul_unrolled(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = gid.y * 8u;
  let gx = gid.x;
  let lx = lid.x;
  var c00 = vec4f(0.0); var c01 = vec4f(0.0); var c02 = vec4f(0.0); var c03 = vec4f(0.0);
  var c10 = vec4f(0.0); var c11 = vec4f(0.0); var c12 = vec4f(0.0); var c13 = vec4f(0.0);
  var c20 = vec4f(0.0); var c21 = vec4f(0.0); var c22 = vec4f(0.0); var c23 = vec4f(0.0);
  var c30 = vec4f(0.0); var c31 = vec4f(0.0); var c32 = vec4f(0.0); var c33 = vec4f(0.0);
  var c40 = vec4f(0.0); var c41 = vec4f(0.0); var c42 = vec4f(0.0); var c43 = vec4f(0.0);
  var c50 = vec4f(0.0); var c51 = vec4f(0.0); var c52 = vec4f(0.0); var c53 = vec4f(0.0);
  var c60 = vec4f(0.0); var c61 = vec4f(0.0); var c62 = vec4f(0.0); var c63 = vec4f(0.0);
  var c70 = vec4f(0.0); var c71 = vec4f(0.0); var c72 = vec4f(0.0); var c73 = vec4f(0.0);
  for (var k = 0u; k < dims.K; k++) {
    let b0 = vec4f(load_b(k, unrolled_col(gx, lx, 0u)), load_b(k, unrolled_col(gx, lx, 1u)), load_b(k, unrolled_col(gx, lx, 2u)), load_b(k, unrolled_col(gx, lx, 3u)));
    let b1 = vec4f(load_b(k, unrolled_col(gx, lx, 4u)), load_b(k, unrolled_col(gx, lx, 5u)), load_b(k, unrolled_col(gx, lx, 6u)), load_b(k, unrolled_col(gx, lx, 7u)));
    let b2 = vec4f(load_b(k, unrolled_col(gx, lx, 8u)), load_b(k, unrolled_col(gx, lx, 9u)), load_b(k, unrolled_col(gx, lx, 10u)), load_b(k, unrolled_col(gx, lx, 11u)));
    let b3 = vec4f(load_b(k, unrolled_col(gx, lx, 12u)), load_b(k, unrolled_col(gx, lx, 13u)), load_b(k, unrolled_col(gx, lx, 14u)), load_b(k, unrolled_col(gx, lx, 15u)));
    let a0 = vec4f(load_a(row0 + 0u, k));
    let a1 = vec4f(load_a(row0 + 1u, k));
    let a2 = vec4f(load_a(row0 + 2u, k));
    let a3 = vec4f(load_a(row0 + 3u, k));
    let a4 = vec4f(load_a(row0 + 4u, k));
    let a5 = vec4f(load_a(row0 + 5u, k));
    let a6 = vec4f(load_a(row0 + 6u, k));
    let a7 = vec4f(load_a(row0 + 7u, k));
    c00 = fma(a0, b0, c00); c01 = fma(a0, b1, c01); c02 = fma(a0, b2, c02); c03 = fma(a0, b3, c03);
    c10 = fma(a1, b0, c10); c11 = fma(a1, b1, c11); c12 = fma(a1, b2, c12); c13 = fma(a1, b3, c13);
    c20 = fma(a2, b0, c20); c21 = fma(a2, b1, c21); c22 = fma(a2, b2, c22); c23 = fma(a2, b3, c23);
    c30 = fma(a3, b0, c30); c31 = fma(a3, b1, c31); c32 = fma(a3, b2, c32); c33 = fma(a3, b3, c33);
    c40 = fma(a4, b0, c40); c41 = fma(a4, b1, c41); c42 = fma(a4, b2, c42); c43 = fma(a4, b3, c43);
    c50 = fma(a5, b0, c50); c51 = fma(a5, b1, c51); c52 = fma(a5, b2, c52); c53 = fma(a5, b3, c53);
    c60 = fma(a6, b0, c60); c61 = fma(a6, b1, c61); c62 = fma(a6, b2, c62); c63 = fma(a6, b3, c63);
    c70 = fma(a7, b0, c70); c71 = fma(a7, b1, c71); c72 = fma(a7, b2, c72); c73 = fma(a7, b3, c73);
  }
  store_row16(row0 + 0u, gx, lx, c00, c01, c02, c03);
  store_row16(row0 + 1u, gx, lx, c10, c11, c12, c13);
  store_row16(row0 + 2u, gx, lx, c20, c21, c22, c23);
  store_row16(row0 + 3u, gx, lx, c30, c31, c32, c33);
  store_row16(row0 + 4u, gx, lx, c40, c41, c42, c43);
  store_row16(row0 + 5u, gx, lx, c50, c51, c52, c53);
  store_row16(row0 + 6u, gx, lx, c60, c61, c62, c63);
  store_row16(row0 + 7u, gx, lx, c70, c71, c72, c73);
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
