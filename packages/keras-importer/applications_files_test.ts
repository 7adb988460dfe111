/**
 * Issue 15, "Show", files: keras.applications replicas (`engine/testing/tfjs_applications.ts`,
 * CI-tier sizes) saved by TF.js's own save handler (`model.json` + shard) and written as `.keras`
 * (Keras 2 and Keras 3 config forms) and legacy `.h5` (Keras 2 and Keras 3 naming) by the
 * project's writers; each file loaded with `loadModel` keeps every weight bit-identical to the
 * TF.js variables and predicts 16 images as TF.js does (argmax identical, max |Δp| ≤ 1e-4).
 *
 * And the transfer-learning flow on a small MobileNetV2 base: `.keras` → `loadModel` → wrapped
 * as a nested model under a new head (`Sequential([Input, base, GlobalAveragePooling2D, Dense])`)
 * → base frozen with `setTrainable` → `compile` / `fit` (the base bit-identical, BatchNormalization
 * statistics included; the head trained) → `saveKeras` → `loadModel` → identical predictions; then
 * the base's top block unfrozen and trained with a small learning rate (exactly that block and
 * the head change).
 */
import assert from "node:assert/strict";
import {
  Adam,
  buildModel,
  type KerasObject,
  type Model,
  type ModelSpec,
  SUPPORTED_LAYER_CLASSES,
  Tensor,
  type WeightTensor,
} from "@scratchnet/engine";
import type { tf } from "../engine/testing/tfjs_reference.ts";
import {
  applicationFamily,
  applicationInputs,
  type ApplicationOptions,
  mobileNetV2,
  useApplicationBackend,
  withKerasNormalization,
} from "../engine/testing/tfjs_applications.ts";
import { keras3Config, keyedLayers, tfjsPredictMany } from "../engine/testing/tfjs_graphs.ts";
import { argmaxRows, maxAbsDiff, Rng } from "../engine/testing/random.ts";
import { loadModel, type ModelSource, readModelSpec } from "./load.ts";
import { tfjsSaved } from "./testing/tfjs_saved.ts";
import { kerasArchiveBytes, saveKeras } from "./save_keras.ts";
import { sameWeightsBitwise } from "./testing/helpers.ts";
import { writeLegacyH5 } from "./testing/writers.ts";

const TOL = 1e-4;
const BATCH = 16;

/** Each leaf layer's weights as the TF.js variables hold them. */
function tfjsWeights(model: tf.LayersModel): Record<string, WeightTensor[]> {
  const out: Record<string, WeightTensor[]> = {};
  for (const { key, layer } of keyedLayers(model)) {
    if (layer.weights.length === 0) continue;
    out[key] = layer.getWeights().map((t, i) => ({
      name: layer.weights[i].name,
      shape: [...t.shape],
      data: t.dataSync() as Float32Array,
    }));
  }
  return out;
}

/** `{key: weights[key]}` when present, else `{}`. */
function pick(weights: Record<string, WeightTensor[]>, key: string) {
  return key in weights ? { [key]: weights[key] } : {};
}

/** Throws unless `got` predicts like `want`: same argmax per row, max |Δp| ≤ TOL. */
function expectSamePredictions(label: string, got: Float32Array, want: Float32Array): number {
  const d = maxAbsDiff(got, want);
  if (!(d <= TOL)) throw new Error(`${label}: max |Δp| ${d} > ${TOL}`);
  const classes = want.length / BATCH;
  const a = argmaxRows(got, classes), b = argmaxRows(want, classes);
  if (a.join() !== b.join()) throw new Error(`${label}: argmax [${a}] vs TF.js [${b}]`);
  return d;
}

/** CI-tier families written to files; EfficientNetB0 with its Normalization stand-in. */
const FILE_FAMILIES: [string, ApplicationOptions & { normalization?: boolean }][] = [
  ["MobileNetV2", { inputSize: 48, width: 0.35, depthScale: 0.5, classes: 10 }],
  [
    "EfficientNetB0",
    { inputSize: 48, width: 0.5, depthScale: 0.5, classes: 10, normalization: true },
  ],
  ["Xception", { inputSize: 71, width: 0.125, depthScale: 0.25, classes: 10 }],
];

