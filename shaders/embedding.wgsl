// EmbeddingBag (mean over a bag of ids), forward and backward. Embedding is
// the case of one id per bag.
//
//   table [V, D]        a view of the flat parameters; d_table the matching gradient view (+=)
//   ids [T] u32         all bags' ids, bag after bag
//   bag_offsets [bags+1]  bag b holds ids[bag_offsets[b] .. bag_offsets[b+1]]
//   out, d_out [bags, D]  out[b] = mean of the bag's rows (0 for an empty bag)
//
// Backward without atomics: the host builds, with the ids, the list of the
// distinct ids used (uniq [U]) and for each the bags it occurs in, once per
// occurrence (inv_offsets [U+1], inv_bags). One thread per (u, d) then sums
// d_out[b, d] / |bag b| over them in a fixed order and adds it to d_table.

override WG: u32; // threads per workgroup, from the launcher

struct Dims {
  bags: u32,
  dim: u32,
  unique: u32, // U, rewritten with the ids
  _pad: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> bag_offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> d_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_table: array<f32>;
@group(0) @binding(7) var<storage, read> uniq: array<u32>;
@group(0) @binding(8) var<storage, read> inv_offsets: array<u32>;
@group(0) @binding(9) var<storage, read> inv_bags: array<u32>;

// Thread → item: the launcher folds a long grid into x and y (src/gpu/_kernel.ts); unfold it.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

// Thread per (bag, d).
@compute @workgroup_size(WG)
fn bag_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let b = e / dims.dim;
  let d = e % dims.dim;
  if (b >= dims.bags) {
    return;
  }
  let start = bag_offsets[b];
  let end = bag_offsets[b + 1u];
  var acc = 0.0;
  for (var i = start; i < end; i++) {
    acc += table[ids[i] * dims.dim + d];
  }
  out[e] = select(0.0, acc / f32(end - start), end > start);
}

// Thread per (distinct id u, d).
@compute @workgroup_size(WG)
fn bag_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let u = e / dims.dim;
  let d = e % dims.dim;
  if (u >= dims.unique) {
    return;
  }
  var acc = 0.0;
  for (var p = inv_offsets[u]; p < inv_offsets[u + 1u]; p++) {
    let b = inv_bags[p];
    acc += d_out[b * dims.dim + d] / f32(bag_offsets[b + 1u] - bag_offsets[b]);
  }
  let at = uniq[u] * dims.dim + d;
  d_table[at] = d_table[at] + acc;
}
