/**
 * Keras `Permute`.
 *
 * @module
 */
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/**
 * TypeScript reference (and the engine's implementation) of a transpose of `x` (`shape` with the
 * batch first) keeping the batch axis: output axis i + 1 is input axis `perm[i] + 1` (0-based
 * `perm` over the non-batch axes).
 */
export function permuteReference(
  x: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  const inDims = shape.slice(1);
  const outDims = perm.map((p) => inDims[p]);
  const rank = inDims.length;
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= inDims[i];
  }
  const per = s;
  const strideOf = perm.map((p) => inStrides[p]);
  const y = new Float32Array(x.length);
  const idx = new Array<number>(rank).fill(0);
  for (let b = 0; b < shape[0]; b++) {
    idx.fill(0);
    let src = b * per;
    for (let o = 0; o < per; o++) {
      y[b * per + o] = x[src];
      for (let ax = rank - 1; ax >= 0; ax--) {
        idx[ax]++;
        src += strideOf[ax];
        if (idx[ax] < outDims[ax]) break;
        src -= strideOf[ax] * outDims[ax];
        idx[ax] = 0;
      }
    }
  }
  return y;
}

/**
 * Keras `Permute`: `dims` is a permutation of 1…rank (1-based, the batch axis excluded); output
 * axis i is input axis `dims[i]`. Masks end here.
 */
export class Permute extends Layer {
  /** 0-based permutation of the non-batch axes. */
  readonly perm: number[];

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Permute", config, options);
    const d = config.dims;
    const ok = Array.isArray(d) && d.length > 0 &&
      d.every((v) => Number.isInteger(v) && v >= 1 && v <= d.length) &&
      new Set(d).size === d.length;
    if (!ok) {
      throw new LayerConfigError(
        this.name,
        "dims",
        `expected a permutation of 1…n (1-based, batch excluded), got ${JSON.stringify(d)}`,
      );
    }
    this.perm = (d as number[]).map((v) => v - 1);
  }

  computeOutputShape(inputShape: Shape): Shape {
    if (inputShape.length !== this.perm.length) {
      throw new InputShapeError(
        this.name,
        `rank ${this.perm.length + 1} (batch + ${this.perm.length} dims, as dims has)`,
        formatShape(inputShape),
      );
    }
    return this.perm.map((p) => inputShape[p]);
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const shape = [x.shape[0], ...this.perm.map((p) => x.shape[p + 1])];
    const y = this.allocOutput(ctx, shape);
    const n = sizeOf(x.shape);
    ctx.heap.f32(y.ptr, n).set(permuteReference(ctx.heap.f32(x.ptr, n), x.shape, this.perm));
    return y;
  }
}

/** Training: dx = dy permuted back by the inverse permutation. */
const PERMUTE_TRAINING: LayerTraining<Permute> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const inv = new Array<number>(layer.perm.length);
    layer.perm.forEach((p, i) => (inv[p] = i));
    const { heap } = a.ctx;
    const n = sizeOf(a.x.shape);
    const dx: DeviceTensor = { ptr: heap.alloc(n * 4), shape: [...a.x.shape], dtype: "float32" };
    heap.f32(dx.ptr, n).set(permuteReference(heap.f32(a.dy.ptr, n), a.dy.shape, inv));
    return dx;
  },
};

/** Permute in ONNX: Transpose with the batch axis kept first. */
function permuteOnnx(layer: Permute, ctx: OnnxLayerContext): void {
  const perm = [0, ...layer.perm.map((a) => a + 1)];
  ctx.node("Transpose", [ctx.inputs[0]], [ctx.output], { perm: { ints: perm } });
}

/** The `Permute` layer class (see `layer_class.ts`). */
export const PERMUTE: LayerClass<Permute> = defineLayer({
  className: "Permute",
  create: (config, options) => new Permute(config, options),
  training: PERMUTE_TRAINING,
  onnx: permuteOnnx,
});
