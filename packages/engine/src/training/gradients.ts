/**
 * One-off gradients of a model's loss with respect to its weights — the check used by the tests
 * (engine vs TF.js `tf.variableGrads`, finite differences) and by anyone adding a backward pass.
 */
import type { Model } from "../model.ts";
import type { WeightTensor } from "../layer.ts";
import type { Tensor } from "../tensor.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { TrainingConfigError, TrainingDataError } from "./errors.ts";
import { TrainingGraph } from "./graph.ts";
import { Loss, type LossConfig } from "./losses.ts";

/** Options of {@link modelGradients}. */
export interface ModelGradientOptions {
  loss: LossConfig;
  sampleWeight?: Float32Array;
  /** Step seed of the random draws (Dropout); see `mixSeed` for the per-layer seed. */
  seed?: number;
}

/** The batch loss (Keras reduction) and ∂loss/∂w for every trainable weight, in model order. */
export function modelGradients(
  model: Model,
  x: Tensor | Tensor[],
  y: Tensor,
  options: ModelGradientOptions,
): { loss: number; grads: WeightTensor[] } {
  const { kernels, heap } = getRuntime();
  const loss = Loss.from(options.loss);
  if (model.graph.needsInputShape) {
    throw new TrainingConfigError("model", "must be built (give it an InputLayer)");
  }
  const graph = new TrainingGraph(model.graph, model.layerTrainable(), loss, [], kernels, heap);
  try {
    const xs = Array.isArray(x) ? x : [x];
    const n = xs[0]?.shape[0] ?? 0;
    const targets = [loss.sparse ? Int32Array.from(y.data) : Float32Array.from(y.data)];
    if (options.sampleWeight && options.sampleWeight.length !== n) {
      throw new TrainingDataError(
        "sampleWeight",
        `${n} weights`,
        `${options.sampleWeight.length}`,
      );
    }
    const res = graph.computeGradients(
      { xs, targets, sampleWeight: options.sampleWeight ?? null, sampleOffset: 0 },
      options.seed ?? 0,
    );
    const scale = res.lossCount > 0 ? 1 / res.lossCount : 0;
    const grads = graph.params.filter((p) => p.trainable).map((p) => ({
      name: p.name,
      shape: [...p.shape],
      data: Float32Array.from(heap.f32(p.grad, p.size), (v) => v * scale),
    }));
    return { loss: res.lossCount > 0 ? res.lossSum / res.lossCount : 0, grads };
  } finally {
    graph.dispose();
  }
}
