/**
 * The augmentation layers (RandomFlip, RandomContrast, RandomTranslation, RandomZoom,
 * RandomRotation): identity at inference, hand-computed pixels for fixed transforms, the
 * distribution of the draws in training, independence from how a batch is split, input
 * gradients vs finite differences, and a reproducible `fit` with RandomFlip.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  buildModel,
  getRuntime,
  type KerasObject,
  type Layer,
  modelGradients,
  Tensor,
} from "../../mod.ts";
import {
  compareWithFiniteDifferences,
  randomSpec,
  relativeError,
} from "../../testing/gradient_check.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import { sequentialSpec } from "../../testing/cnn_cases.ts";
import { expectThrows } from "../../testing/assert.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { LayerConfigError } from "../errors.ts";
import type { LayerClass } from "../layer_class.ts";
import type { TrainContext } from "../layer_training.ts";
import {
  adjustContrast,
  affineTransformImages,
  affineTransformImagesGrad,
  type FillMode,
  flipImages,
  rotationTransform,
  translationTransform,
  zoomTransform,
} from "./image_ops.ts";
import { RANDOM_CONTRAST, RandomContrast } from "./random_contrast.ts";
import { RANDOM_FLIP, RandomFlip } from "./random_flip.ts";
import { RANDOM_ROTATION, RandomRotation } from "./random_rotation.ts";
import { RANDOM_TRANSLATION, RandomTranslation } from "./random_translation.ts";
import { RANDOM_ZOOM, RandomZoom } from "./random_zoom.ts";

/** Runs a layer class's training forward on host data (one slice starting at `sampleOffset`). */
function trainForward<L extends Layer>(
  def: LayerClass<L>,
  layer: L,
  x: Float32Array,
  shape: number[],
  seed: number,
  sampleOffset = 0,
  training = true,
): Float32Array {
  const { kernels, heap } = getRuntime();
  const ptrs: number[] = [];
  const ctx: TrainContext = {
    kernels,
    heap,
    training,
    trainable: true,
    tape: new Map(),
    keep: (p) => (ptrs.push(p), p),
    seedFor: () => seed,
    sampleOffset,
  };
  const xPtr = heap.upload(x);
  try {
    const y = def.training!.forward!(layer, { ptr: xPtr, shape, dtype: "float32" }, null, ctx);
    const out = heap.f32(y.ptr, x.length).slice();
    if (y.ptr !== xPtr) heap.free(y.ptr);
    return out;
  } finally {
    heap.free(xPtr);
    for (const p of ptrs) heap.free(p);
  }
}

const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

