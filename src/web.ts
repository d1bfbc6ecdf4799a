/**
 * ncegpu for browsers: everything of `mod.ts` that runs in a page, and
 * nothing that touches `Deno`, files or Node built-ins. Left out, as Deno
 * only: `readIdx`, `loadMnistFiles`, `hasMnistFiles` and `FASHION_MNIST_DIR`
 * (files; in a page, fetch the IDX bytes and {@linkcode parseIdx} them),
 * `saveCheckpoint`, `loadCheckpoint` and `readSafetensors` (files; in a page,
 * {@linkcode checkpointBytes} and {@linkcode loadCheckpointBytes}, or
 * `Trainer.saveBytes` and `Trainer.resumeBytes`, make and take the same
 * safetensors bytes). `Trainer.save` and `Trainer.resume` take paths and work
 * in Deno only; they load their file code lazily, so a page never fetches it.
 *
 * `deno task build:web` bundles this module for browsers (the WGSL is
 * inlined); test/browser/web_bundle_test.ts holds it to that rule.
 *
 * @example Train a few steps on a synthetic set and keep the checkpoint's bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu, syntheticImages, Trainer } from "./web.ts";
 * const gpu = await requestGpu();
 * const train = syntheticImages({ rows: 200, side: 6, seed: 1 });
 * const test = syntheticImages({ rows: 50, side: 6, seed: 2 });
 * const config = { dims: [36, 16], batch: 16, kMax: 4, steps: 10, metricsEvery: 5, evalSizes: { bank: 100, queries: 50 } };
 * const trainer = new Trainer(gpu, { train, test }, config);
 * await trainer.run();
 * const bytes = await trainer.saveBytes(); // in a page: new Blob([bytes]) for a download link
 * const again = new Trainer(gpu, { train, test }, config);
 * again.resumeBytes(bytes);
 * assert.equal(again.stepsDone, 10);
 * trainer.destroy();
 * again.destroy();
 * gpu.destroy();
 * ```
 *
 * @module
 */

// The GPU context, tensors, errors, timing.
export { Gpu, requestGpu } from "./gpu/device.ts";
export type {
  AdapterInfo,
  Binding,
  BindingKind,
  Encodable,
  GpuCounters,
  GpuOptions,
  OverrideConstants,
} from "./gpu/device.ts";
export { DeviceLostError, GpuError, NoAdapterError, OutOfMemoryError } from "./gpu/errors.ts";
export type { GpuErrorKind } from "./gpu/errors.ts";
export { Tensor } from "./gpu/tensor.ts";
export type { DType, HostArray } from "./gpu/tensor.ts";
export { timeGpu } from "./gpu/timing.ts";
export type { Timing, TimingOptions } from "./gpu/timing.ts";

// Kernels.
export {
  boundMatmuls,
  matmul,
  MATMUL_FORMS,
  MATMUL_VARIANTS,
  MatmulKernel,
  matmulShapeClass,
  matmulVariantFits,
  transposeKernel,
} from "./ops/matmul.ts";
export type { BoundMatmul, MatmulForm, MatmulOptions, MatmulVariant } from "./ops/matmul.ts";
export { tuneMatmul, tuneMatmulShapes } from "./ops/matmul_tuning.ts";
export type { MatmulShape, MatmulTrial } from "./ops/matmul_tuning.ts";
export { applyMatmulTuning, matmulTuningRecord } from "./ops/matmul_tuning_record.ts";
export type { MatmulTuningRecord } from "./ops/matmul_tuning_record.ts";
export { activationBackward, activationForward } from "./ops/activation.ts";
export type { Activation } from "./ops/activation.ts";
export { l2normBackward, l2normForward } from "./ops/l2norm.ts";
export { COLUMN_CHUNK, columnSums } from "./ops/reduce.ts";
export { gatherBytes, packBytes, WARP_FLOATS, wordsPerRow } from "./ops/gather.ts";
export type { ByteRowLayout, GatherOptions } from "./ops/gather.ts";

// Contrastive losses: one reduction, several weightings, two layouts.
export { ContrastiveLoss } from "./losses/loss.ts";
export type { ContrastiveOptions, ContrastiveReadouts } from "./losses/loss.ts";
export { SampledContrastiveLoss } from "./losses/sampled.ts";
export type { SampledContrastiveOptions } from "./losses/sampled.ts";
export { NtXentLoss } from "./losses/nt_xent.ts";
export type { NtXentOptions } from "./losses/nt_xent.ts";
export { SupConLoss } from "./losses/supcon.ts";
export type { SupConOptions } from "./losses/supcon.ts";
export type {
  AdnceWeighting,
  DclWeighting,
  HclWeighting,
  InfoNceWeighting,
  NegativeWeighting,
} from "./losses/weighting.ts";

