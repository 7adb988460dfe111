import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/**
 * A Keras config number or array: a number, nested lists, or the `{"class_name": "__numpy__",
 * "config": {"value": …}}` object Keras 3 writes for NumPy arrays (`__tensor__` likewise).
 * Returns the values flattened row-major and the array's shape; undefined when not numeric.
 */
export function configArray(v: unknown): { values: number[]; shape: number[] } | undefined {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const o = v as { class_name?: unknown; config?: { value?: unknown } };
    if ((o.class_name === "__numpy__" || o.class_name === "__tensor__") && o.config) {
      return configArray(o.config.value);
    }
    return undefined;
  }
  if (typeof v === "number") return Number.isFinite(v) ? { values: [v], shape: [] } : undefined;
  if (!Array.isArray(v)) return undefined;
  const parts = v.map(configArray);
  if (parts.some((p) => p === undefined)) return undefined;
  const inner = parts[0]?.shape ?? [];
  if (!parts.every((p) => p!.shape.join() === inner.join())) return undefined;
  return { values: parts.flatMap((p) => p!.values), shape: [v.length, ...inner] };
}

/**
 * Keras `Rescaling`: `y = x·scale + offset`. `scale` and `offset` are numbers or arrays that
 * broadcast against the input as NumPy does (a list of C values scales each channel of a
 * channels-last input).
 */
export class Rescaling extends Layer {
  /** Flattened scale / offset values and their shapes. */
  readonly scale: { values: number[]; shape: number[] };
  readonly offset: { values: number[]; shape: number[] };
  #scale: Float32Array = new Float32Array(1);
  #offset: Float32Array = new Float32Array(1);

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Rescaling", config, options);
    this.scale = this.#array("scale", undefined);
    this.offset = this.#array("offset", 0);
  }

  #array(field: string, fallback: unknown): { values: number[]; shape: number[] } {
    const raw = this.config[field] ?? fallback;
    const a = configArray(raw);
    if (!a || a.values.length === 0) {
      throw new LayerConfigError(
        this.name,
        field,
        `expected a number or an array of numbers, got ${JSON.stringify(raw)}`,
      );
    }
    return a;
  }

  computeOutputShape(inputShape: Shape): Shape {
    const per = (which: "scale" | "offset") => {
      const { shape } = this[which];
      const full = [...inputShape];
      if (shape.length > full.length + 1) {
        throw new InputShapeError(
          this.name,
          `a rank that ${which} ${formatShape(shape)} broadcasts against`,
          formatShape(inputShape),
        );
      }
      // NumPy broadcasting, right-aligned against the sample shape (a leading batch dim of
      // the array must be 1).
      shape.forEach((d, i) => {
        const axis = full.length - shape.length + i;
        const target = axis >= 0 ? full[axis] : 1;
        if (d !== 1 && target !== null && d !== target) {
          throw new InputShapeError(
            this.name,
            `dimensions that ${which} ${formatShape(shape)} broadcasts against`,
            formatShape(inputShape),
          );
        }
      });
    };
    per("scale");
    per("offset");
    return [...inputShape];
  }

  protected override afterBuild(): void {
    this.#scale = this.#expand(this.scale);
    this.#offset = this.#expand(this.offset);
  }

  /** The array broadcast over one sample (inputShape). */
  #expand(a: { values: number[]; shape: number[] }): Float32Array {
    const dims = this.inputShape as number[];
    if (a.values.length === 1) return Float32Array.of(a.values[0]);
    // One value per channel (the usual case; spatial dims may be unknown).
    if (a.shape.slice(0, -1).every((d) => d === 1) && a.shape.at(-1) === dims.at(-1)) {
      return Float32Array.from(a.values);
    }
    const per = sizeOf(dims);
    const out = new Float32Array(per);
    const shape = a.shape.slice(Math.max(0, a.shape.length - dims.length));
    const lead = dims.length - shape.length;
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
    for (let p = 0; p < per; p++) {
      let rest = p, src = 0;
      for (let axis = dims.length - 1; axis >= 0; axis--) {
        const d = dims[axis];
        const coord = rest % d;
        rest = (rest - coord) / d;
        const i = axis - lead;
        if (i >= 0 && shape[i] !== 1) src += coord * strides[i];
      }
      out[p] = a.values[src];
    }
    return out;
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const n = sizeOf(x.shape);
    const y = this.allocOutput(ctx, [...x.shape]);
    const xs = ctx.heap.f32(x.ptr, n), ys = ctx.heap.f32(y.ptr, n);
    const s = this.#scale, o = this.#offset;
    const ls = s.length, lo = o.length;
    for (let i = 0; i < n; i++) ys[i] = Math.fround(xs[i] * s[i % ls]) + o[i % lo];
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }

  /** dx = dy·scale (the broadcast scale; the offset has no gradient). */
  inputGrad(dy: Float32Array, dx: Float32Array): void {
    const s = this.#scale, ls = s.length;
    for (let i = 0; i < dy.length; i++) dx[i] = dy[i] * s[i % ls];
  }
}

/** Rescaling in training: the forward is the inference one; backward dx = dy·scale. */
const RESCALING_TRAINING: LayerTraining<Rescaling> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const n = sizeOf(a.dy.shape);
    const dy = a.ctx.heap.f32(a.dy.ptr, n);
    layer.inputGrad(dy, dy);
    return a.dy;
  },
};

/** Rescaling in ONNX: Mul by the (broadcast) scale, Add of the offset. */
function rescalingOnnx(layer: Rescaling, ctx: OnnxLayerContext): void {
  const constant = (hint: string, v: { values: number[]; shape: number[] }) =>
    ctx.initializer(hint, { float32: Float32Array.from(v.values) }, v.shape);
  const scaled = ctx.fresh("scaled");
  ctx.node("Mul", [ctx.inputs[0], constant("scale", layer.scale)], [scaled]);
  ctx.node("Add", [scaled, constant("offset", layer.offset)], [ctx.output]);
}

/** The `Rescaling` layer class (see `layer_class.ts`). */
export const RESCALING: LayerClass<Rescaling> = defineLayer({
  className: "Rescaling",
  create: (config, options) => new Rescaling(config, options),
  training: RESCALING_TRAINING,
  onnx: rescalingOnnx,
});
