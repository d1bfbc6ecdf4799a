import assert from "node:assert/strict";
import { PHOTOMETRIC_FLOATS, randomPhotometric, randomWarps } from "../../src/data/augment.ts";
import { Rng } from "../../src/data/random.ts";
import { WARP_FLOATS } from "../../src/ops/gather.ts";
import { freshSeed } from "../util/random.ts";

/** Checks every crop window of `warps` and returns the areas of those not clamped at the image's edge. */
function cropAreas(warps: Float32Array, [h, w]: [number, number], [low, high]: [number, number]): number[] {
  const areas: number[] = [];
  for (let r = 0; r < warps.length / WARP_FLOATS; r++) {
    // The inverse warp maps an output pixel (from the image centre) to its source: x ↦ fx·x + cx, y ↦ fy·y + cy.
    const m = warps.subarray(r * WARP_FLOATS, (r + 1) * WARP_FLOATS);
    const [fx, fy, cx, cy] = [m[0], m[5], m[8], m[9]];
    assert.ok(Math.abs(m[1]) < 1e-7 && Math.abs(m[4]) < 1e-7, `no rotation or shear: ${m[1]}, ${m[4]}`);
    assert.ok(fx > 0 && fx <= 1 + 1e-6 && fy > 0 && fy <= 1 + 1e-6, `a crop shrinks the source: ${fx}, ${fy}`);
    // The output's corners land inside the source image (1e-4 px for f32).
    assert.ok(Math.abs(cx) + (fx * w) / 2 <= w / 2 + 1e-4, `window inside in x: ${cx} ± ${(fx * w) / 2}`);
    assert.ok(Math.abs(cy) + (fy * h) / 2 <= h / 2 + 1e-4, `window inside in y: ${cy} ± ${(fy * h) / 2}`);
    assert.ok(fx * fy <= high + 1e-6, `area ${fx * fy} above ${high}`);
    // A window not clamped at the edge keeps its drawn area and an aspect ratio in [3/4, 4/3].
    if (fx < 1 - 1e-6 && fy < 1 - 1e-6) {
      assert.ok(fx * fy >= low - 1e-6, `area ${fx * fy} below ${low}`);
      assert.ok(fx / fy >= 0.75 - 1e-6 && fx / fy <= 4 / 3 + 1e-6, `aspect ${fx / fy}`);
      areas.push(fx * fy);
    }
  }
  return areas;
}

Deno.test("random resized crops: each window lies inside the image, covers a drawn fraction of it, and is stretched over the output", () => {
  const rng = new Rng(freshSeed("crop"));
  const size: [number, number] = [28, 20];
  const plain = { rotate: 0, scale: [1, 1] as const, shear: 0, translate: 0, size };
  // Up to the whole image: large windows with a long side are clamped at the edge.
  cropAreas(randomWarps(rng, 2000, { ...plain, crop: [0.3, 1] }), size, [0.3, 1]);
  // Below 0.5 no window reaches an edge (√(0.5·4/3) < 1): the area is drawn uniformly, so its mean is the middle.
  const areas = cropAreas(randomWarps(rng, 2000, { ...plain, crop: [0.2, 0.5] }), size, [0.2, 0.5]);
  assert.equal(areas.length, 2000);
  const mean = areas.reduce((a, b) => a + b, 0) / areas.length;
  const se = 0.3 / Math.sqrt(12 * areas.length);
  assert.ok(Math.abs(mean - 0.35) < 4 * se, `mean area ${mean} (4 se = ${4 * se})`);
});

Deno.test("random photometric changes are drawn inside their ranges, with a 32-bit noise seed per row, and replay from the RNG state", () => {
  const seed = freshSeed("photometric");
  const ranges = { contrast: [0.7, 1.3] as const, brightness: 0.2, noise: 0.1 };
  const looks = randomPhotometric(new Rng(seed), 500, ranges);
  const seeds = new Uint32Array(looks.buffer);
  for (let r = 0; r < 500; r++) {
    const [c, b, n] = looks.subarray(r * PHOTOMETRIC_FLOATS, r * PHOTOMETRIC_FLOATS + 3);
    assert.ok(c >= 0.7 - 1e-6 && c <= 1.3 + 1e-6 && Math.abs(b) <= 0.2 + 1e-6 && n >= 0 && n <= 0.1 + 1e-6);
  }
  assert.ok(new Set(seeds.filter((_, i) => i % 4 === 3)).size > 490, "noise seeds differ between rows");
  assert.deepEqual(randomPhotometric(new Rng(seed), 500, ranges), looks);
});
