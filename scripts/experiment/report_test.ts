import assert from "node:assert/strict";
import { conclusion, reportMarkdown, studyLossChart, studyTable } from "./report.ts";
import {
  compareProbs,
  type ExperimentResults,
  predictionMetrics,
  type VariantResult,
} from "./results.ts";
import { summaryTable } from "./summary.ts";

function variant(id: string, f1: number, epochs: number, best: number): VariantResult {
  const engine = predictionMetrics(
    new Int32Array([0, 1, 2, 2]),
    new Float32Array([0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.1, 0.8, 0.6, 0.2, 0.2]),
    3,
    0.5,
  );
  engine.macroF1 = f1;
  return {
    id,
    label: id.toUpperCase(),
    hyper: {},
    params: 1000,
    trainer: "engine",
    history: {
      loss: Array.from({ length: epochs }, (_, i) => 1 / (i + 1)),
      val_loss: Array.from({ length: epochs }, (_, i) => Math.abs(i + 1 - best) + 0.5),
    },
    epochsRun: epochs,
    bestEpoch: best,
    restoredBest: true,
    trainSeconds: 3,
    modelFile: `models/${id}.keras`,
    engine,
    validationMacroF1: f1 - 0.01,
    reference: { path: "tfjs-cpu", accuracy: engine.accuracy, macroF1: f1, predictSeconds: 1 },
    agreement: 1,
    maxAbsDiff: 2.5e-7,
  };
}

function results(variants: VariantResult[]): ExperimentResults {
  return {
    schemaVersion: 1,
    family: "lstm",
    dataset: {
      name: "nusax-sentiment/indonesian",
      labelNames: ["negative", "neutral", "positive"],
      inputShape: [64],
      train: 500,
      validation: 100,
      test: 400,
      source: "x",
    },
    settings: { earlyStopping: { patience: 3 }, quick: false, trainer: "engine" },
    environment: { deno: "2", v8: "1", os: "linux", arch: "x86_64", cpus: 2, startedAt: "t" },
    studies: [
      {
        name: "layers",
        title: "Number of LSTM layers",
        entries: [{ variant: "a", value: "1" }, { variant: "b", value: "2" }],
      },
      {
        name: "direction",
        title: "Unidirectional vs bidirectional",
        entries: [{ variant: "b", value: "bidirectional" }, { variant: "c", value: "uni" }],
      },
    ],
    variants,
    best: { id: "b", macroF1: 0.75 },
    wallClockSeconds: 12,
  };
}

Deno.test("the conclusion names each study's winner, overfitting epochs and agreement", () => {
  const r = results([
    variant("a", 0.65, 7, 4),
    variant("b", 0.75, 20, 20),
    variant("c", 0.745, 6, 3),
  ]);
  const lines = conclusion(r);
  assert.match(
    lines[0],
    /^Best model: `b` \(B\) with test macro-F1 0\.7500 \(accuracy 0\.7500, validation macro-F1 0\.7400\)\.$/,
  );
  assert.ok(
    lines.some((l) =>
      /Number of LSTM layers: \*\*2\*\* won with macro-F1 0\.7500, ahead of 1 \(0\.6500\); spread 0\.1000/
        .test(l)
    ),
  );
  assert.ok(
    lines.some((l) =>
      /\*\*bidirectional\*\* won .* uni \(0\.7450\); the spread \(0\.0050\) is below two standard errors of an accuracy difference on 400 test samples \(0\.0612\), so the ranking may be noise/
        .test(l)
    ),
  );
  assert.ok(
    lines.some((l) =>
      /turned up .* for 2 of 3 variants: `a` after epoch 4 of 7, `c` after epoch 3 of 6; early stopping restored/
        .test(l)
    ),
  );
  assert.ok(lines.some((l) => /still at its lowest in the last epoch for `b`/.test(l)));
  assert.ok(
    lines.some((l) =>
      /argmax agrees on 1200 of 1200 test predictions over 3 models, the largest probability difference is 2\.50e-7/
        .test(l)
    ),
  );
});

