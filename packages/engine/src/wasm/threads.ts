/**
 * Kernel threads: Web Workers that instantiate the kernel module on the same shared memory, so a
 * layer can split one big kernel call (a batch of images, the rows of a GEMM, the two directions of
 * a Bidirectional RNN) across cores and still run synchronously.
 *
 * Off by default; `setKernelThreads(n)` turns them on where the runtime allows it (shared memory,
 * Workers, and `Atomics.wait` on the calling thread — Deno, Node, or a browser worker; not a
 * browser page's main thread). Dispatch is a small shared control block per worker: the caller
 * writes the export name's index and the arguments, bumps a sequence number and `Atomics.notify`s;
 * the worker runs the export and reports back the same way. Workers end themselves after
 * {@link IDLE_MS} without work so an idle pool never keeps a process alive; the next parallel call
 * starts them again.
 */
import {
  getRuntime,
  KERNEL_NAMES,
  type KernelExports,
  type KernelName,
  type KernelRuntime,
} from "./kernels.ts";

/**
 * One kernel call: an exported function's name and its arguments, typed by the name (a union over
 * all kernels when `K` is left out), so a misspelt kernel or a wrong argument count fails
 * `deno check`. Build one with {@link job}.
 */
export type KernelJob<K extends KernelName = KernelName> = {
  [N in K]: {
    fn: N;
    args: Parameters<KernelExports[N]>;
    /**
     * Byte address of an i32 in the kernels' memory that the thread running the job sets to -1
     * when the kernel fails: the progress counter that other jobs of the same run wait on (a
     * recurrent wavefront, see `rnnSequence`), so that they stop instead of waiting forever.
     */
    failAt?: number;
  };
}[K];

/** The job that calls kernel `fn` with `args` (typed like a direct call of `kernels[fn]`). */
export function job<K extends KernelName>(
  fn: K,
  ...args: Parameters<KernelExports[K]>
): KernelJob<K> {
  return { fn, args } as KernelJob<K>;
}

/** Runs one job on `kernels` (the calling thread) and returns the kernel's result. */
export function callKernel<K extends KernelName>(
  kernels: KernelExports,
  { fn, args }: KernelJob<K>,
): ReturnType<KernelExports[K]> {
  const kernel = kernels[fn] as (...a: typeof args) => ReturnType<KernelExports[K]>;
  return kernel(...args);
}

/** Milliseconds a worker waits for work before it ends itself. */
export const IDLE_MS = 1000;
/**
 * Microseconds a worker (after a job) and the calling thread (for a worker's result) check for
 * the next event before blocking in `Atomics.wait`: the default of
 * {@link KernelThreadOptions.spinMicros}.
 */
export const SPIN_MICROS = 200;
/** Milliseconds to wait for a new worker to come up before giving up on threads. */
const START_TIMEOUT_MS = 10_000;

// Control block layout per worker, in int32 slots (SLOT_INTS each): state, job sequence number,
// finished sequence number, export index, argument count, status, microseconds to spin before
// blocking, sequence number of the job the worker has begun, 1 while the caller is blocked
// waiting for the worker, the job's failAt address (0: none); float64 arguments from ARGS_F64.
const SLOT_INTS = 128;
const STATE = 0, SEQ = 1, DONE = 2, FN = 3, ARGC = 4, STATUS = 5, SPIN = 6, TAKEN = 7;
const CALLER_BLOCKED = 8, FAIL_AT = 9;
const ARGS_F64 = 8; // float64 index within the slot (byte 64)
const MAX_ARGS = (SLOT_INTS * 4 - ARGS_F64 * 8) / 8;
const STARTING = 0, IDLE = 1, BUSY = 2, EXITED = 3;
/** FN of a wake-up (see KernelThreadPool.wake): no kernel runs, the worker then spins. */
const NO_JOB = -1;

