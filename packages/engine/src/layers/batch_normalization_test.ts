import { buildModel, getRuntime, LayerConfigError, Tensor, WeightShapeError } from "../../mod.ts";
import { expectMatchesTfjs, randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";
import { batchNormReference } from "../kernels/batchnorm_reference.ts";

function bnWeights(rng: Rng, c: number, scale: boolean, center: boolean) {
  const w = [];
  if (scale) w.push(randomWeight(rng, "gamma", [c], 0.5, 2));
  if (center) w.push(randomWeight(rng, "beta", [c]));
  w.push(randomWeight(rng, "moving_mean", [c]), randomWeight(rng, "moving_variance", [c], 0.05, 3));
  return w;
}

Deno.test("BatchNormalization matches TF.js: center/scale variants, epsilon, rank 2 and 4, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(701);
  for (const input of [[6, 5, 7], [13], [4, 3]]) {
    const c = input[input.length - 1];
    for (const scale of [true, false]) {
      for (const center of [true, false]) {
        for (const epsilon of [1e-3, 1e-5]) {
          const axis = epsilon === 1e-3 ? -1 : [input.length]; // Keras 2 writes a list of ints
          const spec = sequentialSpec(input, [{
            class_name: "BatchNormalization",
            config: { axis, epsilon, scale, center, momentum: 0.99 },
            weights: bnWeights(rng, c, scale, center),
          }]);
          const what = `BN ${input} scale=${scale} center=${center} eps=${epsilon}`;
          expectMatchesTfjs(spec, [[1, ...input], [17, ...input]], rng, what);
        }
      }
    }
  }
});

Deno.test("BatchNormalization defaults (epsilon 1e-3) equal the float64 formula", () => {
  const rng = new Rng(702);
  const w = bnWeights(rng, 9, true, true);
  const model = buildModel(sequentialSpec([9], [{
    class_name: "BatchNormalization",
    config: {},
    weights: w,
  }]));
  const x = rng.floats(17 * 9, -3, 3);
  const got = model.predict(new Tensor(x, [17, 9]));
  const want = batchNormReference(x, {
    gamma: w[0].data,
    beta: w[1].data,
    movingMean: w[2].data,
    movingVariance: w[3].data,
    epsilon: 1e-3,
  });
  const d = maxAbsDiff(got.data, want);
  if (!(d <= 1e-6)) throw new Error(`max |Δ| = ${d}`);
  model.dispose();
});

Deno.test("BatchNormalization refuses other axes and wrong weight counts by name", () => {
  const rng = new Rng(703);
  let err: unknown;
  try {
    buildModel(sequentialSpec([4, 5, 3], [{
      class_name: "BatchNormalization",
      config: { name: "bn_axis", axis: 1 },
      weights: bnWeights(rng, 3, true, true),
    }]));
  } catch (e) {
    err = e;
  }
  if (!(err instanceof LayerConfigError) || !/bn_axis.*axis/.test(err.message)) {
    throw new Error(`expected LayerConfigError naming bn_axis and axis, got ${err}`);
  }
  err = undefined;
  try {
    buildModel(sequentialSpec([3], [{
      class_name: "BatchNormalization",
      config: { name: "bn_w", center: false },
      weights: bnWeights(rng, 3, true, true),
    }]));
  } catch (e) {
    err = e;
  }
  if (!(err instanceof WeightShapeError) || !/bn_w.*3 arrays.*4 arrays/.test(err.message)) {
    throw new Error(`expected WeightShapeError naming bn_w and the counts, got ${err}`);
  }
  // A negative variance is refused (not a NaN output) and leaves no device memory behind.
  const { heap } = getRuntime();
  const live = heap.liveCount;
  const w = bnWeights(rng, 3, true, true);
  w[3].data[1] = -1;
  err = undefined;
  try {
    buildModel(sequentialSpec([3], [{
      class_name: "BatchNormalization",
      config: { name: "bn_var" },
      weights: w,
    }]));
  } catch (e) {
    err = e;
  }
  if (!(err instanceof LayerConfigError) || !/bn_var.*moving_variance/.test(err.message)) {
    throw new Error(`expected LayerConfigError naming bn_var and moving_variance, got ${err}`);
  }
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} blocks`);
});
