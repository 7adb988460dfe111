import { type Activation, ActivationCode, resolveActivation } from "../activations.ts";
import { refuseStridedDilation } from "../conv_geometry.ts";
import { transposeAxisGeometry, transposeAxisOutput } from "../conv_transpose_geometry.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
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
import { job, parallelRanges, runJobs } from "../wasm/threads.ts";
import { activationBackward, activationOutputKind } from "./activation_backward.ts";
import { channelsFirst, emitWithActivation, type OnnxLayerContext } from "../onnx_emit.ts";

/** Floats of tile scratch per forward call beyond the kernel's minimum (256 KiB). */
const SCRATCH_FLOATS = 1 << 16;
/** Floats of scratch per backward call (1 MiB): im2col tiles of dZ and their transpose. */
const BACKWARD_SCRATCH_FLOATS = 1 << 18;

/** Resolved geometry of one call: per axis the output length and the top/left crop. */
interface TransposeGeometry {
  outH: number;
  outW: number;
  padTop: number;
  padLeft: number;
}

/**
 * Keras `Conv2DTranspose` (NHWC): kernel `(kh, kw, filters, in)` — output channels before input
 * channels — bias `(filters)`, `valid`/`same` padding, strides, dilation, `output_padding`, fused
 * bias + activation. Output sizes follow Keras's `compute_conv_transpose_output_shape`
 * (`conv_transpose_geometry.ts`). As Keras, `output_padding` must be below the stride and strides
 * > 1 do not combine with dilation > 1; `channels_first` is refused by name.
 */
export class Conv2DTranspose extends ConvWindowLayer {
  readonly filters: number;
  /** Per axis, or null when the config has none (Keras then infers the output length). */
  readonly outputPadding: [number, number] | null;
  readonly useBias: boolean;
  readonly activation: Activation;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Conv2DTranspose", config, options);
    this.filters = this.positiveInt("filters");
    this.outputPadding = this.#parseOutputPadding(config.output_padding);
    refuseStridedDilation(this.name, this.strides, this.dilationRate);
    this.useBias = this.bool("use_bias", true);
    this.activation = resolveActivation(config.activation, this.name, options.kerasVersion);
  }

  /** `output_padding`: null, an integer or two, each ≥ 0 and below its axis's stride. */
  #parseOutputPadding(value: unknown): [number, number] | null {
    if (value === undefined || value === null) return null;
    const pair = typeof value === "number" ? [value, value] : value;
    const ok = Array.isArray(pair) && pair.length === 2 &&
      pair.every((v, i) => Number.isInteger(v) && v >= 0 && v < this.strides[i]);
    if (!ok) {
      throw new LayerConfigError(
        this.name,
        "output_padding",
        `expected null or 1–2 integers ≥ 0 and below strides ${JSON.stringify(this.strides)}, got ${
          JSON.stringify(value)
        }`,
      );
    }
    return pair as [number, number];
  }

  /** Output lengths and crops for an input of `h × w`. */
  geometry(h: number, w: number): TransposeGeometry {
    const op = this.outputPadding;
    const gy = transposeAxisGeometry(
      h,
      this.kernelSize[0],
      this.strides[0],
      this.dilationRate[0],
      this.padding,
      op ? op[0] : null,
    );
    const gx = transposeAxisGeometry(
      w,
      this.kernelSize[1],
      this.strides[1],
      this.dilationRate[1],
      this.padding,
      op ? op[1] : null,
    );
    return { outH: gy.out, outW: gx.out, padTop: gy.padBefore, padLeft: gx.padBefore };
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    if (inputShape[2] === null) {
      throw new InputShapeError(this.name, "a known channel dimension", formatShape(inputShape));
    }
    if (inputShape[0] === 0 || inputShape[1] === 0) {
      throw new InputShapeError(this.name, "height and width ≥ 1", formatShape(inputShape));
    }
    const op = this.outputPadding;
    const axis = (i: number) =>
      transposeAxisOutput(
        inputShape[i],
        this.kernelSize[i],
        this.strides[i],
        this.dilationRate[i],
        this.padding,
        op ? op[i] : null,
      );
    return [axis(0), axis(1), this.filters];
  }

  override weightNames(): string[] {
    return this.useBias ? ["kernel", "bias"] : ["kernel"];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const inC = inputShape[2] as number;
    const specs = [{ name: "kernel", shape: [...this.kernelSize, this.filters, inC] }];
    if (this.useBias) specs.push({ name: "bias", shape: [this.filters] });
    return specs;
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const act = this.activation;
    const fused = act.kind === "elementwise";
    const y = this.transpose(ctx, x, this.weightPtrs, fused ? act.code : 0, fused ? act.alpha : 0);
    if (!fused) applyActivation(ctx, y, act);
    return y;
  }

  /**
   * `act(bias + x ⊛ᵀ kernel)` into a new tensor (`code` 0: no activation), one range of images
   * per kernel thread when they are on, each with its own scratch.
   */
  transpose(
    ctx: CallContext,
    x: DeviceTensor,
    weights: readonly number[],
    code: number,
    alpha: number,
  ): DeviceTensor {
    const [batch, h, w, c] = x.shape;
    const [kh, kw] = this.kernelSize;
    const g = this.geometry(h, w);
    const y = this.allocOutput(ctx, [batch, g.outH, g.outW, this.filters]);
    const k = kh * kw * this.filters;
    const flops = 2 * batch * h * w * c * k;
    const ranges = parallelRanges(ctx.kernels, batch, flops);
    const scratches: number[] = [];
    try {
      const jobs = ranges.map(([b0, nb]) => {
        const pixels = nb * h * w;
        const rows = Math.min(pixels, Math.max(4, Math.floor(SCRATCH_FLOATS / (2 * k))));
        const scratchFloats = ctx.kernels.conv2dTransposeMinScratch(kh, kw, c, this.filters) +
          2 * k * rows;
        const scratch = ctx.heap.alloc(scratchFloats * 4);
        scratches.push(scratch);
        return job(
          "conv2dTranspose",
          x.ptr + b0 * h * w * c * 4,
          weights[0],
          this.useBias ? weights[1] : 0,
          y.ptr + b0 * g.outH * g.outW * this.filters * 4,
          scratch,
          scratchFloats,
          nb,
          h,
          w,
          c,
          g.outH,
          g.outW,
          this.filters,
          kh,
          kw,
          this.strides[0],
          this.strides[1],
          this.dilationRate[0],
          this.dilationRate[1],
          g.padTop,
          g.padLeft,
          code,
          alpha,
        );
      });
      runJobs(ctx.kernels, jobs);
    } finally {
      for (const p of scratches) ctx.heap.free(p);
    }
    return y;
  }
}

