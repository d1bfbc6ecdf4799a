// Softmax-contrast: InfoNCE and its re-weighted relatives (ADNCE, DCL, HCL),
// and SupCon's many positives, as one reduction per anchor row, forward and
// backward (docs/science.md §1–2).
//
// A row has a positive score s_0 and M negative scores s_k (cosines), logits
// l = s/τ. Every weighting is one pair of log-terms per negative,
//
//   u_k = (1+β)·l_k + g_k      v_k = β·l_k + g_k      g_k = -(s_k-μ)²/(2σ²)
//
//   log R = LSE_k u_k - LSE_k v_k + log M   (= LSE_k (l_k + b_k), the
//           log-bias b_k = log(M·softmax(v)_k): ADNCE's c_k, HCL's importance)
//   Ng    = R, or when debiasing (DCL, HCL) max((R - τ+·M·P)/(1-τ+), M·e^(-1/τ))
//   L     = -l_0 + log(P + Ng),  P = e^(l_0)
//
//   InfoNCE: β = 0, g = 0.  ADNCE: g on, detached.  DCL: τ+.  HCL: β, τ+.
//
// Backward, with π = softmax(u) and ρ = softmax(v) over the negatives and g
// held constant (ADNCE's weights carry no gradient; HCL's importance does,
// through β·l):  ∂L/∂l_k = a·((1+β)·π_k - β·ρ_k),  a = ∂L/∂log R (0 when the
// clamp is active),  ∂L/∂s = ∂L/∂l / τ, scaled by grad_scale (1/rows: the
// gradient of the mean loss).
//
// Shapes (sampled-K layout): Q [B, D], C [N, D], an optional queue [Nq, D] of
// past candidates (candidates N..N+Nq-1, detached: no gradient reaches them),
// idx [B, 1+K_max] with column 0 the positive; scores [B, 1+K_max] of which
// columns 0..K are used.
// In-batch layout: Z [R, D], R = 2B, row i's positive is (i + B) mod R, its
// negatives all other rows but itself; scores are a block of S = Z·Zᵀ,
// computed by matmul (src/ops/matmul.ts), whole or one tile at a time.
//
// SupCon (in-batch, `supcon`, §2.5): Z [N, D] with labels [N]; row i's
// positives P are the other rows with its label, its M = N - 1 - |P|
// negatives the rest. The positives' logits are reduced alongside
// (their LSE, mean and count), and with D = Σ_p e^(l_p) + R
//
//   L = log D - mean_p l_p      ∂L/∂l_p = e^(l_p)/D - 1/|P|      ∂L/∂l_k = (R/D)·π_k
//
// (β = 0: HCL and DCL are rejected by the launcher). A row with no positive
// has no term: loss 0, coefficients 0, no gradient; grad_scale is then
// 1/(rows that have a positive), set by the launcher from the labels.
//
// Everything per row is an online reduction (Stats), so a row may arrive in
// column tiles: row_loss_and_grad merges a tile into the row's running Stats, and
// the last tile finalises. The score buffer is overwritten in place with
// dScores when the whole row is present (GRAD); the tiled backward instead
// recomputes each tile and writes the symmetric G_ak + G_ka (sym_grad_tile).
//
// No float atomics exist in WGSL: every output element has exactly one
// writer. dC, where a candidate can appear in many rows, is a gather over an
// inverse index (CSR built on the host with the index table), not a scatter.

override WG: u32; // threads per workgroup, from the launcher
const POS: u32 = 0u;
const NEG: u32 = 1u;
const SKIP: u32 = 2u;
// Block flags.
const FIRST: u32 = 1u; // start the row's Stats empty instead of loading them
const LAST: u32 = 2u; // finalise: loss, read-outs and backward coefficients
const GRAD: u32 = 4u; // overwrite the block's scores with dScores
// The -∞ of a running max: finite, so that exp(EMPTY - m) is 0, never NaN.
// Every log-term is within ±1e37 (the launcher checks τ, β and σ for it:
// LOG_TERM_LIMIT in src/ops/contrast.ts), so EMPTY lies below all of them
// and every difference of two terms, or of a term and EMPTY, is finite.
const EMPTY: f32 = -1e38;

