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
// elements; clip_scale (one workgroup) sums them and writes clip = [scale, ‖g‖].

override WG: u32; // threads per workgroup, from the launcher
override ITEMS: u32; // gradients summed per thread by sq_partial, from the launcher

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
  params[i] = p - hyper.lr * (m1 / hyper.bc1) / (sqrt(v1 / hyper.bc2) + hyper.eps);
}

var<workgroup> wg_sum: array<f32, WG>;

// Tree sum of one value per invocation; call from uniform control flow. The
// result is valid in invocation 0.
fn workgroup_sum(lid: u32, value: f32) -> f32 {
  wg_sum[lid] = value;
  workgroupBarrier();
  for (var span = WG / 2u; span > 0u; span /= 2u) {
    if (lid < span) {
      wg_sum[lid] += wg_sum[lid + span];
    }
    workgroupBarrier();
  }
  return wg_sum[0];
}

@compute @workgroup_size(WG)
fn sq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let group = wid.y * nwg.x + wid.x;
  let start = group * WG * ITEMS;
  var s = 0.0;
  for (var k = 0u; k < ITEMS; k++) {
    let i = start + k * WG + lid;
    if (i < hyper.n) {
      s = fma(grads[i], grads[i], s);
    }
  }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) {
    partial[group] = total;
  }
}

@compute @workgroup_size(WG)
fn clip_scale(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < hyper.partials; i += WG) {
    s += partial[i];
  }
  let total = workgroup_sum(lid, s);
  if (lid == 0u) {
    let norm = sqrt(total);
    clip[0] = min(1.0, hyper.max_norm / (norm + 1e-6));
    clip[1] = norm;
  }
}
