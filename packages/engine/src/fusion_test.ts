/**
 * Inference-time fusion (`fusion.ts`): `predict` with BatchNormalization and activation layers
 * folded into the preceding convolution / Dense equals the unfused run (`fuse: false`) within
 * 1e-5, and the folded copies follow the weights after `setWeights` and after `fit`.
 */
import { buildModel, type Model } from "./model.ts";
import { Tensor } from "./tensor.ts";
import type { KerasObject } from "./spec.ts";
import type { WeightTensor } from "./layer.ts";
import { ModelConfigError } from "./errors.ts";
import { assertClose, expectThrows } from "../testing/assert.ts";
import { maxAbsDiff, Rng } from "../testing/random.ts";
import { GRAPH_CASES, specFromTfjs } from "../testing/tfjs_graphs.ts";
import { tfReady } from "../testing/tfjs_reference.ts";

const TOL = 1e-5;

const layer = (class_name: string, config: Record<string, unknown>) => ({ class_name, config });

/** Conv–BN–ReLU chains of every host class and activation layer kind, 9×9×3 → 3 classes. */
function fusableConfig(): KerasObject {
  return {
    class_name: "Sequential",
    config: {
      name: "fusable",
      layers: [
        layer("InputLayer", { name: "image", batch_shape: [null, 9, 9, 3] }),
        layer("Conv2D", { name: "c1", filters: 6, kernel_size: 3, padding: "same" }),
        layer("BatchNormalization", { name: "bn1" }),
        layer("ReLU", { name: "r1" }),
        layer("DepthwiseConv2D", {
          name: "dw",
          kernel_size: 3,
          strides: 2,
          depth_multiplier: 2,
          padding: "valid",
        }),
        layer("BatchNormalization", { name: "bn2", epsilon: 1e-5 }),
        layer("ReLU", { name: "r6", max_value: 6 }),
        layer("Conv2D", { name: "c2", filters: 5, kernel_size: 1, use_bias: false }),
        layer("BatchNormalization", { name: "bn3", scale: false }),
        layer("Activation", { name: "sw", activation: "swish" }),
        layer("Conv2DTranspose", { name: "ct", filters: 4, kernel_size: 3, strides: 2 }),
        layer("BatchNormalization", { name: "bn4", center: false }),
        layer("GlobalAveragePooling2D", { name: "gap" }),
        layer("Dense", { name: "d1", units: 7 }),
        layer("BatchNormalization", { name: "bn5" }),
        layer("Activation", { name: "th", activation: "tanh" }),
        layer("Dense", { name: "out", units: 3, activation: "softmax" }),
      ],
    },
  };
}

/** Moves every BatchNormalization's statistics and γ/β away from the identity. */
function randomizeBatchNorms(model: Model, rng: Rng): void {
  model.setWeights(
    model.getWeights().map((w): WeightTensor => {
      const n = w.data.length;
      if (/\/(gamma|moving_variance)$/.test(w.name)) return { ...w, data: rng.floats(n, 0.3, 2) };
      if (/\/(beta|moving_mean)$/.test(w.name)) return { ...w, data: rng.floats(n, -1, 1) };
      return w;
    }),
  );
}

function fusableModels(seed: number): [Model, Model] {
  const models = [true, false].map((fuse) => {
    const m = buildModel({ config: fusableConfig(), weights: {}, kerasVersion: "3.10.0" }, {
      initialize: { seed },
      fuse,
    });
    randomizeBatchNorms(m, new Rng(seed));
    return m;
  }) as [Model, Model];
  return models;
}

/** Runs both models and returns max |Δ| of the outputs (fails above TOL). */
function compare(fused: Model, plain: Model, x: Tensor, what: string): number {
  const a = fused.predict(x);
  const b = plain.predict(x);
  assertClose(a.data, b.data, TOL, what);
  return maxAbsDiff(a.data, b.data);
}

