/**
 * The host reference of the Transformer family: TF.js has no MultiHeadAttention, so the engine's
 * predictions are checked against this forward pass of the Keras equations, written out here in
 * float64 from the saved config and weights (no engine kernel, no WASM). It walks a Keras 3
 * Functional config with the layers the Transformer uses — InputLayer, Embedding (`mask_zero`),
 * Add, Dropout / SpatialDropout1D (identity at inference), MultiHeadAttention (self-attention,
 * masks as Keras's `_compute_attention_mask`: query mask × value mask, −1e9 before the softmax),
 * LayerNormalization (last axis), Dense (last axis), GlobalAveragePooling1D (masked mean) — and
 * refuses any other layer by name.
 */
import { activateReference, type ModelSpec, resolveActivation, Tensor } from "@scratchnet/engine";
import { ExperimentError } from "./errors.ts";
import { inputsFor } from "./model_inputs.ts";

/** A batch of values `[n, ...shape]` and its per-timestep mask (`[n, time]`), float64. */
interface Value {
  data: Float64Array;
  shape: number[];
  mask: Uint8Array | null;
}

interface GraphLayer {
  class_name: string;
  config: Record<string, unknown>;
  name?: string;
  inbound_nodes?: { args: unknown[]; kwargs?: Record<string, unknown> }[];
}

/** The layer classes this reference computes. */
const SUPPORTED: ReadonlySet<string> = new Set([
  "InputLayer",
  "Embedding",
  "Add",
  "Dropout",
  "SpatialDropout1D",
  "MultiHeadAttention",
  "LayerNormalization",
  "Dense",
  "GlobalAveragePooling1D",
]);

/** Keras adds this to masked scores before the softmax (float32 inputs). */
const MASKED_SCORE = -1e9;

function layerName(l: GraphLayer): string {
  return String(l.name ?? l.config.name);
}

/** The layer names a call argument refers to (`__keras_tensor__` entries, nested in lists). */
function argLayers(arg: unknown): string[] {
  if (Array.isArray(arg)) return arg.flatMap(argLayers);
  if (arg && typeof arg === "object") {
    const o = arg as { class_name?: string; config?: { keras_history?: unknown[] } };
    if (o.class_name === "__keras_tensor__" && Array.isArray(o.config?.keras_history)) {
      return [String(o.config.keras_history[0])];
    }
  }
  return [];
}

function lastDim(v: Value): number {
  return v.shape[v.shape.length - 1];
}

/** x · W + b over the last axis (W is [in, out], row-major). */
function affine(
  x: Float64Array,
  rows: number,
  inDim: number,
  w: Float32Array,
  b: Float32Array | null,
) {
  const outDim = w.length / inDim;
  const out = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < outDim; j++) {
      let s = b ? b[j] : 0;
      for (let k = 0; k < inDim; k++) s += x[r * inDim + k] * w[k * outDim + j];
      out[r * outDim + j] = s;
    }
  }
  return out;
}

function dense(l: GraphLayer, w: Float32Array[], x: Value, kerasVersion?: string): Value {
  const inDim = lastDim(x);
  const rows = x.data.length / inDim;
  const useBias = l.config.use_bias !== false;
  const out = affine(x.data, rows, inDim, w[0], useBias ? w[1] : null);
  const units = out.length / rows;
  const act = resolveActivation(l.config.activation ?? "linear", layerName(l), kerasVersion);
  if (act.kind === "elementwise") {
    for (let i = 0; i < out.length; i++) out[i] = activateReference(out[i], act.code, act.alpha);
  } else {
    for (let r = 0; r < rows; r++) {
      const row = out.subarray(r * units, (r + 1) * units);
      const m = Math.max(...row);
      let z = 0;
      for (let j = 0; j < units; j++) z += row[j] = Math.exp(row[j] - m);
      for (let j = 0; j < units; j++) {
        row[j] = act.kind === "log_softmax" ? Math.log(row[j] / z) : row[j] / z;
      }
    }
  }
  return { data: out, shape: [...x.shape.slice(0, -1), units], mask: x.mask };
}

