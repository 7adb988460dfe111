/**
 * Inference-time fusion: a rewrite of a `predict` {@link GraphPlan} (never of the graph, so `fit`
 * keeps running the unfused layers with their own weights).
 *
 * A chain `host → BatchNormalization? → activation?` whose intermediate outputs have that one
 * reader and are not wanted runs as one step: a copy of the host layer (the "folded" layer, same
 * class and config, its activation replaced by the activation layer's) built with
 * - the BatchNormalization folded into its kernel and bias, per output channel `c`:
 *   `s = γ/√(var+ε)`, `W' = W·s`, `b' = (b − mean)·s + β` (computed in float64);
 * - the activation run in the host kernel's fused epilogue.
 * A ZeroPadding2D whose one reader is a DepthwiseConv2D host joins the chain in front: the folded
 * layer pads its input itself ({@link DepthwiseWindowLayer.inputPadding}; its kernel skips the
 * padding's taps), so the padded copy is never made (MobileNetV2's four stride-2 blocks).
 * The step reads the host's inputs (the padding's when it joined) and writes the last absorbed node's id, so the executor runs
 * it as any other node. Hosts: Conv2D, DepthwiseConv2D, Conv2DTranspose and Dense with a linear
 * activation; activations: an `Activation` layer, or a `ReLU` layer that is plain relu or relu6.
 *
 * The folded weights follow the originals lazily, as Conv2D's Winograd filters do: every
 * {@link Layer.weightsVersion} change (optimizer step, moving statistics, `setWeights`) is
 * noticed by {@link FoldedLayer.sync} before the next run, which refolds them.
 *
 * An Embedding whose one reader is a recurrent layer runs with it as one step that looks up the
 * layer's input projections in a table (`embedding_projection.ts`). Stacked recurrent layers run
 * as one step that can run them at once on different threads (`recurrent_wavefront.ts`).
 */
import { ActivationCode } from "./activations.ts";
import type { Activation } from "./activations.ts";
import { type GraphPlan, planOfSteps } from "./executor.ts";
import type { Graph, GraphNode } from "./graph.ts";
import type { Layer, LayerBuildOptions, WeightTensor } from "./layer.ts";
import type { BatchNormalization } from "./layers/batch_normalization.ts";
import type { ReLU } from "./layers/relu.ts";
import type { DepthwiseWindowLayer } from "./layers/depthwise_conv2d.ts";
import type { ZeroPadding2D } from "./layers/zero_padding2d.ts";
import { createLayer } from "./registry.ts";
import type { WasmHeap } from "./wasm/heap.ts";
import { EmbeddingProjection, projectsEmbedding } from "./embedding_projection.ts";
import type { Embedding } from "./layers/embedding.ts";
import type { RecurrentLayer } from "./layers/recurrent.ts";
import type { Bidirectional } from "./layers/bidirectional.ts";
import { RecurrentWavefront, wavefrontLink, type WavefrontStage } from "./recurrent_wavefront.ts";

/**
 * What a fused step runs, with the device data it derives from the weights: a
 * {@link FoldedLayer} or an {@link EmbeddingProjection}.
 */
export interface FoldedStep {
  /** The layer the fused step runs. */
  readonly layer: Layer;
  /** Remakes the derived data when the weights it comes from changed since last time. */
  sync(heap: WasmHeap): void;
  /** Frees the derived device data. */
  dispose(): void;
}

/**
 * Per host class: the output channel of each flat kernel index, from the kernel's shape (the
 * channel a BatchNormalization after the host scales).
 */
const HOSTS: Record<string, (kernelShape: readonly number[]) => (i: number) => number> = {
  // (kh, kw, in/groups, filters), (in, units): the last axis.
  Conv2D: (s) => (i) => i % s[s.length - 1],
  Dense: (s) => (i) => i % s[s.length - 1],
  // (kh, kw, in, multiplier): output channel c·multiplier + m, the last two axes flattened.
  DepthwiseConv2D: (s) => (i) => i % (s[2] * s[3]),
  // (kh, kw, filters, in): axis 2.
  Conv2DTranspose: (s) => (i) => Math.floor(i / s[3]) % s[2],
};

/** The activation config an absorbed activation layer stands for, or null when it cannot fold. */
function foldableActivation(layer: Layer): unknown {
  if (layer.className === "Activation") return layer.config.activation ?? "linear";
  if (layer.className === "ReLU") {
    const r = layer as ReLU;
    if (r.negativeSlope !== 0 || r.threshold !== 0) return null;
    if (r.maxValue === null) return "relu";
    return r.maxValue === 6 ? "relu6" : null;
  }
  return null;
}

