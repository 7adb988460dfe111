/**
 * Progress lines of an experiment run on stderr: on a terminal one line per epoch and per
 * variant; otherwise (CI logs) one line per variant; or nothing.
 */
import type { Logs } from "@scratchnet/engine";

/** What the runner reports while it works. */
export interface ExperimentProgress {
  /** A general message (data loaded, files written). */
  info(message: string): void;
  /** A variant starts (`index` 0-based of `total`). */
  variantStart(index: number, total: number, id: string, label: string): void;
  /** An epoch of the current variant ended. */
  epoch(id: string, epoch: number, epochs: number, logs: Logs): void;
  /** A variant ended with this one-line summary. */
  variantEnd(index: number, total: number, id: string, summary: string): void;
}

/** Where lines go. */
export interface LineSink {
  isTerminal(): boolean;
  writeLine(line: string): void;
}

/** Deno's stderr. */
export function stderrLines(): LineSink {
  const encoder = new TextEncoder();
  return {
    isTerminal: () => {
      try {
        return Deno.stderr.isTerminal();
      } catch {
        return false;
      }
    },
    writeLine: (line) => {
      const bytes = encoder.encode(line + "\n");
      let off = 0;
      while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
    },
  };
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2);
}

/** Keras-like `name: value` pairs of an epoch's logs. */
export function formatLogs(logs: Logs): string {
  return Object.entries(logs).map(([k, v]) => `${k} ${fmt(v)}`).join(" · ");
}

/**
 * Progress for `mode`: `epoch` (every epoch and variant), `variant` (one line per variant),
 * `none`, or `auto` (`epoch` on a terminal, else `variant`).
 */
export function createProgress(
  mode: "auto" | "epoch" | "variant" | "none",
  sink: LineSink = stderrLines(),
): ExperimentProgress {
  const level = mode === "auto" ? (sink.isTerminal() ? "epoch" : "variant") : mode;
  const say = (line: string) => {
    if (level !== "none") sink.writeLine(line);
  };
  let started = 0;
  return {
    info: say,
    variantStart(index, total, id, label) {
      started = performance.now();
      if (level === "epoch") say(`[${index + 1}/${total}] ${id} (${label})`);
    },
    epoch(id, epoch, epochs, logs) {
      if (level !== "epoch") return;
      const s = ((performance.now() - started) / 1000).toFixed(1);
      say(`  ${id} epoch ${epoch + 1}/${epochs} · ${formatLogs(logs)} · ${s}s`);
    },
    variantEnd(index, total, id, summary) {
      say(`[${index + 1}/${total}] ${id}: ${summary}`);
    },
  };
}
