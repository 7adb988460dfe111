import { ActivationCode } from "../activations.ts";
import { activationBackward } from "./activation_backward.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { type Activation, resolveActivation } from "../activations.ts";
import {
  axisGeometry,
  axisOutput,
  type Padding,
  parsePadding,
  requireChannelsLast,
} from "../conv_geometry.ts";
import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import {
  applyActivation,
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { type KernelJob, parallelRanges, runJobs } from "../wasm/threads.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import {
  type ConvAlgorithm,
  winogradChunkTiles,
  WinogradDeviceData,
  winogradPlan,
} from "../winograd.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Floats of im2col scratch per call (256 KiB): tiles of output pixels stay cache-resident. */
const SCRATCH_FLOATS = 1 << 16;

/**
 * Keras `Conv2D` (NHWC): kernel `(kh, kw, in, out)`, bias `(out)`, `valid`/`same` padding,
 * strides, dilation, fused bias + activation. `groups` other than 1 and `channels_first` are
 * refused by name.
 */
export class Conv2D extends Layer {
  readonly filters: number;
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly dilationRate: number[];
  readonly padding: Padding;
  readonly useBias: boolean;
  readonly activation: Activation;
  /** Which convolution inference runs (see {@link ConvAlgorithm}). */
  readonly algorithm: ConvAlgorithm;
  #winograd: WinogradDeviceData | null = null;
  /** The transformed filters lag the kernel (an optimizer changed it in place). */
  #winogradStale = false;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Conv2D", config, options);
    requireChannelsLast(config, "Conv2D", this.name);
    const groups = config.groups ?? 1;
    if (groups !== 1) {
      throw new UnsupportedLayerError(
        "Conv2D",
        this.name,
        `groups ${JSON.stringify(groups)}; only groups=1 is supported`,
      );
    }
    this.filters = this.num("filters", undefined, true);
    if (this.filters < 1) {
      throw new LayerConfigError(this.name, "filters", `expected ≥ 1, got ${this.filters}`);
    }
    this.kernelSize = this.intTuple("kernel_size", 2);
    this.strides = this.intTuple("strides", 2, 1);
    this.dilationRate = this.intTuple("dilation_rate", 2, 1);
    this.padding = parsePadding(config.padding, this.name);
    this.useBias = this.bool("use_bias", true);
    this.activation = resolveActivation(config.activation, this.name, options.kerasVersion);
    this.algorithm = options.convAlgorithm ?? "auto";
  }

  /** "winograd F(m×m, r×r)" or "direct": the method inference runs for the built shape. */
  get method(): string {
    const p = this.#winograd?.plan;
    return p ? `winograd F(${p.m}×${p.m}, ${p.r}×${p.r})` : "direct";
  }

  protected override afterBuild(heap: WasmHeap): void {
    const c = this.inputShape[2] as number;
    const plan = winogradPlan(
      this.algorithm,
      this.kernelSize,
      this.strides,
      this.dilationRate,
      c,
      this.filters,
    );
    if (!plan) return;
    this.#winograd = new WinogradDeviceData(plan, heap);
    this.#winograd.transformFilters(this.hostWeights[0].data, c, this.filters);
    this.#winogradStale = false;
  }

  override weightsUpdated(): void {
    super.weightsUpdated();
    this.#winogradStale = true;
  }

  protected override releaseWeights(): void {
    this.#winograd?.dispose();
    this.#winograd = null;
    super.releaseWeights();
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    if (inputShape[2] === null) {
      throw new InputShapeError(this.name, "a known channel dimension", formatShape(inputShape));
    }
    const outH = axisOutput(
      inputShape[0],
      this.kernelSize[0],
      this.strides[0],
      this.dilationRate[0],
      this.padding,
    );
    const outW = axisOutput(
      inputShape[1],
      this.kernelSize[1],
      this.strides[1],
      this.dilationRate[1],
      this.padding,
    );
    if (outH === 0 || outW === 0) {
      throw new InputShapeError(
        this.name,
        `height × width that fits the ${this.kernelSize.join("×")} window (dilation ${
          this.dilationRate.join("×")
        }, padding ${this.padding})`,
        formatShape(inputShape),
      );
    }
    return [outH, outW, this.filters];
  }

  override weightNames(): string[] {
    return this.useBias ? ["kernel", "bias"] : ["kernel"];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const inC = inputShape[2] as number;
    const specs = [{ name: "kernel", shape: [...this.kernelSize, inC, this.filters] }];
    if (this.useBias) specs.push({ name: "bias", shape: [this.filters] });
    return specs;
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, h, w, c] = x.shape;
    const [kh, kw] = this.kernelSize;
    const [sh, sw] = this.strides;
    const [dh, dw] = this.dilationRate;
    const gy = axisGeometry(h, kh, sh, dh, this.padding);
    const gx = axisGeometry(w, kw, sw, dw, this.padding);
    if (gy.out === 0 || gx.out === 0) {
      throw new InputShapeError(
        this.name,
        `height × width that fits the ${kh}×${kw} window`,
        `(${x.shape.join(", ")})`,
      );
    }
    const y = this.allocOutput(ctx, [batch, gy.out, gx.out, this.filters]);
    const act = this.activation;
    const fused = act.kind === "elementwise";
    if (this.#winograd && !ctx.training && !ctx.tape) {
      this.#callWinograd(x, y, ctx, this.#winograd, gy.padBefore, gx.padBefore);
      if (!fused) applyActivation(ctx, y, act);
      return y;
    }
    // The kernel picks its method by shape (1×1 gemm, implicit GEMM over a zero-padded copy of
    // each image, or im2col tiles) and says how much scratch it wants for it. With kernel threads
    // on, large batches split into one range of images per thread, each with its own scratch.
    const k = kh * kw * c;
    this.#runImageRanges(ctx, x, y, (b0, nb, scratchOf) => {
      const pixels = nb * gy.out * gx.out;
      const im2colFloats = k * Math.min(pixels, Math.max(6, Math.floor(SCRATCH_FLOATS / k)));
      const scratchFloats = ctx.kernels.conv2dScratchFloats(
        nb,
        h,
        w,
        c,
        gy.out,
        gx.out,
        kh,
        kw,
        sh,
        sw,
        dh,
        dw,
        gy.padBefore,
        gx.padBefore,
        im2colFloats,
      );
      return {
        fn: "conv2d",
        args: [
          x.ptr + b0 * h * w * c * 4,
          this.weightPtrs[0],
          this.useBias ? this.weightPtrs[1] : 0,
          y.ptr + b0 * gy.out * gx.out * this.filters * 4,
          scratchOf(scratchFloats),
          scratchFloats,
          nb,
          h,
          w,
          c,
          gy.out,
          gx.out,
          this.filters,
          kh,
          kw,
          sh,
          sw,
          dh,
          dw,
          gy.padBefore,
          gx.padBefore,
          ...this.#fusedActivation(),
        ],
      };
    });
    if (!fused) applyActivation(ctx, y, act);
    return y;
  }

  /**
   * Inference by Winograd (padding as `call` resolved it): one range of images per kernel
   * thread, each with its own scratch.
   */
  #callWinograd(
    x: DeviceTensor,
    y: DeviceTensor,
    ctx: CallContext,
    wg: WinogradDeviceData,
    padTop: number,
    padLeft: number,
  ): void {
    const [, h, w, c] = x.shape;
    const [, outH, outW, outC] = y.shape;
    if (this.#winogradStale) {
      wg.transformFilters(
        ctx.heap.f32(this.weightPtrs[0], this.hostWeights[0].data.length),
        c,
        outC,
      );
      this.#winogradStale = false;
    }
    const { m } = wg.plan;
    const tilesPerImage = Math.ceil(outH / m) * Math.ceil(outW / m);
    this.#runImageRanges(ctx, x, y, (b0, nb, scratchOf) => {
      const chunk = winogradChunkTiles(nb * tilesPerImage, c, outC);
      const scratchFloats = ctx.kernels.conv2dWinogradScratchFloats(chunk, c, outC);
      return {
        fn: "conv2dWinograd",
        args: [
          x.ptr + b0 * h * w * c * 4,
          wg.u,
          this.useBias ? this.weightPtrs[1] : 0,
          y.ptr + b0 * outH * outW * outC * 4,
          scratchOf(scratchFloats),
          scratchFloats,
          nb,
          h,
          w,
          c,
          outH,
          outW,
          outC,
          m,
          padTop,
          padLeft,
          ...this.#fusedActivation(),
        ],
      };
    });
  }

  /** Activation code and alpha the kernels fuse into their store (0, 0 when applied after). */
  #fusedActivation(): [number, number] {
    const act = this.activation;
    return act.kind === "elementwise" ? [act.code, act.alpha] : [0, 0];
  }

  /**
   * Runs one kernel job per range of images of x → y (one range per kernel thread when they are
   * on and the conv is large enough), each with its own scratch, freed afterwards.
   */
  #runImageRanges(
    ctx: CallContext,
    x: DeviceTensor,
    y: DeviceTensor,
    job: (b0: number, nb: number, scratchOf: (floats: number) => number) => KernelJob,
  ): void {
    const [batch, , , c] = x.shape;
    const [, outH, outW, outC] = y.shape;
    const [kh, kw] = this.kernelSize;
    const flops = 2 * batch * outH * outW * outC * kh * kw * c;
    const scratches: number[] = [];
    const scratchOf = (floats: number) => {
      const p = floats > 0 ? ctx.heap.alloc(floats * 4) : 0;
      if (p) scratches.push(p);
      return p;
    };
    try {
      const ranges = parallelRanges(ctx.kernels, batch, flops);
      runJobs(ctx.kernels, ranges.map(([b0, nb]) => job(b0, nb, scratchOf)));
    } finally {
      for (const p of scratches) ctx.heap.free(p);
    }
  }
}

