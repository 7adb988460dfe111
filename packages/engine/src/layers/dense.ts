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
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { parallelRanges, runJobs } from "../wasm/threads.ts";

/** Keras `Dense`: `act(x · kernel + bias)` on the last axis of any rank. */
export class Dense extends Layer {
  readonly units: number;
  readonly useBias: boolean;
  readonly activation: Activation;

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
    // With kernel threads on, a large product splits into one range of rows per thread.
    const ranges = parallelRanges(ctx.kernels, m, 2 * m * k * this.units);
    runJobs(
      ctx.kernels,
      ranges.map(([r0, rows]) => ({
        fn: "gemm",
        args: [
          x.ptr + r0 * k * 4,
          this.weightPtrs[0],
          this.useBias ? this.weightPtrs[1] : 0,
          y.ptr + r0 * this.units * 4,
          rows,
          this.units,
          k,
          fused ? act.code : 0,
          fused ? act.alpha : 0,
        ],
      })),
    );
    if (!fused) applyActivation(ctx, y, act);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}
