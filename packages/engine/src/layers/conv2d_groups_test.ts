/**
 * Conv2D with Keras `groups` (TF.js has no grouped convolution): forward vs a reference composed
 * of per-group `conv2dReference` calls; gradients vs TF.js `tf.variableGrads` of the equivalent
 * dense convolution (its kernel block-diagonal: zero between groups) and vs finite differences.
 */
import {
  buildModel,
  InputShapeError,
  LayerConfigError,
  type ModelSpec,
  Tensor,
} from "../../mod.ts";
import { modelGradients } from "../training/gradients.ts";
import { axisGeometry, type Padding } from "../conv_geometry.ts";
import { conv2dReference } from "../kernels/conv_reference.ts";
import { randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import { assertClose, assertCloseToScale, expectThrows } from "../../testing/assert.ts";
import { Rng } from "../../testing/random.ts";
import { compareWithFiniteDifferences, relativeError } from "../../testing/gradient_check.ts";
import { tfjsGradients } from "../../testing/tfjs_training.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";
import type { WeightTensor } from "../layer.ts";

interface GroupCase {
  h: number;
  w: number;
  c: number;
  filters: number;
  groups: number;
  k: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: Padding;
}

/** Channels [c0, c0 + n) of each row of a `rows × c` array, as a dense `rows × n` array. */
function channels(a: Float32Array, c: number, c0: number, n: number): Float32Array {
  const rows = a.length / c;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * c + c0, r * c + c0 + n), r * n);
  return out;
}

/** The grouped convolution as one `conv2dReference` per group, outputs side by side. */
function groupedReference(
  x: Float32Array,
  batch: number,
  kernel: Float32Array,
  bias: Float32Array,
  p: GroupCase,
): Float32Array {
  const gy = axisGeometry(p.h, p.k[0], p.strides[0], p.dilation[0], p.padding);
  const gx = axisGeometry(p.w, p.k[1], p.strides[1], p.dilation[1], p.padding);
  const cg = p.c / p.groups, fg = p.filters / p.groups;
  const y = new Float32Array(batch * gy.out * gx.out * p.filters);
  for (let g = 0; g < p.groups; g++) {
    const yg = conv2dReference(
      channels(x, p.c, g * cg, cg),
      channels(kernel, p.filters, g * fg, fg),
      bias.subarray(g * fg, (g + 1) * fg),
      {
        batch,
        h: p.h,
        w: p.w,
        c: cg,
        outH: gy.out,
        outW: gx.out,
        outC: fg,
        kh: p.k[0],
        kw: p.k[1],
        strides: p.strides,
        dilation: p.dilation,
        padTop: gy.padBefore,
        padLeft: gx.padBefore,
      },
    );
    const rows = yg.length / fg;
    for (let r = 0; r < rows; r++) y.set(yg.subarray(r * fg, (r + 1) * fg), r * p.filters + g * fg);
  }
  return y;
}

const CASES: GroupCase[] = [
  {
    h: 7,
    w: 9,
    c: 6,
    filters: 9,
    groups: 3,
    k: [3, 3],
    strides: [1, 1],
    dilation: [1, 1],
    padding: "same",
  },
  {
    h: 9,
    w: 7,
    c: 4,
    filters: 6,
    groups: 2,
    k: [3, 2],
    strides: [2, 1],
    dilation: [1, 1],
    padding: "valid",
  },
  {
    h: 8,
    w: 11,
    c: 6,
    filters: 4,
    groups: 2,
    k: [2, 3],
    strides: [1, 1],
    dilation: [2, 1],
    padding: "same",
  },
  {
    h: 5,
    w: 5,
    c: 5,
    filters: 10,
    groups: 5,
    k: [1, 1],
    strides: [2, 2],
    dilation: [1, 1],
    padding: "valid",
  },
  {
    h: 11,
    w: 9,
    c: 8,
    filters: 8,
    groups: 4,
    k: [5, 5],
    strides: [3, 2],
    dilation: [1, 1],
    padding: "same",
  },
];

function caseConfig(p: GroupCase, name = "gconv") {
  return {
    name,
    filters: p.filters,
    kernel_size: p.k,
    strides: p.strides,
    dilation_rate: p.dilation,
    padding: p.padding,
    groups: p.groups,
  };
}

