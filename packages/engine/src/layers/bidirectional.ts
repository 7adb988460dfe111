import {
  recurrentBackward,
  type RecurrentTape,
  recurrentTrainForward,
  tapeBuffers,
} from "./recurrent_training.ts";
import type { LayerTraining } from "../layer_training.ts";
import { LayerConfigError, UnsupportedLayerError, WeightShapeError } from "../errors.ts";
import { MERGE_CODES } from "../kernels/rnn_codes.ts";
import {
  type CallContext,
  type KerasVarGroup,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
  type WeightTensor,
} from "../layer.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { parallelRanges, runJobs } from "../wasm/threads.ts";
import { RecurrentLayer, type RecurrentOutput } from "./recurrent.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { emitRecurrentOnnx } from "./recurrent_onnx.ts";

const MERGE_MODES = ["concat", "sum", "mul", "ave"] as const;
type MergeMode = typeof MERGE_MODES[number];

/**
 * Keras `Bidirectional` around SimpleRNN / LSTM / GRU. The config nests `layer` (and optionally
 * `backward_layer`) as `{class_name, config}`; without `backward_layer` the backward RNN is the
 * forward config with `go_backwards` flipped. Weights: the forward layer's, then the backward
 * layer's, each in Keras order. With `return_sequences`, the backward output is flipped back in
 * time and masked steps output zeros (Keras forces `zero_output_for_mask` there).
 */