// ---- training ----------------------------------------------------------------------------

/** Codes whose derivative the activation backward reads exactly off the output y. */
const DERIVATIVE_FROM_OUTPUT = new Set<number>([
  ActivationCode.Linear,
  ActivationCode.Relu,
  ActivationCode.Relu6,
  ActivationCode.Sigmoid,
  ActivationCode.Tanh,
  ActivationCode.Exponential,
]);

/**
 * Conv2DTranspose in training. Forward: the inference path with its fused activation when the
 * activation's derivative can be read off the output; otherwise without activation, keeping the
 * pre-activation z on the tape. Backward: dZ = dy·act'(z); db = Σ dZ; dx = Conv2D(dZ, kernel)
 * and dW by `conv2dTransposeBackward` (wasm/assembly/conv_transpose.ts).
 */
const CONV2D_TRANSPOSE_TRAINING: LayerTraining<Conv2DTranspose> = {
  forward(layer, x, mask, ctx: TrainContext) {
    const act = layer.activation;
    if (act.kind === "elementwise" && DERIVATIVE_FROM_OUTPUT.has(act.code)) {
      return layer.call(x, mask, ctx);
    }
    const z = layer.transpose(ctx, x, layer.deviceWeights(), 0, 0);
    ctx.keep(z.ptr);
    ctx.tape.set(layer, z.ptr);
    const n = sizeOf(z.shape);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...z.shape], dtype: "float32" };
    ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(z.ptr, n));
    applyActivation(ctx, y, act);
    return y;
  },

  backward(layer, a) {
    const { ctx, x, y } = a;
    const { kernels, heap } = ctx;
    const z = (ctx.tape.get(layer) as number | undefined) ?? y.ptr;
    const dz = a.dyIsPreActivation
      ? a.dy.ptr
      : activationBackward(ctx, layer.activation, { ...y, ptr: z }, y, a.dy).ptr;
    const [batch, h, w, c] = x.shape;
    const [kh, kw] = layer.kernelSize;
    const g = layer.geometry(h, w);
    const filters = layer.filters;
    if (layer.useBias && a.grads[1]) {
      kernels.columnSums(dz, a.grads[1], batch * g.outH * g.outW, filters, 0);
    }
    const dW = a.grads[0] ?? 0;
    if (!dW && !a.needInputGrad) return null;
    const dx: DeviceTensor | null = a.needInputGrad
      ? { ptr: heap.alloc(sizeOf(x.shape) * 4), shape: [...x.shape], dtype: "float32" }
      : null;
    const scratchFloats = Math.max(
      kernels.conv2dTransposeBackwardMinScratch(kh, kw, filters),
      BACKWARD_SCRATCH_FLOATS,
    );
    const scratch = heap.alloc(scratchFloats * 4);
    try {
      kernels.conv2dTransposeBackward(
        x.ptr,
        dz,
        a.weights[0],
        dx ? dx.ptr : 0,
        dW,
        scratch,
        scratchFloats,
        batch,
        h,
        w,
        c,
        g.outH,
        g.outW,
        filters,
        kh,
        kw,
        layer.strides[0],
        layer.strides[1],
        layer.dilationRate[0],
        layer.dilationRate[1],
        g.padTop,
        g.padLeft,
      );
    } finally {
      heap.free(scratch);
    }
    return dx;
  },

  outputActivation: (layer) => activationOutputKind(layer.activation),
};

