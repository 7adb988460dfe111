/**
 * Keras `DepthwiseConv2D` (NHWC) on the dedicated SIMD depthwise kernels
 * (`wasm/assembly/depthwise_conv.ts`), and the window/config handling it shares with
 * `SeparableConv2D` (`separable_conv2d.ts`).
 *
 * @module
 */
import { type Activation, ActivationCode, resolveActivation } from "../activations.ts";
import { axisGeometry, axisOutput, refuseStridedDilation } from "../conv_geometry.ts";
import { InputShapeError } from "../errors.ts";
import {
  applyActivation,
  type CallContext,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { ConvWindowLayer } from "./conv_window_layer.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { KernelExports } from "../wasm/kernels.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { job, parallelRanges } from "../wasm/threads.ts";
import { outputRowBands, runScratchJobs } from "./conv2d_direct.ts";
import { activationBackward, activationOutputKind } from "./activation_backward.ts";
import {
  convKernelToOnnx,
  emitConv,
  emitWithActivation,
  type OnnxLayerContext,
} from "../onnx_emit.ts";

/** The resolved geometry of one depthwise call (padding split as Keras/TF). */
export interface DepthwiseGeometry {
  batch: number;
  h: number;
  w: number;
  /** Input channels. */
  c: number;
  /** `depth_multiplier`. */
  dm: number;
  outH: number;
  outW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  padTop: number;
  padLeft: number;
}

/** The 15 geometry arguments of the depthwise kernel exports, in their order. */
type GeometryArgs = [
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
  number,
  number,
  number,
];

/** The geometry arguments for `batch` images (a range of the batch). */
function geometryArgs(g: DepthwiseGeometry, batch = g.batch): GeometryArgs {
  return [
    batch,
    g.h,
    g.w,
    g.c,
    g.dm,
    g.outH,
    g.outW,
    g.kh,
    g.kw,
    g.sh,
    g.sw,
    g.dh,
    g.dw,
    g.padTop,
    g.padLeft,
  ];
}

/** Activation codes whose derivative the backward reads off the output y in place of z. */
const DERIVATIVE_FROM_OUTPUT = new Set<number>([
  ActivationCode.Linear,
  ActivationCode.Relu,
  ActivationCode.Relu6,
  ActivationCode.Sigmoid,
  ActivationCode.Tanh,
  ActivationCode.Exponential,
]);

/** Whether training may run the fused inference forward (act' is a function of y). */
export const derivativeFromOutput = (act: Activation): boolean =>
  act.kind === "elementwise" && DERIVATIVE_FROM_OUTPUT.has(act.code);

/**
 * The config and window shared by `DepthwiseConv2D` and `SeparableConv2D`: `kernel_size`,
 * `strides`, `dilation_rate`, `padding`, `depth_multiplier`, `use_bias`, `activation`
 * (channels_last only). Like Keras, strides > 1 together with dilation_rate > 1 is refused.
 */
export abstract class DepthwiseWindowLayer extends ConvWindowLayer {
  readonly depthMultiplier: number;
  readonly useBias: boolean;
  readonly activation: Activation;

  constructor(className: string, config: LayerConfig, options: LayerBuildOptions = {}) {
    super(className, config, options);
    refuseStridedDilation(this.name, this.strides, this.dilationRate);
    this.depthMultiplier = this.positiveInt("depth_multiplier", 1);
    this.useBias = this.bool("use_bias", true);
    this.activation = resolveActivation(config.activation, this.name, options.kerasVersion);
  }

  /**
   * Zero rows and columns `[[top, bottom], [left, right]]` the layer adds around its input
   * before its own `padding`: a ZeroPadding2D folded into it at inference (fusion.ts), so the
   * kernel skips the padding's taps instead of reading a padded copy. Set before the layer is
   * built; null for none.
   */
  inputPadding: [[number, number], [number, number]] | null = null;

  /** Input length `len` of spatial axis `axis` (0: rows, 1: columns) with the input padding. */
  #padded(len: number, axis: 0 | 1): number {
    const p = this.inputPadding?.[axis];
    return p ? len + p[0] + p[1] : len;
  }

  /** `[outH, outW]` for an input shape without batch; throws when the window does not fit. */
  protected windowOutput(inputShape: Shape): [number | null, number | null] {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    if (inputShape[2] === null) {
      throw new InputShapeError(this.name, "a known channel dimension", formatShape(inputShape));
    }
    const [h, w] = inputShape;
    const outH = axisOutput(
      h === null ? null : this.#padded(h, 0),
      this.kernelSize[0],
      this.strides[0],
      this.dilationRate[0],
      this.padding,
    );
    const outW = axisOutput(
      w === null ? null : this.#padded(w, 1),
      this.kernelSize[1],
      this.strides[1],
      this.dilationRate[1],
      this.padding,
    );
    if (outH === 0 || outW === 0) throw this.windowError(formatShape(inputShape));
    return [outH, outW];
  }

  #windowText(): string {
    return `height × width that fits the ${this.kernelSize.join("×")} window (dilation ${
      this.dilationRate.join("×")
    }, padding ${this.padding})`;
  }

  protected windowError(received: string): InputShapeError {
    return new InputShapeError(this.name, this.#windowText(), received);
  }

  /** The depthwise geometry of a call on the NHWC device tensor shape `xShape`. */
  geometry(xShape: readonly number[]): DepthwiseGeometry {
    const [batch, h, w, c] = xShape;
    const [kh, kw] = this.kernelSize;
    const [sh, sw] = this.strides;
    const [dh, dw] = this.dilationRate;
    const gy = axisGeometry(this.#padded(h, 0), kh, sh, dh, this.padding);
    const gx = axisGeometry(this.#padded(w, 1), kw, sw, dw, this.padding);
    if (gy.out === 0 || gx.out === 0) throw this.windowError(`(${xShape.join(", ")})`);
    // The input padding's leading zeros come before the window's own.
    const [top, left] = [this.inputPadding?.[0][0] ?? 0, this.inputPadding?.[1][0] ?? 0];
    return {
      batch,
      h,
      w,
      c,
      dm: this.depthMultiplier,
      outH: gy.out,
      outW: gx.out,
      kh,
      kw,
      sh,
      sw,
      dh,
      dw,
      padTop: top + gy.padBefore,
      padLeft: left + gx.padBefore,
    };
  }

  /** Activation code and alpha the kernels fuse into their store (0, 0 when applied after). */
  protected fusedActivation(): [number, number] {
    const act = this.activation;
    return act.kind === "elementwise" ? [act.code, act.alpha] : [0, 0];
  }
}

/**
 * y = act(bias + depthwise(x, kernel)) into `y` ([batch, outH, outW, c·dm]); `bias` 0 for none,
 * `act`/`alpha` the fused element-wise activation (0, 0 for none). With kernel threads on, a
 * large batch splits into one range of images per thread, and a single image into bands of
 * output rows, each job with its own scratch.
 */
export function depthwiseForward(
  ctx: CallContext,
  g: DepthwiseGeometry,
  x: number,
  kernel: number,
  bias: number,
  y: number,
  act: number,
  alpha: number,
): void {
  const flops = 2 * g.batch * g.outH * g.outW * g.c * g.dm * g.kh * g.kw;
  const rowIn = g.w * g.c * 4, rowOut = g.outW * g.c * g.dm * 4;
  const bands = g.batch === 1
    ? outputRowBands(ctx.kernels, flops, g.outH, g.h, g.kh, g.sh, g.dh, g.padTop)
    : null;
  if (bands) {
    runScratchJobs(ctx, bands, ({ out0, outRows, input }, scratchOf) => {
      const band = { ...g, h: input.len, outH: outRows, padTop: input.padBefore };
      return job(
        "depthwiseConv2d",
        x + input.start * rowIn,
        kernel,
        bias,
        y + out0 * rowOut,
        scratchOf(ctx.kernels.depthwiseConv2dScratchFloats(band.h, g.w, g.c, g.dm)),
        ...geometryArgs(band),
        act,
        alpha,
      );
    });
    return;
  }
  const scratchFloats = ctx.kernels.depthwiseConv2dScratchFloats(g.h, g.w, g.c, g.dm);
  runScratchJobs(
    ctx,
    parallelRanges(ctx.kernels, g.batch, flops),
    ([b0, nb], scratchOf) =>
      job(
        "depthwiseConv2d",
        x + b0 * g.h * rowIn,
        kernel,
        bias,
        y + b0 * g.outH * rowOut,
        scratchOf(scratchFloats),
        ...geometryArgs(g, nb),
        act,
        alpha,
      ),
  );
}

/**
 * Gradients of the depthwise step from dz (the gradient at its output, before any bias /
 * activation): writes ∂/∂kernel into `dKernel` (skipped when 0) and returns dx, a fresh tensor
 * (null when `needInputGrad` is false).
 */
export function depthwiseBackward(
  kernels: KernelExports,
  heap: WasmHeap,
  g: DepthwiseGeometry,
  x: DeviceTensor,
  dz: number,
  kernel: number,
  dKernel: number,
  needInputGrad: boolean,
): DeviceTensor | null {
  const args = geometryArgs(g);
  const withScratch = <T>(floats: number, run: (scratch: number) => T): T => {
    const scratch = floats > 0 ? heap.alloc(floats * 4) : 0;
    try {
      return run(scratch);
    } finally {
      if (scratch) heap.free(scratch);
    }
  };
  if (dKernel) {
    withScratch(
      kernels.depthwiseConv2dScratchFloats(g.h, g.w, g.c, g.dm),
      (scratch) =>
        kernels.depthwiseConv2dBackwardFilter(x.ptr, dz, dKernel, 0, scratch, 0, ...args),
    );
  }
  if (!needInputGrad) return null;
  const dx: DeviceTensor = {
    ptr: heap.alloc(sizeOf(x.shape) * 4),
    shape: [...x.shape],
    dtype: "float32",
  };
  withScratch(
    kernels.depthwiseConv2dBackwardInputScratchFloats(g.h, g.w, g.c, g.dm, g.kh, g.kw, g.sh, g.sw),
    (scratch) => kernels.depthwiseConv2dBackwardInput(dz, kernel, dx.ptr, scratch, ...args),
  );
  return dx;
}

/**
 * Keras `DepthwiseConv2D` (NHWC): each input channel convolved with its own `depth_multiplier`
 * filters, output channel `c · depth_multiplier + m`. Weights `depthwise_kernel (kh, kw, in,
 * depth_multiplier)` and `bias (in · depth_multiplier)`; strides, dilation, `valid`/`same`
 * padding, fused bias + activation.
 */
export class DepthwiseConv2D extends DepthwiseWindowLayer {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("DepthwiseConv2D", config, options);
  }

  computeOutputShape(inputShape: Shape): Shape {
    const [outH, outW] = this.windowOutput(inputShape);
    return [outH, outW, (inputShape[2] as number) * this.depthMultiplier];
  }

  override weightNames(): string[] {
    return this.useBias ? ["depthwise_kernel", "bias"] : ["depthwise_kernel"];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const inC = inputShape[2] as number;
    const specs = [{
      name: "depthwise_kernel",
      shape: [...this.kernelSize, inC, this.depthMultiplier],
    }];
    if (this.useBias) specs.push({ name: "bias", shape: [inC * this.depthMultiplier] });
    return specs;
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    return this.convolve(x, ctx, true);
  }

  /**
   * The convolution plus bias, with the activation (`withActivation`) or without (the
   * pre-activation z training keeps).
   */
  convolve(x: DeviceTensor, ctx: CallContext, withActivation: boolean): DeviceTensor {
    const g = this.geometry(x.shape);
    const y = this.allocOutput(ctx, [g.batch, g.outH, g.outW, g.c * g.dm]);
    const [act, alpha] = withActivation ? this.fusedActivation() : [0, 0];
    const w = this.deviceWeights();
    depthwiseForward(ctx, g, x.ptr, w[0], this.useBias ? w[1] : 0, y.ptr, act, alpha);
    if (withActivation && this.activation.kind !== "elementwise") {
      applyActivation(ctx, y, this.activation);
    }
    return y;
  }
}

/**
 * DepthwiseConv2D in training. Forward: the fused inference call when act' can be read off the
 * output; otherwise the pre-activation z is kept and the activation applied to a copy.
 * Backward: dz = dy·act'(z); db = Σ dz; dW and dx by the depthwise backward kernels.
 */
const DEPTHWISE_CONV2D_TRAINING: LayerTraining<DepthwiseConv2D> = {
  forward(layer, x, mask, ctx: TrainContext) {
    if (derivativeFromOutput(layer.activation)) return layer.call(x, mask, ctx);
    const z = layer.convolve(x, ctx, false);
    ctx.keep(z.ptr);
    ctx.tape.set(layer, z.ptr);
    const n = sizeOf(z.shape);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...z.shape], dtype: "float32" };
    ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(z.ptr, n));
    applyActivation(ctx, y, layer.activation);
    return y;
  },

  backward(layer, a) {
    const { ctx, x, y } = a;
    const z = (ctx.tape.get(layer) as number | undefined) ?? y.ptr;
    const dz = a.dyIsPreActivation
      ? a.dy.ptr
      : activationBackward(ctx, layer.activation, { ...y, ptr: z }, y, a.dy).ptr;
    const g = layer.geometry(x.shape);
    const outC = g.c * g.dm;
    if (layer.useBias && a.grads[1]) {
      ctx.kernels.columnSums(dz, a.grads[1], g.batch * g.outH * g.outW, outC, 0);
    }
    return depthwiseBackward(
      ctx.kernels,
      ctx.heap,
      g,
      x,
      dz,
      a.weights[0],
      a.grads[0] ?? 0,
      a.needInputGrad,
    );
  },

  outputActivation: (layer) => activationOutputKind(layer.activation),
};

