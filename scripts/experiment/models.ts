/**
 * Keras 3 model configs (with initializers) for the grid's variants. The engine initializes and
 * trains them; the importer saves them as `.keras` that Keras 3 itself can load.
 */
import type { KerasObject } from "@scratchnet/engine";
import type { CnnHyper, RnnHyper } from "./grid.ts";
import type { RecurrentFamily } from "./options.ts";

/** Keras 3's serialized form of a built-in initializer. */
export function kerasInitializer(name: string, config: Record<string, unknown> = {}): unknown {
  const classes: Record<string, [string, Record<string, unknown>]> = {
    glorot_uniform: ["GlorotUniform", { seed: null }],
    glorot_normal: ["GlorotNormal", { seed: null }],
    he_uniform: ["HeUniform", { seed: null }],
    he_normal: ["HeNormal", { seed: null }],
    lecun_uniform: ["LecunUniform", { seed: null }],
    lecun_normal: ["LecunNormal", { seed: null }],
    orthogonal: ["Orthogonal", { gain: 1, seed: null }],
    zeros: ["Zeros", {}],
    ones: ["Ones", {}],
    random_uniform: ["RandomUniform", { minval: -0.05, maxval: 0.05, seed: null }],
  };
  const known = classes[name];
  // Names without a class here are kept as strings (Keras accepts them too).
  if (!known) return name;
  return {
    module: "keras.initializers",
    class_name: known[0],
    config: { ...known[1], ...config },
    registered_name: null,
  };
}

/** Keras 3's serialized form of a built-in layer. */
export function layer(className: string, config: Record<string, unknown>): KerasObject {
  return { module: "keras.layers", class_name: className, config, registered_name: null };
}

/** Keras 3's serialized form of a Sequential model of `layers`. */
export function sequential(name: string, layers: KerasObject[]): KerasObject {
  return {
    module: "keras",
    class_name: "Sequential",
    config: { name, trainable: true, dtype: "float32", layers },
    registered_name: null,
  };
}

/** What a CNN config needs besides the variant. */
export interface CnnShape {
  /** [height, width, channels] */
  input: [number, number, number];
  classes: number;
  /** Units of the hidden Dense layer after Flatten. */
  hiddenUnits?: number;
  dropout?: number;
}

/**
 * `convLayers` × (Conv2D relu `same` → MaxPooling2D / AveragePooling2D 2×2) → Flatten →
 * Dense relu → Dropout → Dense softmax.
 */
export function cnnConfig(h: CnnHyper, shape: CnnShape, name = "cnn"): KerasObject {
  const { input, classes, hiddenUnits = 64, dropout = 0.5 } = shape;
  const layers: KerasObject[] = [
    layer("InputLayer", {
      name: "input_layer",
      batch_shape: [null, ...input],
      dtype: "float32",
      sparse: false,
    }),
  ];
  for (let i = 0; i < h.convLayers; i++) {
    const k = h.kernelSizes[i];
    layers.push(layer("Conv2D", {
      name: `conv2d_${i}`,
      trainable: true,
      dtype: "float32",
      filters: h.filters[i],
      kernel_size: [k, k],
      strides: [1, 1],
      padding: "same",
      data_format: "channels_last",
      dilation_rate: [1, 1],
      groups: 1,
      activation: "relu",
      use_bias: true,
      kernel_initializer: kerasInitializer("glorot_uniform"),
      bias_initializer: kerasInitializer("zeros"),
    }));
    const pool = h.pooling === "max" ? "MaxPooling2D" : "AveragePooling2D";
    layers.push(layer(pool, {
      name: `${h.pooling}_pooling2d_${i}`,
      trainable: true,
      dtype: "float32",
      pool_size: [2, 2],
      strides: [2, 2],
      padding: "valid",
      data_format: "channels_last",
    }));
  }
  layers.push(layer("Flatten", { name: "flatten", trainable: true, dtype: "float32" }));
  layers.push(dense("dense_hidden", hiddenUnits, "relu"));
  layers.push(
    layer("Dropout", { name: "dropout", trainable: true, dtype: "float32", rate: dropout }),
  );
  layers.push(dense("dense_output", classes, "softmax"));
  return sequential(name, layers);
}

