/**
 * Keras `Attention` (Luong-style) on `[query, value]` or `[query, value, key]` (key defaults to
 * value): query [B, T, D], value [B, S, Dv], key [B, S, D]. Forward and backward in TypeScript over
 * the kernel memory ({@link attentionReference} is the shared reference and the forward).
 *
 * - `score_mode: "dot"`: scores = Q·Kᵀ, times the scalar weight `scale` with `use_scale`.
 * - `score_mode: "concat"`: scores = c · Σ_d tanh(scale · (q_d + k_d)) with the scalar weights
 *   `concat_score_weight` (c) and, with `use_scale`, `scale`. Weight order: scale, then c.
 * - The value's mask (and `use_causal_mask=True`) subtracts 1e9 from the masked scores before the
 *   softmax over the keys, as Keras does; `dropout` applies to the probabilities in training only;
 *   the query's mask zeroes the masked query rows of the output and is the output's mask.
 * - `return_attention_scores=True`: a second output, the attention weights [B, T, S] (after
 *   dropout in training, as Keras's `_apply_scores` returns them).
 *
 * `AdditiveAttention` (additive_attention.ts) shares this layer with Bahdanau scores.
 *
 * @module
 */
import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import {
  type CallContext,
  type LayerBuildOptions,
  type LayerConfig,
  MultiOutputLayer,
  type WeightSpec,
} from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { dropoutScales } from "./dropout.ts";
import type { BackwardArgs, LayerTraining, TrainContext } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";

/** How scores are computed: Luong dot, Luong concat, or Bahdanau additive. */
export type AttentionScoreMode = "dot" | "concat" | "additive";

/** Host inputs of {@link attentionReference}. */
export interface AttentionArgs {
  query: Float32Array;
  value: Float32Array;
  /** Defaults to `value`. */
  key?: Float32Array;
  batch: number;
  t: number;
  s: number;
  /** Feature size of query and key. */
  d: number;
  /** Feature size of value. */
  dv: number;
  mode: AttentionScoreMode;
  /** dot/concat: the scalar `scale` (or null without use_scale); additive: the (d) scale vector or null. */
  scale: Float32Array | null;
  /** concat: the scalar `concat_score_weight`. */
  concatWeight: Float32Array | null;
  /** Per [B, S]: 0 where the value is masked; null for none. */
  valueMask?: ArrayLike<number> | null;
  /** Per [B, T]: 0 where the query is masked; null for none. */
  queryMask?: ArrayLike<number> | null;
  causal?: boolean;
  /** Dropout scales per probability [B, T, S] (training), or null. */
  dropScale?: Float32Array | null;
}

/** Keras's amount subtracted from a masked score. */
const MASK_PENALTY = 1e9;

/** The raw score of (query row `qo`, key row `ko`) before masking. */
function score(a: AttentionArgs, key: Float32Array, qo: number, ko: number): number {
  let acc = 0;
  if (a.mode === "dot") {
    for (let c = 0; c < a.d; c++) acc += a.query[qo + c] * key[ko + c];
    return a.scale ? acc * a.scale[0] : acc;
  }
  if (a.mode === "concat") {
    const sc = a.scale ? a.scale[0] : 1;
    for (let c = 0; c < a.d; c++) acc += Math.tanh(sc * (a.query[qo + c] + key[ko + c]));
    return acc * (a.concatWeight ? a.concatWeight[0] : 1);
  }
  for (let c = 0; c < a.d; c++) {
    acc += (a.scale ? a.scale[c] : 1) * Math.tanh(a.query[qo + c] + key[ko + c]);
  }
  return acc;
}

/**
 * Keras's dense attention (see the module doc): returns the output [B, T, Dv] and the
 * probabilities [B, T, S] (before dropout).
 */
