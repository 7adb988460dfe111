/**
 * The handler on small models built with the engine, saved with `saveKeras` and reloaded with the
 * importer's `loadModel`: the predict API (single-output, multi-output, text), batching equal to
 * unbatched predictions bit for bit, every error path, limits, metrics and draining.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { buildModel, type KerasObject, Tensor } from "../engine/mod.ts";
import { type LoadedModel, loadModel, saveKeras } from "../keras-importer/mod.ts";
import { TextVectorization } from "../tokenizer/mod.ts";
import { createHandler, ServingConfigError, type ServingHandler } from "./mod.ts";

const BASE = "http://serving.test";

function dense(name: string, units: number, activation: string) {
  return { class_name: "Dense", config: { name, units, activation } };
}

/** A Sequential [4] → 8 relu → 3 softmax. */
const MLP: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "mlp",
    layers: [
      { class_name: "InputLayer", config: { name: "features", batch_shape: [null, 4] } },
      dense("hidden", 8, "relu"),
      dense("probs", 3, "softmax"),
    ],
  },
};

/** A Functional [4] → (head_a: 2 linear, head_b: 3 softmax). */
const TWO_HEADS: KerasObject = {
  class_name: "Functional",
  config: {
    name: "two_heads",
    layers: [
      {
        class_name: "InputLayer",
        name: "x",
        config: { name: "x", batch_input_shape: [null, 4] },
        inbound_nodes: [],
      },
      { ...dense("trunk", 6, "tanh"), name: "trunk", inbound_nodes: [[["x", 0, 0, {}]]] },
      { ...dense("head_a", 2, "linear"), name: "head_a", inbound_nodes: [[["trunk", 0, 0, {}]]] },
      { ...dense("head_b", 3, "softmax"), name: "head_b", inbound_nodes: [[["trunk", 0, 0, {}]]] },
    ],
    input_layers: [["x", 0, 0]],
    output_layers: [["head_a", 0, 0], ["head_b", 0, 0]],
  },
};

const TEXTS = [
  "the food was great",
  "the service was slow",
  "great great food",
  "slow and cold food",
  "I liked the soup",
];

/** int32 tokens [6] → Embedding → mean → 2 softmax. */
const TEXT_MODEL: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "text",
    layers: [
      {
        class_name: "InputLayer",
        config: { name: "tokens", batch_shape: [null, 6], dtype: "int32" },
      },
      { class_name: "Embedding", config: { name: "embed", input_dim: 20, output_dim: 5 } },
      { class_name: "GlobalAveragePooling1D", config: { name: "pool" } },
      dense("sentiment", 2, "softmax"),
    ],
  },
};

