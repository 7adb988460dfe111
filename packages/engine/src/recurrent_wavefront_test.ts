import { buildModel, getRuntime, setKernelThreads, Tensor } from "../mod.ts";
import type { Model } from "./model.ts";
import type { KerasObject } from "./spec.ts";
import { maxAbsDiff, Rng } from "../testing/random.ts";
import { expectThrows } from "../testing/assert.ts";
import { RnnCell } from "./kernels/rnn_codes.ts";
import { wavefrontRuns } from "./recurrent_wavefront.ts";
import { job, type KernelJob, KernelThreadError, runJobs } from "./wasm/threads.ts";

const layer = (class_name: string, config: Record<string, unknown>) => ({ class_name, config });

type Cell = "SimpleRNN" | "LSTM" | "GRU";

interface StackOptions {
  cells: Cell[];
  units: number[];
  /** Ids through an Embedding (fused with the first layer), else floats through Masking. */
  embedding: boolean;
  masked: boolean;
  /** The top layer returns its whole sequence (the Dense head then runs on every step). */
  topSequences: boolean;
  time: number;
  vocab: number;
  features: number;
}

/** Input → stacked recurrent layers → Dense. */
function stackConfig(o: StackOptions): KerasObject {
  const n = o.cells.length;
  const rnns = o.cells.map((cell, i) =>
    layer(cell, {
      name: `rnn${i}`,
      units: o.units[i],
      return_sequences: i < n - 1 || o.topSequences,
      ...(cell === "GRU" ? { reset_after: i % 2 === 0 } : {}),
    })
  );
  const front = o.embedding
    ? [
      layer("InputLayer", { name: "ids", batch_shape: [null, o.time], dtype: "int32" }),
      layer("Embedding", {
        name: "emb",
        input_dim: o.vocab,
        output_dim: o.features,
        mask_zero: o.masked,
      }),
    ]
    : [
      layer("InputLayer", { name: "x", batch_shape: [null, o.time, o.features] }),
      ...(o.masked ? [layer("Masking", { name: "mask", mask_value: 0 })] : []),
    ];
  return {
    class_name: "Sequential",
    config: {
      name: "stack",
      layers: [...front, ...rnns, layer("Dense", { name: "out", units: 2 })],
    },
  };
}

/** One sequence: `len` real steps, post- or pre-padded (zeros) to `time`. */
function sequence(rng: Rng, o: StackOptions, len: number, pre: boolean): Tensor {
  const width = o.embedding ? 1 : o.features;
  const data = o.embedding ? new Int32Array(o.time) : new Float32Array(o.time * width);
  for (let k = 0; k < len; k++) {
    const t = pre ? o.time - 1 - k : k;
    for (let f = 0; f < width; f++) {
      data[t * width + f] = o.embedding ? rng.int(1, o.vocab) : rng.next() * 2 - 1;
    }
  }
  return new Tensor(data, o.embedding ? [1, o.time] : [1, o.time, o.features]);
}

function assertSame(a: Tensor, b: Tensor, what: string): void {
  const x = a.data as Float32Array, y = b.data as Float32Array;
  if (x.length !== y.length || !x.every((v, i) => Object.is(v, y[i]))) {
    throw new Error(`${what}: outputs differ (max |Δ| ${maxAbsDiff(x, y)})`);
  }
}

Deno.test("stacked recurrent layers at batch 1 on 2 kernel threads run as a wavefront and equal one thread and the unfused layers bit for bit (every cell, Embedding or Masking in front, post/pre/no padding, 2–4 layers)", () => {
  const rng = new Rng(4242);
  const cells: Cell[] = ["SimpleRNN", "LSTM", "GRU"];
  let cases = 0, waves = 0, unpadded = 0;
  for (let c = 0; c < 24; c++) {
    const n = rng.int(2, 5);
    const o: StackOptions = {
      cells: Array.from({ length: n }, () => cells[rng.int(0, 3)]),
      units: Array.from({ length: n }, () => [1, 4, 7, 12][rng.int(0, 4)]),
      embedding: c % 2 === 0,
      masked: c % 3 !== 0,
      topSequences: rng.next() < 0.4,
      time: rng.int(1, 23),
      vocab: rng.int(4, 30),
      features: [1, 3, 6][rng.int(0, 3)],
    };
    const [fused, plain] = [true, false].map((fuse) =>
      buildModel({ config: stackConfig(o), weights: {}, kerasVersion: "3.10.0" }, {
        initialize: { seed: 500 + c },
        fuse,
      })
    ) as [Model, Model];
    try {
      for (const padding of ["post", "pre", "none"] as const) {
        const len = padding === "none" || !o.masked ? o.time : rng.int(0, o.time + 1);
        const x = sequence(rng, o, len, padding === "pre");
        const what = `${JSON.stringify(o)} ${padding} (${len} steps)`;
        const one = fused.predict(x);
        assertSame(one, plain.predict(x), `${what}, fused vs unfused`);
        if (setKernelThreads(2, { minWork: 0 }) !== 2) {
          throw new Error("Deno should support kernel threads");
        }
        try {
          const before = wavefrontRuns();
          assertSame(fused.predict(x), one, `${what}, 2 threads vs 1`);
          const waved = wavefrontRuns() - before;
          if (waved > 1) throw new Error(`${what}: ${waved} wavefront runs for one predict`);
          // Without padding every layer runs over the whole sequence: always a wavefront.
          if (len === o.time && waved !== 1) throw new Error(`${what}: no wavefront`);
          waves += waved;
          if (len === o.time) unpadded++;
        } finally {
          setKernelThreads(1);
        }
        cases++;
      }
    } finally {
      fused.dispose();
      plain.dispose();
    }
  }
  if (cases !== 72 || unpadded < 24 || waves < 36) {
    throw new Error(`${cases} cases, ${unpadded} unpadded, ${waves} wavefronts`);
  }
});