export function attentionReference(
  a: AttentionArgs,
): { output: Float32Array; probs: Float32Array } {
  const { batch: b, t, s, d, dv } = a;
  const key = a.key ?? a.value;
  const probs = new Float32Array(b * t * s);
  const output = new Float32Array(b * t * dv);
  const row = new Float64Array(s);
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      let max = -Infinity;
      for (let si = 0; si < s; si++) {
        let v = Math.fround(score(a, key, (bi * t + ti) * d, (bi * s + si) * d));
        const masked = (a.valueMask && !a.valueMask[bi * s + si]) || (a.causal && si > ti);
        if (masked) v = Math.fround(v - MASK_PENALTY);
        row[si] = v;
        if (v > max) max = v;
      }
      let z = 0;
      for (let si = 0; si < s; si++) z += row[si] = Math.exp(row[si] - max);
      const keepRow = !a.queryMask || a.queryMask[bi * t + ti] ? 1 : 0;
      for (let si = 0; si < s; si++) {
        const p = row[si] / z;
        const i = (bi * t + ti) * s + si;
        probs[i] = p;
        const pd = a.dropScale ? p * a.dropScale[i] : p;
        if (!keepRow) continue;
        for (let c = 0; c < dv; c++) {
          output[(bi * t + ti) * dv + c] += pd * a.value[(bi * s + si) * dv + c];
        }
      }
    }
  }
  return { output, probs };
}

/**
 * Gradients of {@link attentionReference} for the output gradient `dy` and, when the call
 * returned its attention weights, their gradient `dScores` [B, T, S].
 */
export function attentionBackwardReference(
  a: AttentionArgs,
  probs: Float32Array,
  dy: Float32Array,
  dScores: Float32Array | null = null,
): {
  dQuery: Float32Array;
  dValue: Float32Array;
  dKey: Float32Array;
  dScale: Float64Array | null;
  dConcat: number;
} {
  const { batch: b, t, s, d, dv } = a;
  const key = a.key ?? a.value;
  const dQuery = new Float32Array(a.query.length);
  const dValue = new Float32Array(a.value.length);
  const dKey = new Float32Array(key.length);
  const dScale = a.scale ? new Float64Array(a.scale.length) : null;
  let dConcat = 0;
  const dp = new Float64Array(s);
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      if (a.queryMask && !a.queryMask[bi * t + ti]) continue;
      const yo = (bi * t + ti) * dv;
      let dot = 0;
      for (let si = 0; si < s; si++) {
        const i = (bi * t + ti) * s + si;
        const vo = (bi * s + si) * dv;
        const drop = a.dropScale ? a.dropScale[i] : 1;
        let g = 0;
        for (let c = 0; c < dv; c++) {
          g += dy[yo + c] * a.value[vo + c];
          dValue[vo + c] += probs[i] * drop * dy[yo + c];
        }
        // The returned weights are the dropped-out probabilities.
        dp[si] = (g + (dScores ? dScores[i] : 0)) * drop;
        dot += dp[si] * probs[i];
      }
      const qo = (bi * t + ti) * d;
      for (let si = 0; si < s; si++) {
        const ds = probs[(bi * t + ti) * s + si] * (dp[si] - dot);
        const ko = (bi * s + si) * d;
        if (a.mode === "dot") {
          const sc = a.scale ? a.scale[0] : 1;
          let raw = 0;
          for (let c = 0; c < d; c++) {
            raw += a.query[qo + c] * key[ko + c];
            dQuery[qo + c] += ds * sc * key[ko + c];
            dKey[ko + c] += ds * sc * a.query[qo + c];
          }
          if (dScale) dScale[0] += ds * raw;
        } else if (a.mode === "concat") {
          const sc = a.scale ? a.scale[0] : 1;
          const cw = a.concatWeight ? a.concatWeight[0] : 1;
          let sumTh = 0;
          for (let c = 0; c < d; c++) {
            const u = a.query[qo + c] + key[ko + c];
            const th = Math.tanh(sc * u);
            sumTh += th;
            const du = ds * cw * (1 - th * th);
            dQuery[qo + c] += du * sc;
            dKey[ko + c] += du * sc;
            if (dScale) dScale[0] += du * u;
          }
          dConcat += ds * sumTh;
        } else {
          for (let c = 0; c < d; c++) {
            const th = Math.tanh(a.query[qo + c] + key[ko + c]);
            const w = a.scale ? a.scale[c] : 1;
            if (dScale) dScale[c] += ds * th;
            const du = ds * w * (1 - th * th);
            dQuery[qo + c] += du;
            dKey[ko + c] += du;
          }
        }
      }
    }
  }
  return { dQuery, dValue, dKey, dScale, dConcat };
}

