/**
 * `deno task demo`: a short, real end-to-end run of the course assignment on NusaX-Sentiment
 * Indonesian — three LSTM variants (1 and 2 bidirectional layers; 2 unidirectional layers) trained
 * by the engine, each saved as `.keras`, reloaded through the importer, and run over the whole test
 * split by the engine and by TF.js (cpu) with the same weights. Prints the F1 table (engine and
 * TF.js macro-F1, argmax agreement, max |Δp|) and the report's path.
 *
 * Extra arguments are passed to `deno task experiment` (e.g. `--quick`, `--out DIR`,
 * `--language javanese`); the demo overwrites its own output folder.
 */
import { join } from "node:path";
import { ExperimentError, UsageError } from "./experiment/errors.ts";
import { parseExperimentArgs, USAGE } from "./experiment/options.ts";
import { createProgress } from "./experiment/progress.ts";
import { runExperiment } from "./experiment/run.ts";
import { summaryTable } from "./experiment/summary.ts";

/** The demo's arguments: its defaults, unless the user gave the same flag. */
export function demoArgs(user: readonly string[]): string[] {
  const given = new Set(user.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]));
  const defaults: [string, string | null][] = [
    ["--study", "layers,direction"],
    ["--variants", "bilstm_64,bilstm_64-64,lstm_64-64"],
    ["--out", "experiments/demo"],
    ["--force", null],
  ];
  const args = ["lstm"];
  for (const [flag, value] of defaults) {
    if (!given.has(flag)) args.push(flag, ...(value === null ? [] : [value]));
  }
  return [...args, ...user];
}

if (import.meta.main) {
  try {
    const options = parseExperimentArgs(demoArgs(Deno.args));
    console.log(
      "scratchnet demo: LSTM sentiment classifiers on NusaX-Sentiment " +
        `(${options.language}), trained by the engine, saved as .keras, reloaded, and run by the ` +
        "engine and TF.js (cpu) on the whole test split.\n",
    );
    const results = await runExperiment(options, createProgress(options.progress));
    console.log(`\n${summaryTable(results)}\n`);
    console.log(
      "macro-F1 = engine on the reloaded .keras; reference = TF.js with the same weights; " +
        "agree = argmax agreement; epochs = run (lowest val_loss).",
    );
    if (results.best) {
      console.log(`best: ${results.best.id} (macro-F1 ${results.best.macroF1.toFixed(4)})`);
    }
    console.log(`report: ${join(options.out, "report.md")}`);
    console.log(`wall-clock: ${results.wallClockSeconds.toFixed(1)} s`);
    Deno.exit(results.variants.some((v) => v.error) ? 1 : 0);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n\n${USAGE}`);
      Deno.exit(2);
    }
    if (e instanceof ExperimentError || (e instanceof Error && /Error$/.test(e.name))) {
      const hint = e.name === "DatasetNotFoundError"
        ? "\n(on the command line: --data-dir DIR names the folder that holds the files)"
        : "";
      console.error(`error: ${e.name}: ${e.message}${hint}`);
      Deno.exit(1);
    }
    throw e;
  }
}
