import {
  buildModel,
  dropoutScaleReference,
  InputShapeError,
  LayerConfigError,
  mixSeed,
  modelGradients,
  Tensor,
} from "../../mod.ts";
import { expectThrows } from "../../testing/assert.ts";
import { randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { runLayerTraining } from "../../testing/layer_training_run.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, TFJS_LAYER_BUILDERS, tfReady } from "../../testing/tfjs_reference.ts";
import { tfjsGradients } from "../../testing/tfjs_training.ts";
import { SPATIAL_DROPOUT2D } from "./spatial_dropout2d.ts";

// TF.js has no SpatialDropout2D: in the gradient reference the layer is replaced by the engine's
// scales (tfjsGradients' dropoutScales), so an identity stands in for it in the TF.js model.
TFJS_LAYER_BUILDERS.set(
  "SpatialDropout2D",
  (_c, base) => tf.layers.activation({ ...base, activation: "linear" }),
);

/** Logs a measured value when REPORT_ERRORS is set (for reports; tests stay quiet otherwise). */
const report = (what: string, v: number) => {
  if (Deno.env.get("REPORT_ERRORS")) console.log(`${what}: ${v.toExponential(2)}`);
};

const config = (rate: number, dataFormat = "channels_last") => ({
  name: "sd",
  rate,
  data_format: dataFormat,
});

/**
 * Reference: the full-size scales of a [batch, d1, d2, d3] input — Dropout's keep scale of
 * draw (sampleOffset + b)·channels + c broadcast over the feature map.
 */
function referenceScales(
  shape: number[],
  rate: number,
  seed: number,
  sampleOffset: number,
  channelsLast = true,
): Float32Array {
  const [batch, d1, d2, d3] = shape;
  const channels = channelsLast ? d3 : d1;
  const out = new Float32Array(batch * d1 * d2 * d3);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < d1; i++) {
      for (let j = 0; j < d2; j++) {
        for (let k = 0; k < d3; k++) {
          const c = channelsLast ? k : i;
          out[((b * d1 + i) * d2 + j) * d3 + k] = dropoutScaleReference(
            seed,
            (sampleOffset + b) * channels + c,
            rate,
          );
        }
      }
    }
  }
  return out;
}

Deno.test("SpatialDropout2D is the identity at inference and in training=False calls", () => {
  const rng = new Rng(181);
  for (const df of ["channels_last", "channels_first"]) {
    const spec = randomSpec([{ class_name: "SpatialDropout2D", config: config(0.5, df) }], [
      5,
      3,
      7,
    ], rng);
    const model = buildModel(spec);
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 105);
      if (maxAbsDiff(model.predict(new Tensor(x, [batch, 5, 3, 7])).data, x) !== 0) {
        throw new Error(`${df} batch ${batch}: predict is not the identity`);
      }
    }
    model.dispose();
    const x = rng.floats(2 * 105);
    const { y } = runLayerTraining(SPATIAL_DROPOUT2D, config(0.5, df), x, [2, 5, 3, 7], {
      seed: 3,
      training: false,
    });
    if (maxAbsDiff(y, x) !== 0) throw new Error("training=False must be the identity");
  }
});

Deno.test("SpatialDropout2D training: whole maps dropped, equal to the reference, dx = dy·scale", () => {
  const rng = new Rng(182);
  for (
    const [df, shape] of [["channels_last", [17, 5, 3, 7]], ["channels_first", [
      1,
      7,
      5,
      3,
    ]]] as const
  ) {
    const n = shape.reduce((a: number, b: number) => a * b, 1);
    const x = rng.floats(n, 0.5, 2); // no zeros: a dropped element is recognisable
    const dy = rng.floats(n);
    for (const rate of [0.2, 0.6]) {
      const { y, dx } = runLayerTraining(SPATIAL_DROPOUT2D, config(rate, df), x, [...shape], {
        seed: 77,
        dy,
      });
      const s = referenceScales([...shape], rate, 77, 0, df === "channels_last");
      const want = Float32Array.from(x, (v, i) => v * s[i]);
      if (maxAbsDiff(y, want) !== 0) throw new Error(`${df} rate ${rate}: forward`);
      if (maxAbsDiff(dx!, Float32Array.from(dy, (v, i) => v * s[i])) !== 0) {
        throw new Error(`${df} rate ${rate}: backward`);
      }
      // Every feature map is either all zeros or all scaled by 1/(1 − rate).
      const [batch, d1, d2, d3] = shape;
      const channels = df === "channels_last" ? d3 : d1;
      for (let b = 0; b < batch; b++) {
        for (let c = 0; c < channels; c++) {
          const ratios = new Set<number>();
          const keep = 1 / (1 - rate);
          for (let i = 0; i < d1; i++) {
            for (let j = 0; j < d2; j++) {
              for (let k = 0; k < d3; k++) {
                if ((df === "channels_last" ? k : i) !== c) continue;
                const o = ((b * d1 + i) * d2 + j) * d3 + k;
                ratios.add(y[o] === 0 ? 0 : Math.abs(y[o] / x[o] - keep) <= 1e-6 ? keep : NaN);
              }
            }
          }
          if (ratios.size !== 1 || ![0, keep].some((r) => ratios.has(r))) {
            throw new Error(`${df} sample ${b} channel ${c}: ratios ${[...ratios]}`);
          }
        }
      }
    }
  }
  // Hand-checked: rate 0 keeps everything; rate 1 drops everything.
  const x = new Float32Array([1, 2, 3, 4]);
  if (
    maxAbsDiff(runLayerTraining(SPATIAL_DROPOUT2D, config(0), x, [1, 1, 2, 2], { seed: 1 }).y, x)
  ) {
    throw new Error("rate 0");
  }
  const all = runLayerTraining(SPATIAL_DROPOUT2D, config(1), x, [1, 1, 2, 2], { seed: 1 }).y;
  if (all.some((v) => v !== 0)) throw new Error(`rate 1: ${all}`);
});

