import type { LayerTraining } from "../layer_training.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import {
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Keras `Embedding`: `embeddings (input_dim, output_dim)` rows gathered by id for (batch, time)
 * ids given as int32 or integral float32. An id outside `[0, input_dim)` is an error, never a
 * clamp. `mask_zero` makes the mask `ids != 0` for the layers that follow.
 */
export class Embedding extends Layer {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly maskZero: boolean;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Embedding", config, options);
    this.inputDim = this.num("input_dim", undefined, true);
    this.outputDim = this.num("output_dim", undefined, true);
    for (const field of ["input_dim", "output_dim"] as const) {
      const v = field === "input_dim" ? this.inputDim : this.outputDim;
      if (v < 1) throw new LayerConfigError(this.name, field, `expected >= 1, got ${v}`);
    }
    this.maskZero = this.bool("mask_zero", false);
    // Keras 3 LoRA adds weights the engine does not merge.
    if (config.lora_rank !== undefined && config.lora_rank !== null) {
      throw new LayerConfigError(
        this.name,
        "lora_rank",
        `LoRA embeddings are not supported (got ${JSON.stringify(config.lora_rank)})`,
      );
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 1, "(batch, time) ");
    return [...inputShape, this.outputDim];
  }

  /** Embedding reads int32 ids as they are. */
  override get readsIds(): boolean {
    return true;
  }

  override weightNames(): string[] {
    return ["embeddings"];
  }

  override weightSpecs(_inputShape: Shape): WeightSpec[] {
    return [{ name: "embeddings", shape: [this.inputDim, this.outputDim] }];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    return this.lookup(x, this.weightPtrs[0], this.outputDim, ctx);
  }

  /**
   * The rows of the ids x in a table of `input_dim` rows of `width` floats at `table` (the
   * layer's own embeddings, or a table derived from them: `embedding_projection.ts`), with the
   * layer's checks of the ids.
   */
  lookup(x: DeviceTensor, table: number, width: number, ctx: CallContext): DeviceTensor {
    const n = sizeOf(x.shape);
    const y = this.allocOutput(ctx, [...x.shape, width]);
    const bad = ctx.kernels.embeddingGather(
      x.ptr,
      x.dtype === "int32" ? 1 : 0,
      table,
      y.ptr,
      n,
      this.inputDim,
      width,
    );
    if (bad >= 0) {
      ctx.heap.free(y.ptr);
      const id = x.dtype === "int32"
        ? ctx.heap.i32(x.ptr + bad * 4, 1)[0]
        : ctx.heap.f32(x.ptr + bad * 4, 1)[0];
      const time = x.shape[x.shape.length - 1] || 1;
      throw new InputShapeError(
        this.name,
        `ids that are integers in [0, ${this.inputDim}) (input_dim ${this.inputDim})`,
        `id ${id} at [${Math.floor(bad / time)}, ${bad % time}] of a batch of shape [${
          x.shape.join(", ")
        }]`,
      );
    }
    return y;
  }

  /** `mask_zero`: a new int32 [batch, time] mask, 1 where the id is not 0. */
  override computeMask(x: DeviceTensor, _mask: DeviceTensor | null): DeviceTensor | null {
    if (!this.maskZero) return null;
    const { kernels, heap } = getRuntime();
    const n = sizeOf(x.shape);
    const mask: DeviceTensor = { ptr: heap.alloc(n * 4), shape: [...x.shape], dtype: "int32" };
    kernels.embeddingMask(x.ptr, x.dtype === "int32" ? 1 : 0, mask.ptr, n);
    return mask;
  }
}

/**
 * Embedding in training: the ids carry no gradient; the table's gradient is the output gradient's
 * rows scatter-added into the rows of the ids looked up (`embeddingGrad`). The gradient buffer is
 * dense (input_dim × output_dim) and zero in the rows of ids not in the batch, so a dense
 * optimizer step behaves as in Keras / TF.js with a dense gradient: Adam still decays both
 * moments of every row, and rows with non-zero momentum keep moving.
 */
const EMBEDDING_TRAINING: LayerTraining<Embedding> = {
  backward(layer, a) {
    const grad = a.grads[0];
    if (grad) {
      a.ctx.kernels.embeddingGrad(
        a.x.ptr,
        a.x.dtype === "int32" ? 1 : 0,
        a.dy.ptr,
        grad,
        sizeOf(a.x.shape),
        layer.inputDim,
        layer.outputDim,
        1,
      );
    }
    return null;
  },
};

/**
 * Embedding in ONNX: Gather of the ids' rows (float ids cast to int32 first); `mask_zero` adds
 * the mask `ids != 0` for the layers that follow.
 */
function embeddingOnnx(layer: Embedding, ctx: OnnxLayerContext): void {
  let ids = ctx.inputs[0];
  if (ctx.inputTypes[0] !== "int32") {
    const cast = ctx.fresh("ids");
    ctx.node("Cast", [ids], [cast], { to: { int: 6 } }); // 6: INT32
    ids = cast;
  }
  const [table] = layer.getWeights();
  const weights = ctx.initializer("embeddings", { float32: table.data }, table.shape);
  ctx.node("Gather", [weights, ids], [ctx.output], { axis: { int: 0 } });
  if (!layer.maskZero) return;
  const zero = ctx.initializer("zero", { int32: Int32Array.of(0) }, []);
  const isPad = ctx.fresh("is_padding"), mask = ctx.fresh("mask");
  ctx.node("Equal", [ids, zero], [isPad]);
  ctx.node("Not", [isPad], [mask]);
  ctx.setOutputMask(mask);
}

/** The `Embedding` layer class (see `layer_class.ts`). */
export const EMBEDDING: LayerClass<Embedding> = defineLayer({
  className: "Embedding",
  create: (config, options) => new Embedding(config, options),
  training: EMBEDDING_TRAINING,
  onnx: embeddingOnnx,
});