/** A Keras Dense layer (glorot-uniform kernel, zero bias). */
export function dense(name: string, units: number, activation: string): KerasObject {
  return layer("Dense", {
    name,
    trainable: true,
    dtype: "float32",
    units,
    activation,
    use_bias: true,
    kernel_initializer: kerasInitializer("glorot_uniform"),
    bias_initializer: kerasInitializer("zeros"),
  });
}

/** What a text model config needs besides the variant. */
export interface TextShape {
  vocabSize: number;
  sequenceLength: number;
  embeddingDim: number;
  classes: number;
  dropout: number;
  /** Keras initializer name of the recurrent kernels. */
  recurrentInit: string;
  /** SpatialDropout1D rate after the Embedding (0 or absent = none). */
  spatialDropout?: number;
  /** The recurrent cells' `recurrent_dropout` (0 or absent = none). */
  recurrentDropout?: number;
}

const CELL_CLASS: Record<RecurrentFamily, string> = {
  rnn: "SimpleRNN",
  lstm: "LSTM",
  gru: "GRU",
};

/**
 * Embedding(`mask_zero`) → (SpatialDropout1D, which passes the mask on) → recurrent layers
 * (`return_sequences` on all but the last, each optionally Bidirectional concat) → Dropout →
 * Dense softmax. GRU uses Keras's default `reset_after=true`.
 */
export function textConfig(
  family: RecurrentFamily,
  h: RnnHyper,
  shape: TextShape,
  name = `${family}_classifier`,
): KerasObject {
  const cell = CELL_CLASS[family];
  const snake = cell === "SimpleRNN" ? "simple_rnn" : cell.toLowerCase();
  const layers: KerasObject[] = [
    layer("InputLayer", {
      name: "input_layer",
      batch_shape: [null, shape.sequenceLength],
      dtype: "int32",
      sparse: false,
    }),
    layer("Embedding", {
      name: "embedding",
      trainable: true,
      dtype: "float32",
      input_dim: shape.vocabSize,
      output_dim: shape.embeddingDim,
      embeddings_initializer: kerasInitializer("random_uniform"),
      mask_zero: true,
    }),
  ];
  if (shape.spatialDropout) {
    layers.push(layer("SpatialDropout1D", {
      name: "spatial_dropout",
      trainable: true,
      dtype: "float32",
      rate: shape.spatialDropout,
    }));
  }
  h.units.forEach((units, i) => {
    const config: Record<string, unknown> = {
      name: `${snake}_${i}`,
      trainable: true,
      dtype: "float32",
      return_sequences: i < h.units.length - 1,
      return_state: false,
      go_backwards: false,
      stateful: false,
      unroll: false,
      units,
      activation: "tanh",
      use_bias: true,
      kernel_initializer: kerasInitializer("glorot_uniform"),
      recurrent_initializer: kerasInitializer(shape.recurrentInit),
      bias_initializer: kerasInitializer("zeros"),
      dropout: 0,
      recurrent_dropout: shape.recurrentDropout ?? 0,
    };
    if (cell !== "SimpleRNN") config.recurrent_activation = "sigmoid";
    if (cell === "LSTM") config.unit_forget_bias = true;
    if (cell === "GRU") config.reset_after = true;
    const rnn = layer(cell, config);
    layers.push(
      h.bidirectional
        ? layer("Bidirectional", {
          name: `bidirectional_${i}`,
          trainable: true,
          dtype: "float32",
          merge_mode: "concat",
          layer: rnn,
        })
        : rnn,
    );
  });
  layers.push(
    layer("Dropout", { name: "dropout", trainable: true, dtype: "float32", rate: shape.dropout }),
  );
  layers.push(dense("dense_output", shape.classes, "softmax"));
  return sequential(name, layers);
}