// ---- training ----------------------------------------------------------------------------

/**
 * Floats of scratch per backward call (1 MiB): tiles of im2col rows and their transpose, and the
 * padded dZ image of the stride-1 input gradient.
 */
const BACKWARD_SCRATCH_FLOATS = 1 << 18;
/** Floats of im2col scratch for the unfused forward (as the inference layer uses). */
const FORWARD_SCRATCH_FLOATS = 1 << 16;

/** Codes whose derivative the kernel computes exactly from the output y in place of z. */
const DERIVATIVE_FROM_OUTPUT = new Set<number>([
  ActivationCode.Linear,
  ActivationCode.Relu,
  ActivationCode.Relu6,
  ActivationCode.Sigmoid,
  ActivationCode.Tanh,
  ActivationCode.Exponential,
]);

const fusedFromOutput = (act: Activation) =>
  act.kind === "elementwise" && DERIVATIVE_FROM_OUTPUT.has(act.code);

/** The layer's window geometry for input `x`. */
function trainGeometry(layer: Conv2D, x: DeviceTensor) {
  const [batch, h, w, c] = x.shape;
  const [kh, kw] = layer.kernelSize;
  const [sh, sw] = layer.strides;
  const [dh, dw] = layer.dilationRate;
  const gy = axisGeometry(h, kh, sh, dh, layer.padding);
  const gx = axisGeometry(w, kw, sw, dw, layer.padding);
  return { batch, h, w, c, kh, kw, sh, sw, dh, dw, gy, gx };
}

