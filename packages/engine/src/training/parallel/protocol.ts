/**
 * Messages between the trainer and its gradient workers, and the packing of a graph's weights and
 * gradients into one flat array each (the order of {@link TrainingGraph.params}).
 *
 * A worker gets one {@link WorkerInit} per `fit` and then one {@link WorkerStep} per batch: the
 * current weights and its slice of the batch. It answers with its slice's unscaled gradient sums
 * and loss/metric sums ({@link WorkerResult}); the trainer adds them to its own slice's in worker
 * order, so a step's result depends on the split only through float rounding. With per-thread
 * batch statistics the answer also carries the slice's updated layer state (BatchNormalization's
 * moving statistics), which the trainer averages over the slices.
 */
import type { ModelSpec } from "../../spec.ts";
import type { Shape } from "../../tensor.ts";
import type { WasmHeap } from "../../wasm/heap.ts";
import type { Param } from "../graph.ts";
import type { LossName } from "../losses.ts";
import type { Metric } from "../metrics.ts";

/** What a worker builds its replica of the training graph from. */
export interface WorkerInit {
  type: "init";
  /** The model's config and current weights (`Model.toSpec()`). */
  spec: ModelSpec;
  /** The model's input shape without batch (builds a model whose config has no InputLayer). */
  inputShape: Shape;
  /** Paths of the model's layers (`model.layerPath`), checked against the replica's. */
  layerNames: string[];
  /** Per layer: whether `fit` trains it, as the trainer sees it (`model.layerTrainable()`). */
  layerTrainable: boolean[];
  /** Per model output: its loss, loss weight and metrics. */
  losses: { name: LossName; fromLogits: boolean }[];
  lossWeights: number[];
  metrics: Metric[][];
  /** The parameter table, checked against the replica's. */
  params: ParamInfo[];
}

/** One row of the parameter table. */
export interface ParamInfo {
  name: string;
  size: number;
  trainable: boolean;
}

/** One batch slice to differentiate. */
export interface WorkerStep {
  type: "step";
  /** Request id, echoed by the answer. */
  id: number;
  /** Every parameter's current value, packed by {@link packWeights}. */
  weights: Float32Array;
  /** One array per model input, with its shape. */
  xs: (Float32Array | Int32Array)[];
  xShapes: number[][];
  /** One target array per model output. */
  targets: (Float32Array | Int32Array)[];
  sampleWeight: Float32Array | null;
  /** Index of the slice's first sample in the batch (Dropout draws depend on it). */
  sampleOffset: number;
  /** The step seed. */
  seed: number;
}

/** Messages to a worker. */
export type WorkerRequest = WorkerInit | WorkerStep;

/** The worker built its replica. */
export interface WorkerReady {
  type: "ready";
}

/** A slice's gradient sums (trainable parameters, packed) and loss/metric sums. */
export interface WorkerResult {
  type: "result";
  id: number;
  grads: Float32Array;
  lossSum: number;
  lossCount: number;
  /** With several outputs: each output's loss sum (see `SliceResult`). */
  outputLossSums?: number[];
  metricSums: number[];
  metricWeights: number[];
  /** The state parameters' values after the slice's forward ({@link packState}). */
  state: Float32Array;
}

/** The init (id -1) or a step failed inside the worker. */
export interface WorkerFailure {
  type: "error";
  id: number;
  name: string;
  message: string;
}

/** Messages from a worker. */
export type WorkerReply = WorkerReady | WorkerResult | WorkerFailure;

/** The parameter table as the protocol describes it. */
export function paramInfo(params: readonly Param[]): ParamInfo[] {
  return params.map((p) => ({ name: p.name, size: p.size, trainable: p.trainable }));
}

/** Every parameter's current device value, concatenated in table order. */
export function packWeights(params: readonly Param[], heap: WasmHeap): Float32Array {
  const out = new Float32Array(params.reduce((n, p) => n + p.size, 0));
  let at = 0;
  for (const p of params) {
    out.set(heap.f32(p.owner.deviceWeights()[p.ownerIndex], p.size), at);
    at += p.size;
  }
  return out;
}

/** Writes packed values back into the parameters' device buffers. */
export function unpackWeights(
  params: readonly Param[],
  heap: WasmHeap,
  packed: Float32Array,
): void {
  let at = 0;
  for (const p of params) {
    heap.f32(p.owner.deviceWeights()[p.ownerIndex], p.size).set(packed.subarray(at, at + p.size));
    at += p.size;
  }
}

/** The trainable parameters' gradient buffers, concatenated in table order. */
export function packGradients(params: readonly Param[], heap: WasmHeap): Float32Array {
  const trainable = params.filter((p) => p.trainable);
  const out = new Float32Array(trainable.reduce((n, p) => n + p.size, 0));
  let at = 0;
  for (const p of trainable) {
    out.set(heap.f32(p.grad, p.size), at);
    at += p.size;
  }
  return out;
}

/** Adds packed gradients (from {@link packGradients}) into the gradient buffers, in float32. */
export function addGradients(params: readonly Param[], heap: WasmHeap, packed: Float32Array): void {
  let at = 0;
  for (const p of params) {
    if (!p.trainable) continue;
    const g = heap.f32(p.grad, p.size);
    for (let i = 0; i < p.size; i++) g[i] += packed[at + i];
    at += p.size;
  }
}

/**
 * The parameters a training forward writes from its batch (non-trainable weights of layers that
 * `Layer.updatesStateInTraining`: BatchNormalization's moving statistics), in table order.
 */
export function stateParams(params: readonly Param[]): Param[] {
  return params.filter((p) => !p.trainable && p.owner.updatesStateInTraining());
}

/** The state parameters' current device values, concatenated in table order. */
export function packState(params: readonly Param[], heap: WasmHeap): Float32Array {
  return packWeights(stateParams(params), heap);
}

/**
 * Averages the state parameters over a batch's slices, weighted by their sample counts: the
 * device values are this thread's (its slice of `ownSamples`), `others` the workers' packed ones.
 * Values every slice left alike stay exactly as they are. Returns the merged parameters (their
 * owners' host copies and derived data must follow: `weightsUpdated`).
 */
export function averageState(
  params: readonly Param[],
  heap: WasmHeap,
  ownSamples: number,
  others: readonly { state: Float32Array; samples: number }[],
): Param[] {
  const state = stateParams(params);
  const total = others.reduce((n, o) => n + o.samples, ownSamples);
  let at = 0;
  for (const p of state) {
    const v = heap.f32(p.owner.deviceWeights()[p.ownerIndex], p.size);
    for (let i = 0; i < p.size; i++) {
      const own = v[i];
      let sum = 0;
      for (const o of others) sum += (o.samples / total) * (o.state[at + i] - own);
      v[i] = own + sum;
    }
    at += p.size;
  }
  return state;
}
