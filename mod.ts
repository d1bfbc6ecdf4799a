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
 * @module
 */

// The GPU context, tensors, errors, timing.
export { Gpu, requestGpu } from "./src/gpu/device.ts";
export type {
  AdapterInfo,
  Binding,
  BindingKind,
  Encodable,
  GpuCounters,
  GpuOptions,
  OverrideConstants,
} from "./src/gpu/device.ts";
export { DeviceLostError, GpuError, NoAdapterError, OutOfMemoryError } from "./src/gpu/errors.ts";
export type { GpuErrorKind } from "./src/gpu/errors.ts";
export { Tensor } from "./src/gpu/tensor.ts";
export type { DType, HostArray } from "./src/gpu/tensor.ts";
export { timeGpu } from "./src/gpu/timing.ts";
export type { Timing, TimingOptions } from "./src/gpu/timing.ts";

// Kernels.
export { matmul, MATMUL_VARIANTS, MatmulKernel, tuneMatmul } from "./src/ops/matmul.ts";
export type { MatmulForm, MatmulOptions, MatmulTrial, MatmulVariant } from "./src/ops/matmul.ts";
export { activationBackward, activationForward } from "./src/ops/activation.ts";
export type { Activation } from "./src/ops/activation.ts";
export { l2normBackward, l2normForward } from "./src/ops/l2norm.ts";
export { gatherBytes, packBytes, WARP_FLOATS, wordsPerRow } from "./src/ops/gather.ts";
export type { ByteRowLayout, GatherOptions } from "./src/ops/gather.ts";

// Contrastive losses: one reduction, several weightings, two layouts.
export { ContrastiveLoss } from "./src/losses/loss.ts";
export type { ContrastiveOptions, ContrastiveReadouts } from "./src/losses/loss.ts";
export { SampledContrastiveLoss } from "./src/losses/sampled.ts";
export type { SampledContrastiveOptions } from "./src/losses/sampled.ts";
export { NtXentLoss } from "./src/losses/nt_xent.ts";
export type { NtXentOptions } from "./src/losses/nt_xent.ts";
export type {
  AdnceWeighting,
  DclWeighting,
  HclWeighting,
  InfoNceWeighting,
  NegativeWeighting,
} from "./src/losses/weighting.ts";

// Layers, parameters, optimizers.
export { ParameterStore } from "./src/nn/parameters.ts";
export type { Init, ParameterSlot } from "./src/nn/parameters.ts";
export { ActivationLayer, L2Normalize, Linear, mlp, Sequential, twoTower } from "./src/nn/layers.ts";
export type { BoundLayer, BoundNetwork, Layer, MlpOptions, TwoTowerOptions } from "./src/nn/layers.ts";
export { EmbeddingBag } from "./src/nn/embedding.ts";
export type { BoundEmbedding } from "./src/nn/embedding.ts";
export { Optimizer, warmupCosine } from "./src/optim/optimizer.ts";
export type { OptimizerKind, OptimizerOptions } from "./src/optim/optimizer.ts";

// Data.
export { gaussian, Rng, seededRandom } from "./src/data/random.ts";
export { SyntheticClusters } from "./src/data/synthetic.ts";
export type { SyntheticOptions } from "./src/data/synthetic.ts";
export { DeviceDataset, sliceRows, syntheticImages, syntheticSplits } from "./src/data/dataset.ts";
export type { LabelledBytes, SyntheticImagesOptions } from "./src/data/dataset.ts";
export { IdxError, injectLabelNoise, parseIdx, readIdx } from "./src/data/idx.ts";
export type { IdxArray } from "./src/data/idx.ts";
export { FASHION_MNIST_DIR, hasMnistFiles, loadMnistFiles } from "./src/data/fashion_mnist.ts";
export { randomWarps } from "./src/data/augment.ts";
export type { AffineRanges } from "./src/data/augment.ts";

// Samplers.
export { PairSampler } from "./src/sampling/pairs.ts";
export type { PairSamplerOptions } from "./src/sampling/pairs.ts";
export { allBatchNegatives, BatchNegativeSampler } from "./src/sampling/batch_negatives.ts";
export type { BatchNegativeSamplerOptions } from "./src/sampling/batch_negatives.ts";
export { PoolSampler } from "./src/sampling/pool.ts";
export type { PoolSamplerOptions } from "./src/sampling/pool.ts";
export { EmbeddingQueue } from "./src/sampling/queue.ts";

// How many negatives: the K theory and K schedules.
export {
  bestK,
  bestKFromCounts,
  effectiveness,
  lambdaFromClasses,
  lambdaFromLabelNoise,
  limitBestK,
  modelAccuracyFromCounts,
  pairwiseAccuracy,
} from "./src/schedule/theory.ts";
export type { EffectivenessOptions, Informativeness } from "./src/schedule/theory.ts";
export { ansSchedule, closedLoopK, fixedK } from "./src/schedule/schedules.ts";
export type { AnsOptions, ClosedLoopOptions, KSchedule, ScheduleInput } from "./src/schedule/schedules.ts";
export { RankCountFeedback } from "./src/schedule/feedback.ts";
export type { RankCounts, RankCountState } from "./src/schedule/feedback.ts";

// Training: the step, the trainer, evaluation, checkpoints, charts.
export { TrainingStep } from "./src/train/step.ts";
export type { StepMetrics, StepOptions, StepParts } from "./src/train/step.ts";
export { Trainer } from "./src/train/trainer.ts";
export type { RecoveryOptions, TrainerOptions } from "./src/train/recovery.ts";
export { resolveTrainerConfig } from "./src/train/config.ts";
export type { ResolvedTrainerConfig, ScheduleConfig, TrainerConfig } from "./src/train/config.ts";
export { NonFiniteLossError } from "./src/train/records.ts";
export type { TrainerHooks, TrainRecord } from "./src/train/records.ts";
export { Embedder, knnEvaluate } from "./src/train/eval.ts";
export type { KnnResult } from "./src/train/eval.ts";
export type { Stateful, StatesOf } from "./src/train/state.ts";
export { loadCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export type { CheckpointState } from "./src/train/checkpoint.ts";
export { checkpointBytes, loadCheckpointBytes } from "./src/train/checkpoint_bytes.ts";
export { CheckpointError, decodeSafetensors, encodeSafetensors, readSafetensors } from "./src/train/safetensors.ts";
export type { HostTensor, SafetensorsDtype } from "./src/train/safetensors.ts";
export { svgCharts, terminalCharts } from "./src/train/charts.ts";
export type { EvalPoint } from "./src/train/charts.ts";
