import {
  activateReference,
  ActivationCode,
  buildModel,
  LayerConfigError,
  Tensor,
} from "../../mod.ts";
import { expectThrows } from "../../testing/assert.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
} from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  tf,
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../../testing/tfjs_reference.ts";

// TF.js's ELU layer refuses alpha ≠ 1 ("not supported by the ELU layer yet").
TFJS_LAYER_BUILDERS.set("ELU", (c, base) => tf.layers.elu({ ...base, alpha: c.alpha as number }));

/** Logs a measured error when REPORT_ERRORS is set (for reports; tests stay quiet otherwise). */
const report = (what: string, v: number) => {
  if (Deno.env.get("REPORT_ERRORS")) console.log(`${what}: ${v.toExponential(2)}`);
};

const elu = (name: string, alpha = 1.0) => ({ class_name: "ELU", config: { name, alpha } });
const dense = (name: string, units: number, activation = "linear") => ({
  class_name: "Dense",
  config: { name, units, activation },
});

Deno.test("ELU layer forward matches TF.js (alpha 1) and the reference (alpha 0.5, 2.5)", async () => {
  await tfReady();
  const rng = new Rng(161);
  let worstTf = 0, worstRef = 0;
  for (const shape of [[7], [5, 3], [3, 5, 7]]) {
    for (const batch of [1, 17]) {
      const xShape = [batch, ...shape];
      const x = rng.floats(xShape.reduce((a, b) => a * b), -4, 3);
      const spec = randomSpec([elu("e")], shape, rng);
      const model = buildModel(spec);
      const tfm = tfjsModelFromSpec(spec);
      const d = maxAbsDiff(model.predict(new Tensor(x, xShape)).data, tfjsPredict(tfm, x, xShape));
      if (!(d <= 1e-5)) throw new Error(`[${xShape}] vs TF.js: ${d}`);
      worstTf = Math.max(worstTf, d);
      model.dispose();
      tfm.dispose();
      for (const alpha of [0.5, 2.5]) {
        const m = buildModel(randomSpec([elu("e", alpha)], shape, rng));
        const want = Float32Array.from(x, (v) => activateReference(v, ActivationCode.Elu, alpha));
        const e = maxAbsDiff(m.predict(new Tensor(x, xShape)).data, want);
        if (!(e <= 1e-5)) throw new Error(`[${xShape}] alpha ${alpha}: ${e}`);
        worstRef = Math.max(worstRef, e);
        m.dispose();
      }
    }
  }
  // Hand-checked: alpha 2, x = [-1, 0, 3] → [2(e⁻¹ − 1), 0, 3].
  const m = buildModel(randomSpec([elu("e", 2)], [3], rng));
  const y = m.predict(new Tensor(new Float32Array([-1, 0, 3]), [1, 3])).data;
  if (maxAbsDiff(y, [2 * (Math.exp(-1) - 1), 0, 3]) > 1e-7) throw new Error(`hand case ${y}`);
  m.dispose();
  report("ELU forward vs TF.js max |Δ|", worstTf);
  report("ELU forward (alpha ≠ 1) vs reference max |Δ|", worstRef);
});

Deno.test("ELU layer gradients match tf.variableGrads (alpha 1) and finite differences", async () => {
  await tfReady();
  const rng = new Rng(162);
  const sparse = { name: "sparse_categorical_crossentropy" as const };
  const spec = randomSpec([dense("a", 9), elu("e"), dense("b", 4, "softmax")], [5], rng, {
    scale: 0.9,
  });
  let worst = 0;
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * 5, -2, 2);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
    worst = Math.max(worst, compareWithTfjs(spec, x, [batch, 5], y, { loss: sparse }));
  }
  report("ELU gradients vs tf.variableGrads max relative error", worst);
  const spec2 = randomSpec([dense("a", 6), elu("e", 0.7), dense("b", 3, "softmax")], [4], rng, {
    scale: 0.9,
  });
  const x = rng.floats(17 * 4, -2, 2);
  const y = Float32Array.from({ length: 17 }, () => rng.int(0, 3));
  const e = compareWithFiniteDifferences(spec2, x, [17, 4], y, sparse, { samples: 8 });
  report("ELU (alpha 0.7) gradients vs finite differences", e);
});

Deno.test("ELU layer: a non-numeric alpha is a typed error naming the layer", () => {
  expectThrows(
    () =>
      buildModel(
        randomSpec([{ class_name: "ELU", config: { name: "e", alpha: "x" } }], [3], new Rng(1)),
      ),
    LayerConfigError,
    '"e"',
    "alpha",
  );
});
