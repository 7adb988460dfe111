/**
 * The engine's side of the graph gradient checks (TF.js's is `tfjsGraphGradients` in
 * `tfjs_graphs.ts`): the loss and the gradient of every weight for one batch, keyed
 * `"<layer key>#<index>"` as `keyedWeights` keys TF.js's.
 */
import { buildModel, type ModelSpec, SGD, Tensor, type WeightTensor } from "../mod.ts";
import { relativeError } from "./gradient_check.ts";
import { type HostTensor, keyedWeights, tfjsGraphGradients } from "./tfjs_graphs.ts";
import type { tf } from "./tfjs_reference.ts";

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

/** Options of {@link expectGraphGradientsMatchTfjs}. */
export interface GraphGradientCheck {
  /** Largest relative error of the loss (against max(1, |loss|)) and of each gradient (1e-4). */
  tol?: number;
  /** Compare only trainable weights (the others must still exist in the engine). */
  trainableOnly?: boolean;
  /** Throw when TF.js's gradient of a compared weight is no larger than this (the check is blind). */
  blindBelow?: number;
}

/**
 * One SGD step of `spec` on (xs, y) (sparse categorical cross-entropy) against
 * `tf.variableGrads` on TF.js's `ref`: throws, prefixed by `what`, when the losses or any
 * weight's gradients differ by more than `tol`. Returns the largest gradient error and both
 * sides' gradients (keyed `"<layer key>#<index>"`).
 */
export function expectGraphGradientsMatchTfjs(
  ref: tf.LayersModel,
  spec: ModelSpec,
  xs: HostTensor[],
  y: Float32Array,
  what: string,
  { tol = 1e-4, trainableOnly = false, blindBelow }: GraphGradientCheck = {},
): { worst: number; got: Map<string, Float32Array>; want: Map<string, Float32Array> } {
  const want = tfjsGraphGradients(ref, xs, y, { name: "sparse_categorical_crossentropy" });
  const got = engineGraphGradients(spec, xs, y);
  if (!(Math.abs(got.loss - want.loss) <= tol * Math.max(1, Math.abs(want.loss)))) {
    throw new Error(`${what} loss: engine ${got.loss} vs TF.js ${want.loss}`);
  }
  let worst = 0;
  for (const w of keyedWeights(ref)) {
    const id = `${w.key}#${w.index}`;
    const g = got.grads.get(id);
    if (!g) throw new Error(`${what}: engine has no weight ${id} (${w.name})`);
    if (trainableOnly && !w.trainable) continue;
    const r = want.grads.get(id);
    if (!r) throw new Error(`${what}: TF.js has no gradient for ${id}`);
    const e = relativeError(g, r);
    if (!(e <= tol)) {
      throw new Error(
        `${what}: gradient of ${w.key}/${w.name}: relative error ${e} > ${tol} ` +
          `(engine [${Array.from(g.slice(0, 3))}…] vs TF.js [${Array.from(r.slice(0, 3))}…])`,
      );
    }
    if (blindBelow !== undefined && !(Math.max(...Array.from(r, Math.abs)) > blindBelow)) {
      throw new Error(`${what}: gradient of ${w.key}/${w.name} is ~0: the check is blind`);
    }
    worst = Math.max(worst, e);
  }
  return { worst, got: got.grads, want: want.grads };
}
