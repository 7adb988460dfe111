/**
 * Keras `MultiHeadAttention` on sequences (`query` [B, T, Dq], `value` [B, S, Dv], optional `key`
 * [B, S, Dk], default `value`), forward and backward.
 *
 * - Projections are Keras's EinsumDense sublayers `query`, `key`, `value` (kernel (D, heads,
 *   key_dim or value_dim), bias (heads, dim)) and `attention_output` (kernel (heads, value_dim,
 *   out), bias (out)); weights in that order, kernel then bias, named `query/kernel`, …. In a
 *   `.keras` file they live under `query_dense/vars`, `key_dense/vars`, `value_dense/vars` and
 *   `output_dense/vars` (`_query_dense/…` in older files; {@link MultiHeadAttention.kerasVarGroups}). They run in the GEMM kernels.
 * - Scores `softmax(Q·Kᵀ / √key_dim)` over the keys per head; `dropout` on the probabilities in
 *   training only (Dropout's counter hash from `ctx.seedFor`).
 * - The attention mask is Keras's `_compute_attention_mask`: the AND of the query's mask [B, T, 1],
 *   the value's mask [B, 1, S], the key's mask when a key is passed, the causal mask
 *   (`use_causal_mask=True`) and an `attention_mask` input ([B, T, S] or [B, 1, S], non-zero =
 *   attend). Masked scores are replaced by −1e9 before the softmax (the inference path of Keras,
 *   `dot_product_attention`: a fully masked row attends uniformly). The output's mask is the
 *   query's.
 * - The roles of the inputs come from the Keras 3 call (`mha(query, value, key=…,
 *   attention_mask=…)`, see {@link Layer.bindCallArguments}); `return_attention_scores=True`
 *   makes the probabilities before dropout [B, H, T, S] a second output. `attention_axes` other
 *   than the sequence axis and inputs of rank ≠ 3 are refused by name.
 *
 * {@link multiHeadAttentionReference} is the plain TypeScript reference the tests check against.
 *
 * @module
 */
import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import {
  type CallContext,
  type KerasVarGroup,
  type LayerBuildOptions,
  type LayerConfig,
  MultiOutputLayer,
  type WeightSpec,
} from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Which input of a call plays which role. */
interface Roles {
  query: number;
  value: number;
  key: number | null;
  attentionMask: number | null;
}

/** The score that stands for a masked (query, key) pair (Keras's large negative number). */
const MASKED_SCORE = -1e9;

/** Positional parameters of Keras's `MultiHeadAttention.call`, in order. */
const POSITIONAL = [
  "query",
  "value",
  "key",
  "query_mask",
  "value_mask",
  "key_mask",
  "attention_mask",
];

/** What one forward leaves for the backward (device pointers). */
interface MhaTape {
  qp: number;
  kp: number;
  vp: number;
  /** Softmax probabilities [B, H, T, S]. */
  probs: number;
  /** Probabilities after dropout (= probs without dropout). */
  dropped: number;
  /** Dropout scales, or 0. */
  scale: number;
  /** Per score: 1 where attended. */
  allowed: Uint8Array | null;
  context: number;
}

