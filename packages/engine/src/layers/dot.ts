import type { LayerTraining } from "../layer_training.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import type { CallContext, LayerBuildOptions, LayerConfig } from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { isKeras2, MergeLayer } from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * A Dot call as per-sample matrices: x as P×K and y as Q×K (the dot axis moved last, the other
 * dims flattened in order), so the output is the P×Q product x·yᵀ per sample.
 */
export interface DotLayout {
  outShape: number[];
  batch: number;
  p: number;
  q: number;
  k: number;
  /** Per input: the product of its dims between the batch axis and the dot axis, and after it. */
  before: [number, number];
  after: [number, number];
}

/** The matrices of one Dot call (see {@link Dot.prepare}); `temps` lists buffers to free. */
export interface DotOperands {
  layout: DotLayout;
  /** x as [batch, P, K] and y as [batch, Q, K], L2-normalised along K when `normalize`. */
  xm: number;
  ym: number;
  /** The normalisation denominators per row (0 without `normalize`). */
  xNorms: number;
  yNorms: number;
  /** x and y as [batch, P, K] / [batch, Q, K] before normalising (= xm / ym without it). */
  xr: number;
  yr: number;
  temps: number[];
}

/**
 * Keras `Dot(axes, normalize=False)`: per sample, the dot product of two tensors along one axis
 * of each (`axes`: an integer for both or a pair; counted with the batch axis, which cannot be
 * one of them; negative from the end). The output is x's dims without its axis followed by y's
 * without its axis ([batch, 1] when both inputs are rank 2). `normalize` L2-normalises both
 * inputs along their dot axis first (x / max(‖x‖, ε), ε = 1e-7 in Keras 3; Keras 2's
 * `l2_normalize` uses x / sqrt(max(‖x‖², 1e-12))). No output mask.
 */
