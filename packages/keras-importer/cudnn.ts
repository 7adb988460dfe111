/**
 * Keras 2's GPU-only recurrent layers in old `.h5` files: `CuDNNLSTM` and `CuDNNGRU` load as
 * `LSTM` and `GRU(reset_after=True)` (tanh, sigmoid gates, biases on), with the weight conversion
 * Keras's own loader applies when it loads CuDNN weights into those layers
 * (`hdf5_format.py` `_convert_rnn_weights`, via `preprocess_weights_for_loading`):
 *
 * - kernel `[input, gates·units]`: each gate's `[input, units]` block is stored in cuDNN's
 *   layout — its row-major values are the Keras block in column-major order — and is read back
 *   (`block.T.reshape(block.shape, order="F")`);
 * - recurrent kernel `[units, gates·units]`: each gate's `[units, units]` block is transposed;
 * - bias `[2·gates·units]` (cuDNN keeps an input and a recurrent bias): LSTM sums the two halves
 *   into `[4·units]`; GRU keeps them as the `[2, 3·units]` bias of `reset_after=True`.
 *
 * Gates stay in Keras order (the CuDNN layers store them so). Top-level layers, layers of nested
 * models and the layers wrapped by `Bidirectional` are converted.
 *
 * @module
 */
import { isRecord, type KerasObject, type WeightTensor } from "../engine/mod.ts";
import { WeightMismatchError } from "./errors.ts";
import { MODEL_CLASSES } from "./config.ts";

/** The Keras 2 CuDNN class names and the class each loads as. */
export const CUDNN_CLASSES: Readonly<Record<string, "LSTM" | "GRU">> = {
  CuDNNLSTM: "LSTM",
  CuDNNGRU: "GRU",
};

/** One converted layer: where its weights go (`ModelSpec.weights` key) and which triples. */
export interface CudnnConversion {
  /** The layer's weights key (nested models: `"outer/inner"`). */
  key: string;
  /** The CuDNN class of each weight triple, in the layer's weight order (Bidirectional: two). */
  parts: ("CuDNNLSTM" | "CuDNNGRU")[];
}

/** The plain-layer config a CuDNN layer config loads as (cuDNN's fixed activations). */
function plainConfig(className: string, config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...config,
    activation: "tanh",
    recurrent_activation: "sigmoid",
    use_bias: true,
  };
  if (className === "CuDNNGRU") out.reset_after = true;
  return out;
}

/** A CuDNN layer object rewritten as its plain class, or the object itself. */
function convertObject(obj: KerasObject): KerasObject {
  const target = CUDNN_CLASSES[obj.class_name];
  if (!target || !isRecord(obj.config)) return obj;
  return { ...obj, class_name: target, config: plainConfig(obj.class_name, obj.config) };
}

/**
 * Rewrites every CuDNNLSTM / CuDNNGRU of a model config (any depth, also inside Bidirectional)
 * as LSTM / GRU (`source` names the file in errors). Returns the new config (the input is not changed) and the layers whose weights
 * {@link convertCudnnWeights} must convert; `conversions` is empty when there were none.
 */
export function convertCudnnConfig(
  model: KerasObject,
  source: string,
): { model: KerasObject; conversions: CudnnConversion[] } {
  const conversions: CudnnConversion[] = [];
  const walk = (m: KerasObject, prefix: string): KerasObject => {
    const cfg = m.config as unknown;
    const list = Array.isArray(cfg) ? cfg : isRecord(cfg) ? cfg.layers : undefined;
    if (!Array.isArray(list)) return m;
    const layers = list.map((raw) => {
      if (!isRecord(raw) || typeof raw.class_name !== "string" || !isRecord(raw.config)) {
        return raw;
      }
      const obj = raw as KerasObject;
      const name = String(obj.config.name ?? "");
      if (MODEL_CLASSES.has(obj.class_name)) return walk(obj, `${prefix}${name}/`);
      if (CUDNN_CLASSES[obj.class_name]) {
        conversions.push({
          key: prefix + name,
          parts: [obj.class_name as "CuDNNLSTM" | "CuDNNGRU"],
        });
        return convertObject(obj);
      }
      if (obj.class_name === "Bidirectional" && isRecord(obj.config.layer)) {
        const forward = obj.config.layer as KerasObject;
        const backward = isRecord(obj.config.backward_layer)
          ? obj.config.backward_layer as KerasObject
          : forward;
        const parts = [forward, backward]
          .filter((o) => CUDNN_CLASSES[o.class_name])
          .map((o) => o.class_name as "CuDNNLSTM" | "CuDNNGRU");
        if (parts.length === 0) return obj;
        if (parts.length === 1) {
          // One CuDNN side and one plain side: the weight triples differ in layout; Keras 2
          // never writes that (backward_layer mirrors layer), refuse rather than guess.
          throw new WeightMismatchError(
            prefix + name,
            "Bidirectional mixes a CuDNN layer with a plain one",
            source,
          );
        }
        const config: Record<string, unknown> = { ...obj.config, layer: convertObject(forward) };
        if (isRecord(obj.config.backward_layer)) config.backward_layer = convertObject(backward);
        conversions.push({ key: prefix + name, parts });
        return { ...obj, config };
      }
      return raw;
    });
    return Array.isArray(cfg)
      ? { ...m, config: layers as unknown as Record<string, unknown> }
      : { ...m, config: { ...(cfg as Record<string, unknown>), layers } };
  };
  const converted = walk(model, "");
  return { model: conversions.length ? converted : model, conversions };
}

