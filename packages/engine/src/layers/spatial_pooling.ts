/**
 * Shared body of Keras `MaxPooling2D` / `AveragePooling2D` and `MaxPooling3D` /
 * `AveragePooling3D` (channels_last): `pool_size` (default 2), `strides` (default the pool
 * size), `valid`/`same` padding. Only real cells of a window count: max ignores the padding,
 * average divides by the number of real cells (as Keras).
 *
 * Every call runs as `pool2d` stages. A 2-D pooling is one stage. A 3-D window is a box, so the
 * 3-D pooling is separable: pooling each frame's rows × cols (`pool2d` over the B·D frames) and
 * then the depth axis (`pool2d` over `[B, D, 1, H'·W'·C]`, a depth × 1 window) gives the same
 * result — max the largest real cell, average the mean over the frame window's real cells, then
 * over the depth window's real frames (the mean over the box's real cells). Training
 * backpropagates through the stages in reverse with `pool2dBackward` (max routes to the argmax
 * each `maxPool2dTrain` stage recorded: the first maximal cell in depth, row, column order).
 *
 * @module
 */
import {
  axisGeometry,
  axisOutput,
  type Padding,
  parsePadding,
  requireChannelsLast,
} from "../conv_geometry.ts";
import { InputShapeError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import type { BackwardArgs, LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { channelsFirst, type OnnxLayerContext, onnxPadding } from "../onnx_emit.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { job, parallelRanges, runJobs } from "../wasm/threads.ts";

/**
 * The geometry arguments of `pool2d` / `maxPool2dTrain` / `pool2dBackward`: images, h, w, c,
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

/** Floats a stage writes. */
const stageOutFloats = ([images, , , c, outH, outW]: Pool2dGeometry) => images * outH * outW * c;

/** The spatial axes of a 2-D (global) pooling's image, by name. */
export const IMAGE_AXES = ["height", "width"] as const;
/** The spatial axes of a 3-D (global) pooling's volume. */
export const VOLUME_AXES = ["depth", "rows", "cols"] as const;

/** The `pool2d` stages of one call, first to last, and the call's output shape. */
export interface PoolingPlan {
  stages: Pool2dGeometry[];
  outShape: number[];
}

/**
 * What every pooling over the spatial axes of `[batch, ...spatial, channels]` shares, windowed
 * ({@link SpatialPooling}) or global (`GlobalSpatialPooling`): max or average, the axes by name
 * (2: an image's rows × cols, 3: a volume's depth × rows × cols), `channels_first` refused by
 * name.
 */
export abstract class ChannelsLastPooling extends Layer {
  readonly isAverage: boolean;
  /** Names of the pooled axes, in order (their count is the spatial rank: 2 or 3). */
  readonly spatialAxes: readonly string[];

  constructor(
    className: string,
    kind: "max" | "avg",
    spatialAxes: readonly string[],
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, config, options);
    requireChannelsLast(config, className, this.name);
    this.isAverage = kind === "avg";
    this.spatialAxes = spatialAxes;
  }
}

/** A windowed pooling over the spatial axes (`pool_size`, `strides`, `padding`). */
export abstract class SpatialPooling extends ChannelsLastPooling {
  readonly poolSize: number[];
  readonly strides: number[];
  readonly padding: Padding;

  constructor(
    className: string,
    kind: "max" | "avg",
    spatialAxes: readonly string[],
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, kind, spatialAxes, config, options);
    this.poolSize = this.intTuple("pool_size", spatialAxes.length, 2);
    this.strides = this.intTuple("strides", spatialAxes.length, this.poolSize);
    this.padding = parsePadding(config.padding, this.name);
  }

  /** "height × width that fit the 2×2 pool" and the like. */
  #fitting(): string {
    return `${this.spatialAxes.join(" × ")} that fit the ${this.poolSize.join("×")} pool`;
  }

  computeOutputShape(inputShape: Shape): Shape {
    const rank = this.spatialAxes.length;
    this.expectRank(inputShape, rank + 1, `(${this.spatialAxes.join(", ")}, channels) `);
    const out = inputShape.slice(0, rank).map((len, i) =>
      axisOutput(len, this.poolSize[i], this.strides[i], 1, this.padding)
    );
    if (out.some((d) => d === 0)) {
      throw new InputShapeError(
        this.name,
        `${this.#fitting()} (padding ${this.padding})`,
        formatShape(inputShape),
      );
    }
    return [...out, inputShape[rank]];
  }

  /** The `pool2d` stages for an input of shape `[batch, ...spatial, c]`. */
  plan(shape: readonly number[]): PoolingPlan {
    const rank = this.spatialAxes.length;
    const batch = shape[0], c = shape[rank + 1];
    const axes = shape.slice(1, rank + 1).map((len, i) =>
      axisGeometry(len, this.poolSize[i], this.strides[i], 1, this.padding)
    );
    if (shape.length !== rank + 2 || axes.some((a) => a.out === 0)) {
      throw new InputShapeError(
        this.name,
        `(batch, ${this.spatialAxes.join(", ")}, channels) with ${this.#fitting()}`,
        `[${shape.join(", ")}]`,
      );
    }
    // The rows × cols stage over every frame (a 3-D input's B·D frames, a 2-D input's B images).
    const [h, w] = shape.slice(rank - 1, rank + 1);
    const [gy, gx] = axes.slice(-2);
    const [ph, pw] = this.poolSize.slice(-2);
    const [sh, sw] = this.strides.slice(-2);
    const frames = sizeOf(shape.slice(0, rank - 1));
    const stages: Pool2dGeometry[] = [
      [frames, h, w, c, gy.out, gx.out, ph, pw, sh, sw, gy.padBefore, gx.padBefore],
    ];
    if (rank === 3) {
      // The depth stage: [batch, D, 1, H'·W'·C] → [batch, D', 1, H'·W'·C].
      const gd = axes[0];
      const plane = gy.out * gx.out * c;
      stages.push([
        batch,
        shape[1],
        1,
        plane,
        gd.out,
        1,
        this.poolSize[0],
        1,
        this.strides[0],
        1,
        gd.padBefore,
        0,
      ]);
    }
    return { stages, outShape: [batch, ...axes.map((a) => a.out), c] };
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const { stages, outShape } = this.plan(x.shape);
    const y = this.allocOutput(ctx, outShape);
    const avg = this.isAverage ? 1 : 0;
    try {
      throughStages(ctx.heap, stages, (g, i, mid) => {
        const src = i === 0 ? x.ptr : mid[i - 1];
        runStage(ctx, src, i === stages.length - 1 ? y.ptr : mid[i], g, avg);
      }, false);
    } catch (e) {
      ctx.heap.free(y.ptr);
      throw e;
    }
    return y;
  }
}

