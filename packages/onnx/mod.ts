/**
 * `@scratchnet/onnx`: engine models written as ONNX, so a Keras model loaded (or trained) by the
 * engine runs in ONNX Runtime — native, web (wasm) or any other — without Python.
 *
 * ```ts
 * import { loadModel } from "@scratchnet/keras-importer";
 * import { exportOnnx } from "@scratchnet/onnx";
 * const { model } = await loadModel("model.keras");
 * await Deno.writeFile("model.onnx", exportOnnx(model!, { opset: 17 }));
 * ```
 *
 * Each layer class writes its own nodes (its definition's `onnx` hook in the engine); a layer
 * without one stops the export with an `OnnxExportError` naming the layer and its class.
 * Tensors stay channels-last as in Keras (convolutions and poolings sit between Transposes).
 *
 * @module
 */
export {
  collectGraph,
  DEFAULT_OPSET,
  exportableLayerClasses,
  exportOnnx,
  MAX_OPSET,
  MIN_OPSET,
  type OnnxExportOptions,
} from "./src/export.ts";
export type {
  GraphNodeRecord,
  GraphRecord,
  InitializerRecord,
  ValueRecord,
} from "./src/model_proto.ts";
export { OnnxExportError } from "@scratchnet/engine";