/** The convolution plus bias without activation (the pre-activation z). */
function convolveLinear(layer: Conv2D, x: DeviceTensor, ctx: TrainContext): DeviceTensor {
  const g = trainGeometry(layer, x);
  const shape = [g.batch, g.gy.out, g.gx.out, layer.filters];
  const z: DeviceTensor = { ptr: ctx.heap.alloc(sizeOf(shape) * 4), shape, dtype: "float32" };
  const k = g.kh * g.kw * g.c;
  const pixels = g.batch * g.gy.out * g.gx.out;
  const scratchFloats = k * Math.min(pixels, Math.max(4, Math.floor(FORWARD_SCRATCH_FLOATS / k)));
  const scratch = ctx.heap.alloc(scratchFloats * 4);
  const w = layer.deviceWeights();
  try {
    ctx.kernels.conv2d(
      x.ptr,
      w[0],
      layer.useBias ? w[1] : 0,
      z.ptr,
      scratch,
      scratchFloats,
      g.batch,
      g.h,
      g.w,
      g.c,
      g.gy.out,
      g.gx.out,
      layer.filters,
      g.kh,
      g.kw,
      g.sh,
      g.sw,
      g.dh,
      g.dw,
      g.gy.padBefore,
      g.gx.padBefore,
      0,
      0,
    );
  } finally {
    ctx.heap.free(scratch);
  }
  return z;
}

