/**
 * Keras `PReLU`: a leaky ReLU whose negative slope `alpha` is a learned weight.
 *
 * @module
 */
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { UntrainableLayerError } from "../training/errors.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Keras `PReLU`: y = x for x ≥ 0, alpha·x otherwise, with `alpha` a weight of the input's shape
 * without batch where the `shared_axes` (1-based, batch excluded, as Keras counts them) have size
 * 1. Keras initialises alpha with zeros (`alpha_initializer`). Passes the mask on.
 */
export class PReLU extends Layer {
  /** The shared axes, 1-based over the input without batch, sorted, no repeats. */
  readonly sharedAxes: readonly number[];
  /** Per element of one sample: the index of its alpha (built with the layer). */
  #alphaIndex: Int32Array = new Int32Array(0);
  /** The alpha weight's element count. */
  #alphaSize = 0;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("PReLU", config, options);
    const raw = config.shared_axes ?? null;
    const list = raw === null ? [] : Array.isArray(raw) ? raw : [raw];
    if (!list.every((a) => Number.isInteger(a) && (a as number) >= 1)) {
      throw new LayerConfigError(
        this.name,
        "shared_axes",
        `expected null, an axis or a list of axes ≥ 1 (the batch axis 0 cannot be shared), got ${
          JSON.stringify(raw)
        }`,
      );
    }
    this.sharedAxes = [...new Set(list as number[])].sort((a, b) => a - b);
  }

  /** The alpha weight's shape for an input shape without batch. */
  alphaShape(inputShape: Shape): number[] {
    for (const a of this.sharedAxes) {
      if (a > inputShape.length) {
        throw new LayerConfigError(
          this.name,
          "shared_axes",
          `axis ${a} is beyond an input of rank ${inputShape.length + 1} ` +
            `(expected axes 1..${inputShape.length})`,
        );
      }
    }
    return inputShape.map((d, i) => {
      if (this.sharedAxes.includes(i + 1)) return 1;
      if (d === null) {
        throw new InputShapeError(
          this.name,
          `a known size on every axis not in shared_axes [${this.sharedAxes}]`,
          formatShape(inputShape),
        );
      }
      return d;
    });
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.alphaShape(inputShape);
    return [...inputShape];
  }

  override weightNames(): string[] {
    return ["alpha"];
  }

  override weightSpecs(inputShape: Shape): { name: string; shape: number[] }[] {
    return [{ name: "alpha", shape: this.alphaShape(inputShape) }];
  }

  /** `alpha` starts from the config's `alpha_initializer`, Keras's default zeros. */
  override initialWeight(
    name: string,
    shape: readonly number[],
    init: (shape: number[], initializer?: unknown) => Float32Array,
  ): Float32Array | undefined {
    if (name !== "alpha") return undefined;
    return init([...shape], this.config.alpha_initializer ?? "zeros");
  }

  protected override afterBuild(_heap: WasmHeap): void {
    const shape = this.inputShape;
    const alpha = this.alphaShape(shape);
    this.#alphaSize = sizeOf(alpha);
    if (shape.some((d) => d === null)) {
      // A shared axis of unknown size: the per-element map is made per call.
      this.#alphaIndex = new Int32Array(0);
      return;
    }
    this.#alphaIndex = alphaIndexMap(shape as number[], alpha);
  }

  /** The alpha index of each element of one sample of `x` (cached for the built shape). */
  alphaIndex(x: DeviceTensor): Int32Array {
    const per = sizeOf(x.shape.slice(1));
    if (this.#alphaIndex.length === per && per > 0) return this.#alphaIndex;
    const dims = x.shape.slice(1);
    if (dims.length !== this.inputShape.length) {
      throw new InputShapeError(
        this.name,
        `rank ${this.inputShape.length + 1}`,
        formatShape(x.shape),
      );
    }
    return alphaIndexMap(dims, this.alphaShape(dims));
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const n = sizeOf(x.shape);
    const idx = this.alphaIndex(x);
    const per = idx.length;
    const y = this.allocOutput(ctx, [...x.shape]);
    const xs = ctx.heap.f32(x.ptr, n), ys = ctx.heap.f32(y.ptr, n);
    const alpha = ctx.heap.f32(this.deviceWeights()[0], this.#alphaSize);
    for (let s = 0; s < n; s += per) {
      for (let i = 0; i < per; i++) {
        const v = xs[s + i];
        ys[s + i] = v >= 0 ? v : alpha[idx[i]] * v;
      }
    }
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/**
 * Per element of a sample of shape `dims` (row-major): the flat index of its alpha in an alpha
 * of shape `alpha` (same rank, 1 on shared axes).
 */
export function alphaIndexMap(dims: readonly number[], alpha: readonly number[]): Int32Array {
  const per = sizeOf(dims);
  const out = new Int32Array(per);
  const rank = dims.length;
  const coord = new Array<number>(rank).fill(0);
  // Alpha strides; a shared axis contributes nothing.
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = alpha[d] === 1 && dims[d] !== 1 ? 0 : s;
    s *= alpha[d];
  }
  for (let i = 0; i < per; i++) {
    let k = 0;
    for (let d = 0; d < rank; d++) k += coord[d] * strides[d];
    out[i] = k;
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d] < dims[d]) break;
      coord[d] = 0;
    }
  }
  return out;
}