struct Params {
  rows: u32, // anchor rows: B (sampled) or R = 2B (in-batch)
  k: u32, // sampled: negatives in use, the runtime K
  k_max: u32, // sampled: the index table has 1 + k_max columns
  dim: u32, // D
  candidates: u32, // sampled: N
  in_batch: u32,
  debias: u32,
  supcon: u32, // labels decide the positives (in-batch only)
  inv_tau: f32,
  beta: f32,
  mu: f32,
  inv_two_sigma2: f32, // 0 turns the ADNCE weight off
  tau_plus: f32,
  grad_scale: f32, // 1/rows (SupCon: 1/(rows with a positive), or 0)
  queued: u32, // sampled: rows of the queue, candidates N..N+queued-1 (no gradient flows into them)
  _pad2: f32,
}

// One block of scores: rows row0.., columns col0.., stored with `stride`.
struct Block {
  row0: u32,
  col0: u32,
  nrows: u32,
  ncols: u32,
  stride: u32,
  flags: u32,
  _pad0: u32,
  _pad1: u32,
}

// Running reductions over a row's negatives; `m*` are maxima, `s*` sums of
// exp(x - m), t_u = Σ exp(u - m_u)·(u - m_u) (for the entropy of π). SupCon
// also reduces its positives' logits (they stay empty otherwise). After the
// last block, stats[row] holds the row's totals (the read-outs use them).
struct Stats {
  m_u: f32,
  s_u: f32,
  t_u: f32,
  m_v: f32,
  s_v: f32,
  m_l: f32, // plain logits, for the Donsker–Varadhan read-out
  s_l: f32,
  below: f32, // negatives scored strictly below the positive (SupCon: 0, not defined)
  m_p: f32, // SupCon: the positives' logits, LSE state
  s_p: f32,
  mean_p: f32, // SupCon: the mean of the positives' logits (a mean, not a sum: |P|·1/τ may pass F32_MAX)
  n_p: f32, // SupCon: |P|, the positives counted
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> block: Block;
@group(0) @binding(2) var<storage, read> q: array<f32>; // Q [B, D], or Z [R, D]
@group(0) @binding(3) var<storage, read> cand: array<f32>; // C [N, D]
@group(0) @binding(4) var<storage, read> idx: array<u32>; // [B, 1+K_max]
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;
@group(0) @binding(6) var<storage, read_write> pos_scores: array<f32>; // s_0 per row
@group(0) @binding(7) var<storage, read_write> stats: array<Stats>;
@group(0) @binding(8) var<storage, read_write> row_out: array<vec4f>; // loss, η, l_0, LSE of plain negatives
@group(0) @binding(9) var<storage, read_write> below: array<u32>;
@group(0) @binding(10) var<storage, read_write> coef: array<vec4f>; // LSE u, LSE v, a, ∂L/∂l_0
@group(0) @binding(11) var<storage, read_write> grad_out: array<f32>; // dQ [B, D] or dC [N, D]
@group(0) @binding(12) var<storage, read> csr_offsets: array<u32>; // [N + 1]
@group(0) @binding(13) var<storage, read> csr_slots: array<u32>; // flat slots i·(1+K_max)+j, by candidate
@group(0) @binding(14) var<storage, read_write> readouts: array<f32>; // see readouts()
@group(0) @binding(15) var<storage, read> labels: array<u32>; // SupCon: [N]
@group(0) @binding(16) var<storage, read> queue: array<f32>; // sampled: past candidates [queued, D], detached
// The same tensors read four floats at a time, by the sampled gathers' vec4 variants (D a multiple of 4).
@group(0) @binding(17) var<storage, read> q4: array<vec4f>; // Q [B, D/4]
@group(0) @binding(18) var<storage, read> cand4: array<vec4f>; // C [N, D/4]
@group(0) @binding(19) var<storage, read> queue4: array<vec4f>; // queue [queued, D/4]
@group(0) @binding(20) var<storage, read_write> grad_out4: array<vec4f>; // dQ [B, D/4] or dC [N, D/4]

// ---- The per-row mathematics, shared by every layout -----------------------

fn negatives() -> u32 {
  return select(params.k, params.rows - 2u, params.in_batch == 1u);
}

fn partner(row: u32) -> u32 {
  return (row + params.rows / 2u) % params.rows;
}

fn column_kind(row: u32, col: u32) -> u32 {
  if (params.supcon == 1u) {
    if (col == row) {
      return SKIP;
    }
    return select(NEG, POS, labels[col] == labels[row]);
  }
  if (params.in_batch == 1u) {
    if (col == row) {
      return SKIP;
    }
    return select(NEG, POS, col == partner(row));
  }
  if (col == 0u) {
    return POS;
  }
  return select(SKIP, NEG, col <= params.k);
}

fn gaussian_log_weight(s: f32) -> f32 {
  let d = s - params.mu;
  return -d * d * params.inv_two_sigma2;
}

fn empty_stats() -> Stats {
  return Stats(EMPTY, 0.0, 0.0, EMPTY, 0.0, EMPTY, 0.0, 0.0, EMPTY, 0.0, 0.0, 0.0);
}

// Merges two (max, sum) log-sum-exp states; returns (max, sum, scale1, scale2).
fn lse_merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec4f {
  let m = max(m1, m2);
  let e1 = exp(m1 - m);
  let e2 = exp(m2 - m);
  return vec4f(m, s1 * e1 + s2 * e2, e1, e2);
}

fn merge_stats(a: Stats, b: Stats) -> Stats {
  let u = lse_merge(a.m_u, a.s_u, b.m_u, b.s_u);
  // t is relative to the max, so it shifts with it: Σe^(x-m')(x-m') = e^(m-m')·(t + s·(m-m')).
  let t = u.z * (a.t_u + a.s_u * (a.m_u - u.x)) + u.w * (b.t_u + b.s_u * (b.m_u - u.x));
  let v = lse_merge(a.m_v, a.s_v, b.m_v, b.s_v);
  let l = lse_merge(a.m_l, a.s_l, b.m_l, b.s_l);
  var p = vec4f(EMPTY, 0.0, 0.0, 0.0); // positives: only SupCon reduces them
  if (params.supcon == 1u) {
    let n = a.n_p + b.n_p;
    let mean = select(0.0, a.mean_p + (b.mean_p - a.mean_p) * (b.n_p / n), n > 0.0);
    p = vec4f(lse_merge(a.m_p, a.s_p, b.m_p, b.s_p).xy, mean, n);
  }
  return Stats(u.x, u.y, t, v.x, v.y, l.x, l.y, a.below + b.below, p.x, p.y, p.z, p.w);
}

// Adds x to a (max, sum) state with one exp: whichever of x and m is
// smaller is rescaled to the larger. Returns (max, sum, factor of the old
// terms, factor of x).
fn push_lse(m: f32, s: f32, x: f32) -> vec4f {
  let d = x - m;
  let e = exp(-abs(d));
  return select(vec4f(m, s + e, 1.0, e), vec4f(x, s * e + 1.0, e, 1.0), d > 0.0);
}

fn push_negative(st: Stats, s: f32, s_pos: f32) -> Stats {
  let l = s * params.inv_tau;
  let g = gaussian_log_weight(s);
  let u = (1.0 + params.beta) * l + g;
  let v = params.beta * l + g;
  let pu = push_lse(st.m_u, st.s_u, u);
  let t = pu.z * (st.t_u + st.s_u * (st.m_u - pu.x)) + pu.w * (u - pu.x);
  let pv = push_lse(st.m_v, st.s_v, v);
  let pl = push_lse(st.m_l, st.s_l, l);
  return Stats(pu.x, pu.y, t, pv.x, pv.y, pl.x, pl.y, st.below + select(0.0, 1.0, s < s_pos), st.m_p, st.s_p,
               st.mean_p, st.n_p);
}

// SupCon: one positive score joins the row's positives.
fn push_positive(st: Stats, s: f32) -> Stats {
  let l = s * params.inv_tau;
  let pp = push_lse(st.m_p, st.s_p, l);
  var out = st;
  out.m_p = pp.x;
  out.s_p = pp.y;
  out.n_p = st.n_p + 1.0;
  out.mean_p = st.mean_p + (l - st.mean_p) / out.n_p;
  return out;
}

struct RowResult {
  out: vec4f, // loss, η, l_0, LSE of the plain negative logits
  coef: vec4f, // LSE u, LSE v, a = ∂L/∂log R, ∂L/∂l_0
}

fn finalize(st: Stats, s_pos: f32) -> RowResult {
  let m = f32(negatives());
  let log_m = log(m);
  let l0 = s_pos * params.inv_tau;
  let lse_u = st.m_u + log(st.s_u);
  let lse_v = st.m_v + log(st.s_v);
  let log_r = lse_u - lse_v + log_m;
  // Work shifted by c so that neither P nor R overflows (τ = 0.02, β = 1 gives e^100).
  let c = max(l0, log_r);
  let p = exp(l0 - c);
  let r = exp(log_r - c);
  var ng = r;
  var clamped = false;
  var tp = 0.0;
  if (params.debias == 1u) {
    tp = params.tau_plus;
    let floor_ng = exp(log_m - params.inv_tau - c);
    let raw = (r - tp * m * p) / (1.0 - tp);
    clamped = raw < floor_ng;
    ng = max(raw, floor_ng);
  }
  let d = p + ng;
  let loss = c + log(d) - l0;
  var a = 0.0;
  var dl0 = p / d - 1.0;
  if (!clamped) {
    a = r / ((1.0 - tp) * d);
    dl0 = (p - tp * m * p / (1.0 - tp)) / d - 1.0;
  }
  let entropy = log(st.s_u) - st.t_u / st.s_u;
  let eta = log_m - entropy;
  let lse_l = st.m_l + log(st.s_l);
  return RowResult(vec4f(loss, eta, l0, lse_l), vec4f(lse_u, lse_v, a, dl0));
}

// SupCon's row: L = log D - mean_p l_p, D = Σ_p e^(l_p) + R, R the weighted
// negative mass of the row's M = N - 1 - |P| negatives (0 when M = 0). out =
// (loss, η, mean_p l_p, LSE of the plain negatives), coef = (LSE u, log D,
// a = R/D, -1/|P|); a row with no positive gets loss 0 and coef 0 (no term).
fn finalize_supcon(st: Stats) -> RowResult {
  if (st.n_p == 0.0) {
    return RowResult(vec4f(0.0, 0.0, 0.0, EMPTY), vec4f(0.0));
  }
  let m = f32(params.rows - 1u) - st.n_p;
  let lse_p = st.m_p + log(st.s_p);
  let mean_p = st.mean_p;
  var log_d = lse_p;
  var lse_u = 0.0;
  var a = 0.0;
  var eta = 0.0;
  var lse_l = EMPTY;
  if (m > 0.0) {
    lse_u = st.m_u + log(st.s_u);
    let log_r = lse_u - (st.m_v + log(st.s_v)) + log(m);
    // Shifted by c, as in finalize: neither Σ_p e^(l_p) nor R may overflow.
    let c = max(lse_p, log_r);
    log_d = c + log(exp(lse_p - c) + exp(log_r - c));
    a = exp(log_r - log_d);
    eta = log(m) - (log(st.s_u) - st.t_u / st.s_u);
    lse_l = st.m_l + log(st.s_l);
  }
  return RowResult(vec4f(log_d - mean_p, eta, mean_p, lse_l), vec4f(lse_u, log_d, a, -1.0 / st.n_p));
}

// SupCon's ∂L/∂l for one score; k = (LSE u, log D, a, -1/|P|). k.w = 0 marks a
// row without a positive: no term, no gradient. β = 0, so π = e^(u - LSE u).
fn supcon_logit_grad(kind: u32, s: f32, k: vec4f) -> f32 {
  if (kind == SKIP || k.w == 0.0) {
    return 0.0;
  }
  let l = s * params.inv_tau;
  if (kind == POS) {
    return exp(l - k.y) + k.w;
  }
  return k.z * exp(l + gaussian_log_weight(s) - k.x);
}

// ∂(mean loss)/∂s for one score of `row`, given the row's coefficients.
fn score_grad(kind: u32, s: f32, k: vec4f) -> f32 {
  let scale = params.inv_tau * params.grad_scale;
  if (params.supcon == 1u) {
    return supcon_logit_grad(kind, s, k) * scale;
  }
  if (kind == POS) {
    return k.w * scale;
  }
  if (kind == SKIP) {
    return 0.0;
  }
  let l = s * params.inv_tau;
  let g = gaussian_log_weight(s);
  let pi = exp((1.0 + params.beta) * l + g - k.x);
  let rho = exp(params.beta * l + g - k.y);
  return k.z * ((1.0 + params.beta) * pi - params.beta * rho) * scale;
}

fn group_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// Thread → item: the launcher folds a long grid into x and y (src/gpu/_kernel.ts); unfold it.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

// ---- Sampled-K layout ------------------------------------------------------

// Element d of candidate n: rows 0..N-1 are this batch's candidates, rows
// N.. the queue's (past batches' candidates, as in MoCo; read, never written).
fn candidate(n: u32, d: u32) -> f32 {
  if (n < params.candidates) {
    return cand[n * params.dim + d];
  }
  return queue[(n - params.candidates) * params.dim + d];
}

// scores[i, j] = q_i · c_idx[i,j] for j ≤ K; thread per (i, j); pos_scores[i] = scores[i, 0].
@compute @workgroup_size(WG)
fn gather_scores(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let slot = flat_index(gid, nwg);
  let width = params.k_max + 1u;
  let i = slot / width;
  let j = slot % width;
  if (i >= params.rows || j > params.k) {
    return;
  }
  let qi = i * params.dim;
  let n = idx[slot];
  var s = 0.0;
  for (var d = 0u; d < params.dim; d++) {
    s = fma(q[qi + d], candidate(n, d), s);
  }
  scores[slot] = s;
  if (j == 0u) {
    pos_scores[i] = s;
  }
}

// dQ[i, d] = Σ_{j ≤ K} dScores[i, j] · C[idx[i, j], d]; thread per (i, d).
@compute @workgroup_size(WG)
fn gather_dq(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let i = e / params.dim;
  let d = e % params.dim;
  if (i >= params.rows) {
    return;
  }
  let row = i * (params.k_max + 1u);
  var acc = 0.0;
  for (var j = 0u; j <= params.k; j++) {
    acc = fma(scores[row + j], candidate(idx[row + j], d), acc);
  }
  grad_out[e] = acc;
}

// dC[n, d] = Σ over the slots (i, j ≤ K) that hold candidate n of dScores[i, j] · Q[i, d];
// thread per (n, d). Slots come sorted, so the sum's order is fixed: bit-reproducible.
@compute @workgroup_size(WG)
fn gather_dc(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let n = e / params.dim;
  let d = e % params.dim;
  if (n >= params.candidates) {
    return;
  }
  let width = params.k_max + 1u;
  var acc = 0.0;
  for (var p = csr_offsets[n]; p < csr_offsets[n + 1u]; p++) {
    let slot = csr_slots[p];
    if (slot % width <= params.k) {
      acc = fma(scores[slot], q[(slot / width) * params.dim + d], acc);
    }
  }
  grad_out[e] = acc;
}

// The vec4 variants of the three gathers load four floats at once (llvmpipe turns each storage load into a loop
// over its SIMD lanes), and each thread takes four outputs that share loads: four slots of one score row (q_i loaded
// once for four dot products), four vec4 columns of one dQ or dC row (each score, index and slot loaded once for
// four). They add in the scalar entries' order, d ascending within a dot product and j or slot ascending within a
// gradient element, so the results are the same bits. The launcher takes them when D is a multiple of 4. A group
// that runs past K, or past the row, repeats its last valid member's loads and does not write it.

fn candidate4(n: u32, d4: u32) -> vec4f {
  let dim4 = params.dim / 4u;
  if (n < params.candidates) {
    return cand4[n * dim4 + d4];
  }
  return queue4[(n - params.candidates) * dim4 + d4];
}

// s + a·b over the four components in order x, y, z, w: the scalar loop's chain of fma.
fn dot_chain(s: f32, a: vec4f, b: vec4f) -> f32 {
  return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, s))));
}

