/**
 * The training loop behind `Model.compile / fit / evaluate / trainOnBatch`, following Keras 3:
 * shuffled mini-batches (seeded), `validation_split` taken from the end of the data before
 * shuffling, the epoch loss as the sample-count-weighted mean of batch losses, metrics as
 * weighted means over the epoch, `val_*` from an inference pass over the validation data, and
 * callbacks between batches and epochs.
 *
 * One step = {@link TrainingGraph.computeGradients} on the batch (a function of the batch slice
 * and the weights only, so a worker version can split it), scaling by the batch's loss count,
 * clipping and the optimizer update.
 */
import { isRecord } from "../spec.ts";
import type { BatchStatistics } from "../layer.ts";
import type { Model } from "../model.ts";
import { Tensor } from "../tensor.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { Callback, type FitParams, History, type Logs } from "./callbacks.ts";
import { TrainingConfigError, TrainingDataError } from "./errors.ts";
import { type BatchSlice, type SliceResult, TrainingGraph } from "./graph.ts";
import { Loss, type LossConfig } from "./losses.ts";
import { checkMetricNames, type Metric, resolveMetrics } from "./metrics.ts";
import { type Optimizer, type OptimizerConfig, resolveOptimizer } from "./optimizers.ts";
import { ProgressBar, type ProgressSink, stderrSink } from "./progress.ts";
import { SeededRandom } from "./random.ts";
import { TrainingWorkerError } from "./parallel/errors.ts";
import { GradientWorkerPool } from "./parallel/pool.ts";
import {
  checkBatchStatistics,
  checkWorkersOption,
  planWorkers,
  type WorkersOption,
} from "./parallel/plan.ts";
import { paramInfo, type WorkerInit } from "./parallel/protocol.ts";

/** Options of `Model.compile`. */
export interface CompileOptions {
  /** `"adam"` (default), `"sgd"`, `"rmsprop"`, an {@link Optimizer}, or a Keras config object. */
  optimizer?: OptimizerConfig;
  /**
   * `"sparse_categorical_crossentropy"`, `"categorical_crossentropy"`, `"binary_crossentropy"`,
   * `"mse"`, or `{ name, fromLogits }`. A model with several outputs takes one loss for all, a
   * list with one per output, or a record by output name (Keras `compile(loss=…)`).
   */
  loss: LossConfig | LossConfig[] | Record<string, LossConfig>;
  /**
   * Per output: its weight in the total loss (Keras `loss_weights`; default 1 each), as a list
   * or a record by output name.
   */
  lossWeights?: number[] | Record<string, number>;
  /**
   * Metric names: `"accuracy"` (resolved from the loss as Keras does), `"mse"`, `"mae"`, … With
   * several outputs: one list for every output, a list of lists, or a record by output name;
   * logged as `<output>_<metric>`.
   */
  metrics?: string[] | string[][] | Record<string, string[]>;
  /** Seed of the shuffling and Dropout streams (default 1337); `fit({seed})` overrides. */
  seed?: number;
  /**
   * Threads `fit` computes each batch's gradients on (default "auto"; `fit({workers})` overrides):
   * n ≥ 2 = this thread plus n − 1 Web Workers, each differentiating a slice of every batch. The
   * result equals one thread's up to float rounding. "auto" uses workers in Deno for large enough
   * batches and models; models with a trainable BatchNormalization use one thread unless
   * `batchStatistics` is "per-thread". See `parallel/plan.ts`.
   */
  workers?: WorkersOption;
  /**
   * How a trainable BatchNormalization normalises a batch split over threads (default
   * "whole-batch": such a model trains on one thread, exactly as Keras on one device).
   * "per-thread": each thread normalises its slice with the slice's own statistics and the moving
   * statistics are averaged over the threads — Keras's `BatchNormalization(synchronized=False)`
   * on the replicas of a `tf.distribute` strategy; a model trained so depends on the thread count.
   * `fit({batchStatistics})` overrides.
   */
  batchStatistics?: BatchStatistics;
}

/** Targets: one tensor, or one per model output (a list, or a record by output name). */
export type Targets = Tensor | Tensor[] | Record<string, Tensor>;

