import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "@scratchnet/keras-importer";
import { parseExperimentArgs } from "./options.ts";
import { createProgress } from "./progress.ts";
import { runExperiment } from "./run.ts";

async function quickRun(argv: string[]) {
  const out = await Deno.makeTempDir({ prefix: "experiment_seq_test_" });
  const options = parseExperimentArgs([...argv, "--quick", "--out", out, "--force"]);
  return { out, results: await runExperiment(options, createProgress("none")) };
}

Deno.test("cnn1d --quick: trains, round-trips .keras, engine = TF.js, report names the family", async () => {
  const { out, results } = await quickRun([
    "cnn1d",
    "--variants",
    "cnn1d_l1_f64_k5,cnn1d_l2_f64_k5",
    "--train-size",
    "48",
    "--epochs",
    "1",
    "--spatial-dropout",
    "0.2",
    "--weight-decay",
    "0.01",
  ]);
  try {
    assert.deepEqual(results.variants.map((v) => v.id), ["cnn1d_l1_f64_k5", "cnn1d_l2_f64_k5"]);
    for (const v of results.variants) {
      assert.equal(v.error, undefined, JSON.stringify(v.error));
      assert.equal(v.reference!.path, "tfjs-cpu");
      assert.equal(v.agreement, 1);
      assert.ok(v.maxAbsDiff! <= 1e-5, `${v.id} |Δp| ${v.maxAbsDiff}`);
    }
    assert.equal(results.settings.weightDecay, 0.01);
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /AdamW \(weight decay 0\.01\)/);
    assert.match(report, /SpatialDropout1D 0\.2 \(no mask: Conv1D takes none\)/);
    const { model } = await loadModel(join(out, "models", "cnn1d_l2_f64_k5.keras"));
    assert.ok(model!.layers.some((l) => l.className === "SpatialDropout1D"));
    model!.dispose();
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("transformer --quick: two inputs, .keras round trip, engine = float64 graph reference", async () => {
  const { out, results } = await quickRun([
    "transformer",
    "--variants",
    "transformer_b1_d64_h4",
    "--train-size",
    "48",
    "--epochs",
    "1",
    "--trainer",
    "tfjs",
  ]);
  try {
    const [v] = results.variants;
    assert.equal(v.error, undefined, JSON.stringify(v.error));
    // TF.js has no MultiHeadAttention: the engine trained it and the host reference checked it.
    assert.equal(v.trainer, "engine");
    assert.match(v.trainerNote ?? "", /MultiHeadAttention/);
    assert.equal(v.reference!.path, "host-reference");
    assert.equal(v.agreement, 1);
    assert.ok(v.maxAbsDiff! <= 1e-5, `|Δp| ${v.maxAbsDiff}`);
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /no MultiHeadAttention, so the engine is compared with a float64 forward/);
    const { model } = await loadModel(join(out, "models", `${v.id}.keras`));
    assert.deepEqual(model!.inputNames, ["tokens", "positions"]);
    assert.equal(model!.countParams(), v.params);
    model!.dispose();
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
