/**
 * TF.js models from engine specs for the experiment (the reference forward pass and the TF.js
 * trainer), through the engine's test builders (`tfjsModelFromSpec`).
 */
import type { ModelSpec } from "@scratchnet/engine";
import { tf, tfjsModelFromSpec, tfReady } from "../../packages/engine/testing/tfjs_reference.ts";

export { tf, tfReady };

/**
 * A TF.js (cpu backend) model with the spec's config and every weight of the spec. Each layer
 * must have its weights in the spec (the initial values are not drawn as Keras would: recurrent
 * kernels start from zeros, skipping TF.js's slow orthogonal initializer, since every value is
 * replaced).
 */
export async function tfjsModel(spec: ModelSpec): Promise<tf.Sequential> {
  await tfReady();
  return tfjsModelFromSpec(spec, { zeroRecurrentInit: true });
}