/** Keras `MultiHeadAttention` (see the module doc). */
export class MultiHeadAttention extends MultiOutputLayer {
  readonly numHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  /** The config's `output_shape` (one dim), or null for the query's last dim. */
  readonly outputDim: number | null;
  #roles: Roles = { query: 0, value: 1, key: null, attentionMask: null };
  #rolesBound = false;
  #names: string | null = null;
  /** `use_causal_mask` of the call. */
  useCausalMask = false;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("MultiHeadAttention", config, options);
    this.numHeads = this.num("num_heads", undefined, true);
    this.keyDim = this.num("key_dim", undefined, true);
    this.valueDim = config.value_dim == null ? this.keyDim : this.num("value_dim", undefined, true);
    for (
      const [f, v] of [["num_heads", this.numHeads], ["key_dim", this.keyDim], [
        "value_dim",
        this.valueDim,
      ]] as const
    ) {
      if (v < 1) throw new LayerConfigError(this.name, f, `expected a positive integer, got ${v}`);
    }
    this.dropout = this.num("dropout", 0);
    if (!(this.dropout >= 0 && this.dropout < 1)) {
      throw new LayerConfigError(
        this.name,
        "dropout",
        `expected a rate in [0, 1), got ${this.dropout}`,
      );
    }
    this.useBias = this.bool("use_bias", true);
    const os = config.output_shape;
    if (os == null) this.outputDim = null;
    else {
      const list = typeof os === "number" ? [os] : os;
      if (!Array.isArray(list) || list.length !== 1 || !Number.isInteger(list[0]) || list[0] < 1) {
        throw new UnsupportedLayerError(
          "MultiHeadAttention",
          this.name,
          `output_shape ${JSON.stringify(os)}: only one positive output dim is supported`,
        );
      }
      this.outputDim = list[0] as number;
    }
    const axes = config.attention_axes;
    const axisList = axes == null ? null : typeof axes === "number" ? [axes] : axes;
    if (
      axisList !== null &&
      !(Array.isArray(axisList) && axisList.length === 1 &&
        (axisList[0] === 1 || axisList[0] === -2))
    ) {
      throw new UnsupportedLayerError(
        "MultiHeadAttention",
        this.name,
        `attention_axes ${
          JSON.stringify(axes)
        }: only attention over the sequence axis (null or [1])`,
      );
    }
  }

  override get multiInput(): boolean {
    return true;
  }

  /** The call's `return_attention_scores`: a second output, the probabilities [B, H, T, S]. */
  #returnScores = false;

  override get outputCount(): number {
    return this.#returnScores ? 2 : 1;
  }

  override computeOutputShapeList(inputShapes: Shape[]): Shape[] {
    const out = this.computeOutputShapes(inputShapes);
    if (!this.#returnScores) return [out];
    const { q, v } = this.#shapes(inputShapes);
    return [out, [this.numHeads, q[0], v[0]]];
  }

  /** The roles of the inputs, as bound from the call. */
  get roles(): Readonly<Roles> {
    return this.#roles;
  }

  override bindCallArguments(
    names: readonly string[] | null,
    kwargs: Readonly<Record<string, unknown>>,
  ): void {
    this.#returnScores = kwargs.return_attention_scores === true;
    const causal = kwargs.use_causal_mask === true;
    const roles: Roles = { query: -1, value: -1, key: null, attentionMask: null };
    (names ?? []).forEach((n, i) => {
      const role = /^\d+$/.test(n) ? POSITIONAL[Number(n)] : n;
      if (role === "query") roles.query = i;
      else if (role === "value") roles.value = i;
      else if (role === "key") roles.key = i;
      else if (role === "attention_mask") roles.attentionMask = i;
      else {
        throw new LayerConfigError(
          this.name,
          "call",
          `expected tensors for query, value, key or attention_mask, got one for "${role ?? n}"`,
        );
      }
    });
    if (names === null) {
      roles.query = 0;
      roles.value = 1;
    }
    const key = JSON.stringify([roles, causal]);
    if (this.#rolesBound && this.#names !== key) {
      throw new UnsupportedLayerError(
        "MultiHeadAttention",
        this.name,
        "called several times with different arguments (inputs or use_causal_mask)",
      );
    }
    this.#roles = roles;
    this.useCausalMask = causal;
    this.#names = key;
    this.#rolesBound = true;
  }

  /** The call's (query, value, key) shapes without batch; key defaults to value. */
  #shapes(inputShapes: readonly Shape[]): { q: Shape; v: Shape; k: Shape } {
    const r = this.#roles;
    if (r.query < 0 || r.value < 0 || inputShapes.length <= Math.max(r.query, r.value)) {
      throw new InputShapeError(
        this.name,
        "query and value tensors (mha(query, value, key=…, attention_mask=…))",
        `${inputShapes.length} tensor${inputShapes.length === 1 ? "" : "s"}`,
      );
    }
    const q = inputShapes[r.query], v = inputShapes[r.value];
    const k = r.key !== null ? inputShapes[r.key] : v;
    for (const [what, s] of [["query", q], ["value", v], ["key", k]] as const) {
      if (s.length !== 2 || s[1] === null) {
        throw new InputShapeError(
          this.name,
          `a ${what} of rank 3 (batch, time, features) with known features`,
          formatShape(s),
        );
      }
    }
    if (v[0] !== null && k[0] !== null && v[0] !== k[0]) {
      throw new InputShapeError(
        this.name,
        `a key as long as the value (${v[0]} steps)`,
        formatShape(k),
      );
    }
    return { q, v, k };
  }

  computeOutputShape(inputShape: Shape): Shape {
    return this.computeOutputShapes([inputShape]);
  }

  override computeOutputShapes(inputShapes: Shape[]): Shape {
    const { q } = this.#shapes(inputShapes);
    return [q[0], this.outputDim ?? (q[1] as number)];
  }

  override weightNames(): string[] {
    const names: string[] = [];
    for (const p of ["query", "key", "value", "attention_output"]) {
      names.push(`${p}/kernel`);
      if (this.useBias) names.push(`${p}/bias`);
    }
    return names;
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const shapes = this.inputShapes.length > 1 ? this.inputShapes : [inputShape, inputShape];
    const { q, v, k } = this.#shapes(shapes);
    const h = this.numHeads, kd = this.keyDim, vd = this.valueDim;
    const out = this.outputDim ?? (q[1] as number);
    const parts: [string, number[], number[]][] = [
      ["query", [q[1] as number, h, kd], [h, kd]],
      ["key", [k[1] as number, h, kd], [h, kd]],
      ["value", [v[1] as number, h, vd], [h, vd]],
      ["attention_output", [h, vd, out], [out]],
    ];
    const specs: WeightSpec[] = [];
    for (const [p, kernel, bias] of parts) {
      specs.push({ name: `${p}/kernel`, shape: kernel });
      if (this.useBias) specs.push({ name: `${p}/bias`, shape: bias });
    }
    return specs;
  }

  /**
   * Keras 3 keeps the weights in the four EinsumDense sublayers (named `query`, `key`, `value`,
   * `attention_output`); the layer's own `vars` is empty. The saver walks attributes with the
   * private ones last, so the public aliases `query_dense`, `key_dense`, `value_dense` and
   * `output_dense` name the groups; files from Keras versions without the aliases keep them under
   * `_query_dense`, … (read as alternates).
   */
  override kerasVarGroups(): KerasVarGroup[] {
    const per = this.useBias ? 2 : 1;
    const group = (attr: string, index: number, objectName: string): KerasVarGroup => ({
      path: `${attr}/vars`,
      start: index * per,
      count: per,
      objectName,
      alternatePaths: [`_${attr}/vars`],
    });
    return [
      { path: "vars", start: 0, count: 0 },
      group("key_dense", 1, "key"),
      group("output_dense", 3, "attention_output"),
      group("query_dense", 0, "query"),
      group("value_dense", 2, "value"),
    ];
  }

  /** Device pointers of (kernel, bias or 0) of projection `i` (0 query … 3 output). */
  #proj(weights: readonly number[], i: number): [number, number] {
    const per = this.useBias ? 2 : 1;
    return [weights[i * per], this.useBias ? weights[i * per + 1] : 0];
  }

  /** 1 where query t of sample b may attend key s ([B, T, S]), or null when nothing is masked. */
  #allowed(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    b: number,
    t: number,
    s: number,
  ): Uint8Array | null {
    const r = this.#roles;
    const qm = masks[r.query] ?? null;
    const vm = masks[r.value] ?? null;
    const km = r.key !== null ? masks[r.key] ?? null : null;
    const am = r.attentionMask !== null ? xs[r.attentionMask] : null;
    if (!qm && !vm && !km && !am && !this.useCausalMask) return null;
    const allowed = new Uint8Array(b * t * s).fill(1);
    const rowMask = (m: DeviceTensor | null, len: number) => {
      if (!m) return null;
      if (sizeOf(m.shape) !== b * len) {
        throw new InputShapeError(
          this.name,
          `input masks of shape [${b}, ${len}]`,
          `a mask of shape [${m.shape.join(", ")}]`,
        );
      }
      return m.dtype === "int32" ? ctx.heap.i32(m.ptr, b * len) : ctx.heap.f32(m.ptr, b * len);
    };
    const q = rowMask(qm, t), v = rowMask(vm, s), k = rowMask(km, s);
    let a: Float32Array | Int32Array | null = null;
    let aRows = t;
    if (am) {
      const n = sizeOf(am.shape);
      if (am.shape[0] !== b || (n !== b * t * s && n !== b * s)) {
        throw new InputShapeError(
          this.name,
          `an attention_mask of shape [${b}, ${t}, ${s}] or [${b}, 1, ${s}]`,
          `[${am.shape.join(", ")}]`,
        );
      }
      aRows = n === b * s ? 1 : t;
      a = am.dtype === "int32" ? ctx.heap.i32(am.ptr, n) : ctx.heap.f32(am.ptr, n);
    }
    for (let bi = 0; bi < b; bi++) {
      for (let ti = 0; ti < t; ti++) {
        for (let si = 0; si < s; si++) {
          let ok = true;
          if (q && !q[bi * t + ti]) ok = false;
          if (v && !v[bi * s + si]) ok = false;
          if (k && !k[bi * s + si]) ok = false;
          if (this.useCausalMask && si > ti) ok = false;
          if (a && !a[(bi * aRows + (aRows === 1 ? 0 : ti)) * s + si]) ok = false;
          if (!ok) allowed[(bi * t + ti) * s + si] = 0;
        }
      }
    }
    return allowed;
  }

  /**
   * The forward; `train` set: keeps the intermediates for the backward (and applies dropout).
   * Returns the output, and with `withScores` the attention probabilities [B, H, T, S] (before
   * dropout, as Keras returns them).
   */
  run(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    train: TrainContext | null,
    withScores = false,
  ): DeviceTensor[] {
    const { kernels, heap } = ctx;
    const r = this.#roles;
    const query = xs[r.query], value = xs[r.value];
    const key = r.key !== null ? xs[r.key] : value;
    this.#shapes(xs.map((x) => x.shape.slice(1)));
    const b = query.shape[0], t = query.shape[1], s = value.shape[1];
    if (value.shape[0] !== b || key.shape[0] !== b || key.shape[1] !== s) {
      throw new InputShapeError(
        this.name,
        `value and key with the query's batch (${b}) and equal lengths`,
        `query [${query.shape}], value [${value.shape}], key [${key.shape}]`,
      );
    }
    const h = this.numHeads, kd = this.keyDim, vd = this.valueDim;
    const hk = h * kd, hv = h * vd;
    const dq = query.shape[2], dk = key.shape[2], dv = value.shape[2];
    const out = this.outputDim ?? dq;
    const w = this.weightPtrs;
    const temps: number[] = [];
    const alloc = (n: number) => {
      const p = heap.alloc(n * 4);
      if (train) train.keep(p);
      else temps.push(p);
      return p;
    };
    try {
      const qp = alloc(b * t * hk), kp = alloc(b * s * hk), vp = alloc(b * s * hv);
      const [qW, qB] = this.#proj(w, 0), [kW, kB] = this.#proj(w, 1);
      const [vW, vB] = this.#proj(w, 2), [oW, oB] = this.#proj(w, 3);
      kernels.gemm(query.ptr, qW, qB, qp, b * t, hk, dq, 0, 0);
      kernels.gemm(key.ptr, kW, kB, kp, b * s, hk, dk, 0, 0);
      kernels.gemm(value.ptr, vW, vB, vp, b * s, hv, dv, 0, 0);
      const nScores = b * h * t * s;
      const probs = alloc(nScores);
      for (let bi = 0; bi < b; bi++) {
        for (let hi = 0; hi < h; hi++) {
          kernels.gemmNT(
            qp + (bi * t * hk + hi * kd) * 4,
            hk,
            kp + (bi * s * hk + hi * kd) * 4,
            hk,
            probs + (bi * h + hi) * t * s * 4,
            s,
            t,
            s,
            kd,
            0,
          );
        }
      }
      const allowed = this.#allowed(xs, masks, ctx, b, t, s);
      const sc = heap.f32(probs, nScores);
      const inv = 1 / Math.sqrt(kd);
      for (let bi = 0; bi < b; bi++) {
        for (let hi = 0; hi < h; hi++) {
          const base = (bi * h + hi) * t * s;
          for (let i = 0; i < t * s; i++) {
            sc[base + i] = allowed && !allowed[bi * t * s + i] ? MASKED_SCORE : sc[base + i] * inv;
          }
        }
      }
      kernels.softmaxRows(probs, b * h * t, s, 0);
      let dropped = probs, scale = 0;
      if (train && train.training && this.dropout > 0) {
        dropped = alloc(nScores);
        scale = alloc(nScores);
        kernels.dropoutForward(
          probs,
          dropped,
          scale,
          nScores,
          this.dropout,
          train.seedFor(this),
          (train.sampleOffset * h * t * s) >>> 0,
        );
      }
      const context = alloc(b * t * hv);
      for (let bi = 0; bi < b; bi++) {
        for (let hi = 0; hi < h; hi++) {
          kernels.gemmStrided(
            dropped + (bi * h + hi) * t * s * 4,
            s,
            vp + (bi * s * hv + hi * vd) * 4,
            hv,
            0,
            context + (bi * t * hv + hi * vd) * 4,
            hv,
            t,
            vd,
            s,
            0,
            0,
            0,
          );
        }
      }
      const y = this.allocOutput(ctx, [b, t, out]);
      kernels.gemm(context, oW, oB, y.ptr, b * t, out, hv, 0, 0);
      if (train) {
        const tape: MhaTape = { qp, kp, vp, probs, dropped, scale, allowed, context };
        train.tape.set(this, tape);
      }
      if (!withScores) return [y];
      const scores = this.allocOutput(ctx, [b, h, t, s]);
      kernels.addInto(probs, scores.ptr, nScores, 0);
      return [y, scores];
    } finally {
      for (const p of temps) heap.free(p);
    }
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
    return masks[this.#roles.query] ?? null;
  }

  /** The backward of {@link run} (see the module doc); one gradient per input. */
  backward(
    a: import("../layer_training.ts").BackwardArgs,
  ): (DeviceTensor | null)[] {
    const { kernels, heap } = a.ctx;
    const tape = a.ctx.tape.get(this) as MhaTape;
    const r = this.#roles;
    const xs = a.xs;
    const query = xs[r.query], value = xs[r.value];
    const key = r.key !== null ? xs[r.key] : value;
    const b = query.shape[0], t = query.shape[1], s = value.shape[1];
    const h = this.numHeads, kd = this.keyDim, vd = this.valueDim;
    const hk = h * kd, hv = h * vd;
    const dq = query.shape[2], dk = key.shape[2], dv = value.shape[2];
    const out = a.dy.shape[2];
    const per = this.useBias ? 2 : 1;
    const wp = (i: number) => a.weights[i * per];
    const gk = (i: number) => a.grads[i * per];
    const gb = (i: number) => (this.useBias ? a.grads[i * per + 1] : 0);
    const keep = (n: number) => a.ctx.keep(heap.alloc(n * 4));
    const bt = b * t, bs = b * s;
    // Output projection.
    if (gk(3)) kernels.gemmTN(tape.context, hv, a.dy.ptr, out, gk(3), out, hv, out, bt, 0);
    if (gb(3)) kernels.columnSums(a.dy.ptr, gb(3), bt, out, 0);
    const dContext = keep(bt * hv);
    kernels.gemmNT(a.dy.ptr, out, wp(3), out, dContext, hv, bt, hv, out, 0);
    // Attention.
    const nScores = b * h * t * s;
    const dProbs = keep(nScores);
    const dVp = keep(bs * hv);
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        const sOff = (bi * h + hi) * t * s * 4;
        const cOff = (bi * t * hv + hi * vd) * 4;
        const vOff = (bi * s * hv + hi * vd) * 4;
        kernels.gemmNT(dContext + cOff, hv, tape.vp + vOff, hv, dProbs + sOff, s, t, s, vd, 0);
        kernels.gemmTN(tape.dropped + sOff, s, dContext + cOff, hv, dVp + vOff, hv, s, vd, t, 0);
      }
    }
    if (tape.scale) kernels.multiplyElementwise(dProbs, tape.scale, dProbs, nScores);
    // The returned scores are the probabilities themselves (before dropout).
    const dScores = a.dys[1];
    if (dScores) kernels.addInto(dScores.ptr, dProbs, nScores, 1);
    kernels.softmaxGradRows(tape.probs, dProbs, dProbs, b * h * t, s, 0);
    const ds = heap.f32(dProbs, nScores);
    const inv = 1 / Math.sqrt(kd);
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        const base = (bi * h + hi) * t * s;
        for (let i = 0; i < t * s; i++) {
          ds[base + i] = tape.allowed && !tape.allowed[bi * t * s + i] ? 0 : ds[base + i] * inv;
        }
      }
    }
    const dQp = keep(bt * hk), dKp = keep(bs * hk);
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        const sOff = (bi * h + hi) * t * s * 4;
        const qOff = (bi * t * hk + hi * kd) * 4;
        const kOff = (bi * s * hk + hi * kd) * 4;
        kernels.gemmStrided(
          dProbs + sOff,
          s,
          tape.kp + kOff,
          hk,
          0,
          dQp + qOff,
          hk,
          t,
          kd,
          s,
          0,
          0,
          0,
        );
        kernels.gemmTN(dProbs + sOff, s, tape.qp + qOff, hk, dKp + kOff, hk, s, kd, t, 0);
      }
    }
    // Input projections: weight gradients, then input gradients.
    const projs: [DeviceTensor, number, number, number, number][] = [
      [query, dQp, 0, dq, hk],
      [key, dKp, 1, dk, hk],
      [value, dVp, 2, dv, hv],
    ];
    for (const [x, dz, i, d, n] of projs) {
      const rows = x.shape[0] * x.shape[1];
      if (gk(i)) kernels.gemmTN(x.ptr, d, dz, n, gk(i), n, d, n, rows, 0);
      if (gb(i)) kernels.columnSums(dz, gb(i), rows, n, 0);
    }
    const grads: (DeviceTensor | null)[] = xs.map(() => null);
    const need = (i: number | null) => i !== null && (a.needInputGrads[i] ?? a.needInputGrad);
    const inputGrad = (x: DeviceTensor, dz: number, i: number, d: number, n: number) => {
      const dx: DeviceTensor = {
        ptr: heap.alloc(sizeOf(x.shape) * 4),
        shape: [...x.shape],
        dtype: "float32",
      };
      kernels.gemmNT(dz, n, wp(i), n, dx.ptr, d, x.shape[0] * x.shape[1], d, n, 0);
      return dx;
    };
    if (need(r.query)) grads[r.query] = inputGrad(query, dQp, 0, dq, hk);
    if (need(r.value)) {
      const dx = inputGrad(value, dVp, 2, dv, hv);
      // Without a key input the value is also the key.
      if (r.key === null) kernels.gemmNT(dKp, hk, wp(1), hk, dx.ptr, dv, bs, dv, hk, 1);
      grads[r.value] = dx;
    }
    if (r.key !== null && need(r.key)) grads[r.key] = inputGrad(key, dKp, 1, dk, hk);
    return grads;
  }
}

