/**
 * The two non-recurrent text families of issue 17 — a Conv1D text CNN and a small Transformer —
 * as Keras 3 configs with initializers, and their hyper-parameter grids (one factor at a time
 * around a baseline, as the recurrent families' grids). The Transformer's position embedding takes
 * the standard Keras form: an Embedding over positions added to the token Embedding, the positions
 * being the model's second input (`inputsFor` in `model_inputs.ts` supplies them).
 *
 * Its padding mask: since Keras 3.4 an `Add` passes a mask on only when every input has one (the
 * OR of them). A position Embedding without a mask would end the token Embedding's mask at the
 * sum, and the attention would attend to padding. So positions count from 1 at real tokens and are
 * 0 at padding, and the position Embedding has `mask_zero` too: both masks are the padding mask,
 * their OR as well, and it reaches every MultiHeadAttention (query and value masks) and the
 * pooling.
 */
import type { KerasObject } from "@scratchnet/engine";
import { collect, type Grid, type Variant } from "./grid.ts";
import { kerasInitializer } from "./models.ts";

/** A Conv1D text CNN: `convLayers` × Conv1D (relu, `same`), max pooling 2 between them. */
export interface Cnn1dHyper {
  convLayers: number;
  filters: number;
  kernelSize: number;
}

/** A Transformer encoder classifier: `blocks` × (MultiHeadAttention + FFN), width `width`. */
export interface TransformerHyper {
  blocks: number;
  /** Embedding and model width (d); each head's key_dim is `width / heads`. */
  width: number;
  heads: number;
}

/** Name of the Transformer's second input: each real token's position 1 … length, padding 0. */
export const POSITIONS_INPUT = "positions";

/** What a sequence-model config needs besides the variant. */
export interface SequenceShape {
  vocabSize: number;
  sequenceLength: number;
  /** Embedding size of the text CNN (the Transformer's is its `width`). */
  embeddingDim: number;
  classes: number;
  /** Dropout before the classifier. */
  dropout: number;
  /** SpatialDropout1D rate after the embedding (0 = none). */
  spatialDropout?: number;
}

/** Dropout inside each Transformer block (after attention and after the FFN), Keras's example. */
export const TRANSFORMER_BLOCK_DROPOUT = 0.1;
/** LayerNormalization epsilon of the blocks (Keras's Transformer example). */
export const TRANSFORMER_EPSILON = 1e-6;

function kerasLayer(className: string, config: Record<string, unknown>): KerasObject {
  return {
    module: "keras.layers",
    class_name: className,
    config: { trainable: true, dtype: "float32", ...config },
    registered_name: null,
  };
}

function denseConfig(name: string, units: number, activation: string): Record<string, unknown> {
  return {
    name,
    units,
    activation,
    use_bias: true,
    kernel_initializer: kerasInitializer("glorot_uniform"),
    bias_initializer: kerasInitializer("zeros"),
  };
}

function embeddingConfig(name: string, inputDim: number, outputDim: number, maskZero: boolean) {
  return {
    name,
    input_dim: inputDim,
    output_dim: outputDim,
    embeddings_initializer: kerasInitializer("random_uniform"),
    mask_zero: maskZero,
  };
}

/**
 * Embedding → (SpatialDropout1D) → `convLayers` × Conv1D (relu, `same`), MaxPooling1D 2 between
 * them → GlobalMaxPooling1D → Dropout → Dense softmax. No `mask_zero`: Keras's convolutions do
 * not take masks, and the padding id's embedding is learnt like any other (Keras's text-CNN
 * example).
 */
export function cnn1dConfig(
  h: Cnn1dHyper,
  s: SequenceShape,
  name = "cnn1d_classifier",
): KerasObject {
  const layers: KerasObject[] = [
    kerasLayer("InputLayer", {
      name: "input_layer",
      batch_shape: [null, s.sequenceLength],
      dtype: "int32",
      sparse: false,
    }),
    kerasLayer("Embedding", embeddingConfig("embedding", s.vocabSize, s.embeddingDim, false)),
  ];
  if (s.spatialDropout) {
    layers.push(
      kerasLayer("SpatialDropout1D", { name: "spatial_dropout", rate: s.spatialDropout }),
    );
  }
  for (let i = 0; i < h.convLayers; i++) {
    layers.push(kerasLayer("Conv1D", {
      name: `conv1d_${i}`,
      filters: h.filters,
      kernel_size: [h.kernelSize],
      strides: [1],
      padding: "same",
      data_format: "channels_last",
      dilation_rate: [1],
      groups: 1,
      activation: "relu",
      use_bias: true,
      kernel_initializer: kerasInitializer("glorot_uniform"),
      bias_initializer: kerasInitializer("zeros"),
    }));
    if (i < h.convLayers - 1) {
      layers.push(kerasLayer("MaxPooling1D", {
        name: `max_pooling1d_${i}`,
        pool_size: [2],
        strides: [2],
        padding: "valid",
        data_format: "channels_last",
      }));
    }
  }
  layers.push(
    kerasLayer("GlobalMaxPooling1D", { name: "global_max_pooling", data_format: "channels_last" }),
  );
  layers.push(kerasLayer("Dropout", { name: "dropout", rate: s.dropout }));
  layers.push(kerasLayer("Dense", denseConfig("dense_output", s.classes, "softmax")));
  return {
    module: "keras",
    class_name: "Sequential",
    config: { name, trainable: true, dtype: "float32", layers },
    registered_name: null,
  };
}

