/**
 * Public result types of the importer.
 *
 * @module
 */
import type { KerasObject, WeightTensor } from "../engine/mod.ts";
import type { PreprocessingLayer } from "./config.ts";

/** The file format a model was read from. */
export type ModelFormat = "keras" | "h5" | "tfjs" | "weights-h5";

/** What is known about the file besides config and weights. */
export interface ImportMeta {
  format: ModelFormat;
  /** `keras_version` recorded in the file (e.g. `"3.10.0"`, `"2.15.0"`, `"tfjs-layers 4.22.0"`). */
  kerasVersion?: string;
  /** Backend recorded in the file (`"tensorflow"`, `"jax"`, …); `.keras` files do not record it. */
  backend?: string;
  /** File name or URL the model was read from. */
  sourceName: string;
}

/** A model read from a file: what `buildModel` needs plus metadata and preprocessing. */
export interface ImportedModelSpec {
  /** Keras model JSON for the engine (TextVectorization layers removed). */
  config: KerasObject;
  /**
   * Weights per layer config name, in Keras `get_weights()` order; a layer inside a nested model
   * is keyed by the path of names (`"base/conv1"`, `"outer/inner/conv1"`).
   */
  weights: Record<string, WeightTensor[]>;
  meta: ImportMeta;
  /** Embedded TextVectorization layers with their vocabularies, in model order. */
  preprocessing: PreprocessingLayer[];
}