/** The worker's whole program (plain JS, started from a data: URL so bundles need no file). */
const WORKER_SOURCE = `
const SLOT_INTS = ${SLOT_INTS}, STATE = ${STATE}, SEQ = ${SEQ}, DONE = ${DONE}, FN = ${FN};
const ARGC = ${ARGC}, STATUS = ${STATUS}, SPIN = ${SPIN}, TAKEN = ${TAKEN};
const CALLER_BLOCKED = ${CALLER_BLOCKED}, FAIL_AT = ${FAIL_AT}, ARGS_F64 = ${ARGS_F64};
const IDLE = ${IDLE}, BUSY = ${BUSY}, EXITED = ${EXITED}, NO_JOB = ${NO_JOB};
self.onmessage = (e) => {
  const { module, memory, control, slot, names, idleMs } = e.data;
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort(_m, _f, line, column) {
        throw new Error("scratchnet kernel aborted at " + line + ":" + column);
      },
    },
  });
  const fns = names.map((n) => instance.exports[n]);
  const i32 = new Int32Array(control, slot * SLOT_INTS * 4, SLOT_INTS);
  const f64 = new Float64Array(control, slot * SLOT_INTS * 4, SLOT_INTS / 2);
  let seen = Atomics.load(i32, SEQ);
  Atomics.store(i32, STATE, IDLE);
  Atomics.notify(i32, STATE);
  let spin = 0;
  for (;;) {
    // Spin a while before blocking: a layer's next parallel call usually comes within
    // microseconds, and waking a blocked thread costs tens of them. Not when the caller had to
    // block for this job's result: it was not spinning on a core of its own, and may need ours.
    const spinUntil = performance.now() + spin / 1000;
    while (Atomics.load(i32, SEQ) === seen && performance.now() < spinUntil) {}
    const woke = Atomics.load(i32, SEQ) !== seen ? "ok" : Atomics.wait(i32, SEQ, seen, idleMs);
    if (Atomics.load(i32, STATE) === EXITED) {
      self.close(); // the pool was closed
      return;
    }
    if (woke === "timed-out") {
      if (Atomics.compareExchange(i32, STATE, IDLE, EXITED) === IDLE) {
        Atomics.notify(i32, STATE);
        self.close();
        return;
      }
      continue; // claimed for a job just now: its sequence number is on the way
    }
    seen = Atomics.load(i32, SEQ);
    Atomics.store(i32, TAKEN, seen);
    const argc = i32[ARGC];
    const args = new Array(argc);
    for (let i = 0; i < argc; i++) args[i] = f64[ARGS_F64 + i];
    let status = 0;
    try {
      if (i32[FN] !== NO_JOB) fns[i32[FN]](...args);
    } catch (_) {
      status = 1;
      // Jobs of the same run waiting on this one's progress stop (see KernelJob.failAt).
      if (i32[FAIL_AT]) Atomics.store(new Int32Array(memory.buffer), i32[FAIL_AT] >> 2, -1);
    }
    i32[STATUS] = status;
    Atomics.store(i32, STATE, IDLE);
    spin = Atomics.load(i32, CALLER_BLOCKED) ? 0 : i32[SPIN];
    Atomics.store(i32, DONE, seen);
    Atomics.notify(i32, DONE);
  }
};
`;

/** Whether the calling thread may block in Atomics.wait (not a browser page's main thread). */
export function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Raised when a kernel failed on a worker thread. */
export class KernelThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KernelThreadError";
  }
}

/** Worker threads bound to one kernel runtime (its module and shared memory). */
export class KernelThreadPool {
  readonly #runtime: KernelRuntime;
  readonly #workers: number;
  readonly #names: KernelName[];
  readonly #index = new Map<KernelName, number>();
  readonly #control: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #spinMicros: number;
  #handles: (Worker | undefined)[];
  #parallelRuns = 0;
  /** performance.now() when the last parallel call's workers finished. */
  #lastRunEnd = -Infinity;

  /**
   * A pool of `workers` worker threads (besides the calling thread) for `runtime`, that spin
   * `spinMicros` µs for the next event before blocking (see {@link SPIN_MICROS}).
   */
  constructor(runtime: KernelRuntime, workers: number, spinMicros = SPIN_MICROS) {
    this.#runtime = runtime;
    this.#workers = workers;
    this.#spinMicros = spinMicros;
    this.#names = [...KERNEL_NAMES];
    this.#names.forEach((n, i) => this.#index.set(n, i));
    this.#control = new SharedArrayBuffer(SLOT_INTS * 4 * Math.max(workers, 1));
    this.#i32 = new Int32Array(this.#control);
    this.#f64 = new Float64Array(this.#control);
    this.#handles = new Array(workers).fill(undefined);
    for (let w = 0; w < workers; w++) {
      this.#i32[w * SLOT_INTS + STATE] = EXITED;
      this.#i32[w * SLOT_INTS + SPIN] = spinMicros;
    }
  }

  /** Threads a parallel call uses: the workers plus the calling thread. */
  get threads(): number {
    return this.#workers + 1;
  }

  /**
   * Whether the workers are likely still spinning after the last parallel call (within the spin
   * time since it ended), so the next one wakes them in microseconds rather than tens of them.
   */
  get hot(): boolean {
    return performance.now() - this.#lastRunEnd < this.#spinMicros / 1000;
  }

