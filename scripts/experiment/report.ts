/**
 * The experiment's outputs: `results.json`, `report.md` (F1 tables per hyper-parameter, the
 * engine-vs-reference table, plots and a conclusion generated from the numbers), one SVG of
 * train/validation loss per hyper-parameter and the best model's confusion matrix.
 */
import { join } from "node:path";
import type { Study } from "./grid.ts";
import { type ExperimentResults, type VariantResult, variantScore } from "./results.ts";
import { confusionMatrixChart, lineChart, paletteColor, type Series } from "./svg_plot.ts";

const f4 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(4));
const pct = (v: number | undefined) => (v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);
const exp = (v: number | undefined) => (v === undefined ? "–" : v.toExponential(1));
/** "run (lowest val loss)", plus the kept epoch when early stopping kept another one. */
export const epochs = (r: VariantResult): string =>
  `${r.epochsRun} (${r.bestEpoch}${
    r.keptEpoch !== undefined && r.keptEpoch !== r.bestEpoch && r.restoredBest
      ? `; kept ${r.keptEpoch}`
      : ""
  })`;
const meanStd = (r: VariantResult) =>
  r.macroF1Mean === undefined
    ? "–"
    : `${r.macroF1Mean.toFixed(4)} ± ${r.macroF1Std!.toFixed(4)} (${r.runs!.length})`;

function monitorName(results: ExperimentResults): string {
  const es = results.settings.earlyStopping as { monitor?: string } | null | undefined;
  return es?.monitor ?? "val_loss";
}

/** Test samples the variant's reference ran on (all, unless `--reference-size` cut them). */
function referenceSamples(r: VariantResult, results: ExperimentResults): number {
  return r.reference?.samples ?? results.dataset.test;
}

/** The reference's macro-F1, saying "on the first N" when it did not see the whole test split. */
function referenceF1(r: VariantResult, results: ExperimentResults): string {
  const n = referenceSamples(r, results);
  return f4(r.reference?.macroF1) + (n < results.dataset.test ? ` (first ${n})` : "");
}

function byId(results: ExperimentResults): Map<string, VariantResult> {
  return new Map(results.variants.map((v) => [v.id, v]));
}

/** The train/validation loss chart of one study: a solid (train) and dashed (validation) line per
 * variant, in the variant's colour. */
export function studyLossChart(study: Study, results: ExperimentResults): string {
  const variants = byId(results);
  const series: Series[] = [];
  study.entries.forEach((e, i) => {
    const h = variants.get(e.variant)?.history;
    if (!h) return;
    const color = paletteColor(i);
    series.push({ label: `${e.value} train`, values: h.loss ?? [], color });
    const val = h.val_loss ?? [];
    // The dot marks the lowest validation loss: where it turned up afterwards.
    const best = val.indexOf(Math.min(...val));
    series.push({
      label: `${e.value} val`,
      values: val,
      color,
      dashed: true,
      ...(best >= 0 ? { marker: best } : {}),
    });
  });
  return lineChart(`${study.title}: loss per epoch`, series, {
    yLabel: "sparse categorical cross-entropy",
  });
}

/** The Markdown F1 table of one study. */
export function studyTable(study: Study, results: ExperimentResults): string {
  const variants = byId(results);
  const repeated = results.variants.some((r) => r.runs);
  const rows = [
    "| value | variant | params | epochs (best) | val macro-F1 | " +
    (repeated ? "test macro-F1 mean ± std (seeds) | kept run: " : "") +
    "test macro-F1 engine | test macro-F1 reference | accuracy | agreement | max \\|Δp\\| |",
    `| --- | --- | ---: | ---: | ---: | ${
      repeated ? "---: | " : ""
    }---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const e of study.entries) {
    const r = variants.get(e.variant);
    if (!r) continue;
    if (r.error) {
      rows.push(
        `| ${e.value} | \`${r.id}\` | failed at ${r.error.stage} | | | | | | | |${
          repeated ? " |" : ""
        }`,
      );
      continue;
    }
    rows.push(
      `| ${e.value} | \`${r.id}\` | ${r.params} | ${epochs(r)} | ` +
        `${f4(r.validationMacroF1)} | ${repeated ? `**${meanStd(r)}** | ` : ""}` +
        `${repeated ? f4(r.engine?.macroF1) : `**${f4(r.engine?.macroF1)}**`} | ${
          referenceF1(r, results)
        } | ` +
        `${f4(r.engine?.accuracy)} | ${pct(r.agreement)} | ${exp(r.maxAbsDiff)} |`,
    );
  }
  return rows.join("\n");
}

