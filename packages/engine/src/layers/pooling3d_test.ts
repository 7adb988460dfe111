import { buildModel, type KerasObject, sizeOf, Tensor } from "../../mod.ts";
import type { Padding } from "../conv_geometry.ts";
import { InputShapeError, UnsupportedLayerError } from "../errors.ts";
import { expectThrows } from "../../testing/assert.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
  relativeError,
} from "../../testing/gradient_check.ts";
import { Rng } from "../../testing/random.ts";
import {
  tf,
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../../testing/tfjs_reference.ts";
import { MAX_POOLING3D } from "./max_pooling3d.ts";
import { GLOBAL_AVERAGE_POOLING3D } from "./global_average_pooling3d.ts";
import {
  globalPool3dGradReference,
  globalPool3dReference,
  pool3dGradReference,
  pool3dReference,
} from "./pooling3d_reference.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { runLayerTraining } from "../../testing/layer_training_run.ts";
import { AVERAGE_POOLING3D } from "./average_pooling3d.ts";
import { GLOBAL_MAX_POOLING3D } from "./global_max_pooling3d.ts";

// TF.js's 3-D poolings from a Keras config (TF.js has MaxPooling3D and AveragePooling3D).
for (
  const [name, make] of [["MaxPooling3D", tf.layers.maxPooling3d], [
    "AveragePooling3D",
    tf.layers.averagePooling3d,
  ]] as const
) {
  TFJS_LAYER_BUILDERS.set(name, (c, base) =>
    make({
      ...base,
      poolSize: (c.pool_size ?? 2) as [number, number, number],
      strides: (c.strides ?? c.pool_size ?? 2) as [number, number, number],
      padding: (c.padding ?? "valid") as Padding,
      dataFormat: "channelsLast",
    }));
}

const CASES: { input: number[]; pool: number[]; strides: number[]; padding: Padding }[] = [
  { input: [4, 6, 6, 3], pool: [2, 2, 2], strides: [2, 2, 2], padding: "valid" },
  { input: [5, 7, 6, 5], pool: [2, 2, 2], strides: [2, 2, 2], padding: "same" },
  { input: [5, 7, 5, 2], pool: [3, 2, 3], strides: [1, 2, 2], padding: "same" }, // overlapping
  { input: [3, 5, 8, 4], pool: [1, 3, 2], strides: [1, 1, 3], padding: "valid" },
  { input: [2, 3, 3, 7], pool: [3, 4, 4], strides: [2, 3, 3], padding: "same" }, // larger than input
];

Deno.test("MaxPooling3D / AveragePooling3D forward: the direct 3-D reference and TF.js, batch 1 and 5", async () => {
  await tfReady();
  const rng = new Rng(1721);
  for (const className of ["MaxPooling3D", "AveragePooling3D"]) {
    const kind = className === "MaxPooling3D" ? "max" : "avg";
    for (const { input, pool, strides, padding } of CASES) {
      const layer = {
        class_name: className,
        config: { name: "pool", pool_size: pool, strides, padding },
      };
      const spec = randomSpec([layer], input, rng);
      const model = buildModel(spec);
      const ref = tfjsModelFromSpec(spec);
      try {
        for (const batch of [1, 5]) {
          const shape = [batch, ...input];
          const x = rng.floats(sizeOf(shape), -2, 2);
          const got = model.predict(new Tensor(x, shape)).data as Float32Array;
          const what = `${className} ${JSON.stringify({ input, pool, strides, padding, batch })}`;
          const direct = pool3dReference(x, shape, pool, strides, padding, kind);
          const e1 = relativeError(got, direct);
          if (!(e1 <= 1e-6)) throw new Error(`${what}: ${e1} vs the reference`);
          const e2 = relativeError(got, tfjsPredict(ref, x, shape));
          if (!(e2 <= 1e-5)) throw new Error(`${what}: ${e2} vs TF.js`);
        }
      } finally {
        model.dispose();
        ref.dispose();
      }
    }
  }
});

/** Dense front → pooling → Flatten → Dense softmax: the front's kernel gradient is the pooling's dx. */
function poolingSpec(className: string, c: (typeof CASES)[number], rng: Rng) {
  const layers: KerasObject[] = [
    { class_name: "Dense", config: { name: "front", units: 3, activation: "tanh" } },
    {
      class_name: className,
      config: { name: "pool", pool_size: c.pool, strides: c.strides, padding: c.padding },
    },
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "Dense", config: { name: "probs", units: 4, activation: "softmax" } },
  ];
  return randomSpec(layers, c.input, rng);
}

