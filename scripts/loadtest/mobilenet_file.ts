/**
 * `deno run -A scripts/loadtest/mobilenet_file.ts OUT.keras [--size 224]`: writes a MobileNetV2
 * (α 1, 1000 classes, seeded random weights, calibrated BatchNormalization) as a Keras 3 `.keras`
 * file for `deno task loadtest` — the test suite's `keras.applications` replica built with TF.js
 * layers, read by the importer and saved by `saveKeras`. No pretrained weights are downloaded: load
 * figures do not depend on weight values.
 *
 * @module
 */
import {
  mobileNetV2,
  useApplicationBackend,
} from "../../packages/engine/testing/tfjs_applications.ts";
import { loadModel, saveKeras } from "../../packages/keras-importer/mod.ts";
import { tfjsSaved } from "../../packages/keras-importer/testing/tfjs_saved.ts";

if (import.meta.main) {
  const out = Deno.args.find((a) => !a.startsWith("--"));
  const sizeAt = Deno.args.indexOf("--size");
  const inputSize = sizeAt >= 0 ? Number(Deno.args[sizeAt + 1]) : 224;
  if (!out || !Number.isInteger(inputSize) || inputSize < 32) {
    console.error("usage: deno run -A scripts/loadtest/mobilenet_file.ts OUT.keras [--size 224]");
    Deno.exit(2);
  }
  await useApplicationBackend("wasm");
  const replica = mobileNetV2({ inputSize, seed: 1 });
  const { model } = await loadModel(await tfjsSaved(replica));
  await saveKeras(model!, out);
  console.log(`MobileNetV2 ${inputSize}×${inputSize} written to ${out}`);
}
