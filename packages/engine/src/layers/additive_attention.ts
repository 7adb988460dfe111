/**
 * Keras `AdditiveAttention` (Bahdanau-style): {@link Attention} with scores
 * `Σ_d scale_d · tanh(q_d + k_d)` (`use_scale`, default true: a (dim) weight `scale`,
 * glorot_uniform) or `Σ_d tanh(q_d + k_d)` without it. Masks, causal masking, dropout and the
 * backward are Attention's (attention.ts).
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { Attention, ATTENTION_TRAINING, attentionOnnx } from "./attention.ts";

/** Keras `AdditiveAttention` (see the module doc). */
export class AdditiveAttention extends Attention {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super(config, options, "AdditiveAttention");
  }

  /** Keras fixes the per-feature `scale`'s initializer to glorot_uniform (no config field). */
  override initialWeight(
    name: string,
    shape: readonly number[],
    init: (shape: number[], initializer?: unknown) => Float32Array,
  ): Float32Array | undefined {
    return name === "scale" ? init([...shape], "glorot_uniform") : undefined;
  }
}

/** The `AdditiveAttention` layer class (see `layer_class.ts`). */
export const ADDITIVE_ATTENTION: LayerClass<AdditiveAttention> = defineLayer({
  className: "AdditiveAttention",
  create: (config, options) => new AdditiveAttention(config, options),
  training: ATTENTION_TRAINING,
  onnx: attentionOnnx,
});