const SPARSE = { name: "sparse_categorical_crossentropy" as const };

Deno.test("MaxPooling3D / AveragePooling3D backward matches the direct 3-D reference, batch 1 and 5", () => {
  const rng = new Rng(1724);
  for (const [def, kind] of [[MAX_POOLING3D, "max"], [AVERAGE_POOLING3D, "avg"]] as const) {
    for (const { input, pool, strides, padding } of CASES) {
      for (const batch of [1, 5]) {
        const shape = [batch, ...input];
        const x = rng.floats(sizeOf(shape), -2, 2);
        const config = { name: "pool", pool_size: pool, strides, padding };
        const { y, dy, dx } = runLayerTraining(def, config, x, shape, {
          seed: 1,
          dy: (n) => rng.floats(n),
        });
        const what = `${def.className} ${JSON.stringify({ input, pool, strides, padding, batch })}`;
        const e1 = relativeError(y, pool3dReference(x, shape, pool, strides, padding, kind));
        if (!(e1 <= 1e-6)) throw new Error(`${what}: training forward ${e1}`);
        const want = pool3dGradReference(x, shape, pool, strides, padding, kind, dy!);
        const e2 = relativeError(dx!, want);
        if (!(e2 <= 1e-6)) throw new Error(`${what}: dx ${e2}`);
      }
    }
  }
});

// TF.js 4.22's cpu gradients of its 3-D poolings are not Keras's in two places: avgPool3DGrad
// divides by the whole window even where `same` padding cut it (its forward divides by the real
// cells), and maxPool3DGrad misroutes once a window spans several rows. The model-level check
// against TF.js therefore runs the cases TF.js gets right: average pooling without padding.
Deno.test("AveragePooling3D (valid) gradients match TF.js ≤ 1e-4 relative through a Dense front, batch 1 and 3", async () => {
  await tfReady();
  const rng = new Rng(1722);
  for (const c of CASES.filter((c) => c.padding === "valid")) {
    const spec = poolingSpec("AveragePooling3D", c, rng);
    for (const batch of [1, 3]) {
      const shape = [batch, ...c.input];
      const x = rng.floats(sizeOf(shape), -2, 2);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
      try {
        compareWithTfjs(spec, x, shape, y, { loss: SPARSE });
      } catch (e) {
        throw new Error(`${JSON.stringify({ ...c, batch })}: ${(e as Error).message}`);
      }
    }
  }
});

Deno.test("MaxPooling3D / AveragePooling3D (same padding) in a model: gradients match finite differences", () => {
  const rng = new Rng(1725);
  for (const className of ["MaxPooling3D", "AveragePooling3D"]) {
    const c = CASES[2]; // overlapping windows, same padding
    const spec = poolingSpec(className, c, rng);
    const shape = [2, ...c.input];
    const x = rng.floats(sizeOf(shape), -2, 2);
    compareWithFiniteDifferences(spec, x, shape, Float32Array.from([1, 3]), SPARSE, {
      samples: 8,
    });
  }
});

/** The input shape (no batch) the TF.js stand-ins of the global poolings are built for. */
let globalInputShape: number[] = [];

// TF.js has no 3-D global poolings: the same reduction is a reshape to (cells, channels) and
// its 1-D global pooling.
for (
  const [name, pool] of [["GlobalMaxPooling3D", tf.layers.globalMaxPooling1d], [
    "GlobalAveragePooling3D",
    tf.layers.globalAveragePooling1d,
  ]] as const
) {
  TFJS_LAYER_BUILDERS.set(name, (c, base) => {
    const channels = globalInputShape[3];
    const inner = tf.sequential({ name: base.name as string });
    inner.add(tf.layers.reshape({ targetShape: [-1, channels], inputShape: globalInputShape }));
    inner.add(pool({}));
    if (c.keepdims === true) inner.add(tf.layers.reshape({ targetShape: [1, 1, 1, channels] }));
    return inner as unknown as ReturnType<typeof tf.layers.dense>;
  });
}

