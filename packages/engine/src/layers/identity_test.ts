import {
  buildModel,
  type KerasObject,
  LayerConfigError,
  modelGradients,
  Tensor,
  UntrainableLayerError,
} from "../../mod.ts";
import { expectThrows } from "../../testing/assert.ts";
import { randomSpec } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";

const dense = (name: string, units: number, activation = "linear") => ({
  class_name: "Dense",
  config: { name, units, activation },
});
const sparse = { name: "sparse_categorical_crossentropy" as const };

/** The same spec with `middle` inserted between two Dense layers, and without it. */
function withAndWithout(middle: { class_name: string; config: Record<string, unknown> }) {
  const rng = new Rng(201);
  const a = randomSpec([dense("a", 6, "tanh"), middle, dense("b", 3, "softmax")], [5], rng);
  const layers = (a.config.config as { layers: unknown[] }).layers;
  const b = {
    ...a,
    config: {
      ...a.config,
      config: { ...a.config.config, layers: layers.filter((_, i) => i !== 2) },
    },
  };
  return [a, b];
}

for (
  const middle of [
    { class_name: "Identity", config: { name: "id" } },
    { class_name: "ActivityRegularization", config: { name: "ar", l1: 0, l2: 0 } },
  ]
) {
  Deno.test(`${middle.class_name}: predict and gradients equal the model without it`, () => {
    const [a, b] = withAndWithout(middle).map((s) => buildModel(s));
    const rng = new Rng(202);
    for (const batch of [1, 17]) {
      const x = new Tensor(rng.floats(batch * 5, -2, 2), [batch, 5]);
      const y = new Tensor(Float32Array.from({ length: batch }, () => rng.int(0, 3)), [batch, 1]);
      if (maxAbsDiff(a.predict(x).data, b.predict(x).data) !== 0) throw new Error("predict");
      const ga = modelGradients(a, x, y, { loss: sparse }),
        gb = modelGradients(b, x, y, { loss: sparse });
      if (ga.loss !== gb.loss) throw new Error(`loss ${ga.loss} vs ${gb.loss}`);
      ga.grads.forEach((g, i) => {
        if (maxAbsDiff(g.data, gb.grads[i].data) !== 0) throw new Error(`gradient ${g.name}`);
      });
    }
    a.dispose();
    b.dispose();
  });
}

Deno.test("Identity and ActivityRegularization pass the Embedding mask on (GRU output unchanged)", () => {
  const rng = new Rng(203);
  const layers = (middle: KerasObject[]): KerasObject[] => [
    {
      class_name: "Embedding",
      config: { name: "e", input_dim: 9, output_dim: 4, mask_zero: true },
    },
    ...middle,
    { class_name: "GRU", config: { name: "g", units: 3 } },
  ];
  const base = randomSpec(layers([]), [6], rng, { inputDtype: "int32" });
  const mid = randomSpec(
    layers([
      { class_name: "Identity", config: { name: "id" } },
      { class_name: "ActivityRegularization", config: { name: "ar", l1: 0.1 } },
    ]),
    [6],
    rng,
    { inputDtype: "int32" },
  );
  mid.weights = base.weights;
  const ids = new Int32Array([3, 5, 1, 0, 0, 0, 2, 2, 2, 2, 0, 0]);
  const x = new Tensor(ids, [2, 6]);
  const [m1, m2] = [buildModel(base), buildModel(mid)];
  if (maxAbsDiff(m1.predict(x).data, m2.predict(x).data) !== 0) throw new Error("mask lost");
  m1.dispose();
  m2.dispose();
});

Deno.test("ActivityRegularization: any l1, l2 ≥ 0 at inference; fit refuses l1/l2 ≠ 0 by name", () => {
  const rng = new Rng(204);
  const spec = randomSpec(
    [dense("a", 4), {
      class_name: "ActivityRegularization",
      config: { name: "ar", l1: 0.01, l2: 0 },
    }],
    [3],
    rng,
  );
  const model = buildModel(spec);
  const x = new Tensor(rng.floats(6), [2, 3]);
  model.predict(x);
  expectThrows(
    () =>
      modelGradients(model, x, new Tensor(rng.floats(8), [2, 4]), {
        loss: { name: "mean_squared_error" },
      }),
    UntrainableLayerError,
    '"ar"',
    "l1 = 0.01",
    "expected l1 = 0 and l2 = 0",
  );
  model.dispose();
  expectThrows(
    () =>
      buildModel(
        randomSpec(
          [{ class_name: "ActivityRegularization", config: { name: "ar", l2: -1 } }],
          [3],
          rng,
        ),
      ),
    LayerConfigError,
    '"ar"',
    "l2",
  );
});
