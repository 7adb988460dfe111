import { buildModel, modelGradients, Tensor } from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { compareWithTfjs } from "../../testing/gradient_check.ts";
import { textModelSpec } from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

const TIME = 6, VOCAB = 13, DIM = 5, CLASSES = 3;
const SCE = { name: "sparse_categorical_crossentropy" as const };

function flattenDenseSpec(rng: Rng, dtype: "int32" | "float32") {
  return textModelSpec(
    rng,
    { time: TIME, vocab: VOCAB, embeddingDim: DIM, maskZero: false, dtype },
    [
      { class_name: "Flatten", config: { name: "flatten" } },
      { class_name: "Dense", config: { name: "head", units: CLASSES, activation: "softmax" } },
    ],
  );
}

Deno.test("Embedding table gradient matches TF.js (repeated ids, int32 and float32 ids, batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(901);
  for (const dtype of ["int32", "float32"] as const) {
    const spec = flattenDenseSpec(rng, dtype);
    for (const batch of [1, 17]) {
      // Ids from a small range so rows repeat within and across samples; id 0 included.
      const raw = Int32Array.from({ length: batch * TIME }, () => rng.int(0, 6));
      const ids = dtype === "int32" ? raw : Float32Array.from(raw);
      const labels = Float32Array.from({ length: batch }, () => rng.int(0, CLASSES));
      compareWithTfjs(spec, ids, [batch, TIME], labels, { loss: SCE });
    }
  }
});

Deno.test("Embedding gradient rows of ids not in the batch are zero; a frozen table gets none", () => {
  const rng = new Rng(902);
  const spec = flattenDenseSpec(rng, "int32");
  const ids = Int32Array.from({ length: 4 * TIME }, () => rng.int(2, 5));
  const labels = new Tensor(Float32Array.from([0, 1, 2, 1]), [4, 1]);
  const model = buildModel(spec);
  try {
    const { grads } = modelGradients(model, new Tensor(ids, [4, TIME]), labels, { loss: SCE });
    const table = grads.find((g) => g.name === "embedding/embeddings")!;
    for (let row = 0; row < VOCAB; row++) {
      const used = row >= 2 && row < 5;
      const nonzero = table.data.subarray(row * DIM, (row + 1) * DIM).some((v) => v !== 0);
      if (used !== nonzero) {
        throw new Error(`row ${row}: used ${used}, non-zero gradient ${nonzero}`);
      }
    }
  } finally {
    model.dispose();
  }
  const layers = (spec.config.config as { layers: { config: Record<string, unknown> }[] }).layers;
  layers[1].config.trainable = false;
  const frozen = buildModel(spec);
  try {
    const { grads } = modelGradients(frozen, new Tensor(ids, [4, TIME]), labels, { loss: SCE });
    if (grads.some((g) => g.name.startsWith("embedding/"))) {
      throw new Error("a frozen Embedding produced a gradient");
    }
    if (grads.length !== 2) throw new Error(`expected the head's 2 gradients, got ${grads.length}`);
  } finally {
    frozen.dispose();
  }
});
