/**
 * Keras `Masking`.
 *
 * @module
 */
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * TypeScript reference (and the engine's implementation) of Keras `Masking`'s mask: per position
 * of `x` (all axes but the last, `rows` of `features`), 1 when any feature differs from
 * `maskValue`, else 0.
 */
export function maskingReference(
  x: Float32Array,
  rows: number,
  features: number,
  maskValue: number,
): Int32Array {
  const m = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < features; k++) {
      if (x[r * features + k] !== maskValue) {
        m[r] = 1;
        break;
      }
    }
  }
  return m;
}

/**
 * Keras `Masking`: a step whose features all equal `mask_value` (default 0) is masked — its
 * output zeroed — and the layer produces the mask (int32, 1 = kept, shape of the input without
 * its last axis, `[batch, time]` for sequences, as Embedding's `mask_zero` does) for the layers
 * after it. An incoming mask is replaced, as in Keras.
 */
export class Masking extends Layer {
  readonly maskValue: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Masking", config, options);
    this.maskValue = this.num("mask_value", 0);
  }

  computeOutputShape(inputShape: Shape): Shape {
    if (inputShape.length < 2) this.expectRank(inputShape, 2, "(time, features) ");
    return [...inputShape];
  }

  /** The keep flags of `x`'s positions (see {@link maskingReference}). */
  keepFlags(x: DeviceTensor, heap: CallContext["heap"]): Int32Array {
    const f = x.shape[x.shape.length - 1];
    const n = sizeOf(x.shape);
    return maskingReference(heap.f32(x.ptr, n), n / f, f, this.maskValue);
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const y = this.allocOutput(ctx, [...x.shape]);
    const keep = this.keepFlags(x, ctx.heap);
    const n = sizeOf(x.shape), f = x.shape[x.shape.length - 1];
    const xs = ctx.heap.f32(x.ptr, n), ys = ctx.heap.f32(y.ptr, n);
    for (let r = 0; r < keep.length; r++) {
      const o = r * f;
      if (keep[r]) ys.set(xs.subarray(o, o + f), o);
      else ys.fill(0, o, o + f);
    }
    return y;
  }

  override computeMask(x: DeviceTensor, _mask: DeviceTensor | null): DeviceTensor | null {
    const { heap } = getRuntime();
    const shape = x.shape.slice(0, -1);
    const mask: DeviceTensor = { ptr: heap.alloc(sizeOf(shape) * 4), shape, dtype: "int32" };
    const keep = this.keepFlags(x, heap);
    heap.i32(mask.ptr, keep.length).set(keep);
    return mask;
  }
}

/** Training: dx = dy on kept positions, 0 on masked ones (flags recomputed from x). */
const MASKING_TRAINING: LayerTraining<Masking> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const keep = layer.keepFlags(a.x, a.ctx.heap);
    const n = sizeOf(a.dy.shape), f = a.dy.shape[a.dy.shape.length - 1];
    const dy = a.ctx.heap.f32(a.dy.ptr, n);
    for (let r = 0; r < keep.length; r++) if (!keep[r]) dy.fill(0, r * f, r * f + f);
    return a.dy;
  },
};

/**
 * Masking in ONNX: keep = any feature ≠ mask_value (ReduceMax over the last axis of the
 * comparison), the output zeroed where not kept, and keep as the mask for the layers after it.
 */
function maskingOnnx(layer: Masking, ctx: OnnxLayerContext): void {
  const x = ctx.inputs[0];
  const value = ctx.initializer("mask_value", { float32: Float32Array.of(layer.maskValue) }, []);
  const same = ctx.fresh("equal"), differs = ctx.fresh("differs"), asFloat = ctx.fresh("differs_f");
  const anyFloat = ctx.fresh("keep_f"), keep = ctx.fresh("mask");
  ctx.node("Equal", [x, value], [same]);
  ctx.node("Not", [same], [differs]);
  ctx.node("Cast", [differs], [asFloat], { to: { int: 1 } });
  emitReduce(ctx, "ReduceMax", asFloat, [-1], true, anyFloat);
  ctx.node("Mul", [x, anyFloat], [ctx.output]);
  const squeezed = ctx.fresh("keep_squeezed");
  ctx.node("Squeeze", [anyFloat, ctx.int64s("axes", [-1])], [squeezed]);
  ctx.node("Cast", [squeezed], [keep], { to: { int: 9 } }); // 9: BOOL
  ctx.setOutputMask(keep);
}

/** The `Masking` layer class (see `layer_class.ts`). */
export const MASKING: LayerClass<Masking> = defineLayer({
  className: "Masking",
  create: (config, options) => new Masking(config, options),
  training: MASKING_TRAINING,
  onnx: maskingOnnx,
});
