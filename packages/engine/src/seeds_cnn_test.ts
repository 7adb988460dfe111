/**
 * End-to-end: the seeds-style CNN (3 × [Conv2D relu + pooling], Flatten, Dense softmax(10) on
 * 32×32×3) and an AveragePooling + BatchNormalization + GlobalAveragePooling variant, engine vs
 * TF.js (cpu) on 1,000 random images: identical argmax, max |Δp| ≤ 1e-5.
 */
import { buildModel, getRuntime, type ModelSpec, Tensor } from "../mod.ts";
import { type LayerCase, randomWeight, sequentialSpec } from "../testing/cnn_cases.ts";
import { argmaxRows, maxAbsDiff, Rng } from "../testing/random.ts";
import { tfjsModelFromSpec, tfjsPredict, tfReady } from "../testing/tfjs_reference.ts";

/** Glorot-uniform kernel (Keras' default initializer) so activations stay in a trained-like range. */
function glorot(rng: Rng, shape: number[]) {
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const fanIn = shape[shape.length - 2] * receptive, fanOut = shape[shape.length - 1] * receptive;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return randomWeight(rng, "kernel", shape, -limit, limit);
}

/** The seeds-style CNN; `variant` "avg" uses Conv → BN → AveragePooling and a global average. */
function seedsCnnSpec(rng: Rng, filters: number[], variant: "max" | "avg"): ModelSpec {
  const layers: LayerCase[] = [];
  let c = 3, hw = 32;
  filters.forEach((f, i) => {
    layers.push({
      class_name: "Conv2D",
      config: {
        name: `conv2d_${i}`,
        filters: f,
        kernel_size: [3, 3],
        strides: [1, 1],
        padding: "same",
        activation: "relu",
        data_format: "channels_last",
        dilation_rate: [1, 1],
        groups: 1,
        use_bias: true,
      },
      weights: [glorot(rng, [3, 3, c, f]), randomWeight(rng, "bias", [f], -0.1, 0.1)],
    });
    if (variant === "avg") {
      layers.push({
        class_name: "BatchNormalization",
        config: { name: `bn_${i}`, axis: -1, epsilon: 1e-3, center: true, scale: true },
        weights: [
          randomWeight(rng, "gamma", [f], 0.8, 1.2),
          randomWeight(rng, "beta", [f], -0.1, 0.1),
          randomWeight(rng, "moving_mean", [f], 0, 0.5),
          randomWeight(rng, "moving_variance", [f], 0.5, 1.5),
        ],
      });
    }
    layers.push({
      class_name: variant === "max" ? "MaxPooling2D" : "AveragePooling2D",
      config: { name: `pool_${i}`, pool_size: [2, 2], strides: null, padding: "valid" },
    });
    c = f;
    hw /= 2;
  });
  const flat = variant === "max" ? hw * hw * c : c;
  layers.push(
    variant === "max"
      ? { class_name: "Flatten", config: { name: "flatten" } }
      : { class_name: "GlobalAveragePooling2D", config: { name: "gap" } },
    {
      class_name: "Dense",
      config: { name: "dense", units: 10, activation: "softmax" },
      weights: [glorot(rng, [flat, 10]), randomWeight(rng, "bias", [10], -0.1, 0.1)],
    },
  );
  return sequentialSpec([32, 32, 3], layers);
}

/**
 * Random 32×32×3 images with per-image structure (a brightness per channel, a gradient and a
 * noise level): i.i.d. pixel noise alone averages out in a random CNN and every image would get
 * the same class, which would make the argmax comparison vacuous.
 */
function randomImages(rng: Rng, n: number): Float32Array {
  const x = new Float32Array(n * 32 * 32 * 3);
  let i = 0;
  for (let b = 0; b < n; b++) {
    const offset = [rng.uniform(), rng.uniform(), rng.uniform()];
    const gy = [rng.uniform(), rng.uniform(), rng.uniform()];
    const gx = [rng.uniform(), rng.uniform(), rng.uniform()];
    const noise = rng.uniform(0.1, 1);
    for (let y = 0; y < 32; y++) {
      for (let xx = 0; xx < 32; xx++) {
        for (let c = 0; c < 3; c++) {
          x[i++] = offset[c] + gy[c] * (y / 16 - 1) + gx[c] * (xx / 16 - 1) + noise * rng.uniform();
        }
      }
    }
  }
  return x;
}

/**
 * Sets the Dense head like a trained classifier would be: logits centred over a calibration set of
 * images (bias = -mean feature · kernel) and scaled to a spread of about 2.5, so predictions span
 * several classes with confident probabilities. Uses only the engine's trunk; engine and TF.js then
 * get the same weights.
 */
