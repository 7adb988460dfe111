import { ActivationCode } from "../activations.ts";
import { activationBackward } from "./activation_backward.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { type Activation, resolveActivation } from "../activations.ts";
import { axisGeometry, axisOutput } from "../conv_geometry.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import {
  applyActivation,
  type CallContext,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import {
  type ConvAlgorithm,
  transformWinogradFilters,
  uploadWinogradFilters,
  winogradChunkTiles,
  winogradFilterGrad,
  winogradFilterGradApplies,
  type WinogradPlan,
  winogradPlan,
  winogradRuns,
} from "../winograd.ts";
import { DerivedWeights } from "../derived_weights.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { job } from "../wasm/threads.ts";
import { ConvWindowLayer } from "./conv_window_layer.ts";
import {
  CONV_SCRATCH_FLOATS,
  convArgs,
  convolveBackward,
  convolveDirect,
  type ConvShape,
  convShape,
  packConvKernel,
  packedConvPays,
  runImageRanges,
} from "./conv2d_direct.ts";
import {
  convKernelToOnnx,
  emitConv,
  emitWithActivation,
  type OnnxLayerContext,
} from "../onnx_emit.ts";

/**
 * Copies channels `[srcC0, srcC0 + n)` of each of `rows` rows of `src` (`srcC` channels a row)
 * to channels `[dstC0, dstC0 + n)` of the rows of `dst` (`dstC` a row): how grouped convolution
 * gathers one group's input, kernel columns and output gradient, and scatters its results (and
 * ConvLSTM2D with cell dropout one gate's block).
 */
export function copyChannels(
  heap: WasmHeap,
  src: number,
  srcC: number,
  srcC0: number,
  dst: number,
  dstC: number,
  dstC0: number,
  n: number,
  rows: number,
): void {
  const a = heap.f32(src, rows * srcC);
  const b = heap.f32(dst, rows * dstC);
  for (let r = 0; r < rows; r++) {
    const i = r * srcC + srcC0, o = r * dstC + dstC0;
    for (let j = 0; j < n; j++) b[o + j] = a[i + j];
  }
}

/**
 * Keras `Conv2D` (NHWC): kernel `(kh, kw, in / groups, out)`, bias `(out)`, `valid`/`same`
 * padding, strides, dilation, fused bias + activation. With `groups` = g the input and output
 * channels split into g equal groups, group k's filters reading only group k's input channels:
 * each group runs the dense kernel on gathered channels (never Winograd). `channels_first` is
 * refused by name.
 */
