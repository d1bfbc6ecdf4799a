// Optimizers over the flat parameter buffer: one thread per parameter, one
// dispatch per step (src/optim/optimizer.ts).
//
//   params, grads, m, v are [n]. Gradients are first multiplied by
//   clip[0]: 1, or min(1, max_norm / ‖g‖) from the global-norm pass.
//
//   sgd_step   v = momentum·v + g' ;  p -= lr·v            (g' = g + wd·p: L2 decay)
//   adam_step  p -= lr·wd·p when decoupled (AdamW), else g' = g + wd·p (Adam + L2);
//              m = β1·m + (1-β1)·g' ;  v = β2·v + (1-β2)·g'²
//              p -= lr · (m / bc1) / (sqrt(v / bc2) + ε)   bc = 1 - β^t (host-computed)
//
// Global norm: sq_partial writes one partial Σg² per workgroup of WG·ITEMS
// elements, scaled by a power of two so that it cannot overflow; clip_scale
// (one workgroup) sums them and writes clip = [scale, ‖g‖].

override WG: u32; // threads per workgroup, from the launcher
override ITEMS: u32; // gradients summed per thread by sq_partial, from the launcher

// The largest finite f32, exactly (a decimal like 3.40282347e38 lies above it, and Tint refuses it).
const F32_MAX: f32 = 0x1.fffffep+127f;

struct Hyper {
  n: u32,
  decoupled: u32,
  partials: u32,
  _pad: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  momentum: f32,
  bc1: f32,
  bc2: f32,
  max_norm: f32,
  // 1 - β computed on the host in float64: in fp32, 1 - 0.999 is off by 1.3e-5 relative.
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  _pad1: f32,
}

@group(0) @binding(0) var<uniform> hyper: Hyper;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> clip: array<f32>;
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;

// Thread → item: the launcher folds a long grid into x and y (src/gpu/_kernel.ts); unfold it.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

@compute @workgroup_size(WG)
fn sgd_step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= hyper.n) {
    return;
  }
  let p = params[i];
  let g = grads[i] * clip[0] + hyper.weight_decay * p;
  let vel = hyper.momentum * m[i] + g;
  m[i] = vel;
  params[i] = p - hyper.lr * vel;
}

@compute @workgroup_size(WG)
fn adam_step(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= hyper.n) {
    return;
  }
  var p = params[i];
  var g = grads[i] * clip[0];
  if (hyper.decoupled == 1u) {
    p -= hyper.lr * hyper.weight_decay * p;
  } else {
    g += hyper.weight_decay * p;
  }
  let m1 = hyper.beta1 * m[i] + hyper.one_minus_beta1 * g;
  let v1 = hyper.beta2 * v[i] + hyper.one_minus_beta2 * g * g;
  m[i] = m1;
  v[i] = v1;
  // v/bc2 overflows before v does (bc2 = 1 - β2^t is 0.001 at t = 1): then divide the square roots instead.
  let scaled_v = v1 / hyper.bc2;
  let rms = select(sqrt(scaled_v), sqrt(v1) / sqrt(hyper.bc2), scaled_v > F32_MAX);
  let p1 = p - hyper.lr * (m1 / hyper.bc1) / (rms + hyper.eps);
  // v itself is past f32 once |g| > ~5.8e20: the update cannot be represented, and dividing by an infinite v
  // would freeze the parameter silently. Write NaN instead, so that the next loss is NaN and training stops.
  // The NaN comes from a variable: a constant NaN is a shader-creation error in WGSL (Tint refuses it).
  var nan_bits = 0x7fc00000u;
  params[i] = select(p1, bitcast<f32>(nan_bits), !(v1 <= F32_MAX));
}

var<workgroup> wg_sum: array<f32, WG>;

// Tree reduction of one value per invocation, a sum or (take_max) a maximum;
// call from uniform control flow. The result is valid in invocation 0.
fn workgroup_reduce(lid: u32, value: f32, take_max: bool) -> f32 {
  wg_sum[lid] = value;
  workgroupBarrier();
  for (var span = WG / 2u; span > 0u; span /= 2u) {
    if (lid < span) {
      let other = wg_sum[lid + span];
      wg_sum[lid] = select(wg_sum[lid] + other, max(wg_sum[lid], other), take_max);
    }
    workgroupBarrier();
  }
  let result = wg_sum[0];
  workgroupBarrier(); // before wg_sum is written again
  return result;
}

// The exponent e of a power of two 2^e ≥ |x|: scaling by 2^-e is exact, so a
// scaled sum of squares is the plain sum times 4^-e, bit for bit, without
// overflowing (Σg² passes f32 from |g| ≈ 1.8e19; the scaled sum never does).
fn scale_exponent(x: f32) -> i32 {
  return select(0, frexp(x).exp, x > 0.0);
}

// partial[group] = Σ (g·2^-e)² over the group's WG·ITEMS gradients, and
// partial[partials + group] = e, from the group's largest |g|.
@compute @workgroup_size(WG)
fn sq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let group = wid.y * nwg.x + wid.x;
  let start = group * WG * ITEMS;
  var largest = 0.0;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG + lid;
    if (i < hyper.n) {
      largest = max(largest, abs(grads[i]));
    }
  }
  let e = scale_exponent(workgroup_reduce(lid, largest, true));
  var s = 0.0;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG + lid;
    if (i < hyper.n) {
      let x = ldexp(grads[i], -e);
      s = fma(x, x, s);
    }
  }
  let total = workgroup_reduce(lid, s, false);
  if (lid == 0u) {
    partial[group] = total;
    partial[hyper.partials + group] = f32(e);
  }
}

// The global norm from the partials, each rescaled to the largest exponent
// (exactly, by powers of two), and the clipping factor.
@compute @workgroup_size(WG)
fn clip_scale(@builtin(local_invocation_index) lid: u32) {
  var e_max = -1e9;
  for (var i = lid; i < hyper.partials; i += WG) {
    e_max = max(e_max, partial[hyper.partials + i]);
  }
  let e = i32(workgroup_reduce(lid, e_max, true));
  var s = 0.0;
  for (var i = lid; i < hyper.partials; i += WG) {
    s += ldexp(partial[i], 2 * (i32(partial[hyper.partials + i]) - e));
  }
  let total = workgroup_reduce(lid, s, false);
  if (lid == 0u) {
    let norm = ldexp(sqrt(total), e); // Inf only when the norm itself is past f32: the trainer stops on it
    clip[0] = min(1.0, hyper.max_norm / (norm + 1e-6));
    clip[1] = norm;
  }
}
