/**
 * What the Keras 3 image augmentation layers (RandomFlip, RandomContrast, RandomTranslation,
 * RandomZoom, RandomRotation) share: identity at inference, NHWC rank-3 inputs, factor parsing,
 * and a training definition that draws per-sample parameters from the step seed.
 *
 * In `fit`, sample `b` of a slice draws from `sampleUniform(ctx.seedFor(layer), ctx.sampleOffset
 * + b, draw)`: the transform of a sample depends only on the step seed and its index in the whole
 * batch, not on how a batch is split across workers. Keras's own `seed` config field is not
 * used (the engine's `fit` seed governs every random layer). Backward passes the gradient through
 * each sample's transform (the same transform the forward applied).
 *
 * @module
 */
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { type ImageGeometry, sampleUniform } from "./image_ops.ts";

/** Base of the image augmentation layers: identity at inference, shape-preserving. */
export abstract class ImageAugmentation extends Layer {
  constructor(className: string, config: LayerConfig, options: LayerBuildOptions = {}) {
    super(className, config, options);
    const format = config.data_format ?? "channels_last";
    if (format !== "channels_last") {
      throw new UnsupportedLayerError(className, this.name, `data_format ${String(format)}`);
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "NHWC image ");
    return [...inputShape];
  }

  /** Inference: the input unchanged (Keras applies augmentations only with `training=True`). */
  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return x;
  }

  /**
   * A Keras factor `f` (→ `[max(−|f|, lo), |f|]`) or pair `[a, b]` (→ sorted), each value checked
   * against `[lo, hi]`; throws {@link LayerConfigError} naming the layer and field otherwise.
   */
  protected factorRange(
    field: string,
    lo: number,
    hi: number,
    fallback?: number,
  ): [number, number] {
    const v = this.config[field] ?? fallback;
    const bad = () =>
      new LayerConfigError(
        this.name,
        field,
        `expected a number or a pair of numbers in [${lo}, ${hi}], got ${JSON.stringify(v)}`,
      );
    if (typeof v === "number" && Number.isFinite(v)) {
      if (v < lo || v > hi) throw bad();
      const f = Math.abs(v);
      return [Math.max(-f, lo), f];
    }
    if (
      Array.isArray(v) && v.length === 2 &&
      v.every((e) => typeof e === "number" && Number.isFinite(e))
    ) {
      const [a, b] = [...(v as number[])].sort((p, q) => p - q);
      if (a < lo || b > hi) throw bad();
      return [a, b];
    }
    throw bad();
  }
}

/** How one augmentation layer transforms a slice in training mode. */
export interface AugmentationOps<L extends ImageAugmentation, P> {
  /** The parameters of one sample from its uniform draws (`u(j)`: draw j in [0, 1)). */
  draw(layer: L, u: (draw: number) => number, g: ImageGeometry): P;
  /** y = transform(x) per sample (y is a fresh buffer of x's size). */
  apply(layer: L, x: Float32Array, g: ImageGeometry, params: P[], y: Float32Array): void;
  /** dx = ∂(transform)ᵀ·dy per sample (dx is a fresh buffer). */
  grad(
    layer: L,
    dy: Float32Array,
    x: Float32Array,
    g: ImageGeometry,
    params: P[],
    dx: Float32Array,
  ): void;
}

/** The NHWC geometry of a device tensor [batch, h, w, c]. */
export function imageGeometry(t: DeviceTensor): ImageGeometry {
  const [batch, h, w, c] = t.shape;
  return { batch, h, w, c };
}

/** The parameters sample `b` of a slice draws (see the module notes). */
export function drawParams<L extends ImageAugmentation, P>(
  layer: L,
  ops: AugmentationOps<L, P>,
  seed: number,
  sampleOffset: number,
  g: ImageGeometry,
): P[] {
  return Array.from(
    { length: g.batch },
    (_, b) => ops.draw(layer, (j) => sampleUniform(seed, sampleOffset + b, j), g),
  );
}

/**
 * The training definition of an augmentation layer: forward draws each sample's parameters and
 * applies them (identity for a call in inference mode); backward applies the transposed
 * transform of the same parameters to dy.
 */
export function augmentationTraining<L extends ImageAugmentation, P>(
  ops: AugmentationOps<L, P>,
): LayerTraining<L> {
  return {
    forward(layer, x, _mask, ctx) {
      if (!ctx.training) return x;
      const g = imageGeometry(x);
      const params = drawParams(layer, ops, ctx.seedFor(layer), ctx.sampleOffset, g);
      const n = sizeOf(x.shape);
      const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...x.shape], dtype: "float32" };
      // Views after the allocation (a growing heap detaches older views).
      ops.apply(layer, ctx.heap.f32(x.ptr, n), g, params, ctx.heap.f32(y.ptr, n));
      ctx.tape.set(layer, params);
      return y;
    },

    backward(layer, a) {
      if (!a.needInputGrad) return null;
      const params = a.ctx.tape.get(layer) as P[] | undefined;
      if (params === undefined) return a.dy;
      const n = sizeOf(a.dy.shape);
      const heap = a.ctx.heap;
      const dx: DeviceTensor = { ptr: heap.alloc(n * 4), shape: [...a.x.shape], dtype: "float32" };
      ops.grad(
        layer,
        heap.f32(a.dy.ptr, n),
        heap.f32(a.x.ptr, n),
        imageGeometry(a.x),
        params,
        heap.f32(dx.ptr, n),
      );
      return dx;
    },
  };
}
