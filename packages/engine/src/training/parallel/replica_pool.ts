/**
 * The calling thread's side of predict replicas (see `replica_protocol.ts`): starts the replica
 * workers, hands each its share of a batch in shared memory and waits for their outputs.
 *
 * @module
 */
import type { ModelBuildOptions } from "../../model.ts";
import type { ModelSpec } from "../../spec.ts";
import type { Tensor } from "../../tensor.ts";
import { awaitDone, canBlock, SPIN_MICROS } from "../../wasm/threads.ts";
import { TrainingWorkerError } from "./errors.ts";
import { trainingWorkerUrl } from "./worker_url.ts";
import { ShareBalancer } from "./share_balance.ts";
import {
  BUSY,
  CALLER_BLOCKED,
  CONTROL_INTS,
  DONE,
  EXITED,
  FAILED,
  IDLE,
  INPUT_CAPACITY,
  JOB_BYTES,
  JOB_CAPACITY,
  JOB_MICROS,
  type JobInput,
  MESSAGE_CAPACITY,
  OUTPUT_CAPACITY,
  readMessage,
  type ReplicaInit,
  type ReplicaJob,
  SEQ,
  STARTING,
  STATE,
  STATUS,
  TAKEN,
} from "./replica_protocol.ts";

/** Raised when a predict replica could not start or failed on its share of a batch. */
export class PredictReplicaError extends TrainingWorkerError {
  constructor(message: string) {
    super(message);
    this.name = "PredictReplicaError";
  }
}

/** What replicas are built from: the model's current spec, and when its weights changed. */
export interface ReplicaSource {
  /** The config and current weights (`Model.toSpec()`). */
  spec(): ModelSpec;
  options: ModelBuildOptions;
  /** One number per layer that changes whenever the layer's weights change. */
  weightsVersions(): number[];
}

/** One replica's share of a call: its inputs and how many floats each output has. */
export interface ReplicaShare {
  inputs: Tensor[];
  outFloats: number[];
}

/** Milliseconds a replica may take to build its model before the call gives up on it. */
const START_TIMEOUT_MS = 120_000;
/** Default milliseconds a replica waits for work before it ends itself. */
export const REPLICA_IDLE_MS = 2000;

let startedReplicas = 0;

/** Predict replica workers this thread has started so far (tests check that a call used them). */
export function startedPredictReplicas(): number {
  return startedReplicas;
}

/** Whether this runtime can run predict replicas (workers, shared memory, a blocking wait). */
export function replicasSupported(): boolean {
  return typeof Worker === "function" && typeof SharedArrayBuffer === "function" && canBlock() &&
    trainingWorkerUrl() !== undefined;
}

/** Bytes a share's inputs and its outputs take in the replica's buffers. */
function shareBytes(share: ReplicaShare): { inputs: number; outputs: number } {
  return {
    inputs: share.inputs.reduce((n, x) => n + x.data.length * 4, 0),
    outputs: share.outFloats.reduce((n, f) => n + f, 0) * 4,
  };
}

/** A growable shared buffer (its views are made per job, after any growth). */
function growable(maxBytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(64, { maxByteLength: maxBytes });
}

/** Grows `buffer` in place to at least `bytes` (all threads see the new length). */
function ensure(buffer: SharedArrayBuffer, bytes: number): void {
  if (buffer.byteLength < bytes) buffer.grow(bytes);
}

class Replica {
  /**
   * The control block of the replica's current worker. Each worker gets its own: a worker told
   * to end may still be blocked in `Atomics.wait` (terminate does not reach it there), and it
   * must never see its successor's jobs.
   */
  control = Replica.#newControl();
  readonly message = new Uint8Array(new SharedArrayBuffer(MESSAGE_CAPACITY));
  readonly job = growable(JOB_CAPACITY);
  readonly inputs = growable(INPUT_CAPACITY);
  readonly out = growable(OUTPUT_CAPACITY);
  worker?: Worker;
  /** The source's weight versions the replica was built with. */
  versions = "";
  /** Sequence number of the job posted last. */
  seq = 0;