/** Engine vs reference, one row per trained model. */
export function agreementTable(results: ExperimentResults): string {
  const rows = [
    "| variant | reference | engine macro-F1 | reference macro-F1 | argmax agreement | " +
    "max \\|Δp\\| | engine forward (s) | reference forward (s) | training (s) | trainer |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of results.variants) {
    if (r.error || !r.engine || !r.reference) continue;
    rows.push(
      `| \`${r.id}\` | ${r.reference.path} | ${f4(r.engine.macroF1)} | ${
        referenceF1(r, results)
      } | ` +
        `${pct(r.agreement)} | ${exp(r.maxAbsDiff)} | ${r.engine.predictSeconds.toFixed(2)} | ` +
        `${r.reference.predictSeconds.toFixed(2)} | ${r.trainSeconds?.toFixed(1)} | ${r.trainer}` +
        `${r.trainerNote ? ` (${r.trainerNote})` : ""} |`,
    );
  }
  return rows.join("\n");
}

/** Sentences drawn from the numbers: which setting won each study, where validation loss turned
 * up, and how closely the engine matched the reference. */
export function conclusion(results: ExperimentResults): string[] {
  const out: string[] = [];
  const variants = byId(results);
  const ok = results.variants.filter((r) => !r.error && r.engine);
  const repeated = ok.some((r) => r.runs);
  const what = repeated ? "mean macro-F1" : "macro-F1";
  if (results.best) {
    const b = variants.get(results.best.id)!;
    out.push(
      `Best model: \`${b.id}\` (${b.label}) with test ${what} ${f4(variantScore(b))}` +
        (b.runs
          ? ` ± ${f4(b.macroF1Std)} over ${b.runs.length} seeds (kept run macro-F1 ` +
            `${f4(b.engine!.macroF1)}, `
          : " (") +
        `accuracy ${f4(b.engine!.accuracy)}, validation ` +
        `macro-F1 ${f4(b.validationMacroF1)}).`,
    );
  }
  // What counts as noise: two standard errors of a difference between two accuracies near the
  // winner's on n test samples (2·√2·√(a(1−a)/n)), or the seeds' spread when larger.
  const seedStd = Math.max(0, ...ok.map((r) => r.macroF1Std ?? 0));
  const n = Math.max(1, results.dataset.test);
  const sampling = (a: number) => 2 * Math.SQRT2 * Math.sqrt((a * (1 - a)) / n);
  const noiseOf = (r: VariantResult) => Math.max(seedStd, sampling(r.engine!.accuracy));
  const noiseWhy = (r: VariantResult) =>
    seedStd > sampling(r.engine!.accuracy)
      ? `the largest seed-to-seed standard deviation (${seedStd.toFixed(4)})`
      : `two standard errors of an accuracy difference on ${n} test samples ` +
        `(${sampling(r.engine!.accuracy).toFixed(4)})`;
  for (const s of results.studies) {
    const scored = s.entries
      .map((e) => ({ value: e.value, r: variants.get(e.variant)!, score: 0 }))
      .filter((e) => e.r?.engine)
      .map((e) => ({ ...e, score: variantScore(e.r)! }))
      .sort((a, b) => b.score - a.score);
    if (scored.length < 2) continue;
    const [win, ...rest] = scored;
    const spread = win.score - scored[scored.length - 1].score;
    if (spread === 0) {
      out.push(`${s.title}: every setting scored the same ${what} (${f4(win.score)}); no winner.`);
      continue;
    }
    const others = rest.map((e) => `${e.value} (${f4(e.score)})`).join(", ");
    out.push(
      `${s.title}: **${win.value}** won with ${what} ${f4(win.score)}, ahead of ${others}` +
        (spread < noiseOf(win.r)
          ? `; the spread (${spread.toFixed(4)}) is below ${noiseWhy(win.r)}, so the ranking ` +
            `may be noise.`
          : `; spread ${spread.toFixed(4)}.`),
    );
  }
  const turned = ok.filter((r) => (r.bestEpoch ?? 0) < (r.epochsRun ?? 0));
  const falling = ok.filter((r) => (r.bestEpoch ?? 0) === (r.epochsRun ?? 0));
  if (turned.length) {
    out.push(
      `Validation loss turned up (overfitting) after its minimum for ${turned.length} of ` +
        `${ok.length} variants: ` +
        turned.map((r) => `\`${r.id}\` after epoch ${r.bestEpoch} of ${r.epochsRun}`).join(", ") +
        (results.settings.earlyStopping
          ? `; early stopping restored the weights of each one's best ${monitorName(results)} ` +
            `epoch.`
          : "."),
    );
  }
  if (falling.length) {
    out.push(
      `Validation loss was still at its lowest in the last epoch for ` +
        falling.map((r) => `\`${r.id}\``).join(", ") +
        ` (${falling[0].epochsRun} epochs): more epochs might still help them.`,
    );
  }
  if (ok.length) {
    const checked = ok.map((r) => referenceSamples(r, results));
    const totalTest = checked.reduce((a, b) => a + b, 0);
    const agreeing = ok.reduce((s, r, i) => s + Math.round(r.agreement! * checked[i]), 0);
    const worst = Math.max(...ok.map((r) => r.maxAbsDiff!));
    // Macro-F1 is comparable only where the reference saw the whole test split.
    const whole = ok.filter((_r, i) => checked[i] === results.dataset.test);
    const sameF1 = whole.filter((r) => r.engine!.macroF1 === r.reference!.macroF1).length;
    const paths = [...new Set(ok.map((r) => r.reference!.path))].join(" and ");
    out.push(
      `Engine vs reference (${paths}) on the reloaded .keras files: argmax agrees on ` +
        `${agreeing} of ${totalTest} test predictions over ${ok.length} models, the largest ` +
        `probability difference is ${worst.toExponential(2)}` +
        (whole.length
          ? `, and macro-F1 is identical for ${sameF1} of ${whole.length} models` +
            (whole.length < ok.length ? " checked on the whole test split." : ".")
          : " (the reference saw only the first test samples, so macro-F1 is not compared)."),
    );
  }
  const failed = results.variants.filter((r) => r.error);
  if (failed.length) {
    out.push(
      `Failed: ` +
        failed.map((r) => `\`${r.id}\` (${r.error!.stage}: ${r.error!.message})`).join("; "),
    );
  }
  if (results.settings.quick) {
    out.push(
      "This was a --quick run on small slices: the numbers check the pipeline, not the models.",
    );
  }
  return out;
}

