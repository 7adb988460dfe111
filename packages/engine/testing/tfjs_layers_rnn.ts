/** TF.js builders for the text layers (Embedding, SimpleRNN, LSTM, GRU, Bidirectional). */
import * as tf from "@tensorflow/tfjs";
import { tfActivation, TFJS_LAYER_BUILDERS, type TfjsBuildOptions } from "./tfjs_layers_core.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
type LayerObj = { class_name: string; config: Record<string, unknown> };

// A TF.js layer's `dtype` is also its weights' dtype: keep the table float32 for int32 ids
// (TF.js's Embedding casts ids to int32 itself).
TFJS_LAYER_BUILDERS.set("Embedding", (c, { dtype: _ids, ...base }) =>
  tf.layers.embedding({
    ...base,
    inputDim: c.input_dim as number,
    outputDim: c.output_dim as number,
    maskZero: c.mask_zero === true,
  }));

/** Arguments every TF.js recurrent layer shares, from a Keras config. */
function recurrentArgs(
  c: Record<string, unknown>,
  base: Record<string, unknown>,
  options: TfjsBuildOptions = {},
) {
  for (const field of ["stateful", "return_state"]) {
    if (c[field] === true) throw new Error(`tfjs reference: ${field} is not used in these tests`);
  }
  return {
    ...(options.zeroRecurrentInit ? { recurrentInitializer: "zeros" as const } : {}),
    ...base,
    units: c.units as number,
    activation: tfActivation(c.activation ?? "tanh") as Any,
    useBias: c.use_bias !== false,
    returnSequences: c.return_sequences === true,
    goBackwards: c.go_backwards === true,
  };
}

TFJS_LAYER_BUILDERS.set(
  "SimpleRNN",
  (c, base, _kerasVersion, options) => tf.layers.simpleRNN(recurrentArgs(c, base, options)),
);
TFJS_LAYER_BUILDERS.set("LSTM", (c, base, _kerasVersion, options) =>
  tf.layers.lstm({
    ...recurrentArgs(c, base, options),
    recurrentActivation: tfActivation(c.recurrent_activation ?? "sigmoid") as Any,
  }));
TFJS_LAYER_BUILDERS.set("GRU", (c, base, _kerasVersion, options) => {
  // TF.js's GRUCell throws for resetAfter=true; Keras's default is true, so say it explicitly.
  if (c.reset_after !== false) {
    throw new Error("tfjs reference: TF.js implements only GRU reset_after=false");
  }
  return tf.layers.gru({
    ...recurrentArgs(c, base, options),
    recurrentActivation: tfActivation(c.recurrent_activation ?? "sigmoid") as Any,
  });
});

TFJS_LAYER_BUILDERS.set("Bidirectional", (c, base, kerasVersion, options) => {
  const inner = c.layer as LayerObj;
  const build = TFJS_LAYER_BUILDERS.get(inner.class_name);
  if (!build) throw new Error(`tfjs reference: no builder for ${inner.class_name}`);
  // TF.js derives the backward layer from `layer` (go_backwards flipped); an explicit
  // backward_layer is accepted only when it is exactly that.
  const back = c.backward_layer as LayerObj | undefined | null;
  if (back) {
    // Only the fields that change the forward pass must agree (initializers carry ids).
    const fields = ["units", "activation", "recurrent_activation", "use_bias", "return_sequences"];
    const same = back.class_name === inner.class_name &&
      fields.every((f) => JSON.stringify(back.config[f]) === JSON.stringify(inner.config[f])) &&
      (back.config.reset_after ?? true) === (inner.config.reset_after ?? true) &&
      (back.config.go_backwards === true) !== (inner.config.go_backwards === true);
    if (!same) throw new Error("tfjs reference: backward_layer must mirror layer");
  }
  if (c.merge_mode === null) throw new Error("tfjs reference: merge_mode None is not used");
  return tf.layers.bidirectional({
    ...base,
    layer: build(inner.config, {}, kerasVersion, options) as Any,
    mergeMode: (c.merge_mode ?? "concat") as Any,
  });
});
