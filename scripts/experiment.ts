/**
 * `deno task experiment <cnn|rnn|lstm|gru> [options]` — trains a family's hyper-parameter grid,
 * checks every trained model's engine forward pass against a reference, and writes
 * `results.json`, `report.md` and SVG plots (see `--help` and the README's "Experiments").
 * `deno task experiment transfer|autoencoder|imdb [options]` runs those studies (`transfer.ts`,
 * `autoencoder.ts`, `imdb.ts`; each has its own `--help`); `--language all` runs each text family's
 * best variant on every NusaX language (`languages.ts`).
 *
 * Exit status: 0 when every variant ran, 1 when one failed (the others still ran and are
 * reported), 2 for bad arguments or an output folder holding results without `--force`.
 */
import { join } from "node:path";
import {
  AUTOENCODER_USAGE,
  parseAutoencoderArgs,
  runAutoencoder,
} from "./experiment/autoencoder.ts";
import { ExperimentError, OutputExistsError, UsageError } from "./experiment/errors.ts";
import { IMDB_USAGE, imdbTable, parseImdbArgs, runImdb } from "./experiment/imdb.ts";
import {
  languagesTable,
  parseLanguagesArgs,
  runLanguages,
  wantsAllLanguages,
} from "./experiment/languages.ts";
import { parseExperimentArgs, USAGE, wantsHelp } from "./experiment/options.ts";
import { createProgress } from "./experiment/progress.ts";
import { runExperiment } from "./experiment/run.ts";
import { summaryTable } from "./experiment/summary.ts";
import { e2, f4 } from "./experiment/study_common.ts";
import { parseTransferArgs, runTransfer, TRANSFER_USAGE } from "./experiment/transfer.ts";

/** The family named by the first positional argument, when it is one of the studies. */
function study(args: readonly string[]): "transfer" | "autoencoder" | "imdb" | null {
  const first = args.find((a) => !a.startsWith("-"));
  return first === "transfer" || first === "autoencoder" || first === "imdb" ? first : null;
}

/** Runs `transfer`, `autoencoder` or `imdb`; returns the exit status. */
async function runStudy(
  kind: "transfer" | "autoencoder" | "imdb",
  args: string[],
): Promise<number> {
  if (kind === "imdb") {
    const o = parseImdbArgs(args);
    const r = await runImdb(o, createProgress(o.progress));
    console.log(`\n${imdbTable(r.runs)}\n`);
    console.log(`report: ${join(o.out, "report.md")}`);
    console.log(`wall-clock: ${r.wallClockSeconds.toFixed(1)} s`);
    return 0;
  }
  if (kind === "transfer") {
    const o = parseTransferArgs(args);
    const r = await runTransfer(o, createProgress(o.progress));
    console.log(`\nsamples/class  labelled  transfer  scratch`);
    for (const row of r.rows) {
      console.log(
        `${String(row.perClass ?? "all").padStart(13)}  ${String(row.labelled).padStart(8)}  ` +
          `${f4(row.transfer.macroF1).padStart(8)}  ${f4(row.scratch.macroF1).padStart(7)}`,
      );
    }
    const s = r.samplesSaved;
    console.log(
      s.scratchLabelled === null
        ? `samples saved: not reached (scratch below ${f4(s.target)} up to the largest count)`
        : s.saved === 0
        ? `samples saved: none (scratch matched transfer at the smallest count)`
        : `samples saved: scratch needs ${s.scratchLabelled} labelled samples to match ` +
          `transfer at ${s.transferLabelled}`,
    );
    console.log(`report: ${join(o.out, "report.md")}`);
    console.log(`wall-clock: ${r.wallClockSeconds.toFixed(1)} s`);
    return 0;
  }
  const o = parseAutoencoderArgs(args);
  const r = await runAutoencoder(o, createProgress(o.progress));
  console.log(
    `\ntest MSE ${e2(r.testMse)} (per epoch validation: ${r.history.val_mse.map(e2).join(" ")})`,
  );
  console.log(
    `linear probe test accuracy ${f4(r.probe.trained.testAccuracy)} ` +
      `(untrained encoder ${f4(r.probe.untrained.testAccuracy)})`,
  );
  console.log(`engine vs TF.js max |Δ| ${e2(r.reference.maxAbsDiff)}`);
  console.log(`report: ${join(o.out, "report.md")}`);
  console.log(`wall-clock: ${r.wallClockSeconds.toFixed(1)} s`);
  return 0;
}

if (import.meta.main) {
  const args = Deno.args;
  const kind = study(args);
  const usage = kind === "transfer"
    ? TRANSFER_USAGE
    : kind === "autoencoder"
    ? AUTOENCODER_USAGE
    : kind === "imdb"
    ? IMDB_USAGE
    : USAGE;
  if (wantsHelp(args)) {
    console.log(usage);
    Deno.exit(0);
  }
  try {
    if (kind) Deno.exit(await runStudy(kind, args));
    if (wantsAllLanguages(args)) {
      const o = parseLanguagesArgs(args);
      const first = o.perFamily.get(o.families[0])!;
      const r = await runLanguages(o, createProgress(first.progress));
      console.log(`\n${languagesTable(r)}\n`);
      console.log(`report: ${join(o.out, "report.md")}`);
      console.log(`wall-clock: ${r.wallClockSeconds.toFixed(1)} s`);
      Deno.exit(r.cells.some((c) => c.error) ? 1 : 0);
    }
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
      console.error(`error: ${e.message}${e instanceof UsageError ? "\n\n" + usage : ""}`);
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