export class Conv2D extends ConvWindowLayer {
  readonly filters: number;
  /** Keras `groups`: channel groups convolved independently (1: an ordinary convolution). */
  readonly groups: number;
  readonly useBias: boolean;
  readonly activation: Activation;
  /** Which convolution inference runs (see {@link ConvAlgorithm}). */
  readonly algorithm: ConvAlgorithm;
  /** The Winograd plan of the built shape under {@link algorithm}, or null (direct). */
  #winogradPlan: WinogradPlan | null = null;
  /**
   * The transformed filters of {@link #winogradPlan} (for the current {@link weightsVersion}),
   * made by the first call that runs Winograd: a layer whose calls all have too few tiles never
   * holds them.
   */
  readonly #winogradFilters = new DerivedWeights();
  /** Whether inference packs the kernel for the direct sum (see `packedConvPays`). */
  #packs = false;
  /** The packed kernel (for the current {@link weightsVersion}), made by the first call. */
  readonly #packedKernel = new DerivedWeights();

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Conv2D", config, options);
    this.filters = this.positiveInt("filters");
    this.groups = this.num("groups", 1, true);
    if (this.groups < 1 || this.filters % this.groups !== 0) {
      throw new LayerConfigError(
        this.name,
        "groups",
        `expected a positive divisor of filters (${this.filters}), got ${this.groups}`,
      );
    }
    this.useBias = this.bool("use_bias", true);
    this.activation = resolveActivation(config.activation, this.name, options.kerasVersion);
    this.algorithm = options.convAlgorithm ?? "auto";
  }

  /**
   * "winograd F(m×m, r×r)" or "direct": the method inference runs for the built shape on calls
   * with enough tiles for Winograd to pay (see {@link winogradPays}; with fewer it is direct).
   */
  get method(): string {
    const p = this.#winogradPlan;
    return p ? `winograd F(${p.m}×${p.m}, ${p.r}×${p.r})` : "direct";
  }

  /** The Winograd plan of the built shape under {@link algorithm}, or null (direct). */
  get winogradPlan(): WinogradPlan | null {
    return this.#winogradPlan;
  }

  protected override afterBuild(_heap: WasmHeap): void {
    const c = this.inputShape[2] as number;
    this.#winogradPlan = null;
    this.#packs = false;
    if (this.groups > 1) return;
    this.#winogradPlan = winogradPlan(
      this.algorithm,
      this.kernelSize,
      this.strides,
      this.dilationRate,
      c,
      this.filters,
    );
    this.#packs = packedConvPays(this, c, this.filters);
  }

  protected override releaseWeights(): void {
    this.#winogradFilters.free();
    this.#packedKernel.free();
    super.releaseWeights();
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    if (inputShape[2] === null) {
      throw new InputShapeError(this.name, "a known channel dimension", formatShape(inputShape));
    }
    if (inputShape[2] % this.groups !== 0) {
      throw new InputShapeError(
        this.name,
        `input channels divisible by groups (${this.groups})`,
        formatShape(inputShape),
      );
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
    const inC = (inputShape[2] as number) / this.groups;
    const specs = [{ name: "kernel", shape: [...this.kernelSize, inC, this.filters] }];
    if (this.useBias) specs.push({ name: "bias", shape: [this.filters] });
    return specs;
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, h, w] = x.shape;
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
    const inference = !ctx.training && !ctx.tape;
    const bias = this.useBias ? this.weightPtrs[1] : 0;
    const plan = this.#winogradPlan;
    if (this.groups > 1) this.convolveGroups(ctx, x, y, this.#fusedActivation());
    else if (winogradRuns(this.algorithm, plan, batch, gy.out, gx.out, x.shape[3], this.filters)) {
      // Inference reuses the filters transformed (in float64) once per weight change; training
      // transforms them on the device every step (in float32), freed after the call.
      const u = inference
        ? this.#winogradFilters.get(ctx.heap, this.weightsVersion, () =>
          uploadWinogradFilters(
            ctx.heap,
            plan,
            ctx.heap.f32(this.weightPtrs[0], this.hostWeights[0].data.length),
            x.shape[3],
            this.filters,
          ))
        : transformWinogradFilters(
          ctx.kernels,
          ctx.heap,
          plan,
          this.weightPtrs[0],
          x.shape[3],
          this.filters,
        );
      try {
        runWinograd(
          ctx,
          plan,
          u,
          bias,
          x,
          y,
          gy.padBefore,
          gx.padBefore,
          this.kernelSize[0] * this.kernelSize[1],
          this.#fusedActivation(),
        );
      } finally {
        if (!inference) ctx.heap.free(u);
      }
    } else if (inference && this.#packs) {
      const k = this.kernelSize[0] * this.kernelSize[1] * x.shape[3];
      const packed = this.#packedKernel.get(
        ctx.heap,
        this.weightsVersion,
        () => packConvKernel(ctx.kernels, ctx.heap, this.weightPtrs[0], k, this.filters),
      );
      this.#direct(ctx, x, y, packed, bias, this.#fusedActivation(), true);
    } else this.#direct(ctx, x, y, this.weightPtrs[0], bias, this.#fusedActivation());
    if (!fused) applyActivation(ctx, y, act);
    return y;
  }

  /**
   * `y = act(x ⊛ kernel + bias)` for a grouped layer (`act` the fused code and alpha, `[0, 0]`
   * for none): per group, its input channels and kernel columns gathered into dense buffers,
   * the dense kernel run on them and the group's output channels scattered into `y`.
   */
  convolveGroups(
    ctx: CallContext,
    x: DeviceTensor,
    y: DeviceTensor,
    act: [number, number],
  ): void {
    const { heap } = ctx;
    const [batch, h, w, c] = x.shape;
    const [, outH, outW, outC] = y.shape;
    const g = this.groups, cg = c / g, fg = outC / g;
    const taps = this.kernelSize[0] * this.kernelSize[1] * cg;
    const xg: DeviceTensor = { ptr: 0, shape: [batch, h, w, cg], dtype: "float32" };
    const yg: DeviceTensor = { ptr: 0, shape: [batch, outH, outW, fg], dtype: "float32" };
    const rowsIn = batch * h * w, rowsOut = batch * outH * outW;
    let wg = 0;
    try {
      xg.ptr = heap.alloc(rowsIn * cg * 4);
      yg.ptr = heap.alloc(rowsOut * fg * 4);
      wg = heap.alloc(taps * fg * 4);
      for (let k = 0; k < g; k++) {
        copyChannels(heap, x.ptr, c, k * cg, xg.ptr, cg, 0, cg, rowsIn);
        copyChannels(heap, this.weightPtrs[0], outC, k * fg, wg, fg, 0, fg, taps);
        const bias = this.useBias ? this.weightPtrs[1] + k * fg * 4 : 0;
        this.#direct(ctx, xg, yg, wg, bias, act);
        copyChannels(heap, yg.ptr, fg, 0, y.ptr, outC, k * fg, fg, rowsOut);
      }
    } finally {
      for (const p of [xg.ptr, yg.ptr, wg]) if (p) heap.free(p);
    }
  }

  /**
   * The direct convolution x → y with the given kernel and bias pointers (bias 0: none; `packed`:
   * the kernel is packed by `packConvKernel`).
   */
  #direct(
    ctx: CallContext,
    x: DeviceTensor,
    y: DeviceTensor,
    kernel: number,
    bias: number,
    act: [number, number],
    packed = false,
  ): void {
    convolveDirect(
      ctx,
      convShape(x.shape[0], x.shape.slice(1), y.shape[3], this),
      x.ptr,
      kernel,
      bias,
      y.ptr,
      act,
      packed,
    );
  }

  /** Activation code and alpha the kernels fuse into their store (0, 0 when applied after). */
  #fusedActivation(): [number, number] {
    const act = this.activation;
    return act.kind === "elementwise" ? [act.code, act.alpha] : [0, 0];
  }
}