// Thread per (i, four slots j0..j0+3).
@compute @workgroup_size(WG)
fn gather_scores4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_index(gid, nwg);
  let width = params.k_max + 1u;
  let groups = (width + 3u) / 4u;
  let i = t / groups;
  let j0 = (t % groups) * 4u;
  let k = params.k;
  if (i >= params.rows || j0 > k) {
    return;
  }
  let row = i * width;
  let n = vec4u(idx[row + j0], idx[row + min(j0 + 1u, k)], idx[row + min(j0 + 2u, k)], idx[row + min(j0 + 3u, k)]);
  let dim4 = params.dim / 4u;
  let qi = i * dim4;
  var s = vec4f(0.0);
  for (var d4 = 0u; d4 < dim4; d4++) {
    let a = q4[qi + d4];
    s = vec4f(
      dot_chain(s.x, a, candidate4(n.x, d4)),
      dot_chain(s.y, a, candidate4(n.y, d4)),
      dot_chain(s.z, a, candidate4(n.z, d4)),
      dot_chain(s.w, a, candidate4(n.w, d4)),
    );
  }
  for (var m = 0u; m < 4u && j0 + m <= k; m++) {
    scores[row + j0 + m] = s[m];
  }
  if (j0 == 0u) {
    pos_scores[i] = s.x;
  }
}

