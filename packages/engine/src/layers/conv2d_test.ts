import { buildModel, UnsupportedLayerError, WeightShapeError } from "../../mod.ts";
import { expectMatchesTfjs, randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import { Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

function convCase(rng: Rng, inC: number, config: Record<string, unknown>) {
  const k = config.kernel_size as number | number[];
  const ks = typeof k === "number" ? [k, k] : k;
  const filters = config.filters as number;
  const weights = [randomWeight(rng, "kernel", [ks[0], ks[1], inC, filters], -0.5, 0.5)];
  if (config.use_bias !== false) weights.push(randomWeight(rng, "bias", [filters]));
  return { class_name: "Conv2D", config, weights };
}

Deno.test("Conv2D matches TF.js: paddings × strides × dilations × kernel sizes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(401);
  const geometries: [number[], number[]][] = [
    [[1, 1], [1, 1]],
    [[2, 2], [1, 1]],
    [[2, 3], [1, 1]],
    [[3, 1], [1, 1]],
    [[1, 1], [2, 2]],
    [[1, 1], [1, 3]],
  ];
  let worst = 0;
  for (const padding of ["valid", "same"]) {
    for (const [strides, dilation] of geometries) {
      for (const ks of [[3, 3], [2, 5], [1, 1]]) {
        const layer = convCase(rng, 5, {
          filters: 7,
          kernel_size: ks,
          strides,
          dilation_rate: dilation,
          padding,
          activation: "relu",
          use_bias: ks[0] !== 2,
        });
        const spec = sequentialSpec([9, 13, 5], [layer]);
        const what = `Conv2D ${padding} k=${ks} s=${strides} d=${dilation}`;
        worst = Math.max(
          worst,
          expectMatchesTfjs(spec, [[1, 9, 13, 5], [17, 9, 13, 5]], rng, what),
        );
      }
    }
  }
  console.log(`Conv2D vs TF.js: max |Δ| = ${worst.toExponential(2)}`);
});

Deno.test("Conv2D matches TF.js for every activation they share, incl. softmax over filters", async () => {
  await tfReady();
  const rng = new Rng(402);
  const acts = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "relu6",
    "gelu",
    "mish",
  ];
  for (const activation of acts) {
    const layer = convCase(rng, 3, {
      filters: 6,
      kernel_size: [3, 3],
      strides: [2, 2],
      padding: "same",
      activation,
    });
    expectMatchesTfjs(sequentialSpec([8, 7, 3], [layer]), [[5, 8, 7, 3]], rng, activation);
  }
});

Deno.test("Conv2D with unknown height/width runs any input size like TF.js", async () => {
  await tfReady();
  const rng = new Rng(403);
  const layer = convCase(rng, 4, {
    filters: 5,
    kernel_size: 3,
    strides: 2,
    padding: "same",
    activation: "tanh",
  });
  const spec = sequentialSpec([null, null, 4], [layer]);
  expectMatchesTfjs(spec, [[2, 7, 9, 4], [3, 12, 5, 4], [1, 3, 3, 4]], rng, "dynamic H/W");
});

Deno.test("Conv2D refuses groups ≠ 1, channels_first and mis-shaped weights by name", () => {
  const rng = new Rng(404);
  const base = { name: "conv_x", filters: 4, kernel_size: [3, 3] };
  const w = () => [randomWeight(rng, "kernel", [3, 3, 2, 4]), randomWeight(rng, "bias", [4])];
  expectThrows(
    () =>
      buildModel(
        sequentialSpec([6, 6, 2], [{ class_name: "Conv2D", config: { ...base, groups: 2 } }]),
      ),
    UnsupportedLayerError,
    "conv_x",
    "Conv2D",
    "groups",
  );
  expectThrows(
    () =>
      buildModel(sequentialSpec([6, 6, 2], [{
        class_name: "Conv2D",
        config: { ...base, data_format: "channels_first" },
        weights: w(),
      }])),
    UnsupportedLayerError,
    "conv_x",
    "channels_first",
  );
  const bad = w();
  bad[0] = randomWeight(rng, "kernel", [3, 3, 3, 4]);
  expectThrows(
    () =>
      buildModel(sequentialSpec([6, 6, 2], [{ class_name: "Conv2D", config: base, weights: bad }])),
    WeightShapeError,
    "conv_x",
    "kernel",
    "[3, 3, 2, 4]",
    "[3, 3, 3, 4]",
  );
});