/**
 * Conv2D in training. Forward: the inference convolution with its fused activation when the
 * activation's derivative can be read off the output (linear, relu, relu6, sigmoid, tanh,
 * exponential); otherwise the convolution without activation, keeping the pre-activation z.
 * Backward: dZ = dy·act'(z), then one tiled pass (`conv2dBackward`, wasm/assembly/conv_grad.ts)
 * gives dW (im2col + GEMM) and dx (GEMM + col2im); db = Σ dZ.
 */
const CONV2_D_TRAINING: LayerTraining<Conv2D> = {
  forward(layer, x, mask, ctx) {
    if (fusedFromOutput(layer.activation)) return layer.call(x, mask, ctx);
    const z = convolveLinear(layer, x, ctx);
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
    const { kernels, heap } = ctx;
    const z = (ctx.tape.get(layer) as number | undefined) ?? y.ptr;
    const dz = a.dyIsPreActivation
      ? a.dy.ptr
      : activationBackward(ctx, layer.activation, { ...y, ptr: z }, y, a.dy).ptr;
    const g = trainGeometry(layer, x);
    const outC = layer.filters;
    const pixels = g.batch * g.gy.out * g.gx.out;
    const wantKernel = a.grads[0] !== 0 && a.grads[0] !== undefined;
    if (layer.useBias && a.grads[1]) kernels.columnSums(dz, a.grads[1], pixels, outC, 0);
    if (!wantKernel && !a.needInputGrad) return null;
    const dx: DeviceTensor | null = a.needInputGrad
      ? { ptr: heap.alloc(sizeOf(x.shape) * 4), shape: [...x.shape], dtype: "float32" }
      : null;
    const scratchFloats = Math.max(
      kernels.conv2dBackwardMinScratch(g.kh, g.kw, g.c, outC, dx ? 1 : 0),
      BACKWARD_SCRATCH_FLOATS,
    );
    const scratch = heap.alloc(scratchFloats * 4);
    try {
      kernels.conv2dBackward(
        x.ptr,
        dz,
        a.weights[0],
        dx ? dx.ptr : 0,
        wantKernel ? a.grads[0] : 0,
        scratch,
        scratchFloats,
        g.batch,
        g.h,
        g.w,
        g.c,
        g.gy.out,
        g.gx.out,
        outC,
        g.kh,
        g.kw,
        g.sh,
        g.sw,
        g.dh,
        g.dw,
        g.gy.padBefore,
        g.gx.padBefore,
      );
    } finally {
      heap.free(scratch);
    }
    return dx;
  },

  outputActivation(layer) {
    const act = layer.activation;
    if (act.kind === "softmax") return "softmax";
    return act.kind === "elementwise" && act.code === ActivationCode.Sigmoid ? "sigmoid" : null;
  },
};

/** The `Conv2D` layer class (see `layer_class.ts`). */
export const CONV2D: LayerClass<Conv2D> = defineLayer({
  className: "Conv2D",
  create: (config, options) => new Conv2D(config, options),
  training: CONV2_D_TRAINING,
});
