/**
 * A set of gradient workers for one `fit`, and the data-parallel gradient computation of a batch:
 * the main thread differentiates the first slice itself while each worker differentiates one of
 * the others; the slices' gradient sums are then added in slice order into the main graph's
 * gradient buffers, and the layer state they wrote (per-thread batch statistics) is averaged.
 * Always {@link GradientWorkerPool.terminate} a pool (the trainer does so in a `finally`, whether
 * `fit` ends, throws or is stopped early).
 */
import type { WasmHeap } from "../../wasm/heap.ts";
import type { BatchSlice, SliceResult, TrainingGraph } from "../graph.ts";
import { TrainingWorkerError } from "./errors.ts";
import { splitBounds } from "./plan.ts";
import { trainingWorkerUrl } from "./worker_url.ts";
import {
  addGradients,
  averageState,
  packWeights,
  type WorkerInit,
  type WorkerReply,
  type WorkerResult,
  type WorkerStep,
} from "./protocol.ts";

let liveWorkers = 0;
let startedWorkers = 0;

/** Gradient workers currently running in this thread's pools (0 after every `fit`). */
export function liveTrainingWorkers(): number {
  return liveWorkers;
}

/** Gradient workers started by this thread so far (tests check that a fit used workers). */
export function startedTrainingWorkers(): number {
  return startedWorkers;
}

interface Pending {
  resolve(result: WorkerResult): void;
  reject(error: Error): void;
}

/** One worker and its outstanding requests. */
class GradientWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #ready: Promise<void>;
  #readyHandlers?: { resolve(): void; reject(error: Error): void };
  #failure?: Error;
  #nextId = 0;
  #terminated = false;

  constructor(init: WorkerInit) {
    this.#ready = new Promise((resolve, reject) => (this.#readyHandlers = { resolve, reject }));
    // Handled by whoever awaits ready(); a pool that fails to start may never await some.
    this.#ready.catch(() => undefined);
    const url = trainingWorkerUrl();
    if (!url) {
      throw new TrainingWorkerError(
        "no worker entry for a bundled engine: call setTrainingWorkerUrl with its bundled worker",
      );
    }
    this.#worker = new Worker(url, { type: "module" });
    liveWorkers++;
    startedWorkers++;
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#receive(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      // Handled here: an unhandled worker error would also be raised in the main thread.
      event.preventDefault();
      this.#fail(new TrainingWorkerError(event.message || "the worker failed to run"));
    };
    this.#worker.onmessageerror = () => {
      this.#fail(new TrainingWorkerError("a message could not be deserialized"));
    };
    this.#worker.postMessage(init);
  }

  /** Resolves when the worker built its replica. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Posts a step (its arrays are transferred) and resolves with the worker's answer. */
  compute(step: Omit<WorkerStep, "type" | "id">): Promise<WorkerResult> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject });
      const msg: WorkerStep = { type: "step", id, ...step };
      const transfer = [
        msg.weights.buffer,
        ...msg.xs.map((x) => x.buffer),
        ...msg.targets.map((t) => t.buffer),
      ];
      if (msg.sampleWeight) transfer.push(msg.sampleWeight.buffer);
      this.#worker.postMessage(msg, transfer as ArrayBuffer[]);
    });
  }

  #receive(msg: WorkerReply): void {
    if (msg.type === "ready") {
      this.#readyHandlers?.resolve();
      this.#readyHandlers = undefined;
    } else if (msg.type === "result") {
      this.#pending.get(msg.id)?.resolve(msg);
      this.#pending.delete(msg.id);
    } else {
      const error = new TrainingWorkerError(`${msg.name}: ${msg.message}`, msg.name);
      if (msg.id < 0) this.#fail(error);
      else {
        this.#pending.get(msg.id)?.reject(error);
        this.#pending.delete(msg.id);
      }
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#readyHandlers?.reject(error);
    this.#readyHandlers = undefined;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker.terminate();
    liveWorkers--;
    this.#fail(new TrainingWorkerError("terminated"));
  }
}

/** Workers holding replicas of one training graph. */
export class GradientWorkerPool {
  readonly #workers: GradientWorker[];

