import assert from "node:assert/strict";
import { Tensor } from "@scratchnet/engine";
import { maxAbsDiff, Rng } from "../../packages/engine/testing/random.ts";
import type { LabelledSplit } from "./data.ts";
import { cnn1dConfig } from "./sequence_models.ts";
import { initialSpec, type TrainSettings, trainWithEngine, trainWithTfjs } from "./train.ts";

function split(rng: Rng, n: number): LabelledSplit {
  const ids = Int32Array.from({ length: n * 10 }, () => rng.int(1, 30));
  const y = Int32Array.from({ length: n }, (_, i) => ids[i * 10] % 3);
  return { x: new Tensor(ids, [n, 10]), y };
}

const shape = { vocabSize: 30, sequenceLength: 10, embeddingDim: 4, classes: 3, dropout: 0 };
const base: TrainSettings = {
  epochs: 1,
  batchSize: 8,
  learningRate: 0.01,
  clipnorm: null,
  reduceLrOnPlateau: null,
  earlyStopping: null,
  seed: 5,
};

Deno.test("--weight-decay: the engine's AdamW and the TF.js trainer take the same steps, unlike Adam", async () => {
  const rng = new Rng(8);
  const train = split(rng, 32), validation = split(rng, 8);
  const config = cnn1dConfig({ convLayers: 2, filters: 4, kernelSize: 3 }, shape);
  const decayed = { ...base, weightDecay: 0.5 }; // large, so the decay is far above float noise
  const engine = await trainWithEngine(config, train, validation, decayed);
  const tfjs = await trainWithTfjs(config, train, validation, decayed);
  const adam = await trainWithEngine(config, train, validation, base);
  assert.equal(tfjs.trainer, "tfjs");
  const start = initialSpec(config, base.seed).spec;
  for (const [layer, weights] of Object.entries(start.weights)) {
    weights.forEach((w, i) => {
      const e = engine.spec.weights[layer][i].data, t = tfjs.spec.weights[layer][i].data;
      const a = adam.spec.weights[layer][i].data;
      assert.ok(maxAbsDiff(e, t) <= 1e-4, `${layer}/${w.name}: AdamW vs TF.js ${maxAbsDiff(e, t)}`);
      // Decay shrinks every weight by lr·wd = 0.5 % per step: non-zero weights end elsewhere.
      if (w.data.some((v) => v !== 0)) {
        assert.ok(maxAbsDiff(e, a) > 1e-4, `${layer}/${w.name}: decay changed nothing`);
      }
    });
  }
});
