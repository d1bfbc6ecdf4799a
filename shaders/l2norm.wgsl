// Row-wise L2 normalisation, forward and backward (docs/science.md §1):
//
//   forward   z = h / n,  n = max(‖h‖, 1e-12)      h, z [rows, D]; norms [rows]
//   backward  dH = (g - z·(z·g)) / n                g = dZ [rows, D]; dH overwritten
//
// One thread per row; a row is read twice (norm, then scale), which is
// cheap next to the matmuls around it.

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
  var sq = 0.0;
  for (var d = 0u; d < dims.dim; d++) {
    sq = fma(h[base + d], h[base + d], sq);
  }
  let n = max(sqrt(sq), 1e-12);
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
