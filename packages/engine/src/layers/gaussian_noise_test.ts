import { buildModel, LayerConfigError, mixSeed, modelGradients, Tensor } from "../../mod.ts";
import { expectThrows } from "../../testing/assert.ts";
import {
  compareWithFiniteDifferences,
  randomSpec,
  relativeError,
} from "../../testing/gradient_check.ts";
import { runLayerTraining } from "../../testing/layer_training_run.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  tf,
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../../testing/tfjs_reference.ts";
import { tfjsGradients } from "../../testing/tfjs_training.ts";
import { normalAt } from "./counter_random.ts";
import { GAUSSIAN_DROPOUT } from "./gaussian_dropout.ts";
import { GAUSSIAN_NOISE } from "./gaussian_noise.ts";

TFJS_LAYER_BUILDERS.set(
  "GaussianNoise",
  (c, base) => tf.layers.gaussianNoise({ ...base, stddev: c.stddev as number }),
);
TFJS_LAYER_BUILDERS.set(
  "GaussianDropout",
  (c, base) => tf.layers.gaussianDropout({ ...base, rate: c.rate as number }),
);

/** Logs a measured value when REPORT_ERRORS is set (for reports; tests stay quiet otherwise). */
const report = (what: string, v: number) => {
  if (Deno.env.get("REPORT_ERRORS")) console.log(`${what}: ${v.toExponential(2)}`);
};

const noise = (stddev: number) => ({ class_name: "GaussianNoise", config: { name: "gn", stddev } });
const gdrop = (rate: number) => ({ class_name: "GaussianDropout", config: { name: "gd", rate } });
const dense = (name: string, units: number, activation = "linear") => ({
  class_name: "Dense",
  config: { name, units, activation },
});

/** Mean, standard deviation and fraction within one σ of the mean. */
function moments(a: ArrayLike<number>): { mean: number; std: number; within1: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  const mean = s / a.length;
  for (let i = 0; i < a.length; i++) s2 += (a[i] - mean) ** 2;
  const std = Math.sqrt(s2 / a.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - mean) <= std) w++;
  return { mean, std, within1: w / a.length };
}

Deno.test("GaussianNoise and GaussianDropout at inference equal TF.js (the identity)", async () => {
  await tfReady();
  const rng = new Rng(191);
  for (const layer of [noise(0.3), gdrop(0.4)]) {
    for (const shape of [[7], [3, 5, 2]]) {
      const spec = randomSpec([layer], shape, rng);
      const model = buildModel(spec);
      const tfm = tfjsModelFromSpec(spec);
      for (const batch of [1, 17]) {
        const xShape = [batch, ...shape];
        const x = rng.floats(xShape.reduce((a, b) => a * b));
        const got = model.predict(new Tensor(x, xShape)).data;
        const d = maxAbsDiff(got, tfjsPredict(tfm, x, xShape));
        if (!(d <= 1e-5) || maxAbsDiff(got, x) !== 0) {
          throw new Error(`${layer.class_name} [${xShape}]: ${d}`);
        }
      }
      model.dispose();
      tfm.dispose();
    }
  }
});

Deno.test("GaussianNoise training: y − x = stddev·z, z standard normal (mean, std, 1σ mass)", () => {
  const stddev = 0.7, batch = 50, per = 2000;
  const x = new Rng(192).floats(batch * per, -3, 3);
  const { y, dx } = runLayerTraining(GAUSSIAN_NOISE, noise(stddev).config, x, [batch, per], {
    seed: 1234,
    dy: x,
  });
  const diff = Float64Array.from(y, (v, i) => v - x[i]);
  const m = moments(diff);
  // n = 100 000: σ of the mean ≈ 0.0022, of the std ≈ 0.0016.
  if (!(Math.abs(m.mean) <= 0.01)) throw new Error(`mean ${m.mean}`);
  if (!(Math.abs(m.std / stddev - 1) <= 0.01)) throw new Error(`std ${m.std}`);
  if (!(Math.abs(m.within1 - 0.6827) <= 0.006)) throw new Error(`within 1σ ${m.within1}`);
  report("GaussianNoise |mean|", Math.abs(m.mean));
  report("GaussianNoise |std/stddev − 1|", Math.abs(m.std / stddev - 1));
  // Element k's noise is normal draw k of the step's stream; backward is the identity.
  const want = Float32Array.from(x, (v, k) => v + stddev * normalAt(1234, k));
  const e = maxAbsDiff(y, want);
  if (!(e <= 1e-6)) throw new Error(`vs reference: ${e}`);
  if (maxAbsDiff(dx!, x) !== 0) throw new Error("backward must pass dy through");
});

