import {
  buildModel,
  InputShapeError,
  LayerConfigError,
  Tensor,
  WeightShapeError,
} from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import {
  expectTextModelMatchesTfjs,
  postPaddedIds,
  predictOnce,
  textModelSpec,
} from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("Embedding matches TF.js for int32 and float32 ids, odd sizes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(71);
  for (const [time, vocab, dim] of [[1, 2, 1], [7, 13, 5], [19, 301, 9], [100, 3000, 64]]) {
    for (const dtype of ["int32", "float32"] as const) {
      const spec = textModelSpec(rng, { time, vocab, embeddingDim: dim, dtype }, []);
      for (const batch of [1, 17]) {
        const ids = postPaddedIds(rng, batch, time, vocab, { emptyRow: true });
        const input = dtype === "int32" ? ids : Float32Array.from(ids);
        const d = expectTextModelMatchesTfjs(spec, input, time, `${dtype} ${time}x${vocab}x${dim}`);
        if (d !== 0) throw new Error(`a gather should be exact, got ${d}`);
      }
    }
  }
});

Deno.test("mask_zero flows through Dropout into an LSTM (vs TF.js)", async () => {
  await tfReady();
  const rng = new Rng(72);
  const spec = textModelSpec(rng, { time: 12, vocab: 40, embeddingDim: 6 }, [
    { class_name: "Dropout", config: { name: "drop", rate: 0.4 } },
    { class_name: "LSTM", config: { name: "lstm", units: 5 } },
  ]);
  const ids = postPaddedIds(rng, 17, 12, 40, { emptyRow: true });
  expectTextModelMatchesTfjs(spec, ids, 12, "embedding → dropout → lstm");
  // The mask matters: the same ids without mask_zero give another answer.
  const noMask = structuredClone(spec);
  (noMask.config.config as { layers: { config: Record<string, unknown> }[] }).layers[1].config
    .mask_zero = false;
  const a = predictOnce(spec, ids, [17, 12]), b = predictOnce(noMask, ids, [17, 12]);
  if (a.every((v, i) => v === b[i])) throw new Error("mask_zero had no effect");
});

Deno.test("an id outside [0, input_dim) or not an integer is a typed error naming layer, id and range", () => {
  const rng = new Rng(73);
  for (const dtype of ["int32", "float32"] as const) {
    const model = buildModel(
      textModelSpec(rng, { time: 4, vocab: 37, embeddingDim: 3, dtype }, []),
    );
    const bad: [number[], string][] = [
      [[1, 2, 37, 0], "id 37"],
      [[-1, 0, 0, 0], "id -1"],
      [[5, 3000, 1, 1], "id 3000"],
    ];
    if (dtype === "float32") bad.push([[1, 2.5, 0, 0], "id 2.5"]);
    for (const [row, idText] of bad) {
      const ids = dtype === "int32"
        ? Int32Array.from([0, 0, 0, 0, ...row])
        : Float32Array.from([0, 0, 0, 0, ...row]);
      expectThrows(
        () => model.predict(new Tensor(ids, [2, 4])),
        InputShapeError,
        `layer "embedding"`,
        idText,
        "[0, 37)",
      );
    }
    // The failed calls freed what they allocated: a good batch still runs.
    model.predict(
      new Tensor(
        dtype === "int32" ? Int32Array.from([1, 2, 0, 0]) : Float32Array.from([1, 2, 0, 0]),
        [1, 4],
      ),
    );
    model.dispose();
  }
});

Deno.test("Embedding config and weight errors name the layer and the shapes", () => {
  const rng = new Rng(74);
  const spec = textModelSpec(rng, { time: 4, vocab: 10, embeddingDim: 3 }, []);
  const wrong = {
    ...spec,
    weights: { embedding: [{ name: "embeddings", shape: [11, 3], data: new Float32Array(33) }] },
  };
  expectThrows(
    () => buildModel(wrong),
    WeightShapeError,
    "embedding",
    "embeddings",
    "[10, 3]",
    "[11, 3]",
  );
  const rank2 = structuredClone(spec);
  (rank2.config.config as { layers: { config: Record<string, unknown> }[] }).layers[0].config
    .batch_shape = [null, 4, 2];
  expectThrows(() => buildModel(rank2), InputShapeError, "embedding", "(None, 4, 2)");
  const lora = structuredClone(spec);
  (lora.config.config as { layers: { config: Record<string, unknown> }[] }).layers[1].config
    .lora_rank = 4;
  expectThrows(() => buildModel(lora), LayerConfigError, "embedding", "lora_rank");
});