/** Builds `config` with seeded weights, saves it as `.keras` and loads it back. */
async function saved(config: KerasObject, seed: number): Promise<LoadedModel> {
  const dir = await Deno.makeTempDir({ prefix: "serving_test_" });
  try {
    const model = buildModel({ config, weights: {} }, { initialize: { seed } });
    const path = `${dir}/model.keras`;
    await saveKeras(model, path);
    model.dispose();
    return await loadModel(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function textPreprocessing() {
  const tv = new TextVectorization({ maxTokens: 20, outputSequenceLength: 6 });
  tv.adapt(TEXTS);
  return [{
    layerName: tv.name,
    className: "TextVectorization" as const,
    config: tv.getConfig() as unknown as Record<string, unknown>,
    vocabulary: tv.getVocabulary(),
  }];
}

function rows(n: number, seed: number): number[][] {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 4 - 2;
  return Array.from({ length: n }, () => Array.from({ length: 4 }, () => Math.fround(next())));
}

function post(model: string, body: unknown, init: RequestInit = {}): Request {
  return new Request(`${BASE}/v1/models/${model}:predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

async function errorOf(res: Response, status: number, kind: string, field?: string | null) {
  const body = await res.json();
  assertEquals(res.status, status, JSON.stringify(body));
  assertEquals(body.error.kind, kind, JSON.stringify(body));
  if (field !== undefined) assertEquals(body.error.field, field, JSON.stringify(body));
  assert(typeof body.error.message === "string" && body.error.message.length > 0);
  return body.error as { kind: string; field: string | null; message: string };
}

let mlp: LoadedModel;
let heads: LoadedModel;
let text: LoadedModel;

async function models() {
  mlp ??= await saved(MLP, 3);
  heads ??= await saved(TWO_HEADS, 5);
  text ??= { ...(await saved(TEXT_MODEL, 11)), preprocessing: textPreprocessing() };
  return { mlp, heads, text };
}

function make(options: Partial<Parameters<typeof createHandler>[0]> = {}): ServingHandler {
  return createHandler({ models: { mlp, heads, text }, ...options });
}

Deno.test("predict: TF Serving row format, same numbers as model.predict", async () => {
  await models();
  const handler = make();
  const x = rows(3, 1);
  const res = await handler(post("mlp", { instances: x }));
  assertEquals(res.status, 200);
  const { predictions } = await res.json();
  const want = mlp.model!.predict(new Tensor(Float32Array.from(x.flat()), [3, 4]));
  assertEquals(predictions.length, 3);
  assertEquals(Float32Array.from(predictions.flat()), want.data);
});

Deno.test("predict: multi-output models answer objects keyed by output name", async () => {
  await models();
  const handler = make();
  const x = rows(2, 2);
  const res = await handler(post("heads", { instances: x }));
  assertEquals(res.status, 200);
  const { predictions } = await res.json();
  assertEquals(Object.keys(predictions[0]), heads.model!.outputNames);
  const [a, b] = heads.model!.predictMany([new Tensor(Float32Array.from(x.flat()), [2, 4])]);
  assertEquals(
    Float32Array.from(predictions.flatMap((p: { head_a: number[] }) => p.head_a)),
    a.data,
  );
  assertEquals(
    Float32Array.from(predictions.flatMap((p: { head_b: number[] }) => p.head_b)),
    b.data,
  );
  // Object instances keyed by the input name are accepted too.
  const again = await handler(post("heads", { instances: x.map((r) => ({ x: r })) }));
  assertEquals((await again.json()).predictions, predictions);
});

Deno.test("predict: a text model takes raw strings through its TextVectorization", async () => {
  await models();
  const handler = make();
  const res = await handler(post("text", { instances: ["great food", "slow soup!"] }));
  assertEquals(res.status, 200);
  const { predictions } = await res.json();
  const ids = TextVectorization.fromConfig(
    text.preprocessing[0].config,
    text.preprocessing[0].vocabulary,
  )
    .call(["great food", "slow soup!"]);
  const want = text.model!.predict(new Tensor(ids.data as Int32Array, ids.shape));
  assertEquals(Float32Array.from(predictions.flat()), want.data);
  // Token ids work as well, and a mix of strings and ids is refused by position.
  const byIds = await handler(post("text", { instances: [[...ids.data.slice(0, 6)]] }));
  assertEquals((await byIds.json()).predictions[0], predictions[0]);
  await errorOf(
    await handler(post("text", { instances: ["ok", [1, 2, 3, 4, 5, 6]] })),
    400,
    "dtype",
    "instances[1]",
  );
  await errorOf(
    await handler(post("text", { instances: [[1, 2, 3, 4, 5, 6.5]] })),
    400,
    "dtype",
    "instances[0][5]",
  );
  await errorOf(await handler(post("mlp", { instances: ["text"] })), 400, "shape", "instances[0]");
});

Deno.test("signature, model list, health, readiness", async () => {
  await models();
  const handler = createHandler({
    models: { text: { ...text, classNames: ["neg", "pos"] }, heads },
  });
  const sig = await (await handler(new Request(`${BASE}/v1/models/text`))).json();
  assertEquals(sig.inputs, [{ name: "tokens", shape: [null, 6], dtype: "int32" }]);
  assertEquals(sig.outputs, [{ name: "sentiment", shape: [null, 2], dtype: "float32" }]);
  assertEquals(sig.classNames, ["neg", "pos"]);
  assertEquals(sig.preprocessing.accepts, "string");
  const h = await (await handler(new Request(`${BASE}/v1/models/heads/metadata`))).json();
  assertEquals(h.outputs.map((o: { name: string }) => o.name), ["head_a", "head_b"]);
  assertEquals(h.inputs[0].dtype, "float32");
  assertEquals((await handler(new Request(`${BASE}/healthz`))).status, 200);
  const ready = await handler(new Request(`${BASE}/readyz`));
  assertEquals([ready.status, (await ready.json()).models], [200, ["text", "heads"]]);
  const list = await (await handler(new Request(`${BASE}/v1/models`))).json();
  assertEquals(list.models.length, 2);
});

Deno.test("batching: N concurrent requests give the bits each gives alone, in fewer engine calls", async () => {
  await models();
  const requests = Array.from({ length: 12 }, (_, i) => rows(1 + (i % 3), 100 + i));
  const alone = createHandler({ models: { mlp, heads }, maxWaitMs: 0, maxBatchSize: 1 });
  const expected = [];
  for (const x of requests) {
    expected.push(await (await alone(post("heads", { instances: x }))).text());
  }
  const batched = createHandler({ models: { mlp, heads }, maxWaitMs: 50, maxBatchSize: 64 });
  const got = await Promise.all(
    requests.map(async (x) => await (await batched(post("heads", { instances: x }))).text()),
  );
  assertEquals(got, expected);
  const metrics = await (await batched(new Request(`${BASE}/metrics`))).text();
  const count = Number(/serving_batch_size_count\{model="heads"\} (\d+)/.exec(metrics)![1]);
  const sum = Number(/serving_batch_size_sum\{model="heads"\} (\d+)/.exec(metrics)![1]);
  assertEquals(sum, requests.reduce((s, r) => s + r.length, 0));
  assert(count < requests.length, `expected fewer engine calls than requests, saw ${count}`);
});

Deno.test("bad requests interleaved with good ones in one batch window: the good ones succeed", async () => {
  await models();
  const handler = make({ maxWaitMs: 30 });
  const good = rows(2, 9);
  const want = await (await createHandler({ models: { mlp } })(post("mlp", { instances: good })))
    .text();
  const bad: (string | unknown)[] = [
    "{not json",
    { instances: [[1, 2, 3]] },
    { instances: [[1, 2, 3, "4"]] },
    { instances: [[1, 2, 3, 1e999]] },
    { instances: [[[1, 2, 3, 4]]] },
    { instances: {} },
    { inputs: [[1, 2, 3]] },
    { instances: [[1, 2, 3, 4]], inputs: [[1, 2, 3, 4]] },
    [],
    "null",
  ];
  const all = await Promise.all([
    ...bad.map((b) => handler(post("mlp", b))),
    ...Array.from({ length: 4 }, () => handler(post("mlp", { instances: good }))),
  ]);
  for (const res of all.slice(0, bad.length)) {
    assertEquals(res.status, 400);
    assert((await res.json()).error.kind);
  }
  for (const res of all.slice(bad.length)) {
    assertEquals([res.status, await res.text()], [200, want]);
  }
});

Deno.test("every error path names the field and what was expected", async () => {
  await models();
  const handler = make({ maxBodyBytes: 2000, maxInstances: 4 });
  let e = await errorOf(await handler(post("mlp", "{oops")), 400, "invalid_json", "body");
  e = await errorOf(
    await handler(post("mlp", { instances: [[1, 2, 3]] })),
    400,
    "shape",
    "instances[0]",
  );
  assert(e.message.includes("expected 4"), e.message);
  await errorOf(
    await handler(post("mlp", { instances: [[1, 2, 3, 4], [1, 2]] })),
    400,
    "shape",
    "instances[1]",
  );
  await errorOf(
    await handler(post("mlp", { instances: [[1, 2, 3, null]] })),
    400,
    "dtype",
    "instances[0][3]",
  );
  await errorOf(
    await handler(post("mlp", { instances: [[1, 2, 3, "4"]] })),
    400,
    "dtype",
    "instances[0][3]",
  );
  await errorOf(
    await handler(post("mlp", '{"instances": [[1, 2, 3, 1e400]]}')),
    400,
    "non_finite",
    "instances[0][3]",
  );
  await errorOf(
    await handler(post("mlp", { instances: [[1, 2, 3, 4], [1, -1e308, 3, 4]] })),
    400,
    "non_finite",
    "instances[1][1]",
  );
  await errorOf(await handler(post("mlp", { instances: [] })), 400, "invalid_body", "instances");
  await errorOf(await handler(post("mlp", { instances: 5 })), 400, "invalid_body", "instances");
  await errorOf(
    await handler(post("mlp", { instances: [[1, 2, 3, 4]], inputs: [[1, 2, 3, 4]] })),
    400,
    "invalid_body",
    "body",
  );
  await errorOf(await handler(post("mlp", { other: 1 })), 400, "invalid_body", "instances");
  await errorOf(await handler(post("mlp", "[1]")), 400, "invalid_body", "body");
  await errorOf(
    await handler(post("heads", { instances: [{ y: [1, 2, 3, 4] }] })),
    400,
    "invalid_body",
    "instances[0].y",
  );
  await errorOf(
    await handler(post("nope", { instances: [[1, 2, 3, 4]] })),
    404,
    "not_found",
    "path",
  );
  await errorOf(await handler(new Request(`${BASE}/v2/whatever`)), 404, "not_found", "path");
  await errorOf(await handler(new Request(`${BASE}/v1/models/%E0%A4%A`)), 404, "not_found", "path");
  let res = await handler(new Request(`${BASE}/v1/models/mlp:predict`));
  await errorOf(res, 405, "method_not_allowed", "method");
  assertEquals(res.headers.get("allow"), "POST");
  await errorOf(
    await handler(new Request(`${BASE}/metrics`, { method: "DELETE" })),
    405,
    "method_not_allowed",
  );
  await errorOf(
    await handler(post("mlp", "x", { headers: { "content-type": "application/octet-stream" } })),
    415,
    "unsupported_media_type",
    "content-type",
  );
  await errorOf(
    await handler(post("mlp", { instances: rows(5, 1) })),
    413,
    "too_many_instances",
    "instances",
  );
  await errorOf(
    await handler(post("mlp", { instances: [[1, 2, 3, 4]], pad: "x".repeat(3000) })),
    413,
    "payload_too_large",
    "body",
  );
  // A body streamed without a length is cut off at the limit too.
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new TextEncoder().encode("[".repeat(500)));
    },
  });
  res = await handler(
    new Request(`${BASE}/v1/models/mlp:predict`, { method: "POST", body: stream }),
  );
  await errorOf(res, 413, "payload_too_large", "body");
  const metrics = await (await handler(new Request(`${BASE}/metrics`))).text();
  assert(metrics.includes('serving_errors_total{kind="shape"} 2'), metrics);
  assert(metrics.includes('serving_requests_total{model="mlp",status="400"}'), metrics);
  assert(metrics.includes("# TYPE serving_request_duration_seconds histogram"));
  assert(metrics.includes('serving_queue_depth{model="mlp"} 0'));
});

Deno.test("limits: a full queue answers 429 with Retry-After; a request past its deadline 504", async () => {
  await models();
  const full = make({ maxQueue: 2, maxWaitMs: 100, maxBatchSize: 64 });
  const res = await Promise.all(
    Array.from({ length: 3 }, () => full(post("mlp", { instances: rows(1, 4) }))),
  );
  const statuses = res.map((r) => r.status).sort();
  assertEquals(statuses, [200, 200, 429]);
  const refused = res.find((r) => r.status === 429)!;
  assertEquals(refused.headers.get("retry-after"), "1");
  await errorOf(refused, 429, "queue_full", null);
  for (const r of res) if (r.status === 200) await r.body?.cancel();

  // A lone request waits the whole window only with adaptiveWait off.
  const slow = make({ maxWaitMs: 200, deadlineMs: 20, adaptiveWait: false });
  await errorOf(await slow(post("mlp", { instances: rows(1, 4) })), 504, "deadline_exceeded", null);
  // Adaptive (the default): nobody else is coming, so it runs at once, well inside its deadline.
  const adaptive = make({ maxWaitMs: 60_000, deadlineMs: 5_000 });
  const lone = await adaptive(post("mlp", { instances: rows(1, 4) }));
  assertEquals(lone.status, 200);
  await lone.body?.cancel();
});

Deno.test("drain: readiness fails, in-flight requests finish, new predictions get 503", async () => {
  await models();
  const handler = make({ maxWaitMs: 50 });
  const inflight = handler(post("mlp", { instances: rows(2, 6) }));
  await new Promise((r) => setTimeout(r, 5));
  const drained = handler.drain();
  assertEquals((await handler(new Request(`${BASE}/readyz`))).status, 503);
  await errorOf(await handler(post("mlp", { instances: rows(1, 6) })), 503, "unavailable");
  const res = await inflight;
  assertEquals(res.status, 200);
  await res.body?.cancel();
  await drained;
});

/** Inputs a [2] and b [3] → Concatenate → 2 linear. */
const TWO_INPUTS: KerasObject = {
  class_name: "Functional",
  config: {
    name: "two_inputs",
    layers: [
      {
        class_name: "InputLayer",
        name: "a",
        config: { name: "a", batch_input_shape: [null, 2] },
        inbound_nodes: [],
      },
      {
        class_name: "InputLayer",
        name: "b",
        config: { name: "b", batch_input_shape: [null, 3] },
        inbound_nodes: [],
      },
      {
        class_name: "Concatenate",
        name: "cat",
        config: { name: "cat", axis: -1 },
        inbound_nodes: [[["a", 0, 0, {}], ["b", 0, 0, {}]]],
      },
      { ...dense("out", 2, "linear"), name: "out", inbound_nodes: [[["cat", 0, 0, {}]]] },
    ],
    input_layers: [["a", 0, 0], ["b", 0, 0]],
    output_layers: [["out", 0, 0]],
  },
};

/** int32 token sequences of any length → Embedding → mean → 2 softmax. */
const RAGGED: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "ragged",
    layers: [
      {
        class_name: "InputLayer",
        config: { name: "ids", batch_shape: [null, null], dtype: "int32" },
      },
      { class_name: "Embedding", config: { name: "embed", input_dim: 10, output_dim: 3 } },
      { class_name: "GlobalAveragePooling1D", config: { name: "pool" } },
      dense("p", 2, "softmax"),
    ],
  },
};

Deno.test("multi-input models take objects keyed by input name; each input is checked", async () => {
  const two = await saved(TWO_INPUTS, 17);
  const handler = createHandler({ models: { two } });
  const instances = [{ a: [1, 2], b: [3, 4, 5] }, { b: [0, 0.5, -1], a: [-2, 0.25] }];
  const res = await handler(post("two", { instances }));
  assertEquals(res.status, 200);
  const [y] = two.model!.predictMany([
    new Tensor(Float32Array.from([1, 2, -2, 0.25]), [2, 2]),
    new Tensor(Float32Array.from([3, 4, 5, 0, 0.5, -1]), [2, 3]),
  ]);
  assertEquals(Float32Array.from((await res.json()).predictions.flat()), y.data);
  await errorOf(
    await handler(post("two", { instances: [{ a: [1, 2] }] })),
    400,
    "invalid_body",
    "instances[0].b",
  );
  await errorOf(
    await handler(post("two", { instances: [[1, 2, 3, 4, 5]] })),
    400,
    "invalid_body",
    "instances[0]",
  );
  await errorOf(
    await handler(post("two", { instances: [{ a: [1, 2], b: [1, 2] }] })),
    400,
    "shape",
    "instances[0].b",
  );
  two.model!.dispose();
});

Deno.test("inputs with a free axis: requests of different lengths batch apart, each as alone", async () => {
  const ragged = await saved(RAGGED, 23);
  const requests = [[[1, 2, 3]], [[4, 5, 6, 7, 8]], [[9, 1, 2]], [[3, 3, 3, 3, 3], [
    1,
    1,
    1,
    1,
    1,
  ]]];
  const alone = createHandler({ models: { ragged }, maxWaitMs: 0, maxBatchSize: 1 });
  const expected = [];
  for (const x of requests) {
    expected.push(await (await alone(post("ragged", { instances: x }))).text());
  }
  const batched = createHandler({ models: { ragged }, maxWaitMs: 30 });
  const got = await Promise.all(
    requests.map(async (x) => await (await batched(post("ragged", { instances: x }))).text()),
  );
  assertEquals(got, expected);
  const metrics = await (await batched(new Request(`${BASE}/metrics`))).text();
  assert(metrics.includes('serving_batch_size_count{model="ragged"} 2'), metrics);
  // Within one request every instance must share the shape.
  await errorOf(
    await batched(post("ragged", { instances: [[1, 2], [1, 2, 3]] })),
    400,
    "shape",
    "instances[1]",
  );
  ragged.model!.dispose();
});

Deno.test("a client that sends its body too slowly gets 408 at the deadline", async () => {
  await models();
  const handler = make({ deadlineMs: 50 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"instances": [[1, 2'));
      timer = setTimeout(() => c.close(), 1000); // never in time
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  const res = await handler(new Request(`${BASE}/v1/models/mlp:predict`, { method: "POST", body }));
  clearTimeout(timer);
  await errorOf(res, 408, "deadline_exceeded", "body");
});

Deno.test("configuration: a vectorizer the model cannot take, a file without a model, bad limits", async () => {
  await models();
  const long = new TextVectorization({ maxTokens: 20, outputSequenceLength: 9 });
  long.adapt(TEXTS);
  const preprocessing = [{
    layerName: long.name,
    className: "TextVectorization" as const,
    config: long.getConfig() as unknown as Record<string, unknown>,
    vocabulary: long.getVocabulary(),
  }];
  throws(
    () => createHandler({ models: { text: { ...text, preprocessing } } }),
    (e: unknown) =>
      e instanceof ServingConfigError && /\[9\]/.test(e.message) && /None, 6|6/.test(e.message),
  );
  throws(() => createHandler({ models: { none: { model: null } } }), ServingConfigError);
  throws(() => createHandler({ models: { mlp }, maxBatchSize: 0 }), /maxBatchSize/);
  throws(() => createHandler({ models: { mlp }, maxWaitMs: -1 }), /maxWaitMs/);
});

Deno.test("metrics label only served models: made-up names do not grow the registry", async () => {
  await models();
  const handler = make();
  for (let i = 0; i < 5; i++) {
    await (await handler(post(`made-up-${i}`, { instances: [[1]] }))).body?.cancel();
  }
  const metrics = await (await handler(new Request(`${BASE}/metrics`))).text();
  assert(!metrics.includes("made-up"), metrics);
  assert(metrics.includes('serving_requests_total{model="",status="404"} 5'), metrics);
});

const VECTORIZER_SAMPLE = new URL(
  "../../../shared/keras-samples/vectorizer.keras",
  import.meta.url,
);
const HAS_SAMPLE = (() => {
  try {
    return Deno.statSync(VECTORIZER_SAMPLE).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "text: a TextVectorization saved by Keras (vectorizer.keras sample) serves raw strings",
  ignore: !HAS_SAMPLE,
  fn: async () => {
    const { preprocessing } = await loadModel(VECTORIZER_SAMPLE.pathname);
    const config: KerasObject = {
      class_name: "Sequential",
      config: {
        name: "nusax",
        layers: [
          {
            class_name: "InputLayer",
            config: { name: "ids", batch_shape: [null, 64], dtype: "int32" },
          },
          {
            class_name: "Embedding",
            config: { name: "embed", input_dim: preprocessing[0].vocabulary.length, output_dim: 4 },
          },
          { class_name: "GlobalAveragePooling1D", config: { name: "pool" } },
          dense("p", 3, "softmax"),
        ],
      },
    };
    const served = { ...(await saved(config, 41)), preprocessing };
    const handler = createHandler({ models: { nusax: served } });
    const texts = ["Makanannya enak sekali!", "Pelayanannya lambat dan mahal."];
    const res = await handler(post("nusax", { instances: texts }));
    assertEquals(res.status, 200);
    const tv = TextVectorization.fromConfig(preprocessing[0].config, preprocessing[0].vocabulary);
    const ids = tv.call(texts);
    assertEquals(ids.shape, [2, 64]);
    assert(ids.data.some((v) => v > 1), "the sample vocabulary should know some of these words");
    const want = served.model!.predict(new Tensor(ids.data as Int32Array, ids.shape));
    assertEquals(Float32Array.from((await res.json()).predictions.flat()), want.data);
    served.model!.dispose();
  },
});
