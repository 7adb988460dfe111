/**
 * Keras `Conv1D`.
 *
 * @module
 */
import { InputShapeError, LayerConfigError } from "../errors.ts";
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { formatShape, type Shape } from "../tensor.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { CONV2D, type Conv2D } from "./conv2d.ts";
import {
  parseWindow,
  requireSequenceChannelsLast,
  SEQUENCE_AS_IMAGE_TRAINING,
  SequenceAsImage,
} from "./sequence_as_image.ts";
import {
  convKernelToOnnx,
  emitConv,
  emitWithActivation,
  type OnnxLayerContext,
} from "../onnx_emit.ts";

/**
 * Keras `Conv1D` on `[batch, time, channels]`: kernel `(k, in / groups, filters)`, bias
 * `(filters)`, padding `valid`, `same` or `causal` (dilation·(k − 1) zero steps on the left only,
 * then `valid`, so output t sees inputs ≤ t), strides or dilation, `groups`, fused activation.
 * Runs as Conv2D with a `(1, k)` window on `[batch, 1, time, channels]` (same kernels, same
 * backward). Masks end here, as in Keras.
 */
export class Conv1D extends SequenceAsImage<Conv2D> {
  /** Keras `padding` as configured (`causal` runs `valid` behind a left zero prefix). */
  readonly padding: "valid" | "same" | "causal";
  /** Taps of the window (Keras `kernel_size`). */
  readonly kernelSize: number;
  /** Keras `strides`. */
  readonly stride: number;
  /** Keras `dilation_rate` (not above 1 together with a stride above 1, as Keras). */
  readonly dilation: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    const name = typeof config.name === "string" ? config.name : "conv1d";
    requireSequenceChannelsLast(config, name);
    const k = parseWindow(config, "kernel_size", name);
    const s = parseWindow(config, "strides", name, 1);
    const d = parseWindow(config, "dilation_rate", name, 1);
    if (s > 1 && d > 1) {
      throw new LayerConfigError(
        name,
        "dilation_rate",
        `expected 1 when strides > 1 (Keras refuses both above 1), got strides ${s} and ` +
          `dilation_rate ${d}`,
      );
    }
    const raw = typeof config.padding === "string" ? config.padding.toLowerCase() : config.padding;
    const padding = raw ?? "valid";
    if (padding !== "valid" && padding !== "same" && padding !== "causal") {
      throw new LayerConfigError(
        name,
        "padding",
        `expected one of valid | same | causal, got ${JSON.stringify(config.padding)}`,
      );
    }
    super("Conv1D", config, options, CONV2D, {
      filters: config.filters,
      kernel_size: [1, k],
      strides: [1, s],
      dilation_rate: [1, d],
      padding: padding === "causal" ? "valid" : padding,
      groups: config.groups ?? 1,
      activation: config.activation,
      use_bias: config.use_bias,
      data_format: "channels_last",
    }, padding === "causal" ? d * (k - 1) : 0);
    this.padding = padding;
    this.kernelSize = k;
    this.stride = s;
    this.dilation = d;
  }

  override computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 2, "(time, channels) ");
    const span = this.dilation * (this.kernelSize - 1) + 1;
    const t = inputShape[0];
    if (this.padding === "valid" && t !== null && t < span) {
      throw new InputShapeError(
        this.name,
        `at least ${span} steps (kernel ${this.kernelSize}, dilation ${this.dilation})`,
        formatShape(inputShape),
      );
    }
    return super.computeOutputShape(inputShape);
  }

  /** The inner `(1, k, in, filters)` kernel is Keras's `(k, in, filters)`. */
  protected override toOuterShape(innerShape: readonly number[]): number[] {
    return innerShape.length === 4 ? innerShape.slice(1) : [...innerShape];
  }

  protected override toInnerShape(outerShape: readonly number[]): number[] {
    return outerShape.length === 3 ? [1, ...outerShape] : [...outerShape];
  }
}

/** Conv1D in ONNX: a 1-D Conv on `[N, C, T]` (causal: explicit left pads), then activation. */
function conv1dOnnx(layer: Conv1D, ctx: OnnxLayerContext): void {
  const [kernel, bias] = layer.getWeights();
  const [k, cin, filters] = kernel.shape;
  emitWithActivation(ctx, layer.inner.activation, (output) =>
    emitConv(ctx, {
      input: ctx.inputs[0],
      output,
      rank: 3,
      weight: convKernelToOnnx(kernel.data, kernel.shape),
      weightDims: [filters, cin, k],
      bias: layer.inner.useBias ? bias.data : undefined,
      strides: [layer.stride],
      dilations: [layer.dilation],
      padding: layer.padding,
      pads: layer.padding === "causal" ? [layer.leftPad, 0] : undefined,
      group: layer.inner.groups,
    }));
}

/** The `Conv1D` layer class (see `layer_class.ts`). */
export const CONV1D: LayerClass<Conv1D> = defineLayer({
  className: "Conv1D",
  aliases: ["Convolution1D"],
  create: (config, options) => new Conv1D(config, options),
  training: SEQUENCE_AS_IMAGE_TRAINING as LayerClass<Conv1D>["training"],
  onnx: conv1dOnnx,
});
