import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { cnnGrid, rnnGrid, selectGrid } from "./grid.ts";

Deno.test("CNN grid: 3 layer counts, 3 filter and 3 kernel combinations, max vs average", () => {
  const g = cnnGrid();
  assert.deepEqual(g.studies.map((s) => [s.name, s.entries.length]), [
    ["layers", 3],
    ["filters", 3],
    ["kernels", 3],
    ["pooling", 2],
  ]);
  // The baseline appears in every study and is trained once: 1 + 2 + 2 + 2 + 1.
  assert.equal(g.variants.length, 8);
  assert.equal(new Set(g.variants.map((v) => v.id)).size, 8);
  for (const v of g.variants) {
    assert.equal(v.hyper.filters.length, v.hyper.convLayers);
    assert.equal(v.hyper.kernelSizes.length, v.hyper.convLayers);
  }
  const pooling = g.studies[3].entries.map((e) => g.variants.find((v) => v.id === e.variant)!);
  assert.deepEqual(pooling.map((v) => v.hyper.pooling), ["max", "average"]);
});

Deno.test("recurrent grids: 3 layer counts, 3 unit combinations, uni vs bidirectional", () => {
  for (const family of ["rnn", "lstm", "gru"] as const) {
    const g = rnnGrid(family);
    assert.deepEqual(g.studies.map((s) => s.entries.length), [3, 3, 2]);
    assert.equal(g.variants.length, 6);
    const layers = g.studies[0].entries.map((e) =>
      g.variants.find((v) => v.id === e.variant)!.hyper.units.length
    );
    assert.deepEqual(layers, [1, 2, 3]);
  }
  assert.equal(rnnGrid("lstm").variants[0].label, "BiLSTM 64");
  assert.ok(rnnGrid("gru").variants.some((v) => v.id === "gru_64-64" && v.label === "GRU 64-64"));
});

Deno.test("selectGrid keeps the named studies and variants, refuses unknown names", () => {
  const g = rnnGrid("lstm");
  const direction = selectGrid(g, ["direction"], []);
  assert.deepEqual(direction.variants.map((v) => v.id), ["bilstm_64-64", "lstm_64-64"]);
  const one = selectGrid(g, [], ["lstm_64-64"]);
  assert.deepEqual(one.studies.map((s) => s.name), ["direction"]);
  assert.deepEqual(one.variants.map((v) => v.id), ["lstm_64-64"]);
  assert.throws(() => selectGrid(g, ["pooling"], []), UsageError);
  assert.throws(() => selectGrid(g, [], ["bilstm_7"]), UsageError);
});
