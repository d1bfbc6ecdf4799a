// Gather rows of a u8 dataset into f32 rows, converting in the kernel:
//
//   out[r, p] = scale · byte(ids[r], p) + shift                     gather_rows
//   out[r, p] = scale · bilinear(ids[r], warps[r] · pixel p) + shift  gather_warped
//
// The dataset stays on the GPU in its smallest honest type: each row is
// `width` bytes packed four per u32 (little-endian, the row padded to
// `words` u32), so a 60,000-image set costs 47 MB instead of 188.
//
// gather_warped treats a row as an image_h × image_w image and applies an
// affine warp per output row. warps[r] maps an output pixel's centre,
// measured from the image centre, to the source position it samples
// (the inverse warp), so rotations and scalings are about the centre.
// Source positions outside the image read 0 (the background of MNIST-style
// images). One thread per output element; no data is written twice.

override WG: u32; // threads per workgroup, from the launcher

struct Params {
  rows: u32,
  width: u32,
  words: u32,
  image_w: u32,
  image_h: u32,
  scale: f32,
  shift: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> warps: array<mat3x3<f32>>;

fn byte_at(row: u32, p: u32) -> f32 {
  let word = data[row * params.words + p / 4u];
  return f32((word >> (8u * (p % 4u))) & 0xffu);
}

// A pixel of the source image, 0 outside it.
fn pixel(row: u32, x: i32, y: i32) -> f32 {
  if (x < 0 || y < 0 || x >= i32(params.image_w) || y >= i32(params.image_h)) {
    return 0.0;
  }
  return byte_at(row, u32(y) * params.image_w + u32(x));
}

// Thread → item: the launcher folds a long grid into x and y (src/gpu/_kernel.ts); unfold it.
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.y * nwg.x * WG + gid.x;
}

@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= params.rows * params.width) {
    return;
  }
  let r = i / params.width;
  out[i] = params.scale * byte_at(ids[r], i % params.width) + params.shift;
}

@compute @workgroup_size(WG)
fn gather_warped(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= params.rows * params.width) {
    return;
  }
  let r = i / params.width;
  let p = i % params.width;
  let half = vec2<f32>(f32(params.image_w), f32(params.image_h)) * 0.5;
  let centred = vec2<f32>(f32(p % params.image_w), f32(p / params.image_w)) + 0.5 - half;
  let source = (warps[r] * vec3<f32>(centred, 1.0)).xy + half - 0.5;
  let base = floor(source);
  let f = source - base;
  let x0 = i32(base.x);
  let y0 = i32(base.y);
  let row = ids[r];
  let top = mix(pixel(row, x0, y0), pixel(row, x0 + 1, y0), f.x);
  let bottom = mix(pixel(row, x0, y0 + 1), pixel(row, x0 + 1, y0 + 1), f.x);
  out[i] = params.scale * mix(top, bottom, f.y) + params.shift;
}
