// Row-wise L2 normalisation, forward and backward (docs/science.md §1):
//
//   forward   z = h / n,  n = max(‖h‖, 1e-12)      h, z [rows, D]; norms [rows]
//   backward  dH = (g - z·(z·g)) / n                g = dZ [rows, D]; dH overwritten
//
// One thread per row; a row is read three times (largest element, norm,
// scale), which is cheap next to the matmuls around it. The norm is computed
// scaled, so it is right wherever ‖h‖ itself is a finite f32.

override WG: u32; // threads per workgroup, from the launcher

struct Dims {
  rows: u32,
  dim: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> h: array<f32>; // forward: h; backward: z
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // forward: z; backward: dH
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>; // backward: dZ

// Thread → item: the launcher folds a long grid into x and y (src/gpu/_kernel.ts); unfold it.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

@compute @workgroup_size(WG)
fn l2norm_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat_index(gid, nwg);
  if (r >= dims.rows) {
    return;
  }
  let base = r * dims.dim;
  // Σh² overflows f32 from ‖h‖ ≈ 1.8e19 (h = [2e19] would give z = 0): scale by 2^-e, with 2^e ≥ max|h|,
  // before squaring. A power of two scales exactly, so in range the result is the unscaled one bit for bit.
  var largest = 0.0;
  for (var d = 0u; d < dims.dim; d++) {
    largest = max(largest, abs(h[base + d]));
  }
  let e = select(0, frexp(largest).exp, largest > 0.0);
  var sq = 0.0;
  for (var d = 0u; d < dims.dim; d++) {
    let x = ldexp(h[base + d], -e);
    sq = fma(x, x, sq);
  }
  let n = max(ldexp(sqrt(sq), e), 1e-12);
  norms[r] = n;
  for (var d = 0u; d < dims.dim; d++) {
    out[base + d] = h[base + d] / n;
  }
}

@compute @workgroup_size(WG)
fn l2norm_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat_index(gid, nwg);
  if (r >= dims.rows) {
    return;
  }
  let base = r * dims.dim;
  var zg = 0.0;
  for (var d = 0u; d < dims.dim; d++) {
    zg = fma(h[base + d], g[base + d], zg);
  }
  let n = norms[r];
  for (var d = 0u; d < dims.dim; d++) {
    out[base + d] = (g[base + d] - h[base + d] * zg) / n;
  }
}
