/**
 * `deno task doctor [--json]`: what this machine gives scratchnet — the Deno, V8 and TypeScript
 * versions, the system, whether WebAssembly SIMD and relaxed SIMD work and which kernel build the
 * engine chose, kernel threads, where data sets and Keras samples come from, and whether the
 * browser the browser tests drive is present. The first thing to paste into a bug report.
 * `deno task test` prints {@link doctorLine}, its one-line form, first.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { CACHE_DIR_ENV, defaultCacheDir } from "@scratchnet/datasets";
import { getRuntime, kernelThreads, wasmSimdSupported } from "@scratchnet/engine";
import { CHROMIUM_ENV, chromiumPath } from "../web/chromium.ts";

/** The kernel module the engine instantiated, or why it could not. */
export type KernelReport =
  | {
    ok: true;
    /** "relaxed" (relaxed SIMD, fused multiply-add) or "simd" (plain 128-bit SIMD). */
    build: "relaxed" | "simd";
    fusedMultiplyAdd: boolean;
    /** Shared WebAssembly memory: the precondition for kernel threads. */
    sharedMemory: boolean;
    /** Threads large kernel calls use now (1 unless `setKernelThreads` says more). */
    threads: number;
  }
  | { ok: false; error: string };

/** A data folder and the data sets found in it. */
export interface DataFolder {
  path: string;
  exists: boolean;
  /** The sub-folders present (data set names). */
  contents: string[];
}

/** Everything `deno task doctor` reports. */
export interface DoctorReport {
  deno: string;
  v8: string;
  typescript: string;
  os: string;
  osRelease: string;
  arch: string;
  cores: number;
  wasmSimd: boolean;
  /** The relaxed-SIMD kernel build compiled here (the engine prefers it). */
  relaxedSimd: boolean;
  kernels: KernelReport;
  data: {
    /** `<repo>/../shared/data`: read first by the demo, experiments and tests when present. */
    shared: DataFolder;
    /** The datasets package's download cache. */
    cache: DataFolder & { fromEnv: boolean };
    /** Debian's `dataset-fashion-mnist` folder. */
    debianFashionMnist: DataFolder;
    /** `<repo>/../shared/keras-samples`: the real Keras files some tests read. */
    kerasSamples: DataFolder;
  };
  browser: {
    path: string;
    /** Whether the path came from `$SCRATCHNET_CHROMIUM`. */
    fromEnv: boolean;
    present: boolean;
    /** `chromium --version`'s output, or null when missing or it failed. */
    version: string | null;
  };
}

const REPO = new URL("../", import.meta.url);

async function folder(path: string): Promise<DataFolder> {
  const contents: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (!entry.name.startsWith(".") && entry.name !== "README.md") contents.push(entry.name);
    }
  } catch {
    return { path, exists: false, contents };
  }
  return { path, exists: true, contents: contents.sort() };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `path --version` (first line), or null if it cannot be run within 10 s. */
async function versionOf(path: string): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(10_000),
    }).output();
    const line = new TextDecoder().decode(stdout).trim().split("\n")[0];
    return success && line ? line : null;
  } catch {
    return null;
  }
}

