/**
 * Runs one layer class's training-mode forward and backward directly on host data, with a
 * chosen step seed and sample offset — for tests of layers whose training forward draws random
 * numbers (their outputs are not reachable through `predict`), or whose backward is checked
 * against a reference on its own.
 *
 * @module
 */
import {
  type BackwardArgs,
  type DeviceTensor,
  getRuntime,
  type LayerClass,
  type LayerConfig,
  type Shape,
  sizeOf,
  type TrainContext,
} from "../mod.ts";

/** Options of {@link runLayerTraining}. */
export interface LayerTrainingRunOptions {
  /** The layer's step seed (what `ctx.seedFor(layer)` returns). */
  seed: number;
  /** Index of the first sample within the whole batch (default 0). */
  sampleOffset?: number;
  /** `ctx.training` (default true; false: a call Keras runs in inference mode). */
  training?: boolean;
  /**
   * ∂loss/∂y, or a function drawing it for the output's length: when given, the backward runs
   * and `dx` is returned.
   */
  dy?: Float32Array | ((yLength: number) => Float32Array);
}

/** The output of one training-mode call and, when `dy` was given, it and the input gradient. */
export interface LayerTrainingRun {
  y: Float32Array;
  dy?: Float32Array;
  dx?: Float32Array;
}

/**
 * Builds a weightless layer of class `def` from `config` for inputs of `xShape` (with batch),
 * runs its training forward on `x` (and its backward on `options.dy`); frees every device buffer
 * and the layer before returning.
 */
export function runLayerTraining(
  def: LayerClass,
  config: LayerConfig,
  x: Float32Array,
  xShape: number[],
  options: LayerTrainingRunOptions,
): LayerTrainingRun {
  const { kernels, heap } = getRuntime();
  const impl = def.training;
  if (!impl) throw new Error(`${def.className} has no training definition`);
  const layer = def.create(structuredClone(config), {});
  const owned: number[] = [];
  const keep = (p: number) => {
    if (!owned.includes(p)) owned.push(p);
    return p;
  };
  try {
    layer.build(xShape.slice(1) as Shape, [], heap);
    const ctx: TrainContext = {
      kernels,
      heap,
      training: options.training ?? true,
      trainable: true,
      tape: new Map(),
      keep,
      seedFor: () => options.seed,
      sampleOffset: options.sampleOffset ?? 0,
    };
    const xt: DeviceTensor = { ptr: keep(heap.upload(x)), shape: [...xShape], dtype: "float32" };
    const yt = impl.forward ? impl.forward(layer, xt, null, ctx) : layer.call(xt, null, ctx);
    keep(yt.ptr);
    const y = heap.f32(yt.ptr, sizeOf(yt.shape)).slice();
    if (!options.dy) return { y };
    const dy = typeof options.dy === "function" ? options.dy(y.length) : options.dy;
    const dyt: DeviceTensor = {
      ptr: keep(heap.upload(dy)),
      shape: [...yt.shape],
      dtype: "float32",
    };
    const args: BackwardArgs = {
      x: xt,
      y: yt,
      mask: null,
      xs: [xt],
      masks: [null],
      dy: dyt,
      dys: [dyt],
      ys: [yt],
      dyIsPreActivation: false,
      weights: [],
      grads: [],
      needInputGrad: true,
      needInputGrads: [true],
      ctx,
    };
    const dx = impl.backward(layer, args) as DeviceTensor;
    keep(dx.ptr);
    return { y, dy, dx: heap.f32(dx.ptr, x.length).slice() };
  } finally {
    for (const p of owned) heap.free(p);
    layer.dispose();
  }
}
