/**
 * The reference forward pass the engine's predictions are compared with: TF.js (cpu backend, the
 * Keras reference) built from the same config and weights, or — for layers TF.js lacks (GRU
 * `reset_after=true`) — a host-side text-model reference computed from the Keras equations with
 * the engine's scalar TypeScript references (float64 accumulation, no WASM).
 */
import {
  activateReference,
  embeddingMaskReference,
  embeddingReference,
  mergeReference,
  type ModelSpec,
  resolveActivation,
  reverseTimeReference,
  RnnCell,
  rnnReference,
  softmaxReference,
  Tensor,
} from "@scratchnet/engine";
import { tf, tfjsModel } from "./tfjs_model.ts";
import { ExperimentError } from "./errors.ts";
import type { ReferenceName } from "./options.ts";
import { graphHostReference } from "./graph_reference.ts";

/** Which reference produced the probabilities. */
export type ReferencePath = "tfjs-cpu" | "host-reference";

type LayerObj = { class_name: string; config: Record<string, unknown> };

function layerObjects(spec: ModelSpec): LayerObj[] {
  const layers = (spec.config.config as { layers?: LayerObj[] }).layers;
  if (!Array.isArray(layers)) {
    throw new ExperimentError(`reference: model "${spec.config.class_name}" has no layer list`);
  }
  return layers;
}

/**
 * What in the model TF.js cannot run — a GRU with `reset_after=true`, or MultiHeadAttention (the
 * Transformer family's graph, checked by `graph_reference.ts`) — or null when TF.js runs it all.
 */
export function hostReferenceReason(spec: ModelSpec): string | null {
  for (const l of layerObjects(spec)) {
    if (l.class_name === "MultiHeadAttention") return "MultiHeadAttention";
    const inner = l.class_name === "Bidirectional" ? l.config.layer as LayerObj : l;
    if (inner?.class_name === "GRU" && inner.config.reset_after !== false) {
      return "GRU reset_after=true";
    }
  }
  return null;
}

/** True when the model holds a layer TF.js cannot run ({@link hostReferenceReason}). */
export function needsHostReference(spec: ModelSpec): boolean {
  return hostReferenceReason(spec) !== null;
}

/** The reference that `choice` selects for `spec`. */
export function referencePathFor(spec: ModelSpec, choice: ReferenceName): ReferencePath {
  if (choice === "host") return "host-reference";
  if (choice === "tfjs") {
    if (needsHostReference(spec)) {
      throw new ExperimentError(
        `--reference tfjs: TF.js lacks ${hostReferenceReason(spec)}; use --reference auto`,
      );
    }
    return "tfjs-cpu";
  }
  return needsHostReference(spec) ? "host-reference" : "tfjs-cpu";
}

/**
 * Keras image augmentation layers: the identity at inference (Keras runs them only in training)
 * and absent from TF.js's layers.
 */
export const INFERENCE_IDENTITY_LAYERS: ReadonlySet<string> = new Set([
  "RandomFlip",
  "RandomTranslation",
  "RandomRotation",
  "RandomZoom",
  "RandomContrast",
]);

/**
 * `spec` without its inference-identity augmentation layers ({@link INFERENCE_IDENTITY_LAYERS}),
 * so TF.js can run the same inference model (they hold no weights).
 */
export function inferenceSpec(spec: ModelSpec): ModelSpec {
  const layers = layerObjects(spec);
  if (!layers.some((l) => INFERENCE_IDENTITY_LAYERS.has(l.class_name))) return spec;
  const config = spec.config.config as Record<string, unknown>;
  return {
    ...spec,
    config: {
      ...spec.config,
      config: {
        ...config,
        layers: layers.filter((l) => !INFERENCE_IDENTITY_LAYERS.has(l.class_name)),
      },
    },
  };
}

/**
 * TF.js predictions over `x` in chunks of `chunk` samples (keeps intermediate tensors small).
 * Augmentation layers are left out ({@link inferenceSpec}): at inference they pass images through.
 */
