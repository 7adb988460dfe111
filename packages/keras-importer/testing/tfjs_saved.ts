/**
 * What TF.js's own save handler writes for a model — `model.json` and its one weight shard —
 * kept in memory as an importer source. The tests that check the importer against files TF.js
 * itself produced share it.
 *
 * @module
 */
import { tf } from "../../engine/testing/tfjs_reference.ts";
import type { ModelSource } from "../load.ts";

/** Saves `model` with `tf.io.withSaveHandler` and returns the artifacts as `{modelJson, shards}`. */
export async function tfjsSaved(model: tf.LayersModel): Promise<ModelSource> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const weightData = artifacts!.weightData;
  const buffer = Array.isArray(weightData) ? weightData : [weightData!];
  return {
    modelJson: {
      format: "layers-model",
      generatedBy: "TensorFlow.js tfjs-layers v4.22.0",
      convertedBy: null,
      modelTopology: artifacts!.modelTopology,
      weightsManifest: [{ paths: ["group1-shard1of1.bin"], weights: artifacts!.weightSpecs }],
    },
    shards: [new Uint8Array(buffer[0] as ArrayBuffer)],
  };
}
