/**
 * The selection flags of `deno task bench:report` (a subset of the report, e.g. to reproduce one
 * row): `--models <regex>`, `--batches <list>`, `--peers <list>`, `--sections <list>` and
 * `--ort-timeout <s>`, and `--ort-web-reserve <MB>` (0 reproduces issue 18's hang).
 */
import { ORT_PEERS, type OrtPeerName } from "./ort_peers.ts";
import { ORT_TIME_LIMIT_MS } from "./models_section.ts";

/** The report's parts, in the order they run. */
export const REPORT_SECTIONS = ["kernels", "models", "graph-memory", "loads"] as const;
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
