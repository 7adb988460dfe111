import {
  buildModel,
  LayerConfigError,
  modelGradients,
  type ModelSpec,
  Tensor,
  UnsupportedLayerError,
} from "../../mod.ts";
import { expectMatchesTfjs, sequentialSpec } from "../../testing/cnn_cases.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
  relativeError,
} from "../../testing/gradient_check.ts";
import { tfjsGradients } from "../../testing/tfjs_training.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";

/** keras_version of a model TF.js wrote (selects TF.js's bilinear mapping). */
const TFJS_VERSION = "tfjs-layers 4.22.0";

const SIZES: unknown[] = [2, [2, 2], [3, 1], [1, 3], [3, 2], [1, 1]];

Deno.test("UpSampling2D nearest matches TF.js: sizes, odd shapes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1531);
  let worst = 0;
  for (const size of SIZES) {
    const layer = { class_name: "UpSampling2D", config: { size, interpolation: "nearest" } };
    for (const [h, w, c] of [[5, 7, 3], [1, 1, 8], [4, 3, 5]]) {
      const spec = sequentialSpec([h, w, c], [layer]);
      const what = `nearest ${JSON.stringify(size)} ${h}×${w}×${c}`;
      worst = Math.max(worst, expectMatchesTfjs(spec, [[1, h, w, c], [17, h, w, c]], rng, what));
    }
  }
  console.log(`UpSampling2D nearest vs TF.js: max |Δ| = ${worst}`);
});

Deno.test("UpSampling2D bilinear: Keras's half-pixel resize vs tf.image.resizeBilinear(halfPixelCenters), TF.js files vs the TF.js layer", async () => {
  await tfReady();
  const rng = new Rng(1532);
  let worstKeras = 0, worstTfjs = 0;
  for (const size of SIZES) {
    for (const [h, w, c] of [[5, 7, 3], [1, 2, 8], [4, 3, 5]]) {
      const layer = { class_name: "UpSampling2D", config: { size, interpolation: "bilinear" } };
      const spec: ModelSpec = { ...sequentialSpec([h, w, c], [layer]), kerasVersion: "3.10.0" };
      const [fh, fw] = typeof size === "number" ? [size, size] : size as number[];
      const model = buildModel(spec);
      try {
        for (const batch of [1, 17]) {
          const x = rng.floats(batch * h * w * c, -2, 2);
          const got = model.predict(new Tensor(x, [batch, h, w, c]));
          const want = tf.tidy(() =>
            tf.image.resizeBilinear(tf.tensor4d(x, [batch, h, w, c]), [h * fh, w * fw], false, true)
              .dataSync()
          );
          const d = maxAbsDiff(got.data, want);
          if (!(d <= 1e-5)) throw new Error(`Keras bilinear ${size} ${h}×${w}: |Δ| = ${d}`);
          worstKeras = Math.max(worstKeras, d);
        }
      } finally {
        model.dispose();
      }
      const tfjsSpec: ModelSpec = { ...spec, kerasVersion: TFJS_VERSION };
      const what = `TF.js bilinear ${JSON.stringify(size)} ${h}×${w}×${c}`;
      worstTfjs = Math.max(
        worstTfjs,
        expectMatchesTfjs(tfjsSpec, [[1, h, w, c], [17, h, w, c]], rng, what),
      );
    }
  }
  console.log(
    `UpSampling2D bilinear: Keras (half-pixel) vs tf.image.resizeBilinear max |Δ| = ${worstKeras}; ` +
      `TF.js files vs tf.layers.upSampling2d max |Δ| = ${worstTfjs}`,
  );
});

const sparse = { name: "sparse_categorical_crossentropy" as const };
const conv = (name: string, activation: string) => ({
  class_name: "Conv2D",
  config: { name, filters: 3, kernel_size: 3, padding: "same", activation },
});
const head = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
];

/**
 * TF.js's cpu ResizeNearestNeighborGrad (4.22) offsets dy by the input image's batch stride, so
 * its gradients are wrong for every image after the first. The batch's gradient is the mean of the
 * per-sample ones (the loss averages over the batch): this compares the engine's batch gradient
 * with TF.js's gradients of each sample alone, averaged. Returns the worst relative error.
 */
