/**
 * Shared code of Keras `GlobalMaxPooling1D` and `GlobalAveragePooling1D`.
 *
 * @module
 */
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import type { LayerTraining } from "../layer_training.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { requireSequenceChannelsLast } from "./sequence_as_image.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * TypeScript reference (and the engine's implementation) of a global pooling over time of
 * `x` `[batch, time, c]`: max, or average over the steps whose `mask` `[batch, time]` is non-zero
 * (every step without a mask; Keras divides by the count of unmasked steps, so a row with none
 * gives 0/0 = NaN as in Keras). Returns `[batch, c]`.
 */
export function globalPool1dReference(
  x: Float32Array,
  shape: readonly number[],
  kind: "max" | "average",
  mask: Int32Array | null,
): Float32Array {
  const [batch, time, c] = shape;
  const y = new Float32Array(batch * c);
  for (let b = 0; b < batch; b++) {
    const o = b * c;
    if (kind === "max") {
      y.fill(-Infinity, o, o + c);
      for (let t = 0; t < time; t++) {
        const i = (b * time + t) * c;
        for (let k = 0; k < c; k++) if (x[i + k] > y[o + k]) y[o + k] = x[i + k];
      }
      continue;
    }
    let count = 0;
    for (let t = 0; t < time; t++) {
      if (mask && mask[b * time + t] === 0) continue;
      count++;
      const i = (b * time + t) * c;
      for (let k = 0; k < c; k++) y[o + k] += x[i + k];
    }
    for (let k = 0; k < c; k++) y[o + k] /= count;
  }
  return y;
}

/**
 * Global pooling over the time axis of `[batch, time, channels]` → `[batch, channels]` (or
 * `[batch, 1, channels]` with `keepdims`). `channels_first` is refused by name. Masks end here.
 */
export abstract class GlobalPooling1D extends Layer {
  readonly kind: "max" | "average";
  readonly keepdims: boolean;

  constructor(
    className: string,
    kind: "max" | "average",
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, config, options);
    requireSequenceChannelsLast(config, this.name);
    this.kind = kind;
    this.keepdims = this.bool("keepdims", false);
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 2, "(time, channels) ");
    return this.keepdims ? [1, inputShape[1]] : [inputShape[1]];
  }

  /** Whether the layer reads the mask (the average does; Keras's max ignores it). */
  protected get readsMask(): boolean {
    return this.kind === "average";
  }

  call(x: DeviceTensor, mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, time, c] = x.shape;
    const y = this.allocOutput(ctx, this.keepdims ? [batch, 1, c] : [batch, c]);
    const m = this.readsMask && mask ? ctx.heap.i32(mask.ptr, batch * time) : null;
    ctx.heap.f32(y.ptr, batch * c).set(
      globalPool1dReference(ctx.heap.f32(x.ptr, sizeOf(x.shape)), x.shape, this.kind, m),
    );
    return y;
  }
}

/**
 * dx of a global pooling over time for dy `[batch, c]`: max splits each channel's gradient
 * evenly over the steps holding the maximum (TensorFlow's `reduce_max` gradient, so Keras's;
 * TF.js gives every tied step the whole gradient — the padded windows of a text CNN tie); average
 * spreads dy / count over the unmasked steps.
 */
function poolBackward(
  heap: WasmHeap,
  kind: "max" | "average",
  x: DeviceTensor,
  mask: Int32Array | null,
  dyPtr: number,
  dxPtr: number,
): void {
  const [batch, time, c] = x.shape;
  const xs = heap.f32(x.ptr, sizeOf(x.shape));
  const dy = heap.f32(dyPtr, batch * c);
  const dx = heap.f32(dxPtr, sizeOf(x.shape));
  dx.fill(0);
  for (let b = 0; b < batch; b++) {
    if (kind === "max") {
      for (let k = 0; k < c; k++) {
        let best = -Infinity, ties = 0;
        for (let t = 0; t < time; t++) {
          const v = xs[(b * time + t) * c + k];
          if (v > best) [best, ties] = [v, 1];
          else if (v === best) ties++;
        }
        const share = dy[b * c + k] / ties;
        for (let t = 0; t < time; t++) {
          if (xs[(b * time + t) * c + k] === best) dx[(b * time + t) * c + k] = share;
        }
      }
      continue;
    }
    let count = 0;
    for (let t = 0; t < time; t++) if (!mask || mask[b * time + t] !== 0) count++;
    for (let t = 0; t < time; t++) {
      if (mask && mask[b * time + t] === 0) continue;
      const i = (b * time + t) * c;
      for (let k = 0; k < c; k++) dx[i + k] = dy[b * c + k] / count;
    }
  }
}

/** Training of both global poolings: the inference forward, then {@link poolBackward}. */
export const GLOBAL_POOLING1D_TRAINING: LayerTraining<GlobalPooling1D> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const [batch, time] = a.x.shape;
    const { heap } = a.ctx;
    const dx: DeviceTensor = {
      ptr: heap.alloc(sizeOf(a.x.shape) * 4),
      shape: [...a.x.shape],
      dtype: "float32",
    };
    const mask = layer.kind === "average" && a.mask ? heap.i32(a.mask.ptr, batch * time) : null;
    poolBackward(heap, layer.kind, a.x, mask, a.dy.ptr, dx.ptr);
    return dx;
  },
};

/**
 * The ONNX hook of a global pooling over time: ReduceMax, or ReduceMean — with a mask, the sum of
 * the unmasked steps over their count, as Keras's masked average.
 */
export function globalPooling1dOnnx(layer: GlobalPooling1D, ctx: OnnxLayerContext): void {
  const mask = ctx.inputMasks[0];
  const x = ctx.inputs[0];
  if (layer.kind === "max") return emitReduce(ctx, "ReduceMax", x, [1], layer.keepdims, ctx.output);
  if (!mask) return emitReduce(ctx, "ReduceMean", x, [1], layer.keepdims, ctx.output);
  const weights = ctx.fresh("mask_float"), weights3 = ctx.fresh("mask_3d");
  ctx.node("Cast", [mask], [weights], { to: { int: 1 } });
  ctx.node("Unsqueeze", [weights, ctx.int64s("axes", [2])], [weights3]);
  const masked = ctx.fresh("masked"), total = ctx.fresh("masked_sum"), count = ctx.fresh("count");
  ctx.node("Mul", [x, weights3], [masked]);
  emitReduce(ctx, "ReduceSum", masked, [1], layer.keepdims, total);
  emitReduce(ctx, "ReduceSum", weights3, [1], layer.keepdims, count);
  ctx.node("Div", [total, count], [ctx.output]);
}