function layerNorm(l: GraphLayer, w: Float32Array[], x: Value): Value {
  const axis = l.config.axis ?? -1;
  if (
    !(axis === -1 || axis === x.shape.length - 1 ||
      (Array.isArray(axis) && axis.length === 1 &&
        (axis[0] === -1 || axis[0] === x.shape.length - 1)))
  ) {
    throw new ExperimentError(`host reference: LayerNormalization axis ${JSON.stringify(axis)}`);
  }
  if (l.config.rms_scaling === true) {
    throw new ExperimentError(`host reference: ${layerName(l)} rms_scaling is not supported`);
  }
  const eps = typeof l.config.epsilon === "number" ? l.config.epsilon : 1e-3;
  const scale = l.config.scale !== false, center = l.config.center !== false;
  const gamma = scale ? w[0] : null, beta = center ? w[scale ? 1 : 0] : null;
  const d = lastDim(x), rows = x.data.length / d;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x.data[r * d + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x.data[r * d + j] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let j = 0; j < d; j++) {
      const y = (x.data[r * d + j] - mean) * inv;
      out[r * d + j] = y * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
    }
  }
  return { data: out, shape: x.shape, mask: x.mask };
}

/** Self-attention of `x` [n, T, d] (query = value = key), Keras's MultiHeadAttention. */
function selfAttention(l: GraphLayer, w: Float32Array[], x: Value): Value {
  const c = l.config;
  const heads = c.num_heads as number, kd = c.key_dim as number;
  const vd = (c.value_dim ?? kd) as number;
  if (c.use_bias === false || (c.output_shape !== null && c.output_shape !== undefined)) {
    throw new ExperimentError(`host reference: ${layerName(l)} needs use_bias and no output_shape`);
  }
  const [wq, bq, wk, bk, wv, bv, wo, bo] = w;
  const [n, T, d] = x.shape;
  const outDim = bo.length;
  const out = new Float64Array(n * T * outDim);
  const scale = 1 / Math.sqrt(kd);
  const probs = new Float64Array(T);
  for (let b = 0; b < n; b++) {
    const xb = x.data.subarray(b * T * d, (b + 1) * T * d);
    const q = affine(xb, T, d, wq, bq); // [T, heads·kd]
    const k = affine(xb, T, d, wk, bk);
    const v = affine(xb, T, d, wv, bv); // [T, heads·vd]
    const att = new Float64Array(T * heads * vd);
    const m = x.mask?.subarray(b * T, (b + 1) * T) ?? null;
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < T; t++) {
        let max = -Infinity;
        for (let s = 0; s < T; s++) {
          let dot = 0;
          for (let e = 0; e < kd; e++) {
            dot += q[t * heads * kd + h * kd + e] * scale * k[s * heads * kd + h * kd + e];
          }
          // Keras: scores + (1 − mask)·(−1e9), mask = query mask ⊗ value mask.
          if (m && !(m[t] && m[s])) dot += MASKED_SCORE;
          probs[s] = dot;
          max = Math.max(max, dot);
        }
        let z = 0;
        for (let s = 0; s < T; s++) z += probs[s] = Math.exp(probs[s] - max);
        for (let e = 0; e < vd; e++) {
          let acc = 0;
          for (let s = 0; s < T; s++) acc += (probs[s] / z) * v[s * heads * vd + h * vd + e];
          att[t * heads * vd + h * vd + e] = acc;
        }
      }
    }
    out.set(affine(att, T, heads * vd, wo, bo), b * T * outDim);
  }
  return { data: out, shape: [n, T, outDim], mask: x.mask };
}

function globalAveragePool(x: Value): Value {
  const [n, T, d] = x.shape;
  const out = new Float64Array(n * d);
  for (let b = 0; b < n; b++) {
    let count = 0;
    for (let t = 0; t < T; t++) {
      if (x.mask && !x.mask[b * T + t]) continue;
      count++;
      for (let j = 0; j < d; j++) out[b * d + j] += x.data[(b * T + t) * d + j];
    }
    for (let j = 0; j < d; j++) out[b * d + j] /= count;
  }
  return { data: out, shape: [n, d], mask: null };
}

function embedding(l: GraphLayer, w: Float32Array[], ids: Value): Value {
  const inputDim = l.config.input_dim as number, d = l.config.output_dim as number;
  const out = new Float64Array(ids.data.length * d);
  ids.data.forEach((id, i) => {
    if (!(id >= 0 && id < inputDim)) {
      throw new ExperimentError(
        `host reference: ${layerName(l)} id ${id} outside [0, ${inputDim})`,
      );
    }
    for (let j = 0; j < d; j++) out[i * d + j] = w[0][id * d + j];
  });
  const mask = l.config.mask_zero === true
    ? Uint8Array.from(ids.data, (id) => (id !== 0 ? 1 : 0))
    : null;
  return { data: out, shape: [...ids.shape, d], mask };
}

