/**
 * Rescaling, Normalization, CenterCrop and Resizing: outputs vs TF.js where it runs the same
 * operation (tf.layers.rescaling; TF's slice and half-pixel resize ops that Keras 3 runs for
 * CenterCrop and Resizing), Normalization vs a TypeScript reference and Keras's documented
 * examples, and input gradients vs central finite differences.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  buildModel,
  getRuntime,
  type KerasObject,
  type Layer,
  type Model,
  Tensor,
  type WeightTensor,
} from "../../mod.ts";
import {
  compareWithFiniteDifferences,
  randomSpec,
  relativeError,
} from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import { sequentialSpec } from "../../testing/cnn_cases.ts";
import { expectThrows } from "../../testing/assert.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { aspectCropWindow } from "./image_ops.ts";
import { Normalization, normalizationStats } from "./normalization.ts";
import { RESIZING, Resizing } from "./resizing.ts";
import { CENTER_CROP, CenterCrop } from "./center_crop.ts";
import type { LayerClass } from "../layer_class.ts";
import type { TrainContext } from "../layer_training.ts";

const TOL = 1e-5;

function run(model: Model, x: Float32Array, shape: number[]): Tensor {
  return model.predict(new Tensor(x, shape), { batchSize: 8 });
}

function tfOut(f: (x: tf.Tensor) => tf.Tensor, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => f(tf.tensor(x, shape)).dataSync() as Float32Array);
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = TOL) {
  const d = maxAbsDiff(got, want);
  if (!(d <= tol)) throw new Error(`${what}: max |Δ| = ${d} > ${tol}`);
  return d;
}

Deno.test("Rescaling matches tf.layers.rescaling (odd sizes, batch 1 and 17) and per-channel lists", async () => {
  await tfReady();
  const rng = new Rng(15);
  let worst = 0;
  for (const sample of [[7, 9, 5], [11]]) {
    for (const [scale, offset] of [[1 / 255, 0], [1 / 127.5, -1], [-2.5, 0.25]]) {
      const spec = sequentialSpec(sample, [{ class_name: "Rescaling", config: { scale, offset } }]);
      const model = buildModel(spec);
      const layer = tf.layers.rescaling({ scale, offset });
      for (const batch of [1, 17]) {
        const shape = [batch, ...sample];
        const x = rng.floats(shape.reduce((a, b) => a * b, 1), 0, 255);
        const got = run(model, x, shape);
        assertEquals([...got.shape], shape);
        worst = Math.max(
          worst,
          expectClose(
            got.data,
            tfOut((t) => layer.apply(t) as tf.Tensor, x, shape),
            `Rescaling ${scale},${offset} [${shape}]`,
          ),
        );
      }
      model.dispose();
    }
  }
  // Per-channel scale and offset (a list, and Keras 3's __numpy__ object).
  const scale = [0.5, 2, -1];
  const offset = { class_name: "__numpy__", config: { value: [1, 0, -3], dtype: "float32" } };
  const model = buildModel(
    sequentialSpec([5, 3, 3], [{ class_name: "Rescaling", config: { scale, offset } }]),
  );
  const shape = [17, 5, 3, 3];
  const x = rng.floats(17 * 45);
  const want = x.map((v, i) => v * scale[i % 3] + [1, 0, -3][i % 3]);
  worst = Math.max(worst, expectClose(run(model, x, shape).data, want, "Rescaling per channel"));
  model.dispose();
  console.log(`Rescaling: max |Δ| vs TF.js / reference ${worst}`);
});

Deno.test("Normalization reproduces Keras's documented examples (adapt, axis=None, config mean, invert)", () => {
  const adaptData = new Tensor(new Float32Array([0, 7, 4, 2, 9, 6, 0, 7, 4, 2, 9, 6]), [4, 3]);
  const norm = (config: Record<string, unknown>, sample: number[]) =>
    buildModel(
      sequentialSpec(sample, [{
        class_name: "Normalization",
        config: { name: "norm", ...config },
      }]),
    );
  // Per-feature: adapt → mean [1, 8, 5], variance [1, 1, 1].
  const m1 = norm({ axis: -1, mean: null, variance: null }, [3]);
  (m1.getLayer("norm") as Normalization).adapt(adaptData);
  assertEquals([...run(m1, new Float32Array([0, 7, 4]), [1, 3]).data], [-1, -1, -1]);
  const stored = m1.getLayer("norm").getWeights();
  assertEquals(stored.map((w) => w.name), ["mean", "variance", "count"]);
  assertEquals([...stored[0].data], [1, 8, 5]);
  assertEquals([...stored[1].data], [1, 1, 1]);
  m1.dispose();
  // invert: x·σ + μ.
  const m2 = norm({ axis: -1, invert: true }, [3]);
  (m2.getLayer("norm") as Normalization).adapt(adaptData);
  assertEquals([...run(m2, new Float32Array([1, 2, 3]), [1, 3]).data], [2, 10, 8]);
  m2.dispose();
  // axis=None: one scalar mean (3) and variance (2).
  const m3 = norm({ axis: null }, [1]);
  (m3.getLayer("norm") as Normalization).adapt(
    new Tensor(new Float32Array([1, 2, 3, 4, 5]), [5, 1]),
  );
  expectClose(
    run(m3, new Float32Array([1, 2, 3]), [3, 1]).data,
    [-1.4142135, -0.70710677, 0],
    "axis None",
    1e-6,
  );
  m3.dispose();
  // Config mean / variance, no variables.
  const m4 = norm({ mean: 3, variance: 2 }, [1]);
  assertEquals(m4.getLayer("norm").getWeights().length, 0);
  expectClose(
    run(m4, new Float32Array([1, 2, 3]), [3, 1]).data,
    [-1.4142135, -0.70710677, 0],
    "config mean",
    1e-6,
  );
  m4.dispose();
  // Variance 0: divides by ε = 1e-7, not by 0.
  const m5 = norm({ mean: [1, 2], variance: [0, 4] }, [2]);
  expectClose(run(m5, new Float32Array([1.5, 4]), [1, 2]).data, [0.5 / 1e-7, 1], "ε floor", 1e-2);
  m5.dispose();
});

Deno.test("Normalization vs a TypeScript reference: axes -1, [1, 3], [2, 3] and null, batch 1 and 17", () => {
  const rng = new Rng(16);
  let worst = 0;
  const sample = [5, 7, 3];
  for (const axis of [-1, [1, 3], [2, 3], null]) {
    for (const invert of [false, true]) {
      const model = buildModel(
        sequentialSpec(sample, [{
          class_name: "Normalization",
          config: { name: "norm", axis, invert },
        }]),
      );
      const layer = model.getLayer("norm") as Normalization;
      const adaptShape = [23, ...sample];
      const data = rng.floats(23 * 105, -3, 5);
      layer.adapt(new Tensor(data, adaptShape));
      const keep = layer.keepAxes(sample);
      const stats = normalizationStats(data, adaptShape, keep);
      assertEquals(layer.getWeights()[0].shape, stats.shape);
      for (const batch of [1, 17]) {
        const shape = [batch, ...sample];
        const x = rng.floats(batch * 105, -3, 5);
        // Reference: index each element's kept coordinates by hand.
        const want = new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const coords = [
            Math.floor(i / 105),
            Math.floor(i / 21) % 5,
            Math.floor(i / 3) % 7,
            i % 3,
          ];
          let k = 0;
          for (const a of keep) k = k * shape[a] + coords[a];
          const sd = Math.max(Math.sqrt(stats.variance[k]), 1e-7);
          want[i] = invert ? stats.mean[k] + x[i] * sd : (x[i] - stats.mean[k]) / sd;
        }
        worst = Math.max(
          worst,
          expectClose(
            run(model, x, shape).data,
            want,
            `axis ${JSON.stringify(axis)} invert ${invert}`,
          ),
        );
      }
      model.dispose();
    }
  }
  console.log(`Normalization: max |Δ| vs TS reference ${worst}`);
});

Deno.test("Normalization refuses bad configs and adapt data, naming the layer", () => {
  expectThrows(() => new Normalization({ name: "n", mean: 1 }), LayerConfigError, 'layer "n"');
  expectThrows(
    () => new Normalization({ name: "n", mean: [1, 2], variance: [1] }),
    LayerConfigError,
    "shape of mean",
  );
  const model = buildModel(
    sequentialSpec([3], [{ class_name: "Normalization", config: { name: "norm" } }]),
  );
  expectThrows(
    () => (model.getLayer("norm") as Normalization).adapt(new Tensor(new Float32Array(8), [2, 4])),
    InputShapeError,
    'layer "norm": expected input adapt data of shape [batch, 3], received [2, 4]',
  );
  model.dispose();
  const fixed = buildModel(
    sequentialSpec([3], [{
      class_name: "Normalization",
      config: { name: "norm", mean: 0, variance: 1 },
    }]),
  );
  expectThrows(
    () => (fixed.getLayer("norm") as Normalization).adapt(new Tensor(new Float32Array(6), [2, 3])),
    LayerConfigError,
  );
  fixed.dispose();
});

/** TF's ops for CenterCrop (Keras 3): a slice, or smart_resize's crop + half-pixel bilinear. */
function tfCenterCrop(x: tf.Tensor, height: number, width: number): tf.Tensor {
  const [, h, w, c] = x.shape;
  if (h >= height && w >= width) {
    return tf.slice(x, [0, Math.trunc((h - height) / 2), Math.trunc((w - width) / 2), 0], [
      -1,
      height,
      width,
      c,
    ]);
  }
  const win = aspectCropWindow(h, w, height, width);
  const cropped = tf.slice(x, [0, win.top, win.left, 0], [-1, win.height, win.width, c]);
  return tf.image.resizeBilinear(cropped as tf.Tensor4D, [height, width], false, true);
}

