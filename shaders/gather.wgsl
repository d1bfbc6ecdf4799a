// Gather rows of a u8 dataset into f32 rows, converting in the kernel:
//
//   out[r, p] = scale · byte(ids[r], p) + shift                     gather_rows
//   out[r, p] = scale · bilinear(ids[r], warps[r] · pixel p) + shift  gather_warped
//   out[r, p] = contrast_r · (the warped value) + brightness_r + noise_r·N(0, 1)
//                                                                     gather_augmented
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
// Per row: contrast, brightness, noise sd, and the noise seed's bits (gather_augmented).
@group(0) @binding(5) var<storage, read> photometric: array<vec4f>;

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

// Output element i of a warped row: the source image sampled bilinearly at
// warps[r] · (pixel centre), both measured from the image centre.
fn warped(i: u32) -> f32 {
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
  return params.scale * mix(top, bottom, f.y) + params.shift;
}

@compute @workgroup_size(WG)
fn gather_warped(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i < params.rows * params.width) {
    out[i] = warped(i);
  }
}

// A hash of 32 bits (PCG's output permutation): independent-looking values
// from (seed, pixel), so the noise needs no state and no random buffer.
fn hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// A standard normal sample for pixel p of a row (Box–Muller on two hashed uniforms in (0, 1)).
fn gaussian(seed: u32, p: u32) -> f32 {
  let u1 = (f32(hash(seed ^ hash(2u * p)) >> 8u) + 0.5) / 16777216.0;
  let u2 = (f32(hash(seed ^ hash(2u * p + 1u)) >> 8u) + 0.5) / 16777216.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// Warped, then per row contrast·v + brightness + noise·N(0, 1): the photometric
// half of an augmentation, after the geometric half.
@compute @workgroup_size(WG)
fn gather_augmented(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat_index(gid, nwg);
  if (i >= params.rows * params.width) {
    return;
  }
  let look = photometric[i / params.width];
  let noise = look.z * gaussian(bitcast<u32>(look.w), i % params.width);
  out[i] = look.x * warped(i) + look.y + noise;
}
