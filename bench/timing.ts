/**
 * Wall-clock timing helpers for the bench report: per-call samples, warm-up long enough for V8 to
 * tier WebAssembly up from its baseline compiler, and interleaved rounds so a burst of load from
 * other processes hits every contender alike.
 */

/** Summary of per-call samples in milliseconds. */
export interface Stats {
  /** Median ms per call (the report's figure). */
  medianMs: number;
  /** Fastest call. */
  minMs: number;
  meanMs: number;
  /** Number of timed calls. */
  calls: number;
}

/** Median, minimum and mean of `samples` (ms). */
export function summarize(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const meanMs = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { medianMs, minMs: sorted[0], meanMs, calls: samples.length };
}

/** Calls `fn` until `budgetMs` have passed and at least `minCalls` were made; returns ms/call. */
export function sampleFor(
  fn: () => void,
  budgetMs: number,
  minCalls = 1,
  maxCalls = 1e6,
): number[] {
  const samples: number[] = [];
  const start = performance.now();
  while (
    samples.length < maxCalls &&
    (samples.length < minCalls || performance.now() - start < budgetMs)
  ) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return samples;
}

/**
 * Calls the async `fn` until `budgetMs` have passed and at least `minCalls` were made; returns
 * ms/call (each call awaited: ONNX Runtime's `run` returns a Promise).
 */
export async function sampleForAsync(
  fn: () => Promise<unknown>,
  budgetMs: number,
  minCalls = 1,
  maxCalls = 1e6,
): Promise<number[]> {
  const samples: number[] = [];
  const start = performance.now();
  while (
    samples.length < maxCalls &&
    (samples.length < minCalls || performance.now() - start < budgetMs)
  ) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return samples;
}

/** A contender in an interleaved comparison. */
export interface Contender {
  name: string;
  /** Runs before each of its rounds, untimed (e.g. switching the TF.js backend). */
  prepare?: () => Promise<void>;
  /** One synchronous call (timed by {@link sampleFor}); or give `sample`. */
  run?: () => void;
  /**
   * Times one round itself and returns ms per call: for asynchronous contenders (ONNX Runtime,
   * or a runtime in a worker that times its own calls so messaging is not counted).
   */
  sample?: (budgetMs: number, minCalls: number, maxCalls?: number) => Promise<number[]>;
  /** Time budget per round (ms); slow contenders get a small one. */
  budgetMs: number;
  /** Calls per round at least (default 1). */
  minCalls?: number;
  /** Calls per round at most. */
  maxCalls?: number;
  /** Warm-up before the first round: at least one call and this many ms; none when absent. */
  warmupMs?: number;
  /** Rounds it takes part in (default: all); slow contenders sit out the later ones. */
  rounds?: number;
}

/**
 * Runs the contenders in `rounds` interleaved rounds (A B C A B C …) after each one's warm-up and
 * returns each contender's samples.
 */
export async function interleaved(
  contenders: Contender[],
  rounds: number,
): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const c of contenders) {
    await c.prepare?.();
    if (c.warmupMs !== undefined) await roundOf(c, c.warmupMs, 1);
    out.set(c.name, []);
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      if (r >= (c.rounds ?? rounds)) continue;
      await c.prepare?.();
      out.get(c.name)!.push(...await roundOf(c, c.budgetMs, c.minCalls ?? 1, c.maxCalls));
    }
  }
  return out;
}

/** One round of `c`'s calls: its own `sample`, or {@link sampleFor} over `run`. */
function roundOf(
  c: Contender,
  budgetMs: number,
  minCalls: number,
  maxCalls?: number,
): Promise<number[]> {
  if (c.sample) return c.sample(budgetMs, minCalls, maxCalls);
  if (!c.run) throw new Error(`contender ${c.name}: give run or sample`);
  return Promise.resolve(sampleFor(c.run, budgetMs, minCalls, maxCalls));
}

/** Best (minimum) time of `fn` over `repeats` timed blocks of `inner` calls, ms per call. */
export function bestOf(fn: () => void, repeats: number, inner = 1): number {
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) fn();
    best = Math.min(best, (performance.now() - t) / inner);
  }
  return best;
}