export class Dot extends MergeLayer {
  /** The configured axes as a pair (may be negative). */
  readonly axes: [number, number];
  readonly normalize: boolean;

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Dot", config, options);
    const a = config.axes;
    const ok = (v: unknown) => Number.isInteger(v);
    if (ok(a)) this.axes = [a as number, a as number];
    else if (Array.isArray(a) && a.length === 2 && a.every(ok)) {
      this.axes = [a[0] as number, a[1] as number];
    } else {
      throw new LayerConfigError(
        this.name,
        "axes",
        `expected an integer or a pair of integers, got ${JSON.stringify(a)}`,
      );
    }
    this.normalize = this.bool("normalize", false);
  }

  /** Smallest norm `normalize` divides by (the clamp of Keras's L2 normalisation). */
  get minNorm(): number {
    return isKeras2(this.kerasVersion) ? 1e-6 : 1e-7;
  }

  /** The dot axes for inputs of these ranks (batch included), validated. */
  resolveAxes(rank0: number, rank1: number): [number, number] {
    const ranks = [rank0, rank1];
    return this.axes.map((a, i) => {
      const r = ranks[i];
      if (r < 2) {
        throw new InputShapeError(this.name, "inputs of rank 2 or more", `rank ${r} input ${i}`);
      }
      // Keras resolves a negative axis modulo the rank.
      const v = a < 0 ? ((a % r) + r) % r : a;
      if (v < 1 || v >= r) {
        throw new LayerConfigError(
          this.name,
          "axes",
          `axis ${a} of input ${i} (rank ${r}, batch included) must be in [1, ${r - 1}] or ` +
            `negative (the batch axis 0 cannot be a dot axis)`,
        );
      }
      return v;
    }) as [number, number];
  }

  override computeOutputShapes(inputShapes: Shape[]): Shape {
    this.expectInputCount(inputShapes.length, 2, 2);
    const [s0, s1] = inputShapes;
    const [a0, a1] = this.resolveAxes(s0.length + 1, s1.length + 1);
    const d0 = s0[a0 - 1];
    const d1 = s1[a1 - 1];
    if (d0 !== null && d1 !== null && d0 !== d1) {
      throw new InputShapeError(
        this.name,
        `dot axes of equal size (axes ${JSON.stringify(this.axes)})`,
        `shapes ${formatShape(s0)} (axis size ${d0}) and ${formatShape(s1)} (axis size ${d1})`,
      );
    }
    const out = [...s0.filter((_, i) => i !== a0 - 1), ...s1.filter((_, i) => i !== a1 - 1)];
    return out.length === 0 ? [1] : out;
  }

  /** The per-sample matrix view of a call on tensors of these shapes. */
  layoutOf(xs: readonly DeviceTensor[]): DotLayout {
    this.expectInputCount(xs.length, 2, 2);
    this.expectSameBatch(xs);
    const shape = this.computeOutputShapes(xs.map((x) => x.shape.slice(1))) as number[];
    const [a0, a1] = this.resolveAxes(xs[0].shape.length, xs[1].shape.length);
    const [x, y] = xs;
    const k = x.shape[a0];
    const before: [number, number] = [
      sizeOf(x.shape.slice(1, a0)),
      sizeOf(y.shape.slice(1, a1)),
    ];
    const after: [number, number] = [sizeOf(x.shape.slice(a0 + 1)), sizeOf(y.shape.slice(a1 + 1))];
    return {
      outShape: [x.shape[0], ...shape],
      batch: x.shape[0],
      p: before[0] * after[0],
      q: before[1] * after[1],
      k,
      before,
      after,
    };
  }

  /**
   * x and y as row-major [batch, P, K] / [batch, Q, K] matrices (their dot axis moved last),
   * normalised when `normalize`. New buffers are listed in `temps`.
   */
  prepare(xs: readonly DeviceTensor[], ctx: CallContext): DotOperands {
    const { kernels, heap } = ctx;
    const layout = this.layoutOf(xs);
    const temps: number[] = [];
    const rows = [layout.p, layout.q];
    const moved = xs.map((t, i) => {
      const a = layout.before[i];
      const b = layout.after[i];
      if (b === 1) return t.ptr;
      const ptr = heap.alloc(sizeOf(t.shape) * 4);
      temps.push(ptr);
      const block = layout.k * b;
      for (let s = 0; s < layout.batch * a; s++) {
        kernels.transposeMatrix(t.ptr + s * block * 4, b, ptr + s * block * 4, layout.k, b);
      }
      return ptr;
    });
    if (!this.normalize) {
      return {
        layout,
        xm: moved[0],
        ym: moved[1],
        xNorms: 0,
        yNorms: 0,
        xr: moved[0],
        yr: moved[1],
        temps,
      };
    }
    const normed = moved.map((m, i) => {
      const n = layout.batch * rows[i];
      const ptr = heap.alloc(n * layout.k * 4);
      const norms = heap.alloc(Math.max(n, 1) * 4);
      temps.push(ptr, norms);
      kernels.l2NormalizeRows(m, ptr, norms, n, layout.k, this.minNorm);
      return [ptr, norms];
    });
    return {
      layout,
      xm: normed[0][0],
      ym: normed[1][0],
      xNorms: normed[0][1],
      yNorms: normed[1][1],
      xr: moved[0],
      yr: moved[1],
      temps,
    };
  }

  override callInputs(
    xs: readonly DeviceTensor[],
    _masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor {
    const ops = this.prepare(xs, ctx);
    try {
      const { p, q, k, batch, outShape } = ops.layout;
      const y = this.allocOutput(ctx, outShape);
      for (let s = 0; s < batch; s++) {
        ctx.kernels.gemmNT(
          ops.xm + s * p * k * 4,
          k,
          ops.ym + s * q * k * 4,
          k,
          y.ptr + s * p * q * 4,
          q,
          p,
          q,
          k,
          0,
        );
      }
      return y;
    } finally {
      for (const t of ops.temps) ctx.heap.free(t);
    }
  }

  /** Dot returns no mask (Keras `Dot.compute_mask`). */
  override computeMasks(
    _xs: readonly DeviceTensor[],
    _masks: readonly (DeviceTensor | null)[],
  ): DeviceTensor | null {
    return null;
  }
}

/**
 * Dot in training: dX = dOut·Y, dY = dOutᵀ·X per sample, through the L2 normalisation when
 * `normalize` (the normalised operands are recomputed from `args.xs`). No weights.
 */