Deno.test("Conv2D groups: forward equals per-group conv2dReference (paddings, strides, dilation, odd sizes, batch 1 and 17)", () => {
  const rng = new Rng(1501);
  for (const p of CASES) {
    const kernel = randomWeight(rng, "kernel", [...p.k, p.c / p.groups, p.filters], -0.5, 0.5);
    const bias = randomWeight(rng, "bias", [p.filters]);
    const spec = sequentialSpec([p.h, p.w, p.c], [{
      class_name: "Conv2D",
      config: caseConfig(p),
      weights: [kernel, bias],
    }]);
    const model = buildModel(spec);
    try {
      for (const batch of [1, 17]) {
        const x = rng.floats(batch * p.h * p.w * p.c);
        const got = model.predict(new Tensor(x, [batch, p.h, p.w, p.c]));
        const want = groupedReference(x, batch, kernel.data, bias.data, p);
        assertCloseToScale(got.data, want, 1e-5, `${JSON.stringify(p)} batch ${batch}`);
      }
    } finally {
      model.dispose();
    }
  }
});

/** The dense kernel equal to a grouped one: zero where filter and input channel differ in group. */
function blockDiagonal(kernel: Float32Array, p: GroupCase): Float32Array {
  const cg = p.c / p.groups, fg = p.filters / p.groups;
  const taps = p.k[0] * p.k[1];
  const out = new Float32Array(taps * p.c * p.filters);
  for (let t = 0; t < taps; t++) {
    for (let ci = 0; ci < cg; ci++) {
      for (let o = 0; o < p.filters; o++) {
        const g = Math.floor(o / fg);
        out[(t * p.c + g * cg + ci) * p.filters + o] = kernel[(t * cg + ci) * p.filters + o];
      }
    }
  }
  return out;
}

/** The block-diagonal entries of a dense kernel, in the grouped kernel's layout. */
function groupedPart(dense: Float32Array, p: GroupCase): Float32Array {
  const cg = p.c / p.groups, fg = p.filters / p.groups;
  const taps = p.k[0] * p.k[1];
  const out = new Float32Array(taps * cg * p.filters);
  for (let t = 0; t < taps; t++) {
    for (let ci = 0; ci < cg; ci++) {
      for (let o = 0; o < p.filters; o++) {
        const g = Math.floor(o / fg);
        out[(t * cg + ci) * p.filters + o] = dense[(t * p.c + g * cg + ci) * p.filters + o];
      }
    }
  }
  return out;
}

/**
 * conv (dense, 3 → c) → grouped conv (tanh) → global average → softmax: the grouped layer's
 * input gradient reaches the first conv's weights. With `dense`, the grouped layer is the
 * equivalent dense Conv2D with a block-diagonal kernel (what TF.js can run).
 */
function gradientSpec(p: GroupCase, rng: Rng, dense: boolean): ModelSpec {
  const kernel = randomWeight(rng, "kernel", [...p.k, p.c / p.groups, p.filters], -0.5, 0.5);
  const grouped: WeightTensor[] = [kernel, randomWeight(rng, "bias", [p.filters])];
  const config = { ...caseConfig(p), activation: "tanh" };
  return sequentialSpec([p.h, p.w, 3], [
    {
      class_name: "Conv2D",
      config: { name: "first", filters: p.c, kernel_size: 3, padding: "same" },
      weights: [
        randomWeight(rng, "kernel", [3, 3, 3, p.c], -0.5, 0.5),
        randomWeight(rng, "bias", [p.c]),
      ],
    },
    {
      class_name: "Conv2D",
      config: dense ? { ...config, groups: 1 } : config,
      weights: dense
        ? [
          { name: "kernel", shape: [...p.k, p.c, p.filters], data: blockDiagonal(kernel.data, p) },
          {
            ...grouped[1],
          },
        ]
        : grouped,
    },
    { class_name: "GlobalAveragePooling2D", config: { name: "gap" } },
    {
      class_name: "Dense",
      config: { name: "probs", units: 4, activation: "softmax" },
      weights: [randomWeight(rng, "kernel", [p.filters, 4]), randomWeight(rng, "bias", [4])],
    },
  ]);
}

/** The engine's loss and gradients of `spec` (the dense reference where TF.js has none). */
function engineGradients(
  spec: ModelSpec,
  x: Float32Array,
  shape: number[],
  y: Int32Array,
): { loss: number; grads: Float32Array[] } {
  const model = buildModel(spec);
  try {
    const r = modelGradients(model, new Tensor(x, shape), new Tensor(y, [shape[0]]), {
      loss: "sparse_categorical_crossentropy",
    });
    return { loss: r.loss, grads: r.grads.map((g) => g.data) };
  } finally {
    model.dispose();
  }
}

