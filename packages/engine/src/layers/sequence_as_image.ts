/**
 * 1-D sequence layers run by their 2-D counterparts: a `[batch, time, channels]` tensor is the
 * image `[batch, 1, time, channels]`, so Conv1D, MaxPooling1D, AveragePooling1D, UpSampling1D,
 * ZeroPadding1D, Cropping1D and SpatialDropout1D are an inner 2-D layer (window `(1, k)`) with the
 * 2-D layer's kernels and backward. Causal padding (Conv1D) is an explicit zero prefix of the
 * sequence in front of a `valid` inner convolution.
 *
 * @module
 */
import { LayerConfigError, WeightShapeError } from "../errors.ts";
import {
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
  type WeightTensor,
} from "../layer.ts";
import type { LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { innerContext, type OnnxLayerContext } from "../onnx_emit.ts";

/** Largest padding or cropping per side a config may ask for. */
export const MAX_SIDE = 65535;

/** `[batch, time, c]` as the image `[batch, 1, time, c]` (a view: same memory). */
export function asImage(t: DeviceTensor): DeviceTensor {
  return { ptr: t.ptr, shape: [t.shape[0], 1, ...t.shape.slice(1)], dtype: t.dtype };
}

/** `[batch, 1, time, c]` as the sequence `[batch, time, c]` (a view). */
export function asSequence(t: DeviceTensor): DeviceTensor {
  return { ptr: t.ptr, shape: [t.shape[0], ...t.shape.slice(2)], dtype: t.dtype };
}

/**
 * Parses a Keras 1-D integer or `(left, right)` pair (ZeroPadding1D `padding`, Cropping1D
 * `cropping`); throws {@link LayerConfigError} naming the layer and field otherwise.
 */
export function parsePair(v: unknown, layerName: string, field: string): [number, number] {
  const ok = (d: unknown) => Number.isInteger(d) && (d as number) >= 0 && (d as number) <= MAX_SIDE;
  if (ok(v)) return [v as number, v as number];
  if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0], v[1]];
  throw new LayerConfigError(
    layerName,
    field,
    `expected an integer in [0, ${MAX_SIDE}] or (left, right), got ${JSON.stringify(v)}`,
  );
}

/**
 * Parses a Keras 1-D window field (`kernel_size`, `pool_size`, `strides`, `dilation_rate`, `size`):
 * a positive integer or a one-element list.
 */
export function parseWindow(
  config: LayerConfig,
  field: string,
  layerName: string,
  fallback?: number,
): number {
  const raw = config[field] ?? fallback;
  const v = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_SIDE) {
    throw new LayerConfigError(
      layerName,
      field,
      `expected a positive integer up to ${MAX_SIDE} (or a list of one), got ${
        JSON.stringify(raw)
      }`,
    );
  }
  return v as number;
}

/** Refuses `data_format: "channels_first"` by name (the 1-D layers run channels last). */
export function requireSequenceChannelsLast(config: LayerConfig, layerName: string): void {
  const f = config.data_format;
  if (f !== undefined && f !== null && f !== "channels_last") {
    throw new LayerConfigError(
      layerName,
      "data_format",
      `expected "channels_last", got ${JSON.stringify(f)}`,
    );
  }
}

/**
 * A 1-D layer run by an inner 2-D layer on `[batch, 1, time, channels]`. Subclasses pass the
 * inner class and its config; weights (Conv1D's kernel `(k, in, filters)` is the inner
 * `(1, k, in, filters)` in the same memory order) live in the inner layer and are reported with
 * the 1-D shapes ({@link toOuterShape}).
 */
export abstract class SequenceAsImage<I extends Layer = Layer> extends Layer {
  /** The 2-D layer doing the work. */
  readonly inner: I;
  /** Its class (for its training). */
  readonly innerClass: LayerClass<I>;
  /** Zero steps added before the sequence ahead of the inner layer (causal Conv1D), else 0. */
  readonly leftPad: number = 0;

  constructor(
    className: string,
    config: LayerConfig,
    options: LayerBuildOptions,
    innerClass: LayerClass<I>,
    innerConfig: LayerConfig,
    leftPad = 0,
  ) {
    super(className, config, options);
    this.innerClass = innerClass;
    this.leftPad = leftPad;
    this.inner = innerClass.create({ ...innerConfig, name: this.name }, options);
  }

