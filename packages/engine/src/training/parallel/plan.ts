/**
 * How many threads a `fit` uses and how a batch is split between them.
 *
 * `workers` counts threads including the main one: 2 = the main thread computes one slice of each
 * batch and one Web Worker the other. `"auto"` (the default) uses workers only where they pay:
 * in Deno (browsers need an explicit number, since a page may not want its cores taken), with
 * ≥ 2 cores, batches of ≥ 32 samples and enough arithmetic per batch to hide the per-step
 * messages. By default (`batchStatistics: "whole-batch"`) models with a trainable
 * BatchNormalization train on one thread: its batch statistics couple all samples of a batch, so
 * a split batch would normalise each slice with its own statistics (a different model), not the
 * same one up to rounding. `batchStatistics: "per-thread"` accepts exactly that, as Keras's
 * `BatchNormalization(synchronized=False)` (its default) does on each replica of a
 * `tf.distribute` strategy: each thread normalises its slice with the slice's statistics and the
 * moving statistics are averaged over the threads (the replicas' MEAN aggregation); a layer
 * configured `synchronized: true` still keeps the model on one thread.
 */
import type { BatchStatistics, Layer } from "../../layer.ts";
import { TrainingConfigError } from "../errors.ts";
import { trainingWorkerUrl } from "./worker_url.ts";

/** `compile`/`fit` option: number of threads (≥ 1), or "auto". */
export type WorkersOption = number | "auto";

/** Most threads "auto" picks. */
export const AUTO_MAX_WORKERS = 4;
/** Smallest batch "auto" splits. */
export const AUTO_MIN_BATCH = 32;
/** Fewest samples per thread "auto" gives each slice. */
export const AUTO_MIN_SLICE = 16;
/**
 * Smallest estimated forward multiply-adds per batch for which "auto" uses workers (~1e7 is a few
 * milliseconds of forward + backward, well above a worker round trip).
 */
export const AUTO_MIN_BATCH_MACS = 1e7;
/** Stand-in for an unknown (null) dimension in the cost estimate. */
const UNKNOWN_DIM = 32;

/** A fit's thread count and why. */
export interface WorkerPlan {
  /** Threads (1 = no workers). */
  workers: number;
  /** True when "auto" chose: the trainer then falls back to one thread if workers fail to start. */
  auto: boolean;
  reason: string;
}

/** Throws {@link TrainingConfigError} unless `value` is a positive integer or "auto". */
export function checkWorkersOption(value: unknown, field = "workers"): WorkersOption {
  if (value === "auto" || (Number.isInteger(value) && (value as number) >= 1)) {
    return value as WorkersOption;
  }
  throw new TrainingConfigError(
    field,
    `expected a positive integer or "auto", got ${JSON.stringify(value)}`,
  );
}

/** Throws {@link TrainingConfigError} unless `value` is a {@link BatchStatistics}. */
export function checkBatchStatistics(
  value: unknown,
  field = "batchStatistics",
): BatchStatistics {
  if (value === "whole-batch" || value === "per-thread") return value;
  throw new TrainingConfigError(
    field,
    `expected "whole-batch" or "per-thread", got ${JSON.stringify(value)}`,
  );
}

/** Whether this runtime can start module Web Workers and the worker entry is known. */
export function workersAvailable(): boolean {
  return typeof Worker === "function" && trainingWorkerUrl() !== undefined;
}

/** True in Deno (where "auto" may use workers). */
function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno === "object";
}

function cores(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return typeof n === "number" && n >= 1 ? n : 1;
}

/**
 * Forward multiply-adds per sample, roughly: each layer's parameters times the positions it is
 * applied at (the input's dims but the last: image pixels, time steps). Embedding tables are
 * looked up, not multiplied, and are left out.
 */
export function estimateMacsPerSample(layers: readonly Layer[]): number {
  let macs = 0;
  for (const layer of layers) {
    if (layer.readsIds) continue;
    const params = layer.countParams();
    if (!params) continue;
    const positions = layer.inputShape.slice(0, -1).reduce(
      (n: number, d) => n * (d ?? UNKNOWN_DIM),
      1,
    );
    macs += params * positions;
  }
  return macs;
}

/** The thread count for a fit of `layers` with `batchSize`-sample batches. */
export function planWorkers(
  option: WorkersOption,
  layers: readonly Layer[],
  batchSize: number,
  statistics: BatchStatistics = "whole-batch",
): WorkerPlan {
  checkWorkersOption(option);
  checkBatchStatistics(statistics);
  const coupled = layers.find((layer) => layer.couplesSamples(statistics));
  if (coupled) {
    return {
      workers: 1,
      auto: option === "auto",
      reason: `layer "${coupled.name}" (${coupled.className}) uses whole-batch statistics` +
        (statistics === "per-thread" ? " (synchronized)" : ""),
    };
  }
  if (option !== "auto") {
    const workers = Math.min(option, batchSize);
    if (workers > 1 && typeof Worker !== "function") {
      throw new TrainingConfigError("workers", `${option} asked, but this runtime has no Workers`);
    }
    if (workers > 1 && !trainingWorkerUrl()) {
      throw new TrainingConfigError(
        "workers",
        `${option} asked, but this bundled engine has no worker entry (see setTrainingWorkerUrl)`,
      );
    }
    return {
      workers,
      auto: false,
      reason: workers < option ? "no more threads than samples" : "asked",
    };
  }
  if (!isDeno() || !workersAvailable()) {
    return { workers: 1, auto: true, reason: "auto: workers only by default in Deno" };
  }
  if (cores() < 2) return { workers: 1, auto: true, reason: "auto: one core" };
  if (batchSize < AUTO_MIN_BATCH) {
    return { workers: 1, auto: true, reason: `auto: batch below ${AUTO_MIN_BATCH}` };
  }
  const macs = estimateMacsPerSample(layers) * batchSize;
  if (macs < AUTO_MIN_BATCH_MACS) {
    return {
      workers: 1,
      auto: true,
      reason: `auto: ${macs.toExponential(1)} multiply-adds per batch`,
    };
  }
  const workers = Math.max(
    1,
    Math.min(cores(), AUTO_MAX_WORKERS, Math.floor(batchSize / AUTO_MIN_SLICE)),
  );
  return { workers, auto: true, reason: "auto" };
}

/** Sample bounds `[start, end)` of `parts` near-equal slices of `n` samples (empty ones dropped). */
export function splitBounds(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < parts; i++) {
    const start = Math.floor((i * n) / parts), end = Math.floor(((i + 1) * n) / parts);
    if (end > start) out.push([start, end]);
  }
  return out;
}