for (const [name, options] of FILE_FAMILIES) {
  const keras = options.normalization
    ? " (.keras / .h5 with Keras's adapted Normalization in place of TF.js's stand-in)"
    : "";
  Deno.test(`${name} replica (CI tier, ${options.inputSize}px): TF.js model.json, .keras (Keras 2 and 3 config forms) and .h5 (Keras 2 and 3)${keras} load with bit-identical weights and predict as TF.js (argmax identical, max |Δp| ≤ ${TOL})`, async () => {
    await useApplicationBackend("wasm");
    const family = applicationFamily(name);
    const ref = family.build({ seed: 16, ...options });
    try {
      const x = applicationInputs(new Rng(1600), BATCH, options.inputSize!, family.pixelRange);
      const want = tfjsPredictMany(ref, [x])[0];
      const expected = tfjsWeights(ref);
      const saved = await tfjsSaved(ref);
      const spec = await readModelSpec(saved, {}, new Set(SUPPORTED_LAYER_CLASSES));
      // What Keras would write: the real Normalization layer where TF.js holds its stand-in.
      const keras = (s: ModelSpec) => options.normalization ? withKerasNormalization(s) : s;
      const kerasSpec = keras(spec);
      const kerasExpected = { ...expected, ...pick(kerasSpec.weights, "normalization") };
      const sources: [string, ModelSource][] = [
        ["TF.js model.json (TF.js save handler)", saved],
        [".keras", await kerasArchiveBytes(kerasSpec)],
        [
          ".keras (Keras 3 config form)",
          await kerasArchiveBytes(keras({ config: keras3Config(ref), weights: spec.weights })),
        ],
        [".h5 (Keras 2)", await writeLegacyH5(kerasSpec, "keras2")],
        [".h5 (Keras 3 legacy)", await writeLegacyH5(kerasSpec, "keras3")],
      ];
      for (const [label, source] of sources) {
        const loaded = await loadModel(source);
        const model = loaded.model!;
        try {
          const classes = loaded.spec.config.config.layers as { class_name: string }[];
          const tfjsFile = label.startsWith("TF.js");
          if (options.normalization && !tfjsFile) {
            assert.ok(classes.some((l) => l.class_name === "Normalization"), label);
          }
          const diff = sameWeightsBitwise(tfjsFile ? expected : kerasExpected, loaded.spec.weights);
          assert.equal(diff, undefined, `${name} via ${label}: ${diff}`);
          const got = model.predict(new Tensor(x.data, x.shape)).data as Float32Array;
          const d = expectSamePredictions(`${name} via ${label}`, got, want);
          console.log(`${name} via ${label}: max |Δp| ${d.toExponential(2)}`);
        } finally {
          model.dispose();
        }
      }
    } finally {
      ref.dispose();
    }
  });
}

// ---- transfer learning ------------------------------------------------------------------------

const SIZE = 32;
const CLASSES = 4;

/** Copies of every weight (the engine may reuse its buffers). */
function snapshot(weights: Record<string, WeightTensor[]>): Record<string, WeightTensor[]> {
  return Object.fromEntries(
    Object.entries(weights).map(([k, ws]) => [k, ws.map((w) => ({ ...w, data: w.data.slice() }))]),
  );
}

/** Keys whose weights (any of them) differ bitwise between two snapshots. */
function changedKeys(
  before: Record<string, WeightTensor[]>,
  after: Record<string, WeightTensor[]>,
): string[] {
  return Object.keys(before).filter((k) =>
    before[k].some((w, i) => {
      const a = new Uint32Array(w.data.buffer, w.data.byteOffset, w.data.length);
      const now = after[k][i].data;
      const b = new Uint32Array(now.buffer, now.byteOffset, now.length);
      return a.some((v, j) => v !== b[j]);
    })
  ).sort();
}

/** Keys where every weight tensor moved (kernel, gamma, beta and the moving statistics). */
function fullyChangedKeys(
  before: Record<string, WeightTensor[]>,
  after: Record<string, WeightTensor[]>,
): string[] {
  return Object.keys(before).filter((k) =>
    before[k].every((w, i) => maxAbsDiff(w.data, after[k][i].data) > 0)
  ).sort();
}

/**
 * Keras's `Sequential([Input(shape), base, GlobalAveragePooling2D(), Dense(classes, softmax)])`
 * around a loaded base: its config nested as a layer, its weights under `"<base>/<layer>"`; the
 * head's weights are missing (the engine initializes them).
 */
function withHead(base: ModelSpec): ModelSpec {
  const baseName = String(base.config.config.name);
  const config: KerasObject = {
    module: "keras",
    class_name: "Sequential",
    config: {
      name: "transfer",
      trainable: true,
      layers: [
        {
          module: "keras.layers",
          class_name: "InputLayer",
          config: { name: "image", batch_shape: [null, SIZE, SIZE, 3], dtype: "float32" },
          registered_name: null,
        },
        base.config,
        {
          module: "keras.layers",
          class_name: "GlobalAveragePooling2D",
          config: { name: "gap", data_format: "channels_last", keepdims: false },
          registered_name: null,
        },
        {
          module: "keras.layers",
          class_name: "Dense",
          config: { name: "head", units: CLASSES, activation: "softmax", use_bias: true },
          registered_name: null,
        },
      ],
    },
    registered_name: null,
  };
  const weights = Object.fromEntries(
    Object.entries(base.weights).map(([k, ws]) => [`${baseName}/${k}`, ws]),
  );
  return { config, weights, kerasVersion: base.kerasVersion };
}

