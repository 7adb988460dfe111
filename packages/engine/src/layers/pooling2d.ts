import type { BackwardArgs, LayerTraining } from "../layer_training.ts";
import {
  axisGeometry,
  axisOutput,
  type Padding,
  parsePadding,
  requireChannelsLast,
} from "../conv_geometry.ts";
import { InputShapeError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { parallelRanges, runJobs } from "../wasm/threads.ts";
import { channelsFirst, type OnnxLayerContext, onnxPadding } from "../onnx_emit.ts";

/**
 * Shared body of Keras `MaxPooling2D` / `AveragePooling2D` (NHWC): `pool_size`, `strides`
 * (`None` → `pool_size`), `valid`/`same` padding. Only real cells of a window count: max ignores
 * the padding, average divides by the number of real cells.
 */
export abstract class Pooling2D extends Layer {
  readonly poolSize: number[];
  readonly strides: number[];
  readonly padding: Padding;
  readonly #isAvg: boolean;

  constructor(
    className: string,
    kind: "max" | "avg",
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, config, options);
    requireChannelsLast(config, className, this.name);
    this.#isAvg = kind === "avg";
    this.poolSize = this.intTuple("pool_size", 2, 2);
    this.strides = this.intTuple("strides", 2, this.poolSize);
    this.padding = parsePadding(config.padding, this.name);
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    const outH = axisOutput(inputShape[0], this.poolSize[0], this.strides[0], 1, this.padding);
    const outW = axisOutput(inputShape[1], this.poolSize[1], this.strides[1], 1, this.padding);
    if (outH === 0 || outW === 0) {
      throw new InputShapeError(
        this.name,
        `height × width that fits the ${this.poolSize.join("×")} pool (padding ${this.padding})`,
        formatShape(inputShape),
      );
    }
    return [outH, outW, inputShape[2]];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, h, w, c] = x.shape;
    const [ph, pw] = this.poolSize;
    const [sh, sw] = this.strides;
    const gy = axisGeometry(h, ph, sh, 1, this.padding);
    const gx = axisGeometry(w, pw, sw, 1, this.padding);
    if (gy.out === 0 || gx.out === 0) {
      throw new InputShapeError(
        this.name,
        `height × width that fits the ${ph}×${pw} pool`,
        `(${x.shape.join(", ")})`,
      );
    }
    const y = this.allocOutput(ctx, [batch, gy.out, gx.out, c]);
    // Memory-bound: counted as ~8 units of work per input value when deciding to split.
    const ranges = parallelRanges(ctx.kernels, batch, 8 * batch * h * w * c);
    runJobs(
      ctx.kernels,
      ranges.map(([b0, nb]) => ({
        fn: "pool2d",
        args: [
          x.ptr + b0 * h * w * c * 4,
          y.ptr + b0 * gy.out * gx.out * c * 4,
          nb,
          h,
          w,
          c,
          gy.out,
          gx.out,
          ph,
          pw,
          sh,
          sw,
          gy.padBefore,
          gx.padBefore,
          this.#isAvg ? 1 : 0,
        ],
      })),
    );
    return y;
  }
}

// ---- training (wasm/assembly/pool_grad.ts) ------------------------------------------------

/** The layer's window geometry for input `x`. */
function trainGeometry(layer: Pooling2D, x: DeviceTensor) {
  const [batch, h, w, c] = x.shape;
  const [ph, pw] = layer.poolSize;
  const [sh, sw] = layer.strides;
  const gy = axisGeometry(h, ph, sh, 1, layer.padding);
  const gx = axisGeometry(w, pw, sw, 1, layer.padding);
  return { batch, h, w, c, ph, pw, sh, sw, gy, gx };
}

/** dx for `a.dy`; `arg` is the max-pooling argmax (0 for average pooling). */
function poolBackward(layer: Pooling2D, a: BackwardArgs, arg: number, isAvg: number): DeviceTensor {
  const { x } = a;
  const g = trainGeometry(layer, x);
  const dx: DeviceTensor = {
    ptr: a.ctx.heap.alloc(sizeOf(x.shape) * 4),
    shape: [...x.shape],
    dtype: "float32",
  };
  a.ctx.kernels.pool2dBackward(
    arg,
    a.dy.ptr,
    dx.ptr,
    g.batch,
    g.h,
    g.w,
    g.c,
    g.gy.out,
    g.gx.out,
    g.ph,
    g.pw,
    g.sh,
    g.sw,
    g.gy.padBefore,
    g.gx.padBefore,
    isAvg,
  );
  return dx;
}

/**
 * MaxPooling2D in training: the forward records each output's argmax cell (the first maximal one
 * on ties, as TF) and the backward routes the gradient there.
 */
export const MAX_POOLING_TRAINING: LayerTraining<Pooling2D> = {
  forward(layer, x, mask, ctx) {
    const g = trainGeometry(layer, x);
    // Shape checks (and their typed errors) as at inference.
    if (g.gy.out === 0 || g.gx.out === 0) return layer.call(x, mask, ctx);
    const shape = [g.batch, g.gy.out, g.gx.out, g.c];
    const n = sizeOf(shape);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape, dtype: "float32" };
    const arg = ctx.keep(ctx.heap.alloc(n * 4));
    ctx.kernels.maxPool2dTrain(
      x.ptr,
      y.ptr,
      arg,
      g.batch,
      g.h,
      g.w,
      g.c,
      g.gy.out,
      g.gx.out,
      g.ph,
      g.pw,
      g.sh,
      g.sw,
      g.gy.padBefore,
      g.gx.padBefore,
    );
    ctx.tape.set(layer, arg);
    return y;
  },

  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, a.ctx.tape.get(layer) as number, 0);
  },
};

/**
 * AveragePooling2D in training: the inference forward; the backward spreads each window's
 * gradient evenly over its real cells.
 */
export const AVERAGE_POOLING_TRAINING: LayerTraining<Pooling2D> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, 0, 1);
  },
};

/**
 * The ONNX hook of a 2-D pooling: MaxPool / AveragePool between channels-last Transposes. Keras
 * averages over the real cells only, which is ONNX's `count_include_pad = 0` (the default).
 */
export function pooling2dOnnx(
  op: "MaxPool" | "AveragePool",
): (layer: Pooling2D, ctx: OnnxLayerContext) => void {
  return (layer, ctx) =>
    channelsFirst(ctx, ctx.inputs[0], ctx.output, 4, (x, y) =>
      ctx.node(op, [x], [y], {
        kernel_shape: { ints: layer.poolSize },
        strides: { ints: layer.strides },
        ...onnxPadding(layer.padding),
      }));
}
