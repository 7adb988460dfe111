import { buildModel, getRuntime, Tensor } from "../mod.ts";
import { argmaxRows, maxAbsDiff, Rng } from "../testing/random.ts";
import { randomIdBatch, seedsTextSpec } from "../testing/seeds_models.ts";
import { tf, tfjsModelFromSpec, tfjsPredict, tfReady } from "../testing/tfjs_reference.ts";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

const LENGTH = 100, VOCAB = 3000, CLASSES = 3;

/** TF.js's wasm (XNNPACK) backend, with its binaries from the npm package's wasm-out/. */
async function useTfjsWasm(): Promise<void> {
  const entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  setWasmPaths(new URL("../wasm-out/", entry).pathname);
  await tf.setBackend("wasm");
  await tf.ready();
}

Deno.test("seeds text model (Embedding mask_zero → BiLSTM 64 → Dropout → Dense softmax) matches TF.js on 1,000 inputs", async () => {
  const spec = seedsTextSpec({ vocabSize: VOCAB, sequenceLength: LENGTH, classes: CLASSES });
  const model = buildModel(spec);
  const rng = new Rng(2024);
  const worst = { wasm: 0, cpu: 0 };
  let argmaxDiffs = 0;
  const seen = new Set<number>();
  // TF.js cpu runs this LSTM at ~20 samples/s on the shared machine: it checks the first 100
  // inputs; TF.js's wasm backend (same model and weights) checks all 1,000 in ~10 s.
  await tfReady();
  const cpuModel = tfjsModelFromSpec(spec);
  await useTfjsWasm();
  const wasmModel = tfjsModelFromSpec(spec);
  try {
    for (let start = 0; start < 1000; start += 100) {
      const ids = randomIdBatch(rng, 100, LENGTH, VOCAB);
      const got = model.predict(new Tensor(ids, [100, LENGTH]), { batchSize: 64 }).data;
      const references = [wasmModel];
      if (start === 0) references.push(cpuModel);
      for (const tfm of references) {
        const backend = tfm === cpuModel ? "cpu" : "wasm";
        await tf.setBackend(backend);
        const want = tfjsPredict(tfm, ids, [100, LENGTH]);
        worst[backend] = Math.max(worst[backend], maxAbsDiff(got, want));
        const a = argmaxRows(got, CLASSES), b = argmaxRows(want, CLASSES);
        a.forEach((v, i) => {
          seen.add(v);
          if (v !== b[i]) argmaxDiffs++;
        });
      }
    }
  } finally {
    model.dispose();
    await tf.setBackend("wasm");
    wasmModel.dispose();
    await tf.setBackend("cpu");
    cpuModel.dispose();
  }
  console.log(
    `seeds text: max |Δp| vs TF.js wasm (1,000) ${worst.wasm.toExponential(2)}, ` +
      `vs TF.js cpu (100) ${worst.cpu.toExponential(2)}; argmax differences ${argmaxDiffs}`,
  );
  for (const [backend, d] of Object.entries(worst)) {
    if (!(d <= 1e-5)) throw new Error(`max |Δp| vs TF.js ${backend} = ${d} > 1e-5`);
  }
  if (argmaxDiffs !== 0) throw new Error(`${argmaxDiffs} argmax differences`);
  // A model that always answers the same class would make the argmax check empty.
  if (seen.size < 2) throw new Error("every input got the same class");
});

Deno.test("seeds text model: batched predict equals one sample at a time; repeats do not grow memory", () => {
  const model = buildModel(seedsTextSpec({ seed: 7 }));
  const rng = new Rng(5);
  const n = 20;
  const ids = randomIdBatch(rng, n, LENGTH, VOCAB);
  const whole = model.predict(new Tensor(ids, [n, LENGTH]), { batchSize: 7 }).data;
  for (let i = 0; i < n; i++) {
    const one = model.predict(new Tensor(ids.slice(i * LENGTH, (i + 1) * LENGTH), [1, LENGTH]));
    const d = maxAbsDiff(one.data, whole.subarray(i * CLASSES, (i + 1) * CLASSES));
    if (d > 1e-6) throw new Error(`sample ${i}: batched vs single ${d}`);
  }
  const { heap } = getRuntime();
  const bytes = heap.memoryBytes, live = heap.liveCount;
  const x = new Tensor(ids.subarray(0, 4 * LENGTH), [4, LENGTH]);
  for (let i = 0; i < 300; i++) model.predict(x);
  if (heap.memoryBytes !== bytes) throw new Error(`memory grew: ${bytes} → ${heap.memoryBytes}`);
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} blocks`);
  model.dispose();
});