Deno.test("CenterCrop matches TF's slice / smart_resize ops (crop, even↔odd, smaller inputs), batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(17);
  let worst = 0;
  for (
    const [sample, height, width] of [
      [[9, 11, 3], 5, 6],
      [[8, 7, 2], 5, 4],
      [[6, 6, 1], 6, 6],
      [[5, 7, 3], 8, 4],
      [[4, 5, 2], 9, 11],
      [[7, 9, 3], 3, 12],
    ] as [number[], number, number][]
  ) {
    const model = buildModel(
      sequentialSpec(sample, [{ class_name: "CenterCrop", config: { height, width } }]),
    );
    for (const batch of [1, 17]) {
      const shape = [batch, ...sample];
      const x = rng.floats(shape.reduce((a, b) => a * b, 1));
      const got = run(model, x, shape);
      assertEquals([...got.shape], [batch, height, width, sample[2]]);
      worst = Math.max(
        worst,
        expectClose(
          got.data,
          tfOut((t) => tfCenterCrop(t, height, width), x, shape),
          `CenterCrop [${shape}] → ${height}×${width}`,
        ),
      );
    }
    model.dispose();
  }
  console.log(`CenterCrop: max |Δ| vs TF ops ${worst}`);
});

Deno.test("CenterCrop matches tf.layers.centerCrop where TF.js crops as Keras (inputs at least the target, not 1 pixel wider), batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(20);
  let worst = 0;
  for (
    const [sample, height, width] of [[[9, 11, 3], 5, 6], [[10, 12, 2], 6, 6], [[7, 7, 5], 3, 3], [
      [8, 5, 1],
      3,
      5,
    ]] as [number[], number, number][]
  ) {
    const model = buildModel(
      sequentialSpec(sample, [{ class_name: "CenterCrop", config: { height, width } }]),
    );
    const layer = tf.layers.centerCrop({ height, width });
    for (const batch of [1, 17]) {
      const shape = [batch, ...sample];
      const x = rng.floats(shape.reduce((a, b) => a * b, 1));
      const want = tfOut((t) => layer.apply(t) as tf.Tensor, x, shape);
      worst = Math.max(
        worst,
        expectClose(
          run(model, x, shape).data,
          want,
          `CenterCrop vs tf.layers [${shape}] → ${height}×${width}`,
        ),
      );
    }
    model.dispose();
  }
  console.log(`CenterCrop: max |Δ| vs tf.layers.centerCrop ${worst}`);
});