/** Validation data for `fit`: `[x, y]`, `[x, y, sampleWeight]` or an object. */
export type ValidationData =
  | [Tensor | Tensor[], Targets]
  | [Tensor | Tensor[], Targets, Float32Array]
  | { x: Tensor | Tensor[]; y: Targets; sampleWeight?: Float32Array };

/** Options of `Model.fit`. */
export interface FitOptions {
  epochs?: number;
  /** Samples per gradient step (default 32). */
  batchSize?: number;
  /** Evaluated at the end of each epoch into `val_loss`, `val_<metric>`. */
  validationData?: ValidationData;
  /** Fraction of the data, taken from the end before shuffling, used as validation data. */
  validationSplit?: number;
  /**
   * Shuffle the training samples before each epoch (default true, seeded). `"batch"` (Keras's
   * `shuffle="batch"`) shuffles the order of whole batches and keeps each batch's samples
   * together, the last partial batch last: on data sorted by length, batches of similar lengths
   * (recurrent layers then skip the padding the whole batch shares).
   */
  shuffle?: boolean | "batch";
  callbacks?: Callback[];
  /**
   * 0 silent; 1 a progress bar on stderr when it is a terminal; 2 one line per epoch on stderr;
   * "auto" (default) = 1.
   */
  verbose?: 0 | 1 | 2 | "auto";
  /** Per-sample loss weights. */
  sampleWeight?: Float32Array;
  /** First epoch index (to resume). */
  initialEpoch?: number;
  /** Seed for this fit's shuffling and Dropout (default: the compile-time stream). */
  seed?: number;
  /** Where the progress bar writes (default: Deno's stderr). */
  progressSink?: ProgressSink | null;
  /** Threads for this fit (default: the compile option); see {@link CompileOptions.workers}. */
  workers?: WorkersOption;
  /** See {@link CompileOptions.batchStatistics} (default: the compile option). */
  batchStatistics?: BatchStatistics;
}

/** Options of `Model.evaluate`. */
export interface EvaluateOptions {
  batchSize?: number;
  sampleWeight?: Float32Array;
}

/** Host-side training data, validated. */
interface Dataset {
  /** One tensor per model input. */
  xs: Tensor[];
  /** One target array per model output, and its values per sample. */
  targets: (Float32Array | Int32Array)[];
  targetsPerSample: number[];
  sampleWeight: Float32Array | null;
}

const xPerSample = (x: Tensor) => x.shape.slice(1).reduce((a, b) => a * b, 1);

function gather<T extends Float32Array | Int32Array>(src: T, per: number, idx: Int32Array): T {
  const out = new (src.constructor as { new (n: number): T })(idx.length * per);
  for (let i = 0; i < idx.length; i++) {
    out.set(src.subarray(idx[i] * per, (idx[i] + 1) * per), i * per);
  }
  return out;
}

/** Rows [start, end) of a dataset, optionally through an index permutation. */
function sliceDataset(
  d: Dataset,
  start: number,
  end: number,
  order: Int32Array | null,
): BatchSlice {
  const tps = d.targetsPerSample;
  if (!order) {
    return {
      xs: d.xs.map((x) => x.sliceBatch(start, end)),
      targets: d.targets.map((t, i) => t.subarray(start * tps[i], end * tps[i])),
      sampleWeight: d.sampleWeight ? d.sampleWeight.subarray(start, end) : null,
      sampleOffset: 0,
    };
  }
  const idx = order.subarray(start, end);
  return {
    xs: d.xs.map((x) =>
      new Tensor(gather(x.data, xPerSample(x), idx), [end - start, ...x.shape.slice(1)])
    ),
    targets: d.targets.map((t, i) => gather(t, tps[i], idx)),
    sampleWeight: d.sampleWeight ? gather(d.sampleWeight, 1, idx) : null,
    sampleOffset: 0,
  };
}

/** Running sums behind an epoch's logs. */
class Aggregate {
  samples = 0;
  weightedLoss = 0;
  readonly outputLosses: number[];
  readonly sums: number[];
  readonly weights: number[];

