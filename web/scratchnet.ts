/**
 * The all-in-one module for pages and workers: the engine, the tokenizer and the Keras importer
 * sharing one engine (one WASM instance). `deno task bundle` turns it into `dist/scratchnet.js`;
 * it can also be imported by URL as it is.
 *
 * ```ts
 * import { importer, tokenizer, Tensor } from "./scratchnet.js";
 * const { model, preprocessing } = await importer.loadModel(file); // a File from <input type=file>
 * ```
 *
 * The packages' APIs are re-exported as namespaces (`engine`, `tokenizer`, `importer`) because
 * some error class names exist in two packages; the most used names are also exported directly.
 *
 * @module
 */
export * as engine from "../packages/engine/mod.ts";
export * as tokenizer from "../packages/tokenizer/mod.ts";
export * as importer from "../packages/keras-importer/mod.ts";
export {
  buildModel,
  EngineError,
  Model,
  Tensor,
  wasmSimdSupported,
  WasmUnavailableError,
} from "../packages/engine/mod.ts";
export { TextVectorization } from "../packages/tokenizer/mod.ts";
export { ImportError, loadModel, loadModelSpec } from "../packages/keras-importer/mod.ts";