Deno.test("fusion: Conv2D / DepthwiseConv2D / Conv2DTranspose / Dense with BatchNormalization and ReLU / Activation layers folded equal fuse:false within 1e-5 at batch 1 and 17, and the fused plan holds fewer tensors", () => {
  const [fused, plain] = fusableModels(3);
  const rng = new Rng(4);
  try {
    for (const batch of [1, 17]) {
      const x = new Tensor(rng.floats(batch * 9 * 9 * 3, -2, 2), [batch, 9, 9, 3]);
      compare(fused, plain, x, `batch ${batch}`);
      // Every conv/Dense output and every BN output of the chains is gone from the fused plan.
      const f = fused.lastPredictMemory.totalBytes, p = plain.lastPredictMemory.totalBytes;
      if (!(f < p * 0.5)) throw new Error(`fused plan produced ${f} bytes, unfused ${p}`);
    }
  } finally {
    fused.dispose();
    plain.dispose();
  }
});

/**
 * ZeroPadding2D → DepthwiseConv2D chains, 13×12×5: MobileNetV2's ((0, 1), (0, 1)) before a
 * stride-2 valid window with BN and relu6; asymmetric padding before a `same` window with depth
 * multiplier 2 and no chain after it; padding wider than the window's reach before a dilated one;
 * and a padding also read by another layer (not folded).
 */
function paddedDepthwiseConfig(): KerasObject {
  const input = (name: string) => [[[name, 0, 0, {}]]];
  const node = (
    class_name: string,
    name: string,
    config: Record<string, unknown>,
    from: string,
  ) => ({
    class_name,
    name,
    config: { name, ...config },
    inbound_nodes: input(from),
  });
  return {
    class_name: "Functional",
    config: {
      name: "padded_depthwise",
      layers: [
        {
          class_name: "InputLayer",
          name: "image",
          config: { name: "image", batch_shape: [null, 13, 12, 5] },
          inbound_nodes: [],
        },
        node("ZeroPadding2D", "p1", { padding: [[0, 1], [0, 1]] }, "image"),
        node("DepthwiseConv2D", "dw1", { kernel_size: 3, strides: 2, use_bias: false }, "p1"),
        node("BatchNormalization", "bn1", {}, "dw1"),
        node("ReLU", "r1", { max_value: 6 }, "bn1"),
        node("ZeroPadding2D", "p2", { padding: [[2, 1], [0, 3]] }, "r1"),
        node("DepthwiseConv2D", "dw2", {
          kernel_size: [3, 2],
          depth_multiplier: 2,
          padding: "same",
        }, "p2"),
        node("ZeroPadding2D", "p3", { padding: 4 }, "dw2"),
        node("DepthwiseConv2D", "dw3", { kernel_size: 3, dilation_rate: 2 }, "p3"),
        node("ReLU", "r3", {}, "dw3"),
        node("ZeroPadding2D", "p4", { padding: 1 }, "r3"),
        node("DepthwiseConv2D", "dw4", { kernel_size: 3, strides: 2 }, "p4"),
        node("GlobalAveragePooling2D", "gap4", {}, "dw4"),
        node("GlobalAveragePooling2D", "gapP", {}, "p4"),
        {
          class_name: "Concatenate",
          name: "cat",
          config: { name: "cat" },
          inbound_nodes: [[["gap4", 0, 0, {}], ["gapP", 0, 0, {}]]],
        },
      ],
      input_layers: [["image", 0, 0]],
      output_layers: [["cat", 0, 0]],
    },
  };
}

Deno.test("fusion: a ZeroPadding2D read only by a DepthwiseConv2D is folded into it (padding, BN and activation in one step) and equals fuse:false within 1e-5 at batch 1 and 17", () => {
  const models = [true, false].map((fuse) => {
    const m = buildModel(
      { config: paddedDepthwiseConfig(), weights: {}, kerasVersion: "3.10.0" },
      { initialize: { seed: 8 }, fuse },
    );
    randomizeBatchNorms(m, new Rng(8));
    return m;
  });
  const [fused, plain] = models;
  const rng = new Rng(9);
  try {
    for (const batch of [1, 17]) {
      const x = new Tensor(rng.floats(batch * 13 * 12 * 5, -2, 2), [batch, 13, 12, 5]);
      compare(fused, plain, x, `batch ${batch}`);
      // Gone from the fused plan: the paddings p1 (14×13×5), p2 (9×9×5) and p3 (17×17×10), and
      // the chains' inner outputs dw1 and bn1 (6×6×5 each) and dw3 (13×13×10); p4 stays.
      const gone = batch * (14 * 13 * 5 + 9 * 9 * 5 + 17 * 17 * 10 + 2 * 6 * 6 * 5 + 13 * 13 * 10) *
        4;
      const f = fused.lastPredictMemory.totalBytes, p = plain.lastPredictMemory.totalBytes;
      if (p - f !== gone) throw new Error(`fused plan produced ${f} bytes, unfused ${p}`);
    }
  } finally {
    fused.dispose();
    plain.dispose();
  }
});