Deno.test("stacked recurrent layers: one thread, or a batch of several sequences, run layer by layer (no wavefront)", () => {
  const o: StackOptions = {
    cells: ["LSTM", "GRU"],
    units: [8, 8],
    embedding: false,
    masked: false,
    topSequences: false,
    time: 12,
    vocab: 0,
    features: 3,
  };
  const m = buildModel({ config: stackConfig(o), weights: {}, kerasVersion: "3.10.0" }, {
    initialize: { seed: 9 },
  });
  try {
    const rng = new Rng(5);
    const x = new Tensor(Float32Array.from({ length: 4 * 12 * 3 }, () => rng.next()), [4, 12, 3]);
    const before = wavefrontRuns();
    m.predict(x);
    if (setKernelThreads(2, { minWork: 0 }) !== 2) throw new Error("no kernel threads");
    try {
      m.predict(x);
    } finally {
      setKernelThreads(1);
    }
    if (wavefrontRuns() !== before) throw new Error("a batch of 4 ran as a wavefront");
  } finally {
    m.dispose();
  }
});

/**
 * An LSTM `rnnSequence` job over a sequence of `time` steps of 3 features that waits on the i32 at
 * `inputReady` and publishes its progress at `outputReady`; `buffers` collects what to free.
 */
function waitingLstmJob(
  inputReady: number,
  outputReady: number,
  buffers: number[],
  time = 5,
): KernelJob {
  const { kernels, heap } = getRuntime();
  const units = 4, inDim = 3, g = 4 * units;
  const alloc = (bytes: number) => {
    const p = heap.alloc(bytes);
    heap.f32(p, bytes / 4).fill(0.1);
    buffers.push(p);
    return p;
  };
  const x = alloc(time * inDim * 4), out = alloc(time * units * 4);
  const work = alloc(kernels.rnnWorkspaceBytes(RnnCell.LSTM, 1, time, units));
  return {
    ...job(
      "rnnSequence",
      RnnCell.LSTM,
      x,
      1,
      time,
      inDim,
      units,
      alloc(inDim * g * 4),
      alloc(units * g * 4),
      0,
      0,
      0,
      1, // tanh
      0,
      2, // sigmoid
      0,
      2, // return_sequences
      out,
      units,
      0,
      0,
      0,
      0,
      work,
      0,
      inputReady,
      outputReady,
    ),
    failAt: outputReady,
  };
}

/** A job that traps at once: conv2dPacked refuses a dilated multi-column window. */
function trappingJob(failAt: number): KernelJob {
  return {
    ...job(
      "conv2dPacked",
      0,
      0,
      0,
      0,
      0,
      0,
      1,
      4,
      4,
      1,
      2,
      2,
      1,
      1,
      3,
      1,
      1,
      1,
      2,
      0,
      0,
      1,
      0,
      0,
    ),
    failAt,
  };
}

Deno.test("a wavefront stage that fails stops the stages waiting on it (on the calling thread or a worker): runJobs throws, nothing hangs", () => {
  const { heap } = getRuntime();
  if (setKernelThreads(2, { minWork: 0 }) !== 2) throw new Error("no kernel threads");
  const buffers: number[] = [];
  try {
    const counters = heap.alloc(8);
    buffers.push(counters);
    const reset = () => heap.i32(counters, 2).fill(0);
    // The lower stage fails on the calling thread; the upper one waits on a worker.
    reset();
    expectThrows(
      () =>
        runJobs(getRuntime().kernels, [
          trappingJob(counters),
          waitingLstmJob(counters, counters + 4, buffers),
        ]),
      Error,
    );
    let [lower, upper] = heap.i32(counters, 2);
    if (lower !== -1 || upper !== -1) {
      throw new Error(`caller failure: counters ${lower}, ${upper}`);
    }
    // The lower stage fails on the worker; the upper one runs on the calling thread after job 0.
    reset();
    const other = heap.alloc(16);
    buffers.push(other);
    expectThrows(
      () =>
        runJobs(getRuntime().kernels, [
          job("scaleInPlace", other, 4, 0.5),
          trappingJob(counters),
          waitingLstmJob(counters, counters + 4, buffers),
        ]),
      KernelThreadError,
    );
    [lower, upper] = heap.i32(counters, 2);
    if (lower !== -1 || upper !== -1) {
      throw new Error(`worker failure: counters ${lower}, ${upper}`);
    }
    // A lower stage already done: the upper one runs to the end and counts its steps.
    heap.i32(counters, 2).set([5, 0]);
    runJobs(getRuntime().kernels, [waitingLstmJob(counters, counters + 4, buffers)]);
    if (heap.i32(counters + 4, 1)[0] !== 5) {
      throw new Error("the upper stage did not count 5 steps");
    }
  } finally {
    setKernelThreads(1);
    for (const b of buffers) heap.free(b);
  }
});