/**
 * y = act(x ⊛ U + bias) by Winograd (`u`: the transformed filters of `plan`, `bias` 0 for none):
 * one range of the batch's output tiles per kernel thread (so one image splits too), each with
 * its own scratch. `taps`: kh·kw, for the work estimate.
 */
function runWinograd(
  ctx: CallContext,
  plan: WinogradPlan,
  u: number,
  bias: number,
  x: DeviceTensor,
  y: DeviceTensor,
  padTop: number,
  padLeft: number,
  taps: number,
  act: [number, number],
): void {
  const [batch, h, w, c] = x.shape;
  const [, outH, outW, outC] = y.shape;
  const { m, r, alpha } = plan;
  const tiles = batch * Math.ceil(outH / m) * Math.ceil(outW / m);
  const flops = 2 * batch * outH * outW * outC * taps * c;
  runImageRanges(ctx, tiles, flops, (t0, nt, scratchOf) => {
    const chunk = winogradChunkTiles(nt, c, outC, alpha);
    const scratchFloats = ctx.kernels.conv2dWinogradScratchFloats(chunk, c, outC, m, r);
    return job(
      "conv2dWinograd",
      x.ptr,
      u,
      bias,
      y.ptr,
      scratchOf(scratchFloats),
      scratchFloats,
      batch,
      h,
      w,
      c,
      outH,
      outW,
      outC,
      m,
      r,
      padTop,
      padLeft,
      ...act,
      t0,
      nt,
    );
  });
}

// ---- training ----------------------------------------------------------------------------

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

/** The convolution plus bias without activation (the pre-activation z). */
function convolveLinear(layer: Conv2D, x: DeviceTensor, ctx: TrainContext): DeviceTensor {
  const g = convShape(x.shape[0], x.shape.slice(1), layer.filters, layer);
  const shape = [g.images, g.outH, g.outW, g.outC];
  const z: DeviceTensor = { ptr: ctx.heap.alloc(sizeOf(shape) * 4), shape, dtype: "float32" };
  if (layer.groups > 1) {
    layer.convolveGroups(ctx, x, z, [0, 0]);
    return z;
  }
  const k = g.kh * g.kw * g.c;
  const pixels = g.images * g.outH * g.outW;
  const scratchFloats = k * Math.min(pixels, Math.max(4, Math.floor(CONV_SCRATCH_FLOATS / k)));
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
      ...convArgs(g),
      0,
      0,
    );
  } finally {
    ctx.heap.free(scratch);
  }
  return z;
}

