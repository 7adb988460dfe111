import { buildModel, getRuntime, Tensor, WeightShapeError } from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tfjsModelFromSpec, tfjsPredict, tfReady } from "../../testing/tfjs_reference.ts";
import { assertClose } from "../../testing/assert.ts";
import { ActivationCode } from "../activations.ts";
import { gemmReference } from "../kernels/gemm_reference.ts";
import { setKernelThreads, threadPoolFor } from "../wasm/threads.ts";
import { Dense } from "./dense.ts";

function denseSpec(rng: Rng, inDim: number, units: number[], acts: string[], rank3 = false) {
  const layers: unknown[] = [{
    class_name: "InputLayer",
    config: { name: "in", batch_shape: rank3 ? [null, 5, inDim] : [null, inDim] },
  }];
  const weights: Record<string, { name: string; shape: number[]; data: Float32Array }[]> = {};
  let d = inDim;
  units.forEach((u, i) => {
    const name = `dense_${i}`;
    layers.push({
      class_name: "Dense",
      config: { name, units: u, activation: acts[i], use_bias: i % 2 === 0 },
    });
    weights[name] = [{ name: "kernel", shape: [d, u], data: rng.floats(d * u) }];
    if (i % 2 === 0) weights[name].push({ name: "bias", shape: [u], data: rng.floats(u) });
    d = u;
  });
  return { config: { class_name: "Sequential", config: { name: "seq", layers } }, weights };
}

Deno.test("Dense chains match TF.js for every activation TF.js shares (rank 2 and 3)", async () => {
  await tfReady();
  const rng = new Rng(21);
  const acts = [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "linear",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "relu6",
    "hard_sigmoid",
    "gelu",
    "mish",
  ];
  for (const rank3 of [false, true]) {
    for (let i = 0; i < acts.length; i += 2) {
      const spec = {
        ...denseSpec(rng, 13, [9, 6], [acts[i], acts[i + 1] ?? "linear"], rank3),
        kerasVersion: "2.15.0",
      };
      const model = buildModel(spec);
      const tfm = tfjsModelFromSpec(spec);
      for (const batch of [1, 17]) {
        const shape = rank3 ? [batch, 5, 13] : [batch, 13];
        const x = rng.floats(shape.reduce((a, b) => a * b), -2, 2);
        const got = model.predict(new Tensor(x, shape), { batchSize: 4 });
        const want = tfjsPredict(tfm, x, shape);
        const d = maxAbsDiff(got.data, want);
        if (!(d <= 1e-5)) {
          throw new Error(`${acts[i]}/${acts[i + 1]} rank3=${rank3} batch=${batch}: ${d}`);
        }
      }
      model.dispose();
    }
  }
});

