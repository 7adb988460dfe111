/**
 * Builds a TF.js (cpu backend) model with the same Keras config and weights as an engine
 * `ModelSpec` — the executable reference the engine is checked against.
 *
 * Per-class builders live in `tfjs_layers_*.ts` and register themselves in `TFJS_LAYER_BUILDERS`.
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelSpec, WeightTensor } from "../mod.ts";
import { TFJS_LAYER_BUILDERS, type TfjsBuildOptions } from "./tfjs_layers_core.ts";
import "./tfjs_layers_cnn.ts";
import "./tfjs_layers_rnn.ts";
import "./tfjs_layers_sequence.ts";

export { tf };
export { TFJS_LAYER_BUILDERS, type TfjsBuildOptions } from "./tfjs_layers_core.ts";

/**
 * Stops TF.js's cpu backend from printing its one-time "Hi, looks like you are running TensorFlow.js
 * in Node.js … install our node backend" banner: Deno looks like Node.js to TF.js, and the advice
 * (tfjs-node) does not apply here. The backend prints it on its first tensor unless its `firstUse`
 * flag is already cleared; other TF.js warnings are untouched. Returns whether the flag was found.
 */
export function silenceTfjsNodeBanner(): boolean {
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (!cpu || typeof cpu.firstUse !== "boolean") return false;
  cpu.firstUse = false;
  return true;
}
silenceTfjsNodeBanner();

let ready: Promise<void> | undefined;
/** Selects the TF.js cpu backend once. */
export function tfReady(): Promise<void> {
  ready ??= (async () => {
    await tf.setBackend("cpu");
    await tf.ready();
  })();
  return ready;
}

interface LayerObj {
  class_name: string;
  config: Record<string, unknown>;
}

/** Options of {@linkcode tfjsModelFromSpec}. */
export interface TfjsModelOptions extends TfjsBuildOptions {
  /** Input shape without the batch dimension (default: the spec's input layer's). */
  inputShape?: (number | null)[];
}

/** TF.js model from a Sequential/Functional-chain spec (weights set from the spec). */
export function tfjsModelFromSpec(spec: ModelSpec, options: TfjsModelOptions = {}): tf.Sequential {
  const cfg = spec.config.config as Record<string, unknown>;
  const layers = cfg.layers as LayerObj[];
  const model = tf.sequential();
  let shape = options.inputShape;
  let inputDtype: "float32" | "int32" = "float32";
  for (const obj of layers) {
    if (obj.class_name === "InputLayer") {
      const bs = (obj.config.batch_shape ?? obj.config.batch_input_shape) as (number | null)[];
      shape ??= bs.slice(1);
      if (typeof obj.config.dtype === "string" && /int/.test(obj.config.dtype)) {
        inputDtype = "int32";
      }
      continue;
    }
    const build = TFJS_LAYER_BUILDERS.get(obj.class_name);
    if (!build) throw new Error(`tfjs reference: no builder for ${obj.class_name}`);
    const args: Record<string, unknown> = { name: obj.config.name };
    if (model.layers.length === 0) {
      const bs = (obj.config.batch_input_shape ?? obj.config.batch_shape) as
        | (number | null)[]
        | undefined;
      shape ??= bs?.slice(1);
      if (!shape) throw new Error("tfjs reference: unknown input shape");
      args.batchInputShape = [null, ...shape];
      args.dtype = inputDtype;
    }
    const layer = build(obj.config, args, spec.kerasVersion, options);
    model.add(layer);
    const w = spec.weights[String(obj.config.name)] ?? [];
    if (w.length) layer.setWeights(w.map(toTf));
  }
  return model;
}

/** A spec weight as a tf.Tensor. */
export function toTf(w: WeightTensor): tf.Tensor {
  return tf.tensor(w.data, w.shape, "float32");
}

/** Runs a TF.js model on host data and returns the flat float32 output. */
export function tfjsPredict(
  model: tf.LayersModel,
  data: Float32Array | Int32Array,
  shape: number[],
): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor(data, shape, data instanceof Int32Array ? "int32" : "float32");
    const y = model.predict(x) as tf.Tensor;
    return y.dataSync() as Float32Array;
  });
}
