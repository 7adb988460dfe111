/**
 * The decoder side of autoencoders and U-Nets as whole graphs: TF.js builds them with its layers
 * API and random weights, the engine runs them from `specFromTfjs` (Keras 2 / TF.js config) and
 * `keras3SpecFromTfjs` (Keras 3 config), outputs ≤ 1e-5 and gradients of every weight ≤ 1e-4
 * relative to TF.js.
 */
import type { ModelSpec } from "../../mod.ts";
import { expectGraphGradientsMatchTfjs } from "../../testing/graph_gradients.ts";
import { expectSpecsPredictAsTfjs } from "../../testing/graph_predict.ts";
import { Rng } from "../../testing/random.ts";
import {
  type HostTensor,
  keras3SpecFromTfjs,
  randomizeWeights,
  specFromTfjs,
} from "../../testing/tfjs_graphs.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
  layer.apply(x) as tf.SymbolicTensor;
const conv = (name: string, filters: number, kernelSize: number, activation = "relu") =>
  tf.layers.conv2d({
    name,
    filters,
    kernelSize,
    padding: "same",
    activation: activation as "relu",
  });

/**
 * A U-Net: 12×12×3 → enc1 Conv2D(6) → pool1 → enc2 Conv2D(8) → up1 Conv2DTranspose(6, 3×3,
 * stride 2, same) → skip1 Concatenate(up1, enc1) → head Conv2D(2, 1×1, sigmoid): a 12×12×2 map;
 * with `classes`, Flatten → Dense softmax instead (one class per image, for sparse training).
 */