/**
 * Keras's `Add`: the sum; its mask since Keras 3.4 is the OR of the inputs' masks when every input
 * has one, else none (before 3.4, and in Keras 2: the AND of the masks present).
 */
function addAll(values: Value[], kerasVersion?: string): Value {
  const data = new Float64Array(values[0].data);
  for (const v of values.slice(1)) for (let i = 0; i < data.length; i++) data[i] += v.data[i];
  const masks = values.map((v) => v.mask).filter((m): m is Uint8Array => m !== null);
  const [major, minor] = (kerasVersion ?? "3.10").split(".").map(Number);
  if (major > 3 || (major === 3 && minor >= 4)) {
    if (masks.length < values.length) return { data, shape: values[0].shape, mask: null };
    const or = Uint8Array.from(masks[0], (_, i) => (masks.some((m) => m[i]) ? 1 : 0));
    return { data, shape: values[0].shape, mask: or };
  }
  const mask = masks.length
    ? Uint8Array.from(masks[0], (_, i) => (masks.every((m) => m[i]) ? 1 : 0))
    : null;
  return { data, shape: values[0].shape, mask };
}

/** The reference forward pass of a Functional `spec` on token ids `x` ([n, length]), chunked. */
export function graphHostReference(spec: ModelSpec, x: Tensor, chunk = 32): Float32Array {
  const cfg = spec.config.config as {
    layers: GraphLayer[];
    input_layers: [string, number, number][];
    output_layers: [string, number, number][];
  };
  if (cfg.output_layers.length !== 1) {
    throw new ExperimentError("host reference: one output expected");
  }
  const unknown = cfg.layers.find((l) => !SUPPORTED.has(l.class_name));
  if (unknown) {
    throw new ExperimentError(`host reference: layer class ${unknown.class_name} is not supported`);
  }
  const inputNames = cfg.input_layers.map((e) => e[0]);
  const n = x.shape[0], per = x.size / Math.max(1, n);
  const parts: Float64Array[] = [];
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    const ids = new Tensor(x.data.slice(start * per, end * per), [
      end - start,
      ...x.shape.slice(1),
    ]);
    const inputs = inputsFor(inputNames, ids);
    const values = new Map<string, Value>();
    inputNames.forEach((name, i) => {
      values.set(name, {
        data: Float64Array.from(inputs[i].data),
        shape: [...inputs[i].shape],
        mask: null,
      });
    });
    for (const l of cfg.layers) {
      const name = layerName(l);
      if (l.class_name === "InputLayer") continue;
      const nodes = l.inbound_nodes ?? [];
      if (nodes.length !== 1) {
        throw new ExperimentError(`host reference: ${name} called ${nodes.length} times`);
      }
      const args = argLayers(nodes[0].args).map((a) => {
        const v = values.get(a);
        if (!v) {
          throw new ExperimentError(`host reference: ${name} reads "${a}" before it is computed`);
        }
        return v;
      });
      const w = (spec.weights[name] ?? []).map((t) => t.data);
      let out: Value;
      switch (l.class_name) {
        case "Embedding":
          out = embedding(l, w, args[0]);
          break;
        case "Add":
          out = addAll(args, spec.kerasVersion);
          break;
        case "Dropout":
        case "SpatialDropout1D":
          out = args[0];
          break;
        case "MultiHeadAttention":
          if (
            args.length !== 2 || args[0] !== args[1] || Object.keys(nodes[0].kwargs ?? {}).length
          ) {
            throw new ExperimentError(`host reference: ${name} must be self-attention mha(x, x)`);
          }
          out = selfAttention(l, w, args[0]);
          break;
        case "LayerNormalization":
          out = layerNorm(l, w, args[0]);
          break;
        case "Dense":
          out = dense(l, w, args[0], spec.kerasVersion);
          break;
        case "GlobalAveragePooling1D":
          out = globalAveragePool(args[0]);
          break;
        default:
          throw new ExperimentError(`host reference: layer class ${l.class_name} is not supported`);
      }
      values.set(name, out);
    }
    parts.push(values.get(cfg.output_layers[0][0])!.data);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const probs = new Float32Array(total);
  let off = 0;
  for (const p of parts) {
    probs.set(p, off);
    off += p.length;
  }
  return probs;
}
