import { buildModel, Tensor } from "../../mod.ts";
import { seedsCnnSpec, seedsTextSpec } from "../../testing/seeds_models.ts";
import { getRuntime } from "./kernels.ts";
import {
  KernelThreadError,
  type KernelThreadPool,
  kernelThreads,
  setKernelThreads,
  splitRange,
  threadPoolFor,
} from "./threads.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";

Deno.test("splitRange covers the range in contiguous, non-empty, balanced parts", () => {
  for (const [total, parts] of [[1, 2], [7, 2], [64, 2], [5, 8], [17, 3]]) {
    const ranges = splitRange(total, parts);
    let next = 0;
    for (const [start, count] of ranges) {
      if (start !== next || count < 1) throw new Error(`bad range ${start},${count}`);
      next += count;
    }
    const sizes = ranges.map((r) => r[1]);
    if (next !== total || Math.max(...sizes) - Math.min(...sizes) > 1) {
      throw new Error(`splitRange(${total}, ${parts}) = ${JSON.stringify(ranges)}`);
    }
  }
});

Deno.test("kernel threads: CNN and text models predict the same as single-threaded", () => {
  const rng = new Rng(77);
  const text = { vocabSize: 50, embeddingDim: 16, units: [16], sequenceLength: 20 };
  const cases = [
    {
      spec: seedsCnnSpec({ filters: [8, 16], imageSize: 12 }),
      input: new Tensor(rng.floats(17 * 12 * 12 * 3, 0, 1), [17, 12, 12, 3]),
    },
    {
      spec: seedsTextSpec({ ...text, cell: "LSTM", bidirectional: true }),
      input: new Tensor(Int32Array.from({ length: 17 * 20 }, (_, i) => (i * 7) % 50), [17, 20]),
    },
    {
      spec: seedsTextSpec({ ...text, cell: "GRU", bidirectional: false, units: [16, 8] }),
      input: new Tensor(Int32Array.from({ length: 17 * 20 }, (_, i) => (i * 5) % 50), [17, 20]),
    },
  ];
  try {
    for (const { spec, input } of cases) {
      const model = buildModel(spec);
      setKernelThreads(1);
      const single = model.predict(input, { batchSize: 17 }).data;
      // minWork 0: split every call, even these small ones.
      if (setKernelThreads(2, { minWork: 0 }) !== 2 || kernelThreads() !== 2) {
        throw new Error("Deno should support kernel threads");
      }
      const threaded = model.predict(input, { batchSize: 17 }).data;
      const runs = threadPoolFor(getRuntime().kernels)!.parallelRuns;
      // CNN: 2 convs, 2 pools, dense; text: embedding is single, each RNN layer is split.
      if (runs < 2) throw new Error(`only ${runs} parallel kernel calls`);
      const d = maxAbsDiff(threaded, single);
      if (!(d <= 1e-6)) throw new Error(`threaded vs single: max |Δ| ${d}`);
      model.dispose();
    }
  } finally {
    setKernelThreads(1);
  }
});

Deno.test("kernel threads: a batch-1 CNN's convolutions split their channels (packed direct) and tiles (Winograd), bit for bit", () => {
  const rng = new Rng(78);
  // 30 → 64 channels: the first conv is direct (packed: 17,280 floats of kernel), 8 strips of 8
  // channels; 64 → 24 runs Winograd F(4×4, 3×3), 9 tiles.
  const model = buildModel(seedsCnnSpec({ filters: [64, 24], imageSize: 12, channels: 30 }));
  const input = new Tensor(rng.floats(12 * 12 * 30, 0, 1), [1, 12, 12, 30]);
  try {
    setKernelThreads(1);
    const single = model.predict(input).data;
    setKernelThreads(2, { minWork: 0 });
    const pool = threadPoolFor(getRuntime().kernels)!;
    const before = pool.parallelRuns;
    const threaded = model.predict(input).data;
    if (pool.parallelRuns === before) throw new Error("no parallel kernel call at batch 1");
    const d = maxAbsDiff(threaded, single);
    if (d !== 0) throw new Error(`threaded vs single: max |Δ| ${d}`);
  } finally {
    setKernelThreads(1);
    model.dispose();
  }
});

/**
 * Fills the 16 floats at `p` with `fill` (< 0), runs relu on each half as one job of `pool`
 * (the second on a worker, or on the caller) and checks that both halves became 0.
 */
