import { buildModel, SGD, Tensor } from "../../mod.ts";
import { randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { Rng } from "../../testing/random.ts";
import { startedTrainingWorkers } from "../training/parallel/pool.ts";

/** Logs a measured value when REPORT_ERRORS is set (for reports; tests stay quiet otherwise). */
const report = (what: string, v: number) => {
  if (Deno.env.get("REPORT_ERRORS")) console.log(`${what}: ${v.toExponential(2)}`);
};

/** A small image model through every layer of this family (random layers in training). */
const spec = randomSpec(
  [
    { class_name: "SpatialDropout2D", config: { name: "sd", rate: 0.3 } },
    { class_name: "GaussianNoise", config: { name: "gn", stddev: 0.2 } },
    { class_name: "PReLU", config: { name: "p", shared_axes: [1, 2] } },
    { class_name: "Flatten", config: { name: "f" } },
    { class_name: "Dense", config: { name: "d", units: 8, activation: "hard_swish" } },
    { class_name: "GaussianDropout", config: { name: "gd", rate: 0.2 } },
    { class_name: "ELU", config: { name: "e", alpha: 0.8 } },
    { class_name: "Identity", config: { name: "id" } },
    { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
  ],
  [6, 5, 3],
  new Rng(211),
);

Deno.test("fit with SpatialDropout2D, GaussianNoise, GaussianDropout, PReLU, ELU: 2 threads equal 1", async () => {
  const rng = new Rng(212);
  const n = 64;
  const x = new Tensor(rng.floats(n * 90, -1, 1), [n, 6, 5, 3]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 3)), [n]);
  const run = async (workers: 1 | 2, seed: number) => {
    const model = buildModel(spec);
    model.compile({
      optimizer: new SGD({ learningRate: 0.1 }),
      loss: "sparse_categorical_crossentropy",
      workers,
    });
    const h = await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0, shuffle: false, seed });
    const w = model.getWeights();
    model.dispose();
    return { loss: h.history.loss, w };
  };
  const one = await run(1, 5);
  const started = startedTrainingWorkers();
  const two = await run(2, 5);
  if (startedTrainingWorkers() === started) throw new Error("no worker started");
  const other = await run(1, 6);
  let worst = 0;
  one.loss.forEach((l, i) => (worst = Math.max(worst, Math.abs(l - two.loss[i]))));
  one.w.forEach((w, i) => (worst = Math.max(worst, relativeError(two.w[i].data, w.data))));
  if (!(worst <= 1e-5)) throw new Error(`1 vs 2 threads: ${worst}`);
  report("noise layers fit, 2 threads vs 1: max difference", worst);
  // The step seed reaches the random layers: another seed trains to other weights.
  const moved = Math.max(...one.w.map((w, i) => relativeError(other.w[i].data, w.data)));
  if (!(moved > 1e-4)) throw new Error(`another seed gave the same weights (${moved})`);
  // PReLU's alpha is trained.
  const alpha = one.w.find((w) => w.name.endsWith("alpha"))!;
  if (alpha.data.every((v) => v === spec.weights.p[0].data[0])) {
    throw new Error("alpha did not move");
  }
});
