/**
 * The engine's side of the graph predict checks: a TF.js graph read as engine specs (Keras 2 /
 * TF.js config, Keras 3 config, …) predicts what TF.js predicts.
 */
import { buildModel, type ModelSpec, Tensor } from "../mod.ts";
import { maxAbsDiff } from "./random.ts";
import type { tf } from "./tfjs_reference.ts";
import { type HostTensor, tfjsPredictMany } from "./tfjs_graphs.ts";

/**
 * Builds the engine model of each `[dialect, spec]` (specs read from `ref`), predicts
 * `inputs(batch)` for each of `batches`, and throws when its first output's shape (after the
 * batch) differs from TF.js's or its values by more than `tol`. Returns the largest |Δ|.
 */
export function expectSpecsPredictAsTfjs(
  ref: tf.LayersModel,
  specs: [string, ModelSpec][],
  batches: number[],
  inputs: (batch: number) => HostTensor[],
  tol = 1e-5,
): number {
  const tfShape = (ref.outputs[0].shape as (number | null)[]).slice(1);
  let worst = 0;
  for (const [dialect, spec] of specs) {
    const model = buildModel(spec);
    try {
      for (const batch of batches) {
        const xs = inputs(batch);
        const want = tfjsPredictMany(ref, xs)[0];
        const got = model.predictMany(xs.map((x) => new Tensor(x.data, x.shape)))[0];
        if (got.shape.slice(1).join() !== tfShape.join()) {
          throw new Error(`${dialect}: shape [${got.shape}] vs TF.js [${tfShape}]`);
        }
        const d = maxAbsDiff(got.data, want);
        if (!(d <= tol)) throw new Error(`${dialect} batch ${batch}: max |Δ| = ${d}`);
        worst = Math.max(worst, d);
      }
    } finally {
      model.dispose();
    }
  }
  return worst;
}