/** What the training forward keeps. */
interface AttentionTape {
  args: AttentionArgs;
  probs: Float32Array;
}

/** Keras `Attention` (see the module doc); `AdditiveAttention` extends it. */
export class Attention extends MultiOutputLayer {
  readonly useScale: boolean;
  readonly scoreMode: AttentionScoreMode;
  readonly dropout: number;
  /** `use_causal_mask` of the call. */
  useCausalMask = false;
  #bound: string | null = null;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}, className = "Attention") {
    super(className, config, options);
    const additive = className === "AdditiveAttention";
    this.useScale = this.bool("use_scale", additive);
    this.scoreMode = additive ? "additive" : this.oneOf("score_mode", ["dot", "concat"], "dot");
    this.dropout = this.num("dropout", 0);
    if (!(this.dropout >= 0 && this.dropout < 1)) {
      throw new LayerConfigError(
        this.name,
        "dropout",
        `expected a rate in [0, 1), got ${this.dropout}`,
      );
    }
    if (config.causal === true) this.useCausalMask = true; // Keras 2's config flag
  }

  override get multiInput(): boolean {
    return true;
  }

  override bindCallArguments(
    names: readonly string[] | null,
    kwargs: Readonly<Record<string, unknown>>,
  ): void {
    this.#returnScores = kwargs.return_attention_scores === true;
    if (names && names.some((n) => n !== "0" && n !== "inputs")) {
      throw new LayerConfigError(
        this.name,
        "call",
        `expected one list [query, value] or [query, value, key], got tensors for ${
          names.join(", ")
        }`,
      );
    }
    const causal = kwargs.use_causal_mask === true || this.config.causal === true;
    const key = String(causal);
    if (this.#bound !== null && this.#bound !== key) {
      throw new UnsupportedLayerError(
        this.className,
        this.name,
        "called several times with different use_causal_mask",
      );
    }
    this.#bound = key;
    this.useCausalMask = causal;
  }

  /** Throws unless the shapes (no batch) are [query, value] or [query, value, key] of rank 2. */
  #check(shapes: readonly Shape[]): { q: Shape; v: Shape; k: Shape } {
    if (shapes.length < 2 || shapes.length > 3) {
      throw new InputShapeError(
        this.name,
        "a list [query, value] or [query, value, key]",
        `${shapes.length} tensor${shapes.length === 1 ? "" : "s"}`,
      );
    }
    const [q, v] = shapes;
    const k = shapes[2] ?? v;
    for (const [what, s] of [["query", q], ["value", v], ["key", k]] as const) {
      if (s.length !== 2 || s[1] === null) {
        throw new InputShapeError(
          this.name,
          `a ${what} of rank 3 with known features`,
          formatShape(s),
        );
      }
    }
    if (q[1] !== k[1]) {
      throw new InputShapeError(
        this.name,
        `a key with the query's feature size ${q[1]}`,
        formatShape(k),
      );
    }
    return { q, v, k };
  }

  computeOutputShape(inputShape: Shape): Shape {
    return this.computeOutputShapes([inputShape]);
  }

  override computeOutputShapes(inputShapes: Shape[]): Shape {
    const { q, v } = this.#check(inputShapes);
    return [q[0], v[1]];
  }

  /** The call's `return_attention_scores`: a second output, the weights [B, T, S]. */
  #returnScores = false;

  override get outputCount(): number {
    return this.#returnScores ? 2 : 1;
  }

  override computeOutputShapeList(inputShapes: Shape[]): Shape[] {
    const out = this.computeOutputShapes(inputShapes);
    if (!this.#returnScores) return [out];
    const { q, v } = this.#check(inputShapes);
    return [out, [q[0], v[0]]];
  }

  override weightNames(): string[] {
    const names: string[] = [];
    if (this.useScale) names.push("scale");
    if (this.scoreMode === "concat") names.push("concat_score_weight");
    return names;
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const d = inputShape[inputShape.length - 1] as number;
    return this.weightNames().map((name) => ({
      name,
      shape: name === "scale" && this.scoreMode === "additive" ? [d] : [],
    }));
  }

  /** Keras fixes both scalar weights' initializer to ones (no config field). */
  override initialWeight(
    name: string,
    shape: readonly number[],
    _init?: (shape: number[], initializer?: unknown) => Float32Array,
  ): Float32Array | undefined {
    if (name !== "scale" && name !== "concat_score_weight") return undefined;
    return new Float32Array(sizeOf(shape)).fill(1);
  }

  /** The host arguments of one call (weights read from `weights`). */
  argsOf(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    weights: readonly number[],
  ): AttentionArgs {
    this.#check(xs.map((x) => x.shape.slice(1)));
    const [query, value] = xs;
    const key = xs[2] ?? value;
    const b = query.shape[0], t = query.shape[1], s = value.shape[1];
    if (value.shape[0] !== b || key.shape[0] !== b || key.shape[1] !== s) {
      throw new InputShapeError(
        this.name,
        `value and key with the query's batch (${b}) and equal lengths`,
        `query [${query.shape}], value [${value.shape}], key [${key.shape}]`,
      );
    }
    const d = query.shape[2], dv = value.shape[2];
    const f = (x: DeviceTensor) => ctx.heap.f32(x.ptr, sizeOf(x.shape)).slice();
    const m = (x: DeviceTensor | null | undefined, n: number) => {
      if (!x) return null;
      if (sizeOf(x.shape) !== n) {
        throw new InputShapeError(this.name, `input masks of ${n} values`, `[${x.shape}]`);
      }
      return x.dtype === "int32" ? ctx.heap.i32(x.ptr, n).slice() : ctx.heap.f32(x.ptr, n).slice();
    };
    let wi = 0;
    const scale = this.useScale
      ? ctx.heap.f32(weights[wi++], this.scoreMode === "additive" ? d : 1).slice()
      : null;
    const concatWeight = this.scoreMode === "concat"
      ? ctx.heap.f32(weights[wi++], 1).slice()
      : null;
    return {
      query: f(query),
      value: f(value),
      key: xs[2] ? f(key) : undefined,
      batch: b,
      t,
      s,
      d,
      dv,
      mode: this.scoreMode,
      scale,
      concatWeight,
      queryMask: m(masks[0], b * t),
      valueMask: m(masks[1], b * s),
      causal: this.useCausalMask,
    };
  }

  /**
   * The forward; `train` set: dropout (training mode) and a tape for the backward. Returns the
   * output, and with `withScores` the attention weights.
   */
  run(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    train: TrainContext | null,
    withScores = false,
  ): DeviceTensor[] {
    const args = this.argsOf(xs, masks, ctx, this.weightPtrs);
    if (train && train.training && this.dropout > 0) {
      const n = args.batch * args.t * args.s;
      const scale = train.keep(
        dropoutScales(
          ctx,
          args.batch,
          args.t * args.s,
          this.dropout,
          train.seedFor(this),
          train.sampleOffset,
        ),
      );
      args.dropScale = ctx.heap.f32(scale, n).slice();
    }
    const { output, probs } = attentionReference(args);
    if (train) train.tape.set(this, { args, probs } satisfies AttentionTape);
    const y = this.allocOutput(ctx, [args.batch, args.t, args.dv]);
    ctx.heap.f32(y.ptr, output.length).set(output);
    if (!withScores) return [y];
    const scores = this.allocOutput(ctx, [args.batch, args.t, args.s]);
    const drop = args.dropScale;
    ctx.heap.f32(scores.ptr, probs.length).set(drop ? probs.map((p, i) => p * drop[i]) : probs);
    return [y, scores];
  }

  runOutputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    all: boolean,
  ): DeviceTensor[] {
    return this.run(xs, masks, ctx, null, all);
  }

  override computeMasks(
    _xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
  ): DeviceTensor | null {
    return masks[0] ?? null;
  }

  /** The backward of {@link run}: one gradient per input, weight gradients into `a.grads`. */
  backward(a: BackwardArgs): (DeviceTensor | null)[] {
    const { heap } = a.ctx;
    const tape = a.ctx.tape.get(this) as AttentionTape;
    const dScores = a.dys[1];
    const g = attentionBackwardReference(
      tape.args,
      tape.probs,
      heap.f32(a.dy.ptr, sizeOf(a.dy.shape)).slice(),
      dScores ? heap.f32(dScores.ptr, sizeOf(dScores.shape)).slice() : null,
    );
    let wi = 0;
    if (this.useScale) {
      if (a.grads[wi]) heap.f32(a.grads[wi], g.dScale!.length).set(Float32Array.from(g.dScale!));
      wi++;
    }
    if (this.scoreMode === "concat" && a.grads[wi]) heap.f32(a.grads[wi], 1)[0] = g.dConcat;
    const out = (x: DeviceTensor, data: Float32Array): DeviceTensor => {
      const t: DeviceTensor = {
        ptr: heap.alloc(data.length * 4),
        shape: [...x.shape],
        dtype: "float32",
      };
      heap.f32(t.ptr, data.length).set(data);
      return t;
    };
    const grads: (DeviceTensor | null)[] = a.xs.map(() => null);
    const need = (i: number) => a.needInputGrads[i] ?? a.needInputGrad;
    if (need(0)) grads[0] = out(a.xs[0], g.dQuery);
    if (a.xs.length === 3) {
      if (need(1)) grads[1] = out(a.xs[1], g.dValue);
      if (need(2)) grads[2] = out(a.xs[2], g.dKey);
    } else if (need(1)) {
      // Without a key the value is also the key.
      for (let i = 0; i < g.dValue.length; i++) g.dValue[i] += g.dKey[i];
      grads[1] = out(a.xs[1], g.dValue);
    }
    return grads;
  }
}