/**
 * The backward of a grouped convolution: per group, its input channels, output-gradient
 * channels and kernel columns gathered into dense buffers, one {@link convolveBackward}, and the
 * group's dx channels and dW columns scattered back (every group writes its own, so `dx` and
 * `dW` are overwritten whole).
 */
function backwardGroups(
  layer: Conv2D,
  ctx: TrainContext,
  x: DeviceTensor,
  dz: number,
  kernel: number,
  dx: DeviceTensor | null,
  dW: number,
): void {
  const { heap } = ctx;
  const groups = layer.groups, cg = x.shape[3] / groups, fg = layer.filters / groups;
  const g = { ...convShape(x.shape[0], x.shape.slice(1), fg, layer), c: cg };
  const outC = layer.filters, c = x.shape[3];
  const taps = g.kh * g.kw * cg;
  const rowsIn = g.images * g.h * g.w, rowsOut = g.images * g.outH * g.outW;
  const bufs: number[] = [];
  const alloc = (floats: number) => {
    const p = heap.alloc(floats * 4);
    bufs.push(p);
    return p;
  };
  try {
    const xg = alloc(rowsIn * cg), dzg = alloc(rowsOut * fg), wg = alloc(taps * fg);
    const dxg = dx ? alloc(rowsIn * cg) : 0;
    const dWg = dW ? alloc(taps * fg) : 0;
    for (let k = 0; k < groups; k++) {
      copyChannels(heap, x.ptr, c, k * cg, xg, cg, 0, cg, rowsIn);
      copyChannels(heap, dz, outC, k * fg, dzg, fg, 0, fg, rowsOut);
      copyChannels(heap, kernel, outC, k * fg, wg, fg, 0, fg, taps);
      convolveBackward(ctx, g, xg, dzg, wg, dxg, dWg);
      if (dx) copyChannels(heap, dxg, cg, 0, dx.ptr, c, k * cg, cg, rowsIn);
      if (dW) copyChannels(heap, dWg, fg, 0, dW, outC, k * fg, fg, taps);
    }
  } finally {
    for (const p of bufs) heap.free(p);
  }
}

/**
 * dx by Winograd when the layer's convolution algorithm picks it for the backward convolution:
 * dx is dZ convolved with the kernel flipped in both spatial axes, in and out channels swapped
 * (outC → c channels, padded by k − 1 − pad), a stride-1 undilated convolution like the forward
 * one, so the same plan rules and kernel apply, with the flipped filters transformed on the
 * device each step. Returns false (nothing written) when the direct pass should compute dx.
 */
function winogradInputGrad(
  layer: Conv2D,
  ctx: TrainContext,
  g: ConvShape,
  dz: number,
  kernel: number,
  dx: DeviceTensor,
): boolean {
  const window = [g.kh, g.kw];
  const plan = winogradPlan(layer.algorithm, window, [g.sh, g.sw], [g.dh, g.dw], g.outC, g.c);
  if (!winogradRuns(layer.algorithm, plan, g.images, g.h, g.w, g.outC, g.c)) return false;
  const { kernels, heap } = ctx;
  const flipped = heap.alloc(g.kh * g.kw * g.c * g.outC * 4);
  let u = 0;
  try {
    kernels.conv2dFlipKernel(kernel, flipped, g.kh, g.kw, g.c, g.outC);
    u = transformWinogradFilters(kernels, heap, plan, flipped, g.outC, g.c);
    const dzTensor: DeviceTensor = {
      ptr: dz,
      shape: [g.images, g.outH, g.outW, g.outC],
      dtype: "float32",
    };
    runWinograd(
      ctx,
      plan,
      u,
      0,
      dzTensor,
      dx,
      g.kh - 1 - g.padTop,
      g.kw - 1 - g.padLeft,
      g.kh * g.kw,
      [0, 0],
    );
  } finally {
    heap.free(flipped);
    if (u) heap.free(u);
  }
  return true;
}

