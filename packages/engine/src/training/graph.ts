/**
 * A model's graph prepared for training: each layer's training behaviour, the parameter table
 * (device weights, gradient buffers, trainable flags), and the two per-slice computations the
 * trainer is built from:
 *
 * - {@link TrainingGraph.computeGradients}: forward in training mode with a tape, loss, backward;
 *   OVERWRITES the gradient buffers with the slice's unscaled gradient sums. It only reads the
 *   weights, so slices of one batch can run in workers (each with its own graph replica) and sum
 *   their gradients.
 * - {@link TrainingGraph.evaluate}: forward in inference mode and the loss, no gradients.
 *
 * The forward pass is the model's own executor (`executor.ts`) over the same graph `predict`
 * runs; the backward pass walks its plan in reverse, summing the gradients of a tensor read by
 * several layers and the weight gradients of a layer called several times. Every device buffer
 * a step allocates is freed before it returns (the heap does not grow across steps).
 */
import { type GraphPlan, planGraph, runForward, TensorStore } from "../executor.ts";
import type { Graph, GraphNode } from "../graph.ts";
import type { Layer } from "../layer.ts";
import { type DeviceTensor, sizeOf, type Tensor } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import type { KernelExports } from "../wasm/kernels.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { paramOwners, trainingFor } from "../registry.ts";
import { TrainingConfigError, TrainingDataError, UntrainableLayerError } from "./errors.ts";
import { type Loss, LossKernelMode } from "./losses.ts";
import { accumulateMetrics, type Metric } from "./metrics.ts";
import type { ParamRef } from "./optimizers.ts";

/** One weight tensor of the model as the trainer tracks it. */
export interface Param {
  /** Index of the graph layer it belongs to (`graph.layers`). */
  layerIndex: number;
  /** The layer owning the device buffer and its index there. */
  owner: Layer;
  ownerIndex: number;
  name: string;
  shape: number[];
  size: number;
  trainable: boolean;
  /** Gradient buffer (0 when not trainable). */
  grad: number;
}

/** One slice of a batch: inputs, targets, sample weights. */
export interface BatchSlice {
  /** One tensor per model input. */
  xs: Tensor[];
  /**
   * Per model output: class indices (sparse losses: rows per sample each) or targets (rows per
   * sample × cols).
   */
  targets: (Float32Array | Int32Array)[];
  /** One weight per sample, or null for all ones. */
  sampleWeight: Float32Array | null;
  /** Index of the slice's first sample within its batch (random draws depend on it). */
  sampleOffset: number;
}

/** What a slice contributes to the batch's loss, gradients and metrics. */
export interface SliceResult {
  /** Σ w·L over the slice's loss rows. */
  lossSum: number;
  /** Loss rows counted by Keras's `sum_over_batch_size` (unmasked rows under an output mask). */
  lossCount: number;
  /**
   * Models with several outputs: per output, its loss's Σ w·L over its loss rows divided by its
   * rows per sample (so that Σ over slices / samples is the output's Keras loss).
   */
  outputLossSums?: number[];
  /** Per metric (every output's metrics in order): Σ w·value and Σ w. */
  metricSums: number[];
  metricWeights: number[];
}

/** The seed a layer's random draws use in a step: the step seed mixed with the layer index. */
export function mixSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a of a layer name, above the range of chain indices. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) | 0x10000;
}

