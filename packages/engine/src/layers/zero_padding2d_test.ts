import { buildMerge, mergeGradients, runMerge } from "../../testing/merge_cases.ts";
import { expectMatchesTfjs, sequentialSpec } from "../../testing/cnn_cases.ts";
import { compareWithTfjs, randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, TFJS_LAYER_BUILDERS, tfReady } from "../../testing/tfjs_reference.ts";
import { LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import { expectThrows } from "../../testing/assert.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

// The TF.js reference of the class (the engine's test helpers build TF.js models from specs).
if (!TFJS_LAYER_BUILDERS.has("ZeroPadding2D")) {
  TFJS_LAYER_BUILDERS.set("ZeroPadding2D", (c, base) =>
    tf.layers.zeroPadding2d({
      ...base,
      padding: (c.padding ?? 1) as Any,
      dataFormat: "channelsLast",
    }));
}

/** Every form Keras accepts: an int, (h, w), ((top, bottom), (left, right)), zero sides. */
const PADDINGS: unknown[] = [1, [2, 3], [[0, 1], [2, 0]], [[3, 1], [1, 2]], [[0, 0], [0, 0]]];

Deno.test("ZeroPadding2D matches TF.js zeroPadding2d (every padding form, odd sizes, batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(1501);
  for (const padding of PADDINGS) {
    const spec = sequentialSpec([5, 7, 3], [{ class_name: "ZeroPadding2D", config: { padding } }]);
    expectMatchesTfjs(
      spec,
      [[1, 5, 7, 3], [17, 5, 7, 3]],
      rng,
      `padding ${JSON.stringify(padding)}`,
      {
        tol: 1e-5,
      },
    );
  }
});

Deno.test("ZeroPadding2D input gradient equals tf.grad of TF.js zeroPadding2d (batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(1502);
  for (const padding of PADDINGS) {
    for (const batch of [1, 17]) {
      const shape = [batch, 5, 7, 3];
      const layer = buildMerge("ZeroPadding2D", { padding }, [shape]);
      try {
        const x = { data: rng.floats(batch * 105, -2, 2), shape };
        const y = runMerge(layer, [x]).y;
        const dy = rng.floats(y.data.length, -1, 1);
        const [mine] = mergeGradients(layer, [x], dy);
        const tfl = tf.layers.zeroPadding2d({ padding: padding as Any });
        const dyT = tf.tensor(dy, y.shape);
        const want = tf.tidy(() =>
          tf.grad((t: tf.Tensor) => (tfl.apply(t) as tf.Tensor).mul(dyT).sum())(
            tf.tensor(x.data, shape),
          ).dataSync() as Float32Array
        );
        dyT.dispose();
        const d = maxAbsDiff(mine!, want);
        if (!(d <= 1e-6)) {
          throw new Error(`padding ${JSON.stringify(padding)} batch ${batch}: |Δ| ${d}`);
        }
        if (relativeError(mine!, want) > 1e-6) throw new Error("relative error");
      } finally {
        layer.dispose();
      }
    }
  }
});

Deno.test("ZeroPadding2D inside a CNN: weight gradients match TF.js (batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(1503);
  const sparse = { name: "sparse_categorical_crossentropy" as const };
  for (const padding of [[1, 2], [[2, 0], [1, 3]]]) {
    const spec = randomSpec(
      [
        {
          class_name: "Conv2D",
          config: { name: "conv", filters: 4, kernel_size: [3, 3], activation: "tanh" },
        },
        { class_name: "ZeroPadding2D", config: { name: "pad", padding } },
        {
          class_name: "Conv2D",
          config: { name: "conv2", filters: 3, kernel_size: [2, 2], strides: [2, 2] },
        },
        { class_name: "Flatten", config: { name: "flat" } },
        { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
      ],
      [7, 9, 2],
      rng,
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 126, -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      compareWithTfjs(spec, x, [batch, 7, 9, 2], y, { loss: sparse });
    }
  }
});

Deno.test("ZeroPadding2D refuses negative or malformed padding and channels_first", () => {
  for (const padding of [-1, [1], [1, 2, 3], [[1, 2], [3]], 1.5, "same"]) {
    expectThrows(() => buildMerge("ZeroPadding2D", { padding }, [[1, 4, 4, 1]]), LayerConfigError);
  }
  expectThrows(
    () =>
      buildMerge("ZeroPadding2D", { padding: 1, data_format: "channels_first" }, [[1, 4, 4, 1]]),
    UnsupportedLayerError,
  );
});
