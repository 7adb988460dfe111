/**
 * A one-line progress bar for downloads and parsing. It draws on stderr only when stderr is a
 * terminal, so CI logs and piped output stay clean.
 *
 * @module
 */

/** How progress is reported: `true`/`false` force it on/off; `undefined` means "if a TTY". */
export type ProgressSetting = boolean | undefined;

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Force drawing on (`true`) or off (`false`); default: only if stderr is a terminal. */
  enabled?: ProgressSetting;
  /** Unit shown with the counts: bytes are shown in MB. Default `"bytes"`. */
  unit?: "bytes" | "items";
  /** Where the text goes; default writes to stderr. */
  write?: (text: string) => void;
  /** Minimum milliseconds between redraws; default 100. */
  intervalMs?: number;
}

/** A running progress report. */
export interface Progress {
  /** Whether anything is drawn. */
  readonly enabled: boolean;
  /** Adds `amount` to the count done so far. */
  add(amount: number): void;
  /** Finishes the line (draws the final state and a newline). Safe to call twice. */
  done(): void;
}

const BAR_WIDTH = 24;
const encoder = new TextEncoder();

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function writeStderr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

function formatCount(value: number, unit: "bytes" | "items"): string {
  return unit === "bytes" ? `${(value / 1e6).toFixed(1)} MB` : `${value}`;
}

/**
 * Starts a progress report labelled `label` for `total` units (unknown if `undefined` or 0).
 * Returns a no-op reporter when drawing is off.
 */
export function createProgress(
  label: string,
  total: number | undefined,
  options: ProgressOptions = {},
): Progress {
  const enabled = options.enabled ?? stderrIsTerminal();
  if (!enabled) return { enabled: false, add() {}, done() {} };
  const write = options.write ?? writeStderr;
  const unit = options.unit ?? "bytes";
  const interval = options.intervalMs ?? 100;
  let current = 0;
  let lastDraw = -Infinity;
  let finished = false;

  const draw = () => {
    let line: string;
    if (total && total > 0) {
      const fraction = Math.min(1, current / total);
      const filled = Math.round(fraction * BAR_WIDTH);
      line = `${label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ` +
        `${(fraction * 100).toFixed(0).padStart(3)}% ${formatCount(current, unit)}/${
          formatCount(total, unit)
        }`;
    } else {
      line = `${label} ${formatCount(current, unit)}`;
    }
    // "\r" + erase-line keeps the report on one terminal line.
    write(`\r\x1b[2K${line}`);
  };

  return {
    enabled: true,
    add(amount: number) {
      if (finished) return;
      current += amount;
      const now = performance.now();
      if (now - lastDraw >= interval) {
        lastDraw = now;
        draw();
      }
    },
    done() {
      if (finished) return;
      finished = true;
      draw();
      write("\n");
    },
  };
}
