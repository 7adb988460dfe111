/**
 * Dynamic batching: requests for one model that arrive within `maxWaitMs` of each other are
 * concatenated along the batch axis into one engine call (up to `maxBatchSize` instances) and the
 * outputs are split back. Only requests whose instances have the same shape (and dtype) per input
 * are combined. Each row of a batch is computed independently by the engine, so an instance gets
 * the same bits batched or alone (tested).
 */
import { ServingError } from "./errors.ts";

/** One input of a request: `n` instances of `shape` (no batch axis), row-major. */
export interface BatchPart {
  data: Float32Array | Int32Array;
  /** Shape of one instance. */
  shape: number[];
}

/** One output of a run: `n` rows of `shape` (no batch axis), row-major. */
export interface BatchOutput {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** Runs the engine on a batch of `n` rows: one part per model input, one output per output. */
export type BatchRunner = (parts: BatchPart[], n: number) => BatchOutput[];

/** Batching limits. */
export interface BatcherOptions {
  /** Most instances in one engine call (a larger single request runs alone). */
  maxBatchSize: number;
  /** Longest a request waits for companions, in milliseconds (0: next macrotask). */
  maxWaitMs: number;
  /** Most requests waiting; one more is refused with 429. */
  maxQueue: number;
  /** Called with the size of every engine call. */
  onBatch?: (size: number) => void;
  /**
   * Whether requests not queued yet may still join (e.g. bodies being read). When given and it
   * says no, queued requests run on the next macrotask instead of waiting `maxWaitMs` for
   * companions that are not coming: a lone client pays no batching delay.
   */
  othersComing?: () => boolean;
}

interface Job {
  key: string;
  parts: BatchPart[];
  n: number;
  resolve: (out: BatchOutput[]) => void;
  reject: (e: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
  done: boolean;
}

/** A queue of pending requests for one model, flushed as engine batches. */
export class Batcher {
  readonly #queue: Job[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = 0;

  constructor(readonly run: BatchRunner, readonly options: BatcherOptions) {}

  /** Requests waiting to be batched. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Requests queued or running. */
  get pending(): number {
    return this.#queue.length + this.#running;
  }

  /**
   * Queues `n` instances; resolves with this request's rows of every output. Rejects with a
   * 429 `ServingError` when the queue is full and a 504 one when `deadlineMs` passes first.
   */
  submit(
    parts: BatchPart[],
    n: number,
    deadlineMs: number,
  ): Promise<BatchOutput[]> {
    if (this.#queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new ServingError(
          429,
          "queue_full",
          null,
          `the queue holds ${this.#queue.length} requests (limit ${this.options.maxQueue}); retry later`,
          { "Retry-After": "1" },
        ),
      );
    }
    const key = parts.map((p) => `${p.data instanceof Int32Array ? "i" : "f"}${p.shape}`).join(
      "|",
    );
    return new Promise((resolve, reject) => {
      const job: Job = { key, parts, n, resolve, reject, done: false };
      if (Number.isFinite(deadlineMs)) {
        job.timer = setTimeout(() => {
          if (job.done) return;
          const at = this.#queue.indexOf(job);
          if (at >= 0) this.#queue.splice(at, 1);
          if (this.#queue.length === 0) {
            clearTimeout(this.#timer);
            this.#timer = undefined;
          }
          job.done = true;
          reject(
            new ServingError(
              504,
              "deadline_exceeded",
              null,
              `no answer within the request deadline of ${deadlineMs} ms`,
            ),
          );
        }, deadlineMs);
      }
      this.#queue.push(job);
      this.#schedule();
    });
  }

  #schedule(): void {
    const queued = this.#queue.reduce((s, j) => s + j.n, 0);
    const alone = this.options.othersComing !== undefined && !this.options.othersComing();
    if (queued >= this.options.maxBatchSize || alone) {
      // Nothing to wait for: run after the current task, not on a timer (a zero-delay timer
      // costs milliseconds under load, measured 2–4 ms in Deno.serve).
      clearTimeout(this.#timer);
      this.#timer = undefined;
      queueMicrotask(() => this.#flush());
    } else if (this.options.maxWaitMs <= 0) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#flush(), 0);
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.options.maxWaitMs);
    }
  }

  #flush(): void {
    this.#timer = undefined;
    const head = this.#queue[0];
    if (!head) return;
    const batch: Job[] = [];
    let rows = 0;
    for (let i = 0; i < this.#queue.length;) {
      const job = this.#queue[i];
      if (
        job.key === head.key &&
        (batch.length === 0 || rows + job.n <= this.options.maxBatchSize)
      ) {
        batch.push(job);
        rows += job.n;
        this.#queue.splice(i, 1);
      } else i++;
    }
    this.#running += batch.length;
    try {
      this.#runBatch(batch, rows);
    } finally {
      this.#running -= batch.length;
      if (this.#queue.length > 0) this.#schedule();
    }
  }

  #runBatch(batch: Job[], rows: number): void {
    let outputs: BatchOutput[];
    try {
      outputs = this.run(concatParts(batch), rows);
      this.options.onBatch?.(rows);
    } catch (e) {
      if (batch.length === 1) return settle(batch[0], undefined, e);
      // Never let one request's failure reach another: run each alone.
      for (const job of batch) this.#runBatch([job], job.n);
      return;
    }
    let offset = 0;
    for (const job of batch) {
      settle(job, outputs.map((o) => sliceRows(o, offset, job.n)));
      offset += job.n;
    }
  }
}

function settle(
  job: Job,
  out: BatchOutput[] | undefined,
  error?: unknown,
): void {
  if (job.done) return;
  job.done = true;
  clearTimeout(job.timer);
  if (out) job.resolve(out);
  else job.reject(error);
}

function concatParts(batch: Job[]): BatchPart[] {
  if (batch.length === 1) return batch[0].parts;
  return batch[0].parts.map((first, p) => {
    const total = batch.reduce((s, j) => s + j.parts[p].data.length, 0);
    const data = first.data instanceof Int32Array ? new Int32Array(total) : new Float32Array(total);
    let at = 0;
    for (const j of batch) {
      data.set(j.parts[p].data, at);
      at += j.parts[p].data.length;
    }
    return { data, shape: first.shape };
  });
}

function sliceRows(o: BatchOutput, start: number, n: number): BatchOutput {
  const per = o.shape.reduce((a, b) => a * b, 1);
  return { data: o.data.slice(start * per, (start + n) * per), shape: o.shape };
}
