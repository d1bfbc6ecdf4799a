// Nearest-neighbour candidates: for each row of a block of similarities,
// the M largest, with their columns, best first.
//
//   sims [rows, 4·stride4] f32 (a block of S = Q·Bᵀ, computed by matmul), read
//     as vec4; columns n … 4·stride4 − 1 are padding and never chosen
//   cand_idx [rows, M] u32, cand_sim [rows, M] f32: the row's M best columns;
//   ties keep the lower column first, as the host scan does. Rows with fewer
//   than M columns pad with column NONE.
//
// One workgroup per row, in three steps.
// 1. A floor for the row's top M. Each of the WG threads reads the vec4s
//    t, t + WG, … and keeps two maxima, of their x, y and of their z, w
//    components: 2·WG disjoint groups. The M-th largest group maximum is the
//    floor, and the M groups ranked at or above it (its own included) hold
//    at least M entries at or above it (fewer only when n < M: then all real
//    columns pass).
// 2. A second scan appends the entries at or above the floor to a pool in
//    workgroup memory: about 45 of 10,000 for random rows. (The smallest of
//    WG maxima let about 150 through; ranking those took 35 ms per block of
//    1,677 rows on llvmpipe, against 6 ms now with the floor's own ranking.)
// 3. Each pooled entry's rank among them, counted against the whole pool, is
//    its place in the answer. That needs no barrier and no private array,
//    which llvmpipe keeps in memory. When more than RANK_POOL entries reach
//    the floor (ties, or few distinct values), a third scan keeps each
//    thread's own best M in private arrays and merges the WG lists pairwise
//    in log2(WG) rounds.
// vec4 loads because llvmpipe turns each storage load into a loop over its
// SIMD lanes: the first scan took 52 ms per 1,677 rows with f32 loads and 28
// ms with vec4 loads. The host re-scores the
// M survivors in float64 and keeps the few it needs, so fp32 rounding near
// the cut cannot change the answer (src/ops/knn.ts).

override WG: u32; // threads per workgroup, a power of two ≥ M, from the launcher
const M = 32u; // candidates kept per row (KNN_CANDIDATES in src/ops/knn.ts)
const NONE = 0xffffffffu;
const LOWEST = -3.4e38; // below every similarity the launcher lets through
// Pools up to this size are ranked; the count is quadratic in it, so larger ones take the merge path. At most
// WG·M (the pool's slots); 0 sends every row down the merge path (the launcher's rankPool, for tests).
override RANK_POOL: u32 = 256u;

struct Params {
  rows: u32,
  n: u32, // real columns
  stride4: u32, // row stride in vec4s
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sims: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> cand_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> cand_sim: array<f32>;

var<workgroup> pool_sim: array<f32, WG * M>;
var<workgroup> pool_idx: array<u32, WG * M>;
var<workgroup> pooled: atomic<u32>;
var<workgroup> pool_size: u32;
var<workgroup> row_floor: f32;

// Whether (s, j) ranks before (t, i): larger similarity first, then the lower column.
fn before(s: f32, j: u32, t: f32, i: u32) -> bool {
  return s > t || (s == t && j < i);
}

// The vec4 of columns 4·v … 4·v + 3 of the row at base4, padding columns lowered to LOWEST.
fn columns(base4: u32, v: u32) -> vec4f {
  let col = vec4u(4u * v) + vec4u(0u, 1u, 2u, 3u);
  return select(vec4f(LOWEST), sims[base4 + v], col < vec4u(params.n));
}

// Group g's maximum ranks how many places below the top, ties by lower group.
fn group_rank(g: u32) -> u32 {
  let s = pool_sim[g];
  var rank = 0u;
  for (var k = 0u; k < 2u * WG; k++) {
    rank += u32(before(pool_sim[k], k, s, g));
  }
  return rank;
}

// Puts column j (similarity s) in the pool when it reaches the floor; past RANK_POOL only the count grows.
fn offer(s: f32, j: u32, floor: f32) {
  if (s >= floor && j < params.n) {
    let slot = atomicAdd(&pooled, 1u);
    if (slot < RANK_POOL) {
      pool_sim[slot] = s;
      pool_idx[slot] = j;
    }
  }
}

@compute @workgroup_size(WG)
fn top_candidates(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) {
    return; // the same for the whole workgroup, so the barriers below stay uniform
  }
  let base4 = row * params.stride4;
  var high = vec2f(LOWEST);
  for (var v = lid; v < params.stride4; v += WG) {
    let s = columns(base4, v);
    high = max(high, max(s.xz, s.yw));
  }
  pool_sim[lid] = high.x;
  pool_sim[lid + WG] = high.y;
  if (lid == 0u) {
    atomicStore(&pooled, 0u);
  }
  workgroupBarrier();
  for (var g = lid; g < 2u * WG; g += WG) {
    if (group_rank(g) == M - 1u) {
      row_floor = pool_sim[g];
    }
  }
  let floor = workgroupUniformLoad(&row_floor); // also: every thread has ranked before pool_sim is reused
  for (var v = lid; v < params.stride4; v += WG) {
    let s = sims[base4 + v];
    offer(s.x, 4u * v, floor);
    offer(s.y, 4u * v + 1u, floor);
    offer(s.z, 4u * v + 2u, floor);
    offer(s.w, 4u * v + 3u, floor);
  }
  workgroupBarrier();
  if (lid == 0u) {
    pool_size = atomicLoad(&pooled);
  }
  let size = workgroupUniformLoad(&pool_size); // uniform, so the merge path's barriers may follow
  if (size <= RANK_POOL) {
    // The entries below the floor rank after all pooled ones, so a pooled entry's rank in the pool is its rank in
    // the row; ranks are distinct (columns are), and ranks 0 … min(M, size) − 1 all occur.
    for (var i = lid; i < size; i += WG) {
      let s = pool_sim[i];
      let j = pool_idx[i];
      var rank = 0u;
      for (var k = 0u; k < size && rank < M; k++) {
        rank += u32(before(pool_sim[k], pool_idx[k], s, j));
      }
      if (rank < M) {
        cand_idx[row * M + rank] = j;
        cand_sim[row * M + rank] = s;
      }
    }
    for (var p = size + lid; p < M; p += WG) {
      cand_idx[row * M + p] = NONE;
      cand_sim[row * M + p] = LOWEST;
    }
    return;
  }
  // The merge path, for rows whose floor lets too many entries through.
  var best_sim: array<f32, M>;
  var best_idx: array<u32, M>;
  for (var p = 0u; p < M; p++) {
    best_sim[p] = LOWEST;
    best_idx[p] = NONE;
  }
  for (var j = lid; j < params.n; j += WG) {
    let s = sims[base4 + j / 4u][j % 4u];
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