// A dQ or dC thread's place: row r of the output, its first vec4 column c0, and the four columns it loads (those
// past the row repeat the last).
struct ColumnGroup {
  r: u32,
  c0: u32,
  c: vec4u,
}

fn column_group(e: u32) -> ColumnGroup {
  let dim4 = params.dim / 4u;
  let groups = (dim4 + 3u) / 4u;
  let c0 = (e % groups) * 4u;
  let last = dim4 - 1u;
  return ColumnGroup(e / groups, c0, vec4u(c0, min(c0 + 1u, last), min(c0 + 2u, last), min(c0 + 3u, last)));
}

fn store_group4(g: ColumnGroup, a0: vec4f, a1: vec4f, a2: vec4f, a3: vec4f) {
  let dim4 = params.dim / 4u;
  let out = g.r * dim4 + g.c0;
  let acc = array<vec4f, 4>(a0, a1, a2, a3);
  for (var m = 0u; m < 4u && g.c0 + m < dim4; m++) {
    grad_out4[out + m] = acc[m];
  }
}

// Thread per (i, four vec4 columns).
@compute @workgroup_size(WG)
fn gather_dq4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = column_group(flat_index(gid, nwg));
  if (g.r >= params.rows) {
    return;
  }
  let row = g.r * (params.k_max + 1u);
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var j = 0u; j <= params.k; j++) {
    let ds = vec4f(scores[row + j]);
    let n = idx[row + j];
    a0 = fma(ds, candidate4(n, g.c.x), a0);
    a1 = fma(ds, candidate4(n, g.c.y), a1);
    a2 = fma(ds, candidate4(n, g.c.z), a2);
    a3 = fma(ds, candidate4(n, g.c.w), a3);
  }
  store_group4(g, a0, a1, a2, a3);
}