  private constructor(workers: GradientWorker[]) {
    this.#workers = workers;
  }

  /** Number of workers (threads besides the main one). */
  get size(): number {
    return this.#workers.length;
  }

  /**
   * Starts `count` workers and waits until each built its replica from `init`; on failure the
   * started workers are terminated and a {@link TrainingWorkerError} is thrown.
   */
  static async start(count: number, init: WorkerInit): Promise<GradientWorkerPool> {
    const workers: GradientWorker[] = [];
    try {
      for (let i = 0; i < count; i++) workers.push(new GradientWorker(init));
      await Promise.all(workers.map((w) => w.ready()));
    } catch (e) {
      for (const w of workers) w.terminate();
      if (e instanceof TrainingWorkerError) throw e;
      throw new TrainingWorkerError(`could not start: ${e instanceof Error ? e.message : e}`);
    }
    return new GradientWorkerPool(workers);
  }

  /**
   * Overwrites `graph`'s gradient buffers with the unscaled gradient sums of the whole `slice` and
   * returns its loss and metric sums, as {@link TrainingGraph.computeGradients} does, computing
   * the first part on this thread and the others in the workers.
   */
  async computeGradients(
    graph: TrainingGraph,
    heap: WasmHeap,
    slice: BatchSlice,
    seed: number,
  ): Promise<SliceResult> {
    const n = slice.xs[0].shape[0];
    const bounds = splitBounds(n, this.#workers.length + 1);
    if (bounds.length < 2) return graph.computeGradients(slice, seed);
    const tPer = slice.targets.map((t) => (n ? t.length / n : 0));
    const part = ([start, end]: [number, number]): BatchSlice => ({
      xs: slice.xs.map((x) => x.sliceBatch(start, end)),
      targets: slice.targets.map((t, i) => t.subarray(start * tPer[i], end * tPer[i])),
      sampleWeight: slice.sampleWeight ? slice.sampleWeight.subarray(start, end) : null,
      sampleOffset: slice.sampleOffset + start,
    });
    const weights = packWeights(graph.params, heap);
    // Posted before this thread starts on its own slice; the arrays are copies (a view would
    // clone its whole underlying buffer) transferred to the worker.
    const pending = Promise.all(
      bounds.slice(1).map((b, i) => {
        const p = part(b);
        return this.#workers[i].compute({
          weights: i === bounds.length - 2 ? weights : weights.slice(),
          xs: p.xs.map((x) => x.data.slice()),
          xShapes: p.xs.map((x) => [...x.shape]),
          targets: p.targets.map((t) => t.slice()),
          sampleWeight: p.sampleWeight ? p.sampleWeight.slice() : null,
          sampleOffset: p.sampleOffset,
          seed,
        });
      }),
    );
    let own: SliceResult;
    try {
      own = graph.computeGradients(part(bounds[0]), seed);
    } catch (e) {
      await pending.catch(() => undefined);
      throw e;
    }
    const results = await pending;
    const total: SliceResult = {
      lossSum: own.lossSum,
      lossCount: own.lossCount,
      metricSums: [...own.metricSums],
      metricWeights: [...own.metricWeights],
      ...(own.outputLossSums ? { outputLossSums: [...own.outputLossSums] } : {}),
    };
    // Layer state the slices wrote from their own samples (per-thread batch statistics): averaged.
    const merged = averageState(
      graph.params,
      heap,
      bounds[0][1] - bounds[0][0],
      results.map((r, i) => ({ state: r.state, samples: bounds[i + 1][1] - bounds[i + 1][0] })),
    );
    for (const owner of new Set(merged.map((p) => p.owner))) owner.weightsUpdated();
    for (const r of results) {
      r.outputLossSums?.forEach((s, i) => (total.outputLossSums![i] += s));
      addGradients(graph.params, heap, r.grads);
      total.lossSum += r.lossSum;
      total.lossCount += r.lossCount;
      r.metricSums.forEach((s, i) => (total.metricSums[i] += s));
      r.metricWeights.forEach((w, i) => (total.metricWeights[i] += w));
    }
    return total;
  }

  /** Terminates every worker (idempotent). */
  terminate(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
  }
}