  static #newControl(): Int32Array {
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
    Atomics.store(control, STATE, EXITED);
    return control;
  }

  /** Ends the worker (any state): it wakes, sees EXITED and closes itself; then terminated. */
  stop(): void {
    if (!this.worker) return;
    Atomics.store(this.control, STATE, EXITED);
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    this.worker.terminate();
    this.worker = undefined;
    this.control = Replica.#newControl();
  }
}

/** Replica workers for one model; `threads` counts the calling thread too. */
export class PredictReplicaPool {
  readonly #source: ReplicaSource;
  readonly #replicas: Replica[];
  readonly #idleMs: number;
  /** Each thread's measured speed (the caller is thread 0, replica i thread i + 1). */
  readonly #balance: ShareBalancer;
  #lastShares: number[] = [];

  /** A pool of `threads - 1` replicas of `source` (none start before the first call). */
  constructor(source: ReplicaSource, threads: number, idleMs = REPLICA_IDLE_MS) {
    this.#source = source;
    this.#replicas = Array.from({ length: threads - 1 }, () => new Replica());
    this.#idleMs = idleMs;
    this.#balance = new ShareBalancer(threads);
  }

  /**
   * Samples each thread should run of a batch of `total` (≥ threads), the caller's first: in
   * proportion to the speeds measured on earlier calls (`share_balance.ts`), even at first.
   */
  split(total: number): number[] {
    return this.#balance.split(total);
  }

  /** The samples each thread ran in the last call (the caller's first); empty before any. */
  get lastShares(): readonly number[] {
    return this.#lastShares;
  }

  /** Threads a call uses: the replicas plus the calling thread. */
  get threads(): number {
    return this.#replicas.length + 1;
  }

