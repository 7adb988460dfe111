import { Rng } from "../../testing/random.ts";
import { compareWithTfjs, randomSpec } from "../../testing/gradient_check.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("Flatten and Reshape pass gradients through (vs TF.js)", async () => {
  await tfReady();
  const rng = new Rng(131);
  const spec = randomSpec(
    [
      { class_name: "Dense", config: { name: "a", units: 6, activation: "tanh" } },
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Reshape", config: { name: "reshape", target_shape: [4, 3] } },
      { class_name: "Dense", config: { name: "b", units: 5, activation: "relu" } },
      { class_name: "Flatten", config: { name: "flat2" } },
      { class_name: "Dense", config: { name: "c", units: 3, activation: "softmax" } },
    ],
    [2, 5],
    rng,
  );
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * 10, -2, 2);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    compareWithTfjs(spec, x, [batch, 2, 5], y, {
      loss: { name: "sparse_categorical_crossentropy" },
    });
  }
});
