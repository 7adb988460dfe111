/**
 * How many cores this process gets right now. The machine the report runs on is shared: another
 * tenant that holds one of its two cores for a minute leaves every threaded number of that minute
 * at about the single-threaded one, which would read as a thread-scaling failure of the engine.
 * The probe runs the register-resident SIMD peak loop (`simdPeakFma`, wasm/assembly/peak.ts),
 * which touches no memory, once on the calling thread and then on every kernel thread at once:
 * the ratio of the two rates is the cores the threads had between them.
 *
 * @module
 */
import { getRuntime, kernelThreads } from "../packages/engine/mod.ts";
import { job, runJobs } from "../packages/engine/src/wasm/threads.ts";
import { bestOf } from "./timing.ts";

/**
 * Share of the engine's threads that must have had a core of their own around a batch's rounds
 * ({@link coresFree} before and after, the lower): below it, another tenant of the machine held
 * a core, and the rounds are measured again after {@link CONTENDED_WAIT_MS}.
 */
export const CORES_FREE_FRACTION = 0.9;
/** Pause before a batch's rounds are measured again (another tenant's burst lasts a minute or so). */
export const CONTENDED_WAIT_MS = 30_000;
/** Times a batch's rounds are measured again at most; the attempt with the most cores free stays. */
export const CONTENDED_RETRIES = 2;

/**
 * Longest wait for the machine to settle before a timed round: a peer's thread pool may still
 * spin right after its calls (onnxruntime-node's 2 threads, measured: the second core busy for
 * a few ms), which would slow whichever contender comes next.
 */
export const SETTLE_MS = 1000;

/** Pause between probes while waiting for the machine to settle. */
const SETTLE_POLL_MS = 25;

/** Peak-loop iterations of one probe call: 96 flops each, about 1 ms at 40 GFLOP/s. */
const PROBE_ITERATIONS = 400_000;

/** Timed single-thread calls of each probe; the best is kept. */
const PROBE_REPEATS = 5;

/** Milliseconds of parallel calls of each probe; the best is kept. */
const PROBE_PARALLEL_MS = 40;

/**
 * Cores' worth of the SIMD peak loop the kernel threads get together right now: `threads` ×
 * (one thread's time ÷ the time of `threads` loops at once), in (0, threads]; 1 with the kernel
 * threads off. Takes about 50 ms: the parallel calls go on for 40 ms (see below).
 */
export function coresFree(): number {
  const threads = kernelThreads();
  if (threads < 2) return 1;
  const { kernels, heap } = getRuntime();
  // One 64-byte output block a thread, a cache line apart, so the threads share no line.
  const out = heap.alloc(64 * threads);
  heap.f32(out, 16 * threads).fill(1e-7);
  try {
    const jobs = Array.from(
      { length: threads },
      (_, t) => job("simdPeakFma", PROBE_ITERATIONS, out + 64 * t),
    );
    const one = () => kernels.simdPeakFma(PROBE_ITERATIONS, out);
    const all = () => runJobs(kernels, jobs);
    const single = bestOf(one, PROBE_REPEATS);
    // The parallel calls go on for a while: a worker idle for some time blocks, and here its
    // core (a virtual machine's halted vCPU) sometimes takes tens of ms to come back.
    let parallel = Infinity;
    const until = performance.now() + PROBE_PARALLEL_MS;
    do {
      const t = performance.now();
      all();
      parallel = Math.min(parallel, performance.now() - t);
    } while (performance.now() < until);
    return Math.min(threads, threads * single / parallel);
  } finally {
    heap.free(out);
  }
}

/**
 * {@link coresFree} once the machine has settled: probes again every 25 ms while fewer than
 * {@link CORES_FREE_FRACTION} of the kernel threads have a core, for at most `maxMs`. Returns the
 * last probe (still short after `maxMs`: another tenant holds a core).
 */
export async function settledCores(maxMs = SETTLE_MS): Promise<number> {
  const wanted = kernelThreads() * CORES_FREE_FRACTION;
  const deadline = performance.now() + maxMs;
  let cores = coresFree();
  while (cores < wanted && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    cores = coresFree();
  }
  return cores;
}