/**
 * Conv2DTranspose in ONNX: ConvTranspose between channels-last Transposes, Keras's kernel
 * `(kh, kw, filters, in)` as ONNX's `(in, filters, kh, kw)`, and explicit pads (plus
 * `output_padding` where the output reaches past the full scatter) from the layer's own geometry.
 */
function conv2dTransposeOnnx(layer: Conv2DTranspose, ctx: OnnxLayerContext): void {
  const [h, w] = ctx.inputShapes[0];
  if (h === null || w === null) ctx.refuse("an input of unknown height or width");
  const [kernel, bias] = layer.getWeights();
  const [kh, kw, filters, cin] = kernel.shape;
  const weight = new Float32Array(kernel.data.length);
  for (let s = 0; s < kh * kw; s++) {
    for (let f = 0; f < filters; f++) {
      for (let c = 0; c < cin; c++) {
        weight[(c * filters + f) * kh * kw + s] = kernel.data[(s * filters + f) * cin + c];
      }
    }
  }
  const g = layer.geometry(h, w);
  const axes = [[h, g.outH, g.padTop, 0], [w, g.outW, g.padLeft, 1]] as const;
  const begin: number[] = [], end: number[] = [], outputPadding: number[] = [];
  for (const [len, out, before, a] of axes) {
    const full = (len - 1) * layer.strides[a] + layer.dilationRate[a] * (layer.kernelSize[a] - 1) +
      1;
    const rest = full - before - out;
    begin.push(before);
    end.push(Math.max(rest, 0));
    outputPadding.push(Math.max(-rest, 0));
  }
  const inputs = [ctx.initializer("kernel", { float32: weight }, [cin, filters, kh, kw])];
  if (layer.useBias) inputs.push(ctx.initializer("bias", { float32: bias.data }, [filters]));
  emitWithActivation(
    ctx,
    layer.activation,
    (output) =>
      channelsFirst(
        ctx,
        ctx.inputs[0],
        output,
        4,
        (x, y) =>
          ctx.node("ConvTranspose", [x, ...inputs], [y], {
            kernel_shape: { ints: [kh, kw] },
            strides: { ints: layer.strides },
            dilations: { ints: layer.dilationRate },
            pads: { ints: [...begin, ...end] },
            output_padding: { ints: outputPadding },
          }),
      ),
  );
}

/** The `Conv2DTranspose` layer class (see `layer_class.ts`); Keras 2 also calls it Deconv2D. */
export const CONV2D_TRANSPOSE: LayerClass<Conv2DTranspose> = defineLayer({
  className: "Conv2DTranspose",
  aliases: ["Convolution2DTranspose", "Deconvolution2D", "Deconv2D"],
  create: (config, options) => new Conv2DTranspose(config, options),
  training: CONV2D_TRANSPOSE_TRAINING,
  onnx: conv2dTransposeOnnx,
});
