/**
 * The engine's side of the graph gradient checks (TF.js's is `tfjsGraphGradients` in
 * `tfjs_graphs.ts`): the loss and the gradient of every weight for one batch, keyed
 * `"<layer key>#<index>"` as `keyedWeights` keys TF.js's.
 */
import { buildModel, type ModelSpec, SGD, Tensor, type WeightTensor } from "../mod.ts";
import type { HostTensor } from "./tfjs_graphs.ts";

/** A deep copy of a spec's weights (they change in place when the model trains). */
export function copyWeights(spec: ModelSpec): Record<string, WeightTensor[]> {
  return Object.fromEntries(
    Object.entries(spec.weights).map((
      [k, ws],
    ) => [k, ws.map((w) => ({ ...w, data: w.data.slice() }))]),
  );
}

/**
 * One SGD(learning rate 1) step on (xs, y) with sparse categorical cross-entropy: gradient =
 * weights before − weights after. Also returns both specs (for checks of what the step kept).
 */
export function engineGraphGradients(
  spec: ModelSpec,
  xs: HostTensor[],
  y: Float32Array,
): { loss: number; grads: Map<string, Float32Array>; before: ModelSpec; after: ModelSpec } {
  const model = buildModel(spec);
  try {
    model.compile({
      optimizer: new SGD({ learningRate: 1 }),
      loss: "sparse_categorical_crossentropy",
    });
    const before = { ...model.toSpec(), weights: copyWeights(model.toSpec()) };
    const inputs = xs.map((x) => new Tensor(x.data, x.shape));
    const logs = model.trainOnBatch(
      inputs.length === 1 ? inputs[0] : inputs,
      new Tensor(y, [y.length]),
    );
    const after = model.toSpec();
    const grads = new Map<string, Float32Array>();
    for (const [key, ws] of Object.entries(before.weights)) {
      ws.forEach((w, i) => {
        const now = after.weights[key]?.[i];
        if (!now) throw new Error(`engine lost weight ${key}#${i} in training`);
        grads.set(`${key}#${i}`, Float32Array.from(w.data, (v, j) => v - now.data[j]));
      });
    }
    return { loss: logs.loss, grads, before, after };
  } finally {
    model.dispose();
  }
}
