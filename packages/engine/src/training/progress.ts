/**
 * The per-epoch progress bar `fit` shows on stderr — only when stderr is a terminal (quiet in
 * pipes, CI and browsers), as the `verbose` option of `fit` decides.
 */
import { Callback, type Logs } from "./callbacks.ts";

/** Where progress text goes. */
export interface ProgressSink {
  isTerminal(): boolean;
  write(text: string): void;
}

/** Deno's stderr, or null in runtimes without it (browsers, workers). */
export function stderrSink(): ProgressSink | null {
  // deno-lint-ignore no-explicit-any
  const deno = (globalThis as any).Deno;
  if (!deno?.stderr?.writeSync) return null;
  const encoder = new TextEncoder();
  return {
    isTerminal: () => {
      try {
        return Boolean(deno.stderr.isTerminal?.());
      } catch {
        return false;
      }
    },
    write: (text) => {
      const bytes = encoder.encode(text);
      let off = 0;
      while (off < bytes.length) off += deno.stderr.writeSync(bytes.subarray(off));
    },
  };
}

function formatLogs(logs: Logs): string {
  return Object.entries(logs).map(([k, v]) => `${k}: ${formatValue(v)}`).join(" - ");
}

function formatValue(v: number): string {
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(3);
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return s < 1
    ? `${Math.round(ms)}ms`
    : s < 60
    ? `${s.toFixed(1)}s`
    : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

/**
 * Keras-like progress: `mode` 1 redraws a bar per batch and ends each epoch with its logs (only
 * on a terminal); `mode` 2 prints one line per epoch (also when not on a terminal).
 */
export class ProgressBar extends Callback {
  readonly #sink: ProgressSink | null;
  readonly #mode: 1 | 2;
  #start = 0;
  #lastDraw = 0;

  constructor(sink: ProgressSink | null = stderrSink(), mode: 1 | 2 = 1) {
    super();
    this.#sink = sink;
    this.#mode = mode;
  }

  /** Whether anything will be written. */
  get active(): boolean {
    return this.#sink !== null && (this.#mode === 2 || this.#sink.isTerminal());
  }

  override onEpochBegin(epoch: number): void {
    this.#start = performance.now();
    this.#lastDraw = 0;
    if (this.active && this.#mode === 1) {
      this.#sink!.write(`Epoch ${epoch + 1}/${this.params?.epochs ?? "?"}\n`);
    }
  }

  override onTrainBatchEnd(batch: number, logs: Logs): void {
    if (!this.active || this.#mode !== 1) return;
    const now = performance.now();
    const steps = this.params?.steps ?? 0;
    if (now - this.#lastDraw < 100 && batch + 1 < steps) return;
    this.#lastDraw = now;
    const width = 30;
    const done = steps ? Math.min(width, Math.floor(((batch + 1) / steps) * width)) : 0;
    const bar = "=".repeat(Math.max(0, done - 1)) + (done ? (done === width ? "=" : ">") : "") +
      ".".repeat(width - done);
    const elapsed = now - this.#start;
    const eta = steps ? (elapsed / (batch + 1)) * (steps - batch - 1) : 0;
    const count = `${batch + 1}/${steps}`.padStart(2 * String(steps).length + 1);
    this.#sink!.write(
      `\r${count} [${bar}] - ETA ${formatSeconds(eta)} - ${formatLogs(logs)}\x1b[K`,
    );
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    if (!this.active) return;
    const elapsed = formatSeconds(performance.now() - this.#start);
    if (this.#mode === 1) {
      const steps = this.params?.steps ?? 0;
      this.#sink!.write(
        `\r${steps}/${steps} [${"=".repeat(30)}] - ${elapsed} - ${formatLogs(logs)}\x1b[K\n`,
      );
    } else {
      this.#sink!.write(
        `Epoch ${epoch + 1}/${this.params?.epochs ?? "?"} - ${elapsed} - ${formatLogs(logs)}\n`,
      );
    }
  }
}
