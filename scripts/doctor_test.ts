/**
 * `deno task doctor`: the report names this runtime's facts, and both forms (the table and the
 * one line `deno task test` prints first) say what a bug report needs.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { doctorLine, type DoctorReport, doctorReport, formatDoctor } from "./doctor.ts";

const folder = (path: string, contents: string[] = []) => ({ path, exists: true, contents });

const REPORT: DoctorReport = {
  deno: "2.9.6",
  v8: "15.0",
  typescript: "6.0.3",
  os: "linux",
  osRelease: "6.1.0",
  arch: "x86_64",
  cores: 2,
  wasmSimd: true,
  relaxedSimd: true,
  kernels: { ok: true, build: "relaxed", fusedMultiplyAdd: true, sharedMemory: true, threads: 1 },
  data: {
    shared: folder("/w/shared/data", ["mnist", "nusax-sentiment"]),
    cache: { ...folder("/w/main/data"), fromEnv: false },
    debianFashionMnist: { path: "/usr/share/datasets/fashion-mnist", exists: false, contents: [] },
    kerasSamples: folder("/w/shared/keras-samples", ["a.keras"]),
  },
  browser: {
    path: "/usr/bin/chromium",
    fromEnv: false,
    present: true,
    version: "Chromium 150.0.7871.100 built on Debian GNU/Linux 12 (bookworm)",
  },
};

Deno.test("doctorReport: this runtime", async () => {
  const r = await doctorReport();
  assertEquals(r.deno, Deno.version.deno);
  assertEquals(r.wasmSimd, true);
  assert(r.kernels.ok, "the engine's kernels instantiate");
  assertEquals(r.relaxedSimd, r.kernels.build === "relaxed");
  assert(r.cores >= 1);
  assert(r.browser.path.length > 0);
});

Deno.test("doctorLine: one line with version, SIMD, kernel build, data and browser", () => {
  const line = doctorLine(REPORT);
  assert(!line.includes("\n"));
  for (
    const part of [
      "deno 2.9.6",
      "linux x86_64 2 cores",
      "wasm simd yes, relaxed yes",
      "relaxed kernels, 1 thread",
      "data /w/shared/data",
      "chromium 150.0.7871.100 (/usr/bin/chromium)",
    ]
  ) assert(line.includes(part), `${line} lacks ${part}`);
  const bare = doctorLine({
    ...REPORT,
    relaxedSimd: false,
    kernels: { ...REPORT.kernels, build: "simd" } as DoctorReport["kernels"],
    data: { ...REPORT.data, shared: { path: "/w/shared/data", exists: false, contents: [] } },
    browser: { ...REPORT.browser, present: false, version: null },
  });
  assert(bare.includes("relaxed no") && bare.includes("simd kernels"));
  assert(bare.includes("data cache /w/main/data") && bare.includes("chromium missing"));
});

Deno.test("formatDoctor: a labelled table", () => {
  const text = formatDoctor(REPORT);
  assert(text.startsWith("scratchnet doctor\n"));
  assert(text.includes("deno     2.9.6 (V8 15.0, TypeScript 6.0.3)"));
  assert(text.includes("wasm     SIMD yes, relaxed SIMD yes"));
  assert(text.includes("relaxed-SIMD build (fused multiply-add)"));
  assert(text.includes("/w/shared/data (mnist, nusax-sentiment)"));
  assert(text.includes("/usr/share/datasets/fashion-mnist (missing)"));
  assert(text.includes("browser  /usr/bin/chromium: Chromium 150.0.7871.100"));
});
