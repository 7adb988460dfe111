import assert from "node:assert/strict";
import { buildModel, type KerasObject, SeededRandom, Tensor } from "@scratchnet/engine";
import { graphHostReference } from "./graph_reference.ts";
import { inputsFor, positionIds, predictProbs } from "./model_inputs.ts";
import {
  CNN1D_BASELINE,
  cnn1dConfig,
  cnn1dGrid,
  POSITIONS_INPUT,
  TRANSFORMER_BASELINE,
  transformerConfig,
  transformerGrid,
} from "./sequence_models.ts";
import type { Grid } from "./grid.ts";

const shape = { vocabSize: 50, sequenceLength: 12, embeddingDim: 16, classes: 3, dropout: 0.5 };

/** Every study's variants differ from the baseline in the studied field alone. */
function assertOneFactor<H extends object>(
  grid: Grid<H>,
  base: H,
  fieldOf: Record<string, keyof H>,
) {
  const byId = new Map(grid.variants.map((v) => [v.id, v.hyper]));
  for (const study of grid.studies) {
    const field = fieldOf[study.name];
    assert.ok(field, `unknown study ${study.name}`);
    assert.equal(study.entries.length, 3, study.name);
    for (const e of study.entries) {
      const h = byId.get(e.variant)!;
      for (const k of Object.keys(base) as (keyof H)[]) {
        if (k !== field) assert.deepEqual(h[k], base[k], `${e.variant}: ${String(k)} changed`);
      }
      assert.equal(String(h[field]), e.value);
    }
  }
  // The baseline is shared by the studies, so it is trained once.
  assert.equal(grid.variants.length, 1 + 2 * grid.studies.length);
}

Deno.test("cnn1d and transformer grids: one factor at a time around a shared baseline", () => {
  assertOneFactor(cnn1dGrid(), CNN1D_BASELINE, {
    layers: "convLayers",
    filters: "filters",
    kernels: "kernelSize",
  });
  assertOneFactor(transformerGrid(), TRANSFORMER_BASELINE, {
    layers: "blocks",
    heads: "heads",
    width: "width",
  });
  assert.equal(new Set(transformerGrid().variants.map((v) => v.id)).size, 7);
});

Deno.test("cnn1d config: builds in the engine with Keras's parameter count, spatial dropout optional", () => {
  const h = { convLayers: 2, filters: 8, kernelSize: 3 };
  const { vocabSize: v, embeddingDim: e, classes: c, sequenceLength: len } = shape;
  const want = v * e + (3 * e * 8 + 8) + (3 * 8 * 8 + 8) + (8 * c + c);
  for (const spatialDropout of [0, 0.2]) {
    const model = buildModel(
      { config: cnn1dConfig(h, { ...shape, spatialDropout }), weights: {} },
      {
        initialize: { seed: 1 },
      },
    );
    assert.equal(model.countParams(), want);
    const names = model.layers.map((l) => l.className);
    assert.equal(names.includes("SpatialDropout1D"), spatialDropout > 0);
    const ids = Int32Array.from({ length: 2 * len }, (_, i) => (i * 7) % v);
    const p = predictProbs(model, new Tensor(ids, [2, len]));
    assert.equal(p.length, 2 * c);
    assert.ok(Math.abs(p[0] + p[1] + p[2] - 1) < 1e-5);
    model.dispose();
  }
});

/** A small transformer with random weights (biases and norms too, so every term counts). */
function randomTransformer(config: KerasObject, seed: number) {
  const probe = buildModel({ config, weights: {} }, { initialize: { seed } });
  const rng = new SeededRandom(seed);
  const weights: Record<string, { name: string; shape: number[]; data: Float32Array }[]> = {};
  for (const l of probe.layers) {
    const w = l.getWeights();
    if (!w.length) continue;
    weights[l.name] = w.map((t) => ({
      ...t,
      data: Float32Array.from(t.data, () => rng.uniform(-0.5, 0.5)),
    }));
  }
  probe.dispose();
  return buildModel({ config, weights });
}

Deno.test("transformer: engine vs the float64 graph reference with padding masks (2 blocks, 2 heads)", () => {
  const h = { blocks: 2, width: 8, heads: 2 };
  const config = transformerConfig(h, { ...shape, spatialDropout: 0.1 });
  const model = randomTransformer(config, 3);
  assert.deepEqual(model.inputNames, ["tokens", POSITIONS_INPUT]);
  const n = 9, len = shape.sequenceLength;
  const rng = new SeededRandom(4);
  const ids = new Int32Array(n * len);
  for (let i = 0; i < n; i++) {
    const real = 1 + (i * 5) % len; // 1 … len real tokens, then padding 0
    for (let t = 0; t < real; t++) {
      ids[i * len + t] = 1 + Math.floor(rng.uniform(0, shape.vocabSize - 1));
    }
  }
  const x = new Tensor(ids, [n, len]);
  const engine = predictProbs(model, x);
  const reference = graphHostReference(
    { config, weights: Object.fromEntries(model.layers.map((l) => [l.name, l.getWeights()])) },
    x,
    4,
  );
  assert.equal(reference.length, n * shape.classes);
  let worst = 0;
  engine.forEach((p, i) => (worst = Math.max(worst, Math.abs(p - reference[i]))));
  assert.ok(worst <= 1e-5, `max |Δp| ${worst}`);
  // The padding mask matters: without it (the same weights, mask_zero off) the answers change.
  const unmasked = structuredClone(config);
  const layers = (unmasked.config as { layers: { config: Record<string, unknown> }[] }).layers;
  layers.find((l) => l.config.name === "token_embedding")!.config.mask_zero = false;
  const noMask = graphHostReference({
    config: unmasked,
    weights: Object.fromEntries(model.layers.map((l) => [l.name, l.getWeights()])),
  }, x);
  let moved = 0;
  noMask.forEach((p, i) => (moved = Math.max(moved, Math.abs(p - reference[i]))));
  assert.ok(moved > 1e-3, `masking changed nothing (${moved})`);
  model.dispose();
});

Deno.test("model inputs: positions 1…len at real tokens, 0 at padding, for a `positions` input", () => {
  const x = new Tensor(new Int32Array([5, 9, 0, 7, 0, 0]), [2, 3]);
  assert.deepEqual(Array.from(positionIds(x).data), [1, 2, 0, 1, 0, 0]);
  const [a, b] = inputsFor(["tokens", POSITIONS_INPUT], x);
  assert.equal(a, x);
  assert.deepEqual(b.shape, [2, 3]);
  assert.throws(() => inputsFor(["tokens", "mask"], x), /no data for the model's input "mask"/);
});

Deno.test("graph reference refuses layers it does not know, by class name", () => {
  const config = transformerConfig({ blocks: 1, width: 4, heads: 1 }, shape);
  const layers = (config.config as { layers: { class_name: string }[] }).layers;
  layers.find((l) => l.class_name === "GlobalAveragePooling1D")!.class_name = "GlobalMaxPooling1D";
  const x = new Tensor(new Int32Array(shape.sequenceLength).fill(1), [1, shape.sequenceLength]);
  assert.throws(
    () => graphHostReference({ config, weights: {} }, x),
    /layer class GlobalMaxPooling1D is not supported/,
  );
});
