/**
 * `deno task experiment <cnn|rnn|lstm|gru> [options]` — trains a family's hyper-parameter grid,
 * checks every trained model's engine forward pass against a reference, and writes
 * `results.json`, `report.md` and SVG plots (see `--help` and the README's "Experiments").
 *
 * Exit status: 0 when every variant ran, 1 when one failed (the others still ran and are
 * reported), 2 for bad arguments or an output folder holding results without `--force`.
 */
import { join } from "node:path";
import { ExperimentError, OutputExistsError, UsageError } from "./experiment/errors.ts";
import { parseExperimentArgs, USAGE, wantsHelp } from "./experiment/options.ts";
import { createProgress } from "./experiment/progress.ts";
import { runExperiment } from "./experiment/run.ts";
import { summaryTable } from "./experiment/summary.ts";

if (import.meta.main) {
  const args = Deno.args;
  if (wantsHelp(args)) {
    console.log(USAGE);
    Deno.exit(0);
  }
  try {
    const options = parseExperimentArgs(args);
    const results = await runExperiment(options, createProgress(options.progress));
    console.log(`\n${summaryTable(results)}\n`);
    if (results.best) {
      console.log(`best: ${results.best.id} (macro-F1 ${results.best.macroF1.toFixed(4)})`);
    }
    console.log(`report: ${join(options.out, "report.md")}`);
    console.log(`wall-clock: ${results.wallClockSeconds.toFixed(1)} s`);
    Deno.exit(results.variants.some((v) => v.error) ? 1 : 0);
  } catch (e) {
    if (e instanceof UsageError || e instanceof OutputExistsError) {
      console.error(`error: ${e.message}${e instanceof UsageError ? "\n\n" + USAGE : ""}`);
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