  /**
   * @param metricNames the logged name of every metric, every output's in order
   * @param outputNames with several outputs: their names (`<name>_loss` is logged for each)
   */
  constructor(readonly metricNames: readonly string[], readonly outputNames: readonly string[]) {
    this.sums = metricNames.map(() => 0);
    this.weights = metricNames.map(() => 0);
    this.outputLosses = outputNames.map(() => 0);
  }

  add(res: SliceResult, samples: number): void {
    const batchLoss = res.lossCount > 0 ? res.lossSum / res.lossCount : 0;
    this.weightedLoss += batchLoss * samples;
    res.outputLossSums?.forEach((s, i) => {
      this.outputLosses[i] += (res.lossCount > 0 ? s / res.lossCount : 0) * samples;
    });
    this.samples += samples;
    res.metricSums.forEach((s, i) => (this.sums[i] += s));
    res.metricWeights.forEach((w, i) => (this.weights[i] += w));
  }

  logs(prefix = ""): Logs {
    const logs: Logs = { [`${prefix}loss`]: this.samples ? this.weightedLoss / this.samples : 0 };
    this.outputNames.forEach((name, i) => {
      logs[`${prefix}${name}_loss`] = this.samples ? this.outputLosses[i] / this.samples : 0;
    });
    this.metricNames.forEach((name, i) => {
      logs[`${prefix}${name}`] = this.weights[i] > 0 ? this.sums[i] / this.weights[i] : 0;
    });
    return logs;
  }
}

/** One model output as the trainer sees it: its loss, loss weight and metrics. */
interface Head {
  name: string;
  loss: Loss;
  weight: number;
  metrics: Metric[];
}

/** A record of losses by output name (not one loss given as `{ name }` or a Keras object). */
function isLossRecord(v: unknown): v is Record<string, LossConfig> {
  return isRecord(v) && !("name" in v) && !("class_name" in v);
}

/**
 * A per-output option as Keras takes it: one value for every output, a list with one per output,
 * or a record by output name. `single` tells a lone value from a record/list.
 */
function perOutput<T>(
  value: unknown,
  names: readonly string[],
  field: string,
  single: (v: unknown) => boolean,
  fallback: T,
): T[] {
  if (value === undefined) return names.map(() => fallback);
  if (single(value)) return names.map(() => value as T);
  if (Array.isArray(value)) {
    if (value.length !== names.length) {
      throw new TrainingConfigError(
        field,
        `the model has ${names.length} outputs (${names.join(", ")}): expected ${names.length} ` +
          `entries, got ${value.length}`,
      );
    }
    return value as T[];
  }
  if (isRecord(value)) {
    const unknown = Object.keys(value).filter((k) => !names.includes(k));
    if (unknown.length) {
      throw new TrainingConfigError(
        field,
        `no output named ${unknown.join(", ")} (outputs: ${names.join(", ")})`,
      );
    }
    return names.map((n) => (n in value ? value[n] as T : fallback));
  }
  throw new TrainingConfigError(field, `expected a value, a list or a record by output name`);
}

