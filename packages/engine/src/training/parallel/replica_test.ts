import assert from "node:assert/strict";
import { buildModel, ModelConfigError, Tensor } from "../../../mod.ts";
import { expectThrows } from "../../../testing/assert.ts";
import { Rng } from "../../../testing/random.ts";
import { randomIdBatch, seedsCnnSpec, seedsTextSpec } from "../../../testing/seeds_models.ts";
import { setKernelThreads } from "../../wasm/threads.ts";

function images(rng: Rng, n: number, size: number): Tensor {
  const data = new Float32Array(n * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(0, 1);
  return new Tensor(data, [n, size, size, 3]);
}

/** Bit-for-bit equality of two outputs (a replica runs the same kernels on its own samples). */
function assertSame(a: Tensor, b: Tensor, what: string): void {
  assert.deepStrictEqual(a.shape, b.shape, `${what}: shape`);
  for (let i = 0; i < a.data.length; i++) {
    if (!Object.is(a.data[i], b.data[i])) {
      throw new Error(`${what}: value ${i}: ${a.data[i]} vs ${b.data[i]}`);
    }
  }
}

Deno.test("predict threads: a CNN's replicas give one thread's outputs bit for bit", () => {
  const model = buildModel(seedsCnnSpec({ filters: [8, 16], imageSize: 13, seed: 3 }));
  try {
    const rng = new Rng(5);
    const x = images(rng, 11, 13);
    const want = model.predict(x);
    assert.deepStrictEqual(model.setPredictThreads(3), 3);
    assert.deepStrictEqual(model.predictThreads, 3);
    // 11 samples in shares of 4, 4, 3; batches below the thread count stay on this thread.
    assertSame(model.predict(x), want, "11 samples, 3 threads");
    assert.deepStrictEqual(model.runningPredictReplicas, 2);
    assertSame(model.predict(x, { batchSize: 2 }), want, "chunks of 2");
    assertSame(model.predict(x.sliceBatch(0, 2)), want.sliceBatch(0, 2), "2 samples");
    // Layer outputs by name (feature extraction) split the same way.
    const name = model.layers[2].name;
    const [feature] = model.predictMany([x], { outputs: [name] });
    model.setPredictThreads(1);
    assert.deepStrictEqual(model.runningPredictReplicas, 0);
    assertSame(feature, model.predictMany([x], { outputs: [name] })[0], `layer ${name}`);
  } finally {
    model.dispose();
  }
});

Deno.test("predict threads: shares follow measured speed, any split gives the same outputs", () => {
  const model = buildModel(seedsCnnSpec({ filters: [8, 16], imageSize: 13, seed: 9 }));
  try {
    // 40 samples: 20 a thread, enough for the split to follow speeds (16 a thread at least).
    const x = images(new Rng(6), 40, 13);
    const want = model.predict(x);
    model.setPredictThreads(2);
    assert.deepStrictEqual(model.predictShares, [], "no replicated call yet");
    assertSame(model.predict(x), want, "first call");
    assert.deepStrictEqual(model.predictShares, [20, 20], "even before any speed is known");
    for (let call = 0; call < 12; call++) {
      assertSame(model.predict(x), want, `call ${call}`);
      const shares: readonly number[] = model.predictShares;
      assert.deepStrictEqual(shares.length, 2);
      assert.deepStrictEqual(shares[0] + shares[1], 40);
      assert(shares.every((s) => s >= 8), `a thread keeps a quarter of the other's: ${shares}`);
    }
    // A small batch splits evenly.
    assertSame(model.predict(x.sliceBatch(3, 8)), want.sliceBatch(3, 8), "5 samples");
    assert.deepStrictEqual(model.predictShares, [3, 2]);
  } finally {
    model.dispose();
  }
});

Deno.test("predict threads: replicas follow weight changes and int32 text inputs", () => {
  const model = buildModel(seedsTextSpec({ vocabSize: 50, units: [6], sequenceLength: 9 }));
  try {
    const rng = new Rng(2);
    const x = new Tensor(randomIdBatch(rng, 7, 9, 50), [7, 9]);
    assert.deepStrictEqual(model.setPredictThreads(2), 2);
    const before = model.predict(x);
    // New weights: the replica must not keep answering with the old ones.
    const layer = model.layers.find((l) => l.getWeights().length > 0)!;
    layer.setWeights(
      layer.getWeights().map((w) => ({
        ...w,
        data: w.data.map((v) => v * 0.5),
      })),
    );
    const after = model.predict(x);
    model.setPredictThreads(1);
    assertSame(after, model.predict(x), "after setWeights");
    assert(after.data.some((v, i) => v !== before.data[i]), "the weights change the outputs");
  } finally {
    model.dispose();
  }
});

Deno.test("predict threads: kernel threads stay off during a replicated call", () => {
  const model = buildModel(seedsCnnSpec({ filters: [8], imageSize: 9, seed: 4 }));
  try {
    const x = images(new Rng(8), 6, 9);
    const want = model.predict(x);
    setKernelThreads(2, { minWork: 0 });
    model.setPredictThreads(2);
    assertSame(model.predict(x), want, "kernel threads and replicas");
  } finally {
    setKernelThreads(1);
    model.dispose();
  }
});

Deno.test("predict threads: bad counts are typed errors; a failed call leaves no replica busy", () => {
  const model = buildModel(seedsCnnSpec({ filters: [4], imageSize: 8, seed: 6 }));
  try {
    for (const bad of [0, 1.5, -2, NaN]) {
      expectThrows(() => model.setPredictThreads(bad), ModelConfigError, "integer ≥ 1");
    }
    expectThrows(() => model.setPredictThreads(2, { idleMs: -1 }), ModelConfigError, "idleMs");
    model.setPredictThreads(2);
    // Wrong input shape: this thread's share refuses it, and the call still waits for the
    // replica before throwing (no replica is left busy).
    const wrong = new Tensor(new Float32Array(4 * 5 * 5 * 3), [4, 5, 5, 3]);
    assert.throws(() => model.predict(wrong));
    const x = images(new Rng(1), 4, 8);
    assert.deepStrictEqual(model.predict(x).shape, [4, 10]);
  } finally {
    model.dispose();
  }
});

Deno.test("predict threads: an idle replica ends itself and the next call starts it again", async () => {
  const model = buildModel(seedsCnnSpec({ filters: [4], imageSize: 8, seed: 7 }));
  try {
    const x = images(new Rng(3), 4, 8);
    const want = model.predict(x);
    model.setPredictThreads(2, { idleMs: 50 });
    assertSame(model.predict(x), want, "first call");
    assert.deepStrictEqual(model.runningPredictReplicas, 1);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepStrictEqual(model.runningPredictReplicas, 0);
    assertSame(model.predict(x), want, "after the replica ended");
  } finally {
    model.dispose();
  }
});