/**
 * Runs `run(stage, i, mid)` for every stage, first to last (last to first when `reverse`), with
 * `mid[i]` the buffer between stage i and stage i + 1 (stage i's output), freed afterwards.
 */
function throughStages(
  heap: WasmHeap,
  stages: Pool2dGeometry[],
  run: (g: Pool2dGeometry, i: number, mid: number[]) => void,
  reverse: boolean,
): void {
  const mid: number[] = [];
  try {
    for (const g of stages.slice(0, -1)) mid.push(heap.alloc(stageOutFloats(g) * 4));
    const order = stages.map((_, i) => reverse ? stages.length - 1 - i : i);
    for (const i of order) run(stages[i], i, mid);
  } finally {
    for (const p of mid) heap.free(p);
  }
}

/**
 * One `pool2d` stage from `src` to `dst`: with kernel threads on, one range of its images per
 * thread (memory-bound: counted as ~8 units of work per input value when deciding to split).
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

/** dx for `a.dy`, back through the stages in reverse; `args`: max pooling's argmax per stage. */
function poolBackward(
  layer: SpatialPooling,
  a: BackwardArgs,
  args: readonly number[] | null,
): DeviceTensor {
  const { heap, kernels } = a.ctx;
  const { stages } = layer.plan(a.x.shape);
  const avg = args ? 0 : 1;
  const dx: DeviceTensor = {
    ptr: heap.alloc(sizeOf(a.x.shape) * 4),
    shape: [...a.x.shape],
    dtype: "float32",
  };
  try {
    throughStages(heap, stages, (g, i, dMid) => {
      const dOut = i === stages.length - 1 ? a.dy.ptr : dMid[i];
      kernels.pool2dBackward(args?.[i] ?? 0, dOut, i === 0 ? dx.ptr : dMid[i - 1], ...g, avg);
    }, true);
  } catch (e) {
    heap.free(dx.ptr);
    throw e;
  }
  return dx;
}

/**
 * MaxPooling2D / MaxPooling3D in training: each stage's forward records its argmax
 * (`maxPool2dTrain`: the first maximal cell on ties, as TF); the backward routes the gradient
 * back through them.
 */
export const MAX_POOLING_TRAINING: LayerTraining<SpatialPooling> = {
  forward(layer, x, _mask, ctx) {
    const { stages, outShape } = layer.plan(x.shape);
    const { heap, kernels } = ctx;
    const y: DeviceTensor = {
      ptr: heap.alloc(sizeOf(outShape) * 4),
      shape: outShape,
      dtype: "float32",
    };
    try {
      const args = stages.map((g) => ctx.keep(heap.alloc(stageOutFloats(g) * 4)));
      throughStages(heap, stages, (g, i, mid) => {
        const src = i === 0 ? x.ptr : mid[i - 1];
        kernels.maxPool2dTrain(src, i === stages.length - 1 ? y.ptr : mid[i], args[i], ...g);
      }, false);
      ctx.tape.set(layer, args);
    } catch (e) {
      heap.free(y.ptr);
      throw e;
    }
    return y;
  },

  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, a.ctx.tape.get(layer) as number[]);
  },
};

/**
 * AveragePooling2D / AveragePooling3D in training: the inference forward; the backward spreads
 * each window's gradient evenly over its real cells (stage by stage).
 */
export const AVERAGE_POOLING_TRAINING: LayerTraining<SpatialPooling> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, null);
  },
};

/**
 * The ONNX hook of the spatial poolings: MaxPool / AveragePool with the layer's window between
 * channels-last Transposes. Keras averages over the real cells only, which is ONNX's
 * `count_include_pad = 0` (the default).
 */
export function spatialPoolingOnnx(layer: SpatialPooling, ctx: OnnxLayerContext): void {
  channelsFirst(
    ctx,
    ctx.inputs[0],
    ctx.output,
    (layer.spatialAxes.length + 2) as 4 | 5,
    (x, y) =>
      ctx.node(layer.isAverage ? "AveragePool" : "MaxPool", [x], [y], {
        kernel_shape: { ints: layer.poolSize },
        strides: { ints: layer.strides },
        ...onnxPadding(layer.padding),
      }),
  );
}