/** Inputs and weights of {@link multiHeadAttentionReference} (host arrays, row-major). */
export interface MhaReferenceArgs {
  query: Float32Array;
  value: Float32Array;
  /** Defaults to `value`. */
  key?: Float32Array;
  batch: number;
  t: number;
  s: number;
  dq: number;
  dv: number;
  dk?: number;
  numHeads: number;
  keyDim: number;
  valueDim: number;
  outDim: number;
  /** Kernels and biases: query (dq, H, K), (H, K); key; value (dv, H, V), (H, V); output (H, V, out), (out). */
  weights: Float32Array[];
  useBias: boolean;
  /** [B, T, S], 1 = attend; null for none. */
  allowed?: Uint8Array | null;
}

/**
 * Plain-loop MultiHeadAttention (no dropout): the TypeScript reference of the layer's forward.
 * Returns the output [B, T, out] and the probabilities [B, H, T, S].
 */
export function multiHeadAttentionReference(a: MhaReferenceArgs): {
  output: Float32Array;
  probs: Float32Array;
} {
  const { batch: b, t, s, numHeads: h, keyDim: kd, valueDim: vd, outDim } = a;
  const key = a.key ?? a.value;
  const dk = a.dk ?? a.dv;
  const per = a.useBias ? 2 : 1;
  const W = (i: number) => a.weights[i * per];
  const B = (i: number) => (a.useBias ? a.weights[i * per + 1] : null);
  const project = (x: Float32Array, rows: number, d: number, i: number, n: number) => {
    const y = new Float64Array(rows * n);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        let acc = B(i) ? B(i)![j] : 0;
        for (let c = 0; c < d; c++) acc += x[r * d + c] * W(i)[c * n + j];
        y[r * n + j] = acc;
      }
    }
    return y;
  };
  const q = project(a.query, b * t, a.dq, 0, h * kd);
  const k = project(key, b * s, dk, 1, h * kd);
  const v = project(a.value, b * s, a.dv, 2, h * vd);
  const probs = new Float32Array(b * h * t * s);
  const ctx = new Float64Array(b * t * h * vd);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      for (let ti = 0; ti < t; ti++) {
        const row = new Float64Array(s);
        for (let si = 0; si < s; si++) {
          let dot = 0;
          for (let c = 0; c < kd; c++) {
            dot += q[(bi * t + ti) * h * kd + hi * kd + c] *
              k[(bi * s + si) * h * kd + hi * kd + c];
          }
          const ok = !a.allowed || a.allowed[(bi * t + ti) * s + si];
          row[si] = ok ? dot / Math.sqrt(kd) : MASKED_SCORE;
        }
        const m = Math.max(...row);
        let z = 0;
        for (let si = 0; si < s; si++) z += row[si] = Math.exp(row[si] - m);
        for (let si = 0; si < s; si++) {
          const p = row[si] / z;
          probs[((bi * h + hi) * t + ti) * s + si] = p;
          for (let c = 0; c < vd; c++) {
            ctx[(bi * t + ti) * h * vd + hi * vd + c] += p *
              v[(bi * s + si) * h * vd + hi * vd + c];
          }
        }
      }
    }
  }
  const output = new Float32Array(b * t * outDim);
  for (let r = 0; r < b * t; r++) {
    for (let j = 0; j < outDim; j++) {
      let acc = B(3) ? B(3)![j] : 0;
      for (let c = 0; c < h * vd; c++) acc += ctx[r * h * vd + c] * W(3)[c * outDim + j];
      output[r * outDim + j] = acc;
    }
  }
  return { output, probs };
}