Deno.test("ties, failures and quick runs are said as such", () => {
  const failed: VariantResult = {
    id: "c",
    label: "C",
    hyper: {},
    error: { stage: "training", message: "boom" },
  };
  const r = results([variant("a", 0.7, 3, 3), variant("b", 0.7, 3, 3), failed]);
  r.settings.quick = true;
  const lines = conclusion(r);
  assert.ok(
    lines.some((l) =>
      /Number of LSTM layers: every setting scored the same macro-F1 \(0\.7000\); no winner/.test(l)
    ),
  );
  assert.ok(
    !lines.some((l) => /Unidirectional vs bidirectional/.test(l)),
    "a study with one scored variant has no winner",
  );
  assert.ok(lines.some((l) => /Failed: `c` \(training: boom\)/.test(l)));
  assert.ok(lines.some((l) => /--quick run/.test(l)));
  const table = studyTable(r.studies[1], r);
  assert.match(table, /\| uni \| `c` \| failed at training \|/);
  assert.match(summaryTable(r), /c\s+failed at training/);
  const md = reportMarkdown(r);
  assert.match(md, /!\[Number of LSTM layers\]\(plots\/layers\.svg\)/);
  assert.match(md, /plots\/confusion_b\.svg/);
});

Deno.test("a study's loss chart has a solid train and a dashed validation line per variant", () => {
  const r = results([variant("a", 0.7, 5, 2), variant("b", 0.75, 4, 4), variant("c", 0.7, 3, 1)]);
  const svg = studyLossChart(r.studies[0], r);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 4);
  assert.equal((svg.match(/stroke-dasharray="6 4" points/g) ?? []).length, 2);
  assert.match(svg, />1 train</);
  assert.match(svg, />2 val</);
  assert.equal((svg.match(/class="marker"/g) ?? []).length, 2); // lowest validation loss per variant
});

Deno.test("compareProbs: agreement and max |Δp|, NaN counts as a difference", () => {
  const a = new Float32Array([0.6, 0.4, 0.2, 0.8]);
  assert.deepEqual(compareProbs(a, new Float32Array([0.6, 0.4, 0.2, 0.8]), 2), {
    agreement: 1,
    maxAbsDiff: 0,
  });
  const b = compareProbs(a, new Float32Array([0.4, 0.6, 0.25, 0.75]), 2);
  assert.equal(b.agreement, 0.5);
  assert.ok(Math.abs(b.maxAbsDiff - 0.2) < 1e-6);
  assert.ok(Number.isNaN(compareProbs(a, new Float32Array([NaN, 0.4, 0.2, 0.8]), 2).maxAbsDiff));
  assert.throws(() => compareProbs(a, new Float32Array(2), 2), RangeError);
});

Deno.test("with repeated seeds, studies are ranked by the mean and noise is the seeds' spread", () => {
  const a = variant("a", 0.7, 5, 3), b = variant("b", 0.75, 5, 3), c = variant("c", 0.72, 5, 3);
  const runs = (f1: number[]) =>
    f1.map((m, i) => ({
      seed: 42 + i,
      macroF1: m,
      validationMacroF1: m,
      epochsRun: 5,
      bestEpoch: 3,
      trainSeconds: 1,
      kept: i === 0,
    }));
  Object.assign(a, { runs: runs([0.7, 0.74]), macroF1Mean: 0.72, macroF1Std: 0.02 });
  Object.assign(b, { runs: runs([0.75, 0.69]), macroF1Mean: 0.71, macroF1Std: 0.08 });
  Object.assign(c, { runs: runs([0.72, 0.7]), macroF1Mean: 0.71, macroF1Std: 0.01 });
  const r = results([a, b, c]);
  r.best = { id: "a", macroF1: 0.72 };
  const lines = conclusion(r);
  assert.match(
    lines[0],
    /`a` \(A\) with test mean macro-F1 0\.7200 ± 0\.0200 over 2 seeds \(kept run macro-F1 0\.7000/,
  );
  assert.ok(
    lines.some((l) =>
      /Number of LSTM layers: \*\*1\*\* won with mean macro-F1 0\.7200, ahead of 2 \(0\.7100\); the spread \(0\.0100\) is below the largest seed-to-seed standard deviation \(0\.0800\)/
        .test(l)
    ),
  );
  assert.match(studyTable(r.studies[0], r), /\| \*\*0\.7200 ± 0\.0200 \(2\)\*\* \| 0\.7000 \|/);
  assert.match(summaryTable(r), /mean ± std/);
});
