/**
 * Validation scores computed with `predictMany` at the end of each epoch, for models with more
 * than one input (the Transformer's tokens and positions). The engine's `evaluate` — which `fit`
 * runs on `validationData` — frees a buffer twice on some two-input graphs ("WasmHeap.free: … is
 * not a live allocation", TrainingGraph's inference path); until that is fixed this callback
 * writes `val_loss` and `val_accuracy` into the epoch's logs itself. It must come first among the
 * callbacks, so early stopping, ReduceLROnPlateau and the History see the values.
 */
import { Callback, type Logs, type Model, type Tensor } from "@scratchnet/engine";

/** Keras clips probabilities to [ε, 1 − ε] before the log (ε = 1e-7). */
const EPSILON = 1e-7;

/** Mean sparse categorical cross-entropy and accuracy of probabilities `probs` ([n, classes]). */
export function sparseScores(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
): { loss: number; accuracy: number } {
  const n = labels.length, classes = probs.length / Math.max(1, n);
  let loss = 0, correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (probs[i * classes + c] > probs[i * classes + best]) best = c;
    }
    if (best === labels[i]) correct++;
    const p = Math.min(1 - EPSILON, Math.max(EPSILON, probs[i * classes + labels[i]]));
    loss -= Math.log(p);
  }
  return { loss: loss / n, accuracy: correct / n };
}

/** Writes `val_loss` / `val_accuracy` of `inputs` → `labels` into each epoch's logs. */
export class PredictValidation extends Callback {
  constructor(
    readonly target: Model,
    readonly inputs: Tensor[],
    readonly labels: Int32Array,
  ) {
    super();
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    const probs = this.target.predictMany(this.inputs, { batchSize: 64 })[0].data;
    const s = sparseScores(probs, this.labels);
    logs.val_loss = s.loss;
    logs.val_accuracy = s.accuracy;
  }
}