const DOT_TRAINING: LayerTraining<Dot> = {
  backward(layer, a) {
    const { kernels, heap } = a.ctx;
    const need = [0, 1].map((i) => a.needInputGrads[i] ?? a.needInputGrad);
    if (!need[0] && !need[1]) return [null, null];
    const ops = layer.prepare(a.xs, a.ctx);
    const { p, q, k, batch } = ops.layout;
    const dy = a.dy.ptr;
    const out: (DeviceTensor | null)[] = [null, null];
    try {
      const grads = [0, 1].map((i) => {
        if (!need[i]) return 0;
        const rows = i === 0 ? p : q;
        const g = heap.alloc(Math.max(batch * rows * k, 1) * 4);
        for (let s = 0; s < batch; s++) {
          const dOut = dy + s * p * q * 4;
          if (i === 0) {
            // dX[p×k] = dOut[p×q] · Y[q×k]
            kernels.gemmStrided(
              dOut,
              q,
              ops.ym + s * q * k * 4,
              k,
              0,
              g + s * p * k * 4,
              k,
              p,
              k,
              q,
              0,
              0,
              0,
            );
          } else {
            // dY[q×k] = dOutᵀ · X[p×k]
            kernels.gemmTN(dOut, q, ops.xm + s * p * k * 4, k, g + s * q * k * 4, k, q, k, p, 0);
          }
        }
        if (layer.normalize) {
          const [m, norms] = i === 0 ? [ops.xm, ops.xNorms] : [ops.ym, ops.yNorms];
          kernels.l2NormalizeRowsGrad(m, g, norms, g, batch * rows, k, layer.minNorm);
        }
        return g;
      });
      [0, 1].forEach((i) => {
        if (!need[i]) return;
        const x = a.xs[i];
        const after = ops.layout.after[i];
        let ptr = grads[i];
        if (after !== 1) {
          // Move the dot axis back from last to its place: per block [after, k] → [k, after].
          ptr = heap.alloc(sizeOf(x.shape) * 4);
          const block = k * after;
          for (let s = 0; s < batch * ops.layout.before[i]; s++) {
            kernels.transposeMatrix(grads[i] + s * block * 4, k, ptr + s * block * 4, after, k);
          }
          heap.free(grads[i]);
        }
        out[i] = { ptr, shape: [...x.shape], dtype: "float32" };
      });
    } finally {
      for (const t of ops.temps) heap.free(t);
    }
    return out;
  },
};

/**
 * Dot in ONNX, as the engine lays a call out: each input with its dot axis moved last and the other
 * dims flattened ([B, P, K] and [B, Q, K]), L2-normalised along K with `normalize`
 * (x / max(‖x‖, ε)), one batched MatMul x·yᵀ, and the result reshaped to the output shape.
 */
function dotOnnx(layer: Dot, ctx: OnnxLayerContext): void {
  const shapes = ctx.inputShapes;
  const axes = layer.resolveAxes(shapes[0].length + 1, shapes[1].length + 1);
  const k = shapes[0][axes[0] - 1];
  if (k === null) ctx.refuse("an unknown dot axis length");
  const matrix = (i: number) => {
    const rank = shapes[i].length + 1;
    const others = Array.from({ length: rank - 1 }, (_, j) => j + 1).filter((a) => a !== axes[i]);
    let x = ctx.inputs[i];
    if (axes[i] !== rank - 1) {
      const moved = ctx.fresh("dot_axis_last");
      ctx.node("Transpose", [x], [moved], { perm: { ints: [0, ...others, axes[i]] } });
      x = moved;
    }
    const m = ctx.fresh("matrix");
    ctx.node("Reshape", [x, ctx.int64s("shape", [0, -1, k as number])], [m]);
    if (!layer.normalize) return m;
    const sq = ctx.fresh("squares"), sum = ctx.fresh("sum_squares"), norm = ctx.fresh("norm");
    const clamped = ctx.fresh("norm_clamped"), unit = ctx.fresh("normalised");
    ctx.node("Mul", [m, m], [sq]);
    emitReduce(ctx, "ReduceSum", sq, [-1], true, sum);
    ctx.node("Sqrt", [sum], [norm]);
    const eps = ctx.initializer("min_norm", { float32: Float32Array.of(layer.minNorm) }, []);
    ctx.node("Max", [norm, eps], [clamped]);
    ctx.node("Div", [m, clamped], [unit]);
    return unit;
  };
  const x = matrix(0), y = matrix(1);
  const yT = ctx.fresh("matrix_t"), product = ctx.fresh("products");
  ctx.node("Transpose", [y], [yT], { perm: { ints: [0, 2, 1] } });
  ctx.node("MatMul", [x, yT], [product]);
  const shape = ctx.int64s("shape", [0, ...ctx.outputShape.map((d) => d ?? -1)]);
  ctx.node("Reshape", [product, shape], [ctx.output]);
}

/** The `Dot` layer class (see `layer_class.ts`). */
export const DOT: LayerClass<Dot> = defineLayer({
  className: "Dot",
  create: (config, options) => new Dot(config, options),
  training: DOT_TRAINING,
  onnx: dotOnnx,
});
