/**
 * Keras `SeparableConv2D` (NHWC): a depthwise convolution (no bias, no activation) on the SIMD
 * depthwise kernel, then a 1×1 convolution as a GEMM with the bias and activation fused.
 *
 * @module
 */
import {
  applyActivation,
  type CallContext,
  type LayerBuildOptions,
  type LayerConfig,
} from "../layer.ts";
import type { WeightSpec } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { job, parallelRanges, runJobs } from "../wasm/threads.ts";
import { activationBackward, activationOutputKind } from "./activation_backward.ts";
import {
  depthwiseBackward,
  depthwiseForward,
  DepthwiseWindowLayer,
  derivativeFromOutput,
  emitDepthwiseOnnx,
} from "./depthwise_conv2d.ts";
import {
  convKernelToOnnx,
  emitConv,
  emitWithActivation,
  type OnnxLayerContext,
} from "../onnx_emit.ts";

/**
 * Keras `SeparableConv2D`: weights `depthwise_kernel (kh, kw, in, depth_multiplier)`,
 * `pointwise_kernel (1, 1, in · depth_multiplier, filters)` and `bias (filters)`; y =
 * act(pointwise(depthwise(x)) + bias). Strides, dilation and padding apply to the depthwise step.
 */
export class SeparableConv2D extends DepthwiseWindowLayer {
  readonly filters: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("SeparableConv2D", config, options);
    this.filters = this.positiveInt("filters");
  }

  computeOutputShape(inputShape: Shape): Shape {
    const [outH, outW] = this.windowOutput(inputShape);
    return [outH, outW, this.filters];
  }

  override weightNames(): string[] {
    const names = ["depthwise_kernel", "pointwise_kernel"];
    return this.useBias ? [...names, "bias"] : names;
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const inC = inputShape[2] as number;
    const mid = inC * this.depthMultiplier;
    const specs = [
      { name: "depthwise_kernel", shape: [...this.kernelSize, inC, this.depthMultiplier] },
      { name: "pointwise_kernel", shape: [1, 1, mid, this.filters] },
    ];
    if (this.useBias) specs.push({ name: "bias", shape: [this.filters] });
    return specs;
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const t = this.depthwise(x, ctx);
    try {
      return this.pointwise(t, ctx, true);
    } finally {
      ctx.heap.free(t.ptr);
    }
  }

  /** The depthwise step alone: [batch, outH, outW, in · depth_multiplier]. */
  depthwise(x: DeviceTensor, ctx: CallContext): DeviceTensor {
    const g = this.geometry(x.shape);
    const t = this.allocOutput(ctx, [g.batch, g.outH, g.outW, g.c * g.dm]);
    depthwiseForward(ctx, g, x.ptr, this.deviceWeights()[0], 0, t.ptr, 0, 0);
    return t;
  }

  /**
   * The 1×1 step on the depthwise output t plus bias, with the activation (`withActivation`) or
   * without (the pre-activation z training keeps). With kernel threads on, a large product splits
   * into one range of pixels per thread.
   */
  pointwise(t: DeviceTensor, ctx: CallContext, withActivation: boolean): DeviceTensor {
    const [batch, outH, outW, mid] = t.shape;
    const rows = batch * outH * outW;
    const y = this.allocOutput(ctx, [batch, outH, outW, this.filters]);
    const [act, alpha] = withActivation ? this.fusedActivation() : [0, 0];
    const w = this.deviceWeights();
    const bias = this.useBias ? w[2] : 0;
    const ranges = parallelRanges(ctx.kernels, rows, 2 * rows * mid * this.filters);
    runJobs(
      ctx.kernels,
      ranges.map(([r0, n]) =>
        job(
          "gemm",
          t.ptr + r0 * mid * 4,
          w[1],
          bias,
          y.ptr + r0 * this.filters * 4,
          n,
          this.filters,
          mid,
          act,
          alpha,
        )
      ),
    );
    if (withActivation && this.activation.kind !== "elementwise") {
      applyActivation(ctx, y, this.activation);
    }
    return y;
  }
}

