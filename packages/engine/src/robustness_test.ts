/**
 * Robustness of models against bad input and long use: flat memory over 10,000 predicts, no
 * interference between models, and a failed call (bad input, bad weights) leaves everything
 * usable and leaks no device memory.
 */
import {
  buildModel,
  EngineError,
  getRuntime,
  InputShapeError,
  type Model,
  type ModelSpec,
  Tensor,
  WeightShapeError,
} from "../mod.ts";
import { Rng } from "../testing/random.ts";
import { textModelSpec } from "../testing/rnn_cases.ts";

function denseSpec(seed: number): ModelSpec {
  const rng = new Rng(seed);
  return {
    config: {
      class_name: "Sequential",
      config: {
        name: `dense_${seed}`,
        layers: [
          { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 6] } },
          { class_name: "Dense", config: { name: "hidden", units: 5, activation: "relu" } },
          { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
        ],
      },
    },
    weights: {
      hidden: [
        { name: "kernel", shape: [6, 5], data: rng.floats(30) },
        { name: "bias", shape: [5], data: rng.floats(5) },
      ],
      out: [
        { name: "kernel", shape: [5, 3], data: rng.floats(15) },
        { name: "bias", shape: [3], data: rng.floats(3) },
      ],
    },
  };
}

const TIME = 7;
const VOCAB = 20;

function textSpec(seed: number): ModelSpec {
  return textModelSpec(new Rng(seed), { time: TIME, vocab: VOCAB, embeddingDim: 4 }, [
    { class_name: "LSTM", config: { name: "lstm", units: 3 } },
    { class_name: "Dense", config: { name: "head", units: 2, activation: "softmax" } },
  ]);
}

function ids(rng: Rng, batch: number): Tensor {
  const data = new Int32Array(batch * TIME);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, VOCAB);
  return new Tensor(data, [batch, TIME]);
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) throw new Error(`${what}: element ${i} ${a[i]} vs ${b[i]}`);
  }
}

function expectEngineError(fn: () => unknown, ...parts: string[]): EngineError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof EngineError)) throw new Error(`expected an EngineError, got ${e}`);
    for (const p of parts) {
      if (!e.message.includes(p)) throw new Error(`"${e.message}" lacks "${p}"`);
    }
    return e;
  }
  throw new Error("expected an EngineError, nothing was thrown");
}