// Thread per (n, four vec4 columns).
@compute @workgroup_size(WG)
fn gather_dc4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = column_group(flat_index(gid, nwg));
  if (g.r >= params.candidates) {
    return;
  }
  let width = params.k_max + 1u;
  let dim4 = params.dim / 4u;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var p = csr_offsets[g.r]; p < csr_offsets[g.r + 1u]; p++) {
    let slot = csr_slots[p];
    if (slot % width <= params.k) {
      let ds = vec4f(scores[slot]);
      let qi = (slot / width) * dim4;
      a0 = fma(ds, q4[qi + g.c.x], a0);
      a1 = fma(ds, q4[qi + g.c.y], a1);
      a2 = fma(ds, q4[qi + g.c.z], a2);
      a3 = fma(ds, q4[qi + g.c.w], a3);
    }
  }
  store_group4(g, a0, a1, a2, a3);
}

// ---- In-batch layout -------------------------------------------------------

// pos_scores[i] = z_i · z_partner(i); thread per row.
@compute @workgroup_size(WG)
fn pair_scores(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= params.rows) {
    return;
  }
  let a = i * params.dim;
  let b = partner(i) * params.dim;
  var s = 0.0;
  for (var d = 0u; d < params.dim; d++) {
    s = fma(q[a + d], q[b + d], s);
  }
  pos_scores[i] = s;
}