Deno.test("Resizing matches TF's half-pixel resizeBilinear / resizeNearestNeighbor (up, down, odd; crop_to_aspect_ratio), batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(18);
  let worst = 0;
  for (const interpolation of ["bilinear", "nearest"] as const) {
    for (const crop of [false, true]) {
      for (
        const [sample, height, width] of [
          [[7, 9, 3], 5, 13],
          [[8, 6, 4], 11, 3],
          [[5, 5, 1], 5, 5],
          [[9, 4, 5], 2, 7],
        ] as [number[], number, number][]
      ) {
        const config = { height, width, interpolation, crop_to_aspect_ratio: crop };
        const model = buildModel(sequentialSpec(sample, [{ class_name: "Resizing", config }]));
        for (const batch of [1, 17]) {
          const shape = [batch, ...sample];
          const x = rng.floats(shape.reduce((a, b) => a * b, 1));
          const want = tfOut(
            (t) => {
              let src = t as tf.Tensor4D;
              if (crop) {
                const win = aspectCropWindow(sample[0], sample[1], height, width);
                src = tf.slice4d(t as tf.Tensor4D, [0, win.top, win.left, 0], [
                  -1,
                  win.height,
                  win.width,
                  sample[2],
                ]);
              }
              return interpolation === "bilinear"
                ? tf.image.resizeBilinear(src, [height, width], false, true)
                : tf.image.resizeNearestNeighbor(src, [height, width], false, true);
            },
            x,
            shape,
          );
          const got = run(model, x, shape);
          assertEquals([...got.shape], [batch, height, width, sample[2]]);
          worst = Math.max(
            worst,
            expectClose(got.data, want, `Resizing ${JSON.stringify(config)} [${shape}]`),
          );
        }
        model.dispose();
      }
    }
  }
  console.log(`Resizing: max |Δ| vs TF ops ${worst}`);
});

