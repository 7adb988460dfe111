/** The plain-text F1 table printed at the end of a run (the report has the full tables). */
import { epochs } from "./report.ts";
import type { ExperimentResults } from "./results.ts";

/** One line per variant: engine and reference macro-F1, agreement, max |Δp|, epochs, time. */
export function summaryTable(results: ExperimentResults): string {
  const head = [
    "variant",
    "macro-F1",
    "reference",
    "ref. path",
    "agree",
    "max |Δp|",
    "epochs",
    "train s",
  ];
  const repeated = results.variants.some((r) => r.runs);
  if (repeated) head.splice(1, 0, "mean ± std");
  const rows = results.variants.map((r) =>
    r.error ? [r.id, `failed at ${r.error.stage}`, ...Array(head.length - 2).fill("")] : [
      r.id,
      ...(repeated ? [`${r.macroF1Mean!.toFixed(4)} ± ${r.macroF1Std!.toFixed(4)}`] : []),
      r.engine!.macroF1.toFixed(4),
      r.reference!.macroF1.toFixed(4),
      r.reference!.path,
      `${(100 * r.agreement!).toFixed(1)}%`,
      r.maxAbsDiff!.toExponential(1),
      epochs(r),
      r.trainSeconds!.toFixed(1),
    ]
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}
