/**
 * @module
 * scratchnet engine: Keras-exact forward propagation with SIMD WebAssembly kernels.
 *
 * ```ts
 * import { buildModel, Tensor } from "@scratchnet/engine";
 * const model = buildModel({ config, weights });
 * const y = model.predict(new Tensor(x, [n, 32, 32, 3]), { batchSize: 64 });
 * ```
 */
export {
  type DeviceTensor,
  type DType,
  formatShape,
  type Shape,
  sizeOf,
  Tensor,
} from "./src/tensor.ts";
export {
  EngineError,
  InputShapeError,
  LayerConfigError,
  ModelConfigError,
  UnsupportedLayerError,
  WeightShapeError,
} from "./src/errors.ts";
export {
  type CallContext,
  type KerasVarGroup,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
  type WeightTensor,
} from "./src/layer.ts";
// Keras config JSON: which classes are models, and the record check every config reader uses.
export { MODEL_CLASSES } from "./src/graph.ts";
export { isRecord } from "./src/spec.ts";
export {
  buildModel,
  type KerasObject,
  Model,
  type ModelBuildOptions,
  type ModelSpec,
  type PredictOptions,
} from "./src/model.ts";
export {
  createLayer,
  layerClass,
  layerVarGroups,
  layerWeightNames,
  layerWeightTrainable,
  onnxHookFor,
  paramOwners,
  supportedLayerClasses,
  trainingFor,
} from "./src/registry.ts";
export { defineLayer, type LayerClass } from "./src/layer_class.ts";
// ONNX export: the builder a layer class's `onnx` hook writes to (packages/onnx implements it).
export {
  innerContext,
  type OnnxAttribute,
  type OnnxCall,
  type OnnxElementType,
  OnnxExportError,
  type OnnxLayerContext,
  type OnnxTensorData,
} from "./src/onnx_emit.ts";
export { LAYER_CLASSES } from "./src/layers/mod.ts";
export {
  activateReference,
  type Activation,
  ActivationCode,
  isKeras2,
  resolveActivation,
  softmaxReference,
} from "./src/activations.ts";
export { getRuntime, wasmSimdSupported, WasmUnavailableError } from "./src/wasm/kernels.ts";
export {
  KernelThreadError,
  type KernelThreadOptions,
  kernelThreads,
  setKernelThreads,
  withoutKernelThreads,
} from "./src/wasm/threads.ts";

import { supportedLayerClasses } from "./src/registry.ts";
/** The Keras layer classes the engine runs (exactly those the importer accepts). */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = supportedLayerClasses();
export {
  createOpLayer,
  isOperationEntry,
  type OpEntryObject,
  SUPPORTED_OPERATIONS,
  unsupportedOperation,
} from "./src/ops/mod.ts";
export {
  accuracy,
  type ClassificationReport,
  classificationReport,
  confusionMatrix,
  macroF1,
  MetricsInputError,
  rocAucBinary,
  rocAucOvr,
} from "./src/metrics/classification.ts";
// CNN layers: geometry and the plain TypeScript references (oracles for other packages' tests).
export { type AxisGeometry, axisGeometry, type Padding } from "./src/conv_geometry.ts";
export { CONV_ALGORITHMS, type ConvAlgorithm } from "./src/winograd.ts";
export { type Conv2DParams, conv2dReference } from "./src/kernels/conv_reference.ts";
export {
  globalPool2dReference,
  type Pool2DParams,
  pool2dReference,
} from "./src/kernels/pool_reference.ts";
export { type BatchNormParams, batchNormReference } from "./src/kernels/batchnorm_reference.ts";
export { batchNormScaleShift } from "./src/layers/batch_normalization.ts";

