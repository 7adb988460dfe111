/**
 * Models: a Keras model config (Sequential, or Functional of any shape: several inputs and
 * outputs, branches, merges, shared layers, nested models) built into a {@link Graph} of layer
 * calls, with weights per layer path in Keras order. One executor (`executor.ts`) runs the graph
 * for `predict` and, through the trainer, for `fit`.
 */
import {
  InputShapeError,
  ModelConfigError,
  UnsupportedLayerError,
  WeightShapeError,
} from "./errors.ts";
import type { CallContext, Layer, WeightTensor } from "./layer.ts";
import { InputLayer } from "./layers/input_layer.ts";
import { kernelThreads, withoutKernelThreads } from "./wasm/threads.ts";
import { buildGraph, type Graph, type GraphLayer, type GraphNode, MODEL_CLASSES } from "./graph.ts";
import { type GraphPlan, planGraph, runForward, TensorStore } from "./executor.ts";
import { type FoldedStep, type FusedPlan, fusePlan } from "./fusion.ts";
import type { KerasObject, ModelSpec } from "./spec.ts";
import { formatShape, type Shape, sizeOf, Tensor } from "./tensor.ts";
import { getRuntime } from "./wasm/kernels.ts";
import { CONV_ALGORITHMS, type ConvAlgorithm } from "./winograd.ts";
import { initialWeights } from "./training/initializers.ts";
import { SeededRandom } from "./training/random.ts";
import {
  PredictReplicaPool,
  REPLICA_IDLE_MS,
  replicasSupported,
} from "./training/parallel/replica_pool.ts";
import { TrainingConfigError } from "./training/errors.ts";
import type { History, Logs } from "./training/callbacks.ts";
import type { Optimizer } from "./training/optimizers.ts";
import {
  type CompileOptions,
  type EvaluateOptions,
  type FitOptions,
  type Targets,
  Trainer,
} from "./training/trainer.ts";

export type { KerasObject, ModelSpec };

/** Options of {@link buildModel} / the {@link Model} constructor. */
export interface ModelBuildOptions {
  /**
   * Initialize every layer whose weights are missing from the spec with its config's Keras
   * initializers (defaults: glorot_uniform kernels, orthogonal recurrent kernels, zero biases,
   * uniform embeddings, …), drawn from a stream seeded by `seed`.
   */
  initialize?: { seed: number };
  /**
   * Conv2D's inference method: "auto" (default) runs Winograd F(m×m, r×r) for 3×3…7×7 stride-1
   * convolutions and the direct sum otherwise; "direct" always sums directly; "winograd" forces
   * Winograd wherever it can run. See `ConvAlgorithm`.
   */
  convAlgorithm?: ConvAlgorithm;
  /**
   * Inference-time fusion (default true): `predict` runs a convolution or Dense followed by a
   * BatchNormalization and/or an activation layer as one kernel call, with the
   * BatchNormalization folded into a copy of its weights (see `fusion.ts`), and an Embedding
   * read by a recurrent layer with that layer, its input projections looked up in a table
   * (`embedding_projection.ts`; bit for bit); `fit` always runs the layers as they are. `false`
   * runs every layer on its own (results equal within ~1e-6).
   */
  fuse?: boolean;
}

/** Options of {@link Model.predict}. */
export interface PredictOptions {
  /**
   * Most samples per kernel call (default 32; feed-forward models with large activations use
   * smaller, cache-sized chunks). The result does not depend on it.
   */
  batchSize?: number;
}

/** Options of {@link Model.predictMany}. */
export interface PredictManyOptions extends PredictOptions {
  /**
   * Layer names (or nested paths such as `"base/conv1"`) whose outputs to return instead of the
   * model's outputs — Keras's `Model(inputs, model.get_layer(name).output)` feature extraction.
   * A layer called several times gives its first call's output.
   */
  outputs?: string[];
}

/** Bytes of the largest activation a predict chunk aims to keep per thread (half of L2). */
const CACHE_CHUNK_BYTES = 512 * 1024;

/** A runnable model: a graph of layer calls with the layers' weights on the device. */
export class Model {
  readonly name: string;
  readonly className: string;
  readonly kerasVersion?: string;
  /** A private copy of the config (trainable flags set through the model are kept in it). */
  readonly #config: KerasObject;
  readonly #options: ModelBuildOptions;
  readonly #weights: Record<string, WeightTensor[]>;
  #graph: Graph;
  /** Output shape (no batch) of every node. */
  #shapes: Shape[] = [];
  #info = new Map<Layer, GraphLayer>();
  #plans = new Map<string, GraphPlan | FusedPlan>();
  /** The folded steps of fused plans, by chain (see `fusion.ts`). */
  #folded = new Map<string, FoldedStep>();
  #built = false;
  #disposed = false;
  #initRng?: SeededRandom;
  #trainer?: Trainer;
  /** `layerTrainable()` when the trainer was compiled (a change needs a new compile). */
  #compiledTrainable = "";
  #replicas?: PredictReplicaPool;
  /** Set by a callback (e.g. EarlyStopping) to end `fit` after the current epoch. */
  stopTraining = false;
  /**
   * Activation memory of the last predict chunk: the most bytes of tensors alive at once
   * (`peakBytes`: the executor frees each after its last reader) against the sum of every
   * tensor the graph produced (`totalBytes`: what keeping all activations would take).
   */
  lastPredictMemory: { peakBytes: number; totalBytes: number } = { peakBytes: 0, totalBytes: 0 };

