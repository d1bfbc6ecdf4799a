// Column sums: out[c] (+)= Σ_r x[r, c], the bias gradient of a linear layer
// (dBias = Σ over rows of dY).
//
//   x [rows, cols]; partials [chunks, cols]; out [cols]
//
// Two dispatches. column_partials: one thread per (chunk of CHUNK rows,
// column), or per four columns read as a vec4 when cols is a multiple of 4;
// column_totals: one thread per column sums its chunks and adds to out, or
// overwrites it. The split keeps thousands of threads busy where a single
// loop per column would run only `cols` of them down all the rows (the
// ones-vector matmul this replaces: 23 ms against a few here at 16,896 × 256
// on llvmpipe), and the sum order is fixed, so results repeat bit for bit.

override WG: u32; // threads per workgroup, from the launcher
const CHUNK = 256u; // rows per partial sum (COLUMN_CHUNK in src/ops/reduce.ts)

struct Dims {
  rows: u32,
  cols: u32,
  chunks: u32,
  accumulate: u32, // 1: out += sums; 0: out = sums
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4f>; // the same buffer as x, four columns at a time
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials4: array<vec4f>; // the same buffer as partials
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

// Thread → item: the launcher folds a long grid into x and y (src/gpu/_kernel.ts); unfold it.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

@compute @workgroup_size(WG)
fn column_partials(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= dims.chunks * dims.cols) {
    return;
  }
  let chunk = i / dims.cols;
  let c = i % dims.cols;
  let end = min(dims.rows, (chunk + 1u) * CHUNK);
  var sum = 0.0;
  for (var r = chunk * CHUNK; r < end; r++) {
    sum += x[r * dims.cols + c];
  }
  partials[i] = sum;
}

@compute @workgroup_size(WG)
fn column_partials_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let cols4 = dims.cols / 4u;
  let i = flat_index(gid, nwg);
  if (i >= dims.chunks * cols4) {
    return;
  }
  let chunk = i / cols4;
  let c4 = i % cols4;
  let end = min(dims.rows, (chunk + 1u) * CHUNK);
  var sum = vec4f(0.0);
  for (var r = chunk * CHUNK; r < end; r++) {
    sum += x4[r * cols4 + c4];
  }
  partials4[i] = sum;
}

@compute @workgroup_size(WG)
fn column_totals(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flat_index(gid, nwg);
  if (c >= dims.cols) {
    return;
  }
  var sum = 0.0;
  for (var chunk = 0u; chunk < dims.chunks; chunk++) {
    sum += partials[chunk * dims.cols + c];
  }
  out[c] = select(sum, out[c] + sum, dims.accumulate == 1u);
}