Deno.test("GaussianDropout training: y = x·m, m ~ N(1, rate/(1 − rate)); dx = dy·m", () => {
  const rate = 0.3, batch = 40, per = 2500;
  const sd = Math.sqrt(rate / (1 - rate));
  const x = new Rng(193).floats(batch * per, 0.5, 2);
  const dy = new Rng(194).floats(batch * per);
  const { y, dx } = runLayerTraining(GAUSSIAN_DROPOUT, gdrop(rate).config, x, [batch, per], {
    seed: 99,
    dy,
  });
  const mult = Float64Array.from(y, (v, i) => v / x[i]);
  const m = moments(mult);
  if (!(Math.abs(m.mean - 1) <= 0.01)) throw new Error(`mean ${m.mean}`);
  if (!(Math.abs(m.std / sd - 1) <= 0.01)) throw new Error(`std ${m.std} vs ${sd}`);
  if (!(Math.abs(m.within1 - 0.6827) <= 0.006)) throw new Error(`within 1σ ${m.within1}`);
  report("GaussianDropout |mean − 1|", Math.abs(m.mean - 1));
  report("GaussianDropout |std/√(rate/(1−rate)) − 1|", Math.abs(m.std / sd - 1));
  const ref = Float32Array.from(x, (_, k) => 1 + sd * normalAt(99, k));
  if (!(maxAbsDiff(y, Float32Array.from(x, (v, i) => v * ref[i])) <= 1e-5)) {
    throw new Error("forward vs reference");
  }
  if (!(maxAbsDiff(dx!, Float32Array.from(dy, (v, i) => v * ref[i])) <= 1e-5)) {
    throw new Error("backward vs reference");
  }
});

Deno.test("Gaussian layers: same seed same noise, another seed other noise, batch splits agree", () => {
  const rng = new Rng(195);
  const x = rng.floats(17 * 15);
  for (
    const [def, cfg] of [[GAUSSIAN_NOISE, noise(0.5).config], [
      GAUSSIAN_DROPOUT,
      gdrop(0.5).config,
    ]] as const
  ) {
    const run = (seed: number, from = 0, to = 17) =>
      runLayerTraining(def, cfg, x.slice(from * 15, to * 15), [to - from, 3, 5], {
        seed,
        sampleOffset: from,
      }).y;
    if (maxAbsDiff(run(5), run(5)) !== 0) throw new Error(`${def.className}: same seed differs`);
    if (maxAbsDiff(run(5), run(6)) === 0) throw new Error(`${def.className}: seeds collide`);
    const split = new Float32Array([...run(5, 0, 8), ...run(5, 8, 17)]);
    if (maxAbsDiff(run(5), split) !== 0) throw new Error(`${def.className}: split differs`);
    // training=False (a call in inference mode inside fit) adds no noise.
    const off = runLayerTraining(def, cfg, x, [17, 3, 5], { seed: 5, training: false }).y;
    if (maxAbsDiff(off, x) !== 0) throw new Error(`${def.className}: training=False`);
  }
});

Deno.test("GaussianDropout gradients match tf.variableGrads with the same multipliers", async () => {
  await tfReady();
  const rng = new Rng(196);
  const rate = 0.25;
  const spec = randomSpec([dense("a", 9, "tanh"), gdrop(rate), dense("b", 4, "softmax")], [5], rng);
  const model = buildModel(spec);
  const index = model.layers.findIndex((l) => l.name === "gd");
  const loss = { name: "sparse_categorical_crossentropy" as const };
  const sd = Math.sqrt(rate / (1 - rate));
  let worst = 0;
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * 5, -2, 2);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
    const seed = 7 + batch;
    const mine = modelGradients(model, new Tensor(x, [batch, 5]), new Tensor(y, [batch, 1]), {
      loss,
      seed,
    });
    const s = mixSeed(seed, index);
    const mult = Float32Array.from({ length: batch * 9 }, (_, k) => 1 + sd * normalAt(s, k));
    const ref = tfjsGradients(spec, x, [batch, 5], y, {
      loss,
      dropoutScales: new Map([["gd", mult]]),
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
  report("GaussianDropout gradients vs tf.variableGrads max relative error", worst);
});

Deno.test("GaussianNoise gradients agree with finite differences (fixed step seed)", () => {
  const rng = new Rng(197);
  const spec = randomSpec([dense("a", 7, "tanh"), noise(0.4), dense("b", 3, "softmax")], [4], rng, {
    scale: 0.9,
  });
  const x = rng.floats(17 * 4, -2, 2);
  const y = Float32Array.from({ length: 17 }, () => rng.int(0, 3));
  const e = compareWithFiniteDifferences(spec, x, [17, 4], y, {
    name: "sparse_categorical_crossentropy",
  }, { samples: 8 });
  report("GaussianNoise gradients vs finite differences", e);
});

Deno.test("Gaussian layers: out-of-range stddev / rate are typed errors naming the layer", () => {
  const rng = new Rng(198);
  expectThrows(
    () => buildModel(randomSpec([noise(-1)], [3], rng)),
    LayerConfigError,
    '"gn"',
    "stddev",
  );
  expectThrows(
    () => buildModel(randomSpec([gdrop(1)], [3], rng)),
    LayerConfigError,
    '"gd"',
    "rate",
  );
});
