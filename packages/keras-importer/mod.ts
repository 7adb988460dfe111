/**
 * Read Keras models in-process — Keras 3 `.keras`, legacy `.h5` (Keras 2 and 3), weights-only
 * `.h5` with a separate config, and TF.js `model.json` — and write Keras 3 `.keras` files.
 *
 * ```ts
 * import { loadModel, saveKeras } from "@scratchnet/keras-importer";
 * const { model, meta } = await loadModel("model.keras");
 * await saveKeras(model!, "copy.keras");
 * ```
 *
 * @module
 */
export {
  CorruptFileError,
  FormatError,
  ImportError,
  MissingWeightError,
  ModelBuildError,
  NpyError,
  OptionError,
  ResourceLimitError,
  SourceError,
  UnsupportedLayerError,
  WeightMismatchError,
} from "./errors.ts";
export type { PreprocessingLayer } from "./config.ts";
export { DEFAULT_IMPORT_LIMITS, type ImportLimits } from "./limits.ts";
export type { ImportedModelSpec, ImportMeta, ModelFormat } from "./types.ts";
export type { ByteSource } from "./source.ts";
export {
  type LoadedModel,
  loadModel,
  loadModelSpec,
  type LoadOptions,
  type ModelSource,
  type TfjsInMemory,
} from "./load.ts";
export {
  kerasArchiveBytes,
  saveKeras,
  type SaveKerasOptions,
  WRITTEN_LAYOUT_VERSION,
} from "./save_keras.ts";
export { type NpyArray, readNpy, writeNpy } from "./npy.ts";
export { kerasV3LayerKeys, layerWeightNames, toSnakeCase } from "./keras_layout.ts";
