/**
 * Peak memory of one scenario in a fresh process (run by `scripts/bench_report.ts`):
 *
 *   deno run -A bench/memory_probe.ts load <file>
 *   deno run -A bench/memory_probe.ts engine|tfjs-wasm <model id> <batch>
 *
 * Prints one JSON line: peak resident set (Linux `VmHWM`, so it includes the Deno runtime), the
 * resident set after imports (the baseline), `Deno.memoryUsage()` at the end and, for the engine,
 * the kernel module's linear memory.
 */
import { reportCases } from "./cases.ts";

/** What the probe prints. */
export interface MemoryProbe {
  scenario: string;
  /** Peak RSS of the process (MB), or null off Linux. */
  peakRssMb: number | null;
  /** RSS after imports, before the scenario (MB). */
  baselineRssMb: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  /** The engine kernel module's WebAssembly memory (MB), engine scenarios only. */
  wasmMemoryMb: number | null;
}

const MB = 1024 * 1024;

function peakRssMb(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

if (import.meta.main) {
  const [kind, arg, batchText] = Deno.args;
  const batch = Number(batchText ?? 1);
  const baseline = Deno.memoryUsage().rss / MB;
  let wasmMemoryMb: number | null = null;
  if (kind === "load") {
    const { loadModel } = await import("../packages/keras-importer/mod.ts");
    const { Tensor, getRuntime } = await import("../packages/engine/mod.ts");
    const { model } = await loadModel(arg);
    model!.predict(new Tensor(new Int32Array(100).fill(7), [1, 100]));
    wasmMemoryMb = getRuntime().heap.memoryBytes / MB;
  } else if (kind === "engine" || kind === "tfjs-wasm") {
    const c = [...reportCases(false), ...reportCases(true)].find((m) => m.id === arg);
    if (!c) throw new Error(`unknown model id ${arg}`);
    const x = c.input(batch);
    if (kind === "engine") {
      const { buildModel, getRuntime } = await import("../packages/engine/mod.ts");
      const model = buildModel(c.spec);
      for (let i = 0; i < 3; i++) model.predict(x, { batchSize: batch });
      wasmMemoryMb = getRuntime().heap.memoryBytes / MB;
    } else {
      const { tfjsRunner } = await import("./tfjs_backends.ts");
      const runner = await tfjsRunner(c.spec, "wasm");
      for (let i = 0; i < 3; i++) runner.predict(x);
    }
  } else {
    throw new Error(`usage: memory_probe.ts load <file> | engine|tfjs-wasm <model id> <batch>`);
  }
  const u = Deno.memoryUsage();
  const probe: MemoryProbe = {
    scenario: [kind, arg, batchText].filter(Boolean).join(" "),
    peakRssMb: peakRssMb(),
    baselineRssMb: baseline,
    rssMb: u.rss / MB,
    heapUsedMb: u.heapUsed / MB,
    externalMb: u.external / MB,
    wasmMemoryMb,
  };
  console.log(JSON.stringify(probe));
}