/**
 * PReLU in training: the inference forward (x stays alive). Backward, as TF differentiates
 * relu(x) − alpha·relu(−x): dx = dy where x > 0, alpha·dy where x < 0 and 0 at x = 0;
 * dalpha = Σ over the batch and the shared axes of dy·x where x < 0.
 */
const PRELU_TRAINING: LayerTraining<PReLU> = {
  forward(layer, x, mask, ctx) {
    for (const field of ["alpha_regularizer", "alpha_constraint"]) {
      const v = layer.config[field];
      if (v !== undefined && v !== null) {
        throw new UntrainableLayerError(
          "PReLU",
          layer.name,
          `${field}: expected null (regularizers and constraints are not applied in fit), ` +
            `received ${JSON.stringify(v)}`,
        );
      }
    }
    return layer.call(x, mask, ctx);
  },

  backward(layer, a) {
    const { heap } = a.ctx;
    const n = sizeOf(a.x.shape);
    const idx = layer.alphaIndex(a.x);
    const per = idx.length;
    const alphaSize = sizeOf(layer.weightSpecs(layer.inputShape)[0].shape);
    const xs = heap.f32(a.x.ptr, n), dys = heap.f32(a.dy.ptr, n);
    const alpha = heap.f32(a.weights[0], alphaSize);
    if (a.grads[0]) {
      const acc = new Float64Array(alphaSize);
      for (let s = 0; s < n; s += per) {
        for (let i = 0; i < per; i++) {
          const v = xs[s + i];
          if (v < 0) acc[idx[i]] += dys[s + i] * v;
        }
      }
      heap.f32(a.grads[0], alphaSize).set(acc);
    }
    if (!a.needInputGrad) return null;
    // dx overwrites dy in place (after the alpha gradient read it).
    for (let s = 0; s < n; s += per) {
      for (let i = 0; i < per; i++) {
        const v = xs[s + i];
        dys[s + i] = v > 0 ? dys[s + i] : v < 0 ? alpha[idx[i]] * dys[s + i] : 0;
      }
    }
    return a.dy;
  },
};

/** PReLU in ONNX: PRelu with the alpha weight (its shared axes of size 1 broadcast). */
function preluOnnx(layer: PReLU, ctx: OnnxLayerContext): void {
  const [alpha] = layer.getWeights();
  const slope = ctx.initializer("alpha", { float32: alpha.data }, alpha.shape);
  ctx.node("PRelu", [ctx.inputs[0], slope], [ctx.output]);
}

/** The `PReLU` layer class (see `layer_class.ts`). */
export const PRELU: LayerClass<PReLU> = defineLayer({
  className: "PReLU",
  create: (config, options) => new PReLU(config, options),
  training: PRELU_TRAINING,
  onnx: preluOnnx,
});
