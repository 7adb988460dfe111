import { buildModel, mixSeed, modelGradients, Tensor } from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { compareWithTfjs, randomSpec } from "../../testing/gradient_check.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

const dense = (name: string, units: number, activation = "linear") => ({
  class_name: "Dense",
  config: { name, units, activation },
});
const sparse = { name: "sparse_categorical_crossentropy" as const };

Deno.test("Dropout (training mode) gradients match TF.js with the same mask", async () => {
  await tfReady();
  const rng = new Rng(121);
  for (const rate of [0.1, 0.5]) {
    const spec = randomSpec(
      [
        dense("a", 13, "relu"),
        { class_name: "Dropout", config: { name: "drop", rate } },
        dense("b", 4, "softmax"),
      ],
      [7],
      rng,
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 7, -2, 2);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
      compareWithTfjs(spec, x, [batch, 7], y, { loss: sparse, seed: 99 + batch });
    }
  }
});

Deno.test("Dropout: masks differ between steps and layers, and are off in evaluate/predict", () => {
  const rng = new Rng(122);
  const spec = randomSpec(
    [
      dense("a", 32, "relu"),
      { class_name: "Dropout", config: { name: "d1", rate: 0.5 } },
      dense("b", 3, "softmax"),
    ],
    [5],
    rng,
  );
  const model = buildModel(spec);
  const x = new Tensor(rng.floats(8 * 5), [8, 5]);
  const y = new Tensor(new Float32Array(8), [8, 1]);
  const g1 = modelGradients(model, x, y, { loss: sparse, seed: 1 }).grads[0].data;
  const g1b = modelGradients(model, x, y, { loss: sparse, seed: 1 }).grads[0].data;
  const g2 = modelGradients(model, x, y, { loss: sparse, seed: 2 }).grads[0].data;
  if (maxAbsDiff(g1, g1b) !== 0) throw new Error("same seed must give the same mask");
  if (maxAbsDiff(g1, g2) === 0) throw new Error("another seed must give another mask");
  if (mixSeed(1, 1) === mixSeed(1, 2) || mixSeed(1, 1) === mixSeed(2, 1)) {
    throw new Error("per-layer seeds collide");
  }
  // Inference: Dropout is the identity.
  const p1 = model.predict(x), p2 = model.predict(x);
  if (maxAbsDiff(p1.data, p2.data) !== 0) throw new Error("predict must be deterministic");
  model.dispose();
});