Deno.test("tf.layers.resizing passes crop_to_aspect_ratio as align_corners: not Keras's resize (why the test uses TF's ops)", async () => {
  await tfReady();
  const x = tf.tensor(Float32Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
  const layer = tf.layers.resizing({ height: 3, width: 3 });
  const theirs = (layer.apply(x) as tf.Tensor).dataSync();
  const keras = tf.image.resizeBilinear(x as tf.Tensor4D, [3, 3], false, true).dataSync();
  const model = buildModel(
    sequentialSpec([4, 4, 1], [{ class_name: "Resizing", config: { height: 3, width: 3 } }]),
  );
  const ours = run(model, x.dataSync() as Float32Array, [1, 4, 4, 1]).data;
  expectClose(ours, keras, "engine vs TF half-pixel");
  if (maxAbsDiff(theirs, keras) < 1e-3) {
    throw new Error("tf.layers.resizing now matches Keras: compare with it");
  }
  model.dispose();
  x.dispose();
});

Deno.test("input gradients of Rescaling, Normalization, CenterCrop and Resizing equal finite differences", () => {
  const rng = new Rng(19);
  let worst = 0;
  const cases: [string, KerasObject][] = [
    ["Rescaling", {
      class_name: "Rescaling",
      config: { name: "pp", scale: [0.5, -2, 3], offset: 1 },
    }],
    ["Normalization", {
      class_name: "Normalization",
      config: { name: "pp", axis: [1, 3], mean: null, variance: null },
    }],
    ["Normalization invert", {
      class_name: "Normalization",
      config: { name: "pp", mean: [1, 2, 3], variance: [4, 0.25, 9], invert: true },
    }],
    ["CenterCrop crop", { class_name: "CenterCrop", config: { name: "pp", height: 3, width: 4 } }],
    ["CenterCrop resize", {
      class_name: "CenterCrop",
      config: { name: "pp", height: 7, width: 5 },
    }],
    ["Resizing bilinear", { class_name: "Resizing", config: { name: "pp", height: 7, width: 3 } }],
    ["Resizing nearest crop", {
      class_name: "Resizing",
      config: {
        name: "pp",
        height: 3,
        width: 7,
        interpolation: "nearest",
        crop_to_aspect_ratio: true,
      },
    }],
  ];
  for (const [what, layer] of cases) {
    const layers: KerasObject[] = [
      { class_name: "Dense", config: { name: "d0", units: 3 } },
      layer,
      { class_name: "Flatten", config: { name: "f" } },
      { class_name: "Dense", config: { name: "d1", units: 2 } },
    ];
    const spec = randomSpec(layers, [5, 6, 2], rng);
    if (what === "Normalization") {
      // Non-trivial adapted statistics (weights of the adapted layer: mean, variance, count).
      spec.weights.pp = [
        { name: "mean", shape: [5, 3], data: rng.floats(15) } as WeightTensor,
        { name: "variance", shape: [5, 3], data: rng.floats(15, 0.2, 3) },
        { name: "count", shape: [], data: new Float32Array(1) },
      ];
    }
    const x = rng.floats(3 * 60);
    const y = rng.floats(3 * 2);
    const e = compareWithFiniteDifferences(spec, x, [3, 5, 6, 2], y, {
      name: "mean_squared_error",
    });
    worst = Math.max(worst, e);
  }
  console.log(`preprocessing input gradients: worst relative error vs finite differences ${worst}`);
});

/** Runs a layer class's backward for dy on host data (the layer built for `shape`). */
function layerInputGrad(
  def: LayerClass<Layer>,
  layer: Layer,
  x: Float32Array,
  shape: number[],
  dy: Float32Array,
  dyShape: number[],
): Float32Array {
  const { kernels, heap } = getRuntime();
  const xPtr = heap.upload(x), dyPtr = heap.upload(dy);
  const ctx: TrainContext = {
    kernels,
    heap,
    training: true,
    trainable: true,
    tape: new Map(),
    keep: (p) => p,
    seedFor: () => 1,
    sampleOffset: 0,
  };
  const xt = { ptr: xPtr, shape, dtype: "float32" as const };
  const dyt = { ptr: dyPtr, shape: dyShape, dtype: "float32" as const };
  try {
    const dx = def.training!.backward(layer, {
      x: xt,
      y: dyt,
      mask: null,
      xs: [xt],
      masks: [null],
      dy: dyt,
      dys: [dyt],
      ys: [dyt],
      dyIsPreActivation: false,
      weights: [],
      grads: [],
      needInputGrad: true,
      needInputGrads: [true],
      ctx,
    }) as { ptr: number };
    const out = heap.f32(dx.ptr, x.length).slice();
    if (dx.ptr !== dyPtr) heap.free(dx.ptr);
    return out;
  } finally {
    heap.free(xPtr);
    heap.free(dyPtr);
  }
}

Deno.test("Resizing and CenterCrop input gradients match the transpose of TF's ops ≤ 1e-4 relative, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(21);
  let worst = 0;
  // TF.js 4.22's ResizeBilinearGrad / ResizeNearestNeighborGrad ignore halfPixelCenters (and the
  // former swaps height and width of non-square inputs), so tf.grad cannot serve: the reference
  // is the exact transpose of TF's forward op, dx = Jᵀ·dy with J the op applied to every one-hot
  // input image.
  const cases: [LayerClass<Layer>, Layer, number[], (t: tf.Tensor4D) => tf.Tensor][] = [];
  for (const interpolation of ["bilinear", "nearest"] as const) {
    for (const crop of [false, true]) {
      for (
        const [sample, h, w] of [[[7, 9, 3], 5, 13], [[8, 6, 4], 11, 3], [[9, 9, 2], 4, 4]] as [
          number[],
          number,
          number,
        ][]
      ) {
        const layer = new Resizing({
          name: "r",
          height: h,
          width: w,
          interpolation,
          crop_to_aspect_ratio: crop,
        });
        cases.push([RESIZING as LayerClass<Layer>, layer, sample, (t) => {
          let src = t;
          if (crop) {
            const win = aspectCropWindow(sample[0], sample[1], h, w);
            src = tf.slice4d(t, [0, win.top, win.left, 0], [-1, win.height, win.width, sample[2]]);
          }
          return interpolation === "bilinear"
            ? tf.image.resizeBilinear(src, [h, w], false, true)
            : tf.image.resizeNearestNeighbor(src, [h, w], false, true);
        }]);
      }
    }
  }
  for (
    const [sample, h, w] of [[[9, 11, 3], 5, 6], [[4, 5, 2], 9, 11]] as [number[], number, number][]
  ) {
    cases.push([
      CENTER_CROP as LayerClass<Layer>,
      new CenterCrop({ name: "c", height: h, width: w }),
      sample,
      (t) => tfCenterCrop(t, h, w),
    ]);
  }
  for (const [def, layer, sample, op] of cases) {
    for (const batch of [1, 17]) {
      const shape = [batch, ...sample];
      const x = rng.floats(shape.reduce((a, b) => a * b, 1));
      const outShape = [batch, ...(layer.computeOutputShape(sample) as number[])];
      const dy = rng.floats(outShape.reduce((a, b) => a * b, 1));
      const want = tf.tidy(() => {
        const n = sample.reduce((a, b) => a * b, 1);
        const m = dy.length / batch;
        const basis = tf.cast(tf.oneHot(tf.range(0, n, 1, "int32"), n), "float32").reshape([
          n,
          ...sample,
        ]);
        const jacobian = op(basis as tf.Tensor4D).reshape([n, m]);
        return tf.matMul(tf.tensor(dy, [batch, m]), jacobian, false, true)
          .dataSync() as Float32Array;
      });
      const got = layerInputGrad(def, layer, x, shape, dy, outShape);
      const e = relativeError(got, want);
      if (!(e <= 1e-4)) {
        throw new Error(
          `${layer.className} ${JSON.stringify(layer.config)} [${shape}]: relative error ${e}`,
        );
      }
      worst = Math.max(worst, e);
    }
  }
  console.log(
    `Resizing / CenterCrop input gradients: worst relative error vs TF's transposed ops ${worst}`,
  );
});