/** Labelled images: the class sets which channel is brightest (a learnable task). */
function transferData(rng: Rng, n: number): { x: Tensor; y: Tensor } {
  const images = applicationInputs(rng, n, SIZE);
  const y = Float32Array.from({ length: n }, () => rng.int(0, CLASSES));
  for (let i = 0; i < n; i++) {
    const c = y[i] % 3;
    for (let p = 0; p < SIZE * SIZE; p++) images.data[(i * SIZE * SIZE + p) * 3 + c] += 0.5;
  }
  return { x: new Tensor(images.data, images.shape), y: new Tensor(y, [n]) };
}

async function fit(model: Model, data: { x: Tensor; y: Tensor }, learningRate: number) {
  model.compile({
    optimizer: new Adam({ learningRate }),
    loss: "sparse_categorical_crossentropy",
  });
  await model.fit(data.x, data.y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: true });
}

Deno.test("transfer learning on a MobileNetV2 base (.keras → loadModel → frozen base + new head → fit → saveKeras → reload → identical predictions; then the top block unfrozen at a small learning rate): the base is bit-identical after phase 1, only the top block and the head change in phase 2", async () => {
  await useApplicationBackend("wasm");
  const tfBase = mobileNetV2({
    seed: 17,
    inputSize: SIZE,
    width: 0.35,
    depthScale: 0.34,
    includeTop: false,
  });
  const tfSaved = await tfjsSaved(tfBase);
  tfBase.dispose();
  // The base as a Keras user would have it: a `.keras` file.
  const baseSpec = await readModelSpec(tfSaved, {}, new Set(SUPPORTED_LAYER_CLASSES));
  const loadedBase = await loadModel(await kerasArchiveBytes(baseSpec));
  const base = loadedBase.model!;
  const baseName = base.name;
  const baseLayers = loadedBase.spec.config.config.layers as { config: { name: string } }[];
  base.dispose();
  // The top block: the last inverted residual block (`block_N_*`) and Conv_1 / Conv_1_bn.
  const lastBlock = Math.max(
    ...baseLayers.map((l) => Number(/^block_(\d+)_/.exec(l.config.name)?.[1] ?? -1)),
  );
  const isTop = (layer: string) =>
    layer.startsWith(`block_${lastBlock}_`) || layer === "Conv_1" || layer === "Conv_1_bn";

  const model = buildModel(withHead(loadedBase.spec), { initialize: { seed: 5 } });
  const dir = await Deno.makeTempDir();
  try {
    // Phase 1: base frozen, head trained.
    model.setTrainable(baseName, false);
    const start = snapshot(model.toSpec().weights);
    await fit(model, transferData(new Rng(1700), 32), 1e-2);
    const phase1 = snapshot(model.toSpec().weights);
    assert.deepEqual(changedKeys(start, phase1), ["head"], "phase 1: only the head may change");
    assert.deepEqual(fullyChangedKeys(start, phase1), ["head"], "phase 1: the head trained");

    // saveKeras → loadModel → identical predictions and weights.
    const path = `${dir}/transfer.keras`;
    await saveKeras(model, path);
    const reloaded = await loadModel(path);
    try {
      const x = transferData(new Rng(1701), BATCH).x;
      const a = model.predict(x).data, b = reloaded.model!.predict(x).data;
      assert.equal(maxAbsDiff(a, b), 0, "reloaded model predicts differently");
      assert.equal(sameWeightsBitwise(phase1, reloaded.spec.weights), undefined);
    } finally {
      reloaded.model!.dispose();
    }

    // Phase 2: Keras's recipe — base.trainable = True, then every layer below the top block
    // frozen again; recompile with a small learning rate.
    model.setTrainable(baseName, true);
    for (const { config: { name } } of baseLayers) {
      if (!isTop(name) && phase1[`${baseName}/${name}`]) {
        model.setTrainable(`${baseName}/${name}`, false);
      }
    }
    await fit(model, transferData(new Rng(1702), 32), 1e-4);
    const phase2 = model.toSpec().weights;
    const top = Object.keys(phase1).filter((k) => k.startsWith(`${baseName}/`))
      .filter((k) => isTop(k.slice(baseName.length + 1)));
    const want = [...top, "head"].sort();
    assert.ok(top.length >= 6, `top block: ${top}`);
    assert.deepEqual(changedKeys(phase1, phase2), want, "phase 2: top block + head only");
    assert.deepEqual(fullyChangedKeys(phase1, phase2), want, "phase 2: every such weight moved");
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
