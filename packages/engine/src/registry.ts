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
// RNN layers

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
  // RNN layers
]);

/** Looks up a layer class; `undefined` when the engine does not support it. */
export function layerFactory(className: string): LayerFactory | undefined {
  return registry.get(className);
}

/** The Keras layer classes this engine can run. */
export function supportedLayerClasses(): readonly string[] {
  return [...registry.keys()];
}
