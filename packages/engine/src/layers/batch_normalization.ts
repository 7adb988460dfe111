import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import {
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Inference statistics of one BatchNormalization layer (`gamma`/`beta` null when disabled). */
export interface BatchNormStatistics {
  gamma: Float32Array | null;
  beta: Float32Array | null;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  epsilon: number;
}

/**
 * Per-channel `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale`, computed in
 * float64 and rounded once; the layer then applies `y = x * scale + shift`.
 */
export function batchNormScaleShift(
  p: BatchNormStatistics,
): { scale: Float32Array; shift: Float32Array } {
  const c = p.movingMean.length;
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const s = (p.gamma ? p.gamma[j] : 1) / Math.sqrt(p.movingVariance[j] + p.epsilon);
    scale[j] = s;
    shift[j] = (p.beta ? p.beta[j] : 0) - p.movingMean[j] * s;
  }
  return { scale, shift };
}

/**
 * Keras `BatchNormalization` at inference, on the last axis of any rank:
 * `gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta`. Weights
 * `[gamma?, beta?, moving_mean, moving_variance]` as `scale` / `center` say. Other axes and
 * `renorm` are refused by name. (Training-mode batch statistics belong to the trainer.)
 */
export class BatchNormalization extends Layer {
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  /** Device buffer: `scale[c]` then `shift[c]`. */
  #scaleShiftPtr = 0;
  #channels = 0;
  #heap?: WasmHeap;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("BatchNormalization", config, options);
    this.epsilon = this.num("epsilon", 1e-3);
    this.center = this.bool("center", true);
    this.scale = this.bool("scale", true);
    if (config.renorm === true) {
      throw new UnsupportedLayerError("BatchNormalization", this.name, "renorm=true");
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    const rank = inputShape.length + 1;
    const axis = this.config.axis ?? -1;
    const single = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
    if (single !== -1 && single !== rank - 1) {
      throw new LayerConfigError(
        this.name,
        "axis",
        `only the last axis (-1 or ${rank - 1} for rank-${rank} input) is supported, got ${
          JSON.stringify(axis)
        }`,
      );
    }
    if (inputShape.length < 1 || inputShape[inputShape.length - 1] === null) {
      throw new InputShapeError(this.name, "a known last dimension", formatShape(inputShape));
    }
    return [...inputShape];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const c = [inputShape[inputShape.length - 1] as number];
    const specs: WeightSpec[] = [];
    if (this.scale) specs.push({ name: "gamma", shape: c });
    if (this.center) specs.push({ name: "beta", shape: c });
    specs.push({ name: "moving_mean", shape: c }, { name: "moving_variance", shape: c });
    return specs;
  }

  /** γ and β train; the moving mean and variance are updated by `fit`, not by gradients. */
  override weightTrainable(): boolean[] {
    return [...(this.scale ? [true] : []), ...(this.center ? [true] : []), false, false];
  }

  protected override afterBuild(heap: WasmHeap): void {
    const w = this.hostWeights;
    let i = 0;
    const gamma = this.scale ? w[i++].data : null;
    const beta = this.center ? w[i++].data : null;
    const movingMean = w[i++].data;
    const movingVariance = w[i].data;
    for (let j = 0; j < movingVariance.length; j++) {
      if (!(movingVariance[j] + this.epsilon > 0)) {
        this.releaseWeights();
        throw new LayerConfigError(
          this.name,
          "moving_variance",
          `moving_variance + epsilon must be > 0, got ${
            movingVariance[j]
          } + ${this.epsilon} at ${j}`,
        );
      }
    }
    const { scale, shift } = batchNormScaleShift({
      gamma,
      beta,
      movingMean,
      movingVariance,
      epsilon: this.epsilon,
    });
    const packed = new Float32Array(scale.length * 2);
    packed.set(scale);
    packed.set(shift, scale.length);
    this.#heap = heap;
    this.#channels = scale.length;
    this.#scaleShiftPtr = heap.upload(packed);
  }

  protected override releaseWeights(): void {
    if (this.#scaleShiftPtr) this.#heap?.free(this.#scaleShiftPtr);
    this.#scaleShiftPtr = 0;
    super.releaseWeights();
  }

  /**
   * The device weights changed in place (an optimizer step, or training updating the moving
   * statistics): recomputes the packed inference scale/shift from them.
   */
  override weightsUpdated(): void {
    super.weightsUpdated();
    const heap = this.#heap;
    if (!heap || !this.#scaleShiftPtr) return;
    const c = this.#channels;
    const ptrs = this.deviceWeights();
    let i = 0;
    const read = (p: number) => heap.f32(p, c).slice();
    const { scale, shift } = batchNormScaleShift({
      gamma: this.scale ? read(ptrs[i++]) : null,
      beta: this.center ? read(ptrs[i++]) : null,
      movingMean: read(ptrs[i++]),
      movingVariance: read(ptrs[i]),
      epsilon: this.epsilon,
    });
    heap.f32(this.#scaleShiftPtr, c).set(scale);
    heap.f32(this.#scaleShiftPtr + c * 4, c).set(shift);
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const c = this.#channels;
    const y = this.allocOutput(ctx, [...x.shape]);
    const p = this.#scaleShiftPtr;
    ctx.kernels.scaleShift(x.ptr, y.ptr, sizeOf(x.shape) / c, c, p, p + c * 4);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** The `BatchNormalization` layer class (see `layer_class.ts`). */
export const BATCH_NORMALIZATION: LayerClass<BatchNormalization> = defineLayer({
  className: "BatchNormalization",
  create: (config, options) => new BatchNormalization(config, options),
});
