/**
 * ncegpu: contrastive encoders trained on WebGPU with hand-written WGSL
 * kernels and hand-written backward passes.
 *
 * The API, in the order a training step uses it: the GPU context and
 * tensors; the kernels (matmul, activations, L2 norm, gather); the
 * contrastive losses and their negative weightings; layers, parameters and
 * optimizers; data; samplers; the K theory and schedules; the training
 * step, the trainer, evaluation and checkpoints. What the losses and the K
 * theory compute is in docs/science.md.
 *
 * @example Multiply two matrices on the GPU
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, Tensor, matmul } from "./mod.ts";
 * const gpu = await requestGpu();
 * console.log(gpu.info.description);
 * const a = Tensor.from(gpu, new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const c = matmul(gpu, a, a); // [[7, 10], [15, 22]]
 * assert.deepEqual(await c.read(), new Float32Array([7, 10, 15, 22]));
 * gpu.destroy();
 * ```
 *
 * `./web` (src/web.ts) is the same API less the file readers and writers
 * below (data, checkpoints, the matmul tuning cache), for pages and bundlers.
 *
 * @module
 */

// Everything that runs in a page too, grouped by topic: the GPU context, kernels, losses, layers and
// optimizers, data, samplers, the K theory, training and evaluation (src/web.ts).
export * from "./src/web.ts";

// Deno only: files.
export { readIdx } from "./src/data/idx.ts";
export { FASHION_MNIST_DIR, hasMnistFiles, loadMnistFiles } from "./src/data/fashion_mnist.ts";
export { loadCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export { readSafetensors } from "./src/train/safetensors.ts";
export {
  defaultTuningCacheDir,
  loadMatmulTuning,
  saveMatmulTuning,
  TRAINER_TUNING_VARIANTS,
  tuneTrainer,
  tuningCachePath,
} from "./src/train/tuning_cache.ts";
export type { TrainerTuning } from "./src/train/tuning_cache.ts";