Deno.test("fusion: a conv output read by another layer or wanted as an output is not folded (still equal to fuse:false)", () => {
  const [fused, plain] = fusableModels(5);
  const x = new Tensor(new Rng(6).floats(2 * 9 * 9 * 3, -2, 2), [2, 9, 9, 3]);
  try {
    for (const outputs of [["c1", "out"], ["bn1"], ["bn3", "d1"]]) {
      const a = fused.predictMany([x], { outputs });
      const b = plain.predictMany([x], { outputs });
      a.forEach((t, i) => assertClose(t.data, b[i].data, TOL, `outputs ${outputs} #${i}`));
    }
  } finally {
    fused.dispose();
    plain.dispose();
  }
});

Deno.test("fusion: the folded copies follow setWeights and fit (optimizer steps and moving statistics)", async () => {
  const [fused, plain] = fusableModels(7);
  const rng = new Rng(8);
  const x = new Tensor(rng.floats(16 * 9 * 9 * 3, -2, 2), [16, 9, 9, 3]);
  const y = new Tensor(Float32Array.from({ length: 16 }, (_, i) => i % 3), [16]);
  try {
    const before = fused.predict(x); // builds the folded copies
    // setWeights: new BN statistics and conv kernels.
    randomizeBatchNorms(fused, new Rng(9));
    randomizeBatchNorms(plain, new Rng(9));
    const afterSet = fused.predict(x);
    if (maxAbsDiff(afterSet.data, before.data) < 1e-3) {
      throw new Error("setWeights changed nothing");
    }
    compare(fused, plain, x, "after setWeights");
    // fit: trains the unfused layers (BN in training mode, moving statistics updated).
    fused.compile({ optimizer: "sgd", loss: "sparse_categorical_crossentropy" });
    await fused.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    const trained = fused.predict(x);
    if (maxAbsDiff(trained.data, afterSet.data) < 1e-4) throw new Error("fit changed nothing");
    const reference = buildModel(fused.toSpec(), { fuse: false });
    try {
      compare(fused, reference, x, "after fit");
    } finally {
      reference.dispose();
    }
  } finally {
    fused.dispose();
    plain.dispose();
  }
});

Deno.test("fusion: fuse must be a boolean (ModelConfigError)", () => {
  expectThrows(
    () =>
      buildModel({ config: fusableConfig(), weights: {} }, {
        fuse: "yes" as unknown as boolean,
      }),
    ModelConfigError,
    "fuse",
    '"yes"',
  );
});

const FOLDED_CASES = new Set(["residual_cnn", "transfer", "transfer_functional"]);

for (const c of GRAPH_CASES) {
  Deno.test(`fusion: graph ${c.name} fused equals fuse:false within 1e-5 at batch 1 and 17`, async () => {
    await tfReady();
    const spec = specFromTfjs(c.build(21));
    const fused = buildModel(spec);
    const plain = buildModel(spec, { fuse: false });
    const rng = new Rng(22);
    try {
      for (const batch of [1, 17]) {
        const xs = c.inputs(rng, batch).map((h) => new Tensor(h.data, h.shape));
        const a = fused.predictMany(xs);
        const b = plain.predictMany(xs);
        a.forEach((t, i) => assertClose(t.data, b[i].data, TOL, `batch ${batch} output ${i}`));
        // These two hold Conv–BN–ReLU chains: the fused plan must have dropped tensors.
        const f = fused.lastPredictMemory.totalBytes, p = plain.lastPredictMemory.totalBytes;
        if (FOLDED_CASES.has(c.name) && !(f < p)) throw new Error(`nothing fused (${f} ≥ ${p})`);
      }
    } finally {
      fused.dispose();
      plain.dispose();
    }
  });
}