Deno.test("SpatialDropout2D statistics: kept fraction per channel ≈ 1 − rate; seeds and splits", () => {
  const rate = 0.3, channels = 6, batch = 40, steps = 100;
  const x = new Float32Array(batch * 2 * 2 * channels).fill(1);
  const kept = new Float64Array(channels);
  for (let step = 0; step < steps; step++) {
    const { y } = runLayerTraining(SPATIAL_DROPOUT2D, config(rate), x, [batch, 2, 2, channels], {
      seed: mixSeed(step, 5),
    });
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < channels; c++) if (y[b * 4 * channels + c] !== 0) kept[c]++;
    }
  }
  // 4000 draws per channel: σ of the fraction ≈ 0.0072; allow 4σ.
  let worst = 0;
  for (let c = 0; c < channels; c++) {
    const f = kept[c] / (batch * steps);
    worst = Math.max(worst, Math.abs(f - (1 - rate)));
    if (!(Math.abs(f - (1 - rate)) <= 0.03)) throw new Error(`channel ${c}: kept ${f}`);
  }
  report("SpatialDropout2D kept fraction max |f − (1 − rate)| per channel", worst);
  // Same seed → same maps; another seed → other maps.
  const rng = new Rng(183);
  const z = rng.floats(17 * 3 * 5 * 7, 0.5, 2);
  const run = (seed: number, off = 0, from = 0, to = 17) =>
    runLayerTraining(SPATIAL_DROPOUT2D, config(0.5), z.slice(from * 105, to * 105), [
      to - from,
      3,
      5,
      7,
    ], { seed, sampleOffset: off }).y;
  if (maxAbsDiff(run(9), run(9)) !== 0) throw new Error("same seed differs");
  if (maxAbsDiff(run(9), run(10)) === 0) throw new Error("another seed gives the same maps");
  // A batch split across workers (slices with their sample offsets) draws the same maps.
  const whole = run(9);
  const split = new Float32Array([...run(9, 0, 0, 6), ...run(9, 6, 6, 17)]);
  if (maxAbsDiff(whole, split) !== 0) throw new Error("split batch differs");
});

Deno.test("SpatialDropout2D gradients match tf.variableGrads with the same maps (batch 1, 17)", async () => {
  await tfReady();
  const rng = new Rng(184);
  const spec = randomSpec(
    [
      { class_name: "Conv2D", config: { name: "c", filters: 5, kernel_size: 3, padding: "same" } },
      { class_name: "SpatialDropout2D", config: config(0.4) },
      { class_name: "Flatten", config: { name: "f" } },
      { class_name: "Dense", config: { name: "d", units: 3, activation: "softmax" } },
    ],
    [5, 3, 2],
    rng,
  );
  const model = buildModel(spec);
  const index = model.layers.findIndex((l) => l.name === "sd");
  let worst = 0;
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * 30, -2, 2);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    const seed = 40 + batch;
    const loss = { name: "sparse_categorical_crossentropy" as const };
    const mine = modelGradients(model, new Tensor(x, [batch, 5, 3, 2]), new Tensor(y, [batch, 1]), {
      loss,
      seed,
    });
    const scales = referenceScales([batch, 5, 3, 5], 0.4, mixSeed(seed, index), 0);
    const ref = tfjsGradients(spec, x, [batch, 5, 3, 2], y, {
      loss,
      dropoutScales: new Map([["sd", scales]]),
    });
    if (!(Math.abs(mine.loss - ref.loss) <= 1e-5 * Math.max(1, ref.loss))) {
      throw new Error(`loss ${mine.loss} vs ${ref.loss}`);
    }
    mine.grads.forEach((g, i) => {
      const e = relativeError(g.data, ref.grads[i]);
      if (!(e <= 1e-4)) throw new Error(`batch ${batch} ${g.name}: ${e}`);
      worst = Math.max(worst, e);
    });
  }
  model.dispose();
  report("SpatialDropout2D gradients vs tf.variableGrads max relative error", worst);
});

Deno.test("SpatialDropout2D: bad rate, data_format or input rank are typed errors", () => {
  const rng = new Rng(185);
  expectThrows(
    () =>
      buildModel(
        randomSpec([{ class_name: "SpatialDropout2D", config: config(1.5) }], [2, 2, 2], rng),
      ),
    LayerConfigError,
    '"sd"',
    "rate",
  );
  expectThrows(
    () =>
      buildModel(
        randomSpec(
          [{ class_name: "SpatialDropout2D", config: config(0.5, "nhwc") }],
          [2, 2, 2],
          rng,
        ),
      ),
    LayerConfigError,
    "data_format",
  );
  expectThrows(
    () =>
      buildModel(
        randomSpec([{ class_name: "SpatialDropout2D", config: config(0.5) }], [4, 2], rng),
      ),
    InputShapeError,
    '"sd"',
    "rank 4",
  );
});