/** The trainable view of a model's graph. */
export class TrainingGraph {
  /** The graph's layers (`graph.layers`), each once. */
  readonly layers: readonly Layer[];
  readonly impls: readonly LayerTraining[];
  readonly params: Param[] = [];
  readonly #graph: Graph;
  readonly #plan: GraphPlan;
  readonly #layerIndex: Map<Layer, number>;
  /** Whether `fit` trains each layer (its own flag and its nested models'). */
  readonly #layerTrainable: readonly boolean[];
  /** Param indices per layer, in the layer's weight order. */
  readonly #paramsOf: number[][];
  /** Per node: whether its output's gradient is needed (a trainable weight lies upstream). */
  readonly #needGrad: Uint8Array;
  readonly #kernels: KernelExports;
  readonly #heap: WasmHeap;
  /** Per model output: its node, loss, loss weight, metrics and how the loss reads it. */
  readonly #outputs: {
    id: number;
    loss: Loss;
    weight: number;
    metrics: readonly Metric[];
    mode: LossKernelMode;
  }[];
  /** Output nodes whose loss gradient is taken before the layer's softmax/sigmoid. */
  readonly #fused = new Set<number>();

  /**
   * @param graph the model's graph (`model.graph`, built)
   * @param layerTrainable per graph layer: whether `fit` trains it (`model.layerTrainable()`)
   * @param loss one loss, or one per model output (Keras `compile(loss=[…])`)
   * @param metrics the metrics of a single output, or one list per output
   * @param lossWeights per output: its weight in the total loss (Keras `loss_weights`; default 1)
   */
  constructor(
    graph: Graph,
    layerTrainable: readonly boolean[],
    loss: Loss | readonly Loss[],
    metrics: readonly Metric[] | readonly (readonly Metric[])[],
    kernels: KernelExports,
    heap: WasmHeap,
    lossWeights?: readonly number[],
  ) {
    const count = graph.outputs.length;
    const losses = Array.isArray(loss) ? loss : graph.outputs.map(() => loss as Loss);
    const perOutput = metrics.length > 0 && Array.isArray(metrics[0])
      ? metrics as readonly (readonly Metric[])[]
      : [metrics as readonly Metric[], ...graph.outputs.slice(1).map(() => [])];
    if (losses.length !== count || perOutput.length !== count) {
      throw new TrainingConfigError(
        "loss",
        `the model has ${count} outputs: give one loss (and metric list) per output, got ` +
          `${losses.length} losses and ${perOutput.length} metric lists`,
      );
    }
    this.#graph = graph;
    this.layers = graph.layers.map((l) => l.layer);
    this.#layerIndex = new Map(this.layers.map((l, i) => [l, i]));
    this.#layerTrainable = graph.layers.map((_, i) => layerTrainable[i] !== false);
    this.#kernels = kernels;
    this.#heap = heap;
    this.#plan = planGraph(graph, graph.outputs);
    this.impls = graph.layers.map(({ layer, path }) => {
      const impl = trainingFor(layer.className);
      if (!impl) throw new UntrainableLayerError(layer.className, path);
      return impl;
    });
    this.#paramsOf = graph.layers.map(({ layer, path }, li) => {
      const impl = this.impls[li];
      const frozen = !this.#layerTrainable[li];
      const flags = impl.trainable?.(layer) ?? layer.weightTrainable();
      const ids: number[] = [];
      let k = 0;
      for (const owner of paramOwners(layer, impl)) {
        owner.getWeights().forEach((w, oi) => {
          const trainable = !frozen && flags[k] !== false;
          const size = sizeOf(w.shape);
          ids.push(this.params.length);
          this.params.push({
            layerIndex: li,
            owner,
            ownerIndex: oi,
            name: `${path}/${w.name}`,
            shape: [...w.shape],
            size,
            trainable,
            grad: trainable ? heap.alloc(size * 4) : 0,
          });
          k++;
        });
      }
      return ids;
    });
    const hasTrainable = this.#paramsOf.map((ids) => ids.some((i) => this.params[i].trainable));
    this.#needGrad = new Uint8Array(graph.nodes.length);
    for (const node of graph.nodes) {
      if (node.inputIndex >= 0) continue;
      this.#needGrad[node.id] = hasTrainable[this.#layerIndex.get(node.layer)!] ||
          node.inputs.some((i) => this.#needGrad[i])
        ? 1
        : 0;
    }
    this.#outputs = graph.outputs.map((id, i) => {
      const node = graph.nodes[id];
      // The loss may take its gradient before the output's softmax/sigmoid only when nothing
      // else reads that output (another layer, or another output's loss).
      const readers = graph.nodes.filter((n) => n.inputs.includes(id)).length +
        graph.outputs.filter((o) => o === id).length - 1;
      const impl = node.inputIndex < 0 ? this.impls[this.#layerIndex.get(node.layer)!] : undefined;
      const act = readers === 0 && node.outputIndex === 0
        ? impl?.outputActivation?.(node.layer) ?? null
        : null;
      const mode = losses[i].mode(act);
      if (mode === LossKernelMode.FusedWithOutputActivation) this.#fused.add(id);
      const weight = lossWeights?.[i] ?? 1;
      if (!Number.isFinite(weight) || weight < 0) {
        throw new TrainingConfigError("lossWeights", `expected numbers ≥ 0, got ${weight}`);
      }
      return { id, loss: losses[i], weight, metrics: perOutput[i], mode };
    });
  }

  /** How the loss reads the (first) model output (fused with its softmax/sigmoid, logits, …). */
  get lossMode(): LossKernelMode {
    return this.#outputs[0].mode;
  }

  /** The trainable tensors with their current device pointers, for the optimizer. */
  trainableParams(): ParamRef[] {
    return this.params.filter((p) => p.trainable).map((p) => ({
      weight: p.owner.deviceWeights()[p.ownerIndex],
      grad: p.grad,
      size: p.size,
      name: p.name,
    }));
  }

  /** Marks layers updated after an optimizer step (host copies, derived device data). */
  weightsUpdated(): void {
    this.layers.forEach((layer, li) => {
      if (!this.#paramsOf[li].some((i) => this.params[i].trainable)) return;
      const impl = this.impls[li];
      for (const owner of paramOwners(layer, impl)) owner.weightsUpdated();
      impl.afterUpdate?.(layer);
    });
  }

  /** Frees the gradient buffers. */
  dispose(): void {
    for (const p of this.params) if (p.grad) this.#heap.free(p.grad);
    this.params.length = 0;
  }

  /**
   * Forward (training mode) + loss + backward for one slice. Overwrites every trainable gradient
   * buffer with Σ over the slice of ∂(w·L)/∂param — unscaled: the caller divides the summed
   * gradients by the batch's total `lossCount`.
   */
  computeGradients(slice: BatchSlice, seed: number): SliceResult {
    return this.#run(slice, seed, true);
  }

  /** Forward (inference mode) + loss + metrics for one slice; no gradients. */
  evaluate(slice: BatchSlice): SliceResult {
    return this.#run(slice, 0, false);
  }

  #run(slice: BatchSlice, seed: number, training: boolean): SliceResult {
    const kernels = this.#kernels, heap = this.#heap;
    const graph = this.#graph;
    const owned = new Set<number>();
    const keep = (p: number) => {
      owned.add(p);
      return p;
    };
    const store = new TensorStore(graph.nodes.length, heap);
    // One tape and context per call: a layer called twice keeps both calls' records.
    const contexts = new Map<number, TrainContext>();
    const calls = new Map<Layer, number>();
    const ctxFor = (node: GraphNode): TrainContext => {
      const known = contexts.get(node.id);
      if (known) return known;
      {
        const li = this.#layerIndex.get(node.layer)!;
        const call = calls.get(node.layer) ?? 0;
        calls.set(node.layer, call + 1);
        const ctx: TrainContext = {
          kernels,
          heap,
          training: !node.inferenceOnly,
          trainable: this.#layerTrainable[li],
          tape: new Map(),
          keep,
          // Inner layers of wrappers are not graph layers: their name picks their stream. A
          // layer's second call draws from another stream than its first.
          seedFor: (layer) =>
            mixSeed(
              seed,
              (this.#layerIndex.get(layer) ?? nameHash(layer.name)) + call * 0x20000,
            ),
          sampleOffset: slice.sampleOffset,
        };
        contexts.set(node.id, ctx);
        return ctx;
      }
    };
    const inferCtx = { kernels, heap, training: false };
    let gradPtr = 0;
    const grads = new Map<number, DeviceTensor>();
    try {
      if (slice.xs.length !== graph.inputs.length) {
        throw new TrainingDataError(
          "x",
          `${graph.inputs.length} input tensors`,
          `${slice.xs.length}`,
        );
      }
      // The store owns the inputs from here (`runForward` holds them): in inference mode it
      // frees each after its last reader, so they must not be freed again below.
      const inputs: DeviceTensor[] = slice.xs.map((x) => ({
        ptr: heap.upload(x.data),
        shape: [...x.shape],
        dtype: x.dtype,
      }));
      runForward(graph, this.#plan, inputs, store, (node, xs, masks) => {
        const layer = node.layer;
        const multiOutput = node.extraOutputs.length > 0;
        if (!training) {
          return multiOutput
            ? layer.callOutputs(xs, masks, inferCtx)
            : layer.callInputs(xs, masks, inferCtx);
        }
        const impl = this.impls[this.#layerIndex.get(layer)!];
        const ctx = ctxFor(node);
        if (layer.multiInput || multiOutput || node.inputs.length > 1) {
          if (impl.forwardInputs) return impl.forwardInputs(layer, xs, masks, ctx);
          return multiOutput ? layer.callOutputs(xs, masks, ctx) : layer.callInputs(xs, masks, ctx);
        }
        return impl.forward
          ? impl.forward(layer, xs[0], masks[0], ctx)
          : layer.call(xs[0], masks[0], ctx);
      }, training);
      // ---- losses, one per output ----
      // One output: Keras's sum_over_batch_size (the caller divides by lossCount). Several:
      // each output's loss is its own mean, weighted; its gradient is scaled here by
      // weight / (rows per sample) and the caller divides by the samples (lossCount).
      const multi = this.#outputs.length > 1;
      if (slice.targets.length !== this.#outputs.length) {
        throw new TrainingDataError(
          "y",
          `${this.#outputs.length} target arrays (one per output)`,
          `${slice.targets.length}`,
        );
      }
      let lossSum = 0, lossCount = 0;
      const outputLossSums: number[] = [];
      const metricSums: number[] = [], metricWeights: number[] = [];
      this.#outputs.forEach((o, k) => {
        const out = store.values[o.id]!;
        const mask = store.masks[o.id];
        const outLayer = graph.nodes[o.id].layer;
        const targets = slice.targets[k];
        const cols = out.shape[out.shape.length - 1];
        const n = sizeOf(out.shape);
        const rows = n / cols;
        const samples = out.shape[0];
        const rowsPerSample = samples ? rows / samples : 0;
        if (multi && mask) {
          throw new UntrainableLayerError(
            outLayer.className,
            outLayer.name,
            "an output mask on a model with several outputs is not supported in training",
          );
        }
        const rowWeights = this.#rowWeights(
          slice.sampleWeight,
          mask,
          rows,
          rowsPerSample,
          outLayer,
        );
        const wantTargets = o.loss.sparse ? rows : n;
        if (targets.length !== wantTargets) {
          throw new TrainingDataError(
            multi ? `y[${k}]` : "y",
            `${wantTargets / Math.max(1, samples)} ${
              o.loss.sparse ? "class indices" : "targets"
            } per sample for an output of shape [${out.shape.slice(1)}]`,
            `${targets.length / Math.max(1, samples)}`,
          );
        }
        const pTargets = keep(heap.upload(o.loss.lossTargets(targets, cols)));
        const pWeights = rowWeights ? keep(heap.upload(rowWeights)) : 0;
        if (training) gradPtr = heap.alloc(n * 4);
        const scale = multi ? o.weight / Math.max(1, rowsPerSample) : 1;
        const sum = o.loss.compute(
          kernels,
          out.ptr,
          pTargets,
          pWeights,
          gradPtr,
          rows,
          cols,
          training
            ? o.mode
            : (o.loss.fromLogits ? LossKernelMode.Logits : LossKernelMode.Probabilities),
          scale,
        );
        if (multi) {
          const own = sum / Math.max(1, rowsPerSample);
          outputLossSums.push(own);
          lossSum += o.weight * own;
          lossCount = samples;
        } else {
          lossSum = sum;
          lossCount = mask ? heap.i32(mask.ptr, rows).reduce((a, b) => a + (b ? 1 : 0), 0) : rows;
        }
        // ---- metrics (host; predictions are batch × classes) ----
        const sums = o.metrics.map(() => 0), weights = o.metrics.map(() => 0);
        if (o.metrics.length) {
          accumulateMetrics(
            o.metrics,
            heap.f32(out.ptr, n).slice(),
            targets,
            o.loss.sparse,
            rowWeights,
            rows,
            cols,
            sums,
            weights,
          );
        }
        metricSums.push(...sums);
        metricWeights.push(...weights);
        if (training) {
          const g: DeviceTensor = { ptr: gradPtr, shape: [...out.shape], dtype: "float32" };
          gradPtr = 0;
          const prev = grads.get(o.id);
          if (prev) {
            kernels.addInto(g.ptr, prev.ptr, n, 1);
            heap.free(g.ptr);
          } else grads.set(o.id, g);
        }
      });
      if (training) this.#backward(store, grads, ctxFor);
      return {
        lossSum,
        lossCount,
        ...(multi ? { outputLossSums } : {}),
        metricSums,
        metricWeights,
      };
    } finally {
      if (gradPtr) heap.free(gradPtr);
      for (const g of grads.values()) heap.free(g.ptr);
      for (const p of owned) if (!store.holds(p)) heap.free(p);
      store.releaseAll();
    }
  }

  /**
   * Walks the plan backwards from the loss gradient in `grads` (node id → ∂loss/∂output, owned
   * here): each layer's backward turns its output's gradient into its inputs' gradients, which
   * are summed where a tensor has several readers. Weight gradients of a layer called more than
   * once are summed over its calls.
   */
  #backward(
    store: TensorStore,
    grads: Map<number, DeviceTensor>,
    ctxFor: (node: GraphNode) => TrainContext,
  ): void {
    const kernels = this.#kernels, heap = this.#heap;
    const steps = this.#plan.steps;
    const done = new Set<Layer>();
    for (let s = steps.length - 1; s >= 0; s--) {
      const node = steps[s];
      // An extra output's gradient waits in `grads` for its call's backward (an earlier step).
      if (node.outputIndex > 0) continue;
      let dy = grads.get(node.id);
      const extraDys = node.extraOutputs.map((id) => grads.get(id) ?? null);
      for (const id of node.extraOutputs) grads.delete(id);
      if (!dy && extraDys.some((d) => d)) {
        // Only a further output is read (an encoder's states): the first output's gradient is 0.
        const y = store.values[node.id]!;
        const n = sizeOf(y.shape);
        dy = { ptr: heap.alloc(n * 4), shape: [...y.shape], dtype: "float32" };
        heap.f32(dy.ptr, n).fill(0);
      }
      if (!dy) continue;
      grads.delete(node.id);
      if (!this.#needGrad[node.id]) {
        heap.free(dy.ptr);
        for (const d of extraDys) if (d) heap.free(d.ptr);
        continue;
      }
      const layer = node.layer;
      const li = this.#layerIndex.get(layer)!;
      const ids = this.#paramsOf[li];
      const params = ids.map((k) => this.params[k]);
      // A second call's weight gradients go to scratch first, then add to the first call's.
      const again = done.has(layer);
      done.add(layer);
      const scratch = again ? params.map((p) => (p.trainable ? heap.alloc(p.size * 4) : 0)) : [];
      const xs = node.inputs.map((i) => store.values[i]!);
      const masks = node.inputs.map((i) => store.masks[i]);
      const needs = node.inputs.map((i) => this.#needGrad[i] === 1);
      let ret: DeviceTensor | null | (DeviceTensor | null)[];
      try {
        ret = this.impls[li].backward(layer, {
          x: xs[0],
          y: store.values[node.id]!,
          mask: masks[0],
          xs,
          masks,
          dy,
          dys: [dy, ...extraDys],
          ys: [store.values[node.id], ...node.extraOutputs.map((id) => store.values[id])],
          dyIsPreActivation: this.#fused.has(node.id),
          weights: params.map((p) => p.owner.deviceWeights()[p.ownerIndex]),
          grads: again ? scratch : params.map((p) => p.grad),
          needInputGrad: needs[0] ?? false,
          needInputGrads: needs,
          ctx: ctxFor(node),
        });
        params.forEach((p, j) => {
          if (again && p.trainable) kernels.addInto(scratch[j], p.grad, p.size, 1);
        });
      } catch (e) {
        heap.free(dy.ptr);
        for (const d of extraDys) if (d) heap.free(d.ptr);
        throw e;
      } finally {
        for (const p of scratch) if (p) heap.free(p);
      }
      const dxs = Array.isArray(ret) ? ret : [ret];
      // Returned gradients may be dy itself or repeat one buffer: each input gets its own.
      const claimed = new Set<number>();
      const candidates = new Set<number>([dy.ptr]);
      for (const d of extraDys) if (d) candidates.add(d.ptr);
      node.inputs.forEach((inId, j) => {
        let dx = dxs[j] ?? null;
        if (dx) candidates.add(dx.ptr);
        if (!dx || !needs[j]) return;
        if (claimed.has(dx.ptr)) {
          const n = sizeOf(dx.shape);
          const copy = heap.alloc(n * 4);
          kernels.addInto(dx.ptr, copy, n, 0);
          dx = { ...dx, ptr: copy };
        }
        const prev = grads.get(inId);
        if (prev) {
          kernels.addInto(dx.ptr, prev.ptr, sizeOf(prev.shape), 1);
          if (!claimed.has(dx.ptr) && dx.ptr !== dxs[j]!.ptr) heap.free(dx.ptr);
        } else {
          grads.set(inId, dx);
          claimed.add(dx.ptr);
        }
      });
      for (const p of candidates) if (!claimed.has(p)) heap.free(p);
    }
  }

  /** Per-row weights: sample weight × output mask; null when both are absent. */
  #rowWeights(
    sampleWeight: Float32Array | null,
    mask: DeviceTensor | null,
    rows: number,
    rowsPerSample: number,
    outLayer: Layer,
  ): Float32Array | null {
    if (!sampleWeight && !mask) return null;
    const w = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      w[r] = sampleWeight ? sampleWeight[Math.floor(r / rowsPerSample)] : 1;
    }
    if (mask) {
      if (sizeOf(mask.shape) !== rows) {
        throw new UntrainableLayerError(
          outLayer.className,
          outLayer.name,
          `output mask of shape [${mask.shape}] does not match ${rows} loss rows`,
        );
      }
      const m = this.#heap.i32(mask.ptr, rows);
      for (let r = 0; r < rows; r++) if (!m[r]) w[r] = 0;
    }
    return w;
  }
}
