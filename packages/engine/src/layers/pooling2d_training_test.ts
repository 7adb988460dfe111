import { Rng } from "../../testing/random.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
} from "../../testing/gradient_check.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

const sparse = { name: "sparse_categorical_crossentropy" as const };
const head = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
];
const conv = (activation: string) => ({
  class_name: "Conv2D",
  config: { name: "conv", filters: 5, kernel_size: [3, 3], padding: "same", activation },
});

Deno.test("MaxPooling2D / AveragePooling2D gradients match TF.js: valid/same, strides, overlap", async () => {
  await tfReady();
  const rng = new Rng(801);
  const pools: Record<string, unknown>[] = [
    { pool_size: [2, 2] },
    { pool_size: [3, 3], strides: [2, 2] }, // overlapping windows
    { pool_size: [2, 3], strides: [1, 2] },
    { pool_size: [3, 2], strides: [3, 1] },
  ];
  for (const cls of ["MaxPooling2D", "AveragePooling2D"]) {
    for (const padding of ["valid", "same"]) {
      for (const pool of pools) {
        const spec = randomSpec(
          [conv("tanh"), { class_name: cls, config: { name: "pool", padding, ...pool } }, ...head],
          [7, 9, 2],
          rng,
        );
        for (const batch of [1, 17]) {
          const x = rng.floats(batch * 126, -1.5, 1.5);
          const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
          try {
            // TF.js's avgPool gradient divides padded windows by the full window size (its
            // forward and TF divide by the real cells): the kernel test checks that case against
            // TF.js ops; here the model is checked by finite differences instead.
            if (cls === "AveragePooling2D" && padding === "same") {
              compareWithFiniteDifferences(spec, x, [batch, 7, 9, 2], y, sparse, { samples: 4 });
            } else compareWithTfjs(spec, x, [batch, 7, 9, 2], y, { loss: sparse });
          } catch (e) {
            throw new Error(`${cls} ${padding} ${JSON.stringify(pool)} batch ${batch}: ${e}`);
          }
        }
      }
    }
  }
});

Deno.test("MaxPooling2D routes tied maxima like TF.js (constant conv output, all cells tie)", async () => {
  await tfReady();
  const rng = new Rng(802);
  for (const padding of ["valid", "same"]) {
    const spec = randomSpec(
      [
        conv("linear"),
        {
          class_name: "MaxPooling2D",
          config: { name: "pool", pool_size: [3, 3], strides: [2, 2], padding },
        },
        ...head,
      ],
      [7, 8, 2],
      rng,
    );
    // A zero kernel makes every pixel of a channel equal its bias: each window is one big tie,
    // and the kernel gradient Σ x ⊗ dZ shows which cell received the gradient.
    spec.weights.conv[0].data.fill(0);
    const x = rng.floats(4 * 112, -1, 1);
    const y = Float32Array.from({ length: 4 }, () => rng.int(0, 3));
    compareWithTfjs(spec, x, [4, 7, 8, 2], y, { loss: sparse });
  }
});