function calibrateHead(spec: ModelSpec, seed: number): ModelSpec {
  const all = (spec.config.config as { layers: { config: { name: string } }[] }).layers;
  const head = all[all.length - 1].config.name;
  const trunk = buildModel({
    ...spec,
    config: { ...spec.config, config: { ...spec.config.config, layers: all.slice(0, -1) } },
  });
  const n = 200;
  const f = trunk.predict(new Tensor(randomImages(new Rng(seed), n), [n, 32, 32, 3])).data;
  trunk.dispose();
  const [kernel] = spec.weights[head];
  const [feat, units] = kernel.shape;
  const mean = new Float64Array(feat);
  for (let i = 0; i < n * feat; i++) mean[i % feat] += f[i] / n;
  let sq = 0;
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < units; k++) {
      let z = 0;
      for (let j = 0; j < feat; j++) z += (f[r * feat + j] - mean[j]) * kernel.data[j * units + k];
      sq += z * z;
    }
  }
  const gain = 2.5 / Math.sqrt(sq / (n * units));
  const w = Float32Array.from(kernel.data, (v) => v * gain);
  const bias = new Float32Array(units);
  for (let k = 0; k < units; k++) {
    let s = 0;
    for (let j = 0; j < feat; j++) s -= mean[j] * w[j * units + k];
    bias[k] = s;
  }
  return {
    ...spec,
    weights: {
      ...spec.weights,
      [head]: [{ ...kernel, data: w }, { name: "bias", shape: [units], data: bias }],
    },
  };
}

/** Runs both on `n` random images in TF.js batches of `tfBatch`; asserts and returns max |Δp|. */
function compareOnRandomImages(spec: ModelSpec, n: number, tfBatch: number, seed: number) {
  const rng = new Rng(seed);
  const model = buildModel(spec);
  const tfm = tfjsModelFromSpec(spec);
  const per = 32 * 32 * 3;
  const x = randomImages(rng, n);
  const engineStart = performance.now();
  const got = model.predict(new Tensor(x, [n, 32, 32, 3]), { batchSize: 64 });
  const engineMs = performance.now() - engineStart;
  const tfStart = performance.now();
  const want = new Float32Array(n * 10);
  for (let s = 0; s < n; s += tfBatch) {
    const e = Math.min(n, s + tfBatch);
    want.set(tfjsPredict(tfm, x.subarray(s * per, e * per), [e - s, 32, 32, 3]), s * 10);
  }
  const tfMs = performance.now() - tfStart;
  model.dispose();
  tfm.dispose();
  if (got.shape.join() !== `${n},10`) throw new Error(`output shape [${got.shape}]`);
  const d = maxAbsDiff(got.data, want);
  const a = argmaxRows(got.data, 10), b = argmaxRows(want, 10);
  const mismatches = a.filter((v, i) => v !== b[i]).length;
  // The predictions must spread over the classes, or argmax agreement would be vacuous.
  const classes = new Set(a).size;
  let meanTop = 0;
  for (let r = 0; r < n; r++) meanTop += got.data[r * 10 + a[r]] / n;
  console.log(
    `${n} images: max |Δp| = ${d.toExponential(2)}, argmax mismatches ${mismatches}, ` +
      `${classes} classes, mean top p ${meanTop.toFixed(2)}; engine ${
        engineMs.toFixed(0)
      } ms, TF.js cpu ${tfMs.toFixed(0)} ms`,
  );
  if (!(d <= 1e-5)) throw new Error(`max |Δp| = ${d} > 1e-5`);
  if (mismatches !== 0) throw new Error(`${mismatches} argmax mismatches`);
  if (classes < 5) throw new Error(`all ${n} predictions are class ${a[0]}`);
  return d;
}

Deno.test("seeds-style CNN (Conv-MaxPool ×3, Flatten, Dense softmax) equals TF.js on 1,000 images", async () => {
  await tfReady();
  const spec = calibrateHead(seedsCnnSpec(new Rng(801), [32, 64, 64], "max"), 800);
  compareOnRandomImages(spec, 1000, 250, 802);
});

Deno.test("seeds-style CNN variant (Conv-BN-AvgPool ×3, GlobalAveragePooling) equals TF.js", async () => {
  await tfReady();
  const spec = calibrateHead(seedsCnnSpec(new Rng(803), [16, 32, 32], "avg"), 806);
  compareOnRandomImages(spec, 1000, 250, 804);
});

Deno.test("CNN predict: batched equals one at a time; 10,000 predicts do not grow memory", () => {
  const rng = new Rng(805);
  const spec = seedsCnnSpec(rng, [8, 8, 8], "avg");
  const model = buildModel(spec);
  const x = rng.floats(9 * 32 * 32 * 3, 0, 1);
  const whole = model.predict(new Tensor(x, [9, 32, 32, 3]), { batchSize: 9 });
  for (let i = 0; i < 9; i++) {
    const one = model.predict(new Tensor(x.slice(i * 3072, (i + 1) * 3072), [1, 32, 32, 3]));
    const d = maxAbsDiff(one.data, whole.data.subarray(i * 10, i * 10 + 10));
    if (!(d <= 1e-6)) throw new Error(`sample ${i}: max |Δ| = ${d}`);
  }
  const { heap } = getRuntime();
  const bytes = heap.memoryBytes, live = heap.liveCount;
  const one = new Tensor(x.subarray(0, 3072), [1, 32, 32, 3]);
  for (let i = 0; i < 10_000; i++) model.predict(one);
  if (heap.memoryBytes !== bytes) throw new Error(`memory grew: ${bytes} → ${heap.memoryBytes}`);
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} blocks`);
  model.dispose();
});
