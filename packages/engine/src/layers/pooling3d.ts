/**
 * Shared body of Keras `MaxPooling3D` / `AveragePooling3D` (channels_last).
 *
 * A 3-D window is a box, so the pooling is separable: pooling each frame's rows × cols
 * (`pool2d` over the B·D frames) and then the depth axis (`pool2d` over `[B, D, 1, H'·W'·C]`,
 * a depth × 1 window) gives the same result. Max: the largest real cell. Average: the mean over
 * the frame window's real cells, then over the depth window's real frames — the mean over the
 * box's real cells, as Keras (padding cells never count). Training backpropagates through the
 * two stages in reverse with `pool2dBackward` (max routes to the argmax each `maxPool2dTrain`
 * stage recorded: the first maximal cell in depth, row, column order).
 *
 * @module
 */
import { axisGeometry, type Padding, parsePadding, requireChannelsLast } from "../conv_geometry.ts";
import { InputShapeError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import type { BackwardArgs, LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { channelsFirst, type OnnxLayerContext, onnxPadding } from "../onnx_emit.ts";
import { job, parallelRanges, runJobs } from "../wasm/threads.ts";

/**
 * The geometry arguments of `pool2d` / `maxPool2dTrain` / `pool2dBackward`: batch, h, w, c,
 * outH, outW, ph, pw, sh, sw, padTop, padLeft.
 */
type Pool2dGeometry = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

/** The two `pool2d` stages of one 3-D pooling call. */
interface Stages {
  /** Frames stage: `[batch·D, H, W, C]` → `[batch·D, H', W', C]`. */
  frames: Pool2dGeometry;
  /** Depth stage: `[batch, D, 1, H'·W'·C]` → `[batch, D', 1, H'·W'·C]`. */
  depth: Pool2dGeometry;
  /** Floats between the stages and of the output. */
  middleFloats: number;
  outShape: number[];
}

/**
 * Shared body of the 3-D poolings: `pool_size` (default 2), `strides` (default the pool size),
 * `valid`/`same` padding; input `[batch, depth, rows, cols, channels]`.
 */
export abstract class Pooling3D extends Layer {
  readonly poolSize: number[];
  readonly strides: number[];
  readonly padding: Padding;
  readonly isAverage: boolean;

  constructor(
    className: string,
    kind: "max" | "avg",
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, config, options);
    requireChannelsLast(config, className, this.name);
    this.isAverage = kind === "avg";
    this.poolSize = this.intTuple("pool_size", 3, 2);
    this.strides = this.intTuple("strides", 3, this.poolSize);
    this.padding = parsePadding(config.padding, this.name);
  }

  /** Output length and leading padding of pooled axis `i` (depth, rows, cols) of length `len`. */
  #axis(len: number, i: number) {
    return axisGeometry(len, this.poolSize[i], this.strides[i], 1, this.padding);
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 4, "(depth, rows, cols, channels) ");
    const out = inputShape.slice(0, 3).map((len, i) =>
      len === null ? null : this.#axis(len, i).out
    );
    if (out.some((d) => d === 0)) {
      throw new InputShapeError(
        this.name,
        `depth × rows × cols that fit the ${
          this.poolSize.join("×")
        } pool (padding ${this.padding})`,
        formatShape(inputShape),
      );
    }
    return [...out, inputShape[3]];
  }

  /** The two `pool2d` stages for an input of shape `[batch, d, h, w, c]`. */
  stages(shape: readonly number[]): Stages {
    const [batch, d, h, w, c] = shape;
    const [gd, gy, gx] = [d, h, w].map((len, i) => this.#axis(len, i));
    if (gd.out === 0 || gy.out === 0 || gx.out === 0) {
      throw new InputShapeError(
        this.name,
        `depth × rows × cols that fit the ${this.poolSize.join("×")} pool`,
        `[${shape.join(", ")}]`,
      );
    }
    const [pd, ph, pw] = this.poolSize;
    const [sd, sh, sw] = this.strides;
    const plane = gy.out * gx.out * c;
    return {
      frames: [batch * d, h, w, c, gy.out, gx.out, ph, pw, sh, sw, gy.padBefore, gx.padBefore],
      depth: [batch, d, 1, plane, gd.out, 1, pd, 1, sd, 1, gd.padBefore, 0],
      middleFloats: batch * d * plane,
      outShape: [batch, gd.out, gy.out, gx.out, c],
    };
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const st = this.stages(x.shape);
    const y = this.allocOutput(ctx, st.outShape);
    const mid = ctx.heap.alloc(st.middleFloats * 4);
    const avg = this.isAverage ? 1 : 0;
    try {
      runStage(ctx, x.ptr, mid, st.frames, avg);
      runStage(ctx, mid, y.ptr, st.depth, avg);
    } finally {
      ctx.heap.free(mid);
    }
    return y;
  }
}

