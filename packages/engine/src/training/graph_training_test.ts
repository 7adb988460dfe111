/**
 * Issue 14, training: on the TF.js reference graphs (residual CNN, Inception block, shared
 * layers, nested models, masked text with merges), one engine step's gradient of every trainable
 * weight vs `tf.variableGrads` (≤ 1e-4 relative; tensors consumed twice sum their gradients);
 * fine-tuning a frozen base (weights and BatchNormalization statistics bit-identical after 3
 * epochs, unfreezing the top block changes exactly those weights); Keras-style `summary()`
 * trainable / non-trainable counts equal TF.js's.
 *
 * The engine's gradient is read off one SGD step with learning rate 1 and no momentum
 * (new weights = old − gradient), so it is the trainer's own forward/backward on the graph.
 */
import { buildModel, type Model, SGD, Tensor, type WeightTensor } from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { copyWeights, expectGraphGradientsMatchTfjs } from "../../testing/graph_gradients.ts";
import {
  GRAPH_CASES,
  keras3SpecFromTfjs,
  keyedWeights,
  specFromTfjs,
  tfjsParamCounts,
  TRANSFER_TOP_BLOCK,
  transferInferenceCall,
  transferModel,
} from "../../testing/tfjs_graphs.ts";
import { type tf, tfReady } from "../../testing/tfjs_reference.ts";

const TOL = 1e-4;
const SPARSE = { name: "sparse_categorical_crossentropy" as const };

/**
 * `trainOnBatch` on one tensor per model input. Multi-input training takes `x: Tensor[]`; the
 * cast keeps this file compiling while the engine's signature still names one Tensor.
 */
const dialects = { keras2: specFromTfjs, keras3: keras3SpecFromTfjs } as const;

for (const c of GRAPH_CASES.filter((g) => g.singleOutput)) {
  for (const [dialect, toSpec] of Object.entries(dialects)) {
    Deno.test(`gradients of ${c.name} (${dialect} config): every trainable weight, engine vs tf.variableGrads ≤ ${TOL} relative`, async () => {
      await tfReady();
      const ref = c.build(24);
      const rng = new Rng(2400);
      const batch = 6;
      const xs = c.inputs(rng, batch);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, c.classes));
      const spec = toSpec(ref);
      const weights = keyedWeights(ref);
      try {
        // A zero gradient would make the comparison vacuous (blindBelow).
        const { worst, got, want } = expectGraphGradientsMatchTfjs(ref, spec, xs, y, c.name, {
          tol: TOL,
          trainableOnly: true,
          blindBelow: 1e-6,
        });
        // Weights that are not trainable stay, except BatchNormalization's moving statistics.
        for (const w of weights.filter((w) => !w.trainable && !/^moving_/.test(w.name))) {
          const g = got.get(`${w.key}#${w.index}`)!;
          if (g.some((v) => v !== 0)) throw new Error(`non-trainable ${w.key}/${w.name} changed`);
        }
        console.log(
          `${c.name} (${dialect}): ${want.size} gradients, worst relative error ` +
            worst.toExponential(2),
        );
      } finally {
        ref.dispose();
      }
    });
  }
}

// ---- fine-tuning ----------------------------------------------------------------------------

const BOTTOM = ["conv1", "bn1", "conv2", "bn2"];

function transferData(rng: Rng, n: number, classes = 4): { x: Tensor; y: Tensor } {
  // Per-image brightness per channel (the class) plus noise: a learnable task.
  const y = Float32Array.from({ length: n }, () => rng.int(0, classes));
  const x = new Float32Array(n * 8 * 8 * 3);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < 64; p++) {
      for (let ch = 0; ch < 3; ch++) {
        x[(i * 64 + p) * 3 + ch] = (ch === y[i] % 3 ? 1 : -0.5) + rng.uniform(-0.5, 0.5);
      }
    }
  }
  return { x: new Tensor(x, [n, 8, 8, 3]), y: new Tensor(y, [n]) };
}

/** Keys of `after` whose weights (any of them) differ bitwise from `before`. */
function changedKeys(
  before: Record<string, WeightTensor[]>,
  after: Record<string, WeightTensor[]>,
): string[] {
  return Object.keys(before).filter((k) =>
    before[k].some((w, i) => maxAbsDiff(w.data, after[k][i].data) !== 0)
  ).sort();
}

/** Keys of weights where every tensor changed (each weight of the layer moved). */
function fullyChangedKeys(
  before: Record<string, WeightTensor[]>,
  after: Record<string, WeightTensor[]>,
): string[] {
  return Object.keys(before).filter((k) =>
    before[k].every((w, i) => maxAbsDiff(w.data, after[k][i].data) > 0)
  ).sort();
}

