/**
 * Every layer class the engine runs: THE list. Adding a layer class is its file under `layers/`
 * (the class and its `LayerClass` definition, see `layer_class.ts`) plus one line here.
 *
 * @module
 */
import type { LayerClass } from "../layer_class.ts";
import { ACTIVATION } from "./activation.ts";
import { ACTIVITY_REGULARIZATION } from "./activity_regularization.ts";
import { ADD } from "./add.ts";
import { ADDITIVE_ATTENTION } from "./additive_attention.ts";
import { ATTENTION } from "./attention.ts";
import { AVERAGE } from "./average.ts";
import { AVERAGE_POOLING2D } from "./average_pooling2d.ts";
import { BATCH_NORMALIZATION } from "./batch_normalization.ts";
import { BIDIRECTIONAL } from "./bidirectional.ts";
import { CENTER_CROP } from "./center_crop.ts";
import { CONCATENATE } from "./concatenate.ts";
import { CONV2D } from "./conv2d.ts";
import { CONV2D_TRANSPOSE } from "./conv2d_transpose.ts";
import { CROPPING2D } from "./cropping2d.ts";
import { DENSE } from "./dense.ts";
import { DEPTHWISE_CONV2D } from "./depthwise_conv2d.ts";
import { DOT } from "./dot.ts";
import { DROPOUT } from "./dropout.ts";
import { ELU_LAYER } from "./elu.ts";
import { EMBEDDING } from "./embedding.ts";
import { FLATTEN } from "./flatten.ts";
import { GAUSSIAN_DROPOUT } from "./gaussian_dropout.ts";
import { GAUSSIAN_NOISE } from "./gaussian_noise.ts";
import { GLOBAL_AVERAGE_POOLING2D } from "./global_average_pooling2d.ts";
import { GLOBAL_MAX_POOLING2D } from "./global_max_pooling2d.ts";
import { GRU_LAYER } from "./gru.ts";
import { IDENTITY } from "./identity.ts";
import { INPUT_LAYER } from "./input_layer.ts";
import { LAYER_NORMALIZATION } from "./layer_normalization.ts";
import { LEAKY_RELU } from "./leaky_relu.ts";
import { LSTM_LAYER } from "./lstm.ts";
import { MAX_POOLING2D } from "./max_pooling2d.ts";
import { MAXIMUM } from "./maximum.ts";
import { MINIMUM } from "./minimum.ts";
import { MULTI_HEAD_ATTENTION } from "./multi_head_attention.ts";
import { MULTIPLY } from "./multiply.ts";
import { NORMALIZATION } from "./normalization.ts";
import { PRELU } from "./prelu.ts";
import { RANDOM_CONTRAST } from "./random_contrast.ts";
import { RANDOM_FLIP } from "./random_flip.ts";
import { RANDOM_ROTATION } from "./random_rotation.ts";
import { RANDOM_TRANSLATION } from "./random_translation.ts";
import { RANDOM_ZOOM } from "./random_zoom.ts";
import { RELU } from "./relu.ts";
import { RESCALING } from "./rescaling.ts";
import { RESHAPE } from "./reshape.ts";
import { RESIZING } from "./resizing.ts";
import { SEPARABLE_CONV2D } from "./separable_conv2d.ts";
import { SIMPLE_RNN } from "./simple_rnn.ts";
import { SOFTMAX } from "./softmax.ts";
import { SPATIAL_DROPOUT2D } from "./spatial_dropout2d.ts";
import { SUBTRACT } from "./subtract.ts";
import { TIME_DISTRIBUTED } from "./time_distributed.ts";
import { UP_SAMPLING2D } from "./up_sampling2d.ts";
import { ZERO_PADDING2D } from "./zero_padding2d.ts";
import { CONV1D } from "./conv1d.ts";
import { MAX_POOLING1D } from "./max_pooling1d.ts";
import { AVERAGE_POOLING1D } from "./average_pooling1d.ts";
import { GLOBAL_MAX_POOLING1D } from "./global_max_pooling1d.ts";
import { GLOBAL_AVERAGE_POOLING1D } from "./global_average_pooling1d.ts";
import { ZERO_PADDING1D } from "./zero_padding1d.ts";
import { CROPPING1D } from "./cropping1d.ts";
import { UP_SAMPLING1D } from "./up_sampling1d.ts";
import { REPEAT_VECTOR } from "./repeat_vector.ts";
import { PERMUTE } from "./permute.ts";
import { MASKING } from "./masking.ts";
import { SPATIAL_DROPOUT1D } from "./spatial_dropout1d.ts";
import { MAX_POOLING3D } from "./max_pooling3d.ts";
import { AVERAGE_POOLING3D } from "./average_pooling3d.ts";
import { GLOBAL_MAX_POOLING3D } from "./global_max_pooling3d.ts";
import { GLOBAL_AVERAGE_POOLING3D } from "./global_average_pooling3d.ts";
import { CONV_LSTM2D } from "./conv_lstm2d.ts";

/** The layer classes the engine runs, in the order `supportedLayerClasses()` lists them. */
export const LAYER_CLASSES: readonly LayerClass[] = [
  INPUT_LAYER,
  DENSE,
  ACTIVATION,
  RELU,
  LEAKY_RELU,
  SOFTMAX,
  DROPOUT,
  PRELU,
  ELU_LAYER,
  SPATIAL_DROPOUT2D,
  GAUSSIAN_NOISE,
  GAUSSIAN_DROPOUT,
  ACTIVITY_REGULARIZATION,
  IDENTITY,
  FLATTEN,
  RESHAPE,
  // CNN layers
  CONV2D,
  DEPTHWISE_CONV2D,
  SEPARABLE_CONV2D,
  MAX_POOLING2D,
  AVERAGE_POOLING2D,
  GLOBAL_MAX_POOLING2D,
  GLOBAL_AVERAGE_POOLING2D,
  BATCH_NORMALIZATION,
  CONV2D_TRANSPOSE,
  UP_SAMPLING2D,
  CROPPING2D,
  ZERO_PADDING2D,
  // Sequence (1-D) layers
  CONV1D,
  MAX_POOLING1D,
  AVERAGE_POOLING1D,
  GLOBAL_MAX_POOLING1D,
  GLOBAL_AVERAGE_POOLING1D,
  ZERO_PADDING1D,
  CROPPING1D,
  UP_SAMPLING1D,
  REPEAT_VECTOR,
  PERMUTE,
  MASKING,
  SPATIAL_DROPOUT1D,
  // Video (3-D) layers
  MAX_POOLING3D,
  AVERAGE_POOLING3D,
  GLOBAL_MAX_POOLING3D,
  GLOBAL_AVERAGE_POOLING3D,
  CONV_LSTM2D,
  // RNN layers
  EMBEDDING,
  SIMPLE_RNN,
  LSTM_LAYER,
  GRU_LAYER,
  BIDIRECTIONAL,
  TIME_DISTRIBUTED,
  // Transformer layers
  LAYER_NORMALIZATION,
  MULTI_HEAD_ATTENTION,
  ATTENTION,
  ADDITIVE_ATTENTION,
  // Merge layers
  ADD,
  SUBTRACT,
  MULTIPLY,
  AVERAGE,
  MAXIMUM,
  MINIMUM,
  CONCATENATE,
  DOT,
  // Preprocessing and augmentation layers
  RESCALING,
  NORMALIZATION,
  CENTER_CROP,
  RESIZING,
  RANDOM_FLIP,
  RANDOM_CONTRAST,
  RANDOM_TRANSLATION,
  RANDOM_ZOOM,
  RANDOM_ROTATION,
];