function compareWithTfjsPerSample(
  spec: ModelSpec,
  x: Float32Array,
  xShape: number[],
  y: Float32Array,
): number {
  const batch = xShape[0];
  const per = x.length / batch;
  const model = buildModel(spec);
  try {
    const mine = modelGradients(model, new Tensor(x, xShape), new Tensor(y, [batch, 1]), {
      loss: sparse,
    });
    const sums = mine.grads.map((g) => new Float64Array(g.data.length));
    for (let b = 0; b < batch; b++) {
      const ref = tfjsGradients(
        spec,
        x.slice(b * per, (b + 1) * per),
        [1, ...xShape.slice(1)],
        y.slice(b, b + 1),
        { loss: sparse },
      );
      ref.grads.forEach((g, i) => g.forEach((v, k) => (sums[i][k] += v / batch)));
    }
    let worst = 0;
    mine.grads.forEach((g, i) => {
      const e = relativeError(g.data, sums[i]);
      if (!(e <= 1e-4)) throw new Error(`gradient of ${g.name}: relative error ${e} > 1e-4`);
      worst = Math.max(worst, e);
    });
    return worst;
  } finally {
    model.dispose();
  }
}

Deno.test("UpSampling2D gradients match TF.js (nearest: per sample at batch 17; bilinear of TF.js files), batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1533);
  let worst = 0;
  for (const interpolation of ["nearest", "bilinear"]) {
    // TF.js's cpu ResizeBilinearGrad (4.22) returns its gradient with height and width swapped in
    // the shape (the values are laid out right): only square inputs get through it.
    const input = interpolation === "nearest" ? [3, 4, 2] : [4, 4, 2];
    const per = input[0] * input[1] * input[2];
    for (const size of [2, [3, 1], [2, 3]]) {
      const spec = randomSpec(
        [
          conv("first", "tanh"),
          { class_name: "UpSampling2D", config: { name: "up", size, interpolation } },
          conv("second", "relu"),
          ...head,
        ],
        input,
        rng,
        { kerasVersion: interpolation === "bilinear" ? TFJS_VERSION : "3.10.0" },
      );
      for (const batch of [1, 17]) {
        const x = rng.floats(batch * per, -1.5, 1.5);
        const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
        try {
          worst = Math.max(
            worst,
            interpolation === "nearest" && batch > 1
              ? compareWithTfjsPerSample(spec, x, [batch, ...input], y)
              : compareWithTfjs(spec, x, [batch, ...input], y, { loss: sparse }),
          );
        } catch (e) {
          throw new Error(`${interpolation} ${size} batch ${batch}: ${(e as Error).message}`);
        }
      }
    }
  }
  console.log(`UpSampling2D gradients vs TF.js: max relative error ${worst.toExponential(2)}`);
});

Deno.test("UpSampling2D bilinear (Keras, half-pixel) gradients match finite differences", () => {
  // TF.js's ResizeBilinearGrad ignores halfPixelCenters, so it is no reference for Keras's resize.
  const rng = new Rng(1534);
  for (const size of [2, [3, 2]]) {
    const spec = randomSpec(
      [
        conv("first", "tanh"),
        { class_name: "UpSampling2D", config: { name: "up", size, interpolation: "bilinear" } },
        conv("second", "tanh"),
        ...head,
      ],
      [3, 4, 2],
      rng,
    );
    const x = rng.floats(3 * 24, -1.5, 1.5);
    const y = Float32Array.from({ length: 3 }, () => rng.int(0, 4));
    compareWithFiniteDifferences(spec, x, [3, 3, 4, 2], y, sparse);
  }
});

Deno.test("UpSampling2D refuses other interpolations, bad sizes and channels_first by name", () => {
  const build = (config: Record<string, unknown>) =>
    buildModel(
      sequentialSpec([4, 4, 2], [{
        class_name: "UpSampling2D",
        config: { name: "up_x", ...config },
      }]),
    );
  expectThrows(
    () => build({ interpolation: "bicubic" }),
    UnsupportedLayerError,
    "up_x",
    "bicubic",
  );
  expectThrows(() => build({ interpolation: "cubic-ish" }), LayerConfigError, "up_x");
  expectThrows(() => build({ size: [2, 0] }), LayerConfigError, "up_x", "size");
  expectThrows(
    () => build({ data_format: "channels_first" }),
    UnsupportedLayerError,
    "up_x",
    "channels_first",
  );
});
