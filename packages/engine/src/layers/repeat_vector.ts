/**
 * Keras `RepeatVector`.
 *
 * @module
 */
import { LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Keras `RepeatVector`: `(batch, features)` → `(batch, n, features)`, each row repeated `n` times. */
export class RepeatVector extends Layer {
  readonly n: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("RepeatVector", config, options);
    this.n = this.num("n", undefined, true);
    if (this.n < 1 || this.n > 65535) {
      throw new LayerConfigError(
        this.name,
        "n",
        `expected an integer in [1, 65535], got ${this.n}`,
      );
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 1, "(features) ");
    return [this.n, inputShape[0]];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, f] = x.shape;
    const y = this.allocOutput(ctx, [batch, this.n, f]);
    for (let r = 0; r < this.n; r++) {
      ctx.kernels.copyStrided(x.ptr, f, y.ptr + r * f * 4, this.n * f, batch, f);
    }
    return y;
  }
}

/** Training: dx = Σ over the n copies of dy. */
const REPEAT_VECTOR_TRAINING: LayerTraining<RepeatVector> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const [batch, f] = a.x.shape;
    const { heap } = a.ctx;
    const dx: DeviceTensor = {
      ptr: heap.alloc(sizeOf(a.x.shape) * 4),
      shape: [...a.x.shape],
      dtype: "float32",
    };
    const d = heap.f32(dx.ptr, batch * f), dy = heap.f32(a.dy.ptr, batch * layer.n * f);
    d.fill(0);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < layer.n; r++) {
        const o = (b * layer.n + r) * f;
        for (let k = 0; k < f; k++) d[b * f + k] += dy[o + k];
      }
    }
    return dx;
  },
};

/** RepeatVector in ONNX: Unsqueeze to `[N, 1, F]`, Tile n times on axis 1. */
function repeatVectorOnnx(layer: RepeatVector, ctx: OnnxLayerContext): void {
  const row = ctx.fresh("row");
  ctx.node("Unsqueeze", [ctx.inputs[0], ctx.int64s("axes", [1])], [row]);
  ctx.node("Tile", [row, ctx.int64s("repeats", [1, layer.n, 1])], [ctx.output]);
}

/** The `RepeatVector` layer class (see `layer_class.ts`). */
export const REPEAT_VECTOR: LayerClass<RepeatVector> = defineLayer({
  className: "RepeatVector",
  create: (config, options) => new RepeatVector(config, options),
  training: REPEAT_VECTOR_TRAINING,
  onnx: repeatVectorOnnx,
});
