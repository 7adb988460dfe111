/**
 * What the engine builds a model from: a Keras model config (JSON as Keras writes it) and the
 * weights of its layers. Shared by the model, the trainer and the workers (no module here imports
 * the model, so training code depends on data, not on `model.ts`).
 */
import type { WeightTensor } from "./layer.ts";

/** A serialized Keras object: `{ class_name, config }` (plus Keras 3 `module`, `registered_name`, …). */
export interface KerasObject {
  class_name: string;
  config: Record<string, unknown>;
  [key: string]: unknown;
}

/** What the engine builds a model from. */
export interface ModelSpec {
  /** The Keras model JSON (`config.json`, `model_config`, or TF.js `modelTopology.model_config`). */
  config: KerasObject;
  /**
   * Weights per layer, Keras order (`layer.get_weights()`; Bidirectional: forward, then
   * backward). The key is the layer's config name; a layer inside a nested model (a model used as
   * a layer) is keyed by the path of names `"<nested model>/<layer>"`, at any depth.
   */
  weights: Record<string, WeightTensor[]>;
  /** keras_version of the source file; selects version-dependent semantics. */
  kerasVersion?: string;
}

/** Whether a parsed JSON value is an object (not null, not an array): a Keras config record. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