function settingsLines(results: ExperimentResults): string[] {
  const s = results.settings;
  const lines = [
    `- data: ${results.dataset.name} — ${results.dataset.train} train / ` +
    `${results.dataset.validation} validation / ${results.dataset.test} test, input ` +
    `[${results.dataset.inputShape}]` +
    (results.dataset.vocabularySize ? `, vocabulary ${results.dataset.vocabularySize}` : "") +
    ` (from ${results.dataset.source})`,
    `- training: ${s.trainer}, ${
      s.weightDecay ? `AdamW (weight decay ${s.weightDecay})` : "Adam"
    } lr ${s.learningRate}` +
    (s.lrSchedule === "cosine" ? " with cosine decay to 0 over every step" : "") +
    `, batch ${s.batchSize}, ≤ ${s.epochs} ` +
    `epochs, seed ${s.seed}, dropout ${s.dropout}` +
    (s.clipnorm ? `, clipnorm ${s.clipnorm}` : "") +
    (s.earlyStopping
      ? `, early stopping on ${monitorName(results)} (patience ${
        (s.earlyStopping as { patience: number }).patience
      }, best weights restored)`
      : "") +
    (s.reduceLrOnPlateau ? ", ReduceLROnPlateau on val_loss" : "") +
    (s.batchStatistics === "per-thread"
      ? `; threads ${s.threads}, BatchNormalization statistics per thread (each thread's slice ` +
        "of a batch normalised with its own statistics, moving statistics averaged: Keras's " +
        "`synchronized=False` on replicas)"
      : ""),
  ];
  if (s.sequenceLength) {
    const spatial = s.spatialDropout ? ` → SpatialDropout1D ${s.spatialDropout}` : "";
    lines.push(
      results.family === "transformer"
        ? `- text: TextVectorization (sequence length ${s.sequenceLength}) → token Embedding ` +
          `mask_zero + position Embedding${spatial} (width per variant); reference: TF.js has ` +
          "no MultiHeadAttention, so the engine is compared with a float64 forward pass of the " +
          "Keras equations (`scripts/experiment/graph_reference.ts`)"
        : results.family === "cnn1d"
        ? `- text: TextVectorization (sequence length ${s.sequenceLength}) → Embedding ` +
          `${s.embeddingDim}${spatial} (no mask: Conv1D takes none)`
        : `- text: TextVectorization (sequence length ${s.sequenceLength}) → Embedding ` +
          `${s.embeddingDim} mask_zero${spatial}; recurrent init ${s.recurrentInit}` +
          (s.recurrentDropout ? `; recurrent_dropout ${s.recurrentDropout}` : ""),
    );
  }
  if (s.bagOfWords) {
    lines.push(
      "- text: TextVectorization (`ngrams`, `output_mode` and `max_tokens` per variant) → " +
        `Dense relu → Dropout ${s.dropout} → Dense softmax; the vectorized texts are the model's ` +
        "input (the same floats for the engine and the reference); each variant's vectorizer " +
        "is saved beside its model as `models/<id>.text_vectorization.json`",
    );
  }
  const e = results.environment;
  lines.push(
    `- run: ${
      results.wallClockSeconds.toFixed(0)
    } s wall-clock, Deno ${e.deno} on ${e.os}/${e.arch} ` +
      `(${e.cpus} CPUs), started ${e.startedAt}`,
  );
  return lines;
}

