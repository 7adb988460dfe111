/**
 * A model's layers prepared for training: each layer's training behaviour, the parameter table
 * (device weights, gradient buffers, trainable flags), and the two per-slice computations the
 * trainer is built from:
 *
 * - {@link TrainingGraph.computeGradients}: forward in training mode with a tape, loss, backward;
 *   OVERWRITES the gradient buffers with the slice's unscaled gradient sums. It only reads the
 *   weights, so a later version can run slices of one batch in workers (each with its own graph
 *   replica) and sum their gradients.
 * - {@link TrainingGraph.evaluate}: forward in inference mode and the loss, no gradients.
 *
 * Every device buffer a step allocates is freed before it returns (the heap does not grow across
 * steps).
 */
import type { Layer } from "../layer.ts";
import { type DeviceTensor, sizeOf, type Tensor } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import type { KernelExports } from "../wasm/kernels.ts";
import { type LayerTraining, paramOwners, type TrainContext, trainingFor } from "./backward/mod.ts";
import { TrainingDataError, UntrainableLayerError } from "./errors.ts";
import { type Loss, LossKernelMode } from "./losses.ts";
import { accumulateMetrics, type Metric } from "./metrics.ts";
import type { ParamRef } from "./optimizers.ts";

/** One weight tensor of the model as the trainer tracks it. */
export interface Param {
  /** Index of the model layer it belongs to. */
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
  x: Tensor;
  /** Class indices (sparse losses: rows per sample each) or targets (rows per sample × cols). */
  targets: Float32Array | Int32Array;
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
  /** Per metric: Σ w·value and Σ w. */
  metricSums: number[];
  metricWeights: number[];
}

interface ForwardRecord {
  x: DeviceTensor;
  y: DeviceTensor;
  mask: DeviceTensor | null;
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

/** The trainable view of a chain of layers. */
export class TrainingGraph {
  readonly layers: readonly Layer[];
  readonly impls: readonly LayerTraining[];
  readonly params: Param[] = [];
  /** Param indices per layer, in the layer's weight order. */
  readonly #paramsOf: number[][];
  /** Index of the first layer with a trainable weight (backward stops there). */
  readonly #firstTrainable: number;
  readonly #kernels: KernelExports;
  readonly #heap: WasmHeap;
  readonly #loss: Loss;
  readonly #metrics: readonly Metric[];
  readonly #mode: LossKernelMode;