/** A Keras 3 functional-graph tensor argument: output 0 of `layer`'s first call. */
function tensorArg(layer: string): Record<string, unknown> {
  return {
    class_name: "__keras_tensor__",
    config: { shape: null, dtype: "float32", keras_history: [layer, 0, 0] },
  };
}

/**
 * tokens → Embedding (`mask_zero`) + Embedding over positions (`mask_zero`: see the module doc)
 * → Add → (SpatialDropout1D) →
 * `blocks` × [MultiHeadAttention(x, x) → Dropout → Add(x) → LayerNormalization → Dense 2·width
 * relu → Dense width → Dropout → Add → LayerNormalization] → GlobalAveragePooling1D (masked) →
 * Dropout → Dense softmax: Keras's "text classification with Transformer" example, with the
 * padding mask of the token Embedding reaching every attention (query and value masks) and the
 * pooling.
 */
export function transformerConfig(
  h: TransformerHyper,
  s: SequenceShape,
  name = "transformer_classifier",
): KerasObject {
  const layers: Record<string, unknown>[] = [];
  const add = (
    className: string,
    config: Record<string, unknown>,
    args: unknown[],
    kwargs: Record<string, unknown> = {},
  ) => {
    layers.push({
      ...kerasLayer(className, config),
      name: config.name,
      inbound_nodes: className === "InputLayer" ? [] : [{ args, kwargs }],
    });
    return String(config.name);
  };
  const input = (inputName: string) =>
    add("InputLayer", {
      name: inputName,
      batch_shape: [null, s.sequenceLength],
      dtype: "int32",
      sparse: false,
    }, []);
  const tokens = input("tokens");
  const positions = input(POSITIONS_INPUT);
  const tok = add("Embedding", embeddingConfig("token_embedding", s.vocabSize, h.width, true), [
    tensorArg(tokens),
  ]);
  const pos = add(
    "Embedding",
    embeddingConfig("position_embedding", s.sequenceLength + 1, h.width, true),
    [tensorArg(positions)],
  );
  let x = add("Add", { name: "embedding_sum" }, [[tensorArg(tok), tensorArg(pos)]]);
  if (s.spatialDropout) {
    x = add("SpatialDropout1D", { name: "spatial_dropout", rate: s.spatialDropout }, [
      tensorArg(x),
    ]);
  }
  const keyDim = h.width / h.heads;
  for (let b = 0; b < h.blocks; b++) {
    const attention = add("MultiHeadAttention", {
      name: `attention_${b}`,
      num_heads: h.heads,
      key_dim: keyDim,
      value_dim: keyDim,
      dropout: 0,
      use_bias: true,
      output_shape: null,
      attention_axes: null,
      kernel_initializer: kerasInitializer("glorot_uniform"),
      bias_initializer: kerasInitializer("zeros"),
    }, [tensorArg(x), tensorArg(x)]);
    const attentionDrop = add(
      "Dropout",
      { name: `attention_dropout_${b}`, rate: TRANSFORMER_BLOCK_DROPOUT },
      [tensorArg(attention)],
    );
    const res1 = add("Add", { name: `attention_residual_${b}` }, [[
      tensorArg(x),
      tensorArg(attentionDrop),
    ]]);
    const norm1 = add(
      "LayerNormalization",
      { name: `attention_norm_${b}`, axis: -1, epsilon: TRANSFORMER_EPSILON },
      [tensorArg(res1)],
    );
    const hidden = add("Dense", denseConfig(`ffn_hidden_${b}`, 2 * h.width, "relu"), [
      tensorArg(norm1),
    ]);
    const out = add("Dense", denseConfig(`ffn_output_${b}`, h.width, "linear"), [
      tensorArg(hidden),
    ]);
    const ffnDrop = add("Dropout", { name: `ffn_dropout_${b}`, rate: TRANSFORMER_BLOCK_DROPOUT }, [
      tensorArg(out),
    ]);
    const res2 = add("Add", { name: `ffn_residual_${b}` }, [[
      tensorArg(norm1),
      tensorArg(ffnDrop),
    ]]);
    x = add(
      "LayerNormalization",
      { name: `ffn_norm_${b}`, axis: -1, epsilon: TRANSFORMER_EPSILON },
      [tensorArg(res2)],
    );
  }
  const pooled = add(
    "GlobalAveragePooling1D",
    { name: "global_average_pooling", data_format: "channels_last", keepdims: false },
    [tensorArg(x)],
  );
  const dropped = add("Dropout", { name: "dropout", rate: s.dropout }, [tensorArg(pooled)]);
  const probs = add("Dense", denseConfig("dense_output", s.classes, "softmax"), [
    tensorArg(dropped),
  ]);
  return {
    module: "keras",
    class_name: "Functional",
    config: {
      name,
      trainable: true,
      layers,
      input_layers: [[tokens, 0, 0], [positions, 0, 0]],
      output_layers: [[probs, 0, 0]],
    },
    registered_name: null,
  };
}