export class Bidirectional extends Layer {
  readonly mergeMode: MergeMode;
  readonly forward: RecurrentLayer;
  readonly backward: RecurrentLayer;
  readonly returnSequences: boolean;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Bidirectional", config, options);
    if (config.merge_mode === null) {
      throw new LayerConfigError(
        this.name,
        "merge_mode",
        "None (two separate outputs) is not supported: the engine runs a chain of layers",
      );
    }
    this.mergeMode = this.oneOf("merge_mode", MERGE_MODES, "concat");
    const inner = this.#wrapped("layer");
    const innerName = String(inner.config.name ?? inner.class_name.toLowerCase())
      .replace(/^forward_/, "");
    this.forward = this.#instantiate(
      inner,
      { ...inner.config, name: `${this.name}/forward_${innerName}` },
      options,
    );
    const given = config.backward_layer === undefined || config.backward_layer === null
      ? undefined
      : this.#wrapped("backward_layer");
    const backCfg = given
      ? { ...given.config, name: `${this.name}/${given.config.name ?? "backward"}` }
      : {
        ...inner.config,
        name: `${this.name}/backward_${innerName}`,
        go_backwards: !(inner.config.go_backwards ?? false),
      };
    this.backward = this.#instantiate(given ?? inner, backCfg, options);
    if (this.forward.goBackwards === this.backward.goBackwards) {
      throw new LayerConfigError(
        this.name,
        "backward_layer",
        `forward and backward layers must differ in go_backwards (both ${this.forward.goBackwards})`,
      );
    }
    if (this.forward.returnSequences !== this.backward.returnSequences) {
      throw new LayerConfigError(
        this.name,
        "backward_layer",
        `return_sequences differs between forward (${this.forward.returnSequences}) and backward`,
      );
    }
    if (this.mergeMode !== "concat" && this.forward.units !== this.backward.units) {
      throw new LayerConfigError(
        this.name,
        "merge_mode",
        `${this.mergeMode} needs equal units, got forward ${this.forward.units} and backward ${this.backward.units}`,
      );
    }
    this.returnSequences = this.forward.returnSequences;
  }

  #wrapped(field: string): { class_name: string; config: LayerConfig } {
    const v = this.config[field] as { class_name?: unknown; config?: unknown } | undefined;
    if (!v || typeof v !== "object" || typeof v.class_name !== "string" || !v.config) {
      throw new LayerConfigError(
        this.name,
        field,
        `expected a {class_name, config} object, got ${JSON.stringify(v)}`,
      );
    }
    return { class_name: v.class_name, config: v.config as LayerConfig };
  }

  #instantiate(
    obj: { class_name: string },
    config: LayerConfig,
    options: LayerBuildOptions,
  ): RecurrentLayer {
    const create = options.createLayer;
    if (!create) {
      throw new LayerConfigError(
        this.name,
        "layer",
        "building the wrapped layer needs LayerBuildOptions.createLayer (set by the model builder)",
      );
    }
    const refuse = () =>
      new UnsupportedLayerError(
        obj.class_name,
        String(config.name),
        "Bidirectional wraps only recurrent layers (SimpleRNN, LSTM, GRU)",
      );
    let layer: Layer;
    try {
      layer = create({ class_name: obj.class_name, config }, options);
    } catch (e) {
      if (e instanceof UnsupportedLayerError && e.className === obj.class_name) throw refuse();
      throw e;
    }
    if (!(layer instanceof RecurrentLayer)) throw refuse();
    return layer;
  }

  computeOutputShape(inputShape: Shape): Shape {
    const f = this.forward.computeOutputShape(inputShape);
    this.backward.computeOutputShape(inputShape);
    const last = this.mergeMode === "concat"
      ? this.forward.units + this.backward.units
      : this.forward.units;
    return [...f.slice(0, -1), last];
  }

  /** The forward layer's weight names prefixed `forward/`, then the backward's `backward/`. */
  override weightNames(): string[] {
    return [
      ...this.forward.weightNames().map((n) => `forward/${n}`),
      ...this.backward.weightNames().map((n) => `backward/${n}`),
    ];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const named = (l: RecurrentLayer, role: string) =>
      l.weightSpecs(inputShape).map((s) => ({ ...s, name: `${role}/${s.name}` }));
    return [...named(this.forward, "forward"), ...named(this.backward, "backward")];
  }

  /**
   * Keras 3 keeps the wrapped layers as `forward_layer` and `backward_layer`, each with its own
   * (empty) `vars` named after the wrapped config and its cell's `cell/vars`. Keras visits
   * attributes in sorted order, so the backward layer's groups come first.
   */
  override kerasVarGroups(): KerasVarGroup[] {
    const nf = this.forward.weightNames().length;
    const side = (attr: string, layer: RecurrentLayer, field: string, start: number) => {
      const raw = (this.config[field] ?? this.config.layer) as { config?: LayerConfig };
      const objectName = String(raw.config?.name ?? attr);
      return layer.kerasVarGroups().map((g) => ({
        path: `${attr}/${g.path}`,
        start: start + g.start,
        count: g.count,
        objectName: g.objectName ?? objectName,
      }));
    };
    return [
      { path: "vars", start: 0, count: 0 },
      ...side("backward_layer", this.backward, "backward_layer", nf),
      ...side("forward_layer", this.forward, "layer", 0),
    ];
  }

  /** Bidirectional runs the whole batch at once, as its recurrent layers do. */
  override get prefersWholeBatch(): boolean {
    return true;
  }

  /** Initial values follow the wrapped forward layer (LSTM's `unit_forget_bias`). */
  override initialWeight(
    name: string,
    shape: readonly number[],
    init: (shape: number[]) => Float32Array,
  ): Float32Array | undefined {
    return this.forward.initialWeight(name.split("/").pop() ?? name, shape, init);
  }

  /** Builds the two wrapped layers from the forward weights then the backward weights. */
  override buildInputs(
    inputShapes: Shape[],
    weights: WeightTensor[] | undefined,
    heap: WasmHeap,
  ): void {
    const inputShape = inputShapes[0] ?? [];
    this.inputShapes = [[...inputShape]];
    this.inputShape = [...inputShape];
    this.outputShape = this.computeOutputShape(inputShape);
    const nf = this.forward.weightSpecs(inputShape).length;
    const specs = this.weightSpecs(inputShape);
    const given = weights ?? [];
    if (given.length !== specs.length) {
      throw new WeightShapeError(
        this.name,
        "(count)",
        `${specs.length} arrays (${specs.map((s) => `${s.name}[${s.shape}]`).join(", ")})`,
        `${given.length} arrays`,
      );
    }
    this.forward.build(inputShape, given.slice(0, nf), heap);
    this.backward.build(inputShape, given.slice(nf), heap);
  }

  override getWeights(): WeightTensor[] {
    return [...this.forward.getWeights(), ...this.backward.getWeights()];
  }

  /** Replaces the forward layer's then the backward layer's weights (Keras `set_weights`). */
  override setWeights(weights: WeightTensor[]): void {
    const nf = this.forward.getWeights().length;
    const total = nf + this.backward.getWeights().length;
    if (!Array.isArray(weights) || weights.length !== total) {
      throw new WeightShapeError(
        this.name,
        "(count)",
        `${total} arrays`,
        `${Array.isArray(weights) ? weights.length : typeof weights}`,
      );
    }
    // Check both halves before changing either, so a bad array leaves the layer as it was.
    const specs = this.weightSpecs(this.inputShape);
    specs.forEach((spec, i) => {
      const w = weights[i];
      const same = w.shape.length === spec.shape.length &&
        w.shape.every((d, j) => d === spec.shape[j]) && w.data.length === sizeOf(spec.shape);
      if (!same) throw new WeightShapeError(this.name, spec.name, spec.shape, w.shape);
    });
    this.forward.setWeights(weights.slice(0, nf));
    this.backward.setWeights(weights.slice(nf));
  }

  override dispose(): void {
    this.forward.dispose();
    this.backward.dispose();
  }

  call(x: DeviceTensor, mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, time] = x.shape;
    const seq = this.returnSequences;
    const uf = this.forward.units, ub = this.backward.units;
    const width = this.mergeMode === "concat" ? uf + ub : uf;
    const y = this.allocOutput(ctx, seq ? [batch, time, width] : [batch, width]);
    let tmp = 0;
    const works: number[] = [];
    try {
      const outF: RecurrentOutput = {
        ptr: y.ptr,
        rowStride: width,
        reverse: false,
        zeroOutputForMask: seq,
      };
      const concat = this.mergeMode === "concat";
      if (!concat) tmp = ctx.heap.alloc(sizeOf(y.shape) * 4);
      const outB: RecurrentOutput = concat
        ? { ptr: y.ptr + uf * 4, rowStride: width, reverse: seq, zeroOutputForMask: seq }
        : { ptr: tmp, rowStride: ub, reverse: seq, zeroOutputForMask: seq };
      const flops = this.forward.sequenceFlops(x) + this.backward.sequenceFlops(x);
      if (parallelRanges(ctx.kernels, 2, flops).length === 2) {
        // Kernel threads on: the two directions run at the same time, one per thread.
        const f = this.forward.sequenceJobs(x, mask, ctx, outF, [[0, batch]]);
        works.push(...f.works);
        const b = this.backward.sequenceJobs(x, mask, ctx, outB, [[0, batch]]);
        works.push(...b.works);
        runJobs(ctx.kernels, [...f.jobs, ...b.jobs]);
      } else {
        this.forward.runInto(x, mask, ctx, outF);
        this.backward.runInto(x, mask, ctx, outB);
      }
      if (!concat) ctx.kernels.rnnMerge(y.ptr, tmp, sizeOf(y.shape), MERGE_CODES[this.mergeMode]);
    } catch (e) {
      ctx.heap.free(y.ptr);
      throw e;
    } finally {
      ctx.heap.free(tmp);
      for (const w of works) ctx.heap.free(w);
    }
    return y;
  }

  /** The mask goes on with the sequences; a last-step output ends it. */
  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return this.returnSequences ? mask : null;
  }
}