async function fit3(model: Model, data: { x: Tensor; y: Tensor }, lr: number): Promise<void> {
  model.compile({ optimizer: new SGD({ learningRate: lr, momentum: 0.9 }), loss: SPARSE.name });
  await model.fit(data.x, data.y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: true });
}

/** Total / trainable / non-trainable counts from the engine's `summary()` text. */
function summaryCounts(model: Model): { total: number; trainable: number; nonTrainable: number } {
  const text = model.summary();
  const read = (label: string) => {
    const m = text.match(new RegExp(`^${label}: ([\\d,]+)`, "m"));
    if (!m) throw new Error(`summary has no "${label}:" line:\n${text}`);
    return Number(m[1].replaceAll(",", ""));
  };
  return {
    total: read("Total params"),
    trainable: read("Trainable params"),
    nonTrainable: read("Non-trainable params"),
  };
}

function expectCountsMatch(label: string, model: Model, ref: tf.LayersModel): void {
  const got = summaryCounts(model), want = tfjsParamCounts(ref);
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(
      `${label}: summary counts ${JSON.stringify(got)} vs TF.js ${JSON.stringify(want)}`,
    );
  }
}

for (const via of ["setTrainable", "config"] as const) {
  Deno.test(`fine-tuning (${via}): a frozen base stays bit-identical over 3 epochs of the head, BN statistics included`, async () => {
    await tfReady();
    const ref = transferModel(25, via === "config" ? ["base"] : []);
    const spec = specFromTfjs(ref);
    if (via === "config") {
      const base = (spec.config.config as { layers: { config: { trainable?: boolean } }[] })
        .layers[0];
      if (base.config.trainable !== false) throw new Error("config does not freeze the base");
    }
    const start = copyWeights(spec);
    const model = buildModel(spec);
    try {
      if (via === "setTrainable") {
        model.setTrainable("base", false);
        ref.getLayer("base").trainable = false;
      }
      expectCountsMatch("frozen base", model, ref);
      await fit3(model, transferData(new Rng(2500), 32), 0.05);
      const after = model.toSpec().weights;
      const changed = changedKeys(start, after);
      if (JSON.stringify(changed) !== JSON.stringify(["head"])) {
        throw new Error(`changed: ${changed} (only the head may change)`);
      }
      if (fullyChangedKeys(start, after).join() !== "head") throw new Error("head did not train");
    } finally {
      model.dispose();
      ref.dispose();
    }
  });
}

Deno.test("fine-tuning phase 2: unfreezing the base's top block changes exactly top_conv, top_bn and the head", async () => {
  await tfReady();
  const ref = transferModel(26);
  const spec = specFromTfjs(ref);
  const model = buildModel(spec);
  try {
    // Phase 1: head only.
    model.setTrainable("base", false);
    await fit3(model, transferData(new Rng(2600), 32), 0.05);
    const phase1 = copyWeights(model.toSpec());
    // Phase 2: unfreeze the base, freeze its bottom again (Keras: base.trainable = True, then
    // layer.trainable = False for all but the top block), recompile with a small learning rate.
    model.setTrainable("base", true);
    for (const name of BOTTOM) model.setTrainable(`base/${name}`, false);
    const base = ref.getLayer("base") as tf.LayersModel;
    for (const name of BOTTOM) base.getLayer(name).trainable = false;
    expectCountsMatch("top block unfrozen", model, ref);
    await fit3(model, transferData(new Rng(2601), 32), 0.01);
    const after = model.toSpec().weights;
    const want = [...TRANSFER_TOP_BLOCK.map((n) => `base/${n}`), "head"].sort();
    const changed = changedKeys(phase1, after);
    if (JSON.stringify(changed) !== JSON.stringify(want)) {
      throw new Error(`changed: ${changed}; expected exactly ${want}`);
    }
    // Every weight of those layers moved: kernel, gamma, beta and the moving statistics.
    const full = fullyChangedKeys(phase1, after);
    if (JSON.stringify(full) !== JSON.stringify(want)) {
      throw new Error(`fully changed: ${full}; expected ${want}`);
    }
  } finally {
    model.dispose();
    ref.dispose();
  }
});

