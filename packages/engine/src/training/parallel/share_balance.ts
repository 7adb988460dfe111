/**
 * How `predict` splits a batch between its threads (the calling thread and its predict replicas)
 * when they do not run at the same speed: shares in proportion to each thread's measured speed.
 *
 * Equal shares finish when the slowest thread does. On a shared or virtual machine one core is
 * often slowed for seconds at a time by work the process cannot see (another tenant on the host
 * core; measured on the 2-core VM the benchmarks run on: one core at 56–80 % of the other's speed
 * for ~25 s while the other ran at full speed), and a second thread then added 1.1× instead of
 * 2×. Shares in proportion to speed finish together: with one core at 60 %, 1.6× instead of 1.2×.
 * Each sample's result is independent of the split (a replica runs the same kernels on its own
 * samples), so only the time changes.
 *
 * @module
 */
import { splitRange } from "../../wasm/threads.ts";

/**
 * Weight of the newest call in each thread's running estimate of its time per sample: a slowdown
 * lasting seconds moves the split within a few calls, while one late call (a GC pause, a page
 * fault) moves it by a quarter of its excess.
 */
const NEWEST_WEIGHT = 0.25;

/**
 * The most one thread's speed may count against another's: a thread's share is at least a
 * quarter of the fastest thread's, so one whose estimate is stale (it was slow a while ago) still
 * gets enough work to be measured on.
 */
const MAX_SPEED_RATIO = 4;

/**
 * Fewest samples a thread's even share must have for the split to follow measured speeds. A
 * batch of 8 on 2 threads moves in steps of a quarter of a share, and the per-call overheads
 * (posting, a replica's job description and copy out) weigh on shares that small: measured
 * estimates there flip between 5/3, 4/4 and 3/5 from call to call, costing about what they win.
 */
const MIN_BALANCED_SHARE = 16;

/**
 * Speed ratio (slowest thread's time per sample over the fastest's) below which shares stay
 * even: smaller differences are within the call-to-call noise of the estimates.
 */
const MIN_IMBALANCE = 1.15;

/** Per-thread speed estimates, and the shares they give (thread 0 is the calling thread). */
export class ShareBalancer {
  readonly #microsPerSample: number[];

  /** A balancer for `threads` threads (all unmeasured: even shares until each has run). */
  constructor(readonly threads: number) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads: expected an integer ≥ 1, got ${threads}`);
    }
    this.#microsPerSample = new Array(threads).fill(NaN);
  }

  /** Each thread's current estimate of its microseconds per sample (NaN: not measured yet). */
  get microsPerSample(): readonly number[] {
    return this.#microsPerSample;
  }

  /**
   * Samples each thread runs of a batch of `total` (≥ threads): in proportion to the estimated
   * speeds (rounded to whole samples by largest remainder), at least 1 each; even until every
   * thread has a time, for batches under {@link MIN_BALANCED_SHARE} samples a thread, and while
   * the speeds differ by less than {@link MIN_IMBALANCE}.
   */
  split(total: number): number[] {
    const n = this.threads;
    if (!Number.isInteger(total) || total < n) {
      throw new RangeError(`total: expected an integer ≥ ${n} (one sample a thread), got ${total}`);
    }
    const times = this.#microsPerSample;
    const even = () => splitRange(total, n).map(([, count]) => count);
    if (total < MIN_BALANCED_SHARE * n || times.some((t) => !(t > 0))) return even();
    const fastest = Math.min(...times);
    if (Math.max(...times) < MIN_IMBALANCE * fastest) return even();
    const speeds = times.map((t) => 1 / Math.min(t, fastest * MAX_SPEED_RATIO));
    const sum = speeds.reduce((a, b) => a + b, 0);
    const ideal = speeds.map((s) => total * s / sum);
    const counts = ideal.map((x) => Math.max(1, Math.floor(x)));
    let left = total - counts.reduce((a, b) => a + b, 0);
    // Rounded down, the largest remainders get one more; raised to 1, the largest give one back.
    while (left > 0) {
      const i = argMax(ideal.map((x, k) => x - counts[k]));
      counts[i]++;
      left--;
    }
    while (left < 0) {
      const i = argMax(counts);
      counts[i]--;
      left++;
    }
    return counts;
  }

  /**
   * Records a call: thread i ran `counts[i]` samples in `micros[i]` µs. Threads that ran nothing,
   * or whose time is not a positive finite number, keep their estimate.
   */
  record(counts: readonly number[], micros: readonly number[]): void {
    for (let i = 0; i < this.threads; i++) {
      const c = counts[i], t = micros[i];
      if (!(c > 0) || !(t > 0) || !Number.isFinite(t)) continue;
      const perSample = t / c;
      const old = this.#microsPerSample[i];
      this.#microsPerSample[i] = old > 0 ? old + NEWEST_WEIGHT * (perSample - old) : perSample;
    }
  }
}

/** Index of the largest value (the first of equals). */
function argMax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