function kernelReport(): KernelReport {
  try {
    const runtime = getRuntime();
    return {
      ok: true,
      build: runtime.variant,
      fusedMultiplyAdd: runtime.kernels.gemmFusedMultiplyAdd() === 1,
      sharedMemory: runtime.shared,
      threads: kernelThreads(),
    };
  } catch (e) {
    return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** Gathers the report (runs `chromium --version` when the browser is present). */
export async function doctorReport(): Promise<DoctorReport> {
  const kernels = kernelReport();
  const browserPath = chromiumPath();
  const browserPresent = await exists(browserPath);
  let osRelease = "";
  try {
    osRelease = Deno.osRelease();
  } catch {
    // Needs --allow-sys; the rest of the report does not.
  }
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os: Deno.build.os,
    osRelease,
    arch: Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    wasmSimd: wasmSimdSupported(),
    relaxedSimd: kernels.ok && kernels.build === "relaxed",
    kernels,
    data: {
      shared: await folder(fileURLToPath(new URL("../shared/data", REPO))),
      cache: { ...await folder(defaultCacheDir()), fromEnv: Boolean(Deno.env.get(CACHE_DIR_ENV)) },
      debianFashionMnist: await folder("/usr/share/datasets/fashion-mnist"),
      kerasSamples: await folder(fileURLToPath(new URL("../shared/keras-samples", REPO))),
    },
    browser: {
      path: browserPath,
      fromEnv: Boolean(Deno.env.get(CHROMIUM_ENV)),
      present: browserPresent,
      version: browserPresent ? await versionOf(browserPath) : null,
    },
  };
}

const yesNo = (b: boolean) => (b ? "yes" : "no");

function kernelText(k: KernelReport, cores: number): string {
  if (!k.ok) return `unavailable (${k.error})`;
  const build = k.build === "relaxed"
    ? "relaxed-SIMD build (fused multiply-add)"
    : "plain-SIMD build (no relaxed SIMD: separate multiply and add)";
  const threads = k.sharedMemory
    ? `kernel threads ${k.threads} (setKernelThreads(n), up to ${cores} cores)`
    : "kernel threads 1 (no shared WebAssembly memory)";
  return `${build}; ${threads}`;
}

function folderText(f: DataFolder): string {
  if (!f.exists) return `${f.path} (missing)`;
  return `${f.path} (${f.contents.length ? f.contents.join(", ") : "empty"})`;
}

/** The report as an aligned multi-line text (what `deno task doctor` prints). */
export function formatDoctor(r: DoctorReport): string {
  const b = r.browser;
  const browser = b.present
    ? `${b.path}: ${b.version ?? "present, but --version failed"}`
    : `${b.path} missing (deno task test installs Debian's chromium when run as root)`;
  const rows: [string, string][] = [
    ["deno", `${r.deno} (V8 ${r.v8}, TypeScript ${r.typescript})`],
    [
      "system",
      `${r.os} ${r.arch}${r.osRelease ? ` (kernel ${r.osRelease})` : ""}, ${r.cores} cores`,
    ],
    ["wasm", `SIMD ${yesNo(r.wasmSimd)}, relaxed SIMD ${yesNo(r.relaxedSimd)}`],
    ["kernels", kernelText(r.kernels, r.cores)],
    ["data", `shared ${folderText(r.data.shared)} — read first by the demo, experiments, tests`],
    [
      "",
      `download cache ${folderText(r.data.cache)}${
        r.data.cache.fromEnv ? ` from $${CACHE_DIR_ENV}` : ""
      }`,
    ],
    ["", `fashion-mnist ${folderText(r.data.debianFashionMnist)}`],
    ["samples", folderText(r.data.kerasSamples)],
    ["browser", `${browser}${b.fromEnv ? ` (from $${CHROMIUM_ENV})` : ""}`],
  ];
  return ["scratchnet doctor", ...rows.map(([k, v]) => `  ${k.padEnd(8)} ${v}`)].join("\n");
}

/** The report in one line (the first line of `deno task test`). */
export function doctorLine(r: DoctorReport): string {
  const k = r.kernels;
  const kernels = k.ok
    ? `${k.build} kernels, ${k.threads} thread${k.threads > 1 ? "s" : ""}`
    : "no kernels";
  const data = r.data.shared.exists
    ? `data ${r.data.shared.path}`
    : `data cache ${r.data.cache.path}`;
  const version = r.browser.version?.match(/\d+(\.\d+)+/)?.[0];
  const browser = r.browser.present
    ? `chromium ${version ?? "?"} (${r.browser.path})`
    : `chromium missing (${r.browser.path})`;
  return [
    `doctor: deno ${r.deno}`,
    `${r.os} ${r.arch} ${r.cores} cores`,
    `wasm simd ${yesNo(r.wasmSimd)}, relaxed ${yesNo(r.relaxedSimd)}`,
    kernels,
    data,
    browser,
  ].join(" · ");
}

if (import.meta.main) {
  const report = await doctorReport();
  console.log(
    Deno.args.includes("--json") ? JSON.stringify(report, null, 2) : formatDoctor(report),
  );
}
