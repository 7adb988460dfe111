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
  /**
   * Time box of each of its steps (prepare, warm-up, one round), ms: a step that has not
   * finished by then (or that throws) drops the contender from the comparison and is recorded in
   * {@link InterleavedResult.failures} instead of stopping the others; `abandon` runs then (e.g.
   * to end a worker stuck in a call). Without it, a step's error propagates and nothing bounds
   * its time. Only asynchronous steps can be time-boxed: a synchronous `run` blocks the thread.
   */
  timeLimitMs?: number;
  /** Called once when the contender is dropped (time box passed or a step threw). */
  abandon?: () => Promise<void> | void;
}

/** What {@link timeBox} gives: the promise's value, or the time box it did not settle within. */
export type TimeBoxed<T> = { ok: true; value: T } | { ok: false; timedOutMs: number };

/**
 * Waits for `promise` at most `ms` milliseconds. Resolves `{ ok: true, value }` when it settles
 * in time (a rejection propagates), `{ ok: false, timedOutMs: ms }` otherwise — the promise is
 * left running (the caller decides whether to end whatever it waits on). Clears its timer, so a
 * settled race leaves nothing pending.
 */
export async function timeBox<T>(promise: Promise<T>, ms: number): Promise<TimeBoxed<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<TimeBoxed<T>>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, timedOutMs: ms }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ ok: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** "timed out after 120 s" (what the report writes in a timed-out cell). */
export function timedOutText(ms: number): string {
  const s = ms / 1000;
  return `timed out after ${s >= 10 ? s.toFixed(0) : Number(s.toPrecision(2))} s`;
}

/** Samples per contender, and the contenders dropped by their time box or an error. */
export interface InterleavedResult {
  samples: Map<string, number[]>;
  /** Contender name → why it was dropped ("timed out after 120 s (round 2)"). */
  failures: Map<string, string>;
}

/**
 * Runs the contenders in `rounds` interleaved rounds (A B C A B C …) after each one's warm-up and
 * returns each contender's samples. A contender with `timeLimitMs` whose step passes its time box
 * or throws is dropped (its samples too) and named in `failures`; the others go on. `settle`,
 * awaited before every timed round, lets the machine quiet down after the last one.
 */
export async function interleaved(
  contenders: Contender[],
  rounds: number,
  settle?: () => Promise<unknown>,
): Promise<InterleavedResult> {
  const samples = new Map<string, number[]>();
  const failures = new Map<string, string>();
  /** Runs one step of `c`; false when `c` was dropped by it. */
  const step = async <T>(c: Contender, what: string, run: () => Promise<T>) => {
    if (c.timeLimitMs === undefined) return { ok: true as const, value: await run() };
    let why: string;
    try {
      const r = await timeBox(run(), c.timeLimitMs);
      if (r.ok) return r;
      why = `${timedOutText(r.timedOutMs)} (${what})`;
    } catch (e) {
      why = `failed (${what}): ${(e as Error)?.message ?? e}`;
    }
    failures.set(c.name, why);
    samples.delete(c.name);
    await c.abandon?.();
    return { ok: false as const };
  };
  for (const c of contenders) {
    if (!(await step(c, "prepare", () => c.prepare?.() ?? Promise.resolve())).ok) continue;
    if (c.warmupMs !== undefined) {
      if (!(await step(c, "warm-up", () => roundOf(c, c.warmupMs!, 1))).ok) continue;
    }
    samples.set(c.name, []);
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      if (r >= (c.rounds ?? rounds) || failures.has(c.name)) continue;
      await settle?.();
      const got = await step(c, `round ${r + 1}`, async () => {
        await c.prepare?.();
        return roundOf(c, c.budgetMs, c.minCalls ?? 1, c.maxCalls);
      });
      if (got.ok) samples.get(c.name)!.push(...got.value);
    }
  }
  return { samples, failures };
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