/** What the training forward keeps for the backward. */
interface SeparableTape {
  /** The depthwise output (the 1×1 step's input). */
  t: number;
  /** The pre-activation, when the activation's derivative needs it. */
  z?: number;
}

/**
 * SeparableConv2D in training. Forward: the depthwise output t is kept; the 1×1 step fuses the
 * activation when act' can be read off the output, else keeps z. Backward: dz = dy·act'(z);
 * db = Σ dz; dPointwise = tᵀ·dz; dt = dz·Pᵀ; then the depthwise backward kernels give
 * dDepthwise and dx from dt.
 */
const SEPARABLE_CONV2D_TRAINING: LayerTraining<SeparableConv2D> = {
  forward(layer, x, _mask, ctx: TrainContext) {
    const t = layer.depthwise(x, ctx);
    ctx.keep(t.ptr);
    const tape: SeparableTape = { t: t.ptr };
    ctx.tape.set(layer, tape);
    if (derivativeFromOutput(layer.activation)) return layer.pointwise(t, ctx, true);
    const z = layer.pointwise(t, ctx, false);
    ctx.keep(z.ptr);
    tape.z = z.ptr;
    const n = sizeOf(z.shape);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...z.shape], dtype: "float32" };
    ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(z.ptr, n));
    applyActivation(ctx, y, layer.activation);
    return y;
  },

  backward(layer, a) {
    const { ctx, x, y } = a;
    const { kernels, heap } = ctx;
    const tape = ctx.tape.get(layer) as SeparableTape;
    const dz = a.dyIsPreActivation
      ? a.dy.ptr
      : activationBackward(ctx, layer.activation, { ...y, ptr: tape.z ?? y.ptr }, y, a.dy).ptr;
    const g = layer.geometry(x.shape);
    const mid = g.c * g.dm;
    const filters = layer.filters;
    const rows = g.batch * g.outH * g.outW;
    if (layer.useBias && a.grads[2]) kernels.columnSums(dz, a.grads[2], rows, filters, 0);
    if (a.grads[1]) {
      kernels.gemmTN(tape.t, mid, dz, filters, a.grads[1], filters, mid, filters, rows, 0);
    }
    if (!a.grads[0] && !a.needInputGrad) return null;
    const dt = heap.alloc(rows * mid * 4);
    try {
      kernels.gemmNT(dz, filters, a.weights[1], filters, dt, mid, rows, mid, filters, 0);
      return depthwiseBackward(
        kernels,
        heap,
        g,
        x,
        dt,
        a.weights[0],
        a.grads[0] ?? 0,
        a.needInputGrad,
      );
    } finally {
      heap.free(dt);
    }
  },

  outputActivation: (layer) => activationOutputKind(layer.activation),
};

/** SeparableConv2D in ONNX: the depthwise Conv, a 1×1 Conv with the bias, the activation. */
function separableConv2dOnnx(layer: SeparableConv2D, ctx: OnnxLayerContext): void {
  const [depthwise, pointwise, bias] = layer.getWeights();
  const mid = ctx.fresh("depthwise");
  emitDepthwiseOnnx(layer, ctx, depthwise, undefined, ctx.inputs[0], mid);
  const [, , cin, filters] = pointwise.shape;
  emitWithActivation(ctx, layer.activation, (output) =>
    emitConv(ctx, {
      input: mid,
      output,
      rank: 4,
      weight: convKernelToOnnx(pointwise.data, pointwise.shape),
      weightDims: [filters, cin, 1, 1],
      bias: layer.useBias ? bias.data : undefined,
      strides: [1, 1],
      dilations: [1, 1],
      padding: "valid",
      group: 1,
    }));
}

/** The `SeparableConv2D` layer class (see `layer_class.ts`). */
export const SEPARABLE_CONV2D: LayerClass<SeparableConv2D> = defineLayer({
  className: "SeparableConv2D",
  aliases: ["SeparableConvolution2D"],
  create: (config, options) => new SeparableConv2D(config, options),
  training: SEPARABLE_CONV2D_TRAINING,
  onnx: separableConv2dOnnx,
});
