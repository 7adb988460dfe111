/**
 * The fuzz runner: a child process that reads cases from stdin, runs each through its format's
 * entry point and reports what happened on stdout. The parent kills it when a case hangs and
 * starts a new one; a fatal crash (e.g. V8 out of memory) likewise only ends this process.
 *
 * Measurements per case (see `SECURITY.md`): wall time; the largest single buffer allocated
 * through the `ArrayBuffer`/typed-array constructors (tracked by `alloc.ts`); the growth of
 * JS heap + external memory from a collected heap before the case to the end of the case (with
 * the result still alive); and the engine's WebAssembly memory growth and live allocations.
 *
 * Run with `--v8-flags=--expose-gc`: without a collection before each case the heap growth
 * would include earlier cases' garbage.
 *
 * @module
 */
import { allocationStats, resetAllocations } from "./alloc.ts";
import { type CaseResult, type FindingDetail, MESSAGE_PREFIX, readFrames } from "./protocol.ts";

// Imported after alloc.ts has replaced the constructors, so every library sees the tracked ones.
const { TARGETS, SkipCase, TargetFinding, engineHeap, warmUp } = await import("./targets.ts");

const gc = (globalThis as { gc?: (options?: { type: "minor" | "major" }) => void }).gc;
if (!gc) {
  console.error("fuzz runner: start with --v8-flags=--expose-gc");
  Deno.exit(2);
}

const ALLOC_FACTOR = Number(Deno.env.get("FUZZ_ALLOC_FACTOR") ?? 4);
const SLOW_MS = Number(Deno.env.get("FUZZ_SLOW_MS") ?? 1000);
/** Fixed slack for the tracked largest allocation: fflate's and jsfive's small tables. */
const ALLOC_SLACK = 64 << 10;
/** Fixed slack for heap growth: parsed JSON, strings, code compiled on first use. */
const HEAP_SLACK = 32 << 20;
/** Fixed slack for WebAssembly memory growth (the heap grows in 64 KiB pages, by doubling). */
const WASM_SLACK = 4 << 20;

const encoder = new TextEncoder();
function send(message: unknown): void {
  Deno.stdout.writeSync(encoder.encode(`${MESSAGE_PREFIX}${JSON.stringify(message)}\n`));
}

function memory(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

function describeError(e: unknown): { name: string; message: string; stack?: string } {
  if (e instanceof Error) {
    return {
      name: e.constructor?.name ?? e.name,
      message: e.message.slice(0, 600),
      stack: e.stack?.split("\n").slice(1, 8).join("\n"),
    };
  }
  return { name: typeof e, message: String(e).slice(0, 600) };
}

// The campaign owns this folder and removes it, also after killing a hung runner.
const tmpDir = Deno.env.get("FUZZ_WORK_DIR") ?? await Deno.makeTempDir({ prefix: "fuzz-run-" });
warmUp();
send({ ready: true });

let lastFullGc = 0;

interface Measured {
  error: unknown;
  threw: boolean;
  ms: number;
  largestAlloc: number;
  largestWhat: string;
  heapDelta: number;
  wasmGrowth: number;
  leaked: number;
}

async function measure(
  format: string,
  files: Record<string, Uint8Array>,
  meta: Record<string, unknown>,
  index: number,
): Promise<Measured> {
  const target = TARGETS[format];
  // A full collection costs milliseconds; run one when earlier cases left garbage behind, a
  // young-generation one otherwise (old garbage then cancels out of the before/after delta).
  if (memory() > lastFullGc + (16 << 20)) {
    gc!();
    lastFullGc = memory();
  } else {
    gc!({ type: "minor" });
  }
  const heapBefore = engineHeap();
  const before = memory();
  resetAllocations();
  const results: unknown[] = [];
  let error: unknown;
  let threw = false;
  const started = performance.now();
  try {
    results.push(await target.run(files, meta, { tmpDir, index }));
  } catch (e) {
    error = e;
    threw = true;
  }
  const ms = performance.now() - started;
  const heapDelta = memory() - before;
  const alloc = allocationStats();
  const heapAfter = engineHeap();
  // The result stayed referenced until here so that its memory counts as the case's.
  results.length = 0;
  return {
    error,
    threw,
    ms,
    largestAlloc: alloc.largest,
    largestWhat: alloc.largestWhat,
    heapDelta,
    wasmGrowth: heapAfter.reserved - heapBefore.reserved,
    leaked: heapAfter.live - heapBefore.live,
  };
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(2)} MiB`;
}

for await (const { header, files } of readFrames(Deno.stdin.readable)) {
  const target = TARGETS[header.format];
  if (!target) {
    send({ index: header.index, fatal: `unknown format ${header.format}` });
    continue;
  }
  let m = await measure(header.format, files, header.meta, header.index);
  const findings: FindingDetail[] = [];
  if (m.ms > SLOW_MS) {
    // One retry: the machine is shared, and a single slow run may be someone else's load.
    const again = await measure(header.format, files, header.meta, header.index);
    if (again.ms <= SLOW_MS) m = { ...again, ms: Math.min(m.ms, again.ms) };
    else {findings.push({
        kind: "slow",
        detail: `${m.ms.toFixed(0)} ms, then ${again.ms.toFixed(0)} ms`,
      });}
  }
  const budget = ALLOC_FACTOR * header.refBytes;
  if (m.largestAlloc > budget + ALLOC_SLACK) {
    findings.push({
      kind: "alloc",
      detail: `${m.largestWhat}: ${m.largestAlloc} bytes > ${ALLOC_FACTOR} × ${header.refBytes}`,
    });
  }
  if (m.heapDelta > budget + HEAP_SLACK) {
    findings.push({
      kind: "heap",
      detail: `heap grew ${mib(m.heapDelta)} (budget ${mib(budget)})`,
    });
  }
  if (m.wasmGrowth > budget + WASM_SLACK) {
    findings.push({ kind: "alloc", detail: `engine WebAssembly memory grew ${mib(m.wasmGrowth)}` });
  }
  if (m.leaked > 0) {
    findings.push({ kind: "leak", detail: `${m.leaked} bytes of engine memory not freed` });
  }
  let outcome: CaseResult["outcome"] = m.threw ? "rejected" : "accepted";
  if (m.threw) {
    const e = m.error;
    if (e instanceof SkipCase) outcome = "skipped";
    else if (e instanceof TargetFinding) findings.push({ kind: e.kind, detail: e.message });
    else if (target.masked?.(e)) {
      const cause = (e as Error).cause;
      findings.push({
        kind: "masked",
        detail: `typed error wraps ${describeError(cause).name}: ${describeError(cause).message}`,
      });
    } else if (!target.typed(e)) {
      findings.push({
        kind: "untyped",
        detail: `${describeError(e).name}: ${describeError(e).message}`,
      });
    }
  }
  if (findings.length > 0) outcome = "failed";
  const error = m.threw ? describeError(m.error) : undefined;
  if (error && outcome !== "failed") delete error.stack;
  const cause = m.threw && (m.error as Error)?.cause;
  if (error && outcome === "failed" && cause) {
    error.stack = `${error.stack ?? ""}\ncaused by: ${describeError(cause).name}: ${
      describeError(cause).message
    }\n${describeError(cause).stack ?? ""}`;
  }
  const result: CaseResult = {
    index: header.index,
    outcome,
    findings,
    error,
    ms: m.ms,
    largestAlloc: m.largestAlloc,
    largestWhat: m.largestWhat,
    heapDelta: m.heapDelta,
    wasmGrowth: m.wasmGrowth,
  };
  send(result);
}
if (!Deno.env.get("FUZZ_WORK_DIR")) await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