Deno.test("Conv2D groups: every weight gradient (and the input gradient, through the conv before) equals TF.js's (dilated: the engine's) of the block-diagonal dense convolution within 1e-4, batch 1 and 17", async () => {
  await tfReady();
  const loss = { name: "sparse_categorical_crossentropy" as const };
  for (const [i, p] of CASES.entries()) {
    for (const batch of [1, 17]) {
      const grouped = gradientSpec(p, new Rng(1600 + i), false);
      const dense = gradientSpec(p, new Rng(1600 + i), true);
      const rng = new Rng(1700 + i);
      const x = rng.floats(batch * p.h * p.w * 3);
      const y = Int32Array.from({ length: batch }, () => rng.int(0, 4));
      const model = buildModel(grouped);
      try {
        const mine = modelGradients(
          model,
          new Tensor(x, [batch, p.h, p.w, 3]),
          new Tensor(y, [batch]),
          {
            loss,
          },
        );
        // TF.js has no gradient of a dilated convolution: there the engine's dense Conv2D
        // (checked against TF.js without dilation and finite differences elsewhere) is the reference.
        const ref = p.dilation.some((d) => d > 1)
          ? engineGradients(dense, x, [batch, p.h, p.w, 3], y)
          : tfjsGradients(dense, x, [batch, p.h, p.w, 3], y, { loss });
        if (!(Math.abs(mine.loss - ref.loss) <= 1e-5 * Math.max(1, ref.loss))) {
          throw new Error(`loss ${mine.loss} vs TF.js ${ref.loss}`);
        }
        // Weight order: first kernel, bias; grouped kernel, bias; Dense kernel, bias.
        ref.grads[2] = groupedPart(ref.grads[2], p);
        mine.grads.forEach((g, j) => {
          const e = relativeError(g.data, ref.grads[j]);
          if (!(e <= 1e-4)) throw new Error(`case ${i} batch ${batch} ${g.name}: ${e}`);
        });
      } finally {
        model.dispose();
      }
    }
  }
});

Deno.test("Conv2D groups: weight gradients vs finite differences", () => {
  const p = CASES[1];
  const spec = gradientSpec(p, new Rng(1800), false);
  const rng = new Rng(1801);
  const x = rng.floats(3 * p.h * p.w * 3);
  const y = Int32Array.from({ length: 3 }, () => rng.int(0, 4));
  compareWithFiniteDifferences(spec, x, [3, p.h, p.w, 3], y, {
    name: "sparse_categorical_crossentropy",
  });
});

Deno.test("Conv2D groups: fit trains a grouped layer (the loss falls) and predict after fit (BN folded into the grouped conv) equals fuse:false", async () => {
  const p = CASES[0];
  const spec = gradientSpec(p, new Rng(1900), false);
  const cfg = spec.config.config as { layers: unknown[] };
  cfg.layers.splice(3, 0, { class_name: "BatchNormalization", config: { name: "bn" } });
  (cfg.layers[2] as { config: Record<string, unknown> }).config.activation = "linear";
  const model = buildModel(spec, { initialize: { seed: 3 } });
  const rng = new Rng(1901);
  const x = new Tensor(rng.floats(16 * p.h * p.w * 3), [16, p.h, p.w, 3]);
  const y = new Tensor(Float32Array.from({ length: 16 }, (_, i) => i % 4), [16]);
  try {
    model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy" });
    const h = await model.fit(x, y, { epochs: 8, batchSize: 16, verbose: 0 });
    const losses = h.history.loss as number[];
    if (!(losses[losses.length - 1] < losses[0])) throw new Error(`loss ${losses}`);
    const plain = buildModel(model.toSpec(), { fuse: false });
    try {
      assertClose(model.predict(x).data, plain.predict(x).data, 1e-5, "fused vs unfused");
    } finally {
      plain.dispose();
    }
  } finally {
    model.dispose();
  }
});

Deno.test("Conv2D groups: groups not dividing filters or the input channels are refused by name", () => {
  const base = { name: "gconv", filters: 6, kernel_size: 3 };
  expectThrows(
    () =>
      buildModel(
        sequentialSpec([5, 5, 6], [{ class_name: "Conv2D", config: { ...base, groups: 4 } }]),
      ),
    LayerConfigError,
    "gconv",
    "groups",
  );
  expectThrows(
    () =>
      buildModel(
        sequentialSpec([5, 5, 6], [{ class_name: "Conv2D", config: { ...base, groups: 0 } }]),
      ),
    LayerConfigError,
    "gconv",
    "groups",
  );
  expectThrows(
    () =>
      buildModel(
        sequentialSpec([5, 5, 4], [{ class_name: "Conv2D", config: { ...base, groups: 3 } }]),
      ),
    InputShapeError,
    "gconv",
    "groups (3)",
  );
});