/** Row-major `[rows, cols]` values and shape check, naming the layer and weight on mismatch. */
function expectShape(
  t: WeightTensor,
  shape: number[],
  key: string,
  what: string,
  source: string,
): void {
  const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!same || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new WeightMismatchError(
      key,
      `${what}: expected a CuDNN weight of shape [${shape}], received [${t.shape}]`,
      source,
    );
  }
}

/**
 * One CuDNN weight triple (kernel, recurrent kernel, bias) as the plain layer's weights (see
 * the module notes). `key` and `source` name the layer and file in errors.
 */
export function cudnnToPlainWeights(
  cls: "CuDNNLSTM" | "CuDNNGRU",
  [kernel, recurrent, bias]: WeightTensor[],
  key: string,
  source: string,
): WeightTensor[] {
  const gates = cls === "CuDNNLSTM" ? 4 : 3;
  if (!kernel || !recurrent || !bias || recurrent.shape.length !== 2) {
    throw new WeightMismatchError(
      key,
      `${cls}: expected kernel, recurrent kernel and bias`,
      source,
    );
  }
  const units = recurrent.shape[0];
  const width = gates * units;
  const input = kernel.shape[0];
  expectShape(kernel, [input, width], key, `${cls} kernel`, source);
  expectShape(recurrent, [units, width], key, `${cls} recurrent_kernel`, source);
  expectShape(bias, [2 * width], key, `${cls} bias`, source);
  const k = new Float32Array(input * width);
  const r = new Float32Array(units * width);
  for (let g = 0; g < gates; g++) {
    const col = g * units;
    for (let i = 0; i < input; i++) {
      for (let u = 0; u < units; u++) {
        // Element (i, u) of the Keras block is element n = i + input·u of the stored block's
        // row-major values.
        const n = i + input * u;
        k[i * width + col + u] = kernel.data[Math.floor(n / units) * width + col + (n % units)];
      }
    }
    for (let a = 0; a < units; a++) {
      for (let b = 0; b < units; b++) r[a * width + col + b] = recurrent.data[b * width + col + a];
    }
  }
  let b: WeightTensor;
  if (cls === "CuDNNLSTM") {
    const sum = new Float32Array(width);
    for (let j = 0; j < width; j++) sum[j] = bias.data[j] + bias.data[width + j];
    b = { name: bias.name, shape: [width], data: sum };
  } else {
    b = { name: bias.name, shape: [2, width], data: Float32Array.from(bias.data) };
  }
  return [
    { name: kernel.name, shape: [input, width], data: k },
    { name: recurrent.name, shape: [units, width], data: r },
    b,
  ];
}

/** Converts the weights of every layer {@link convertCudnnConfig} rewrote, in place. */
export function convertCudnnWeights(
  weights: Record<string, WeightTensor[]>,
  conversions: readonly CudnnConversion[],
  source: string,
): void {
  for (const { key, parts } of conversions) {
    const list = weights[key];
    if (!list || list.length !== 3 * parts.length) {
      throw new WeightMismatchError(
        key,
        `expected ${3 * parts.length} CuDNN weights, found ${list?.length ?? 0}`,
        source,
      );
    }
    weights[key] = parts.flatMap((cls, i) =>
      cudnnToPlainWeights(cls, list.slice(3 * i, 3 * i + 3), key, source)
    );
  }
}
