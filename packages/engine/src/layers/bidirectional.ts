import {
  recurrentBackward,
  type RecurrentTape,
  recurrentTrainForward,
  tapeBuffers,
} from "./recurrent_training.ts";
import type { BackwardArgs, LayerTraining, TrainContext } from "../layer_training.ts";
import {
  InputShapeError,
  LayerConfigError,
  UnsupportedLayerError,
  WeightShapeError,
} from "../errors.ts";
import { MERGE_CODES } from "../kernels/rnn_codes.ts";
import {
  type CallContext,
  type KerasVarGroup,
  type Layer,
  type LayerBuildOptions,
  type LayerConfig,
  MultiOutputLayer,
  type WeightSpec,
  type WeightTensor,
} from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { parallelRanges, runJobs } from "../wasm/threads.ts";
import { RecurrentLayer, type RecurrentOutput, type RecurrentStates } from "./recurrent.ts";
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
export class Bidirectional extends MultiOutputLayer {
  /** How the directions' outputs combine; null (Keras `None`): two outputs, forward's first. */
  readonly mergeMode: MergeMode | null;
  readonly forward: RecurrentLayer;
  readonly backward: RecurrentLayer;
  readonly returnSequences: boolean;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Bidirectional", config, options);
    this.mergeMode = config.merge_mode === null
      ? null
      : this.oneOf("merge_mode", MERGE_MODES, "concat");
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
    if (
      this.mergeMode !== "concat" && this.mergeMode !== null &&
      this.forward.units !== this.backward.units
    ) {
      throw new LayerConfigError(
        this.name,
        "merge_mode",
        `${this.mergeMode} needs equal units, got forward ${this.forward.units} and backward ${this.backward.units}`,
      );
    }
    if (this.forward.returnState !== this.backward.returnState) {
      throw new LayerConfigError(
        this.name,
        "backward_layer",
        `return_state differs between forward (${this.forward.returnState}) and backward`,
      );
    }
    this.returnSequences = this.forward.returnSequences;
    this.returnState = this.forward.returnState;
  }

  /** The wrapped layer's `return_state`: the output, the forward states, the backward states. */
  readonly returnState: boolean;

  /** The directions' outputs before the states: 2 with merge_mode None, else 1. */
  get directionOutputs(): number {
    return this.mergeMode === null ? 2 : 1;
  }

  override get outputCount(): number {
    const states = this.returnState ? this.forward.stateCount + this.backward.stateCount : 0;
    return this.directionOutputs + states;
  }

  /**
   * The sequence, optionally followed by the initial states (Keras `initial_state`): the forward
   * layer's, then the backward layer's.
   */
  override computeOutputShapes(inputShapes: Shape[]): Shape {
    const states = inputShapes.length - 1;
    const want = this.forward.stateCount + this.backward.stateCount;
    if (states !== 0 && states !== want) {
      throw new InputShapeError(
        this.name,
        `the sequence and ${want} initial state tensors (forward's, then backward's)`,
        `${inputShapes.length} tensors`,
      );
    }
    if (states) {
      const nf = this.forward.stateCount;
      this.forward.computeOutputShapes([inputShapes[0], ...inputShapes.slice(1, 1 + nf)]);
      this.backward.computeOutputShapes([inputShapes[0], ...inputShapes.slice(1 + nf)]);
    }
    return this.computeOutputShape(inputShapes[0]);
  }

  override computeOutputShapeList(inputShapes: Shape[]): Shape[] {
    const out = this.computeOutputShapes(inputShapes);
    const outs = this.mergeMode === null
      ? [out, [...out.slice(0, -1), this.backward.units]]
      : [out];
    if (!this.returnState) return outs;
    const side = (l: RecurrentLayer) => Array.from({ length: l.stateCount }, () => [l.units]);
    return [...outs, ...side(this.forward), ...side(this.backward)];
  }

  /** The calls' inputs `[x, forward states…, backward states…]` split per direction. */
  #directions(xs: readonly DeviceTensor[]): [DeviceTensor[], DeviceTensor[]] {
    const nf = this.forward.stateCount;
    if (xs.length === 1) return [[xs[0]], [xs[0]]];
    if (xs.length !== 1 + nf + this.backward.stateCount) {
      throw new InputShapeError(
        this.name,
        `the sequence and ${nf + this.backward.stateCount} initial state tensors`,
        `${xs.length} tensors (${xs.map((t) => formatShape(t.shape)).join(", ")})`,
      );
    }
    return [[xs[0], ...xs.slice(1, 1 + nf)], [xs[0], ...xs.slice(1 + nf)]];
  }

  /** One direction's states: its initial states, and where its final ones go. */
  stateArgs(
    layer: RecurrentLayer,
    xs: readonly DeviceTensor[],
    finals: readonly DeviceTensor[],
  ): RecurrentStates {
    return { ...layer.initialStates(xs), hT: finals[0]?.ptr ?? 0, cT: finals[1]?.ptr ?? 0 };
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
    this.inputShapes = inputShapes.map((s) => [...s]);
    this.inputShape = [...inputShape];
    this.outputShape = this.computeOutputShapes(inputShapes);
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

  /**
   * One inference call: the merged output (merge_mode None: the forward's, then the backward's),
   * then, with `all` and `return_state`, every final state.
   */
  runOutputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    all: boolean,
  ): DeviceTensor[] {
    return this.#run(xs, masks, ctx, all, null);
  }

  /**
   * One inference call on the directions' input projections (`[batch, time, gates·units]`
   * each, input·kernel + bias, forward's first; see `embedding_projection.ts`) instead of the
   * input: the merged output.
   */
  runProjected(
    projections: readonly [DeviceTensor, DeviceTensor],
    mask: DeviceTensor | null,
    ctx: CallContext,
  ): DeviceTensor {
    return this.#run([projections[0]], [mask], ctx, false, projections)[0];
  }

  #run(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    all: boolean,
    projections: readonly [DeviceTensor, DeviceTensor] | null,
  ): DeviceTensor[] {
    const withStates = all && this.returnState;
    const x = xs[0];
    const [xF, xB] = projections ?? [x, x];
    const projected = projections !== null;
    const mask = masks[0] ?? null;
    const [xsF, xsB] = this.#directions(xs);
    const [batch, time] = x.shape;
    const seq = this.returnSequences;
    const uf = this.forward.units, ub = this.backward.units;
    const width = this.mergeMode === "concat" ? uf + ub : uf;
    const y = this.allocOutput(ctx, seq ? [batch, time, width] : [batch, width]);
    const split = this.mergeMode === null;
    // merge_mode None: the backward direction's own output (kept when all outputs are wanted).
    const yB = split ? this.allocOutput(ctx, seq ? [batch, time, ub] : [batch, ub]) : null;
    if (split && seq && mask) {
      ctx.heap.free(y.ptr);
      ctx.heap.free(yB!.ptr);
      throw new UnsupportedLayerError(
        "Bidirectional",
        this.name,
        "merge_mode=None with return_sequences on a masked sequence (the second output's mask)",
      );
    }
    const finalsF: DeviceTensor[] = [], finalsB: DeviceTensor[] = [];
    let tmp = 0;
    const works: number[] = [];
    try {
      if (withStates) {
        for (let k = 0; k < this.forward.stateCount; k++) {
          finalsF.push(this.allocOutput(ctx, [batch, uf]));
        }
        for (let k = 0; k < this.backward.stateCount; k++) {
          finalsB.push(this.allocOutput(ctx, [batch, ub]));
        }
      }
      const statesF = this.stateArgs(this.forward, xsF, finalsF);
      const statesB = this.stateArgs(this.backward, xsB, finalsB);
      const outF: RecurrentOutput = {
        ptr: y.ptr,
        rowStride: width,
        reverse: false,
        zeroOutputForMask: seq,
      };
      const concat = this.mergeMode === "concat";
      if (!concat && !split) tmp = ctx.heap.alloc(sizeOf(y.shape) * 4);
      const outB: RecurrentOutput = concat
        ? { ptr: y.ptr + uf * 4, rowStride: width, reverse: seq, zeroOutputForMask: seq }
        : { ptr: split ? yB!.ptr : tmp, rowStride: ub, reverse: seq, zeroOutputForMask: seq };
      // Weighted ×4: a recurrence's small per-step products run at about a quarter of the GEMM
      // rate the kernel-thread threshold assumes (BiGRU 1×64 at batch 1, 0.4 ms a call, stayed
      // on one thread unweighted).
      const flops = 4 *
        (this.forward.sequenceFlops(xF.shape, projected) +
          this.backward.sequenceFlops(xB.shape, projected));
      if (parallelRanges(ctx.kernels, 2, flops).length === 2) {
        // Kernel threads on: the two directions run at the same time, one per thread.
        const f = this.forward.sequenceJobs(xF, mask, ctx, outF, 1, statesF, projected);
        works.push(...f.works);
        const b = this.backward.sequenceJobs(xB, mask, ctx, outB, 1, statesB, projected);
        works.push(...b.works);
        runJobs(ctx.kernels, [...f.jobs, ...b.jobs]);
        f.finish();
        b.finish();
      } else {
        this.forward.runInto(xF, mask, ctx, outF, statesF, projected);
        this.backward.runInto(xB, mask, ctx, outB, statesB, projected);
      }
      if (this.mergeMode !== null && !concat) {
        ctx.kernels.rnnMerge(y.ptr, tmp, sizeOf(y.shape), MERGE_CODES[this.mergeMode]);
      }
    } catch (e) {
      for (const t of [y, ...(yB ? [yB] : []), ...finalsF, ...finalsB]) ctx.heap.free(t.ptr);
      throw e;
    } finally {
      if (tmp) ctx.heap.free(tmp);
      for (const w of works) ctx.heap.free(w);
    }
    if (yB && !all) {
      ctx.heap.free(yB.ptr);
      return [y];
    }
    return [y, ...(yB ? [yB] : []), ...finalsF, ...finalsB];
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
    return bidirectionalTrainCall(layer, [x], mask, ctx)[0];
  },

  forwardInputs(layer, xs, masks, ctx) {
    const outs = bidirectionalTrainCall(layer, xs, masks[0] ?? null, ctx);
    return outs.length > 1 ? outs : outs[0];
  },

  backward(layer, a) {
    return bidirectionalBackward(layer, a);
  },

  params: (layer) => [layer.forward, layer.backward],
};