/** Attention in training (also AdditiveAttention's). */
export const ATTENTION_TRAINING: LayerTraining<Attention> = {
  forwardInputs: (layer, xs, masks, ctx) => {
    const outs = layer.run(xs, masks, ctx, ctx, layer.outputCount > 1);
    return outs.length > 1 ? outs : outs[0];
  },
  backward: (layer, a) => layer.backward(a),
};

/**
 * Attention / AdditiveAttention in ONNX, as {@link attentionReference}: the scores (dot: Q·Kᵀ;
 * concat and additive: tanh of every query + key pair, summed over the features), 1e9 subtracted
 * where the value's mask or the causal mask hides a key, Softmax over the keys, the weighted
 * values, and rows of masked queries zeroed; the probabilities are the second output.
 */
export function attentionOnnx(layer: Attention, ctx: OnnxLayerContext): void {
  const [query, value] = ctx.inputs;
  const key = ctx.inputs[2] ?? value;
  const [t] = ctx.inputShapes[0], [s] = ctx.inputShapes[1];
  const weights = layer.getWeights();
  const scale = layer.useScale ? weights[0] : null;
  const concatWeight = layer.scoreMode === "concat" ? weights[scale ? 1 : 0] : null;
  const constant = (hint: string, w: { data: Float32Array; shape: number[] }) =>
    ctx.initializer(hint, { float32: w.data }, w.shape);
  const scalar = (v: number) => ctx.initializer("c", { float32: Float32Array.of(v) }, []);
  let scores = ctx.fresh("scores");
  if (layer.scoreMode === "dot") {
    const kT = ctx.fresh("key_t");
    ctx.node("Transpose", [key], [kT], { perm: { ints: [0, 2, 1] } });
    const raw = scale ? ctx.fresh("scores_raw") : scores;
    ctx.node("MatMul", [query, kT], [raw]);
    if (scale) ctx.node("Mul", [raw, constant("scale", scale)], [scores]);
  } else {
    // Every pair: [B, T, 1, D] + [B, 1, S, D] → [B, T, S, D].
    const q4 = ctx.fresh("query_pairs"), k4 = ctx.fresh("key_pairs"), sum = ctx.fresh("pairs");
    ctx.node("Unsqueeze", [query, ctx.int64s("axes", [2])], [q4]);
    ctx.node("Unsqueeze", [key, ctx.int64s("axes", [1])], [k4]);
    ctx.node("Add", [q4, k4], [sum]);
    let inner = sum;
    if (scale && layer.scoreMode === "concat") {
      inner = ctx.fresh("pairs_scaled");
      ctx.node("Mul", [sum, constant("scale", scale)], [inner]);
    }
    let act = ctx.fresh("pairs_tanh");
    ctx.node("Tanh", [inner], [act]);
    if (scale && layer.scoreMode === "additive") {
      const weighted = ctx.fresh("pairs_weighted");
      ctx.node("Mul", [act, constant("scale", scale)], [weighted]);
      act = weighted;
    }
    const summed = concatWeight ? ctx.fresh("scores_raw") : scores;
    emitReduce(ctx, "ReduceSum", act, [-1], false, summed);
    if (concatWeight) {
      ctx.node("Mul", [summed, constant("concat_score_weight", concatWeight)], [scores]);
    }
  }
  // Hidden keys: the value's mask [B, 1, S] and the causal mask [1, T, S].
  const hidden: string[] = [];
  const valueMask = ctx.inputMasks[1];
  if (valueMask) {
    const keep = ctx.fresh("value_mask"), hide = ctx.fresh("value_hidden");
    ctx.node("Unsqueeze", [valueMask, ctx.int64s("axes", [1])], [keep]);
    ctx.node("Not", [keep], [hide]);
    hidden.push(hide);
  }
  if (layer.useCausalMask) {
    if (t === null || s === null) ctx.refuse("use_causal_mask with unknown sequence lengths");
    const upper = new Int32Array((t as number) * (s as number));
    for (let i = 0; i < (t as number); i++) {
      for (let j = i + 1; j < (s as number); j++) upper[i * (s as number) + j] = 1;
    }
    const hide = ctx.fresh("causal_hidden");
    const table = ctx.initializer("causal_table", { int32: upper }, [1, t as number, s as number]);
    ctx.node("Cast", [table], [hide], { to: { int: 9 } }); // 9: BOOL
    hidden.push(hide);
  }
  if (hidden.length) {
    let any = hidden[0];
    if (hidden.length === 2) {
      any = ctx.fresh("hidden");
      ctx.node("Or", hidden, [any]);
    }
    const penalty = ctx.fresh("penalty"), amount = ctx.fresh("penalty_amount");
    ctx.node("Cast", [any], [penalty], { to: { int: 1 } });
    ctx.node("Mul", [penalty, scalar(MASK_PENALTY)], [amount]);
    const penalised = ctx.fresh("scores_masked");
    ctx.node("Sub", [scores, amount], [penalised]);
    scores = penalised;
  }
  const probs = ctx.fresh("probs");
  ctx.node("Softmax", [scores], [probs], { axis: { int: -1 } });
  if (ctx.outputs.length > 1) ctx.node("Identity", [probs], [ctx.outputs[1]]);
  const queryMask = ctx.inputMasks[0];
  if (!queryMask) return ctx.node("MatMul", [probs, value], [ctx.output]);
  const weighted = ctx.fresh("weighted"), keep = ctx.fresh("query_keep");
  const keep3 = ctx.fresh("query_keep_rows");
  ctx.node("MatMul", [probs, value], [weighted]);
  ctx.node("Cast", [queryMask], [keep], { to: { int: 1 } });
  ctx.node("Unsqueeze", [keep, ctx.int64s("axes", [2])], [keep3]);
  ctx.node("Mul", [weighted, keep3], [ctx.output]);
}

/** The `Attention` layer class (see `layer_class.ts`). */
export const ATTENTION: LayerClass<Attention> = defineLayer({
  className: "Attention",
  create: (config, options) => new Attention(config, options),
  training: ATTENTION_TRAINING,
  onnx: attentionOnnx,
});
