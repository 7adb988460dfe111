import { type Activation, resolveActivation } from "../activations.ts";
import {
  applyActivation,
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { InputShapeError } from "../errors.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { activationBackward, activationOutputKind } from "./activation_backward.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { job, parallelRanges, runJobs } from "../wasm/threads.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import type { KernelExports } from "../wasm/kernels.ts";
import { DerivedWeights } from "../derived_weights.ts";
import { emitWithActivation, floatInitializer, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Column ranges of a one-row product `(1 × k) · (k × units)` for the kernel threads (null: one
 * call), cut where `gemm`'s own layout restarts — at its B column panels, or at its 32-column
 * tiles when B is one panel — and at least 32 columns each, so every column is summed by the same
 * tile in the same order as in the whole call (bit for bit).
 */
export function denseColumnRanges(
  kernels: KernelExports,
  units: number,
  k: number,
  work: number,
): [number, number][] | null {
  const ranges = parallelRanges(kernels, units, work);
  if (ranges.length < 2) return null;
  const panel = kernels.gemmPanelColumns(units, k);
  const step = panel < units ? panel : 32;
  const cuts = [0];
  for (const [start] of ranges.slice(1)) {
    const cut = Math.round(start / step) * step;
    if (cut - cuts[cuts.length - 1] >= 32 && units - cut >= 32) cuts.push(cut);
  }
  if (cuts.length < 2) return null;
  return cuts.map((c, i): [number, number] => [c, (cuts[i + 1] ?? units) - c]);
}

/**
 * Keras `Dense`: `act(x · kernel + bias)` on the last axis of any rank.
 *
 * Inference of a narrow, deep product (≤ 16 units over ≥ 128 inputs: the classifier after
 * Flatten or after a recurrent layer) runs `gemmNarrowPacked` on a copy of the kernel packed for
 * it, made on the first such call after each weight change; training runs the plain `gemm`.
 */
export class Dense extends Layer {
  readonly units: number;
  readonly useBias: boolean;
  readonly activation: Activation;
  /** The kernel packed for `gemmNarrowPacked` (for the current {@link weightsVersion}). */
  readonly #narrow = new DerivedWeights();

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Dense", config, options);
    this.units = this.num("units", undefined, true);
    this.useBias = this.bool("use_bias", true);
    this.activation = resolveActivation(config.activation, this.name, options.kerasVersion);
  }

  computeOutputShape(inputShape: Shape): Shape {
    if (inputShape.length < 1 || inputShape[inputShape.length - 1] === null) {
      throw new InputShapeError(this.name, "a known last dimension", formatShape(inputShape));
    }
    return [...inputShape.slice(0, -1), this.units];
  }

  override weightNames(): string[] {
    return this.useBias ? ["kernel", "bias"] : ["kernel"];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const inDim = inputShape[inputShape.length - 1] as number;
    const specs = [{ name: "kernel", shape: [inDim, this.units] }];
    if (this.useBias) specs.push({ name: "bias", shape: [this.units] });
    return specs;
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const k = x.shape[x.shape.length - 1];
    const m = sizeOf(x.shape) / k;
    const y = this.allocOutput(ctx, [...x.shape.slice(0, -1), this.units]);
    const act = this.activation;
    const fused = act.kind === "elementwise";
    const inference = !ctx.training && !ctx.tape;
    const narrow = inference && ctx.kernels.gemmNarrowApplies(this.units, k) === 1;
    const kernel = narrow ? this.#narrowKernel(ctx.kernels, ctx.heap, k) : this.weightPtrs[0];
    const bias = this.useBias ? this.weightPtrs[1] : 0;
    const [code, alpha] = fused ? [act.code, act.alpha] : [0, 0];
    const work = 2 * m * k * this.units;
    // One row (a single sample's classifier): the threads split the columns instead.
    const columns = m === 1 && !narrow ? denseColumnRanges(ctx.kernels, this.units, k, work) : null;
    if (columns) {
      runJobs(
        ctx.kernels,
        columns.map(([j0, n]) =>
          job(
            "gemmStrided",
            x.ptr,
            k,
            kernel + j0 * 4,
            this.units,
            bias ? bias + j0 * 4 : 0,
            y.ptr + j0 * 4,
            this.units,
            1,
            n,
            k,
            code,
            alpha,
            0,
          )
        ),
      );
    } else {
      // With kernel threads on, a large product splits into one range of rows per thread.
      const ranges = parallelRanges(ctx.kernels, m, work);
      runJobs(
        ctx.kernels,
        ranges.map(([r0, rows]) =>
          job(
            narrow ? "gemmNarrowPacked" : "gemm",
            x.ptr + r0 * k * 4,
            kernel,
            bias,
            y.ptr + r0 * this.units * 4,
            rows,
            this.units,
            k,
            code,
            alpha,
          )
        ),
      );
    }
    if (!fused) applyActivation(ctx, y, act);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }

  /** The kernel packed for `gemmNarrowPacked` (`k` inputs), packed again after a weight change. */
  #narrowKernel(kernels: KernelExports, heap: WasmHeap, k: number): number {
    return this.#narrow.get(heap, this.weightsVersion, () => {
      const ptr = heap.alloc(kernels.gemmNarrowPackedFloats(this.units, k) * 4);
      kernels.gemmNarrowPack(this.weightPtrs[0], ptr, this.units, k);
      return ptr;
    });
  }

  protected override releaseWeights(): void {
    this.#narrow.free();
    super.releaseWeights();
  }
}

