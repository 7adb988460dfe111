/**
 * Host-side references for text models the TF.js oracle cannot run (GRU reset_after=true, a
 * backward_layer that differs from the forward one): Embedding → one recurrent layer, or →
 * Bidirectional, computed with the TypeScript kernel references from a model spec.
 */
import { type ActivationCode, type ModelSpec, resolveActivation } from "../mod.ts";
import { embeddingMaskReference, embeddingReference } from "../src/kernels/embedding_reference.ts";
import { RnnCell } from "../src/kernels/rnn_codes.ts";
import {
  mergeReference,
  reverseTimeReference,
  rnnReference,
} from "../src/kernels/rnn_reference.ts";

type Obj = { class_name: string; config: Record<string, unknown> };

function code(value: unknown, fallback: string, kerasVersion?: string): [ActivationCode, number] {
  const a = resolveActivation(value === undefined ? fallback : value, "ref", kerasVersion);
  if (a.kind !== "elementwise") throw new Error("reference: element-wise activations only");
  return [a.code, a.alpha];
}

/** One recurrent layer (Keras config) over x with its weights; output as Keras gives it. */
function runRecurrent(
  obj: Obj,
  weights: Float32Array[],
  x: Float32Array,
  batch: number,
  time: number,
  inDim: number,
  mask: Int32Array | null,
  zeroOutputForMask: boolean,
  kerasVersion?: string,
): { y: Float32Array; units: number; returnSequences: boolean } {
  const c = obj.config;
  const cell = obj.class_name === "SimpleRNN"
    ? RnnCell.SimpleRNN
    : obj.class_name === "LSTM"
    ? RnnCell.LSTM
    : c.reset_after === false
    ? RnnCell.GRU
    : RnnCell.GRUResetAfter;
  const [act, actAlpha] = code(c.activation, "tanh", kerasVersion);
  const [rec, recAlpha] = code(c.recurrent_activation, "sigmoid", kerasVersion);
  const units = c.units as number;
  const returnSequences = c.return_sequences === true;
  const y = rnnReference({
    cell,
    x,
    batch,
    time,
    inDim,
    units,
    kernel: weights[0],
    recurrentKernel: weights[1],
    bias: c.use_bias === false ? null : weights[2],
    mask,
    activation: act,
    activationAlpha: actAlpha,
    recurrentActivation: rec,
    recurrentActivationAlpha: recAlpha,
    goBackwards: c.go_backwards === true,
    returnSequences,
    zeroOutputForMask,
  });
  return { y, units, returnSequences };
}

/**
 * The output of a spec shaped `InputLayer → Embedding → (SimpleRNN | LSTM | GRU | Bidirectional)`
 * on `ids` [batch, time], computed on the host from the Keras equations.
 */
export function textModelReference(spec: ModelSpec, ids: Int32Array, time: number): Float32Array {
  const layers = (spec.config.config as { layers: Obj[] }).layers;
  const [emb, rnn] = layers.slice(1) as [Obj, Obj];
  const batch = ids.length / time;
  const inputDim = emb.config.input_dim as number, dim = emb.config.output_dim as number;
  const table = spec.weights[String(emb.config.name)][0].data;
  const x = embeddingReference(ids, table, inputDim, dim).out!;
  const mask = emb.config.mask_zero === true ? embeddingMaskReference(ids) : null;
  const w = spec.weights[String(rnn.config.name)].map((t) => t.data);
  const kv = spec.kerasVersion;
  if (rnn.class_name !== "Bidirectional") {
    const zero = rnn.config.zero_output_for_mask === true;
    return runRecurrent(rnn, w, x, batch, time, dim, mask, zero, kv).y;
  }
  const inner = rnn.config.layer as Obj;
  const back = (rnn.config.backward_layer as Obj | undefined) ?? {
    class_name: inner.class_name,
    config: { ...inner.config, go_backwards: !(inner.config.go_backwards ?? false) },
  };
  const nf = inner.config.use_bias === false ? 2 : 3;
  const seq = inner.config.return_sequences === true;
  const f = runRecurrent(inner, w.slice(0, nf), x, batch, time, dim, mask, seq, kv);
  const b = runRecurrent(back, w.slice(nf), x, batch, time, dim, mask, seq, kv);
  const yb = seq ? reverseTimeReference(b.y, batch, time, b.units) : b.y;
  const mode = (rnn.config.merge_mode ?? "concat") as "concat" | "sum" | "mul" | "ave";
  return mergeReference(f.y, yb, seq ? batch * time : batch, mode);
}