Deno.test("fine-tuning by config: trainable: false on the base's bottom layers trains only the top block and the head", async () => {
  await tfReady();
  const ref = transferModel(27, BOTTOM);
  const spec = specFromTfjs(ref);
  const start = copyWeights(spec);
  const model = buildModel(spec);
  try {
    expectCountsMatch("bottom frozen by config", model, ref);
    await fit3(model, transferData(new Rng(2700), 32), 0.01);
    const want = [...TRANSFER_TOP_BLOCK.map((n) => `base/${n}`), "head"].sort();
    const changed = changedKeys(start, model.toSpec().weights);
    if (JSON.stringify(changed) !== JSON.stringify(want)) {
      throw new Error(`changed: ${changed}; expected exactly ${want}`);
    }
  } finally {
    model.dispose();
    ref.dispose();
  }
});

for (const [dialect, toSpec] of Object.entries(dialects)) {
  Deno.test(`fine-tuning with base(x, training=False) (${dialect} config): the base trains but its BatchNormalization statistics stay bit-identical`, async () => {
    await tfReady();
    const ref = transferInferenceCall(29);
    const spec = toSpec(ref);
    const start = copyWeights(spec);
    const model = buildModel(spec);
    try {
      expectCountsMatch("inference call", model, ref);
      await fit3(model, transferData(new Rng(2900), 32), 0.01);
      const after = model.toSpec().weights;
      const problems: string[] = [];
      for (const w of keyedWeights(ref)) {
        const moved = maxAbsDiff(start[w.key][w.index].data, after[w.key][w.index].data) > 0;
        const statistic = /^moving_/.test(w.name);
        if (statistic && moved) {
          problems.push(`${w.key}/${w.name} moved (must stay: training=False)`);
        }
        if (!statistic && !moved) problems.push(`${w.key}/${w.name} did not train`);
      }
      if (problems.length) throw new Error(problems.join("; "));
    } finally {
      model.dispose();
      ref.dispose();
    }
  });
}

Deno.test("summary: total / trainable / non-trainable counts equal TF.js's on every reference graph; Functional rows say what they are connected to", async () => {
  await tfReady();
  const problems: string[] = [];
  for (const c of GRAPH_CASES) {
    const ref = c.build(28);
    let model: Model | undefined;
    try {
      model = buildModel(specFromTfjs(ref));
      expectCountsMatch(c.name, model, ref);
      if (model.countParams() !== ref.countParams()) {
        throw new Error(`${c.name}: countParams ${model.countParams()} vs ${ref.countParams()}`);
      }
      if (c.name === "residual_cnn") {
        const text = model.summary();
        if (!/Connected to/.test(text)) throw new Error(`no "Connected to" column:\n${text}`);
        const row = text.split("\n").find((l) => l.startsWith("res1_add "));
        if (!row || !row.includes("res1_conv_b[0][0]") || !row.includes("stem[0][0]")) {
          throw new Error(`res1_add row does not name both inputs:\n${text}`);
        }
      }
    } catch (e) {
      problems.push(`${c.name}: ${(e as Error).message}`);
    } finally {
      model?.dispose();
      ref.dispose();
    }
  }
  if (problems.length) throw new Error(problems.join("\n"));
});

Deno.test("evaluate on every single-output reference graph (several inputs too): the loss of predict's outputs, repeatable, no device memory kept", async () => {
  await tfReady();
  const { heap } = getRuntime();
  for (const c of GRAPH_CASES.filter((g) => g.singleOutput)) {
    const ref = c.build(29);
    const model = buildModel(specFromTfjs(ref));
    try {
      const rng = new Rng(2929);
      const batch = 7;
      const xs = c.inputs(rng, batch).map((x) => new Tensor(x.data, x.shape));
      const y = Float32Array.from({ length: batch }, () => rng.int(0, c.classes));
      model.compile({ optimizer: "sgd", loss: "sparse_categorical_crossentropy" });
      const p = model.predictMany(xs)[0];
      const cols = p.shape[p.shape.length - 1];
      let want = 0;
      for (let i = 0; i < batch; i++) want -= Math.log(p.data[i * cols + y[i]]);
      want /= batch;
      // (The first call builds the trainer's own buffers.)
      model.evaluate(xs, new Tensor(y, [batch]));
      const live = heap.liveCount;
      for (let k = 0; k < 3; k++) {
        const got = model.evaluate(xs, new Tensor(y, [batch])).loss;
        if (!(Math.abs(got - want) <= 1e-5 * Math.max(1, want))) {
          throw new Error(`${c.name}: evaluate loss ${got} vs predict's ${want}`);
        }
      }
      if (heap.liveCount !== live) {
        throw new Error(`${c.name}: evaluate kept ${heap.liveCount - live} blocks`);
      }
    } finally {
      model.dispose();
      ref.dispose();
    }
  }
});