/**
 * The depthwise step in ONNX: a Conv with one group per input channel; Keras's kernel
 * `(kh, kw, c, m)` is ONNX's `(c·m, 1, kh, kw)` (output channel c·m + m', as Keras orders them).
 */
export function emitDepthwiseOnnx(
  layer: DepthwiseWindowLayer,
  ctx: OnnxLayerContext,
  kernel: { data: Float32Array; shape: readonly number[] },
  bias: Float32Array | undefined,
  input: string,
  output: string,
): void {
  const [kh, kw, c, m] = kernel.shape;
  emitConv(ctx, {
    input,
    output,
    rank: 4,
    weight: convKernelToOnnx(kernel.data, [kh, kw, 1, c * m]),
    weightDims: [c * m, 1, kh, kw],
    bias,
    strides: layer.strides,
    dilations: layer.dilationRate,
    padding: layer.padding,
    group: c,
  });
}

/** DepthwiseConv2D in ONNX: the grouped Conv, then the activation. */
function depthwiseConv2dOnnx(layer: DepthwiseConv2D, ctx: OnnxLayerContext): void {
  const [kernel, bias] = layer.getWeights();
  emitWithActivation(ctx, layer.activation, (output) =>
    emitDepthwiseOnnx(
      layer,
      ctx,
      kernel,
      layer.useBias ? bias.data : undefined,
      ctx.inputs[0],
      output,
    ));
}

/** The `DepthwiseConv2D` layer class (see `layer_class.ts`). */
export const DEPTHWISE_CONV2D: LayerClass<DepthwiseConv2D> = defineLayer({
  className: "DepthwiseConv2D",
  create: (config, options) => new DepthwiseConv2D(config, options),
  training: DEPTHWISE_CONV2D_TRAINING,
  onnx: depthwiseConv2dOnnx,
});
