import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import { UntrainableLayerError } from "../training/errors.ts";
import {
  type BatchStatistics,
  type CallContext,
  type KerasVarGroup,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
  type WeightTensor,
} from "../layer.ts";
import type { LayerClass } from "../layer_class.ts";
import { defineLayer } from "../layer_class.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
// The inner layer's training behaviour is looked up in the class list at run time (a cycle
// through `mod.ts`, safe because nothing here reads it while the modules are evaluated).
import { LAYER_CLASSES } from "./mod.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Keras `TimeDistributed(layer)`: the wrapped layer applied to every timestep of a
 * `[batch, time, …]` input with the same weights. The engine runs it as one call of the inner
 * layer on `[batch·time, …]` (a zero-copy reshape: the timesteps of a sample are contiguous) and
 * reshapes the result back to `[batch, time, …]`. Weights are the inner layer's, in its Keras
 * order and with its names; Keras 3 keeps them under the wrapper's attribute `layer`
 * (`layers/time_distributed/layer/vars`). The input mask (`[batch, time]`) is not passed to the
 * inner layer (Keras passes each timestep's `[batch]` slice only to layers whose `call` takes a
 * mask, which the layers the engine can wrap do not use per sample) and goes on unchanged, as
 * Keras 3's `supports_masking` does.
 */