/**
 * One `pool2d` stage from `src` to `dst`: with kernel threads on, one range of its images per
 * thread (memory-bound: counted as ~8 units of work per input value, as Pooling2D).
 */
function runStage(
  ctx: CallContext,
  src: number,
  dst: number,
  g: Pool2dGeometry,
  avg: number,
): void {
  const [images, h, w, c, outH, outW, ...window] = g;
  const ranges = parallelRanges(ctx.kernels, images, 8 * images * h * w * c);
  runJobs(
    ctx.kernels,
    ranges.map(([i0, n]) =>
      job(
        "pool2d",
        src + i0 * h * w * c * 4,
        dst + i0 * outH * outW * c * 4,
        n,
        h,
        w,
        c,
        outH,
        outW,
        ...window as [number, number, number, number, number, number],
        avg,
      )
    ),
  );
}

/** What max pooling's training forward leaves: the argmax of each stage. */
interface MaxTape {
  framesArg: number;
  depthArg: number;
}

/** dx for `a.dy`: back through the depth stage, then the frames stage. */
function poolBackward(layer: Pooling3D, a: BackwardArgs, tape: MaxTape | null): DeviceTensor {
  const { heap, kernels } = a.ctx;
  const st = layer.stages(a.x.shape);
  const avg = tape ? 0 : 1;
  const dMid = heap.alloc(st.middleFloats * 4);
  const dx: DeviceTensor = {
    ptr: heap.alloc(sizeOf(a.x.shape) * 4),
    shape: [...a.x.shape],
    dtype: "float32",
  };
  try {
    kernels.pool2dBackward(tape?.depthArg ?? 0, a.dy.ptr, dMid, ...st.depth, avg);
    kernels.pool2dBackward(tape?.framesArg ?? 0, dMid, dx.ptr, ...st.frames, avg);
  } catch (e) {
    heap.free(dx.ptr);
    throw e;
  } finally {
    heap.free(dMid);
  }
  return dx;
}

/**
 * MaxPooling3D in training: each stage's forward records its argmax (`maxPool2dTrain`); the
 * backward routes the gradient through both.
 */
export const MAX_POOLING3D_TRAINING: LayerTraining<Pooling3D> = {
  forward(layer, x, _mask, ctx) {
    const st = layer.stages(x.shape);
    const { heap, kernels } = ctx;
    const y: DeviceTensor = {
      ptr: heap.alloc(sizeOf(st.outShape) * 4),
      shape: st.outShape,
      dtype: "float32",
    };
    const mid = heap.alloc(st.middleFloats * 4);
    try {
      const framesArg = ctx.keep(heap.alloc(st.middleFloats * 4));
      const depthArg = ctx.keep(heap.alloc(sizeOf(st.outShape) * 4));
      kernels.maxPool2dTrain(x.ptr, mid, framesArg, ...st.frames);
      kernels.maxPool2dTrain(mid, y.ptr, depthArg, ...st.depth);
      ctx.tape.set(layer, { framesArg, depthArg } satisfies MaxTape);
    } catch (e) {
      heap.free(y.ptr);
      throw e;
    } finally {
      heap.free(mid);
    }
    return y;
  },

  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, a.ctx.tape.get(layer) as MaxTape);
  },
};

/**
 * AveragePooling3D in training: the inference forward; the backward spreads each window's
 * gradient evenly over its real cells (stage by stage).
 */
export const AVERAGE_POOLING3D_TRAINING: LayerTraining<Pooling3D> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, null);
  },
};

/**
 * The ONNX hook of MaxPooling3D / AveragePooling3D: MaxPool / AveragePool with a 3-D window
 * between channels-last Transposes (the average counts real cells only, as Keras).
 */
export function pooling3dOnnx(layer: Pooling3D, ctx: OnnxLayerContext): void {
  channelsFirst(
    ctx,
    ctx.inputs[0],
    ctx.output,
    5,
    (x, y) =>
      ctx.node(layer.isAverage ? "AveragePool" : "MaxPool", [x], [y], {
        kernel_shape: { ints: layer.poolSize },
        strides: { ints: layer.strides },
        ...onnxPadding(layer.padding),
      }),
  );
}