/** Whether `layer` is a host class whose own activation is linear. */
function isLinearHost(layer: Layer): boolean {
  if (!HOSTS[layer.className]) return false;
  const act = (layer as unknown as { activation?: Activation }).activation;
  return act?.kind === "elementwise" && act.code === ActivationCode.Linear;
}

/** One fused chain: the host, what it absorbs, and the folded copy the plan runs. */
export class FoldedLayer implements FoldedStep {
  /** The ZeroPadding2D in front of the host the folded layer pads for, or null. */
  readonly padding: ZeroPadding2D | null;
  readonly host: Layer;
  readonly batchNorm: BatchNormalization | null;
  readonly activation: Layer | null;
  /** The layer the fused step runs (same class as the host, built with the folded weights). */
  readonly layer: Layer;
  /** `weightsVersion` of the host and the BatchNormalization when last folded. */
  #versions: number[] = [];

  constructor(
    host: Layer,
    batchNorm: BatchNormalization | null,
    activation: Layer | null,
    options: LayerBuildOptions,
    padding: ZeroPadding2D | null = null,
  ) {
    this.padding = padding;
    this.host = host;
    this.batchNorm = batchNorm;
    this.activation = activation;
    const config = { ...host.config };
    if (batchNorm) config.use_bias = true;
    if (activation) config.activation = foldableActivation(activation);
    this.layer = createLayer({ class_name: host.className, config }, options);
    if (padding) (this.layer as DepthwiseWindowLayer).inputPadding = padding.padding;
  }

  /** Refolds the weights when the host's or the BatchNormalization's changed since last time. */
  sync(heap: WasmHeap): void {
    const versions = [this.host.weightsVersion, this.batchNorm?.weightsVersion ?? 0];
    if (versions.every((v, i) => v === this.#versions[i])) return;
    const inputShapes = (this.padding ?? this.host).inputShapes;
    this.layer.buildInputs(inputShapes, this.#foldedWeights(), heap);
    this.#versions = versions;
  }

  /** The host's current weights with the BatchNormalization folded in (fresh arrays). */
  #foldedWeights(): WeightTensor[] {
    const [kernel, bias] = this.host.getWeights();
    const bn = this.batchNorm;
    if (!bn) return this.host.getWeights().map((w) => ({ ...w, data: w.data.slice() }));
    const w = bn.getWeights();
    let k = 0;
    const gamma = bn.scale ? w[k++].data : null;
    const beta = bn.center ? w[k++].data : null;
    const mean = w[k++].data;
    const variance = w[k].data;
    const channels = mean.length;
    const scale = new Float64Array(channels);
    const b = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + bn.epsilon);
      b[c] = ((bias ? bias.data[c] : 0) - mean[c]) * scale[c] + (beta ? beta[c] : 0);
    }
    const channelOf = HOSTS[this.host.className](kernel.shape);
    const folded = kernel.data.map((v, i) => v * scale[channelOf(i)]);
    return [
      { name: kernel.name, shape: [...kernel.shape], data: folded },
      { name: "bias", shape: [channels], data: b },
    ];
  }

  /** Frees the folded copy's device memory. */
  dispose(): void {
    this.layer.dispose();
  }
}

/** A `predict` plan after fusion, with the folded layers its steps run. */
export interface FusedPlan extends GraphPlan {
  /** The folded steps the plan runs ({@link FoldedStep.sync} them before each run). */
  readonly folded: readonly FoldedStep[];
}

/**
 * Rewrites `plan` for inference: every foldable chain becomes one step at the host's place
 * (see the module comment). `cache` keeps the folded layers across plans, keyed by the chain's
 * first and last node ids; `options` are the ones the graph's layers were built with.
 */
