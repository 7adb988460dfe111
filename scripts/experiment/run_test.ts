import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadModel } from "@scratchnet/keras-importer";
import { OutputExistsError } from "./errors.ts";
import { parseExperimentArgs } from "./options.ts";
import { createProgress } from "./progress.ts";
import type { ExperimentResults } from "./results.ts";
import { checkOutputDir, runExperiment } from "./run.ts";

const silent = createProgress("none");

async function quickRun(argv: string[]): Promise<{ out: string; results: ExperimentResults }> {
  const out = await Deno.makeTempDir({ prefix: "experiment_test_" });
  const options = parseExperimentArgs([...argv, "--quick", "--out", out, "--force"]);
  const results = await runExperiment(options, silent);
  return { out, results };
}

function assertScored(results: ExperimentResults, referencePath: string) {
  for (const v of results.variants) {
    assert.equal(v.error, undefined, `${v.id}: ${JSON.stringify(v.error)}`);
    assert.equal(v.reference!.path, referencePath);
    // The reloaded .keras through the engine predicts what the reference predicts.
    assert.equal(v.agreement, 1, `${v.id} agreement`);
    assert.ok(v.maxAbsDiff! <= 1e-5, `${v.id} max |Δp| ${v.maxAbsDiff}`);
    assert.equal(v.engine!.macroF1, v.reference!.macroF1);
    assert.ok(v.engine!.macroF1 >= 0 && v.engine!.macroF1 <= 1);
    assert.equal(v.history!.loss.length, v.epochsRun);
    assert.equal(v.history!.val_loss.length, v.epochsRun);
    assert.ok(v.history!.loss.every(Number.isFinite));
    const cm = v.engine!.confusionMatrix;
    assert.equal(cm.flat().reduce((a, b) => a + b, 0), results.dataset.test);
  }
}

Deno.test("lstm --quick end to end: train, .keras round trip, engine = TF.js, report", async () => {
  const { out, results } = await quickRun([
    "lstm",
    "--variants",
    "bilstm_64,lstm_64-64",
    "--train-size",
    "64",
    "--epochs",
    "2",
  ]);
  assert.deepEqual(results.variants.map((v) => v.id), ["bilstm_64", "lstm_64-64"]);
  assertScored(results, "tfjs-cpu");
  assert.equal(results.dataset.train, 64);
  // What was written: results.json (same numbers), report, plots per study, models, vocabulary.
  const written = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
  assert.equal(written.schemaVersion, 1);
  assert.deepEqual(written.variants.map((v: { id: string }) => v.id), ["bilstm_64", "lstm_64-64"]);
  assert.equal(written.best.id, results.best!.id);
  for (const f of ["plots/layers.svg", "plots/direction.svg", "vocabulary.txt"]) {
    assert.ok(existsSync(join(out, f)), f);
  }
  assert.ok(existsSync(join(out, "plots", `confusion_${results.best!.id}.svg`)));
  const report = await Deno.readTextFile(join(out, "report.md"));
  assert.match(report, /## Conclusion/);
  assert.match(report, /\| 1 \| `bilstm_64` \|/);
  assert.match(report, /\| unidirectional \| `lstm_64-64` \|/);
  assert.match(report, /argmax agrees on \d+ of \d+ test predictions over 2 models/);
  const svg = await Deno.readTextFile(join(out, "plots", "direction.svg"));
  assert.equal((svg.match(/<polyline/g) ?? []).length, 2); // train + val of lstm_64-64
  // The saved file loads on its own and is the trained model.
  const { model } = await loadModel(join(out, "models", "lstm_64-64.keras"));
  assert.equal(model!.countParams(), results.variants[1].params);
  model!.dispose();
  // A second run into the same folder is refused without --force.
  assert.throws(() => checkOutputDir(out, false), OutputExistsError);
  await Deno.remove(out, { recursive: true });
});

Deno.test("gru --quick --repeats 2: reset_after=true is checked against the host reference", async () => {
  const { out, results } = await quickRun([
    "gru",
    "--variants",
    "bigru_64",
    "--train-size",
    "48",
    "--epochs",
    "1",
    "--repeats",
    "2",
  ]);
  assertScored(results, "host-reference");
  // Two seeds trained and scored; the kept one (best validation macro-F1) is the one reloaded.
  const v = results.variants[0];
  assert.deepEqual(v.runs!.map((r) => r.seed), [42, 43]);
  assert.equal(v.runs!.filter((r) => r.kept).length, 1);
  const kept = v.runs!.find((r) => r.kept)!;
  assert.equal(kept.macroF1, v.engine!.macroF1);
  assert.equal(kept.validationMacroF1, v.validationMacroF1);
  assert.ok(Math.abs(v.macroF1Mean! - (v.runs![0].macroF1 + v.runs![1].macroF1) / 2) < 1e-12);
  await Deno.remove(out, { recursive: true });
});

Deno.test("cnn --quick on MNIST: engine training, TF.js reference", async () => {
  const { out, results } = await quickRun([
    "cnn",
    "--dataset",
    "mnist",
    "--variants",
    "conv1_f16_k3_max",
    "--train-size",
    "256",
  ]);
  assert.deepEqual(results.dataset.inputShape, [28, 28, 1]);
  assertScored(results, "tfjs-cpu");
  await Deno.remove(out, { recursive: true });
});

Deno.test("the CLI exits 2 on bad arguments or existing results, 1 on missing data", async () => {
  const cli = new URL("../experiment.ts", import.meta.url).pathname;
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const bad = await run("lstm", "--epochs", "zero");
  assert.equal(bad.code, 2);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /--epochs: expected an integer ≥ 1, got "zero"/,
  );
  const out = await Deno.makeTempDir({ prefix: "experiment_cli_" });
  const missing = await run(
    "cnn",
    "--dataset",
    "mnist",
    "--data-dir",
    join(out, "none"),
    "--out",
    out,
  );
  assert.equal(missing.code, 1);
  assert.match(
    new TextDecoder().decode(missing.stderr),
    /DatasetNotFoundError: .*\n[^]*--data-dir DIR/,
  );
  await Deno.writeTextFile(join(out, "results.json"), "{}");
  const exists = await run("lstm", "--quick", "--out", out);
  assert.equal(exists.code, 2);
  assert.match(new TextDecoder().decode(exists.stderr), /pass --force/);
  assert.equal(await Deno.readTextFile(join(out, "results.json")), "{}");
  await Deno.remove(out, { recursive: true });
});
