/**
 * TF.js models from engine specs for the experiment (the reference forward pass and the TF.js
 * trainer), through the engine's test builders (`tfjsModelFromSpec`).
 */
import type { ModelSpec } from "@scratchnet/engine";
import {
  tf,
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfReady,
} from "../../packages/engine/testing/tfjs_reference.ts";

export { tf, tfReady };

let fastRecurrentInit = false;

/**
 * TF.js draws every recurrent kernel with its QR-based orthogonal initializer (seconds per layer
 * of 64+ units, with a "Slowness may result" warning each time) before `tfjsModelFromSpec`
 * overwrites all weights from the spec. The recurrent builders are wrapped once to start from
 * zeros instead — only when the caller did not choose an initializer — since the values are
 * replaced anyway.
 */
function skipOrthogonalInit(): void {
  if (fastRecurrentInit) return;
  fastRecurrentInit = true;
  for (const cls of ["SimpleRNN", "LSTM", "GRU"]) {
    const build = TFJS_LAYER_BUILDERS.get(cls);
    if (build) {
      TFJS_LAYER_BUILDERS.set(
        cls,
        (c, base, kv) => build(c, { recurrentInitializer: "zeros", ...base }, kv),
      );
    }
  }
}

/**
 * A TF.js (cpu backend) model with the spec's config and every weight of the spec. Each layer
 * must have its weights in the spec (the initial values are not drawn as Keras would).
 */
export async function tfjsModel(spec: ModelSpec): Promise<tf.Sequential> {
  await tfReady();
  skipOrthogonalInit();
  return tfjsModelFromSpec(spec);
}
