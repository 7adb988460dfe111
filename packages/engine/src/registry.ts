/** Keras class name → engine layer class. Exactly the classes the engine runs. */
import type { Layer, LayerBuildOptions, LayerConfig } from "./layer.ts";
import { Activation } from "./layers/activation.ts";
import { Dense } from "./layers/dense.ts";
import { Dropout } from "./layers/dropout.ts";
import { Flatten } from "./layers/flatten.ts";
import { InputLayer } from "./layers/input_layer.ts";
import { LeakyReLU } from "./layers/leaky_relu.ts";
import { ReLU } from "./layers/relu.ts";
import { Reshape } from "./layers/reshape.ts";
import { Softmax } from "./layers/softmax.ts";
// CNN layers
import { AveragePooling2D } from "./layers/average_pooling2d.ts";
import { BatchNormalization } from "./layers/batch_normalization.ts";
import { Conv2D } from "./layers/conv2d.ts";
import { GlobalAveragePooling2D } from "./layers/global_average_pooling2d.ts";
import { GlobalMaxPooling2D } from "./layers/global_max_pooling2d.ts";
import { MaxPooling2D } from "./layers/max_pooling2d.ts";
// RNN layers
import { Bidirectional } from "./layers/bidirectional.ts";
import { Embedding } from "./layers/embedding.ts";
import { GRU } from "./layers/gru.ts";
import { LSTM } from "./layers/lstm.ts";
import { SimpleRNN } from "./layers/simple_rnn.ts";
// Merge layers
import { Add } from "./layers/add.ts";
import { Average } from "./layers/average.ts";
import { Concatenate } from "./layers/concatenate.ts";
import { Dot } from "./layers/dot.ts";
import { Maximum } from "./layers/maximum.ts";
import { Minimum } from "./layers/minimum.ts";
import { Multiply } from "./layers/multiply.ts";
import { Subtract } from "./layers/subtract.ts";

/** A layer constructor as the registry stores it. */
export type LayerFactory = (config: LayerConfig, options: LayerBuildOptions) => Layer;

const registry = new Map<string, LayerFactory>([
  ["InputLayer", (c, o) => new InputLayer(c, o)],
  ["Dense", (c, o) => new Dense(c, o)],
  ["Activation", (c, o) => new Activation(c, o)],
  ["ReLU", (c, o) => new ReLU(c, o)],
  ["LeakyReLU", (c, o) => new LeakyReLU(c, o)],
  ["Softmax", (c, o) => new Softmax(c, o)],
  ["Dropout", (c, o) => new Dropout(c, o)],
  ["Flatten", (c, o) => new Flatten(c, o)],
  ["Reshape", (c, o) => new Reshape(c, o)],
  // CNN layers
  ["Conv2D", (c, o) => new Conv2D(c, o)],
  ["MaxPooling2D", (c, o) => new MaxPooling2D(c, o)],
  ["AveragePooling2D", (c, o) => new AveragePooling2D(c, o)],
  ["GlobalMaxPooling2D", (c, o) => new GlobalMaxPooling2D(c, o)],
  ["GlobalAveragePooling2D", (c, o) => new GlobalAveragePooling2D(c, o)],
  ["BatchNormalization", (c, o) => new BatchNormalization(c, o)],
  // RNN layers
  ["Embedding", (c, o) => new Embedding(c, o)],
  ["SimpleRNN", (c, o) => new SimpleRNN(c, o)],
  ["LSTM", (c, o) => new LSTM(c, o)],
  ["GRU", (c, o) => new GRU(c, o)],
  ["Bidirectional", (c, o) => new Bidirectional(c, o)],
  // Merge layers
  ["Add", (c, o) => new Add(c, o)],
  ["Subtract", (c, o) => new Subtract(c, o)],
  ["Multiply", (c, o) => new Multiply(c, o)],
  ["Average", (c, o) => new Average(c, o)],
  ["Maximum", (c, o) => new Maximum(c, o)],
  ["Minimum", (c, o) => new Minimum(c, o)],
  ["Concatenate", (c, o) => new Concatenate(c, o)],
  ["Dot", (c, o) => new Dot(c, o)],
]);

/** Looks up a layer class; `undefined` when the engine does not support it. */
export function layerFactory(className: string): LayerFactory | undefined {
  return registry.get(className);
}

/** The Keras layer classes this engine can run. */
export function supportedLayerClasses(): readonly string[] {
  return [...registry.keys()];
}
