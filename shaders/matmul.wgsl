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
