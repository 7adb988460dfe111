import { Rng } from "../../testing/random.ts";
import { compareWithTfjs, randomSpec } from "../../testing/gradient_check.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("GlobalMax/GlobalAveragePooling2D gradients match TF.js, with and without keepdims", async () => {
  await tfReady();
  const rng = new Rng(811);
  for (const cls of ["GlobalMaxPooling2D", "GlobalAveragePooling2D"]) {
    for (const keepdims of [false, true]) {
      const spec = randomSpec(
        [
          {
            class_name: "Conv2D",
            config: { name: "conv", filters: 6, kernel_size: [3, 3], activation: "tanh" },
          },
          { class_name: cls, config: { name: "pool", keepdims } },
          // With keepdims the Dense acts on [1, 1, 6] per sample: the same loss rows as TF.js's
          // [6] (TF.js has no keepdims).
          { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
        ],
        [6, 5, 3],
        rng,
      );
      for (const batch of [1, 17]) {
        const x = rng.floats(batch * 90, -1.5, 1.5);
        const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
        compareWithTfjs(spec, x, [batch, 6, 5, 3], y, {
          loss: { name: "sparse_categorical_crossentropy" },
        });
      }
    }
  }
});