/** The training forward of one call: the merged output, then (`return_state`) every state. */
function bidirectionalTrainCall(
  layer: Bidirectional,
  xs: readonly DeviceTensor[],
  mask: DeviceTensor | null,
  ctx: TrainContext,
): DeviceTensor[] {
  const x = xs[0];
  const { heap, kernels } = ctx;
  const [batch, time] = x.shape;
  const seq = layer.returnSequences;
  const uf = layer.forward.units, ub = layer.backward.units;
  const width = layer.mergeMode === "concat" ? uf + ub : uf;
  const shape = seq ? [batch, time, width] : [batch, width];
  const n = sizeOf(shape);
  const y: DeviceTensor = { ptr: heap.alloc(n * 4), shape, dtype: "float32" };
  const split = layer.mergeMode === null;
  if (split && seq && mask) {
    heap.free(y.ptr);
    throw new UnsupportedLayerError(
      "Bidirectional",
      layer.name,
      "merge_mode=None with return_sequences on a masked sequence (the second output's mask)",
    );
  }
  // merge_mode None: the backward direction's output is the call's second output.
  const bShape = seq ? [batch, time, ub] : [batch, ub];
  const yB: DeviceTensor | null = split
    ? { ptr: heap.alloc(sizeOf(bShape) * 4), shape: bShape, dtype: "float32" }
    : null;
  const finalsF: DeviceTensor[] = [], finalsB: DeviceTensor[] = [];
  const state = (units: number): DeviceTensor => ({
    ptr: heap.alloc(batch * units * 4),
    shape: [batch, units],
    dtype: "float32",
  });
  try {
    if (layer.returnState) {
      for (let k = 0; k < layer.forward.stateCount; k++) finalsF.push(state(uf));
      for (let k = 0; k < layer.backward.stateCount; k++) finalsB.push(state(ub));
    }
    const nf = layer.forward.stateCount;
    const xsF = xs.length > 1 ? [x, ...xs.slice(1, 1 + nf)] : [x];
    const xsB = xs.length > 1 ? [x, ...xs.slice(1 + nf)] : [x];
    // The inner layers are not graph layers: their names pick their dropout streams.
    const noise = (l: RecurrentLayer) =>
      ctx.training ? { seed: ctx.seedFor(l), sampleOffset: ctx.sampleOffset } : null;
    const concat = layer.mergeMode === "concat";
    // Each direction's own output, kept for the merge's gradient (mul reads them).
    const merged = !concat && !split;
    const yForward = merged ? ctx.keep(heap.alloc(n * 4)) : 0;
    const yBackward = merged ? ctx.keep(heap.alloc(n * 4)) : 0;
    const forward = recurrentTrainForward(
      layer.forward,
      x,
      mask,
      ctx,
      {
        ptr: merged ? yForward : y.ptr,
        rowStride: concat ? width : uf,
        reverse: false,
        zeroOutputForMask: seq,
      },
      layer.stateArgs(layer.forward, xsF, finalsF),
      noise(layer.forward),
    );
    for (const p of tapeBuffers(forward)) ctx.keep(p);
    const backward = recurrentTrainForward(
      layer.backward,
      x,
      mask,
      ctx,
      {
        ptr: concat ? y.ptr + uf * 4 : split ? yB!.ptr : yBackward,
        rowStride: concat ? width : ub,
        reverse: seq,
        zeroOutputForMask: seq,
      },
      layer.stateArgs(layer.backward, xsB, finalsB),
      noise(layer.backward),
    );
    for (const p of tapeBuffers(backward)) ctx.keep(p);
    if (merged && layer.mergeMode !== null) {
      heap.f32(y.ptr, n).set(heap.f32(yForward, n));
      kernels.rnnMerge(y.ptr, yBackward, n, MERGE_CODES[layer.mergeMode]);
    }
    const tape: BidirectionalTape = { forward, backward, yForward, yBackward };
    ctx.tape.set(layer, tape);
  } catch (e) {
    for (const t of [y, ...(yB ? [yB] : []), ...finalsF, ...finalsB]) heap.free(t.ptr);
    throw e;
  }
  return [y, ...(yB ? [yB] : []), ...finalsF, ...finalsB];
}