function reluInTwoHalves(pool: KernelThreadPool, p: number, fill: number, what: string): void {
  const { heap } = getRuntime();
  heap.f32(p, 16).fill(fill);
  pool.run([{ fn: "activate", args: [p, 8, 1, 0] }, { fn: "activate", args: [p + 32, 8, 1, 0] }]);
  if (heap.f32(p, 16).some((v) => v !== 0)) throw new Error(`${what}: relu on both halves`);
}

Deno.test("kernel threads: a kernel trap on a worker is a KernelThreadError, the pool recovers", () => {
  try {
    setKernelThreads(2);
    const { kernels, heap } = getRuntime();
    const pool = threadPoolFor(kernels)!;
    const p = heap.alloc(64);
    const bad = 0x7fffffff; // far outside the memory: the worker's kernel traps
    let threw: unknown;
    try {
      pool.run([
        { fn: "activate", args: [p, 16, 1, 0] },
        { fn: "activate", args: [bad, 16, 1, 0] },
      ]);
    } catch (e) {
      threw = e;
    }
    if (!(threw instanceof KernelThreadError)) throw new Error(`expected KernelThreadError`);
    reluInTwoHalves(pool, p, -1, "after the trap");
    heap.free(p);
  } finally {
    setKernelThreads(1);
  }
});

Deno.test("kernel threads: spinMicros is checked, and a pool that blocks at once (0) or spins long runs the same jobs", () => {
  for (const bad of [-1, Number.NaN, 2e6]) {
    let threw = false;
    try {
      setKernelThreads(2, { spinMicros: bad });
    } catch (e) {
      threw = e instanceof RangeError && /spinMicros/.test(e.message);
    }
    if (!threw) throw new Error(`spinMicros ${bad} accepted`);
  }
  try {
    for (const spinMicros of [0, 5000]) {
      setKernelThreads(2, { spinMicros });
      const { kernels, heap } = getRuntime();
      const pool = threadPoolFor(kernels)!;
      const p = heap.alloc(64);
      for (let round = 0; round < 20; round++) {
        reluInTwoHalves(pool, p, -1 - round, `spin ${spinMicros}`);
      }
      heap.free(p);
    }
  } finally {
    setKernelThreads(1);
  }
});

Deno.test("kernel threads: a worker still starting or waking does not hold a call up — the caller runs its job", () => {
  try {
    // A long spin: `hot` is checked right after `wake`, and a thread descheduled between the two
    // (a loaded machine) must not turn the check into a timing test.
    setKernelThreads(2, { spinMicros: 200_000 });
    const { kernels, heap } = getRuntime();
    const pool = threadPoolFor(kernels)!;
    const p = heap.alloc(64);
    for (let round = 0; round < 20; round++) {
      // Round 0 starts the ended worker without waiting; later rounds post it an empty job.
      pool.wake();
      if (!pool.hot) throw new Error("a woken pool counts as hot");
      reluInTwoHalves(pool, p, -1 - round, `round ${round}`);
    }
    heap.free(p);
  } finally {
    setKernelThreads(1);
  }
});

Deno.test("kernel threads: a model of small layers wakes the workers and then splits its calls, bit for bit", () => {
  // Batch 1 of a 1-conv CNN: the conv (1.8 MFLOP) is under the default minWork (1e7) and over a
  // tenth of it, so it splits only while the workers spin. A long spin keeps the test from
  // depending on how fast this machine wakes a thread.
  const model = buildModel(seedsCnnSpec({ filters: [32], imageSize: 32, channels: 3 }));
  const input = new Tensor(new Rng(79).floats(32 * 32 * 3, 0, 1), [1, 32, 32, 3]);
  try {
    setKernelThreads(1);
    const single = model.predict(input).data;
    setKernelThreads(2, { spinMicros: 200_000 });
    const pool = threadPoolFor(getRuntime().kernels)!;
    let threaded = model.predict(input).data; // wakes (starts) the worker, runs on one thread
    const deadline = performance.now() + 10_000;
    while (pool.parallelRuns === 0 && performance.now() < deadline) {
      threaded = model.predict(input).data;
    }
    if (pool.parallelRuns === 0) throw new Error("the conv never split");
    const d = maxAbsDiff(threaded, single);
    if (d !== 0) throw new Error(`threaded vs single: max |Δ| ${d}`);
  } finally {
    setKernelThreads(1);
    model.dispose();
  }
});