Deno.test("10,000 predicts of a masked Embedding→LSTM model keep device and JS memory flat", () => {
  const { heap } = getRuntime();
  const model = buildModel(textSpec(1));
  const x = ids(new Rng(2), 4);
  const first = model.predict(x).data.slice();
  for (let i = 0; i < 200; i++) model.predict(x); // warm-up: pools and JIT settle
  const live = heap.liveCount;
  const reserved = heap.memoryBytes;
  const jsBefore = Deno.memoryUsage().heapUsed;
  let last: Tensor | undefined;
  for (let i = 0; i < 10_000; i++) last = model.predict(x);
  if (heap.memoryBytes !== reserved) {
    throw new Error(`WebAssembly memory grew: ${reserved} → ${heap.memoryBytes}`);
  }
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} device blocks`);
  // Garbage from 10,000 calls is collected as it goes; a leak of even 1 KB per call would show.
  const jsGrowth = Deno.memoryUsage().heapUsed - jsBefore;
  if (jsGrowth > 16 << 20) throw new Error(`JS heap grew ${(jsGrowth / 2 ** 20).toFixed(1)} MiB`);
  sameBits(last!.data, first, "output after 10,000 calls");
  model.dispose();
  if (heap.liveCount >= live) throw new Error("dispose freed nothing");
});

Deno.test("two models in one process do not interfere", () => {
  const { heap } = getRuntime();
  const before = heap.liveCount;
  const rng = new Rng(3);
  const xDense = new Tensor(rng.floats(2 * 6), [2, 6]);
  const xText = ids(rng, 3);
  // Reference outputs of each model alone.
  const alone = (spec: ModelSpec, x: Tensor) => {
    const m = buildModel(spec);
    const y = m.predict(x).data.slice();
    m.dispose();
    return y;
  };
  const wantA = alone(denseSpec(10), xDense);
  const wantB = alone(denseSpec(11), xDense);
  const wantT = alone(textSpec(12), xText);
  const a = buildModel(denseSpec(10));
  const b = buildModel(denseSpec(11)); // same layer names and shapes, other weights
  const t = buildModel(textSpec(12));
  for (let round = 0; round < 3; round++) {
    sameBits(a.predict(xDense).data, wantA, `model a, round ${round}`);
    sameBits(t.predict(xText).data, wantT, `text model, round ${round}`);
    sameBits(b.predict(xDense, { batchSize: 1 }).data, wantB, `model b, round ${round}`);
  }
  b.dispose();
  // A new model may reuse b's freed memory; a and t must not notice.
  const c = buildModel(denseSpec(13));
  c.predict(xDense);
  sameBits(a.predict(xDense).data, wantA, "model a after b was disposed and c built");
  sameBits(t.predict(xText).data, wantT, "text model after b was disposed and c built");
  for (const m of [a, c, t]) m.dispose();
  if (heap.liveCount !== before) throw new Error(`${heap.liveCount - before} blocks not freed`);
});

Deno.test("failed predicts throw typed errors, leak nothing and leave the model usable", () => {
  const { heap } = getRuntime();
  const rng = new Rng(4);
  const text = buildModel(textSpec(5));
  const dense = buildModel(denseSpec(6));
  const xText = ids(rng, 2);
  const xDense = new Tensor(rng.floats(12), [2, 6]);
  const wantText = text.predict(xText).data.slice();
  const wantDense = dense.predict(xDense).data.slice();
  const live = heap.liveCount;
  const withId = (value: number, float = false) => {
    const data = float ? Float32Array.from(xText.data) : Int32Array.from(xText.data);
    data[9] = value;
    return new Tensor(data, [2, TIME]);
  };
  const bad: [string, Model, () => unknown, string[]][] = [
    ["negative id", text, () => text.predict(withId(-1)), ["embedding", "-1", "[1, 2]"]],
    ["id = input_dim", text, () => text.predict(withId(VOCAB)), ["embedding", `${VOCAB}`]],
    ["huge id", text, () => text.predict(withId(2 ** 31 - 1)), ["embedding"]],
    ["fractional id", text, () => text.predict(withId(2.5, true)), ["embedding", "2.5"]],
    ["NaN id", text, () => text.predict(withId(NaN, true)), ["finite", "NaN"]],
    [
      "wrong time length",
      text,
      () => text.predict(new Tensor(new Int32Array(2 * (TIME + 1)), [2, TIME + 1])),
      [`(None, ${TIME})`, `(2, ${TIME + 1})`],
    ],
    [
      "wrong rank",
      text,
      () => text.predict(new Tensor(new Int32Array(2 * TIME), [2, TIME, 1])),
      ["ids", `(None, ${TIME})`, `(2, ${TIME}, 1)`],
    ],
    ["NaN feature", dense, () => dense.predict(new Tensor(new Float32Array(6).fill(NaN), [1, 6])), [
      "finite",
    ]],
    [
      "Infinity feature",
      dense,
      () => dense.predict(new Tensor(new Float32Array(6).fill(-Infinity), [1, 6])),
      ["finite", "-Infinity"],
    ],
    ["wrong width", dense, () => dense.predict(new Tensor(new Float32Array(7), [1, 7])), [
      "(None, 6)",
      "(1, 7)",
    ]],
    [
      "not a Tensor",
      dense,
      () => dense.predict({ data: new Float32Array(6), shape: [1, 6] } as never),
      [
        "a Tensor",
      ],
    ],
    ["null input", dense, () => dense.predict(null as never), ["a Tensor", "null"]],
    ["batchSize 0", dense, () => dense.predict(xDense, { batchSize: 0 }), ["batchSize"]],
    ["batchSize 1.5", dense, () => dense.predict(xDense, { batchSize: 1.5 }), ["batchSize"]],
    ["batchSize NaN", dense, () => dense.predict(xDense, { batchSize: NaN }), ["batchSize"]],
    ["null options", dense, () => dense.predict(xDense, null as never), ["options"]],
  ];
  for (const [what, model, call, parts] of bad) {
    let e: EngineError;
    try {
      e = expectEngineError(call, ...parts);
    } catch (failure) {
      throw new Error(`${what}: ${(failure as Error).message}`);
    }
    if (!(e instanceof InputShapeError)) throw new Error(`${what}: ${e.name}, not InputShapeError`);
    if (heap.liveCount !== live) throw new Error(`${what}: leaked ${heap.liveCount - live} blocks`);
    const [x, want] = model === text ? [xText, wantText] : [xDense, wantDense];
    sameBits(model.predict(x).data, want, `output after "${what}"`);
  }
  text.dispose();
  dense.dispose();
});

Deno.test("a model whose build fails frees the weights its earlier layers uploaded", () => {
  const { heap } = getRuntime();
  const live = heap.liveCount;
  const spec = denseSpec(7);
  spec.weights.out[0] = { name: "kernel", shape: [4, 3], data: new Float32Array(12) };
  expectEngineError(() => buildModel(spec), "out", "kernel", "[5, 3]", "[4, 3]");
  const text = textSpec(8);
  text.weights.head = [];
  const e = expectEngineError(() => buildModel(text), "head");
  if (!(e instanceof WeightShapeError)) throw new Error(`expected WeightShapeError, got ${e}`);
  if (heap.liveCount !== live) {
    throw new Error(`failed builds leaked ${heap.liveCount - live} device blocks`);
  }
});

Deno.test("Tensor refuses bad data and shapes with InputShapeError", () => {
  expectEngineError(() => new Tensor(new Float32Array(5), [2, 3]), "6 values", "5 values");
  expectEngineError(() => new Tensor(new Float32Array(0), [2, -1]), "non-negative", "-1");
  expectEngineError(() => new Tensor(new Float32Array(2), [1.5, 2]), "non-negative", "1.5");
  expectEngineError(() => new Tensor([1, 2] as never, [2]), "Float32Array", "Array");
  expectEngineError(() => new Tensor(new Float64Array(2) as never, [2]), "Float64Array");
  expectEngineError(() => new Tensor(new Float32Array(2), "2" as never), "shape", "string");
});

Deno.test("int32 input to a float model is cast like Keras, not reinterpreted", () => {
  const model = buildModel(denseSpec(9));
  const values = [3, -2, 0, 7, 1, -5, 2, 2, 9, -1, 4, 0];
  const asFloat = model.predict(new Tensor(Float32Array.from(values), [2, 6])).data;
  const asInt = model.predict(new Tensor(Int32Array.from(values), [2, 6])).data;
  sameBits(asInt, asFloat, "int32 vs float32 input");
  model.dispose();
});

Deno.test("window sizes, strides and dilations beyond 32-bit kernel arithmetic are refused", () => {
  for (
    const [className, field, value] of [
      ["MaxPooling2D", "pool_size", [1e9, 2]],
      ["AveragePooling2D", "strides", [2, 2 ** 31]],
      ["Conv2D", "dilation_rate", [1e15, 1]],
    ] as const
  ) {
    const config = { name: "window", filters: 2, kernel_size: [3, 3], [field]: value };
    expectEngineError(
      () =>
        buildModel({
          config: {
            class_name: "Sequential",
            config: {
              name: "m",
              layers: [
                { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 8, 8, 1] } },
                { class_name: className, config },
              ],
            },
          },
          weights: {},
        }),
      "window",
      field,
    );
  }
});

Deno.test("malformed specs and weight lists are typed errors, not TypeErrors", () => {
  const spec = denseSpec(14);
  const kernel = spec.weights.hidden[0];
  const variants: [string, unknown, string[]][] = [
    ["null spec", null, ["model spec"]],
    ["weights list a string", { ...spec, weights: { ...spec.weights, hidden: "ab" } }, [
      "hidden",
      "array",
    ]],
    ["weight without shape", { ...spec, weights: { ...spec.weights, hidden: [{}, {}] } }, [
      "hidden",
      "#0",
    ]],
    [
      "weight data a plain array",
      { ...spec, weights: { ...spec.weights, hidden: [{ ...kernel, data: [...kernel.data] }] } },
      ["hidden", "kernel", "Float32Array", "Array"],
    ],
  ];
  const { heap } = getRuntime();
  const live = heap.liveCount;
  for (const [what, bad, parts] of variants) {
    try {
      expectEngineError(() => buildModel(bad as ModelSpec), ...parts);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
  }
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} device blocks`);
});