Deno.test("GlobalMaxPooling3D / GlobalAveragePooling3D: forward and dx vs the reference, gradients vs TF.js, keepdims", async () => {
  await tfReady();
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1723);
  for (const def of [GLOBAL_MAX_POOLING3D, GLOBAL_AVERAGE_POOLING3D]) {
    const kind = def === GLOBAL_MAX_POOLING3D ? "max" : "avg";
    for (const input of [[1, 1, 1, 1], [3, 5, 7, 3], [2, 4, 3, 9]]) {
      for (const keepdims of [false, true]) {
        const c = input[3];
        const layer = def.create({ name: "gp", keepdims }, {});
        try {
          layer.build(input, [], heap);
          const wantShape = keepdims ? [1, 1, 1, c] : [c];
          if (layer.outputShape.join() !== wantShape.join()) {
            throw new Error(`output shape ${layer.outputShape} for keepdims ${keepdims}`);
          }
          for (const batch of [1, 4]) {
            const shape = [batch, ...input];
            const x = rng.floats(sizeOf(shape), -2, 2);
            const xt = { ptr: heap.upload(x), shape, dtype: "float32" as const };
            const yt = layer.call(xt, null, { kernels, heap, training: false });
            const got = heap.f32(yt.ptr, batch * c).slice();
            heap.free(xt.ptr);
            heap.free(yt.ptr);
            const e = relativeError(got, globalPool3dReference(x, shape, kind));
            if (!(e <= 1e-6)) throw new Error(`${def.className} ${shape}: forward ${e}`);
            const config = { name: "gp", keepdims };
            const back = runLayerTraining(def, config, x, shape, {
              seed: 1,
              dy: (n) => rng.floats(n),
            });
            const e2 = relativeError(back.dx!, globalPool3dGradReference(x, shape, back.dy!, kind));
            if (!(e2 <= 1e-6)) throw new Error(`${def.className} ${shape}: dx ${e2}`);
          }
        } finally {
          layer.dispose();
        }
        // Gradients through a Dense front (its kernel's gradient is the pooling's dx).
        const layers: KerasObject[] = [
          { class_name: "Dense", config: { name: "front", units: 3, activation: "tanh" } },
          { class_name: def.className, config: { name: "gp", keepdims } },
          ...(keepdims ? [{ class_name: "Flatten", config: { name: "flat" } }] : []),
          { class_name: "Dense", config: { name: "probs", units: 4, activation: "softmax" } },
        ];
        const spec = randomSpec(layers, input, rng);
        globalInputShape = [...input.slice(0, 3), 3];
        for (const batch of [1, 3]) {
          const shape = [batch, ...input];
          const x = rng.floats(sizeOf(shape), -2, 2);
          const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
          try {
            compareWithTfjs(spec, x, shape, y, {
              loss: { name: "sparse_categorical_crossentropy" },
            });
          } catch (e) {
            const what = `${def.className} ${shape} keepdims ${keepdims}`;
            throw new Error(`${what}: ${(e as Error).message}`);
          }
        }
      }
    }
  }
});

Deno.test("3-D poolings refuse channels_first and inputs that are not 5-D by name", () => {
  expectThrows(
    () => MAX_POOLING3D.create({ name: "p3", data_format: "channels_first" }, {}),
    UnsupportedLayerError,
    "p3",
  );
  expectThrows(
    () => GLOBAL_AVERAGE_POOLING3D.create({ name: "g3" }, {}).computeOutputShape([4, 4, 3]),
    InputShapeError,
    "g3",
  );
  expectThrows(
    () => MAX_POOLING3D.create({ name: "p3", pool_size: 3 }, {}).computeOutputShape([2, 5, 5, 1]),
    InputShapeError,
    "p3",
  );
});