/** Id and label of a text-CNN variant. */
export function cnn1dVariant(h: Cnn1dHyper): Variant<Cnn1dHyper> {
  return {
    id: `cnn1d_l${h.convLayers}_f${h.filters}_k${h.kernelSize}`,
    label: `Conv1D ${h.convLayers}×${h.filters}, kernel ${h.kernelSize}`,
    hyper: h,
  };
}

/** Id and label of a Transformer variant. */
export function transformerVariant(h: TransformerHyper): Variant<TransformerHyper> {
  return {
    id: `transformer_b${h.blocks}_d${h.width}_h${h.heads}`,
    label: `Transformer ${h.blocks} block${
      h.blocks === 1 ? "" : "s"
    }, d ${h.width}, ${h.heads} head${h.heads === 1 ? "" : "s"}`,
    hyper: h,
  };
}

/** The text-CNN baseline: 2 Conv1D layers of 64 filters, kernel 5. */
export const CNN1D_BASELINE: Cnn1dHyper = { convLayers: 2, filters: 64, kernelSize: 5 };

/**
 * The text-CNN grid around {@link CNN1D_BASELINE}: Conv1D layers 1 / 2 / 3, filters 32 / 64 /
 * 128, kernel 3 / 5 / 7.
 */
export function cnn1dGrid(): Grid<Cnn1dHyper> {
  const base = CNN1D_BASELINE;
  return collect([
    {
      name: "layers",
      title: "Number of Conv1D layers",
      entries: [1, 2, 3].map((n) => ({ hyper: { ...base, convLayers: n }, value: String(n) })),
    },
    {
      name: "filters",
      title: "Filters per Conv1D layer",
      entries: [32, 64, 128].map((f) => ({ hyper: { ...base, filters: f }, value: String(f) })),
    },
    {
      name: "kernels",
      title: "Conv1D kernel size",
      entries: [3, 5, 7].map((k) => ({ hyper: { ...base, kernelSize: k }, value: String(k) })),
    },
  ], cnn1dVariant);
}

/** The Transformer baseline: 2 blocks, width 64, 4 heads (key_dim 16), FFN 128. */
export const TRANSFORMER_BASELINE: TransformerHyper = { blocks: 2, width: 64, heads: 4 };

/**
 * The Transformer grid around {@link TRANSFORMER_BASELINE}: blocks 1 / 2 / 3, heads 1 / 2 / 4
 * (width 64), width 32 / 64 / 128 (4 heads).
 */
export function transformerGrid(): Grid<TransformerHyper> {
  const base = TRANSFORMER_BASELINE;
  return collect([
    {
      name: "layers",
      title: "Number of Transformer blocks",
      entries: [1, 2, 3].map((n) => ({ hyper: { ...base, blocks: n }, value: String(n) })),
    },
    {
      name: "heads",
      title: "Attention heads (width 64)",
      entries: [1, 2, 4].map((n) => ({ hyper: { ...base, heads: n }, value: String(n) })),
    },
    {
      name: "width",
      title: "Model width d (4 heads, FFN 2·d)",
      entries: [32, 64, 128].map((d) => ({ hyper: { ...base, width: d }, value: String(d) })),
    },
  ], transformerVariant);
}