  constructor(
    layers: readonly Layer[],
    loss: Loss,
    metrics: readonly Metric[],
    kernels: KernelExports,
    heap: WasmHeap,
  ) {
    this.layers = layers;
    this.#kernels = kernels;
    this.#heap = heap;
    this.#loss = loss;
    this.#metrics = metrics;
    this.impls = layers.map((layer) => {
      const impl = trainingFor(layer.className);
      if (!impl) throw new UntrainableLayerError(layer.className, layer.name);
      return impl;
    });
    this.#paramsOf = layers.map((layer, li) => {
      const impl = this.impls[li];
      const frozen = layer.config.trainable === false;
      const flags = impl.trainable?.(layer);
      const ids: number[] = [];
      let k = 0;
      for (const owner of paramOwners(layer, impl)) {
        owner.getWeights().forEach((w, oi) => {
          const trainable = !frozen && (flags ? flags[k] !== false : true);
          const size = sizeOf(w.shape);
          ids.push(this.params.length);
          this.params.push({
            layerIndex: li,
            owner,
            ownerIndex: oi,
            name: `${layer.name}/${w.name}`,
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
    this.#firstTrainable = this.#paramsOf.findIndex((ids) =>
      ids.some((i) => this.params[i].trainable)
    );
    const last = layers.length - 1;
    this.#mode = loss.mode(
      last >= 0 ? this.impls[last].outputActivation?.(layers[last]) ?? null : null,
    );
  }

  /** How the loss reads the model output (fused with its softmax/sigmoid, logits, …). */
  get lossMode(): LossKernelMode {
    return this.#mode;
  }

  /** The trainable tensors with their current device pointers, for the optimizer. */
  trainableParams(): ParamRef[] {
    return this.params.filter((p) => p.trainable).map((p) => ({
      weight: p.owner.deviceWeights()[p.ownerIndex],
      grad: p.grad,
      size: p.size,
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
    const owned = new Set<number>();
    const keep = (p: number) => {
      owned.add(p);
      return p;
    };
    const layerIndex = new Map<Layer, number>(this.layers.map((l, i) => [l, i]));
    const ctx: TrainContext = {
      kernels,
      heap,
      training: true,
      tape: new Map(),
      keep,
      // Inner layers of wrappers are not in the chain: their name picks their stream.
      seedFor: (layer) => mixSeed(seed, layerIndex.get(layer) ?? nameHash(layer.name)),
      sampleOffset: slice.sampleOffset,
    };
    const inferCtx = { kernels, heap, training: false };
    const records: ForwardRecord[] = [];
    let gradPtr = 0;
    try {
      const x = slice.x;
      let cur: DeviceTensor = {
        ptr: keep(heap.upload(x.data)),
        shape: [...x.shape],
        dtype: x.dtype,
      };
      let mask: DeviceTensor | null = null;
      for (let i = 0; i < this.layers.length; i++) {
        const layer = this.layers[i];
        const impl = this.impls[i];
        const y: DeviceTensor = training
          ? impl.forward ? impl.forward(layer, cur, mask, ctx) : layer.call(cur, mask, ctx)
          : layer.call(cur, mask, inferCtx);
        keep(y.ptr);
        const nextMask = layer.computeMask(cur, mask);
        if (nextMask) keep(nextMask.ptr);
        if (training) records.push({ x: cur, y, mask });
        else {
          // Inference: free what no later layer reads (as Model.predict does).
          if (mask && nextMask?.ptr !== mask.ptr && y.ptr !== mask.ptr) {
            heap.free(mask.ptr);
            owned.delete(mask.ptr);
          }
          if (y.ptr !== cur.ptr && nextMask?.ptr !== cur.ptr) {
            heap.free(cur.ptr);
            owned.delete(cur.ptr);
          }
        }
        cur = y;
        mask = nextMask;
      }
      // ---- loss ----
      const out = cur;
      const cols = out.shape[out.shape.length - 1];
      const n = sizeOf(out.shape);
      const rows = n / cols;
      const samples = out.shape[0];
      const rowsPerSample = samples ? rows / samples : 0;
      const rowWeights = this.#rowWeights(slice.sampleWeight, mask, rows, rowsPerSample);
      const lossCount = mask ? heap.i32(mask.ptr, rows).reduce((a, b) => a + (b ? 1 : 0), 0) : rows;
      const wantTargets = this.#loss.sparse ? rows : n;
      if (slice.targets.length !== wantTargets) {
        throw new TrainingDataError(
          "y",
          `${wantTargets / Math.max(1, samples)} ${
            this.#loss.sparse ? "class indices" : "targets"
          } per sample for an output of shape [${out.shape.slice(1)}]`,
          `${slice.targets.length / Math.max(1, samples)}`,
        );
      }
      const pTargets = keep(heap.upload(slice.targets));
      const pWeights = rowWeights ? keep(heap.upload(rowWeights)) : 0;
      if (training) gradPtr = heap.alloc(n * 4);
      const lossSum = this.#loss.compute(
        kernels,
        out.ptr,
        pTargets,
        pWeights,
        gradPtr,
        rows,
        cols,
        training
          ? this.#mode
          : (this.#loss.fromLogits ? LossKernelMode.Logits : LossKernelMode.Probabilities),
        1,
      );
      // ---- metrics (host; predictions are batch × classes) ----
      const metricSums = this.#metrics.map(() => 0);
      const metricWeights = this.#metrics.map(() => 0);
      if (this.#metrics.length) {
        accumulateMetrics(
          this.#metrics,
          heap.f32(out.ptr, n).slice(),
          slice.targets,
          this.#loss.sparse,
          rowWeights,
          rows,
          cols,
          metricSums,
          metricWeights,
        );
      }
      // ---- backward ----
      if (training) {
        let dy: DeviceTensor | null = { ptr: gradPtr, shape: [...out.shape], dtype: "float32" };
        gradPtr = 0;
        const last = this.layers.length - 1;
        for (let i = last; i >= Math.max(0, this.#firstTrainable) && dy; i--) {
          const layer = this.layers[i];
          const ids = this.#paramsOf[i];
          const needInputGrad = i > this.#firstTrainable;
          const ret = this.impls[i].backward(layer, {
            ...records[i],
            xs: [records[i].x],
            masks: [records[i].mask],
            needInputGrads: [needInputGrad],
            dy,
            dyIsPreActivation: i === last &&
              this.#mode === LossKernelMode.FusedWithOutputActivation,
            weights: ids.map((k) =>
              this.params[k].owner.deviceWeights()[this.params[k].ownerIndex]
            ),
            grads: ids.map((k) => this.params[k].grad),
            needInputGrad,
            ctx,
          });
          const dx = Array.isArray(ret) ? ret[0] : ret;
          if (!dx || dx.ptr !== dy.ptr) heap.free(dy.ptr);
          dy = dx;
        }
        if (dy) heap.free(dy.ptr);
      }
      return { lossSum, lossCount, metricSums, metricWeights };
    } finally {
      if (gradPtr) heap.free(gradPtr);
      for (const p of owned) heap.free(p);
    }
  }

  /** Per-row weights: sample weight × output mask; null when both are absent. */
  #rowWeights(
    sampleWeight: Float32Array | null,
    mask: DeviceTensor | null,
    rows: number,
    rowsPerSample: number,
  ): Float32Array | null {
    if (!sampleWeight && !mask) return null;
    const w = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      w[r] = sampleWeight ? sampleWeight[Math.floor(r / rowsPerSample)] : 1;
    }
    if (mask) {
      if (sizeOf(mask.shape) !== rows) {
        throw new UntrainableLayerError(
          this.layers[this.layers.length - 1].className,
          this.layers[this.layers.length - 1].name,
          `output mask of shape [${mask.shape}] does not match ${rows} loss rows`,
        );
      }
      const m = this.#heap.i32(mask.ptr, rows);
      for (let r = 0; r < rows; r++) if (!m[r]) w[r] = 0;
    }
    return w;
  }
}
