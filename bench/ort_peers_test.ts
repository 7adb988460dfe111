/**
 * The bench's ONNX Runtime peers run the engine's model: every column (ORT-web in workers at 1
 * and 2 threads, onnxruntime-node at 1 and 2) predicts what the engine predicts, and a timed round
 * returns at least the calls asked for.
 */
import assert from "node:assert/strict";
import { buildModel, Tensor } from "../packages/engine/mod.ts";
import { seedsCnnSpec, seedsTextSpec } from "../packages/engine/testing/seeds_models.ts";
import { maxAbsDiff, Rng } from "../packages/engine/testing/random.ts";
import { randomIdBatch } from "../packages/engine/testing/seeds_models.ts";
import { ORT_PEERS, ortPeers } from "./ort_peers.ts";

Deno.test("bench ORT peers: each column predicts the engine's outputs and times calls", async () => {
  const cnn = buildModel(seedsCnnSpec({ filters: [4], imageSize: 8, classes: 3, seed: 4 }));
  const text = buildModel(
    seedsTextSpec({ vocabSize: 40, embeddingDim: 4, units: [3], sequenceLength: 9, seed: 2 }),
  );
  const inputs = [
    new Tensor(new Rng(1).floats(2 * 8 * 8 * 3, 0, 1), [2, 8, 8, 3]),
    new Tensor(randomIdBatch(new Rng(2), 3, 9, 40), [3, 9]),
  ];
  try {
    for (const [k, model] of [cnn, text].entries()) {
      const x = inputs[k];
      const peers = await ortPeers(model);
      try {
        assert.deepEqual(peers.map((p) => p.name), [...ORT_PEERS]);
        const expected = model.predict(x).data;
        for (const peer of peers) {
          const y = await peer.predict(x);
          assert.ok(maxAbsDiff(y, expected) <= 1e-5, `${peer.name}: ${maxAbsDiff(y, expected)}`);
          const samples = await peer.sample(x, 1, 3, 3);
          assert.equal(samples.length, 3);
          assert.ok(samples.every((ms) => ms > 0 && Number.isFinite(ms)));
        }
      } finally {
        for (const p of peers) await p.dispose();
      }
    }
  } finally {
    cnn.dispose();
    text.dispose();
  }
});