/**
 * dW by Winograd when the layer's forward convolution of this shape runs it (the layer's own
 * plan, the same tiles, so the same multiply-add count against the direct sum): see
 * {@link winogradFilterGrad} (3×3 and 5×5 kernels). Returns false (nothing written) when the
 * direct pass should compute dW.
 */
function winogradKernelGrad(
  layer: Conv2D,
  ctx: TrainContext,
  g: ConvShape,
  x: number,
  dz: number,
  dW: number,
): boolean {
  const plan = layer.winogradPlan;
  if (!winogradRuns(layer.algorithm, plan, g.images, g.outH, g.outW, g.c, g.outC)) return false;
  if (!winogradFilterGradApplies(plan)) return false;
  winogradFilterGrad(ctx.kernels, ctx.heap, plan, g, x, dz, dW);
  return true;
}

/**
 * Conv2D in training. Forward: the inference convolution with its fused activation when the
 * activation's derivative can be read off the output (linear, relu, relu6, sigmoid, tanh,
 * exponential); otherwise the convolution without activation, keeping the pre-activation z.
 * Backward: dZ = dy·act'(z); dx and dW by Winograd where the algorithm picks it
 * ({@link winogradInputGrad}, {@link winogradKernelGrad}), the rest by one tiled pass
 * (`conv2dBackward`, wasm/assembly/conv_grad.ts: dW by im2col + GEMM, dx by GEMM + col2im) — one
 * pass per group for `groups` > 1 — and db = Σ dZ.
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
    const g = convShape(x.shape[0], x.shape.slice(1), layer.filters, layer);
    const outC = layer.filters;
    const pixels = g.images * g.outH * g.outW;
    const wantKernel = a.grads[0] !== 0 && a.grads[0] !== undefined;
    if (layer.useBias && a.grads[1]) kernels.columnSums(dz, a.grads[1], pixels, outC, 0);
    if (!wantKernel && !a.needInputGrad) return null;
    const dx: DeviceTensor | null = a.needInputGrad
      ? { ptr: heap.alloc(sizeOf(x.shape) * 4), shape: [...x.shape], dtype: "float32" }
      : null;
    const dW = wantKernel ? a.grads[0] : 0;
    if (layer.groups > 1) {
      backwardGroups(layer, ctx, x, dz, a.weights[0], dx, dW);
      return dx;
    }
    // Winograd where the layer's algorithm picks it; the direct pass computes what is left.
    const dxLeft = dx && !winogradInputGrad(layer, ctx, g, dz, a.weights[0], dx) ? dx.ptr : 0;
    const dWLeft = dW && !winogradKernelGrad(layer, ctx, g, x.ptr, dz, dW) ? dW : 0;
    convolveBackward(ctx, g, x.ptr, dz, a.weights[0], dxLeft, dWLeft);
    return dx;
  },

  outputActivation(layer) {
    const act = layer.activation;
    if (act.kind === "softmax") return "softmax";
    return act.kind === "elementwise" && act.code === ActivationCode.Sigmoid ? "sigmoid" : null;
  },
};

/** Conv2D in ONNX: one Conv (with `group`) between channels-last Transposes, then activation. */
function conv2dOnnx(layer: Conv2D, ctx: OnnxLayerContext): void {
  const [kernel, bias] = layer.getWeights();
  const [kh, kw, cin, filters] = kernel.shape;
  emitWithActivation(ctx, layer.activation, (output) =>
    emitConv(ctx, {
      input: ctx.inputs[0],
      output,
      rank: 4,
      weight: convKernelToOnnx(kernel.data, kernel.shape),
      weightDims: [filters, cin, kh, kw],
      bias: layer.useBias ? bias.data : undefined,
      strides: layer.strides,
      dilations: layer.dilationRate,
      padding: layer.padding,
      group: layer.groups,
    }));
}

/** The `Conv2D` layer class (see `layer_class.ts`). */
export const CONV2D: LayerClass<Conv2D> = defineLayer({
  className: "Conv2D",
  create: (config, options) => new Conv2D(config, options),
  training: CONV2_D_TRAINING,
  onnx: conv2dOnnx,
});
