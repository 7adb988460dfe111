import assert from "node:assert/strict";
import { demoArgs } from "../demo.ts";
import { experimentGrid } from "./run.ts";
import { parseExperimentArgs } from "./options.ts";

Deno.test("the demo trains three LSTM variants (1 and 2 BiLSTM layers, 2 LSTM layers)", () => {
  const o = parseExperimentArgs(demoArgs([]));
  assert.equal(o.family, "lstm");
  assert.equal(o.force, true);
  assert.equal(o.out, "experiments/demo");
  const grid = experimentGrid(o);
  assert.deepEqual(grid.variants.map((v) => v.id), ["bilstm_64", "bilstm_64-64", "lstm_64-64"]);
  assert.deepEqual(grid.studies.map((s) => [s.name, s.entries.length]), [
    ["layers", 2],
    ["direction", 2],
  ]);
});

Deno.test("the demo's defaults give way to the user's flags", () => {
  const o = parseExperimentArgs(demoArgs(["--out=/tmp/d", "--quick", "--language", "javanese"]));
  assert.equal(o.out, "/tmp/d");
  assert.equal(o.quick, true);
  assert.equal(o.language, "javanese");
});
