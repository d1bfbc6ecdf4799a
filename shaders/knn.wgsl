// Nearest-neighbour candidates: for each row of a block of similarities,
// the M largest, with their columns, best first.
//
//   sims [rows, n] f32 (a block of S = Q·Bᵀ, computed by matmul)
//   cand_idx [rows, M] u32, cand_sim [rows, M] f32: the row's M best columns;
//   ties keep the lower column first, as the host scan does. Rows with fewer
//   than M columns pad with column NONE.
//
// One workgroup per row. Each of the WG threads scans columns t, t + WG, …
// twice: first for its maximum (the smallest of these maxima is a floor for
// the row's top M), then keeping its own best M at or above the floor sorted
// in private arrays; the WG sorted lists then
// meet in workgroup memory and are merged pairwise in log2(WG) rounds. The
// host re-scores the M survivors in float64 and keeps the few it needs, so
// fp32 rounding near the cut cannot change the answer (src/ops/knn.ts).

override WG: u32; // threads per workgroup, a power of two, from the launcher
const M = 32u; // candidates kept per row (KNN_CANDIDATES in src/ops/knn.ts)
const NONE = 0xffffffffu;
const LOWEST = -3.4e38; // below every similarity the launcher lets through

struct Params {
  rows: u32,
  n: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sims: array<f32>;
@group(0) @binding(2) var<storage, read_write> cand_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> cand_sim: array<f32>;

var<workgroup> pool_sim: array<f32, WG * M>;
var<workgroup> pool_idx: array<u32, WG * M>;

// Whether (s, j) ranks before (t, i): larger similarity first, then the lower column.
fn before(s: f32, j: u32, t: f32, i: u32) -> bool {
  return s > t || (s == t && j < i);
}

@compute @workgroup_size(WG)
fn top_candidates(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return; // the same for the whole workgroup, so the barriers below stay uniform
  }
  let base = row * params.n;
  // A floor no top-M entry lies below: the smallest of the threads' maxima. Each thread's maximum is at least
  // the floor, so at least WG ≥ M entries reach it, and an entry below it ranks after all of those. With it the
  // scan below inserts a few entries per thread instead of ~M·ln(n/(WG·M)), and lanes rarely diverge.
  var high = LOWEST;
  for (var j = lid; j < params.n; j += WG) {
    high = max(high, sims[base + j]);
  }
  pool_sim[lid] = high;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      pool_sim[lid] = min(pool_sim[lid], pool_sim[lid + stride]);
    }
    workgroupBarrier();
  }
  let floor = pool_sim[0];
  workgroupBarrier(); // every thread has read the floor before pool_sim is reused
  var best_sim: array<f32, M>;
  var best_idx: array<u32, M>;
  for (var p = 0u; p < M; p++) {
    best_sim[p] = LOWEST;
    best_idx[p] = NONE;
  }
  for (var j = lid; j < params.n; j += WG) {
    let s = sims[base + j];
    if (s < floor || !before(s, j, best_sim[M - 1u], best_idx[M - 1u])) {
      continue;
    }
    var p = M - 1u;
    while (p > 0u && before(s, j, best_sim[p - 1u], best_idx[p - 1u])) {
      best_sim[p] = best_sim[p - 1u];
      best_idx[p] = best_idx[p - 1u];
      p--;
    }
    best_sim[p] = s;
    best_idx[p] = j;
  }
  for (var p = 0u; p < M; p++) {
    pool_sim[lid * M + p] = best_sim[p];
    pool_idx[lid * M + p] = best_idx[p];
  }
  workgroupBarrier();
  // Pairwise merges: list lid absorbs list lid + stride; each keeps its best M.
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      var a = lid * M;
      var b = (lid + stride) * M;
      for (var p = 0u; p < M; p++) {
        if (before(pool_sim[a], pool_idx[a], pool_sim[b], pool_idx[b])) {
          best_sim[p] = pool_sim[a];
          best_idx[p] = pool_idx[a];
          a++;
        } else {
          best_sim[p] = pool_sim[b];
          best_idx[p] = pool_idx[b];
          b++;
        }
      }
    }
    workgroupBarrier();
    if (lid < stride) {
      for (var p = 0u; p < M; p++) {
        pool_sim[lid * M + p] = best_sim[p];
        pool_idx[lid * M + p] = best_idx[p];
      }
    }
    workgroupBarrier();
  }
  if (lid < M) {
    cand_idx[row * M + lid] = pool_idx[lid];
    cand_sim[row * M + lid] = pool_sim[lid];
  }
}