function unet(seed: number, classes = 0): tf.LayersModel {
  const input = tf.input({ name: "image", shape: [12, 12, 3] });
  const e1 = apply(conv("enc1", 6, 3), input);
  const p1 = apply(tf.layers.maxPooling2d({ name: "pool1", poolSize: 2 }), e1);
  const e2 = apply(conv("enc2", 8, 3), p1);
  const up = apply(
    tf.layers.conv2dTranspose({
      name: "up1",
      filters: 6,
      kernelSize: 3,
      strides: 2,
      padding: "same",
      activation: "relu",
    }),
    e2,
  );
  const cat = apply(tf.layers.concatenate({ name: "skip1" }), [up, e1]);
  let out = apply(conv("head", 2, 1, "sigmoid"), cat);
  if (classes) {
    out = apply(tf.layers.flatten({ name: "flat" }), out);
    out = apply(tf.layers.dense({ name: "out", units: classes, activation: "softmax" }), out);
  }
  const model = tf.model({ name: "unet", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A convolutional autoencoder on odd-sized 13×13×2 images: enc1 Conv2D(4) → pool1 (6×6) → enc2
 * Conv2D(6) → pool2 (3×3) → code Conv2D(8) → up1 UpSampling2D ×2 → dec1 Conv2D(6) → up2
 * UpSampling2D ×2 (12×12) → skip Concatenate with enc1 cropped by crop1 Cropping2D((0, 1), (0, 1))
 * → grow Conv2DTranspose(3, 2×2, valid) (13×13) → recon Conv2D(2, sigmoid). With `classes`,
 * Flatten → Dense softmax after recon.
 */
function autoencoder(
  seed: number,
  interpolation: "nearest" | "bilinear",
  classes = 0,
): tf.LayersModel {
  const input = tf.input({ name: "image", shape: [13, 13, 2] });
  const e1 = apply(conv("enc1", 4, 3), input);
  const p1 = apply(tf.layers.maxPooling2d({ name: "pool1", poolSize: 2 }), e1);
  const e2 = apply(conv("enc2", 6, 3), p1);
  const p2 = apply(tf.layers.maxPooling2d({ name: "pool2", poolSize: 2 }), e2);
  const code = apply(conv("code", 8, 3), p2);
  const u1 = apply(tf.layers.upSampling2d({ name: "up1", size: [2, 2], interpolation }), code);
  const d1 = apply(conv("dec1", 6, 3, "tanh"), u1);
  const u2 = apply(tf.layers.upSampling2d({ name: "up2", size: [2, 2], interpolation }), d1);
  const crop = apply(tf.layers.cropping2D({ name: "crop1", cropping: [[0, 1], [0, 1]] }), e1);
  const cat = apply(tf.layers.concatenate({ name: "skip" }), [u2, crop]);
  const grow = apply(
    tf.layers.conv2dTranspose({
      name: "grow",
      filters: 3,
      kernelSize: 2,
      padding: "valid",
      activation: "relu",
    }),
    cat,
  );
  let out = apply(conv("recon", 2, 3, "sigmoid"), grow);
  if (classes) {
    out = apply(tf.layers.flatten({ name: "flat" }), out);
    out = apply(tf.layers.dense({ name: "out", units: classes, activation: "softmax" }), out);
  }
  const model = tf.model({ name: `autoencoder_${interpolation}`, inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

function images(rng: Rng, batch: number, shape: number[]): HostTensor {
  return {
    data: rng.floats(batch * shape.reduce((a, b) => a * b, 1), -1, 1),
    shape: [batch, ...shape],
  };
}

interface Case {
  name: string;
  build(seed: number, classes?: number): tf.LayersModel;
  shape: number[];
  /** Whether a Keras 3 config runs it as TF.js does (bilinear: Keras resizes with half-pixel centres). */
  keras3: boolean;
  /** Batches whose gradients TF.js computes right (its nearest-upsampling gradient is wrong for batch > 1). */
  gradBatches: number[];
}

const CASES: Case[] = [
  {
    name: "U-Net (Conv2DTranspose)",
    build: unet,
    shape: [12, 12, 3],
    keras3: true,
    gradBatches: [1, 17],
  },
  {
    name: "autoencoder (UpSampling2D nearest, Cropping2D, Conv2DTranspose)",
    build: (seed, classes) => autoencoder(seed, "nearest", classes),
    shape: [13, 13, 2],
    keras3: true,
    gradBatches: [1],
  },
  {
    name: "autoencoder (UpSampling2D bilinear, Cropping2D, Conv2DTranspose)",
    build: (seed, classes) => autoencoder(seed, "bilinear", classes),
    shape: [13, 13, 2],
    keras3: false,
    gradBatches: [1, 17],
  },
];

for (const c of CASES) {
  Deno.test(`${c.name}: engine predict from the TF.js graph ≤ 1e-5, batch 1 and 17`, async () => {
    await tfReady();
    const ref = c.build(151);
    const rng = new Rng(1551);
    let worst = 0;
    try {
      const specs: [string, ModelSpec][] = [["keras2/tfjs", specFromTfjs(ref)]];
      if (c.keras3) specs.push(["keras3", keras3SpecFromTfjs(ref)]);
      worst = expectSpecsPredictAsTfjs(ref, specs, [1, 17], (batch) => [
        images(rng, batch, c.shape),
      ]);
    } finally {
      ref.dispose();
    }
    console.log(`${c.name} vs TF.js: max |Δ| = ${worst.toExponential(2)}`);
  });
}

for (const c of CASES) {
  Deno.test(`${c.name}: gradients of every weight vs tf.variableGrads ≤ 1e-4 relative`, async () => {
    await tfReady();
    const ref = c.build(152, 3);
    const rng = new Rng(1552);
    let worst = 0;
    try {
      const spec = specFromTfjs(ref);
      for (const batch of c.gradBatches) {
        const x = images(rng, batch, c.shape);
        const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
        const check = expectGraphGradientsMatchTfjs(ref, spec, [x], y, `batch ${batch}`, {
          blindBelow: 1e-7,
        });
        worst = Math.max(worst, check.worst);
      }
    } finally {
      ref.dispose();
    }
    console.log(`${c.name} gradients vs TF.js: max relative error ${worst.toExponential(2)}`);
  });
}