Deno.test("predict batched equals one sample at a time; repeated predicts do not grow memory", async () => {
  const { getRuntime } = await import("../../mod.ts");
  const rng = new Rng(2);
  const model = buildModel(denseSpec(rng, 31, [40, 3], ["relu", "softmax"]));
  const x = rng.floats(50 * 31);
  const whole = model.predict(new Tensor(x, [50, 31]), { batchSize: 50 });
  for (let i = 0; i < 50; i++) {
    const one = model.predict(new Tensor(x.slice(i * 31, (i + 1) * 31), [1, 31]), { batchSize: 1 });
    if (maxAbsDiff(one.data, whole.data.subarray(i * 3, i * 3 + 3)) > 1e-6) {
      throw new Error(`row ${i}`);
    }
  }
  const { heap } = getRuntime();
  const live = heap.liveCount;
  const bytes = heap.memoryBytes;
  for (let i = 0; i < 10_000; i++) model.predict(new Tensor(x.subarray(0, 31 * 4), [4, 31]));
  if (heap.memoryBytes !== bytes) throw new Error(`memory grew: ${bytes} → ${heap.memoryBytes}`);
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} blocks`);
  model.dispose();
});

Deno.test("weights whose shapes disagree with the config: typed error naming layer and shapes", () => {
  const rng = new Rng(4);
  const spec = denseSpec(rng, 8, [5], ["relu"]);
  spec.weights.dense_0[0] = { name: "kernel", shape: [7, 5], data: rng.floats(35) };
  let err: unknown;
  try {
    buildModel(spec);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof WeightShapeError)) throw new Error(`expected WeightShapeError, got ${err}`);
  for (const s of ["dense_0", "kernel", "[8, 5]", "[7, 5]"]) {
    if (!err.message.includes(s)) throw new Error(`message lacks ${s}: ${err.message}`);
  }
});

Deno.test("A narrow, deep Dense (10 units over 300 inputs: packed for inference) matches TF.js and follows weights changed in place", async () => {
  await tfReady();
  const rng = new Rng(23);
  const spec = { ...denseSpec(rng, 300, [10], ["softmax"], true), kerasVersion: "2.15.0" };
  const model = buildModel(spec);
  const x = new Tensor(rng.floats(2 * 5 * 300), [2, 5, 300]);
  const want = tfjsPredict(tfjsModelFromSpec(spec), x.data, [...x.shape]);
  const got = model.predict(x);
  if (!(maxAbsDiff(got.data, want) <= 1e-6)) {
    throw new Error(`packed Dense vs TF.js: ${maxAbsDiff(got.data, want)}`);
  }
  // Weights changed in place, as an optimizer step does: the packed copy must follow them (a
  // stale copy would repeat `got`).
  const layer = model.getLayer("dense_0");
  const fresh = [rng.floats(300 * 10), rng.floats(10)];
  const { heap } = getRuntime();
  heap.f32(layer.deviceWeights()[0], 3000).set(fresh[0]);
  heap.f32(layer.deviceWeights()[1], 10).set(fresh[1]);
  layer.weightsUpdated();
  const spec2 = {
    ...spec,
    weights: {
      dense_0: [
        { name: "kernel", shape: [300, 10], data: fresh[0] },
        { name: "bias", shape: [10], data: fresh[1] },
      ],
    },
  };
  const want2 = tfjsPredict(tfjsModelFromSpec(spec2), x.data, [...x.shape]);
  const got2 = model.predict(x);
  if (!(maxAbsDiff(got2.data, want2) <= 1e-6)) {
    throw new Error(
      `packed Dense after the weights changed vs TF.js: ${maxAbsDiff(got2.data, want2)}`,
    );
  }
  model.dispose();
});

Deno.test("kernel threads: a one-row Dense splits its columns where gemm's layout restarts, bit for bit the single call and within 1e-5 of the reference", () => {
  const rng = new Rng(3101);
  const { kernels, heap } = getRuntime();
  const ctx = { kernels, heap, training: false };
  // [units, inputs]: MobileNetV2's and ResNet50's classifiers (B wider than one panel), one panel
  // (cut at 32-column tiles), columns not a multiple of 4, and a narrow one (never split).
  const shapes = [[1000, 1280], [1000, 2048], [300, 70], [517, 129], [77, 64], [10, 1024]];
  try {
    for (const [units, k] of shapes) {
      const layer = new Dense({ name: "d", units, activation: "relu6" });
      const kernel = rng.floats(k * units, -0.2, 0.2), bias = rng.floats(units, -0.5, 0.5);
      layer.build([k], [{ name: "kernel", shape: [k, units], data: kernel }, {
        name: "bias",
        shape: [units],
        data: bias,
      }], heap);
      const xData = rng.floats(k, -2, 2);
      const run = () => {
        const x = { ptr: heap.upload(xData), shape: [1, k], dtype: "float32" as const };
        const y = layer.call(x, null, ctx);
        const out = heap.f32(y.ptr, units).slice();
        heap.free(x.ptr);
        heap.free(y.ptr);
        return out;
      };
      setKernelThreads(1);
      const single = run();
      for (const threads of [2, 3]) {
        setKernelThreads(threads, { minWork: 0 });
        const pool = threadPoolFor(kernels)!;
        const before = pool.parallelRuns;
        const threaded = run();
        const split = pool.parallelRuns > before;
        const narrow = kernels.gemmNarrowApplies(units, k) === 1;
        if (split === narrow) throw new Error(`${units}×${k}: split ${split}, narrow ${narrow}`);
        assertClose(threaded, single, 0, `${units}×${k} on ${threads} threads`);
      }
      const relu6 = {
        kind: "elementwise",
        code: ActivationCode.Relu6,
        alpha: 0,
        name: "",
      } as const;
      assertClose(
        single,
        gemmReference(xData, kernel, bias, 1, units, k, relu6),
        1e-5,
        `${units}×${k}`,
      );
      layer.dispose();
    }
  } finally {
    setKernelThreads(1);
  }
});