  /** Calls of `run` that had a worker run a job (for tests and benches). */
  get parallelRuns(): number {
    return this.#parallelRuns;
  }

  /** The kernels of the calling thread's instance. */
  get kernels(): KernelExports {
    return this.#runtime.kernels;
  }

  /** Starts worker `w`; blocks until its instance is ready unless `wait` is false. */
  #start(w: number, wait = true): void {
    const base = w * SLOT_INTS;
    this.#handles[w]?.terminate();
    Atomics.store(this.#i32, base + STATE, STARTING);
    const url = `data:text/javascript;base64,${btoa(WORKER_SOURCE)}`;
    const worker = new Worker(url, { type: "module" });
    worker.postMessage({
      module: this.#runtime.module,
      memory: this.#runtime.memory,
      control: this.#control,
      slot: w,
      names: this.#names,
      idleMs: IDLE_MS,
    });
    this.#handles[w] = worker;
    if (wait) this.#awaitStart(w);
  }

  /** Blocks until worker `w`, which is starting, is ready (or gives up on it). */
  #awaitStart(w: number): void {
    const base = w * SLOT_INTS;
    const worker = this.#handles[w]!;
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (Atomics.load(this.#i32, base + STATE) === STARTING) {
      const left = deadline - performance.now();
      if (left <= 0) {
        worker.terminate();
        this.#handles[w] = undefined;
        Atomics.store(this.#i32, base + STATE, EXITED);
        throw new KernelThreadError(`kernel worker ${w} did not start in ${START_TIMEOUT_MS} ms`);
      }
      Atomics.wait(this.#i32, base + STATE, STARTING, left);
    }
  }

  /** Claims worker `w` for a job (restarting it when it has ended itself). */
  #claim(w: number): void {
    const base = w * SLOT_INTS;
    for (;;) {
      const prev = Atomics.compareExchange(this.#i32, base + STATE, IDLE, BUSY);
      if (prev === IDLE) return;
      if (prev === EXITED) this.#start(w);
      else if (prev === STARTING) this.#awaitStart(w);
      else throw new KernelThreadError(`kernel worker ${w} is busy (state ${prev})`);
    }
  }

  /**
   * Wakes the workers without giving them work, so that they spin (see {@link hot}) when the
   * next kernel calls come: a worker blocked in `Atomics.wait` takes tens of µs to wake, as long
   * as a small layer's whole kernel call, so such a call only splits when the workers are hot —
   * and without a wake-up, a model of small layers would never make them so. Posts an empty job
   * to each idle worker (and starts an ended one, without waiting for it); does not wait.
   */
  wake(): void {
    for (let w = 0; w < this.#workers; w++) {
      const base = w * SLOT_INTS;
      if (Atomics.load(this.#i32, base + STATE) === EXITED) {
        this.#start(w, false);
        continue;
      }
      if (Atomics.compareExchange(this.#i32, base + STATE, IDLE, BUSY) !== IDLE) continue;
      this.#post(w, NO_JOB, []);
    }
    this.#lastRunEnd = performance.now();
  }

  /**
   * Writes a job (export `index`, or NO_JOB) into claimed worker `w`'s slot and signals it
   * (`failAt`: see {@link KernelJob.failAt}).
   */
  #post(w: number, index: number, args: readonly number[], failAt = 0): void {
    const base = w * SLOT_INTS;
    this.#i32[base + FN] = index;
    this.#i32[base + FAIL_AT] = failAt;
    this.#i32[base + ARGC] = args.length;
    const f0 = base / 2 + ARGS_F64;
    for (let i = 0; i < args.length; i++) this.#f64[f0 + i] = args[i];
    this.#i32[base + STATUS] = 0;
    const seq = (Atomics.load(this.#i32, base + SEQ) + 1) | 0;
    Atomics.store(this.#i32, base + SEQ, seq);
    Atomics.notify(this.#i32, base + SEQ);
  }

  /**
   * Runs the jobs concurrently: jobs 1 … threads − 1 on the workers, job 0 on the calling thread,
   * which then runs, in order, the jobs past the workers and those of a worker still starting or
   * waking up (see {@link wake}; it does not hold the call up). Returns when all are done. Jobs
   * must touch disjoint output memory; a job may wait on another's progress only when that one
   * comes first (a wavefront: job 0 never waits, and the calling thread's order is the jobs').
   */
  run(jobs: KernelJob[]): void {
    const started: number[] = [];
    const mine: KernelJob[] = [];
    let error: unknown;
    try {
      for (let j = 1; j < jobs.length; j++) {
        const w = j - 1, base = w * SLOT_INTS;
        if (w >= this.#workers) {
          mine.push(jobs[j]);
          continue;
        }
        const { fn, args, failAt } = jobs[j];
        const index = this.#index.get(fn);
        if (index === undefined) throw new KernelThreadError(`no kernel export ${fn}`);
        if (args.length > MAX_ARGS) throw new KernelThreadError(`${fn}: too many arguments`);
        const state = Atomics.load(this.#i32, base + STATE);
        if (state === STARTING || state === BUSY) {
          mine.push(jobs[j]);
          continue;
        }
        this.#claim(w);
        this.#post(w, index, args, failAt);
        started.push(w);
      }
      if (started.length > 0) this.#parallelRuns++;
      if (jobs.length > 0) this.#callHere(jobs[0]);
      for (const job of mine) this.#callHere(job);
    } catch (e) {
      error = e;
      // A job on a worker may be waiting on one that will not run now (job 0 when a later
      // worker failed to start, or one after a failed job): every counter says "failed".
      for (const job of jobs) this.#markFailed(job);
    }
    // Always wait for the workers that took a job: their outputs are in memory we may free.
    for (const w of started) {
      const base = w * SLOT_INTS;
      awaitDone(
        this.#i32,
        { done: base + DONE, taken: base + TAKEN, callerBlocked: base + CALLER_BLOCKED },
        Atomics.load(this.#i32, base + SEQ),
        this.#spinMicros,
      );
      if (this.#i32[base + STATUS] !== 0 && error === undefined) {
        error = new KernelThreadError(`kernel ${jobs[w + 1].fn} failed on a worker thread`);
      }
    }
    if (started.length > 0) this.#lastRunEnd = performance.now();
    if (error !== undefined) throw error;
  }

  /** Runs a job on the calling thread, setting its failAt counter when it fails. */
  #callHere(job: KernelJob): void {
    try {
      callKernel(this.#runtime.kernels, job);
    } catch (e) {
      this.#markFailed(job);
      throw e;
    }
  }

  /** Sets the job's failAt counter (if any) to -1: the jobs waiting on it stop. */
  #markFailed(job: KernelJob): void {
    if (job.failAt) Atomics.store(new Int32Array(this.#runtime.memory.buffer), job.failAt >> 2, -1);
  }

  /** Ends every worker now. */
  close(): void {
    this.#handles.forEach((h, w) => {
      // Wake the worker with its state EXITED so it closes itself (terminate() alone does not
      // reach a thread blocked in Atomics.wait), then terminate it for good measure.
      const base = w * SLOT_INTS;
      Atomics.store(this.#i32, base + STATE, EXITED);
      Atomics.add(this.#i32, base + SEQ, 1);
      Atomics.notify(this.#i32, base + SEQ);
      h?.terminate();
    });
    this.#handles = new Array(this.#workers).fill(undefined);
  }
}

/** Slots of a control block {@link awaitDone} reads and writes (int32 indexes). */
export interface DoneSlots {
  /** Sequence number of the last job finished. */
  done: number;
  /** Sequence number of the job the other thread has begun. */
  taken: number;
  /** Set to 1 while the caller is blocked (the other thread then blocks after its job). */
  callerBlocked: number;
}

/**
 * Waits until the thread serving `i32` has finished job `seq`: spins up to `spinMicros` while it
 * runs the job — one that has not begun it by now was blocked (it takes tens of µs to wake) or
 * has no core, which spinning here would keep from it — then blocks in `Atomics.wait`, with
 * `callerBlocked` set meanwhile. Shared by the kernel threads and the predict replicas.
 */
export function awaitDone(
  i32: Int32Array,
  slots: DoneSlots,
  seq: number,
  spinMicros: number,
): void {
  let done = Atomics.load(i32, slots.done);
  const spinUntil = performance.now() + spinMicros / 1000;
  while (
    done !== seq && Atomics.load(i32, slots.taken) === seq && performance.now() < spinUntil
  ) {
    done = Atomics.load(i32, slots.done);
  }
  if (done === seq) return;
  Atomics.store(i32, slots.callerBlocked, 1);
  while (done !== seq) {
    Atomics.wait(i32, slots.done, done);
    done = Atomics.load(i32, slots.done);
  }
  Atomics.store(i32, slots.callerBlocked, 0);
}

let pool: KernelThreadPool | undefined;
let minParallelWork = 1e7;
/** Share of the minimum work a call needs to split while the workers are hot. */
const HOT_WORK_FRACTION = 0.1;
/** Depth of {@link withoutKernelThreads} calls in progress. */
let suspended = 0;

/**
 * Runs `fn` with the kernel threads off, without ending them: a predict replica's share of a batch
 * runs on the calling thread alone while the replicas keep the other cores busy, and a benchmark
 * times one thread between threaded calls without restarting the workers (which would start them
 * cold each time). Calls nest.
 */
export function withoutKernelThreads<T>(fn: () => T): T {
  suspended++;
  try {
    return fn();
  } finally {
    suspended--;
  }
}

/** Options of {@link setKernelThreads}. */
export interface KernelThreadOptions {
  /**
   * Work (multiply-add flops, or comparable units) below which a call stays on the calling
   * thread (default 1e7, about 0.2 ms: waking a blocked worker costs tens of microseconds). Right
   * after a parallel call, while the workers still spin ({@link KernelThreadPool.hot}), a tenth
   * of it is enough: the small layers of a deep model's tail split too.
   */
  minWork?: number;
  /**
   * Microseconds a worker keeps checking for the next call after a job, and the calling thread
   * for a worker's result, before blocking in `Atomics.wait` (default {@link SPIN_MICROS}):
   * waking a blocked thread costs tens of microseconds, a layer's parallel calls come closer.
   */
  spinMicros?: number;
}

/**
 * Uses `n` threads (the calling thread plus n - 1 workers) for large kernel calls of the process
 * runtime, or 1 to run single-threaded (the default). Returns the number of threads in effect:
 * 1 where the runtime cannot share memory with workers or block on `Atomics.wait`.
 */
export function setKernelThreads(n: number, options: KernelThreadOptions = {}): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be ≥ 1, got ${n}`);
  const spin = options.spinMicros ?? SPIN_MICROS;
  if (!(spin >= 0 && spin <= 1e6)) {
    throw new RangeError(`spinMicros must be in [0, 1e6], got ${options.spinMicros}`);
  }
  minParallelWork = options.minWork ?? 1e7;
  pool?.close();
  pool = undefined;
  const runtime = getRuntime();
  if (n === 1 || !runtime.shared || typeof Worker !== "function" || !canBlock()) return 1;
  pool = new KernelThreadPool(runtime, n - 1, spin);
  return n;
}

/** Threads large kernel calls of the process runtime use (1 unless setKernelThreads said more). */
export function kernelThreads(): number {
  return suspended ? 1 : pool?.threads ?? 1;
}

/** The process pool when `kernels` is the process runtime's and threads are on, else undefined. */
export function threadPoolFor(kernels: KernelExports): KernelThreadPool | undefined {
  return pool && !suspended && pool.kernels === kernels ? pool : undefined;
}

/**
 * Splits `total` items into at most `parts` contiguous [start, count] ranges (none empty), the
 * first ranges one larger when it does not divide evenly.
 */
export function splitRange(total: number, parts: number): [number, number][] {
  const n = Math.max(1, Math.min(parts, total));
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const count = Math.floor(total / n) + (i < total % n ? 1 : 0);
    out.push([start, count]);
    start += count;
  }
  return out;
}

/**
 * How to split `total` independent items (images, rows, sequences) for `kernels`: one range per
 * thread when the process pool is on and `work` is large enough — the `minWork` of
 * {@link setKernelThreads}, or a tenth of it while the workers are hot — else the whole range.
 * Work between the two wakes cold workers for the next call (see {@link KernelThreadPool.wake}).
 */
export function parallelRanges(
  kernels: KernelExports,
  total: number,
  work: number,
): [number, number][] {
  const p = threadPoolFor(kernels);
  if (!p || total < 2) return [[0, total]];
  if (work < minParallelWork) {
    if (work < minParallelWork * HOT_WORK_FRACTION) return [[0, total]];
    if (!p.hot) {
      // Worth splitting once the workers spin: wake them for the next such call.
      p.wake();
      return [[0, total]];
    }
  }
  return splitRange(total, p.threads);
}

/** Runs `jobs` (one per range from parallelRanges) on the pool, or the single one directly. */
export function runJobs(kernels: KernelExports, jobs: KernelJob[]): void {
  if (jobs.length === 1) {
    callKernel(kernels, jobs[0]);
    return;
  }
  const p = threadPoolFor(kernels);
  if (!p) throw new KernelThreadError("parallel jobs without kernel threads");
  p.run(jobs);
}