// Preprocessing layers (Normalization.adapt) and the image operations of the augmentation layers.
export { Rescaling } from "./src/layers/rescaling.ts";
export {
  Normalization,
  NORMALIZATION_EPSILON,
  type NormalizationStats,
  normalizationStats,
} from "./src/layers/normalization.ts";
export { CenterCrop } from "./src/layers/center_crop.ts";
export { Resizing } from "./src/layers/resizing.ts";
export {
  adjustContrast,
  affineTransformImages,
  aspectCropWindow,
  type FillMode,
  flipImages,
  type Interpolation,
  resizeNearest,
  rotationTransform,
  type Transform8,
  translationTransform,
  zoomTransform,
} from "./src/layers/image_ops.ts";

// Text layers and their TypeScript references (oracles for other packages' tests).
export { Embedding } from "./src/layers/embedding.ts";
export { RecurrentLayer, type RecurrentOutput } from "./src/layers/recurrent.ts";
export { SimpleRNN } from "./src/layers/simple_rnn.ts";
export { LSTM } from "./src/layers/lstm.ts";
export { GRU } from "./src/layers/gru.ts";
export { Bidirectional } from "./src/layers/bidirectional.ts";
export { RnnCell } from "./src/kernels/rnn_codes.ts";
export {
  mergeReference,
  reverseTimeReference,
  rnnReference,
  type RnnReferenceArgs,
} from "./src/kernels/rnn_reference.ts";
export { embeddingMaskReference, embeddingReference } from "./src/kernels/embedding_reference.ts";

// Training: compile / fit / evaluate live on Model; these are their options, callbacks,
// optimizers, losses, initializers, errors, and the backward registry for layer authors.
export {
  type CompileOptions,
  type EvaluateOptions,
  type FitOptions,
  type Targets,
  Trainer,
  type ValidationData,
} from "./src/training/trainer.ts";
export {
  Callback,
  EarlyStopping,
  type EarlyStoppingOptions,
  type FitParams,
  formatCheckpointPath,
  History,
  type Logs,
  ModelCheckpoint,
  type ModelCheckpointOptions,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  type SaveModelFn,
} from "./src/training/callbacks.ts";
export { ProgressBar, type ProgressSink } from "./src/training/progress.ts";
export {
  Adam,
  type AdamOptions,
  AdamW,
  Optimizer,
  type OptimizerConfig,
  type OptimizerOptions,
  type ParamRef,
  resolveOptimizer,
  RMSprop,
  type RMSpropOptions,
  SGD,
  type SGDOptions,
} from "./src/training/optimizers.ts";
export { EPSILON, Loss, type LossConfig, type LossName } from "./src/training/losses.ts";
export {
  CosineDecay,
  type CosineDecayOptions,
  ExponentialDecay,
  type ExponentialDecayOptions,
  LearningRateSchedule,
  PiecewiseConstantDecay,
  resolveSchedule,
} from "./src/training/schedules.ts";
export { type Metric, type MetricKind, resolveMetrics } from "./src/training/metrics.ts";
export {
  computeFans,
  type Initializer,
  initialWeights,
  resolveInitializer,
} from "./src/training/initializers.ts";
export { SeededRandom } from "./src/training/random.ts";
export {
  TrainingConfigError,
  TrainingDataError,
  UntrainableLayerError,
} from "./src/training/errors.ts";
export { type ModelGradientOptions, modelGradients } from "./src/training/gradients.ts";
export { TrainingWorkerError } from "./src/training/parallel/errors.ts";
export { setTrainingWorkerUrl } from "./src/training/parallel/worker_url.ts";
export {
  PredictReplicaError,
  startedPredictReplicas,
} from "./src/training/parallel/replica_pool.ts";
export type { WorkersOption } from "./src/training/parallel/plan.ts";
export type { BatchStatistics } from "./src/layer.ts";
export { mixSeed, type Param, TrainingGraph } from "./src/training/graph.ts";
export type { BackwardArgs, LayerTraining, TrainContext } from "./src/layer_training.ts";
export { registerTraining, trainableLayerClasses } from "./src/registry.ts";
export { dropoutScaleReference } from "./src/kernels/activation_grad_reference.ts";