// Tiled backward: overwrite a tile of S with G_ak + G_ka, the gradient of the
// mean loss through both s_ak (row a's loss) and s_ka (row k's; S is
// symmetric), so that dZ_a = Σ_k G_ak·z_k needs no second (column) pass and
// no atomics. Thread per element.
@compute @workgroup_size(WG)
fn sym_grad_tile(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let r = e / block.ncols;
  let c = e % block.ncols;
  if (r >= block.nrows) {
    return;
  }
  let a = block.row0 + r;
  let k = block.col0 + c;
  let at = r * block.stride + c;
  let s = scores[at];
  scores[at] = score_grad(column_kind(a, k), s, coef[a]) + score_grad(column_kind(k, a), s, coef[k]);
}

// ---- The reduction ---------------------------------------------------------

var<workgroup> wg_stats: array<Stats, WG>;
var<workgroup> wg_coef: vec4f;

// The Stats of one lane of a row's reduction: the block's columns lane, lane + WG, … in order.
fn lane_stats(row: u32, base: u32, lane: u32, s_pos: f32) -> Stats {
  var st = empty_stats();
  for (var c = lane; c < block.ncols; c += WG) {
    let kind = column_kind(row, block.col0 + c);
    if (kind == NEG) {
      st = push_negative(st, scores[base + c], s_pos);
    } else if (kind == POS && params.supcon == 1u) {
      st = push_positive(st, scores[base + c]);
    }
  }
  return st;
}

