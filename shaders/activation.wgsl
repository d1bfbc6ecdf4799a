// Elementwise activations, forward and backward: y = f(x), dX = dY · f'(x).
//
//   x, y, dY, dX are [n] (any shape, flattened); one thread per element.
//   ACT: 0 ReLU, 1 GELU (tanh form), 2 Tanh.
//   Backward reads the forward's input x (not y), so GELU needs no extra buffer.
//   dX is overwritten (activation grads are `=`, never `+=`).

override ACT: u32 = 0u;
override WG: u32; // threads per workgroup, from the launcher
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;

struct Dims {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // forward: y; backward: dX
@group(0) @binding(3) var<storage, read> dy: array<f32>;

// tanh that stays finite for large |u| (WGSL's tanh may overflow through exp on some drivers).
fn stable_tanh(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}

fn act(v: f32) -> f32 {
  if (ACT == 0u) {
    return max(v, 0.0);
  }
  if (ACT == 1u) {
    return 0.5 * v * (1.0 + stable_tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)));
  }
  return stable_tanh(v);
}

fn act_grad(v: f32) -> f32 {
  if (ACT == 0u) {
    return select(0.0, 1.0, v > 0.0);
  }
  if (ACT == 1u) {
    let u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
    let t = stable_tanh(u);
    let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * v * v);
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du;
  }
  let t = stable_tanh(v);
  return 1.0 - t * t;
}

// Thread → item: the launcher folds a long grid into x and y (src/gpu/_kernel.ts); unfold it.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

@compute @workgroup_size(WG)
fn act_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < dims.n) {
    y[i] = act(x[i]);
  }
}

@compute @workgroup_size(WG)
fn act_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < dims.n) {
    y[i] = dy[i] * act_grad(x[i]);
  }
}