/** The whole `report.md`. */
export function reportMarkdown(results: ExperimentResults): string {
  const parts = [
    `# ${results.family.toUpperCase()} experiment on ${results.dataset.name}`,
    "",
    ...settingsLines(results),
    "",
    "Each variant is trained, saved as `.keras`, reloaded through the importer, and run over the " +
    "whole test split by the engine and " +
    (results.settings.referenceSize
      ? `the first ${results.settings.referenceSize} test samples by the reference`
      : "by the reference") +
    " (same weights). Macro-F1 is on the test split; `epochs (best)` is epochs run and the epoch with the lowest validation loss (and the " +
    "epoch kept, when early stopping watched another value). In the " +
    "plots, solid lines are training loss, dashed lines validation loss, and a dot marks each " +
    "variant's lowest validation loss.",
    "",
    "## Conclusion",
    "",
    ...conclusion(results).map((l) => `- ${l}`),
  ];
  for (const s of results.studies) {
    parts.push(
      "",
      `## ${s.title}`,
      "",
      studyTable(s, results),
      "",
      `![${s.title}](plots/${s.name}.svg)`,
    );
  }
  parts.push("", "## Engine vs reference", "", agreementTable(results));
  if (results.best) {
    parts.push(
      "",
      `## Confusion matrix of the best model (\`${results.best.id}\`)`,
      "",
      `![confusion matrix](plots/confusion_${results.best.id}.svg)`,
    );
  }
  return parts.join("\n") + "\n";
}

/** Writes `results.json`, `report.md` and `plots/*.svg` into `out`. */
export async function writeReport(out: string, results: ExperimentResults): Promise<void> {
  await Deno.mkdir(join(out, "plots"), { recursive: true });
  for (const s of results.studies) {
    await Deno.writeTextFile(join(out, "plots", `${s.name}.svg`), studyLossChart(s, results));
  }
  if (results.best) {
    const b = results.variants.find((v) => v.id === results.best!.id)!;
    await Deno.writeTextFile(
      join(out, "plots", `confusion_${b.id}.svg`),
      confusionMatrixChart(
        `${b.label}: test confusion matrix`,
        b.engine!.confusionMatrix,
        results.dataset.labelNames,
      ),
    );
  }
  await Deno.writeTextFile(join(out, "results.json"), JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(join(out, "report.md"), reportMarkdown(results));
}