  /** Replicas whose worker is running now (they end themselves when idle). */
  get running(): number {
    return this.#replicas.filter((r) => {
      const s = Atomics.load(r.control, STATE);
      return r.worker && s !== EXITED && s !== FAILED;
    }).length;
  }

  /** Builds replica `r` from the source's current spec, blocking until it is ready. */
  #start(r: Replica): void {
    r.stop();
    const url = trainingWorkerUrl();
    if (!url) {
      throw new PredictReplicaError(
        "no worker entry for a bundled engine: call setTrainingWorkerUrl with its bundled worker",
      );
    }
    Atomics.store(r.control, STATE, STARTING);
    const worker = new Worker(url, { type: "module" });
    startedReplicas++;
    // A replica reports through the control block; the event would only reach a blocked thread
    // later, as an unhandled error.
    worker.onerror = (event: ErrorEvent) => event.preventDefault();
    const init: ReplicaInit = {
      type: "replica",
      spec: this.#source.spec(),
      options: this.#source.options,
      control: r.control.buffer as SharedArrayBuffer,
      message: r.message.buffer as SharedArrayBuffer,
      job: r.job,
      inputs: r.inputs,
      out: r.out,
      idleMs: this.#idleMs,
    };
    r.versions = this.#source.weightsVersions().join();
    worker.postMessage(init);
    r.worker = worker;
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (Atomics.load(r.control, STATE) === STARTING) {
      const left = deadline - performance.now();
      if (left <= 0) {
        r.stop();
        throw new PredictReplicaError(`a predict replica did not start in ${START_TIMEOUT_MS} ms`);
      }
      Atomics.wait(r.control, STATE, STARTING, left);
    }
    if (Atomics.load(r.control, STATE) === FAILED) {
      const why = readMessage(r.control, r.message);
      r.stop();
      throw new PredictReplicaError(`a predict replica could not build the model: ${why}`);
    }
  }

  /** Claims replica `r` for a job, (re)building it when it ended or holds old weights. */
  #claim(r: Replica): void {
    for (;;) {
      if (r.worker && r.versions !== this.#source.weightsVersions().join()) r.stop();
      const prev = Atomics.compareExchange(r.control, STATE, IDLE, BUSY);
      if (prev === IDLE) return;
      if (prev === EXITED || prev === FAILED) this.#start(r);
      else throw new PredictReplicaError(`a predict replica is busy (state ${prev})`);
    }
  }

  /** Whether a share's inputs and outputs fit the replicas' buffers (else run it locally). */
  fits(share: ReplicaShare): boolean {
    const bytes = shareBytes(share);
    return bytes.inputs <= INPUT_CAPACITY && bytes.outputs <= OUTPUT_CAPACITY;
  }

  /**
   * Posts `shares[i]` to replica i and returns a function that blocks until every replica has
   * finished and returns each share's outputs (float32, in the order of `outFloats`). Call it
   * even when the caller's own share fails: the replicas read memory the caller owns. `caller`:
   * the samples the calling thread ran meanwhile and the microseconds they took; with it, the
   * call's speeds feed the next calls' {@link split} (a failed call passes none and feeds none).
   */
  start(
    shares: readonly ReplicaShare[],
    outputs: string[] | undefined,
    batchSize: number,
  ): (caller?: { samples: number; micros: number }) => Float32Array[][] {
    if (shares.length > this.#replicas.length) {
      throw new PredictReplicaError(
        `${shares.length} shares for ${this.#replicas.length} replicas`,
      );
    }
    const posted: [Replica, ReplicaShare][] = [];
    let error: unknown;
    try {
      shares.forEach((share, i) => {
        const r = this.#replicas[i];
        this.#claim(r);
        posted.push([r, share]);
        this.#post(r, share, outputs, batchSize);
      });
    } catch (e) {
      error = e;
    }
    return (caller) => {
      const results: Float32Array[][] = [];
      const samples = [caller?.samples ?? 0], micros = [caller?.micros ?? NaN];
      for (const [r, share] of posted) {
        awaitDone(
          r.control,
          { done: DONE, taken: TAKEN, callerBlocked: CALLER_BLOCKED },
          r.seq,
          SPIN_MICROS,
        );
        if (r.control[STATUS] !== 0) {
          error ??= new PredictReplicaError(
            `a predict replica failed: ${readMessage(r.control, r.message)}`,
          );
          continue;
        }
        const outs: Float32Array[] = [];
        let at = 0;
        for (const n of share.outFloats) {
          outs.push(new Float32Array(r.out, at * 4, n).slice());
          at += n;
        }
        results.push(outs);
        samples.push(share.inputs[0]?.shape[0] ?? 0);
        micros.push(r.control[JOB_MICROS]);
      }
      if (error !== undefined) throw error;
      if (caller) {
        this.#balance.record(samples, micros);
        this.#lastShares = samples;
      }
      return results;
    };
  }

  /** Writes the share's inputs and job description into shared memory and signals the job. */
  #post(r: Replica, share: ReplicaShare, outputs: string[] | undefined, batchSize: number): void {
    const bytes = shareBytes(share);
    ensure(r.inputs, bytes.inputs);
    ensure(r.out, bytes.outputs);
    const inputs: JobInput[] = [];
    let at = 0;
    for (const x of share.inputs) {
      const dst = x.dtype === "int32"
        ? new Int32Array(r.inputs, at, x.data.length)
        : new Float32Array(r.inputs, at, x.data.length);
      dst.set(x.data);
      inputs.push({ byteOffset: at, dtype: x.dtype, shape: [...x.shape] });
      at += x.data.length * 4;
    }
    const job: ReplicaJob = { inputs, outputs, batchSize, outFloats: share.outFloats };
    const text = new TextEncoder().encode(JSON.stringify(job));
    if (text.length > JOB_CAPACITY) {
      throw new PredictReplicaError(
        `a job description of ${text.length} bytes (most ${JOB_CAPACITY})`,
      );
    }
    ensure(r.job, text.length);
    new Uint8Array(r.job, 0, text.length).set(text);
    Atomics.store(r.control, JOB_BYTES, text.length);
    r.seq = (Atomics.load(r.control, SEQ) + 1) | 0;
    Atomics.store(r.control, SEQ, r.seq);
    Atomics.notify(r.control, SEQ);
  }

  /** Ends every replica now. */
  close(): void {
    for (const r of this.#replicas) r.stop();
  }
}
