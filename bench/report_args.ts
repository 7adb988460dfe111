/**
 * The selection flags of `deno task bench:report` (a subset of the report, e.g. to reproduce one
 * row): `--models <regex>`, `--batches <list>`, `--peers <list>`, `--sections <list>` and
 * `--ort-timeout <s>`, and `--ort-web-reserve <MB>` (0 reproduces issue 18's hang).
 */
import { ORT_PEERS, type OrtPeerName } from "./ort_peers.ts";
import { ORT_TIME_LIMIT_MS } from "./models_section.ts";

/** The report's parts, in the order they run. */
export const REPORT_SECTIONS = ["kernels", "models", "training", "graph-memory", "loads"] as const;
/** One part: kernel GFLOP/s, model rows, graph activation memory, load times and peak memory. */
export type ReportSection = typeof REPORT_SECTIONS[number];

/** What the flags select. */
export interface ReportSelection {
  /** Model rows whose id or label matches (case-insensitive); all when absent. */
  models?: RegExp;
  /** Batch sizes to run (of each model's own); all when absent. */
  batches?: number[];
  /** ONNX Runtime columns; all when absent. */
  peers?: OrtPeerName[];
  /** Parts to run (default: all). */
  sections: Set<ReportSection>;
  /** Time box of one ONNX Runtime measurement, ms. */
  ortTimeLimitMs: number;
  /** Wasm memory multi-threaded ORT-web starts with, bytes (default: `ORT_WEB_RESERVE_BYTES`). */
  ortWebReserveBytes?: number;
}

/** Flags of `bench:report` that take a value (the one after them). */
const VALUE_FLAGS = [
  "--out",
  "--threads",
  "--render",
  "--models",
  "--batches",
  "--peers",
  "--sections",
  "--ort-timeout",
  "--ort-web-reserve",
];
/** Flags of `bench:report` that stand alone. */
const SWITCHES = ["--quick", "--full", "--help", "-h"];

/** What `bench:report --help` prints. */
export const REPORT_USAGE =
  `deno task bench:report [flags]: engine vs TF.js and ONNX Runtime, written to
bench/results.json and bench/RESULTS.md (the whole report takes ~25 min on 2 cores; run it on a
quiet machine, or one row at a time with the selections below).

  --quick                 four models, the applications at 96×96, short budgets
  --full                  every model combination (27 CNNs, 36 text models; much longer)
  --out <dir>             write the two files to <dir> (default bench/)
  --threads <n>           threads of the engine's multi-threaded column (default: the core count)
  --render <results.json> only re-render RESULTS.md from a previous run
  --models <regex>        model rows whose id or label matches, e.g. "BiLSTM 1×64"
  --batches <list>        batch sizes, e.g. 1,64
  --peers <list>          ONNX Runtime columns (${ORT_PEERS.join(", ")})
  --sections <list>       parts to run (${REPORT_SECTIONS.join(", ")}); the SIMD peak always runs
  --ort-timeout <s>       time box of one ONNX Runtime measurement (default ${
    ORT_TIME_LIMIT_MS / 1000
  })
  --ort-web-reserve <MB>  wasm memory 2-thread ORT-web starts with (default 2048)
  --help, -h              this text`;

/**
 * Refuses flags `bench:report` does not know (a typo would otherwise run the whole 25-minute
 * report) and flags missing their value; returns whether `--help` was asked for.
 */
export function checkReportFlags(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (VALUE_FLAGS.includes(a)) {
      if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
        throw new Error(`${a} needs a value (--help lists the flags)`);
      }
      i++;
    } else if (!SWITCHES.includes(a)) {
      throw new Error(`unknown flag or argument: ${a} (--help lists the flags)`);
    }
  }
  return args.includes("--help") || args.includes("-h");
}

function list(value: string | undefined, flag: string): string[] {
  if (value === undefined || value.startsWith("--")) throw new Error(`${flag} needs a value`);
  return value.split(",").map((s) => s.trim()).filter((s) => s);
}

/** Parses the selection flags of `args` (other flags are left to the caller). */
export function parseSelection(args: readonly string[]): ReportSelection {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i < 0 ? undefined : args[i + 1] ?? "";
  };
  const sel: ReportSelection = {
    sections: new Set(REPORT_SECTIONS),
    ortTimeLimitMs: ORT_TIME_LIMIT_MS,
  };
  if (args.includes("--models")) {
    const pattern = value("--models");
    if (!pattern || pattern.startsWith("--")) throw new Error("--models needs a value");
    sel.models = new RegExp(pattern, "i");
  }
  if (args.includes("--batches")) {
    sel.batches = list(value("--batches"), "--batches").map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--batches: not a batch size: ${s}`);
      return n;
    });
  }
  if (args.includes("--peers")) {
    sel.peers = list(value("--peers"), "--peers").map((s) => {
      if (!(ORT_PEERS as readonly string[]).includes(s)) {
        throw new Error(`--peers: unknown column ${s} (one of ${ORT_PEERS.join(", ")})`);
      }
      return s as OrtPeerName;
    });
  }
  if (args.includes("--sections")) {
    sel.sections = new Set(
      list(value("--sections"), "--sections").map((s) => {
        if (!(REPORT_SECTIONS as readonly string[]).includes(s)) {
          throw new Error(
            `--sections: unknown section ${s} (one of ${REPORT_SECTIONS.join(", ")})`,
          );
        }
        return s as ReportSection;
      }),
    );
  }
  if (args.includes("--ort-timeout")) {
    const s = Number(value("--ort-timeout"));
    if (!(s > 0)) throw new Error(`--ort-timeout: seconds > 0, not ${value("--ort-timeout")}`);
    sel.ortTimeLimitMs = s * 1000;
  }
  if (args.includes("--ort-web-reserve")) {
    const mb = Number(value("--ort-web-reserve"));
    if (!(mb >= 0)) throw new Error(`--ort-web-reserve: MB ≥ 0, not ${value("--ort-web-reserve")}`);
    sel.ortWebReserveBytes = mb * 2 ** 20;
  }
  return sel;
}

/** Whether a model row (`id` and `label`) is selected. */
export function selectsModel(sel: ReportSelection, id: string, label: string): boolean {
  return !sel.models || sel.models.test(id) || sel.models.test(label);
}