// ---- training ----------------------------------------------------------------------------

interface BidirectionalTape {
  forward: RecurrentTape;
  backward: RecurrentTape;
  /** Each direction's own output (merge modes other than concat), for `mul`'s gradient. */
  yForward: number;
  yBackward: number;
}

/**
 * Bidirectional in training: both inner layers run the recurrent training forward (the backward
 * one's sequence output flipped back in time, masked steps zeroed as Keras forces), then the merge;
 * backward splits the output gradient by merge mode (concat: column slices; sum: the same; ave:
 * halves; mul: times the other direction's output), runs backprop through time for each, and sums
 * their input gradients. Weights: the forward layer's, then the backward layer's.
 */
const BIDIRECTIONAL_TRAINING: LayerTraining<Bidirectional> = {
  forward(layer, x, mask, ctx) {
    const { heap, kernels } = ctx;
    const [batch, time] = x.shape;
    const seq = layer.returnSequences;
    const uf = layer.forward.units, ub = layer.backward.units;
    const width = layer.mergeMode === "concat" ? uf + ub : uf;
    const shape = seq ? [batch, time, width] : [batch, width];
    const n = sizeOf(shape);
    const y: DeviceTensor = { ptr: heap.alloc(n * 4), shape, dtype: "float32" };
    try {
      const concat = layer.mergeMode === "concat";
      const yForward = concat ? 0 : ctx.keep(heap.alloc(n * 4));
      const yBackward = concat ? 0 : ctx.keep(heap.alloc(n * 4));
      const forward = recurrentTrainForward(layer.forward, x, mask, ctx, {
        ptr: concat ? y.ptr : yForward,
        rowStride: concat ? width : uf,
        reverse: false,
        zeroOutputForMask: seq,
      });
      for (const p of tapeBuffers(forward)) ctx.keep(p);
      const backward = recurrentTrainForward(layer.backward, x, mask, ctx, {
        ptr: concat ? y.ptr + uf * 4 : yBackward,
        rowStride: concat ? width : ub,
        reverse: seq,
        zeroOutputForMask: seq,
      });
      for (const p of tapeBuffers(backward)) ctx.keep(p);
      if (!concat) {
        heap.f32(y.ptr, n).set(heap.f32(yForward, n));
        kernels.rnnMerge(y.ptr, yBackward, n, MERGE_CODES[layer.mergeMode]);
      }
      const tape: BidirectionalTape = { forward, backward, yForward, yBackward };
      ctx.tape.set(layer, tape);
    } catch (e) {
      heap.free(y.ptr);
      throw e;
    }
    return y;
  },

  backward(layer, a) {
    const { ctx, x } = a;
    const { heap, kernels } = ctx;
    const tape = ctx.tape.get(layer) as BidirectionalTape;
    const uf = layer.forward.units, ub = layer.backward.units;
    const n = sizeOf(a.dy.shape);
    const nf = layer.forward.deviceWeights().length;
    const owned: number[] = [];
    let dOutF = a.dy.ptr, dOutB = a.dy.ptr, ldF = uf, ldB = ub;
    const dx: DeviceTensor | null = a.needInputGrad
      ? { ptr: heap.alloc(sizeOf(x.shape) * 4), shape: [...x.shape], dtype: "float32" }
      : null;
    try {
      switch (layer.mergeMode) {
        case "concat":
          dOutB = a.dy.ptr + uf * 4;
          ldF = ldB = uf + ub;
          break;
        case "sum":
          break;
        case "ave":
          kernels.scaleInPlace(a.dy.ptr, n, 0.5);
          break;
        case "mul":
          dOutF = heap.alloc(n * 4);
          owned.push(dOutF);
          dOutB = heap.alloc(n * 4);
          owned.push(dOutB);
          kernels.multiplyElementwise(a.dy.ptr, tape.yBackward, dOutF, n);
          kernels.multiplyElementwise(a.dy.ptr, tape.yForward, dOutB, n);
          break;
      }
      recurrentBackward(
        layer.forward,
        x,
        a.mask,
        tape.forward,
        dOutF,
        ldF,
        a.grads.slice(0, nf),
        ctx,
        dx && { ptr: dx.ptr, accumulate: false },
      );
      recurrentBackward(
        layer.backward,
        x,
        a.mask,
        tape.backward,
        dOutB,
        ldB,
        a.grads.slice(nf),
        ctx,
        dx && { ptr: dx.ptr, accumulate: true },
      );
    } catch (e) {
      if (dx) heap.free(dx.ptr);
      throw e;
    } finally {
      for (const p of owned) heap.free(p);
    }
    return dx;
  },

  params: (layer) => [layer.forward, layer.backward],
};

/** The `Bidirectional` layer class (see `layer_class.ts`). */
export const BIDIRECTIONAL: LayerClass<Bidirectional> = defineLayer({
  className: "Bidirectional",
  create: (config, options) => new Bidirectional(config, options),
  training: BIDIRECTIONAL_TRAINING,
  onnx: (layer, ctx) => emitRecurrentOnnx(ctx, [layer.forward, layer.backward], layer.mergeMode),
});