  /** A weight's shape as Keras stores it for the 1-D layer (default: the inner shape). */
  protected toOuterShape(innerShape: readonly number[]): number[] {
    return [...innerShape];
  }

  /** The inner layer's shape of a 1-D weight shape (inverse of {@link toOuterShape}). */
  protected toInnerShape(outerShape: readonly number[]): number[] {
    return [...outerShape];
  }

  /** The inner layer's input shape for a 1-D input shape (`[time, c]` → `[1, time + pad, c]`). */
  #innerInput(inputShape: Shape): Shape {
    this.expectRank(inputShape, 2, "(time, channels) ");
    const t = inputShape[0];
    return [1, t === null ? null : t + this.leftPad, inputShape[1]];
  }

  computeOutputShape(inputShape: Shape): Shape {
    const o = this.inner.computeOutputShape(this.#innerInput(inputShape));
    return o.slice(1);
  }

  override weightNames(): string[] {
    return this.inner.weightNames();
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    return this.inner.weightSpecs(this.#innerInput(inputShape)).map((s) => ({
      name: s.name,
      shape: this.toOuterShape(s.shape),
    }));
  }

  /** Validates the 1-D weights and builds the inner layer on them (reshaped views, no copy). */
  override buildInputs(
    inputShapes: Shape[],
    weights: WeightTensor[] | undefined,
    heap: WasmHeap,
  ): void {
    const inputShape = inputShapes[0] ?? [];
    this.inputShapes = [[...inputShape]];
    this.inputShape = [...inputShape];
    this.outputShape = this.computeOutputShape(inputShape);
    this.#checkWeights(weights ?? []);
    this.inner.build(this.#innerInput(inputShape), this.#toInner(weights ?? []), heap);
  }

  #checkWeights(weights: WeightTensor[]): void {
    const specs = this.weightSpecs(this.inputShape);
    if (!Array.isArray(weights) || weights.length !== specs.length) {
      throw new WeightShapeError(
        this.name,
        "(count)",
        `${specs.length} arrays (${
          specs.map((s) => `${s.name}[${s.shape}]`).join(", ") || "none"
        })`,
        `${Array.isArray(weights) ? weights.length : typeof weights} arrays`,
      );
    }
    specs.forEach((spec, i) => {
      const w = weights[i];
      const same = w.shape.length === spec.shape.length &&
        w.shape.every((d, j) => d === spec.shape[j]) && w.data.length === sizeOf(spec.shape);
      if (!same) throw new WeightShapeError(this.name, spec.name, spec.shape, w.shape);
    });
  }

  #toInner(weights: WeightTensor[]): WeightTensor[] {
    return weights.map((w) => ({ ...w, shape: this.toInnerShape(w.shape) }));
  }

  override getWeights(): WeightTensor[] {
    return this.inner.getWeights().map((w) => ({ ...w, shape: this.toOuterShape(w.shape) }));
  }

  override setWeights(weights: WeightTensor[]): void {
    this.#checkWeights(weights);
    this.inner.setWeights(this.#toInner(weights));
  }

  override deviceWeights(): readonly number[] {
    return this.inner.deviceWeights();
  }

  override weightsUpdated(): void {
    super.weightsUpdated();
    this.inner.weightsUpdated();
  }

  override weightTrainable(): boolean[] {
    return this.inner.weightTrainable();
  }

  override dispose(): void {
    this.inner.dispose();
  }

  /**
   * The inner layer's input: `x` as an image, behind {@link leftPad} zero steps when causal
   * (a fresh buffer the caller frees).
   */
  innerInput(x: DeviceTensor, ctx: CallContext): DeviceTensor {
    if (this.leftPad === 0) return asImage(x);
    const [batch, time, c] = x.shape;
    const padded = time + this.leftPad;
    const shape = [batch, 1, padded, c];
    const p = ctx.heap.alloc(sizeOf(shape) * 4);
    ctx.heap.f32(p, sizeOf(shape)).fill(0);
    ctx.kernels.copyStrided(x.ptr, time * c, p + this.leftPad * c * 4, padded * c, batch, time * c);
    return { ptr: p, shape, dtype: "float32" };
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const xi = this.innerInput(x, ctx);
    try {
      return asSequence(this.inner.call(xi, null, ctx));
    } finally {
      if (xi.ptr !== x.ptr) ctx.heap.free(xi.ptr);
    }
  }
}