const MULTI_HEAD_ATTENTION_TRAINING: LayerTraining<MultiHeadAttention> = {
  forwardInputs: (layer, xs, masks, ctx) => {
    const outs = layer.run(xs, masks, ctx, ctx, layer.outputCount > 1);
    return outs.length > 1 ? outs : outs[0];
  },
  backward: (layer, a) => layer.backward(a),
};

/**
 * MultiHeadAttention in ONNX, as the engine computes it: the three projections (MatMul + Add,
 * Keras's `(D, heads, dim)` kernels being `[D, heads·dim]` matrices), heads split by Reshape and
 * Transpose, scores `Q·Kᵀ / √key_dim`, masked scores set to −1e9 (the AND of the query, value and
 * key masks, the causal mask and an `attention_mask` input), Softmax over the keys, the weighted
 * values merged back and the output projection.
 */
function multiHeadAttentionOnnx(layer: MultiHeadAttention, ctx: OnnxLayerContext): void {
  const roles = layer.roles;
  const weights = layer.getWeights();
  const per = layer.useBias ? 2 : 1;
  const h = layer.numHeads, kd = layer.keyDim, vd = layer.valueDim;
  const scalar = (v: number) => ctx.initializer("c", { float32: Float32Array.of(v) }, []);
  const project = (x: string, i: number, inDim: number, width: number, hint: string) => {
    const kernel = weights[i * per];
    const w = ctx.initializer(`${hint}_kernel`, { float32: kernel.data }, [inDim, width]);
    const product = ctx.fresh(`${hint}_matmul`);
    ctx.node("MatMul", [x, w], [product]);
    if (!layer.useBias) return product;
    const bias = weights[i * per + 1];
    const b = ctx.initializer(`${hint}_bias`, { float32: bias.data }, [width]);
    const out = ctx.fresh(hint);
    ctx.node("Add", [product, b], [out]);
    return out;
  };
  // [B, L, heads·dim] → [B, heads, L, dim] (perm [0, 2, 3, 1] gives [B, heads, dim, L]).
  const heads = (x: string, dim: number, perm: number[], hint: string) => {
    const split = ctx.fresh(`${hint}_split`), out = ctx.fresh(`${hint}_heads`);
    ctx.node("Reshape", [x, ctx.int64s("shape", [0, 0, h, dim])], [split]);
    ctx.node("Transpose", [split], [out], { perm: { ints: perm } });
    return out;
  };
  const shapes = ctx.inputShapes;
  const query = ctx.inputs[roles.query], value = ctx.inputs[roles.value];
  const keyIndex = roles.key ?? roles.value;
  const key = ctx.inputs[keyIndex];
  const [t, dq] = shapes[roles.query], [s, dv] = shapes[roles.value];
  const dk = shapes[keyIndex][1];
  const q = heads(project(query, 0, dq as number, h * kd, "query"), kd, [0, 2, 1, 3], "q");
  const kT = heads(project(key, 1, dk as number, h * kd, "key"), kd, [0, 2, 3, 1], "k");
  const v = heads(project(value, 2, dv as number, h * vd, "value"), vd, [0, 2, 1, 3], "v");
  const raw = ctx.fresh("scores_raw"), scaled = ctx.fresh("scores");
  ctx.node("MatMul", [q, kT], [raw]);
  ctx.node("Mul", [raw, scalar(1 / Math.sqrt(kd))], [scaled]);
  // The allowed pairs [B or 1, T or 1, S or 1], AND of every mask that applies.
  const allowed: string[] = [];
  const rowMask = (mask: string | null, axis: number) => {
    if (!mask) return;
    const out = ctx.fresh("mask_row");
    ctx.node("Unsqueeze", [mask, ctx.int64s("axes", [axis])], [out]);
    allowed.push(out);
  };
  rowMask(ctx.inputMasks[roles.query], 2);
  rowMask(ctx.inputMasks[roles.value], 1);
  if (roles.key !== null) rowMask(ctx.inputMasks[roles.key], 1);
  if (layer.useCausalMask) {
    if (t === null || s === null) ctx.refuse("use_causal_mask with unknown sequence lengths");
    const lower = new Int32Array((t as number) * (s as number));
    for (let i = 0; i < (t as number); i++) {
      for (let j = 0; j <= i && j < (s as number); j++) lower[i * (s as number) + j] = 1;
    }
    const causal = ctx.fresh("causal");
    const table = ctx.initializer("causal_table", { int32: lower }, [1, t as number, s as number]);
    ctx.node("Cast", [table], [causal], { to: { int: 9 } }); // 9: BOOL
    allowed.push(causal);
  }
  if (roles.attentionMask !== null) {
    const given = ctx.inputs[roles.attentionMask];
    const zero = ctx.fresh("attention_mask_zero"), nonzero = ctx.fresh("attention_mask");
    const asFloat = ctx.fresh("attention_mask_float");
    ctx.node("Cast", [given], [asFloat], { to: { int: 1 } });
    ctx.node("Equal", [asFloat, scalar(0)], [zero]);
    ctx.node("Not", [zero], [nonzero]);
    allowed.push(nonzero);
  }
  let masked = scaled;
  if (allowed.length) {
    let all = allowed[0];
    for (const m of allowed.slice(1)) {
      const both = ctx.fresh("mask_and");
      ctx.node("And", [all, m], [both]);
      all = both;
    }
    const perHead = ctx.fresh("mask_heads");
    ctx.node("Unsqueeze", [all, ctx.int64s("axes", [1])], [perHead]);
    masked = ctx.fresh("scores_masked");
    ctx.node("Where", [perHead, scaled, scalar(MASKED_SCORE)], [masked]);
  }
  const probs = ctx.fresh("probs"), weighted = ctx.fresh("context_heads");
  ctx.node("Softmax", [masked], [probs], { axis: { int: -1 } });
  // return_attention_scores: the probabilities [B, heads, T, S] as the second output.
  if (ctx.outputs.length > 1) ctx.node("Identity", [probs], [ctx.outputs[1]]);
  ctx.node("MatMul", [probs, v], [weighted]);
  const merged = ctx.fresh("context_steps"), context = ctx.fresh("context");
  ctx.node("Transpose", [weighted], [merged], { perm: { ints: [0, 2, 1, 3] } });
  ctx.node("Reshape", [merged, ctx.int64s("shape", [0, 0, h * vd])], [context]);
  const out = weights[3 * per];
  const wo = ctx.initializer("output_kernel", { float32: out.data }, [h * vd, out.shape[2]]);
  if (!layer.useBias) return ctx.node("MatMul", [context, wo], [ctx.output]);
  const product = ctx.fresh("output_matmul");
  ctx.node("MatMul", [context, wo], [product]);
  const bo = ctx.initializer("output_bias", { float32: weights[3 * per + 1].data }, [out.shape[2]]);
  ctx.node("Add", [product, bo], [ctx.output]);
}

/** The `MultiHeadAttention` layer class (see `layer_class.ts`). */
export const MULTI_HEAD_ATTENTION: LayerClass<MultiHeadAttention> = defineLayer({
  className: "MultiHeadAttention",
  create: (config, options) => new MultiHeadAttention(config, options),
  training: MULTI_HEAD_ATTENTION_TRAINING,
  onnx: multiHeadAttentionOnnx,
});
