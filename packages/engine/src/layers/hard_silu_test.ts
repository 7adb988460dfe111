import {
  ActivationCode,
  buildModel,
  getRuntime,
  type KerasObject,
  type ModelSpec,
  resolveActivation,
  Tensor,
} from "../../mod.ts";
import { compareWithFiniteDifferences, randomSpec } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, tfjsModelFromSpec, tfReady } from "../../testing/tfjs_reference.ts";

/** Logs a measured error when REPORT_ERRORS is set (for reports; tests stay quiet otherwise). */
const report = (what: string, v: number) => {
  if (Deno.env.get("REPORT_ERRORS")) console.log(`${what}: ${v.toExponential(2)}`);
};

/** Keras 3's hard_silu in tf ops: x · relu6(x + 3) / 6. */
const tfHardSilu = (x: tf.Tensor) => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));

/** The spec with every `hard_*` activation made linear (TF.js has no hard_silu). */
function linearized(spec: ModelSpec): ModelSpec {
  const config = structuredClone(spec.config) as KerasObject;
  for (const l of (config.config as { layers: KerasObject[] }).layers) {
    if (typeof l.config.activation === "string" && l.config.activation.startsWith("hard_")) {
      l.config.activation = "linear";
    }
  }
  return { ...spec, config };
}

Deno.test("hard_silu / hard_swish resolve to one code, serialized forms included", () => {
  for (const v of ["hard_silu", "hard_swish", { class_name: "function", config: "hard_silu" }]) {
    const a = resolveActivation(v, "l", "3.10.0");
    if (a.kind !== "elementwise" || a.code !== ActivationCode.HardSilu) {
      throw new Error(`${JSON.stringify(v)} → ${JSON.stringify(a)}`);
    }
  }
});

Deno.test("Dense and Conv2D with hard_silu / hard_swish match TF.js's linear layer + x·relu6(x+3)/6", async () => {
  await tfReady();
  const rng = new Rng(171);
  let worst = 0;
  const cases: [KerasObject, number[]][] = [
    [{ class_name: "Dense", config: { name: "d", units: 13, activation: "hard_swish" } }, [9]],
    [{ class_name: "Dense", config: { name: "d", units: 5, activation: "hard_silu" } }, [3, 7]],
    [
      {
        class_name: "Conv2D",
        config: {
          name: "c",
          filters: 5,
          kernel_size: [3, 3],
          padding: "same",
          activation: "hard_silu",
        },
      },
      [7, 5, 3],
    ],
    [{ class_name: "Activation", config: { name: "a", activation: "hard_swish" } }, [11]],
  ];
  for (const [layer, shape] of cases) {
    const spec = randomSpec([layer], shape, rng, { scale: 1.5 });
    const model = buildModel(spec);
    const tfm = tfjsModelFromSpec(linearized(spec));
    for (const batch of [1, 17]) {
      const xShape = [batch, ...shape];
      const x = rng.floats(xShape.reduce((a, b) => a * b), -4, 4);
      const want = tf.tidy(() =>
        tfHardSilu(tfm.predict(tf.tensor(x, xShape)) as tf.Tensor).dataSync()
      );
      const d = maxAbsDiff(model.predict(new Tensor(x, xShape)).data, want);
      if (!(d <= 1e-5)) throw new Error(`${layer.class_name} batch ${batch}: ${d}`);
      worst = Math.max(worst, d);
    }
    model.dispose();
    tfm.dispose();
  }
  report("hard_silu (Dense/Conv2D/Activation) forward vs TF.js max |Δ|", worst);
});

Deno.test("hard_silu derivative equals tf.grad of x·relu6(x+3)/6; kinks as TF's Relu6Grad", async () => {
  await tfReady();
  const { kernels, heap } = getRuntime();
  const rng = new Rng(172);
  // TF.js's relu6 gradient passes at relu6's upper kink (x + 3 = 6), TF's Relu6Grad does not
  // (features < 6): z = 3 is left to the hand-checked kinks below.
  const z = Float32Array.from([...rng.floats(37, -5, 5), -3, 0, -6, 6, -2.999, 2.999]);
  const n = z.length;
  const dy = rng.floats(n);
  const want = tf.tidy(() =>
    tf.grad((x: tf.Tensor) => tfHardSilu(x))(tf.tensor(z), tf.tensor(dy)).dataSync()
  );
  const pz = heap.upload(z), pdy = heap.upload(dy);
  kernels.activationGrad(pz, 0, pdy, pdy, n, ActivationCode.HardSilu, 0);
  const d = maxAbsDiff(heap.f32(pdy, n), want);
  heap.free(pz);
  heap.free(pdy);
  if (!(d <= 1e-6)) throw new Error(`max |Δ| ${d}`);
  report("hard_silu derivative vs tf.grad max |Δ|", d);
  // Kinks (TF: relu6' = 1 strictly inside (0, 6)): f'(−3) = 0, f'(3) = 1; inside (2z + 3)/6.
  const kinks = new Float32Array([-3, 3, -1.5, 1.5]);
  const ones = new Float32Array(4).fill(1);
  const pk = heap.upload(kinks), po = heap.upload(ones);
  kernels.activationGrad(pk, 0, po, po, 4, ActivationCode.HardSilu, 0);
  const got = Array.from(heap.f32(po, 4));
  heap.free(pk);
  heap.free(po);
  if (maxAbsDiff(got, [0, 1, 0, 1]) > 1e-7) throw new Error(`kinks: ${got}`);
});

Deno.test("Dense(hard_swish) → Dense gradients agree with finite differences", () => {
  const rng = new Rng(173);
  const spec = randomSpec(
    [
      { class_name: "Dense", config: { name: "a", units: 7, activation: "hard_swish" } },
      { class_name: "Dense", config: { name: "b", units: 3, activation: "softmax" } },
    ],
    [5],
    rng,
    { scale: 1.5 },
  );
  const x = rng.floats(17 * 5, -3, 3);
  const y = Float32Array.from({ length: 17 }, () => rng.int(0, 3));
  const e = compareWithFiniteDifferences(
    spec,
    x,
    [17, 5],
    y,
    { name: "sparse_categorical_crossentropy" },
    { samples: 10 },
  );
  report("Dense(hard_swish) gradients vs finite differences", e);
});
