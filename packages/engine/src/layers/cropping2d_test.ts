import { buildModel, InputShapeError, LayerConfigError, UnsupportedLayerError } from "../../mod.ts";
import { expectMatchesTfjs, sequentialSpec } from "../../testing/cnn_cases.ts";
import { compareWithTfjs, randomSpec } from "../../testing/gradient_check.ts";
import { Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

/** Every form of `cropping`: an int, (h, w) and ((top, bottom), (left, right)), incl. none. */
const CROPPINGS: unknown[] = [
  1,
  0,
  [1, 2],
  [0, 3],
  [[1, 0], [0, 2]],
  [[0, 2], [3, 1]],
  [[2, 2], [1, 1]],
];

Deno.test("Cropping2D matches TF.js: every cropping form, odd shapes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1541);
  let worst = 0;
  for (const cropping of CROPPINGS) {
    for (const [h, w, c] of [[7, 9, 3], [5, 8, 1], [6, 7, 5]]) {
      const spec = sequentialSpec([h, w, c], [{ class_name: "Cropping2D", config: { cropping } }]);
      const what = `Cropping2D ${JSON.stringify(cropping)} ${h}×${w}×${c}`;
      worst = Math.max(worst, expectMatchesTfjs(spec, [[1, h, w, c], [17, h, w, c]], rng, what));
    }
  }
  if (worst !== 0) throw new Error(`a crop is a copy, yet |Δ| = ${worst}`);
});

Deno.test("Cropping2D gradients match TF.js, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1542);
  const sparse = { name: "sparse_categorical_crossentropy" as const };
  let worst = 0;
  for (const cropping of CROPPINGS) {
    const spec = randomSpec(
      [
        {
          class_name: "Conv2D",
          config: {
            name: "first",
            filters: 3,
            kernel_size: 3,
            padding: "same",
            activation: "tanh",
          },
        },
        { class_name: "Cropping2D", config: { name: "crop", cropping } },
        { class_name: "Flatten", config: { name: "flat" } },
        { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
      ],
      [6, 7, 2],
      rng,
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 84, -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
      worst = Math.max(worst, compareWithTfjs(spec, x, [batch, 6, 7, 2], y, { loss: sparse }));
    }
  }
  console.log(`Cropping2D gradients vs TF.js: max relative error ${worst.toExponential(2)}`);
});

Deno.test("Cropping2D refuses malformed croppings, crops that leave nothing and channels_first by name", () => {
  const build = (config: Record<string, unknown>) =>
    buildModel(
      sequentialSpec([4, 5, 2], [{
        class_name: "Cropping2D",
        config: { name: "crop_x", ...config },
      }]),
    );
  expectThrows(() => build({ cropping: [1, 2, 3] }), LayerConfigError, "crop_x", "cropping");
  expectThrows(() => build({ cropping: -1 }), LayerConfigError, "crop_x", "cropping");
  expectThrows(() => build({ cropping: [[1, 1], [1]] }), LayerConfigError, "crop_x", "cropping");
  expectThrows(
    () => build({ cropping: [[2, 2], [0, 0]] }),
    InputShapeError,
    "crop_x",
    "height > 4",
  );
  expectThrows(
    () => build({ data_format: "channels_first" }),
    UnsupportedLayerError,
    "crop_x",
    "channels_first",
  );
});