// Layers, parameters, optimizers.
export { ParameterStore } from "./nn/parameters.ts";
export type { Init, ParameterSlot } from "./nn/parameters.ts";
export { ActivationLayer, L2Normalize, Linear } from "./nn/layers.ts";
export type { BoundLayer, Layer } from "./nn/layers.ts";
export { mlp, Sequential, twoTower } from "./nn/sequential.ts";
export type { BoundNetwork, MlpOptions, TwoTowerOptions } from "./nn/sequential.ts";
export { EmbeddingBag } from "./nn/embedding.ts";
export type { BoundEmbedding } from "./nn/embedding.ts";
export { Optimizer, warmupCosine } from "./optim/optimizer.ts";
export type { OptimizerKind, OptimizerOptions } from "./optim/optimizer.ts";

// Data.
export { gaussian, Rng, seededRandom } from "./data/random.ts";
export { SyntheticClusters } from "./data/synthetic.ts";
export type { SyntheticOptions } from "./data/synthetic.ts";
export {
  DeviceDataset,
  FASHION_MNIST_MERGES,
  mergeClasses,
  moduloMerge,
  sliceRows,
  syntheticImages,
  syntheticSplits,
} from "./data/dataset.ts";
export type { LabelledBytes, SyntheticImagesOptions } from "./data/dataset.ts";
export { IdxError, injectLabelNoise, parseIdx } from "./data/idx.ts";
export type { IdxArray } from "./data/idx.ts";
export { MNIST_FILES, mnistSplits } from "./data/mnist.ts";
export type { IdxSplit } from "./data/mnist.ts";
export { PHOTOMETRIC_FLOATS, randomPhotometric, randomWarps } from "./data/augment.ts";
export type { AffineRanges, PhotometricRanges } from "./data/augment.ts";

// Samplers.
export { PairSampler } from "./sampling/pairs.ts";
export type { PairSamplerOptions } from "./sampling/pairs.ts";
export { allBatchNegatives, BatchNegativeSampler } from "./sampling/batch_negatives.ts";
export type { BatchNegativeSamplerOptions } from "./sampling/batch_negatives.ts";
export { PoolSampler } from "./sampling/pool.ts";
export type { PoolSamplerOptions } from "./sampling/pool.ts";
export { EmbeddingQueue } from "./sampling/queue.ts";
export type { QueueState } from "./sampling/queue.ts";

// How many negatives: the K theory and K schedules.
export {
  bestK,
  bestKFromCounts,
  effectiveness,
  lambdaFromClasses,
  lambdaFromCounts,
  lambdaFromLabelNoise,
  limitBestK,
  modelAccuracyFromCounts,
  pairwiseAccuracy,
} from "./schedule/theory.ts";
export type { EffectivenessOptions, Informativeness } from "./schedule/theory.ts";
export { ansSchedule, closedLoopK, fixedK } from "./schedule/schedules.ts";
export type { AnsOptions, ClosedLoopOptions, KSchedule, ScheduleInput } from "./schedule/schedules.ts";
export { RankCountFeedback } from "./schedule/feedback.ts";
export type { RankCounts, RankCountState } from "./schedule/feedback.ts";

// Training: the step, the trainer, evaluation, checkpoints, charts.
export { TrainingStep } from "./train/step.ts";
export type { StepMetrics, StepOptions, StepParts, ViewsLossOptions } from "./train/step.ts";
export { Trainer } from "./train/trainer.ts";
export type { RecoveryOptions, TrainerOptions } from "./train/recovery.ts";
export { resolveTrainerConfig } from "./train/config.ts";
export type { ResolvedTrainerConfig, ScheduleConfig, TrainerConfig, TrainerMode } from "./train/config.ts";
export { NonFiniteLossError } from "./train/records.ts";
export type { TrainerHooks, TrainRecord } from "./train/records.ts";
export { Embedder } from "./train/embedder.ts";
export { knnEvaluate, knnEvaluateOnGpu, pixelEmbeddings } from "./train/eval.ts";
export type { KnnOptions, KnnResult } from "./train/eval.ts";
export { linearProbe } from "./train/probe.ts";
export type { ProbeOptions, ProbeResult } from "./train/probe.ts";
export type { Stateful, StatesOf } from "./train/state.ts";
export { checkpointBytes, loadCheckpointBytes } from "./train/checkpoint_bytes.ts";
export { CheckpointError, decodeSafetensors, encodeSafetensors } from "./train/safetensors.ts";
export type { CheckpointState } from "./train/checkpoint_bytes.ts";
export type { HostTensor, SafetensorsDtype } from "./train/safetensors.ts";
export { svgCharts, terminalCharts } from "./train/charts.ts";
export type { EvalPoint } from "./train/charts.ts";