// Joins the block's Stats to the row's; on the LAST block finalises the row. Returns its backward coefficients
// (meaningful on the LAST block only).
fn finish_row(row: u32, block_stats: Stats, s_pos: f32) -> vec4f {
  var total = block_stats;
  if ((block.flags & FIRST) == 0u) {
    total = merge_stats(stats[row], total);
  }
  stats[row] = total;
  if ((block.flags & LAST) == 0u) {
    return vec4f(0.0);
  }
  var result: RowResult;
  if (params.supcon == 1u) {
    result = finalize_supcon(total);
  } else {
    result = finalize(total, s_pos);
  }
  row_out[row] = result.out;
  coef[row] = result.coef;
  below[row] = u32(total.below);
  return result.coef;
}

// SupCon has no single positive to count negatives below: no score is below EMPTY.
fn positive_score(row: u32) -> f32 {
  return select(pos_scores[row], EMPTY, params.supcon == 1u);
}

// One workgroup per row of the block: merge the block's negatives into the
// row's Stats; on the LAST block finalise; with GRAD write dScores in place.
@compute @workgroup_size(WG)
fn row_loss_and_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_index) lid: u32) {
  let r = group_index(wid, nwg);
  if (r >= block.nrows) {
    return; // the same for the whole workgroup, so the barriers below stay uniform
  }
  let row = block.row0 + r;
  let s_pos = positive_score(row);
  let base = r * block.stride;
  wg_stats[lid] = lane_stats(row, base, lid, s_pos);
  workgroupBarrier();
  for (var span = WG / 2u; span > 0u; span /= 2u) {
    if (lid < span) {
      wg_stats[lid] = merge_stats(wg_stats[lid], wg_stats[lid + span]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    wg_coef = finish_row(row, wg_stats[0], s_pos);
  }
  if ((block.flags & GRAD) != 0u) {
    workgroupBarrier();
    let k = wg_coef;
    for (var c = lid; c < block.ncols; c += WG) {
      scores[base + c] = score_grad(column_kind(row, block.col0 + c), scores[base + c], k);
    }
  }
}

// row_loss_and_grad with a thread, not a workgroup, per row: the same sums in the same order, so the same bits
// (where the driver compiles the shared helpers alike in both entries), without barriers (llvmpipe runs a barrier as a switch between a workgroup's SIMD groups: 3 ms of a 257-row sampled
// loss at K = 1). The thread splits the columns among WG lanes as the workgroup does and merges the lanes' Stats in
// the workgroup's tree order (span WG/2 down to 1) depth first: the leaf at depth-first position p is lane
// reverseBits(p), and a stack holds the finished subtrees still waiting for their right-hand sibling.
@compute @workgroup_size(WG)
fn row_loss_and_grad_by_thread(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flat_index(gid, nwg);
  if (r >= block.nrows) {
    return;
  }
  let row = block.row0 + r;
  let s_pos = positive_score(row);
  let base = r * block.stride;
  let levels = countTrailingZeros(WG); // WG is a power of two, at most 128 (checked in src/ops/contrast.ts)
  var stack: array<Stats, 8>; // log2(WG) + 1 subtrees wait at most
  var top = 0u;
  for (var p = 0u; p < WG; p++) {
    stack[top] = lane_stats(row, base, reverseBits(p) >> (32u - levels), s_pos);
    top++;
    // Each trailing 1 bit of p completes a subtree: it merges into its left-hand sibling, finished before it.
    for (var bits = p; (bits & 1u) == 1u; bits >>= 1u) {
      top--;
      stack[top - 1u] = merge_stats(stack[top - 1u], stack[top]);
    }
  }
  let k = finish_row(row, stack[0], s_pos);
  if ((block.flags & GRAD) != 0u) {
    for (var c = 0u; c < block.ncols; c++) {
      scores[base + c] = score_grad(column_kind(row, block.col0 + c), scores[base + c], k);
    }
  }
}

// ---- Read-outs -------------------------------------------------------------

var<workgroup> wg_sums: array<vec4f, WG>; // loss, η, l_0, below / M (SupCon: Σ_p l_p, top-1 hit)
var<workgroup> wg_lse: array<vec3f, WG>; // LSE state of the plain negatives, rows with every negative below
var<workgroup> wg_counts: array<vec3f, WG>; // SupCon: rows with a positive, Σ|P|, Σ M

// One workgroup over all rows. readouts = [mean loss, InfoNCE MI bound
// log(M+1) - L capped at log(M+1), Donsker–Varadhan estimate, mean η, mean
// fraction of negatives below the positive, M, rows, fraction of rows with
// every negative below the positive].
//
// SupCon, over the rows with a positive only (none: all 0): [mean loss,
// log(N-1) - L capped at log(N-1), DV with every positive pair a sample of
// the joint and every negative pair one of the marginals, mean η, 0 (no
// single positive to rank negatives against), mean M, rows with a positive,
// fraction of rows whose highest-scoring other row is a positive].
@compute @workgroup_size(WG)
fn reduce_readouts(@builtin(local_invocation_index) lid: u32) {
  let supcon = params.supcon == 1u;
  let m = f32(negatives());
  var sums = vec4f(0.0);
  var lse = vec3f(EMPTY, 0.0, 0.0);
  var counts = vec3f(0.0);
  for (var i = lid; i < params.rows; i += WG) {
    let o = row_out[i];
    if (supcon) {
      let st = stats[i];
      if (st.n_p > 0.0) {
        let m_i = f32(params.rows - 1u) - st.n_p;
        sums += vec4f(o.x, o.y, st.n_p * st.mean_p, select(0.0, 1.0, st.m_p > st.m_l));
        lse = vec3f(lse_merge(lse.x, lse.y, o.w, select(0.0, 1.0, m_i > 0.0)).xy, 0.0);
        counts += vec3f(1.0, st.n_p, m_i);
      }
    } else {
      let b = f32(below[i]);
      sums += vec4f(o.x, o.y, o.z, b / m);
      let merged = lse_merge(lse.x, lse.y, o.w, 1.0);
      lse = vec3f(merged.xy, lse.z + select(0.0, 1.0, b == m));
    }
  }
  wg_sums[lid] = sums;
  wg_lse[lid] = lse;
  wg_counts[lid] = counts;
  workgroupBarrier();
  for (var span = WG / 2u; span > 0u; span /= 2u) {
    if (lid < span) {
      wg_sums[lid] += wg_sums[lid + span];
      let x = wg_lse[lid];
      let y = wg_lse[lid + span];
      wg_lse[lid] = vec3f(lse_merge(x.x, x.y, y.x, y.y).xy, x.z + y.z);
      wg_counts[lid] += wg_counts[lid + span];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let totals = wg_sums[0];
    let all = wg_lse[0];
    if (supcon) {
      let c = wg_counts[0];
      let n = max(c.x, 1.0); // no row with a positive: every sum is 0, and so is every read-out
      let mean_loss = totals.x / n;
      let log_a = log(f32(params.rows - 1u));
      let valid = c.x > 0.0;
      readouts[0] = mean_loss;
      readouts[1] = select(0.0, min(log_a - mean_loss, log_a), valid);
      readouts[2] = select(0.0, totals.z / c.y - (all.x + log(all.y)) + log(c.z), c.z > 0.0);
      readouts[3] = totals.y / n;
      readouts[4] = 0.0;
      readouts[5] = c.z / n;
      readouts[6] = c.x;
      readouts[7] = totals.w / n;
      return;
    }
    let n = f32(params.rows);
    let mean_loss = totals.x / n;
    let log_m1 = log(m + 1.0);
    readouts[0] = mean_loss;
    readouts[1] = min(log_m1 - mean_loss, log_m1);
    readouts[2] = totals.z / n - (all.x + log(all.y)) + log(n * m);
    readouts[3] = totals.y / n;
    readouts[4] = totals.w / n;
    readouts[5] = m;
    readouts[6] = n;
    readouts[7] = all.z / n;
  }
}