export class TimeDistributed extends Layer {
  /** The wrapped layer (built with the per-timestep input shape). */
  readonly inner: Layer;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("TimeDistributed", config, options);
    const v = config.layer as { class_name?: unknown; config?: unknown } | undefined;
    if (
      !v || typeof v !== "object" || typeof v.class_name !== "string" || !v.config ||
      typeof v.config !== "object"
    ) {
      throw new LayerConfigError(
        this.name,
        "layer",
        `expected a {class_name, config} object, got ${JSON.stringify(v)}`,
      );
    }
    const create = options.createLayer;
    if (!create) {
      throw new LayerConfigError(
        this.name,
        "layer",
        "building the wrapped layer needs LayerBuildOptions.createLayer (set by the model builder)",
      );
    }
    const innerConfig = { ...(v.config as LayerConfig) };
    const innerName = String(innerConfig.name ?? v.class_name.toLowerCase());
    if (v.class_name === "InputLayer" || v.class_name === "TimeDistributed") {
      throw new UnsupportedLayerError(
        v.class_name,
        innerName,
        `TimeDistributed "${this.name}" cannot wrap a ${v.class_name}`,
      );
    }
    this.inner = create({ class_name: v.class_name, config: innerConfig }, options);
    if (this.inner.multiInput) {
      throw new UnsupportedLayerError(
        v.class_name,
        innerName,
        `TimeDistributed "${this.name}" wraps single-input layers only`,
      );
    }
  }

  /** The per-timestep shape `[…]` of an input shape `[time, …]` (no batch). */
  #stepShape(inputShape: Shape): Shape {
    if (inputShape.length < 2) {
      throw new InputShapeError(
        this.name,
        "rank ≥ 3 (batch, time, …)",
        formatShape(inputShape),
      );
    }
    return inputShape.slice(1);
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [inputShape[0] ?? null, ...this.inner.computeOutputShape(this.#stepShape(inputShape))];
  }

  /** The wrapped layer's weight names (Keras `get_weights()` order). */
  override weightNames(): string[] {
    return this.inner.weightNames();
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    return this.inner.weightSpecs(this.#stepShape(inputShape));
  }

  /**
   * Keras 3 saves the wrapper's own (empty) `vars`, then the wrapped layer under its attribute
   * name `layer`, each group named after the wrapped layer.
   */
  override kerasVarGroups(): KerasVarGroup[] {
    return [
      { path: "vars", start: 0, count: 0 },
      ...this.inner.kerasVarGroups().map((g) => ({
        path: `layer/${g.path}`,
        start: g.start,
        count: g.count,
        objectName: g.objectName ?? this.inner.name,
      })),
    ];
  }

  override get prefersWholeBatch(): boolean {
    return this.inner.prefersWholeBatch;
  }

  override get readsIds(): boolean {
    return this.inner.readsIds;
  }

  override couplesSamples(statistics: BatchStatistics = "whole-batch"): boolean {
    return this.inner.couplesSamples(statistics);
  }

  override updatesStateInTraining(): boolean {
    return this.inner.updatesStateInTraining();
  }

  override initialWeight(
    name: string,
    shape: readonly number[],
    init: (shape: number[]) => Float32Array,
  ): Float32Array | undefined {
    return this.inner.initialWeight(name, shape, init);
  }

  /** Builds the wrapped layer for one timestep's shape with the given weights. */
  override buildInputs(
    inputShapes: Shape[],
    weights: WeightTensor[] | undefined,
    heap: WasmHeap,
  ): void {
    if (inputShapes.length !== 1) {
      throw new InputShapeError(this.name, "one input tensor", `${inputShapes.length} tensors`);
    }
    const inputShape = inputShapes[0];
    this.outputShape = this.computeOutputShape(inputShape);
    this.inputShapes = [[...inputShape]];
    this.inputShape = [...inputShape];
    this.inner.build(this.#stepShape(inputShape), weights, heap);
  }

  override getWeights(): WeightTensor[] {
    return this.inner.getWeights();
  }

  override setWeights(weights: WeightTensor[]): void {
    this.inner.setWeights(weights);
  }

  override deviceWeights(): readonly number[] {
    return this.inner.deviceWeights();
  }

  override weightsUpdated(): void {
    this.inner.weightsUpdated();
  }

  override get weightsVersion(): number {
    return this.inner.weightsVersion;
  }

  override weightTrainable(): boolean[] {
    return this.inner.weightTrainable();
  }

  override dispose(): void {
    this.inner.dispose();
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, time] = x.shape;
    const y = this.inner.call(stepView(x), null, ctx);
    return timeView(y, batch, time);
  }

  /** The input mask goes on unchanged (Keras 3 `supports_masking`). */
  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** `[b, t, …]` as `[b·t, …]` (same memory). */
function stepView(x: DeviceTensor): DeviceTensor {
  const [b, t, ...rest] = x.shape;
  return { ptr: x.ptr, shape: [b * t, ...rest], dtype: x.dtype };
}

/** `[b·t, …]` as `[b, t, …]` (same memory). */
function timeView(y: DeviceTensor, batch: number, time: number): DeviceTensor {
  return { ptr: y.ptr, shape: [batch, time, ...y.shape.slice(1)], dtype: y.dtype };
}

/** The training behaviour of the wrapped layer's class, or an error naming both layers. */
function innerTraining(layer: TimeDistributed): LayerTraining {
  const cls = layer.inner.className;
  const def = LAYER_CLASSES.find((d) => d.className === cls || d.aliases?.includes(cls));
  if (!def?.training) {
    throw new UntrainableLayerError(
      cls,
      `${layer.name}/${layer.inner.name}`,
      `wrapped by TimeDistributed "${layer.name}"`,
    );
  }
  return def.training;
}

/**
 * The context the wrapped layer sees: the same tape and step, with sample indices counted in
 * timesteps (`[batch·time]` rows), so counter-based random draws stay independent of the split.
 */
function innerContext(ctx: TrainContext, time: number): TrainContext {
  return { ...ctx, sampleOffset: ctx.sampleOffset * time };
}

/**
 * TimeDistributed in training: the wrapped layer's training forward and backward on the
 * `[batch·time, …]` view; its weight gradients are summed over every timestep by construction.
 */
const TIME_DISTRIBUTED_TRAINING: LayerTraining<TimeDistributed> = {
  forward(layer, x, _mask, ctx) {
    const impl = innerTraining(layer);
    if (ctx.training && layer.inner.couplesSamples()) {
      // Keras calls the wrapped layer once per timestep: batch statistics per timestep, which
      // one call over [batch·time] rows would not reproduce.
      throw new UntrainableLayerError(
        layer.inner.className,
        `${layer.name}/${layer.inner.name}`,
        `wrapped by TimeDistributed "${layer.name}": its batch statistics are per timestep in ` +
          "Keras; freeze it (trainable: false) to train the rest",
      );
    }
    const [batch, time] = x.shape;
    const inner = innerContext(ctx, time);
    const view = stepView(x);
    const y = impl.forward
      ? impl.forward(layer.inner, view, null, inner)
      : layer.inner.call(view, null, inner);
    return timeView(y, batch, time);
  },

  backward(layer, a) {
    const impl = innerTraining(layer);
    const [batch, time] = a.x.shape;
    const x = stepView(a.x);
    const ret = impl.backward(layer.inner, {
      ...a,
      x,
      y: stepView(a.y),
      mask: null,
      xs: [x],
      masks: [null],
      dy: stepView(a.dy),
      needInputGrads: [a.needInputGrad],
      ctx: innerContext(a.ctx, time),
    });
    const dx = Array.isArray(ret) ? ret[0] ?? null : ret;
    return dx && timeView(dx, batch, time);
  },

  params: (layer) => innerTraining(layer).params?.(layer.inner) ?? [layer.inner],
  trainable: (layer) =>
    innerTraining(layer).trainable?.(layer.inner) ?? layer.inner.weightTrainable(),
  outputActivation: (layer) => innerTraining(layer).outputActivation?.(layer.inner) ?? null,
  afterUpdate: (layer) => innerTraining(layer).afterUpdate?.(layer.inner),
};

/**
 * TimeDistributed in ONNX: the timesteps folded into the batch (Reshape to `[N·T, …]`), the inner
 * layer's own nodes, the timesteps unfolded again; needs static timesteps and step shape.
 */
function timeDistributedOnnx(layer: TimeDistributed, ctx: OnnxLayerContext): void {
  const [time, ...step] = ctx.inputShapes[0];
  const [, ...stepOut] = ctx.outputShape;
  if (time === null || [...step, ...stepOut].some((d) => d === null)) {
    ctx.refuse("unknown timesteps or step dimensions (the fold needs static shapes)");
  }
  const folded = ctx.fresh("steps_as_batch"), inner = ctx.fresh("inner_out");
  ctx.node("Reshape", [ctx.inputs[0], ctx.int64s("shape", [-1, ...step as number[]])], [folded]);
  ctx.emitLayer(layer.inner, {
    inputs: [folded],
    inputShapes: [step],
    output: inner,
    outputShape: stepOut,
  });
  const unfold = ctx.int64s("shape", [-1, time, ...stepOut as number[]]);
  ctx.node("Reshape", [inner, unfold], [ctx.output]);
}

/** The `TimeDistributed` layer class (see `layer_class.ts`). */
export const TIME_DISTRIBUTED: LayerClass<TimeDistributed> = defineLayer({
  className: "TimeDistributed",
  create: (config, options) => new TimeDistributed(config, options),
  training: TIME_DISTRIBUTED_TRAINING,
  onnx: timeDistributedOnnx,
});