/**
 * Backward of one call: the output gradient split by merge mode, each direction's backprop
 * through time (with its final states' gradients), their input gradients summed; the initial
 * states' gradients when the call passed `initial_state`.
 */
function bidirectionalBackward(
  layer: Bidirectional,
  a: BackwardArgs,
): DeviceTensor | null | (DeviceTensor | null)[] {
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
  const sf = layer.forward.stateCount, sb = layer.backward.stateCount;
  const given = a.xs.length > 1;
  // Initial states' gradients: forward's then backward's, as the call passed them.
  const dStates: (DeviceTensor | null)[] = given
    ? a.xs.slice(1).map((s, k) =>
      a.needInputGrads[k + 1]
        ? { ptr: heap.alloc(sizeOf(s.shape) * 4), shape: [...s.shape], dtype: "float32" }
        : null
    )
    : [];
  // The states' gradients follow the directions' outputs' (two with merge_mode None).
  const d0 = layer.directionOutputs;
  const gradsOf = (first: number, finals: number) => ({
    dhT: a.dys[d0 + first]?.ptr ?? 0,
    dcT: finals > 1 ? a.dys[d0 + 1 + first]?.ptr ?? 0 : 0,
    dh0: dStates[first]?.ptr ?? 0,
    dc0: finals > 1 ? dStates[first + 1]?.ptr ?? 0 : 0,
  });
  try {
    switch (layer.mergeMode) {
      case null: {
        // Two outputs: each direction has its own gradient (zeros when its output is unread).
        const dyB = a.dys[1];
        if (dyB) dOutB = dyB.ptr;
        else {
          const nb = sizeOf(a.dy.shape) / uf * ub;
          dOutB = heap.alloc(nb * 4);
          owned.push(dOutB);
          heap.f32(dOutB, nb).fill(0);
        }
        break;
      }
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
      gradsOf(0, sf),
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
      gradsOf(sf, sb),
    );
  } catch (e) {
    if (dx) heap.free(dx.ptr);
    for (const d of dStates) if (d) heap.free(d.ptr);
    throw e;
  } finally {
    for (const p of owned) heap.free(p);
  }
  return given ? [dx, ...dStates] : dx;
}

/** The `Bidirectional` layer class (see `layer_class.ts`). */
export const BIDIRECTIONAL: LayerClass<Bidirectional> = defineLayer({
  className: "Bidirectional",
  create: (config, options) => new Bidirectional(config, options),
  training: BIDIRECTIONAL_TRAINING,
  onnx: (layer, ctx) =>
    layer.mergeMode === null
      ? ctx.refuse("merge_mode None (two outputs)")
      : emitRecurrentOnnx(ctx, [layer.forward, layer.backward], layer.mergeMode),
});