/**
 * Training of a {@link SequenceAsImage}: the inner class's training forward and backward on the
 * image views; with a causal prefix, the padded input is kept for the backward and the prefix's
 * rows are dropped from dx.
 */
export const SEQUENCE_AS_IMAGE_TRAINING: LayerTraining<SequenceAsImage> = {
  forward(layer, x, _mask, ctx) {
    const t = layer.innerClass.training;
    const xi = layer.innerInput(x, ctx);
    if (xi.ptr !== x.ptr) {
      ctx.keep(xi.ptr);
      ctx.tape.set(layer, xi);
    }
    const y = t?.forward ? t.forward(layer.inner, xi, null, ctx) : layer.inner.call(xi, null, ctx);
    return asSequence(y);
  },

  backward(layer, a) {
    const t = layer.innerClass.training!;
    const xi = (a.ctx.tape.get(layer) as DeviceTensor | undefined) ?? asImage(a.x);
    const dy = asImage(a.dy);
    const r = t.backward(layer.inner, {
      ...a,
      x: xi,
      y: asImage(a.y),
      mask: null,
      xs: [xi],
      masks: [null],
      dy,
    });
    const dxi = Array.isArray(r) ? r[0] : r;
    if (!dxi) return null;
    if (layer.leftPad === 0) return asSequence(dxi);
    const [batch, time, c] = a.x.shape;
    const padded = time + layer.leftPad;
    const dx: DeviceTensor = {
      ptr: a.ctx.heap.alloc(sizeOf(a.x.shape) * 4),
      shape: [...a.x.shape],
      dtype: "float32",
    };
    a.ctx.kernels.copyStrided(
      dxi.ptr + layer.leftPad * c * 4,
      padded * c,
      dx.ptr,
      time * c,
      batch,
      time * c,
    );
    if (dxi.ptr !== a.dy.ptr) a.ctx.heap.free(dxi.ptr);
    return dx;
  },

  outputActivation(layer) {
    return layer.innerClass.training?.outputActivation?.(layer.inner) ?? null;
  },

  afterUpdate(layer) {
    layer.innerClass.training?.afterUpdate?.(layer.inner);
  },
};

/**
 * The inner 2-D pooling config of a Keras 1-D pooling config: `pool_size` (default 2),
 * `strides` (default the pool size; `null` too) and `padding`, over a `(1, pool)` window.
 */
export function poolConfig(config: LayerConfig, layerName: string): LayerConfig {
  const pool = parseWindow(config, "pool_size", layerName, 2);
  const stride = parseWindow(
    { strides: config.strides ?? pool },
    "strides",
    layerName,
  );
  return { pool_size: [1, pool], strides: [1, stride], padding: config.padding ?? "valid" };
}

/**
 * The ONNX hook of the layers that run a 2-D layer on a sequence as a one-row image (pooling,
 * padding, cropping, upsampling over time): Unsqueeze to `[N, 1, T, C]` (behind the causal left
 * zeros), the inner class's own hook, Squeeze back.
 */
export function sequenceAsImageOnnx<L extends SequenceAsImage>(
  layer: L,
  ctx: OnnxLayerContext,
): void {
  const hook = layer.innerClass.onnx;
  if (!hook) ctx.refuse(`its inner ${layer.inner.className} has no ONNX form`);
  let x = ctx.inputs[0];
  const [t, c] = ctx.inputShapes[0];
  if (layer.leftPad > 0) {
    const padded = ctx.fresh("causal_pad");
    const pads = ctx.int64s("pads", [0, layer.leftPad, 0, 0, 0, 0]);
    ctx.node("Pad", [x, pads], [padded], { mode: { string: "constant" } });
    x = padded;
  }
  const image = ctx.fresh("as_image"), out = ctx.fresh("image_out");
  ctx.node("Unsqueeze", [x, ctx.int64s("axes", [1])], [image]);
  const innerShape = [1, t === null ? null : t + layer.leftPad, c];
  hook.call(
    layer.innerClass,
    layer.inner,
    innerContext(ctx, {
      inputs: [image],
      inputShapes: [innerShape],
      output: out,
      outputShape: [1, ...ctx.outputShape],
    }),
  );
  ctx.node("Squeeze", [out, ctx.int64s("axes", [1])], [ctx.output]);
}
