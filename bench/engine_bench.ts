/**
 * `deno task bench`: the seeds' CNN and text model at batch 1 and 64 — engine vs TF.js cpu vs
 * TF.js wasm, in one run. deno bench prints time per iteration and, per group, how many times
 * faster the engine (the baseline) is than each TF.js backend; samples/s = batch / time.
 */
import { buildModel, type ModelSpec, Tensor } from "../packages/engine/mod.ts";
import { randomIdBatch, seedsCnnSpec, seedsTextSpec } from "../packages/engine/testing/seeds_models.ts";
import { Rng } from "../packages/engine/testing/random.ts";
import { tfjsModelFromSpec } from "../packages/engine/testing/tfjs_reference.ts";
import { tf, useTfjsBackend } from "./tfjs_backends.ts";

const rng = new Rng(42);

interface Case {
  label: string;
  spec: ModelSpec;
  input: (batch: number) => Tensor;
}

const cases: Case[] = [
  {
    label: "seeds CNN 32x32x3 (3x conv-pool, 32/64/64)",
    spec: seedsCnnSpec(),
    input: (b) => new Tensor(rng.floats(b * 32 * 32 * 3, 0, 1), [b, 32, 32, 3]),
  },
  {
    label: "seeds text Emb64-BiLSTM64 len100",
    spec: seedsTextSpec(),
    input: (b) => new Tensor(randomIdBatch(rng, b, 100, 3000), [b, 100]),
  },
];

await useTfjsBackend("cpu");
for (const c of cases) {
  const engine = buildModel(c.spec);
  const cpuModel = tfjsModelFromSpec(c.spec);
  await useTfjsBackend("wasm");
  const wasmModel = tfjsModelFromSpec(c.spec);
  await useTfjsBackend("cpu");
  for (const batch of [1, 64]) {
    const x = c.input(batch);
    const group = `${c.label} batch ${batch}`;
    // TF.js cpu on the CNN at batch 64 takes seconds an iteration: cap its iterations.
    const slow = batch === 64 ? { n: 3, warmup: 1 } : { n: 20, warmup: 2 };
    Deno.bench({
      name: `engine   ${group}`,
      group,
      baseline: true,
      fn: () => {
        engine.predict(x, { batchSize: batch });
      },
    });
    Deno.bench({
      name: `tfjs-wasm ${group}`,
      group,
      ...slow,
      fn: async () => {
        await useTfjsBackend("wasm");
        tf.tidy(() => (wasmModel.predict(tf.tensor(x.data, [...x.shape], x.dtype)) as tf.Tensor).dataSync());
      },
    });
    Deno.bench({
      name: `tfjs-cpu ${group}`,
      group,
      ...slow,
      fn: async () => {
        await useTfjsBackend("cpu");
        tf.tidy(() => (cpuModel.predict(tf.tensor(x.data, [...x.shape], x.dtype)) as tf.Tensor).dataSync());
      },
    });
  }
}