export function fusePlan(
  graph: Graph,
  plan: GraphPlan,
  cache: Map<string, FoldedStep>,
  options: LayerBuildOptions,
): FusedPlan {
  const wanted = new Set(plan.wanted);
  const readers = new Map<number, GraphNode[]>();
  for (const step of plan.steps) {
    for (const i of step.inputs) readers.set(i, [...(readers.get(i) ?? []), step]);
  }
  // The one step reading node `id`, when `id`'s output is needed by nothing else.
  const soleReader = (id: number): GraphNode | null => {
    const r = readers.get(id) ?? [];
    return r.length === 1 && r[0].inputs.length === 1 && !wanted.has(id) ? r[0] : null;
  };
  const absorbed = new Set<number>();
  const replaced = new Map<number, GraphNode>();
  const folded: FoldedStep[] = [];
  const stepOf = new Map(plan.steps.map((s) => [s.id, s]));
  for (const host of plan.steps) {
    if (host.inputs.length !== 1 || !isLinearHost(host.layer)) continue;
    // A ZeroPadding2D read only by a DepthwiseConv2D host.
    const before = stepOf.get(host.inputs[0]);
    const pad = host.layer.className === "DepthwiseConv2D" &&
        before?.layer.className === "ZeroPadding2D" && before.inputs.length === 1 &&
        soleReader(before.id) === host
      ? before
      : null;
    let tail = host;
    let next = soleReader(tail.id);
    let bn: GraphNode | null = null;
    if (next?.layer.className === "BatchNormalization") {
      bn = tail = next;
      next = soleReader(tail.id);
    }
    const act = next && foldableActivation(next.layer) !== null ? next : null;
    if (act) tail = act;
    if (tail === host && !pad) continue;
    const key = `${(pad ?? host).id}>${tail.id}`;
    let f = cache.get(key) as FoldedLayer | undefined;
    if (!f) {
      f = new FoldedLayer(
        host.layer,
        (bn?.layer ?? null) as BatchNormalization | null,
        act?.layer ?? null,
        options,
        (pad?.layer ?? null) as ZeroPadding2D | null,
      );
      cache.set(key, f);
    }
    folded.push(f);
    if (pad) absorbed.add(pad.id);
    if (bn) absorbed.add(bn.id);
    if (act) absorbed.add(act.id);
    // At the host's place, reading the padding's input when the padding joined.
    replaced.set(host.id, { ...host, id: tail.id, inputs: (pad ?? host).inputs, layer: f.layer });
  }
  for (const step of plan.steps) {
    const reader = soleReader(step.id);
    if (!reader || !projectsEmbedding(step, reader)) continue;
    const key = `${step.id}>${reader.id}`;
    let f = cache.get(key);
    if (!f) {
      f = new EmbeddingProjection(
        step.layer as Embedding,
        reader.layer as RecurrentLayer | Bidirectional,
      );
      cache.set(key, f);
    }
    folded.push(f);
    absorbed.add(reader.id);
    replaced.set(step.id, { ...step, id: reader.id, layer: f.layer });
  }
  const steps = plan.steps
    .filter((s) => !absorbed.has(s.id))
    .map((s) => replaced.get(s.id) ?? s);
  return {
    ...planOfSteps(graph, wavefrontSteps(steps, wanted, cache, folded), plan.wanted),
    folded,
  };
}

/**
 * `steps` with every chain of stacked recurrent layers (see `recurrent_wavefront.ts`) as one
 * {@link RecurrentWavefront} step at the lowest layer's place, reading its input and writing the
 * top layer's node id; the new steps join `folded` (and `cache`, keyed by the chain's ends).
 */
function wavefrontSteps(
  steps: readonly GraphNode[],
  wanted: ReadonlySet<number>,
  cache: Map<string, FoldedStep>,
  folded: FoldedStep[],
): GraphNode[] {
  const readers = new Map<number, GraphNode[]>();
  for (const step of steps) {
    for (const i of step.inputs) readers.set(i, [...(readers.get(i) ?? []), step]);
  }
  const absorbed = new Set<number>();
  const replaced = new Map<number, GraphNode>();
  for (const low of steps) {
    if (absorbed.has(low.id)) continue;
    const chain = [low];
    for (;;) {
      const tail = chain[chain.length - 1];
      const r = readers.get(tail.id) ?? [];
      if (r.length !== 1 || wanted.has(tail.id) || !wavefrontLink(tail, r[0])) break;
      chain.push(r[0]);
    }
    if (chain.length < 2) continue;
    const top = chain[chain.length - 1];
    const key = `wavefront ${low.id}>${top.id}`;
    let f = cache.get(key);
    if (!f) {
      f = new RecurrentWavefront(chain.map((s) => s.layer as WavefrontStage));
      cache.set(key, f);
    }
    folded.push(f);
    for (const s of chain.slice(1)) absorbed.add(s.id);
    replaced.set(low.id, { ...low, id: top.id, layer: f.layer });
  }
  return steps.filter((s) => !absorbed.has(s.id)).map((s) => replaced.get(s.id) ?? s);
}
