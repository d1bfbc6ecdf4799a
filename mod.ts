/**
 * ncegpu: contrastive encoders trained on WebGPU with hand-written WGSL
 * kernels and hand-written backward passes.
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

export { Gpu, requestGpu } from "./src/gpu/device.ts";
export type {
  AdapterInfo,
  Binding,
  BindingKind,
  GpuCounters,
  GpuOptions,
  OverrideConstants,
} from "./src/gpu/device.ts";
export { DeviceLostError, GpuError, NoAdapterError, OutOfMemoryError } from "./src/gpu/errors.ts";
export type { GpuErrorKind } from "./src/gpu/errors.ts";
export { Tensor } from "./src/gpu/tensor.ts";
export type { DType, HostArray } from "./src/gpu/tensor.ts";
export { median, timeGpu } from "./src/gpu/timing.ts";
export type { Timing, TimingOptions } from "./src/gpu/timing.ts";
export {
  matmul,
  MATMUL_VARIANTS,
  MatmulKernel,
  matmulOperandShapes,
  matmulShape,
  tuneMatmul,
} from "./src/ops/matmul.ts";
export { gaussian, Rng, seededRandom } from "./src/data/random.ts";
export {
  ContrastiveLoss,
  InBatchContrastiveLoss,
  parseReadouts,
  SampledContrastiveLoss,
} from "./src/losses/contrastive.ts";
export type {
  ContrastiveOptions,
  ContrastiveReadouts,
  InBatchContrastiveOptions,
  SampledContrastiveOptions,
} from "./src/losses/contrastive.ts";
export { weightingParams } from "./src/losses/weighting.ts";
export type {
  AdnceWeighting,
  DclWeighting,
  HclWeighting,
  InfoNceWeighting,
  NegativeWeighting,
  WeightingParams,
} from "./src/losses/weighting.ts";
export type { MatmulForm, MatmulOptions, MatmulTrial, MatmulVariant } from "./src/ops/matmul.ts";
export { activationBackward, activationForward } from "./src/ops/activation.ts";
export type { Activation } from "./src/ops/activation.ts";
export { l2normBackward, l2normForward } from "./src/ops/l2norm.ts";
export { encodeDispatch, foldGroups, namedDispatch, stepOf, uniformOf } from "./src/gpu/dispatch.ts";
export type { Dispatch, Step } from "./src/gpu/dispatch.ts";
export { ParameterStore } from "./src/nn/parameters.ts";
export type { Init, ParameterSlot } from "./src/nn/parameters.ts";
export { ActivationLayer, L2Normalize, Linear, mlp, Sequential, twoTower } from "./src/nn/layers.ts";
export type { BoundLayer, BoundNetwork, Layer, MlpOptions, TwoTowerOptions } from "./src/nn/layers.ts";
export { Optimizer, warmupCosine } from "./src/optim/optimizer.ts";
export type { OptimizerKind, OptimizerOptions } from "./src/optim/optimizer.ts";
export { loadCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export type { CheckpointState } from "./src/train/checkpoint.ts";
export {
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  writeFileAtomic,
} from "./src/train/safetensors.ts";
export type { HostTensor, SafetensorsDtype } from "./src/train/safetensors.ts";
export { TrainingStep, twoTowerStep } from "./src/train/step.ts";
export type { StepMetrics, StepOptions, StepParts, TwoTowerStep } from "./src/train/step.ts";
export { SyntheticClusters } from "./src/data/synthetic.ts";
export type { SyntheticOptions } from "./src/data/synthetic.ts";
export { EmbeddingBag } from "./src/nn/embedding.ts";
export type { BoundEmbedding } from "./src/nn/embedding.ts";
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
export { PoolSampler } from "./src/sampling/pool.ts";
export type { PoolSamplerOptions } from "./src/sampling/pool.ts";
export { IdxError, injectLabelNoise, parseIdx, readIdx } from "./src/data/idx.ts";
export type { IdxArray } from "./src/data/idx.ts";
export { gatherBytes, packBytes, WARP_FLOATS, wordsPerRow } from "./src/ops/gather.ts";
export type { ByteRowLayout, GatherOptions } from "./src/ops/gather.ts";
export { randomWarps } from "./src/data/augment.ts";
export type { AffineRanges } from "./src/data/augment.ts";
export { allInBatch, InBatchSampler } from "./src/sampling/in_batch.ts";
export type { InBatchSamplerOptions } from "./src/sampling/in_batch.ts";
export { EmbeddingQueue } from "./src/sampling/queue.ts";
export { checkLabelledBytes, DeviceDataset, sliceRows, syntheticImages, syntheticSplits } from "./src/data/dataset.ts";
export type { LabelledBytes, SyntheticImagesOptions } from "./src/data/dataset.ts";
export { FASHION_MNIST_DIR, hasMnistFiles, loadMnistFiles } from "./src/data/fashion_mnist.ts";
export { NonFiniteLossError, Trainer } from "./src/train/trainer.ts";
export type {
  ResolvedTrainerConfig,
  ScheduleConfig,
  TrainerConfig,
  TrainerHooks,
  TrainRecord,
} from "./src/train/trainer.ts";
export { knnEvaluate } from "./src/train/eval.ts";
export type { KnnResult } from "./src/train/eval.ts";
export { svgCharts, terminalCharts } from "./src/train/charts.ts";
export type { EvalPoint } from "./src/train/charts.ts";