Deno.test("augmentation helpers equal hand-computed images: flips, translation per fill mode, zoom, rotation, contrast", () => {
  // 2×3 single-channel image 0 1 2 / 3 4 5, two samples, only the second flipped.
  const g = { batch: 2, h: 2, w: 3, c: 1 };
  const x = Float32Array.from([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
  assertEquals([...flipImages(x, g, [false, true], true, false)], [
    0,
    1,
    2,
    3,
    4,
    5,
    2,
    1,
    0,
    5,
    4,
    3,
  ]);
  assertEquals([...flipImages(x, g, [true, false], false, true)], [
    3,
    4,
    5,
    0,
    1,
    2,
    0,
    1,
    2,
    3,
    4,
    5,
  ]);
  assertEquals([...flipImages(x, g, [true, true], true, true)].slice(0, 6), [5, 4, 3, 2, 1, 0]);

  // One row a b c d = 1 2 3 4 moved right by 2 pixels: the fill modes of Keras's docstrings.
  const row = Float32Array.from([1, 2, 3, 4]);
  const rg = { batch: 1, h: 1, w: 4, c: 1 };
  const expected: Record<FillMode, number[]> = {
    reflect: [2, 1, 1, 2], // (d c b a | a b c d)
    wrap: [3, 4, 1, 2], // (a b c d | a b c d)
    nearest: [1, 1, 1, 2], // (a a a a | a b c d)
    constant: [9, 9, 1, 2], // (k k k k | a b c d)
  };
  for (const fillMode of Object.keys(expected) as FillMode[]) {
    for (const interpolation of ["nearest", "bilinear"] as const) {
      const y = affineTransformImages(row, rg, [translationTransform(2, 0)], {
        interpolation,
        fillMode,
        fillValue: 9,
      });
      assertEquals([...y], expected[fillMode], `${fillMode} ${interpolation}`);
    }
  }
  // Half a pixel left, bilinear, constant 0: each output is the mean of two neighbours.
  const half = affineTransformImages(row, rg, [translationTransform(-0.5, 0)], {
    interpolation: "bilinear",
    fillMode: "constant",
    fillValue: 0,
  });
  assertEquals([...half], [1.5, 2.5, 3.5, 2]);

  // Zoom in ×2 horizontally on 0 10 20 30 40: reads x at 0.5·o + 1 → 10 15 20 25 30.
  const zoomed = affineTransformImages(
    Float32Array.from([0, 10, 20, 30, 40]),
    { batch: 1, h: 1, w: 5, c: 1 },
    [zoomTransform(0.5, 1, 1, 5)],
    { interpolation: "bilinear", fillMode: "reflect", fillValue: 0 },
  );
  assertEquals([...zoomed], [10, 15, 20, 25, 30]);

  // A quarter turn counter-clockwise of 0..8 (3×3): the top row 0 1 2 becomes the left column
  // read bottom-up.
  const rotated = affineTransformImages(
    ramp(9),
    { batch: 1, h: 3, w: 3, c: 1 },
    [rotationTransform(Math.PI / 2, 3, 3)],
    { interpolation: "nearest", fillMode: "constant", fillValue: -1 },
  );
  assertEquals([...rotated], [2, 5, 8, 1, 4, 7, 0, 3, 6]);
  const rotatedBilinear = affineTransformImages(
    ramp(9),
    { batch: 1, h: 3, w: 3, c: 1 },
    [rotationTransform(Math.PI / 2, 3, 3)],
    { interpolation: "bilinear", fillMode: "constant", fillValue: -1 },
  );
  if (maxAbsDiff(rotatedBilinear, [2, 5, 8, 1, 4, 7, 0, 3, 6]) > 1e-6) {
    throw new Error(`bilinear quarter turn: ${rotatedBilinear}`);
  }
  // Half a turn = both flips.
  const turned = affineTransformImages(ramp(12), { batch: 1, h: 3, w: 4, c: 1 }, [
    rotationTransform(Math.PI, 3, 4),
  ], { interpolation: "nearest", fillMode: "constant", fillValue: -1 });
  assertEquals([...turned], [
    ...flipImages(ramp(12), { batch: 1, h: 3, w: 4, c: 1 }, [true], true, true),
  ]);

  // Contrast ×2 about the channel mean 5 of (0, 10), two channels, clipped to [0, 255].
  const contrast = adjustContrast(
    Float32Array.from([0, 100, 10, 300]),
    { batch: 1, h: 1, w: 2, c: 2 },
    [2],
    0,
    255,
  );
  assertEquals([...contrast], [0, 0, 15, 255]);
});

Deno.test("augmentation layers are the identity at inference (predict) and in a training=False call", () => {
  const rng = new Rng(40);
  const layers: KerasObject[] = [
    { class_name: "RandomFlip", config: { mode: "horizontal" } },
    { class_name: "RandomContrast", config: { factor: 0.5 } },
    { class_name: "RandomTranslation", config: { height_factor: 0.2, width_factor: [-0.3, 0.1] } },
    { class_name: "RandomZoom", config: { height_factor: 0.3, fill_mode: "constant" } },
    { class_name: "RandomRotation", config: { factor: 0.25, interpolation: "nearest" } },
  ];
  const model = buildModel(sequentialSpec([7, 9, 3], layers.map((l) => ({ ...l }))));
  const x = rng.floats(17 * 7 * 9 * 3, 0, 255);
  assertEquals([...model.predict(new Tensor(x, [17, 7, 9, 3])).data], [...x]);
  model.dispose();
  const flip = new RandomFlip({ name: "f" });
  assertEquals([...trainForward(RANDOM_FLIP, flip, x, [17, 7, 9, 3], 5, 0, false)], [...x]);
});

Deno.test("RandomFlip flips about half the samples, the same ones for a seed, whatever the batch split", () => {
  const n = 400;
  const shape = [n, 2, 3, 1];
  const x = Float32Array.from({ length: n * 6 }, (_, i) => i % 6);
  for (const mode of ["horizontal", "vertical", "horizontal_and_vertical"]) {
    const layer = new RandomFlip({ name: "flip", mode });
    const y = trainForward(RANDOM_FLIP, layer, x, shape, 1234);
    const first = mode === "vertical" ? 3 : mode === "horizontal" ? 2 : 5;
    let k = 0;
    for (let b = 0; b < n; b++) {
      const v = y[b * 6];
      if (v !== 0 && v !== first) throw new Error(`${mode}: sample ${b} starts with ${v}`);
      if (v === first) k++;
    }
    // Binomial(400, ½): ±4σ = ±40.
    if (Math.abs(k - n / 2) > 40) throw new Error(`${mode}: ${k} of ${n} flipped`);
    // Same seed → same flips; another seed → other flips.
    assertEquals([...trainForward(RANDOM_FLIP, layer, x, shape, 1234)], [...y]);
    if (maxAbsDiff(trainForward(RANDOM_FLIP, layer, x, shape, 99), y) === 0) {
      throw new Error(`${mode}: seeds 1234 and 99 flip the same samples`);
    }
    // Slices [0, 150) and [150, 400) with their offsets draw exactly what the whole batch drew.
    const a = trainForward(RANDOM_FLIP, layer, x.subarray(0, 150 * 6), [150, 2, 3, 1], 1234, 0);
    const b = trainForward(RANDOM_FLIP, layer, x.subarray(150 * 6), [250, 2, 3, 1], 1234, 150);
    assertEquals([...a, ...b], [...y]);
    if (mode === "horizontal") console.log(`RandomFlip: ${k} of ${n} samples flipped (seed 1234)`);
  }
});

Deno.test("RandomFlip of a Keras 2 file draws each axis on its own: four outcomes ≈ ¼ each", () => {
  const n = 400;
  const x = Float32Array.from({ length: n * 6 }, (_, i) => i % 6);
  const layer = new RandomFlip({ name: "flip" }, { kerasVersion: "2.15.0" });
  const y = trainForward(RANDOM_FLIP, layer, x, [n, 2, 3, 1], 321);
  const counts = new Map<number, number>();
  for (let b = 0; b < n; b++) counts.set(y[b * 6], (counts.get(y[b * 6]) ?? 0) + 1);
  // First pixel: 0 unflipped, 2 left-right, 3 top-bottom, 5 both.
  assertEquals([...counts.keys()].sort(), [0, 2, 3, 5]);
  for (const [first, k] of counts) {
    if (Math.abs(k - n / 4) > 35) throw new Error(`outcome ${first}: ${k} of ${n}`);
  }
  // Keras 3: one draw for both axes, never one flip alone.
  const y3 = trainForward(RANDOM_FLIP, new RandomFlip({ name: "flip" }), x, [n, 2, 3, 1], 321);
  for (let b = 0; b < n; b++) {
    if (y3[b * 6] !== 0 && y3[b * 6] !== 5) throw new Error(`Keras 3 sample ${b}: ${y3[b * 6]}`);
  }
});

Deno.test("RandomContrast, RandomTranslation, RandomZoom and RandomRotation draw per sample within their ranges, split-independent", () => {
  const rng = new Rng(41);
  const shape = [64, 5, 6, 2];
  const x = rng.floats(64 * 60, 0, 255);
  const cases: [LayerClass<Layer>, Layer][] = [
    [RANDOM_CONTRAST as LayerClass<Layer>, new RandomContrast({ name: "c", factor: [0.2, 0.5] })],
    [
      RANDOM_TRANSLATION as LayerClass<Layer>,
      new RandomTranslation({ name: "t", height_factor: 0.3, width_factor: [-0.2, 0.4] }),
    ],
    [RANDOM_ZOOM as LayerClass<Layer>, new RandomZoom({ name: "z", height_factor: [-0.3, 0.2] })],
    [
      RANDOM_ROTATION as LayerClass<Layer>,
      new RandomRotation({ name: "r", factor: 0.1, fill_mode: "wrap" }),
    ],
  ];
  for (const [def, layer] of cases) {
    const y = trainForward(def, layer, x, shape, 777);
    const a = trainForward(def, layer, x.subarray(0, 20 * 60), [20, 5, 6, 2], 777, 0);
    const b = trainForward(def, layer, x.subarray(20 * 60), [44, 5, 6, 2], 777, 20);
    if (maxAbsDiff([...a, ...b], y) !== 0) {
      throw new Error(`${layer.className}: split changes the output`);
    }
    // Samples differ from their inputs and from one another's transform.
    let changed = 0;
    for (let s = 0; s < 64; s++) {
      if (maxAbsDiff(y.subarray(s * 60, s * 60 + 60), x.subarray(s * 60, s * 60 + 60)) > 1e-3) {
        changed++;
      }
    }
    if (changed < 60) throw new Error(`${layer.className}: only ${changed} of 64 samples changed`);
  }
  // RandomContrast: recover each sample's factor from its per-channel spread; all in [0.8, 1.5].
  const layer = new RandomContrast({ name: "c", factor: [0.2, 0.5], value_range: [-1e9, 1e9] });
  const y = trainForward(RANDOM_CONTRAST, layer, x, shape, 3);
  const factors: number[] = [];
  for (let s = 0; s < 64; s++) {
    const xs = x.subarray(s * 60, s * 60 + 60), ys = y.subarray(s * 60, s * 60 + 60);
    const mean = (a: Float32Array) =>
      a.filter((_, i) => i % 2 === 0).reduce((p, q) => p + q, 0) / 30;
    const mx = mean(xs), my = mean(ys);
    factors.push((ys[0] - my) / (xs[0] - mx));
  }
  const lo = Math.min(...factors), hi = Math.max(...factors);
  if (!(lo >= 0.8 - 1e-3 && hi <= 1.5 + 1e-3 && hi - lo > 0.4)) {
    throw new Error(`contrast factors span [${lo}, ${hi}], expected inside [0.8, 1.5] and spread`);
  }
  console.log(`RandomContrast factors drawn in [${lo.toFixed(3)}, ${hi.toFixed(3)}] ⊂ [0.8, 1.5]`);
});

Deno.test("augmentation configs are checked and typed errors name the layer", () => {
  expectThrows(
    () => new RandomFlip({ name: "f", mode: "diagonal" }),
    LayerConfigError,
    'layer "f"',
    "mode",
  );
  expectThrows(
    () => new RandomRotation({ name: "r", factor: [0.1] }),
    LayerConfigError,
    'layer "r"',
    "factor",
  );
  expectThrows(
    () => new RandomTranslation({ name: "t", height_factor: 1.5, width_factor: 0 }),
    LayerConfigError,
    "height_factor",
  );
  expectThrows(
    () => new RandomZoom({ name: "z", height_factor: 0.2, fill_mode: "mirror" }),
    LayerConfigError,
    "fill_mode",
  );
  expectThrows(
    () => new RandomContrast({ name: "c", factor: 0.2, value_range: [1, 0] }),
    LayerConfigError,
    "value_range",
  );
});

Deno.test("input gradients through each augmentation's per-sample transform equal finite differences", () => {
  const rng = new Rng(42);
  let worst = 0;
  const augmentations: KerasObject[] = [
    { class_name: "RandomFlip", config: { name: "aug", mode: "horizontal_and_vertical" } },
    { class_name: "RandomContrast", config: { name: "aug", factor: 0.4, value_range: [-1, 1] } },
    {
      class_name: "RandomTranslation",
      config: { name: "aug", height_factor: 0.3, width_factor: 0.3, fill_mode: "reflect" },
    },
    {
      class_name: "RandomZoom",
      config: { name: "aug", height_factor: 0.3, width_factor: [-0.4, 0.1], fill_mode: "nearest" },
    },
    {
      class_name: "RandomRotation",
      config: { name: "aug", factor: 0.2, fill_mode: "constant", fill_value: 0.5 },
    },
    {
      class_name: "RandomRotation",
      config: { name: "aug", factor: 0.2, interpolation: "nearest", fill_mode: "wrap" },
    },
  ];
  for (const aug of augmentations) {
    const layers: KerasObject[] = [
      { class_name: "Dense", config: { name: "d0", units: 2, activation: "tanh" } },
      aug,
      { class_name: "Flatten", config: { name: "f" } },
      { class_name: "Dense", config: { name: "d1", units: 3 } },
    ];
    const spec = randomSpec(layers, [5, 6, 3], rng);
    const e = compareWithFiniteDifferences(
      spec,
      rng.floats(4 * 90),
      [4, 5, 6, 3],
      rng.floats(4 * 3),
      { name: "mean_squared_error" },
      { samples: 8 },
    );
    worst = Math.max(worst, e);
    // The transform is really applied in training: the gradients differ from the same model
    // without the augmentation.
    const plain = { ...spec, config: structuredClone(spec.config) };
    const inner = (plain.config.config as { layers: KerasObject[] }).layers;
    inner.splice(2, 1);
    const xs = new Tensor(rng.floats(4 * 90), [4, 5, 6, 3]);
    const ys = new Tensor(rng.floats(4 * 3), [4, 3]);
    const gradOf = (s: typeof spec) => {
      const m = buildModel(s);
      const g = modelGradients(m, xs, ys, { loss: { name: "mean_squared_error" }, seed: 3 });
      m.dispose();
      return g.grads[0].data;
    };
    if (maxAbsDiff(gradOf(spec), gradOf(plain)) < 1e-6) {
      throw new Error(`${aug.class_name}: training gradients equal the model without it`);
    }
  }
  console.log(`augmentation input gradients: worst relative error vs finite differences ${worst}`);
});

Deno.test("fit with RandomFlip runs and is reproducible for a seed", async () => {
  const rng = new Rng(43);
  const spec = randomSpec(
    [
      { class_name: "RandomFlip", config: { name: "flip", mode: "horizontal" } },
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Dense", config: { name: "out", units: 2, activation: "softmax" } },
    ],
    [4, 4, 1],
    rng,
  );
  const n = 48;
  const x = rng.floats(n * 16);
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  const train = async (seed: number, workers: number | "auto" = "auto") => {
    const model = buildModel(structuredClone(spec));
    model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy" });
    const history = await model.fit(new Tensor(x, [n, 4, 4, 1]), new Tensor(y, [n]), {
      epochs: 3,
      batchSize: 16,
      seed,
      verbose: 0,
      workers,
    });
    const w = model.getLayer("out").getWeights()[0].data.slice();
    model.dispose();
    return { w, loss: history.history.loss };
  };
  const a = await train(5), b = await train(5), c = await train(6);
  assertEquals([...a.w], [...b.w]);
  assertEquals(a.loss, b.loss);
  if (!a.loss.every(Number.isFinite)) throw new Error(`losses ${a.loss}`);
  if (maxAbsDiff(a.w, c.w) === 0) throw new Error("seeds 5 and 6 trained identical weights");
  // Two worker threads split each batch: the same flips, so the same weights up to rounding.
  const one = await train(5, 1), two = await train(5, 2);
  const d = maxAbsDiff(one.w, two.w);
  if (!(d <= 1e-5)) throw new Error(`1 vs 2 workers: max |Δw| = ${d}`);
  console.log(`fit with RandomFlip: 1 vs 2 workers max |Δw| ${d}`);
});

Deno.test("affine augmentation transforms and their gradients match tf.image.transform (TF's ImageProjectiveTransformV3 port) for every fill mode and interpolation", async () => {
  await tfReady();
  const rng = new Rng(44);
  const [h, w, c] = [7, 9, 3];
  let worstForward = 0, worstGrad = 0;
  for (const fillMode of ["reflect", "wrap", "nearest", "constant"] as const) {
    for (const interpolation of ["bilinear", "nearest"] as const) {
      for (const batch of [1, 17]) {
        // Per sample: a translation, a zoom or a rotation with random parameters.
        const transforms = Array.from({ length: batch }, (_, b) => {
          const kind = b % 3;
          if (kind === 0) return translationTransform(rng.uniform(-4, 4), rng.uniform(-3, 3));
          if (kind === 1) return zoomTransform(rng.uniform(0.5, 1.6), rng.uniform(0.5, 1.6), h, w);
          return rotationTransform(rng.uniform(-Math.PI, Math.PI), h, w);
        });
        const g = { batch, h, w, c };
        const options = { interpolation, fillMode, fillValue: 0.75 };
        const x = rng.floats(batch * h * w * c);
        // One call per sample: TF.js 4.22's cpu Transform kernel only fills the first image of a
        // batch (the others come out 0).
        const per = h * w * c;
        const want = new Float32Array(batch * per);
        tf.tidy(() => {
          transforms.forEach((t, s) => {
            const img = tf.tensor(x.subarray(s * per, (s + 1) * per), [1, h, w, c]) as tf.Tensor4D;
            const out = tf.image.transform(
              img,
              tf.tensor2d([...t], [1, 8]),
              interpolation,
              fillMode,
              0.75,
            );
            want.set(out.dataSync(), s * per);
          });
        });
        const got = affineTransformImages(x, g, transforms, options);
        const d = maxAbsDiff(got, want);
        if (!(d <= 1e-5)) throw new Error(`${fillMode} ${interpolation} batch ${batch}: |Δ| ${d}`);
        worstForward = Math.max(worstForward, d);
        // Gradient: the transpose of TF's op. The op acts on each channel alike, so its Jacobian
        // is one (h·w)×(h·w) matrix per sample: the op applied to an image whose channel p is the
        // one-hot image of pixel p (fill value 0: a constant has no gradient).
        const dy = rng.floats(batch * per);
        const dx = affineTransformImagesGrad(dy, g, transforms, options);
        const hw = h * w;
        const eye = new Float32Array(hw * hw);
        for (let p = 0; p < hw; p++) eye[p * hw + p] = 1;
        const ref = new Float32Array(batch * per);
        tf.tidy(() => {
          const basis = tf.tensor(eye, [1, h, w, hw]) as tf.Tensor4D;
          transforms.forEach((t, s) => {
            const jac = tf.image.transform(
              basis,
              tf.tensor2d([...t], [1, 8]),
              interpolation,
              fillMode,
              0,
            )
              .reshape([hw, hw]);
            const dyS = tf.tensor(dy.subarray(s * per, (s + 1) * per), [hw, c]);
            ref.set(tf.matMul(jac, dyS, true, false).dataSync(), s * per);
          });
        });
        const e = relativeError(dx, ref);
        if (!(e <= 1e-4)) throw new Error(`grad ${fillMode} ${interpolation} batch ${batch}: ${e}`);
        worstGrad = Math.max(worstGrad, e);
      }
    }
  }
  console.log(
    `affine transforms vs tf.image.transform: max |Δ| ${worstForward}, gradients relative ${worstGrad}`,
  );
});