/**
 * Dense in training: the forward keeps the pre-activation z = x·W + b (when the activation is
 * not linear); backward: dz = dy·act'(z), dW = Xᵀ·dz, db = Σ dz, dX = dz·Wᵀ.
 */
const DENSE_TRAINING: LayerTraining<Dense> = {
  forward(layer, x, _mask, ctx) {
    const k = x.shape[x.shape.length - 1];
    const rows = sizeOf(x.shape) / k;
    const shape = [...x.shape.slice(0, -1), layer.units];
    const n = sizeOf(shape);
    const z = ctx.heap.alloc(n * 4);
    const w = layer.deviceWeights();
    ctx.kernels.gemm(x.ptr, w[0], layer.useBias ? w[1] : 0, z, rows, layer.units, k, 0, 0);
    const act = layer.activation;
    if (act.kind === "elementwise" && act.code === 0) return { ptr: z, shape, dtype: "float32" };
    ctx.keep(z);
    ctx.tape.set(layer, z);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape, dtype: "float32" };
    ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(z, n));
    applyActivation(ctx, y, act);
    return y;
  },

  backward(layer, a) {
    const { ctx, x, y } = a;
    const { kernels, heap } = ctx;
    const k = x.shape[x.shape.length - 1];
    const units = layer.units;
    const rows = sizeOf(x.shape) / k;
    // dz overwrites dy in place (dy is the trainer's and not needed afterwards).
    const z = (ctx.tape.get(layer) as number | undefined) ?? y.ptr;
    const dz = a.dyIsPreActivation
      ? a.dy.ptr
      : activationBackward(ctx, layer.activation, { ...y, ptr: z }, y, a.dy).ptr;
    if (a.grads[0]) kernels.gemmTN(x.ptr, k, dz, units, a.grads[0], units, k, units, rows, 0);
    if (layer.useBias && a.grads[1]) kernels.columnSums(dz, a.grads[1], rows, units, 0);
    if (!a.needInputGrad) return null;
    const dx: DeviceTensor = {
      ptr: heap.alloc(rows * k * 4),
      shape: [...x.shape],
      dtype: "float32",
    };
    kernels.gemmNT(dz, units, a.weights[0], units, dx.ptr, k, rows, k, units, 0);
    return dx;
  },

  outputActivation: (layer) => activationOutputKind(layer.activation),
};

/** Dense in ONNX: MatMul on the last axis (any rank), Add of the bias, then the activation. */
function denseOnnx(layer: Dense, ctx: OnnxLayerContext): void {
  const [kernel, bias] = layer.getWeights();
  const w = floatInitializer(ctx, "kernel", kernel.data, kernel.shape);
  emitWithActivation(ctx, layer.activation, (out) => {
    if (!layer.useBias) return ctx.node("MatMul", [ctx.inputs[0], w], [out]);
    const product = ctx.fresh("matmul");
    ctx.node("MatMul", [ctx.inputs[0], w], [product]);
    ctx.node("Add", [product, floatInitializer(ctx, "bias", bias.data, bias.shape)], [out]);
  });
}

/** The `Dense` layer class (see `layer_class.ts`). */
export const DENSE: LayerClass<Dense> = defineLayer({
  className: "Dense",
  create: (config, options) => new Dense(config, options),
  training: DENSE_TRAINING,
  onnx: denseOnnx,
});