function positiveInt(v: unknown, field: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new TrainingConfigError(field, `expected a positive integer, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

/** A compiled model's training state: loss, metrics, optimizer, gradient buffers. */
export class Trainer {
  readonly loss: Loss;
  readonly optimizer: Optimizer;
  readonly metricNames: readonly string[];
  readonly #model: Model;
  readonly #checkInput: (xs: Tensor[], field: string) => void;
  readonly #rng: SeededRandom;
  readonly #workers: WorkersOption;
  readonly #batchStatistics: BatchStatistics;
  readonly #options: CompileOptions;
  #heads?: Head[];
  #graph?: TrainingGraph;

  /**
   * @param checkInput validates input tensors against the model's inputs (throws a typed error)
   */
  constructor(
    model: Model,
    options: CompileOptions,
    checkInput: (xs: Tensor[], field: string) => void,
  ) {
    if (!options || typeof options !== "object") {
      throw new TrainingConfigError("compile", "expected { optimizer, loss, metrics }");
    }
    this.#model = model;
    this.#checkInput = checkInput;
    this.#options = options;
    // Checked now (a typo fails at compile, as in Keras); resolved per output on first use.
    const losses = Array.isArray(options.loss)
      ? options.loss
      : isLossRecord(options.loss)
      ? Object.values(options.loss)
      : [options.loss];
    if (losses.length === 0) throw new TrainingConfigError("loss", "expected at least one loss");
    losses.forEach((l) => Loss.from(l as LossConfig));
    this.loss = Loss.from(losses[0] as LossConfig);
    this.optimizer = resolveOptimizer(options.optimizer);
    const metrics = options.metrics ?? [];
    const lists = Array.isArray(metrics)
      ? (metrics.every((m) => typeof m === "string") ? [metrics] : metrics)
      : isRecord(metrics)
      ? Object.values(metrics)
      : [metrics];
    for (const list of lists) {
      if (!Array.isArray(list) || !list.every((m) => typeof m === "string")) {
        throw new TrainingConfigError(
          "metrics",
          `expected a list of names (or one per output), got ${JSON.stringify(metrics)}`,
        );
      }
      checkMetricNames(list as string[]);
    }
    this.metricNames = lists.flat() as string[];
    this.#rng = new SeededRandom(options.seed ?? 1337);
    this.#workers = checkWorkersOption(options.workers ?? "auto");
    this.#batchStatistics = checkBatchStatistics(options.batchStatistics ?? "whole-batch");
  }

  /** The training graph, built on first use (the model must be built). */
  get graph(): TrainingGraph {
    if (!this.#graph) {
      const { kernels, heap } = getRuntime();
      const heads = this.#resolvedHeads();
      this.#graph = new TrainingGraph(
        this.#model.graph,
        this.#model.layerTrainable(),
        heads.map((h) => h.loss),
        heads.map((h) => h.metrics),
        kernels,
        heap,
        heads.map((h) => h.weight),
      );
    }
    return this.#graph;
  }

  /** Each output's loss, loss weight and metrics (the model must be built). */
  #resolvedHeads(): Head[] {
    if (!this.#heads) {
      const names = this.#model.outputNames;
      const shapes = this.#model.outputShapes;
      const o = this.#options;
      const losses = perOutput<LossConfig>(
        o.loss,
        names,
        "loss",
        (v) => !Array.isArray(v) && !isLossRecord(v),
        "mse",
      ).map((l) => Loss.from(l));
      const weights = perOutput<number>(
        o.lossWeights,
        names,
        "lossWeights",
        (v) => typeof v === "number",
        1,
      );
      const metrics = perOutput<string[]>(
        o.metrics ?? [],
        names,
        "metrics",
        (v) => Array.isArray(v) && v.every((m) => typeof m === "string"),
        [],
      );
      this.#heads = names.map((name, i) => {
        const out = shapes[i];
        const cols = out[out.length - 1];
        if (cols === null || cols === undefined) {
          throw new TrainingConfigError(
            "model",
            `output "${name}": its last dimension must be known to train`,
          );
        }
        return {
          name,
          loss: losses[i],
          weight: weights[i],
          metrics: resolveMetrics(metrics[i], losses[i], cols),
        };
      });
    }
    return this.#heads;
  }

  /** Logged metric names, every output's in order (`<output>_<metric>` with several outputs). */
  #metricLogNames(): string[] {
    const heads = this.#resolvedHeads();
    const multi = heads.length > 1;
    return heads.flatMap((h) => h.metrics.map((m) => (multi ? `${h.name}_${m.name}` : m.name)));
  }

  #aggregate(): Aggregate {
    const heads = this.#resolvedHeads();
    return new Aggregate(this.#metricLogNames(), heads.length > 1 ? heads.map((h) => h.name) : []);
  }

  /** Validates x / y / sample weights into a dataset. */
  #dataset(
    x: Tensor | Tensor[],
    y: Targets,
    sampleWeight: Float32Array | null | undefined,
    field: string,
  ): Dataset {
    const xs = Array.isArray(x) ? x : [x];
    if (!xs.every((t) => t instanceof Tensor) || xs.length === 0) {
      throw new TrainingDataError(`${field} x`, "a Tensor or a list of Tensors", typeof x);
    }
    this.#checkInput(xs, `${field} x`);
    const n = xs[0].shape[0];
    const heads = this.#resolvedHeads();
    const names = heads.map((h) => h.name);
    const ys = y instanceof Tensor
      ? [y]
      : perOutput<Tensor>(y, names, `${field} y`, () => false, null as unknown as Tensor);
    if (ys.length !== heads.length) {
      throw new TrainingDataError(
        `${field} y`,
        `${heads.length} target tensors (one per output: ${names.join(", ")})`,
        `${ys.length}`,
      );
    }
    const shapes = this.#model.outputShapes;
    const targets: (Float32Array | Int32Array)[] = [];
    const perSample: number[] = [];
    heads.forEach((head, i) => {
      const yi = ys[i];
      const where = heads.length > 1 ? `${field} y[${head.name}]` : `${field} y`;
      if (!(yi instanceof Tensor)) throw new TrainingDataError(where, "a Tensor", typeof yi);
      if (yi.shape[0] !== n) {
        throw new TrainingDataError(where, `${n} samples (as x)`, `shape [${yi.shape}]`);
      }
      const out = shapes[i];
      const cols = out[out.length - 1] as number;
      const perY = n ? yi.size / n : 0;
      // Loss rows per sample: from the output shape when fully known, else from y (the graph
      // checks it against the actual output of each batch).
      const known = out.slice(0, -1).every((d) => d !== null);
      const rowsPerSample = known
        ? out.slice(0, -1).reduce((a: number, b) => a * (b as number), 1)
        : head.loss.sparse
        ? perY
        : perY / cols;
      targets.push(head.loss.checkTargets(yi.data, n, rowsPerSample, cols, where));
      perSample.push(perY);
    });
    if (sampleWeight !== undefined && sampleWeight !== null) {
      if (!(sampleWeight instanceof Float32Array) || sampleWeight.length !== n) {
        throw new TrainingDataError(
          `${field} sampleWeight`,
          `a Float32Array of ${n} weights`,
          sampleWeight instanceof Float32Array ? `${sampleWeight.length}` : typeof sampleWeight,
        );
      }
      for (let i = 0; i < n; i++) {
        if (!(sampleWeight[i] >= 0) || !Number.isFinite(sampleWeight[i])) {
          throw new TrainingDataError(
            `${field} sampleWeight`,
            "finite weights ≥ 0",
            `${sampleWeight[i]} at ${i}`,
          );
        }
      }
    }
    return { xs, targets, targetsPerSample: perSample, sampleWeight: sampleWeight ?? null };
  }

  /** One optimizer step on a batch; returns what the batch contributed. */
  #step(slice: BatchSlice, seed: number): SliceResult {
    const res = this.graph.computeGradients(slice, seed);
    this.#applyGradients(res);
    return res;
  }

  /** {@link #step} with the gradients computed by this thread and `pool`'s workers. */
  async #parallelStep(
    slice: BatchSlice,
    seed: number,
    pool: GradientWorkerPool,
  ): Promise<SliceResult> {
    const res = await pool.computeGradients(this.graph, getRuntime().heap, slice, seed);
    this.#applyGradients(res);
    return res;
  }

  /** What the workers build their graph replicas from. */
  #workerInit(): WorkerInit {
    const graph = this.graph;
    return {
      type: "init",
      spec: this.#model.toSpec(),
      inputShape: [...this.#model.inputShape],
      layerNames: graph.layers.map((l) => this.#model.layerPath(l)),
      layerTrainable: this.#model.layerTrainable(),
      losses: this.#resolvedHeads().map((h) => ({
        name: h.loss.name,
        fromLogits: h.loss.fromLogits,
      })),
      lossWeights: this.#resolvedHeads().map((h) => h.weight),
      metrics: this.#resolvedHeads().map((h) => h.metrics.map((m) => ({ ...m }))),
      params: paramInfo(graph.params),
    };
  }

  /** Scales the summed gradients in the graph's buffers and runs the optimizer. */
  #applyGradients(res: SliceResult): void {
    const graph = this.graph;
    const { kernels, heap } = getRuntime();
    // Keras sum_over_batch_size: the batch gradient is the sum over loss rows / their count.
    const scale = res.lossCount > 0 ? 1 / res.lossCount : 0;
    const params = graph.trainableParams();
    if (scale !== 1) { for (const p of params) kernels.scaleInPlace(p.grad, p.size, scale); }
    this.optimizer.applyGradients(params, kernels, heap);
    graph.weightsUpdated();
  }

  /** One gradient step on (x, y); returns the batch's loss and metrics. */
  trainOnBatch(x: Tensor | Tensor[], y: Targets, sampleWeight?: Float32Array): Logs {
    const d = this.#dataset(x, y, sampleWeight, "trainOnBatch");
    const agg = this.#aggregate();
    const n = d.xs[0].shape[0];
    agg.add(this.#step(sliceDataset(d, 0, n, null), this.#rng.nextUint32()), n);
    return agg.logs();
  }

  /** Loss and metrics over (x, y) in inference mode. */
  evaluate(x: Tensor | Tensor[], y: Targets, options: EvaluateOptions = {}): Logs {
    const d = this.#dataset(x, y, options.sampleWeight, "evaluate");
    return this.#evaluateDataset(d, positiveInt(options.batchSize ?? 32, "batchSize"), "");
  }

  #evaluateDataset(d: Dataset, batchSize: number, prefix: string): Logs {
    const agg = this.#aggregate();
    const n = d.xs[0].shape[0];
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      agg.add(this.graph.evaluate(sliceDataset(d, start, end, null)), end - start);
    }
    return agg.logs(prefix);
  }

  /** Keras `fit`. */
  async fit(x: Tensor | Tensor[], y: Targets, options: FitOptions = {}): Promise<History> {
    const epochs = positiveInt(options.epochs ?? 1, "epochs");
    const batchSize = positiveInt(options.batchSize ?? 32, "batchSize");
    if (options.workers !== undefined) checkWorkersOption(options.workers);
    if (options.batchStatistics !== undefined) checkBatchStatistics(options.batchStatistics);
    const shuffle = options.shuffle ?? true;
    if (typeof shuffle !== "boolean" && shuffle !== "batch") {
      throw new TrainingConfigError(
        "shuffle",
        `expected true, false or "batch", got ${JSON.stringify(shuffle)}`,
      );
    }
    const initialEpoch = options.initialEpoch ?? 0;
    if (!Number.isInteger(initialEpoch) || initialEpoch < 0) {
      throw new TrainingConfigError("initialEpoch", `expected an integer ≥ 0, got ${initialEpoch}`);
    }
    let train = this.#dataset(x, y, options.sampleWeight, "fit");
    let val: Dataset | null = null;
    if (options.validationData !== undefined && options.validationData !== null) {
      const v = options.validationData;
      const [vx, vy, vw] = Array.isArray(v) ? v : [v.x, v.y, v.sampleWeight];
      val = this.#dataset(vx, vy, vw, "fit validationData");
    } else if (options.validationSplit !== undefined && options.validationSplit !== 0) {
      const split = options.validationSplit;
      if (!(split > 0 && split < 1)) {
        throw new TrainingConfigError(
          "validationSplit",
          `expected a number in (0, 1), got ${split}`,
        );
      }
      const n = train.xs[0].shape[0];
      const at = Math.floor(n * (1 - split));
      if (at < 1 || at >= n) {
        throw new TrainingConfigError(
          "validationSplit",
          `${split} of ${n} samples leaves an empty training or validation set`,
        );
      }
      const head = sliceDataset(train, 0, at, null), tail = sliceDataset(train, at, n, null);
      val = {
        xs: tail.xs,
        targets: tail.targets,
        targetsPerSample: train.targetsPerSample,
        sampleWeight: tail.sampleWeight,
      };
      train = {
        xs: head.xs,
        targets: head.targets,
        targetsPerSample: train.targetsPerSample,
        sampleWeight: head.sampleWeight,
      };
    }
    const n = train.xs[0].shape[0];
    if (n === 0) throw new TrainingDataError("fit x", "at least one sample", "0 samples");
    const steps = Math.ceil(n / batchSize);
    const rng = options.seed !== undefined ? new SeededRandom(options.seed) : this.#rng;
    const heads = this.#resolvedHeads();
    const history = new History();
    const verbose = options.verbose ?? "auto";
    const callbacks: Callback[] = [];
    if (verbose !== 0) {
      const sink = options.progressSink === undefined ? stderrSink() : options.progressSink;
      callbacks.push(new ProgressBar(sink, verbose === 2 ? 2 : 1));
    }
    for (const cb of options.callbacks ?? []) {
      if (!(cb instanceof Callback)) {
        throw new TrainingConfigError("callbacks", "expected Callback instances");
      }
      callbacks.push(cb);
    }
    callbacks.push(history);
    const params: FitParams = {
      epochs,
      steps,
      samples: n,
      batchSize,
      metrics: [
        "loss",
        ...(heads.length > 1 ? heads.map((h) => `${h.name}_loss`) : []),
        ...this.#metricLogNames(),
      ],
    };
    for (const cb of callbacks) cb.setModel(this.#model, params);
    this.#model.stopTraining = false;
    const plan = planWorkers(
      options.workers ?? this.#workers,
      this.graph.layers,
      batchSize,
      options.batchStatistics ?? this.#batchStatistics,
    );
    let pool: GradientWorkerPool | undefined;
    try {
      if (plan.workers > 1) {
        pool = await GradientWorkerPool.start(plan.workers - 1, this.#workerInit()).catch((e) => {
          // "auto" asked for nothing: where workers cannot start (e.g. a bundle without its
          // worker entry), train on this thread. An explicit thread count reports the failure.
          if (plan.auto && e instanceof TrainingWorkerError) return undefined;
          throw e;
        });
      }
      for (const cb of callbacks) await cb.onTrainBegin();
      let epochLogs: Logs = {};
      for (let epoch = initialEpoch; epoch < epochs; epoch++) {
        for (const cb of callbacks) await cb.onEpochBegin(epoch);
        const order = shuffle === false
          ? null
          : shuffle === "batch"
          ? batchShuffle(rng.permutation(Math.floor(n / batchSize)), n, batchSize)
          : rng.permutation(n);
        const agg = this.#aggregate();
        for (let b = 0; b < steps; b++) {
          for (const cb of callbacks) await cb.onTrainBatchBegin(b);
          const start = b * batchSize, end = Math.min(n, start + batchSize);
          const slice = sliceDataset(train, start, end, order);
          const seed = rng.nextUint32();
          const res = pool ? await this.#parallelStep(slice, seed, pool) : this.#step(slice, seed);
          agg.add(res, end - start);
          const logs = agg.logs();
          for (const cb of callbacks) await cb.onTrainBatchEnd(b, logs);
        }
        epochLogs = agg.logs();
        if (val) Object.assign(epochLogs, this.#evaluateDataset(val, batchSize, "val_"));
        for (const cb of callbacks) await cb.onEpochEnd(epoch, epochLogs);
        if (this.#model.stopTraining) break;
      }
      for (const cb of callbacks) await cb.onTrainEnd(epochLogs);
    } finally {
      // Also on errors and early stops: a live worker would keep the process (and a test) open.
      pool?.terminate();
    }
    return history;
  }

  /** Frees gradient buffers and optimizer slots. */
  dispose(): void {
    this.#graph?.dispose();
    this.#graph = undefined;
    this.optimizer.dispose();
  }
}

/**
 * Keras's `shuffle="batch"` order of `n` samples: whole batches of `batchSize` in the order
 * `batchOrder` (a permutation of the full batches), then the last partial batch.
 */
export function batchShuffle(batchOrder: Int32Array, n: number, batchSize: number): Int32Array {
  const order = new Int32Array(n);
  let at = 0;
  for (const b of batchOrder) {
    for (let i = 0; i < batchSize; i++) order[at++] = b * batchSize + i;
  }
  while (at < n) order[at] = at++;
  return order;
}