export async function tfjsPredictAll(
  spec: ModelSpec,
  x: Tensor,
  chunk = 256,
): Promise<Float32Array> {
  const model = await tfjsModel(inferenceSpec(spec));
  try {
    const n = x.shape[0];
    const per = x.size / Math.max(1, n);
    const parts: Float32Array[] = [];
    for (let start = 0; start < n; start += chunk) {
      const end = Math.min(n, start + chunk);
      const data = x.data.subarray(start * per, end * per);
      parts.push(tf.tidy(() => {
        const t = tf.tensor(data, [end - start, ...x.shape.slice(1)], x.dtype);
        return (model.predict(t) as tf.Tensor).dataSync() as Float32Array;
      }));
    }
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  } finally {
    model.dispose();
  }
}

function elementwise(value: unknown, fallback: string, where: string, kerasVersion?: string) {
  const a = resolveActivation(value ?? fallback, where, kerasVersion);
  if (a.kind !== "elementwise") {
    throw new ExperimentError(`host reference: ${where} needs an element-wise activation`);
  }
  return a;
}

function cellOf(obj: LayerObj): RnnCell {
  if (obj.class_name === "SimpleRNN") return RnnCell.SimpleRNN;
  if (obj.class_name === "LSTM") return RnnCell.LSTM;
  if (obj.class_name === "GRU") {
    return obj.config.reset_after === false ? RnnCell.GRU : RnnCell.GRUResetAfter;
  }
  throw new ExperimentError(`host reference: unsupported recurrent layer ${obj.class_name}`);
}

/** One recurrent layer over [batch, time, inDim]. */
function recurrent(
  obj: LayerObj,
  w: Float32Array[],
  x: Float32Array,
  batch: number,
  time: number,
  inDim: number,
  mask: Int32Array | null,
  zeroOutputForMask: boolean,
  goBackwards: boolean,
  kerasVersion?: string,
): Float32Array {
  const c = obj.config;
  const name = String(c.name);
  const act = elementwise(c.activation, "tanh", `${name} activation`, kerasVersion);
  const rec = elementwise(
    c.recurrent_activation,
    "sigmoid",
    `${name} recurrent_activation`,
    kerasVersion,
  );
  return rnnReference({
    cell: cellOf(obj),
    x,
    batch,
    time,
    inDim,
    units: c.units as number,
    kernel: w[0],
    recurrentKernel: w[1],
    bias: c.use_bias === false ? null : w[2],
    mask,
    activation: act.code,
    activationAlpha: act.alpha,
    recurrentActivation: rec.code,
    recurrentActivationAlpha: rec.alpha,
    goBackwards,
    returnSequences: c.return_sequences === true,
    zeroOutputForMask,
  });
}

/** A Dense layer (float64 sums) over rows of `features` values, then its activation. */
function denseHost(
  obj: LayerObj,
  w: Float32Array[],
  x: Float32Array,
  features: number,
  kerasVersion?: string,
): Float32Array {
  const c = obj.config;
  const units = c.units as number;
  const rows = x.length / features;
  const out = new Float32Array(rows * units);
  const bias = c.use_bias === false ? null : w[1];
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      let s = bias ? bias[j] : 0;
      for (let k = 0; k < features; k++) s += x[r * features + k] * w[0][k * units + j];
      out[r * units + j] = s;
    }
  }
  const a = resolveActivation(c.activation ?? "linear", String(c.name), kerasVersion);
  if (a.kind !== "elementwise") return softmaxReference(out, units, a.kind === "log_softmax");
  for (let i = 0; i < out.length; i++) out[i] = activateReference(out[i], a.code, a.alpha);
  return out;
}

const MLP_LAYERS: ReadonlySet<string> = new Set(["InputLayer", "Dense", "Dropout"]);

/**
 * Host-side forward pass of an MLP `InputLayer → (Dense | Dropout)+` on float rows `[batch,
 * features]` — the bag-of-words family's model on vectorized texts.
 */
export function mlpHostReference(spec: ModelSpec, x: Float32Array, features: number): Float32Array {
  for (const obj of layerObjects(spec)) {
    const name = String(obj.config.name);
    if (obj.class_name === "InputLayer" || obj.class_name === "Dropout") continue;
    if (!MLP_LAYERS.has(obj.class_name)) {
      throw new ExperimentError(`host reference: layer class ${obj.class_name} is not supported`);
    }
    x = denseHost(
      obj,
      (spec.weights[name] ?? []).map((t) => t.data),
      x,
      features,
      spec.kerasVersion,
    );
    features = obj.config.units as number;
  }
  return x;
}