  constructor(spec: ModelSpec, options: ModelBuildOptions = {}) {
    if (typeof spec !== "object" || spec === null) {
      throw new ModelConfigError("model spec: expected an object { config, weights }");
    }
    const { config, weights, kerasVersion } = spec;
    const conv = options.convAlgorithm;
    if (options.fuse !== undefined && typeof options.fuse !== "boolean") {
      throw new ModelConfigError(
        `fuse: expected true or false, got ${JSON.stringify(options.fuse)}`,
      );
    }
    if (conv !== undefined && !CONV_ALGORITHMS.includes(conv)) {
      throw new ModelConfigError(
        `convAlgorithm: expected one of ${CONV_ALGORITHMS.join(", ")}, got ${JSON.stringify(conv)}`,
      );
    }
    if (!config || typeof config !== "object" || typeof config.class_name !== "string") {
      throw new ModelConfigError("model config: expected an object with class_name and config");
    }
    if (!MODEL_CLASSES.has(config.class_name)) {
      throw new UnsupportedLayerError(
        config.class_name,
        String(config.config?.name ?? "(model)"),
        "not a Sequential or Functional model",
      );
    }
    this.className = config.class_name;
    this.#config = structuredClone(config);
    this.#options = options;
    this.kerasVersion = kerasVersion;
    const inner = this.#config.config ?? {};
    this.name = typeof inner.name === "string" ? inner.name : "model";
    this.#weights = weights ?? {};
    if (options.initialize !== undefined) {
      const seed = options.initialize?.seed;
      if (typeof seed !== "number" || !Number.isFinite(seed)) {
        throw new ModelConfigError(
          `initialize.seed: expected a number, got ${JSON.stringify(seed)}`,
        );
      }
      this.#initRng = new SeededRandom(seed);
    }
    this.#graph = this.#makeGraph();
    if (!this.#graph.needsInputShape) this.#build();
  }

  #makeGraph(inputBatchShape?: (number | null)[]): Graph {
    const graph = buildGraph(this.#config, {
      kerasVersion: this.kerasVersion,
      convAlgorithm: this.#options.convAlgorithm,
    }, inputBatchShape);
    this.#info = new Map(graph.layers.map((l) => [l.layer, l]));
    this.#plans.clear();
    this.#disposeFolded();
    return graph;
  }

  /** The weights given for a layer: by its path, or by its name when that names one layer. */
  #weightsFor(info: GraphLayer): WeightTensor[] | undefined {
    const byPath = this.#weights[info.path];
    if (byPath !== undefined || info.path === info.layer.name) return byPath;
    const same = this.#graph.layers.filter((l) => l.layer.name === info.layer.name);
    return same.length === 1 ? this.#weights[info.layer.name] : undefined;
  }

  /** Builds every layer on its first call's input shapes, validating and uploading weights. */
  #build(): void {
    const { heap } = getRuntime();
    const graph = this.#graph;
    const shapes: Shape[] = new Array(graph.nodes.length);
    const built = new Set<Layer>();
    try {
      for (const node of graph.nodes) {
        const layer = node.layer;
        if (node.inputIndex >= 0) {
          const input = layer as InputLayer;
          if (!built.has(layer)) input.build(input.declaredShape, undefined, heap);
          built.add(layer);
          shapes[node.id] = input.outputShape;
          continue;
        }
        if (node.outputIndex > 0) {
          // The call's further outputs: shaped by the call's own inputs.
          const call = graph.nodes[node.inputs[0]];
          const list = layer.computeOutputShapeList(call.inputs.map((i) => shapes[i]));
          shapes[node.id] = list[node.outputIndex];
          continue;
        }
        const inputShapes = node.inputs.map((i) => shapes[i]);
        if (built.has(layer)) {
          shapes[node.id] = layer.computeOutputShapes(inputShapes);
          continue;
        }
        const info = this.#info.get(layer)!;
        let weights = this.#weightsFor(info);
        // Layers whose weights depend on several inputs (MultiHeadAttention) read them here.
        layer.inputShapes = inputShapes.map((s) => [...s]);
        if (weights === undefined && this.#initRng && layer.weightSpecs(inputShapes[0]).length) {
          weights = initialWeights(layer, inputShapes[0], this.#initRng);
        }
        if (weights !== undefined) checkWeightList(info.path, weights);
        layer.buildInputs(inputShapes, weights, heap);
        built.add(layer);
        shapes[node.id] = layer.outputShape;
      }
    } catch (e) {
      // A layer refused its config or weights: free what the layers before it uploaded, so a
      // failed build (e.g. of a corrupted file) leaks no device memory.
      for (const l of graph.layers) l.layer.dispose();
      throw e;
    }
    this.#shapes = shapes;
    this.#built = true;
  }

  /** The graph of layer calls (nodes in execution order, inputs, outputs, nested models). */
  get graph(): Graph {
    return this.#graph;
  }

  /**
   * Every layer once, in order of first call; a Sequential's synthesised or declared InputLayer
   * first. Layers of nested models are included (their paths: {@link layerPath}).
   */
  get layers(): Layer[] {
    return this.#graph.layers.map((l) => l.layer);
  }

  /** A layer's path: its name, under the names of the nested models holding it. */
  layerPath(layer: Layer): string {
    const info = this.#info.get(layer);
    if (!info) throw new ModelConfigError(`layer "${layer.name}" is not in model "${this.name}"`);
    return info.path;
  }

  /** Names of the model's inputs (its InputLayers), in order. */
  get inputNames(): string[] {
    return this.#graph.inputs.map((id) => this.#graph.nodes[id].layer.name);
  }

  /**
   * Names of the layers producing the model's outputs, in order (Keras's `output_names`: a nested
   * model's output is named after the nested model).
   */
  get outputNames(): string[] {
    return this.#graph.outputs.map((id) => {
      const info = this.#info.get(this.#graph.nodes[id].layer)!;
      return info.models[0] ?? info.path;
    });
  }

  /** Every input's declared shape without batch (may contain null). */
  get inputShapes(): Shape[] {
    return this.#graph.inputs.map((id) => this.#shapes[id] ?? []);
  }

  /** Every output's shape without batch. */
  get outputShapes(): Shape[] {
    return this.#graph.outputs.map((id) => this.#shapes[id] ?? []);
  }

  /** The (first) input's declared shape without batch (may contain null). */
  get inputShape(): Shape {
    return this.inputShapes[0] ?? [];
  }

  /** The (first) output's shape without batch. */
  get outputShape(): Shape {
    return this.outputShapes[0] ?? [];
  }

  /**
   * A layer by name or path (`"base/conv1"` inside a nested model `base`). A plain name finds a
   * nested layer too when no other layer has that name.
   */
  getLayer(name: string): Layer {
    const byPath = this.#graph.layers.find((l) => l.path === name);
    if (byPath) return byPath.layer;
    const byName = this.#graph.layers.filter((l) => l.layer.name === name);
    if (byName.length === 1) return byName[0].layer;
    throw new ModelConfigError(
      byName.length
        ? `model "${this.name}": "${name}" names ${byName.length} layers (${
          byName.map((l) => l.path).join(", ")
        }); give its path`
        : `model "${this.name}" has no layer "${name}" (layers: ${
          this.#graph.layers.map((l) => l.path).join(", ")
        })`,
    );
  }

  /** The nested models (models used as layers), by path. */
  get nestedModels(): string[] {
    return this.#graph.models.map((m) => m.path);
  }

  /**
   * Keras `layer.trainable = value` for a layer or a nested model (by name or path). Freezing a
   * nested model freezes every layer in it, and unfreezing it unfreezes them all (as Keras's
   * setter does); then single layers can be frozen again — the two-phase fine-tuning recipe.
   * Takes effect at the next `compile` (as in Keras); `fit` refuses a stale compile.
   */
  setTrainable(name: string, value: boolean): void {
    this.#alive();
    if (typeof value !== "boolean") {
      throw new ModelConfigError(`setTrainable("${name}"): expected true or false, got ${value}`);
    }
    const model = this.#graph.models.find((m) => m.path === name) ??
      (this.#graph.models.filter((m) => m.path.split("/").pop() === name).length === 1
        ? this.#graph.models.find((m) => m.path.split("/").pop() === name)
        : undefined);
    if (model) {
      model.config.trainable = value;
      const inside = (p: string) => p.startsWith(`${model.path}/`);
      for (const m of this.#graph.models) if (inside(m.path)) m.config.trainable = value;
      for (const l of this.#graph.layers) {
        if (inside(l.path)) {
          l.layer.trainable = value;
          this.#rawLayerConfig(l.path).trainable = value;
        }
      }
      return;
    }
    const layer = this.getLayer(name);
    layer.trainable = value;
    this.#rawLayerConfig(this.layerPath(layer)).trainable = value;
  }

  /** The config object of the layer at `path` inside this model's own config copy. */
  #rawLayerConfig(path: string): Record<string, unknown> {
    let cfg = this.#config.config as Record<string, unknown>;
    const parts = path.split("/");
    for (let i = 0; i < parts.length; i++) {
      const list = (Array.isArray(cfg) ? cfg : cfg.layers) as
        | { config?: Record<string, unknown> }[]
        | undefined;
      const entry = list?.find((e) => e?.config?.name === parts[i]);
      if (!entry?.config) return {};
      cfg = entry.config;
    }
    return cfg;
  }

  /**
   * Per layer of {@link layers}: whether `fit` trains it — its own `trainable` and that of every
   * nested model holding it.
   */
  layerTrainable(): boolean[] {
    const frozen = new Set(
      this.#graph.models.filter((m) => m.config.trainable === false).map((m) => m.path),
    );
    return this.#graph.layers.map((l) => l.layer.trainable && !l.models.some((m) => frozen.has(m)));
  }

  /**
   * Runs a model with one input and one output. Chunks of at most `batchSize` samples run in one
   * kernel call each; the result is the same as one sample at a time. Models with several inputs
   * or outputs run with {@link predictMany}.
   */
  predict(x: Tensor, options: PredictOptions = {}): Tensor {
    if (this.#disposed) throw new ModelConfigError(`model "${this.name}" was disposed`);
    if (this.#graph.inputs.length > 1 || this.#graph.outputs.length > 1) {
      throw new ModelConfigError(
        `model "${this.name}" has ${this.#graph.inputs.length} inputs and ` +
          `${this.#graph.outputs.length} outputs: use predictMany([inputs…])`,
      );
    }
    return this.predictMany([x], options)[0];
  }

  /**
   * Runs the model on one tensor per input (in {@link inputNames} order); returns one tensor per
   * output (in {@link outputNames} order), or per layer named in `options.outputs`.
   */
  predictMany(xs: Tensor[], options: PredictManyOptions = {}): Tensor[] {
    if (this.#disposed) throw new ModelConfigError(`model "${this.name}" was disposed`);
    if (!Array.isArray(xs)) {
      throw new InputShapeError(this.name, "an array of Tensors", xs === null ? "null" : typeof xs);
    }
    if (typeof options !== "object" || options === null) {
      throw new InputShapeError(this.name, "options an object", String(options));
    }
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InputShapeError(this.name, "batchSize a positive integer", String(batchSize));
    }
    this.#ensureBuilt(xs);
    this.#checkInputs(xs);
    const inputs = this.#castInputs(xs);
    const wanted = options.outputs === undefined
      ? this.#graph.outputs
      : this.#nodesOf(options.outputs);
    return this.#run(inputs, wanted, batchSize, options.outputs);
  }

  /** Node ids of the first call of each named layer. */
  #nodesOf(names: unknown): number[] {
    if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) {
      throw new ModelConfigError(`outputs: expected a list of layer names, got ${names}`);
    }
    return names.map((name) => {
      const layer = this.getLayer(name);
      const node = this.#graph.nodes.find((n) => n.layer === layer);
      if (!node) {
        throw new ModelConfigError(`model "${this.name}": layer "${name}" is never called`);
      }
      return node.id;
    });
  }

  /** The predict plan for `wanted`: fused (see `fusion.ts`) unless `fuse: false`. */
  #plan(wanted: readonly number[]): GraphPlan | FusedPlan {
    const key = wanted.join(",");
    let plan = this.#plans.get(key);
    if (!plan) {
      plan = planGraph(this.#graph, wanted);
      if (this.#options.fuse !== false) {
        plan = fusePlan(this.#graph, plan, this.#folded, {
          kerasVersion: this.kerasVersion,
          convAlgorithm: this.#options.convAlgorithm,
        });
      }
      this.#plans.set(key, plan);
    }
    return plan;
  }

  #disposeFolded(): void {
    for (const f of this.#folded.values()) f.dispose();
    this.#folded.clear();
  }

  /**
   * Runs `predict` on `threads` model replicas: the calling thread and `threads - 1` workers that
   * each hold a copy of the model (in their own kernel memory) and run whole forward passes on a
   * contiguous share of every batch of at least `threads` samples. Shares follow each thread's
   * speed measured on the previous calls (even at first; {@link predictShares}), so a core slowed
   * by other work (another tenant of a virtual machine, a busy browser tab) takes fewer samples
   * instead of holding up the call. This scales feed-forward models
   * better than {@link setKernelThreads}, which splits each layer's kernel calls and waits for all
   * threads after every layer; a call that uses replicas runs the calling thread's share without
   * kernel threads. Results equal a one-thread `predict` (each sample's result is independent of
   * the batch). Replicas start on the first call that uses them (building the model from its
   * current weights, which costs about one model load) and again after the weights change; an
   * idle replica ends itself after `idleMs` (default 2000), so it never keeps a process alive.
   * Calls whose outputs have a dimension unknown before running (e.g. a sequence length left
   * `None`) run on the calling thread. Returns the threads in effect: 1 where the runtime has no
   * workers, shared memory or blocking wait (a browser page's main thread), or no worker entry
   * (see `setTrainingWorkerUrl`). 1 ends the replicas.
   */
  setPredictThreads(threads: number, options: { idleMs?: number } = {}): number {
    this.#alive();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new ModelConfigError(`predict threads: expected an integer ≥ 1, got ${threads}`);
    }
    const idleMs = options.idleMs ?? REPLICA_IDLE_MS;
    if (!(idleMs >= 0)) {
      throw new ModelConfigError(`idleMs: expected milliseconds ≥ 0, got ${options.idleMs}`);
    }
    this.#replicas?.close();
    this.#replicas = undefined;
    if (threads === 1 || !replicasSupported()) return 1;
    this.#replicas = new PredictReplicaPool(
      {
        spec: () => this.toSpec(),
        options: this.#options,
        weightsVersions: () => this.layers.map((l) => l.weightsVersion),
      },
      threads,
      idleMs,
    );
    return threads;
  }

  /** Threads `predict` uses for batches of several samples ({@link setPredictThreads}). */
  get predictThreads(): number {
    return this.#replicas?.threads ?? 1;
  }

  /**
   * Samples each thread ran in the last call that used predict replicas, this thread's first
   * (empty before any): the split {@link setPredictThreads} balanced by measured speed.
   */
  get predictShares(): readonly number[] {
    return this.#replicas?.lastShares ?? [];
  }

  /** Predict replicas whose worker is running now (they end themselves when idle). */
  get runningPredictReplicas(): number {
    return this.#replicas?.running ?? 0;
  }

  /** The forward pass, on the replicas when they are on and the batch can be split. */
  #run(
    xs: Tensor[],
    wanted: readonly number[],
    batchSize: number,
    outputs: string[] | undefined,
  ): Tensor[] {
    const n = xs[0]?.shape[0] ?? 0;
    const pool = this.#replicas;
    const rows = wanted.map((id) => this.#shapes[id]);
    if (!pool || n < pool.threads || rows.some((r) => !r || r.some((d) => d === null))) {
      return this.#runLocal(xs, wanted, batchSize);
    }
    const sizes = rows.map((r) => sizeOf(r as number[]));
    // Shares in proportion to each thread's measured speed (even until measured).
    const [mine, ...theirs] = pool.split(n);
    let start = mine;
    const shares = theirs.map((count) => {
      const inputs = xs.map((x) => x.sliceBatch(start, start + count));
      start += count;
      return { inputs, outFloats: sizes.map((s) => s * count) };
    });
    if (!shares.every((share) => pool.fits(share))) return this.#runLocal(xs, wanted, batchSize);
    // The calling thread's time counts posting the shares (the replicas' counts their copying
    // out), so that equal speeds measure as equal.
    const started = performance.now();
    const wait = pool.start(shares, outputs, batchSize);
    let own: Tensor[];
    try {
      own = withoutKernelThreads(() =>
        this.#runLocal(xs.map((x) => x.sliceBatch(0, mine)), wanted, batchSize)
      );
    } catch (e) {
      // Wait anyway (the replicas read inputs this call owns); this thread's error is the one
      // to report.
      try {
        wait();
      } catch { /* reported: e */ }
      throw e;
    }
    const results = wait({ samples: mine, micros: (performance.now() - started) * 1000 });
    return own.map((y, k) => {
      const data = new Float32Array(n * sizes[k]);
      data.set(y.data);
      let at = y.data.length;
      for (const share of results) {
        data.set(share[k], at);
        at += share[k].length;
      }
      return new Tensor(data, [n, ...(rows[k] as number[])]);
    });
  }

  /** Runs the forward pass in chunks on this thread; returns the wanted tensors on the host. */
  #runLocal(xs: Tensor[], wanted: readonly number[], batchSize: number): Tensor[] {
    const { kernels, heap } = getRuntime();
    const ctx: CallContext = { kernels, heap, training: false };
    const plan = this.#plan(wanted);
    // Folded weights follow the layers' current ones (changed by fit or setWeights).
    if ("folded" in plan) { for (const f of plan.folded) f.sync(heap); }
    const n = xs[0]?.shape[0] ?? 0;
    const step = Math.min(batchSize, this.#cacheChunk(plan));
    const outs: Float32Array[] = [];
    const outShapes: number[][] = [];
    for (let start = 0; start < n; start += step) {
      const end = Math.min(n, start + step);
      const store = new TensorStore(this.#graph.nodes.length, heap);
      try {
        const inputs = xs.map((x) => {
          const part = x.sliceBatch(start, end);
          return { ptr: heap.upload(part.data), shape: [...part.shape], dtype: part.dtype };
        });
        runForward(
          this.#graph,
          plan,
          inputs,
          store,
          (node, ins, masks) =>
            node.extraOutputs.length
              ? node.layer.callOutputs(ins, masks, ctx)
              : node.layer.callInputs(ins, masks, ctx),
          false,
        );
        wanted.forEach((id, k) => {
          const t = store.values[id]!;
          const size = sizeOf(t.shape);
          if (!outs[k]) {
            outShapes[k] = [n, ...t.shape.slice(1)];
            outs[k] = new Float32Array(sizeOf(outShapes[k]));
          }
          const data = t.dtype === "int32" ? heap.i32(t.ptr, size) : heap.f32(t.ptr, size);
          outs[k].set(data, start * sizeOf(outShapes[k].slice(1)));
        });
        let totalBytes = 0;
        for (const t of inputs) totalBytes += sizeOf(t.shape) * 4;
        for (const node of plan.steps) {
          const dims = (this.#shapes[node.id] ?? []).map((d) => d ?? 1);
          totalBytes += (end - start) * sizeOf(dims) * 4;
        }
        this.lastPredictMemory = { peakBytes: store.peakBytes, totalBytes };
      } finally {
        store.releaseAll();
      }
    }
    return wanted.map((id, k) => {
      if (outs[k]) return new Tensor(outs[k], outShapes[k]);
      // Empty batch: output shape from the static shapes (unknown dims → 0 values).
      return new Tensor(new Float32Array(0), [0, ...(this.#shapes[id] ?? []).map((d) => d ?? 0)]);
    });
  }

  /**
   * Samples per kernel call that keep a feed-forward model's largest activation within
   * {@link CACHE_CHUNK_BYTES} per kernel thread (measured: the 1-conv seeds CNN at batch 64 ran
   * 10–15 % faster in chunks of 4–8 than in one call, and the others no slower). Recurrent
   * models take the whole batch: their per-step GEMMs have the batch as rows and lose more.
   * The result does not depend on it (every kernel's result is independent of the batch size).
   */
  #cacheChunk(plan: GraphPlan): number {
    let largest = 0;
    for (const node of plan.steps) {
      const layer = node.layer;
      if (layer.prefersWholeBatch) return Infinity;
      const dims = this.#shapes[node.id];
      if (!dims || dims.some((d) => d === null)) return Infinity;
      largest = Math.max(largest, sizeOf(dims as number[]) * 4);
    }
    if (largest === 0) return Infinity;
    return Math.max(1, Math.floor(CACHE_CHUNK_BYTES / largest)) * Math.max(1, kernelThreads());
  }

  /**
   * Keras casts inputs to the model's dtype: int32 data for an input that does not feed only
   * Embeddings is converted, never reinterpreted as float bits by the kernels.
   */
  #castInputs(xs: Tensor[]): Tensor[] {
    return xs.map((x, i) => {
      if (x.dtype !== "int32") return x;
      const id = this.#graph.inputs[i];
      const readers = this.#graph.nodes.filter((n) => n.inputs.includes(id));
      const ids = readers.length > 0 && readers.every((n) => n.layer.readsIds);
      return ids ? x : new Tensor(Float32Array.from(x.data), x.shape);
    });
  }

  /** Builds a Sequential that declares no input shape for the shape of its first input. */
  #ensureBuilt(xs: Tensor[]): void {
    if (this.#built) return;
    const x = xs[0];
    if (!(x instanceof Tensor)) {
      throw new InputShapeError(this.name, "a Tensor", x === null ? "null" : typeof x);
    }
    this.#graph = this.#makeGraph([null, ...x.shape.slice(1)]);
    this.#build();
  }

  #checkInputs(xs: Tensor[], field = ""): void {
    const suffix = field ? ` (${field})` : "";
    const ids = this.#graph.inputs;
    if (xs.length !== ids.length) {
      throw new InputShapeError(
        this.name,
        `${ids.length} input tensor${ids.length === 1 ? "" : "s"} (${
          this.inputNames.join(", ")
        })${suffix}`,
        `${xs.length}`,
      );
    }
    xs.forEach((x, i) => {
      const inputName = this.#graph.nodes[ids[i]].layer.name;
      if (!(x instanceof Tensor)) {
        throw new InputShapeError(inputName, `a Tensor${suffix}`, x === null ? "null" : typeof x);
      }
      const declared = this.#shapes[ids[i]];
      const got = x.shape.slice(1);
      const ok = got.length === declared.length &&
        declared.every((d, j) => d === null || d === got[j]);
      if (!ok) {
        throw new InputShapeError(
          inputName,
          `${formatShape(declared)}${suffix}`,
          `(${x.shape.join(", ")})`,
        );
      }
      if (x.shape[0] !== xs[0].shape[0]) {
        throw new InputShapeError(
          inputName,
          `${xs[0].shape[0]} samples, as the first input${suffix}`,
          `${x.shape[0]}`,
        );
      }
      if (x.data instanceof Float32Array) {
        for (let k = 0; k < x.data.length; k++) {
          if (!Number.isFinite(x.data[k])) {
            throw new InputShapeError(
              inputName,
              `finite values${suffix}`,
              `${x.data[k]} at flat index ${k}`,
            );
          }
        }
      }
    });
  }

  /** The config (with trainable flags set through the model) and current weights, for saving. */
  toSpec(): ModelSpec {
    const weights: Record<string, WeightTensor[]> = {};
    for (const l of this.#graph.layers) {
      const w = l.layer.getWeights();
      if (w.length) weights[l.path] = w;
    }
    return { config: structuredClone(this.#config), weights, kerasVersion: this.kerasVersion };
  }

  /** Total number of weight scalars. */
  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /** Trainable and non-trainable weight scalars, as Keras's `summary()` counts them. */
  countParamsByKind(): { trainable: number; nonTrainable: number } {
    const flags = this.layerTrainable();
    let trainable = 0, nonTrainable = 0;
    this.#graph.layers.forEach((l, i) => {
      const kinds = l.layer.weightTrainable();
      l.layer.weightSpecs(l.layer.inputShape).forEach((s, j) => {
        if (flags[i] && kinds[j] !== false) trainable += sizeOf(s.shape);
        else nonTrainable += sizeOf(s.shape);
      });
    });
    return { trainable, nonTrainable };
  }

  /**
   * A Keras-style summary table: one row per layer (a nested model is one row), its output
   * shape and parameters, and for Functional models the layers each one is connected to; then
   * the total, trainable and non-trainable parameter counts.
   */
  summary(): string {
    const graph = this.#graph;
    const functional = this.className !== "Sequential";
    const group = (layer: Layer) => {
      const info = this.#info.get(layer)!;
      return info.models[0] ?? info.path;
    };
    const groups: string[] = [];
    const nodesOf = new Map<string, GraphNode[]>();
    for (const node of graph.nodes) {
      if (node.outputIndex > 0) continue; // shown with its call
      const g = group(node.layer);
      if (!nodesOf.has(g)) {
        groups.push(g);
        nodesOf.set(g, []);
      }
      nodesOf.get(g)!.push(node);
    }
    const callIndex = (node: GraphNode) => {
      const g = group(node.layer);
      const calls = nodesOf.get(g)!.filter((n) => this.#info.get(n.layer)!.models.length === 0);
      const k = calls.indexOf(node);
      return k >= 0 ? k : 0;
    };
    const rows: string[][] = [];
    for (const g of groups) {
      const nodes = nodesOf.get(g)!;
      const first = nodes[0].layer;
      const nested = graph.models.find((m) => m.path === g);
      if (!nested && first instanceof InputLayer && !functional) continue;
      const members = graph.layers.filter((l) => l.path === g || l.path.startsWith(`${g}/`));
      const params = members.reduce((n, l) => n + l.layer.countParams(), 0);
      const label = nested ? `${g} (${nested.className})` : `${first.name} (${first.className})`;
      // A call returning several tensors shows them all, as Keras does: `[(…), (…)]`.
      const callShape = (n: GraphNode) =>
        n.extraOutputs.length
          ? `[${
            [n.id, ...n.extraOutputs].map((id) => formatShape(this.#shapes[id] ?? [])).join(", ")
          }]`
          : formatShape(this.#shapes[n.id] ?? []);
      const shapes = nested
        ? [formatShape(this.#shapes[nodes[nodes.length - 1].id] ?? [])]
        : nodes.map(callShape);
      const shapeText = shapes.every((s) => s === shapes[0]) ? shapes[0] : "multiple";
      const inGroup = new Set(nodes.map((n) => n.id));
      const sources = nodes.flatMap((n) => n.inputs.filter((i) => !inGroup.has(i)));
      const connected = [...new Set(sources)].map((i) => {
        const out = graph.nodes[i];
        const src = out.outputIndex > 0 ? graph.nodes[out.inputs[0]] : out;
        return `${group(src.layer)}[${callIndex(src)}][${out.outputIndex}]`;
      });
      rows.push([label, shapeText, String(params), ...(functional ? [connected.join(", ")] : [])]);
    }
    const head = [
      "Layer (type)",
      "Output Shape",
      "Param #",
      ...(functional ? ["Connected to"] : []),
    ];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
    const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join("").trimEnd();
    const rule = "─".repeat(w.reduce((a, b) => a + b, 0));
    const { trainable, nonTrainable } = this.countParamsByKind();
    return [
      `Model: "${this.name}"`,
      rule,
      line(head),
      rule,
      ...rows.map(line),
      rule,
      `Total params: ${trainable + nonTrainable}`,
      `Trainable params: ${trainable}`,
      `Non-trainable params: ${nonTrainable}`,
    ].join("\n");
  }

  // ---- training -------------------------------------------------------------------------

  /**
   * Configures training (Keras `compile`): optimizer (default Adam), loss, metrics. Recompiling
   * discards the previous optimizer state; changing `trainable` needs a new compile.
   */
  compile(options: CompileOptions): void {
    this.#alive();
    this.#trainer?.dispose();
    this.#trainer = undefined;
    this.#trainer = new Trainer(this, options, (xs, field) => {
      this.#ensureBuilt(xs);
      this.#checkInputs(xs, field);
    });
    this.#compiledTrainable = this.layerTrainable().join();
  }

  #compiled(what: string): Trainer {
    this.#alive();
    if (!this.#trainer) {
      throw new TrainingConfigError(what, `model "${this.name}" must be compiled first`);
    }
    if (what !== "optimizer" && this.#compiledTrainable !== this.layerTrainable().join()) {
      throw new TrainingConfigError(
        what,
        `layers' trainable flags changed after compile: call compile() again (as in Keras, ` +
          `where the change takes effect only then)`,
      );
    }
    return this.#trainer;
  }

  #alive(): void {
    if (this.#disposed) throw new ModelConfigError(`model "${this.name}" was disposed`);
  }

  /** The compiled optimizer (its `learningRate` can be changed between epochs). */
  get optimizer(): Optimizer {
    return this.#compiled("optimizer").optimizer;
  }

  /**
   * Trains the model (Keras `fit`): returns the per-epoch `history` (`loss`, metrics, `val_*`).
   * `x` is one tensor per model input (a list for several inputs), `y` one per output (a list or
   * a record by output name; each output has its loss, `lossWeights` and metrics from `compile`,
   * logged as `<output>_loss` / `<output>_<metric>`). See {@link FitOptions}.
   */
  fit(x: Tensor | Tensor[], y: Targets, options: FitOptions = {}): Promise<History> {
    return this.#compiled("fit").fit(x, y, options);
  }

  /** Loss and metrics over (x, y) in inference mode (Keras `evaluate`, as a record). */
  evaluate(x: Tensor | Tensor[], y: Targets, options: EvaluateOptions = {}): Logs {
    return this.#compiled("evaluate").evaluate(x, y, options);
  }

  /** One gradient step on one batch; returns its loss and metrics (Keras `train_on_batch`). */
  trainOnBatch(x: Tensor | Tensor[], y: Targets, sampleWeight?: Float32Array): Logs {
    return this.#compiled("trainOnBatch").trainOnBatch(x, y, sampleWeight);
  }

  /**
   * Copies of every layer's current weights, in layer then Keras order (Keras `get_weights`),
   * named `<layer path>/<weight>`.
   */
  getWeights(): WeightTensor[] {
    this.#alive();
    return this.#graph.layers.flatMap((l) =>
      l.layer.getWeights().map((w) => ({
        name: `${l.path}/${w.name}`,
        shape: [...w.shape],
        data: w.data.slice(),
      }))
    );
  }

  /** Replaces every layer's weights from a list shaped like {@link getWeights}' (Keras `set_weights`). */
  setWeights(weights: WeightTensor[]): void {
    this.#alive();
    const layers = this.layers;
    const counts = layers.map((l) => l.getWeights().length);
    const total = counts.reduce((a, b) => a + b, 0);
    if (!Array.isArray(weights) || weights.length !== total) {
      throw new ModelConfigError(
        `setWeights: model "${this.name}" has ${total} weight arrays, received ${
          Array.isArray(weights) ? weights.length : typeof weights
        }`,
      );
    }
    let k = 0;
    layers.forEach((l, i) => {
      const mine = weights.slice(k, k + counts[i]);
      k += counts[i];
      if (mine.length) {
        l.setWeights(mine.map((w, j) => ({ ...w, name: l.getWeights()[j].name })));
      }
    });
  }

  /** Frees the weights' device memory; the model cannot predict afterwards. */
  dispose(): void {
    this.#replicas?.close();
    this.#replicas = undefined;
    this.#trainer?.dispose();
    this.#trainer = undefined;
    for (const l of this.layers) l.dispose();
    this.#disposeFolded();
    this.#disposed = true;
  }
}

/** Refuses weight lists that are not `{ name, shape, data: Float32Array }` entries. */
function checkWeightList(layerName: string, weights: unknown): void {
  if (!Array.isArray(weights)) {
    throw new WeightShapeError(layerName, "(list)", "an array of weights", typeof weights);
  }
  weights.forEach((w, i) => {
    const name = typeof w?.name === "string" ? w.name : `#${i}`;
    if (typeof w !== "object" || w === null) {
      throw new WeightShapeError(layerName, name, "{ name, shape, data }", String(w));
    }
    const shapeOk = Array.isArray(w.shape) &&
      w.shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0);
    if (!shapeOk) {
      throw new WeightShapeError(layerName, name, "non-negative integers", String(w.shape));
    }
    if (!(w.data instanceof Float32Array)) {
      const got = w.data === null || typeof w.data !== "object"
        ? String(w.data)
        : String(w.data.constructor?.name);
      throw new WeightShapeError(layerName, name, "data as a Float32Array", got);
    }
  });
}

/**
 * Builds an engine model from a Keras config and weights. With `{ initialize: { seed } }`,
 * layers missing from `spec.weights` get freshly initialized weights (Keras initializers, seeded).
 */
export function buildModel(spec: ModelSpec, options: ModelBuildOptions = {}): Model {
  return new Model(spec, options);
}