/**
 * Host-side forward pass of a text classifier `InputLayer → Embedding → (SimpleRNN | LSTM | GRU |
 * Bidirectional)+ → Dropout* → Dense+` on int ids `[batch, time]`, following Keras's masking
 * (the Embedding's `mask_zero` mask flows through every recurrent layer that returns sequences).
 */
export function textHostReference(spec: ModelSpec, ids: Int32Array, time: number): Float32Array {
  const kv = spec.kerasVersion;
  const batch = ids.length / time;
  let x: Float32Array = new Float32Array(0);
  let features = 0;
  let steps = time; // 1 once a recurrent layer has returned its last output
  let mask: Int32Array | null = null;
  for (const obj of layerObjects(spec)) {
    const c = obj.config;
    const name = String(c.name);
    const w = (spec.weights[name] ?? []).map((t) => t.data);
    switch (obj.class_name) {
      case "InputLayer":
      case "Dropout":
      case "SpatialDropout1D":
        break;
      case "Embedding": {
        const inputDim = c.input_dim as number;
        features = c.output_dim as number;
        const r = embeddingReference(ids, w[0], inputDim, features);
        if (!r.out) {
          throw new ExperimentError(
            `host reference: id ${ids[r.badIndex]} at ${r.badIndex} is outside [0, ${inputDim})`,
          );
        }
        x = r.out;
        mask = c.mask_zero === true ? embeddingMaskReference(ids) : null;
        break;
      }
      case "SimpleRNN":
      case "LSTM":
      case "GRU": {
        const seq = c.return_sequences === true;
        x = recurrent(
          obj,
          w,
          x,
          batch,
          steps,
          features,
          mask,
          c.zero_output_for_mask === true,
          c.go_backwards === true,
          kv,
        );
        features = c.units as number;
        if (!seq) {
          steps = 1;
          mask = null;
        }
        break;
      }
      case "Bidirectional": {
        const inner = c.layer as LayerObj;
        if (c.backward_layer) {
          throw new ExperimentError("host reference: an explicit backward_layer is not supported");
        }
        const seq = inner.config.return_sequences === true;
        const nw = inner.config.use_bias === false ? 2 : 3;
        const back = inner.config.go_backwards !== true;
        // Inside Bidirectional, Keras forces zero_output_for_mask when returning sequences.
        const f = recurrent(inner, w.slice(0, nw), x, batch, steps, features, mask, seq, !back, kv);
        let b = recurrent(inner, w.slice(nw), x, batch, steps, features, mask, seq, back, kv);
        const units = inner.config.units as number;
        if (seq) b = reverseTimeReference(b, batch, steps, units);
        const mode = (c.merge_mode ?? "concat") as "concat" | "sum" | "mul" | "ave";
        x = mergeReference(f, b, seq ? batch * steps : batch, mode);
        features = mode === "concat" ? 2 * units : units;
        if (!seq) {
          steps = 1;
          mask = null;
        }
        break;
      }
      case "Dense":
        x = denseHost(obj, w, x, features, kv);
        features = c.units as number;
        break;
      default:
        throw new ExperimentError(`host reference: layer class ${obj.class_name} is not supported`);
    }
  }
  return x;
}

/** The reference predictions over `x`, and which reference produced them. */
export async function referencePredict(
  spec: ModelSpec,
  x: Tensor,
  choice: ReferenceName,
): Promise<{ probs: Float32Array; path: ReferencePath }> {
  const path = referencePathFor(spec, choice);
  if (path === "tfjs-cpu") return { probs: await tfjsPredictAll(spec, x), path };
  if (spec.config.class_name === "Functional") return { probs: graphHostReference(spec, x), path };
  const mlp = layerObjects(spec).every((l) => MLP_LAYERS.has(l.class_name));
  if (mlp && x.data instanceof Float32Array && x.shape.length === 2) {
    return { probs: mlpHostReference(spec, x.data, x.shape[1]), path };
  }
  if (!(x.data instanceof Int32Array) || x.shape.length !== 2) {
    throw new ExperimentError(
      `host reference: expected int32 ids [batch, time], got ${x.dtype} [${x.shape}]`,
    );
  }
  return { probs: textHostReference(spec, x.data, x.shape[1]), path };
}
