/**
 * Request bodies besides row-format JSON: `.npy` arrays (four dtypes, and every refusal), TF
 * Serving's columnar `{"inputs": …}` format (answered as `{"outputs": …}`), and image bodies
 * through a host-supplied decoder.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { buildModel, type KerasObject, Tensor } from "../engine/mod.ts";
import { type LoadedModel, loadModel, saveKeras } from "../keras-importer/mod.ts";
import {
  createHandler,
  decodeNpyBody,
  encodeNpy,
  type ImageDecoder,
  imageDimensions,
  ServingError,
} from "./mod.ts";

const BASE = "http://serving.test";

const MLP: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "mlp",
    layers: [
      { class_name: "InputLayer", config: { name: "features", batch_shape: [null, 2, 2] } },
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Dense", config: { name: "probs", units: 3, activation: "softmax" } },
    ],
  },
};

const TWO_IN_TWO_OUT: KerasObject = {
  class_name: "Functional",
  config: {
    name: "two",
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
      {
        class_name: "Dense",
        name: "y1",
        config: { name: "y1", units: 2, activation: "linear" },
        inbound_nodes: [[["cat", 0, 0, {}]]],
      },
      {
        class_name: "Dense",
        name: "y2",
        config: { name: "y2", units: 1, activation: "sigmoid" },
        inbound_nodes: [[["cat", 0, 0, {}]]],
      },
    ],
    input_layers: [["a", 0, 0], ["b", 0, 0]],
    output_layers: [["y1", 0, 0], ["y2", 0, 0]],
  },
};

/** 4×3 RGB images → Rescaling → Flatten → Dense 2 (wants 0–255 pixels: it rescales itself). */
const IMAGES: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "img",
    layers: [
      { class_name: "InputLayer", config: { name: "pixels", batch_shape: [null, 4, 3, 3] } },
      { class_name: "Rescaling", config: { name: "scale", scale: 1 / 255, offset: 0 } },
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Dense", config: { name: "out", units: 2, activation: "softmax" } },
    ],
  },
};

const TOKENS: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "tok",
    layers: [
      { class_name: "InputLayer", config: { name: "ids", batch_shape: [null, 3], dtype: "int32" } },
      { class_name: "Embedding", config: { name: "e", input_dim: 300, output_dim: 2 } },
      { class_name: "Flatten", config: { name: "flat" } },
    ],
  },
};

async function saved(config: KerasObject, seed: number): Promise<LoadedModel> {
  const dir = await Deno.makeTempDir({ prefix: "serving_bodies_test_" });
  try {
    const model = buildModel({ config, weights: {} }, { initialize: { seed } });
    await saveKeras(model, `${dir}/m.keras`);
    model.dispose();
    return await loadModel(`${dir}/m.keras`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

let cache: Record<string, LoadedModel> | undefined;
async function models() {
  cache ??= {
    mlp: await saved(MLP, 1),
    two: await saved(TWO_IN_TWO_OUT, 2),
    img: await saved(IMAGES, 3),
    tok: await saved(TOKENS, 4),
  };
  return cache;
}

function npyRequest(model: string, bytes: Uint8Array): Request {
  return new Request(`${BASE}/v1/models/${model}:predict`, {
    method: "POST",
    headers: { "content-type": "application/x-npy" },
    body: bytes as BodyInit,
  });
}

function jsonRequest(model: string, body: unknown): Request {
  return new Request(`${BASE}/v1/models/${model}:predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function errorOf(res: Response, status: number, kind: string, field?: string | null) {
  const body = await res.json();
  assertEquals([res.status, body.error.kind], [status, kind], JSON.stringify(body));
  if (field !== undefined) assertEquals(body.error.field, field, JSON.stringify(body));
  return body.error as { message: string };
}

function predictRows(m: LoadedModel, data: Float32Array | Int32Array, shape: number[]): number[] {
  return Array.from(m.model!.predict(new Tensor(data, shape)).data);
}

Deno.test("npy: float32, float64, int32 and uint8 bodies give the JSON answer", async () => {
  const { mlp } = await models();
  const handler = createHandler({ models: { mlp } });
  const x = [0.5, -1.25, 2, 3.5, 1, 0, -2, 0.75]; // two instances of [2, 2]
  const want = predictRows(mlp, Float32Array.from(x), [2, 2, 2]);
  const arrays = [
    Float32Array.from(x),
    Float64Array.from(x),
    Int32Array.from(x.map(Math.round)),
    Uint8Array.from(x.map((v) => Math.max(0, Math.round(v)))),
  ];
  for (const data of arrays) {
    const res = await handler(npyRequest("mlp", encodeNpy(data, [2, 2, 2])));
    assertEquals(res.status, 200, data.constructor.name);
    const got = (await res.json()).predictions.flat();
    const expect = data instanceof Float32Array || data instanceof Float64Array
      ? want
      : predictRows(mlp, Float32Array.from(data), [2, 2, 2]);
    assertEquals(Float32Array.from(got), Float32Array.from(expect), data.constructor.name);
  }
  // An int32 input takes int32 and uint8 arrays, and refuses floats by dtype.
  const { tok } = await models();
  const ids = Int32Array.from([1, 2, 299, 0, 5, 7]);
  const tokHandler = createHandler({ models: { tok } });
  const res = await tokHandler(npyRequest("tok", encodeNpy(ids, [2, 3])));
  assertEquals(
    Float32Array.from((await res.json()).predictions.flat(2)),
    Float32Array.from(predictRows(tok, ids, [2, 3])),
  );
  await errorOf(
    await tokHandler(npyRequest("tok", encodeNpy(Float32Array.from(ids), [2, 3]))),
    400,
    "dtype",
    "body",
  );
});

Deno.test("npy: fortran order, unsupported dtypes, wrong shapes and broken files are 400s", async () => {
  const { mlp, two } = await models();
  const handler = createHandler({ models: { mlp, two }, maxInstances: 3 });
  const good = encodeNpy(new Float32Array(8), [2, 2, 2]);
  const withHeader = (from: string, to: string) => {
    const text = String.fromCharCode(...good); // byte → char, one for one
    assert(text.includes(from), from);
    return Uint8Array.from(text.replace(from, to.padEnd(from.length, " ")), (c) => c.charCodeAt(0));
  };
  let e = await errorOf(
    await handler(npyRequest("mlp", withHeader("'fortran_order': False", "'fortran_order': True"))),
    400,
    "invalid_body",
    "body",
  );
  assert(e.message.includes("C-order"), e.message);
  e = await errorOf(
    await handler(npyRequest("mlp", withHeader("'<f4'", "'<i8'"))),
    400,
    "dtype",
    "body",
  );
  assert(e.message.includes("int64"), e.message);
  await errorOf(await handler(npyRequest("mlp", withHeader("'<f4'", "'>f4'"))), 400, "dtype");
  await errorOf(await handler(npyRequest("mlp", withHeader("'<f4'", "'<f2'"))), 400, "dtype");
  e = await errorOf(
    await handler(npyRequest("mlp", encodeNpy(new Float32Array(6), [2, 3]))),
    400,
    "shape",
    "body",
  );
  assert(e.message.includes("(n, 2, 2)") && e.message.includes("(2, 3)"), e.message);
  await errorOf(
    await handler(npyRequest("mlp", encodeNpy(new Float32Array(16), [4, 2, 2]))),
    413,
    "too_many_instances",
    "body",
  );
  await errorOf(
    await handler(npyRequest("mlp", good.subarray(0, good.length - 4))),
    400,
    "invalid_body",
    "body",
  );
  await errorOf(
    await handler(npyRequest("mlp", good.subarray(0, 20))),
    400,
    "invalid_body",
    "body",
  );
  await errorOf(
    await handler(npyRequest("mlp", new TextEncoder().encode("[1, 2]"))),
    400,
    "invalid_body",
    "body",
  );
  e = await errorOf(
    await handler(npyRequest("mlp", encodeNpy(Float32Array.from([1, 2, 3, NaN]), [1, 2, 2]))),
    400,
    "non_finite",
    "body[0][flat 3]",
  );
  await errorOf(
    await handler(npyRequest("mlp", encodeNpy(Float64Array.from([1, 2, 3, 1e300]), [1, 2, 2]))),
    400,
    "non_finite",
  );
  await errorOf(
    await handler(npyRequest("two", encodeNpy(new Float32Array(2), [1, 2]))),
    400,
    "invalid_body",
    "content-type",
  );
  throws(() => decodeNpyBody(new Uint8Array(3)), ServingError);
});

Deno.test("columnar: {inputs} takes one batch per input and answers {outputs}", async () => {
  const { mlp, two } = await models();
  const handler = createHandler({ models: { mlp, two } });
  const x = [[[1, 2], [3, 4]], [[-1, 0.5], [0, 2]]];
  const rows = await (await handler(jsonRequest("mlp", { instances: x }))).json();
  const cols = await (await handler(jsonRequest("mlp", { inputs: x }))).json();
  assertEquals(cols.outputs, rows.predictions);
  const named = await (await handler(jsonRequest("mlp", { inputs: { features: x } }))).json();
  assertEquals(named.outputs, rows.predictions);

  const a = [[1, 2], [3, 4], [5, 6]];
  const b = [[0, 1, 0], [1, 1, 1], [-1, 0, 2]];
  const res = await handler(jsonRequest("two", { inputs: { a, b } }));
  assertEquals(res.status, 200);
  const { outputs } = await res.json();
  assertEquals(Object.keys(outputs).sort(), ["y1", "y2"]);
  const [y1, y2] = two.model!.predictMany([
    new Tensor(Float32Array.from(a.flat()), [3, 2]),
    new Tensor(Float32Array.from(b.flat()), [3, 3]),
  ]);
  assertEquals(Float32Array.from(outputs.y1.flat()), y1.data);
  assertEquals(Float32Array.from(outputs.y2.flat()), y2.data);
  // The same instances in row format give the same numbers, by output name.
  const byRow = await (await handler(
    jsonRequest("two", { instances: a.map((ai, k) => ({ a: ai, b: b[k] })) }),
  )).json();
  assertEquals(byRow.predictions.map((p: { y1: number[] }) => p.y1), outputs.y1);

  await errorOf(
    await handler(jsonRequest("two", { inputs: { a, b: b.slice(1) } })),
    400,
    "shape",
    "inputs.b",
  );
  await errorOf(
    await handler(jsonRequest("two", { inputs: { a } })),
    400,
    "invalid_body",
    "inputs.b",
  );
  await errorOf(
    await handler(jsonRequest("two", { inputs: { a, b, c: a } })),
    400,
    "invalid_body",
    "inputs.c",
  );
  await errorOf(await handler(jsonRequest("two", { inputs: a })), 400, "invalid_body", "inputs");
  await errorOf(
    await handler(jsonRequest("two", { inputs: { a: [[1, "x"], [3, 4], [5, 6]], b } })),
    400,
    "dtype",
    "inputs.a[0][1]",
  );
  await errorOf(await handler(jsonRequest("mlp", { inputs: [] })), 400, "invalid_body", "inputs");
});

Deno.test("images: an image body is decoded by the host's decoder to the input, 0–255 or 0–1", async () => {
  const { img, mlp } = await models();
  // A stand-in decoder: "decodes" a made-up format whose bytes are the pixels after a 00 01 tag.
  const seen: unknown[] = [];
  const decoder: ImageDecoder = (bytes, target) => {
    seen.push(target);
    if (bytes[0] !== 0 || bytes[1] !== 1) return Promise.reject(new Error("no 00 01 tag"));
    return Promise.resolve(bytes.slice(2));
  };
  const pixels = Uint8Array.from({ length: 36 }, (_, i) => (i * 37) % 256);
  const body = new Uint8Array([0, 1, ...pixels]);
  const request = (model: string, b: Uint8Array) =>
    new Request(`${BASE}/v1/models/${model}:predict`, {
      method: "POST",
      headers: { "content-type": "image/bmp" },
      body: b as BodyInit,
    });
  const handler = createHandler({ models: { img, mlp }, imageDecoder: decoder });
  const res = await handler(request("img", body));
  assertEquals(res.status, 200);
  assertEquals(seen, [{ height: 4, width: 3, channels: 3 }]);
  // The model has Rescaling: it gets the bytes as they are.
  const want = predictRows(img, Float32Array.from(pixels), [1, 4, 3, 3]);
  assertEquals(Float32Array.from((await res.json()).predictions.flat()), Float32Array.from(want));
  // Told the model wants 0–1, the handler divides by 255.
  const unit = createHandler({ models: { img: { ...img, pixels: "0-1" } }, imageDecoder: decoder });
  const scaled = await (await unit(request("img", body))).json();
  const wantScaled = predictRows(img, Float32Array.from(pixels, (p) => p / 255), [1, 4, 3, 3]);
  assertEquals(Float32Array.from(scaled.predictions.flat()), Float32Array.from(wantScaled));
  const signature = await (await handler(new Request(`${BASE}/v1/models/img`))).json();
  assertEquals(signature.image, { height: 4, width: 3, channels: 3, pixels: "0-255" });

  await errorOf(
    await handler(request("img", new Uint8Array([1, 2, 3]))),
    400,
    "invalid_body",
    "body",
  );
  // A small file declaring a huge image is refused before decoding (a decompression bomb).
  const bomb = new Uint8Array(30);
  bomb.set([0x42, 0x4d]);
  new DataView(bomb.buffer).setInt32(18, 100_000, true);
  new DataView(bomb.buffer).setInt32(22, -100_000, true);
  const decoded = seen.length;
  await errorOf(await handler(request("img", bomb)), 413, "payload_too_large", "body");
  assertEquals(seen.length, decoded, "the decoder must not run");
  await errorOf(await handler(request("mlp", body)), 400, "invalid_body", "content-type");
  const none = createHandler({ models: { img } });
  await errorOf(await none(request("img", body)), 415, "unsupported_media_type", "content-type");
  await errorOf(
    await none(
      new Request(`${BASE}/v1/models/img:predict`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: "x",
      }),
    ),
    415,
    "unsupported_media_type",
    "content-type",
  );
});

Deno.test("imageDimensions: PNG, GIF, BMP and JPEG headers", () => {
  const png = new Uint8Array(24);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  new DataView(png.buffer).setUint32(16, 640);
  new DataView(png.buffer).setUint32(20, 480);
  assertEquals(imageDimensions(png), { width: 640, height: 480 });
  const gif = Uint8Array.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x20, 0x01, 0x10, 0x00]);
  assertEquals(imageDimensions(gif), { width: 288, height: 16 });
  // SOI, an APP0 segment of 16 bytes, then SOF0: precision 8, height 0x0102, width 0x0304.
  const jpeg = Uint8Array.from([
    0xff,
    0xd8,
    0xff,
    0xe0,
    0x00,
    0x10,
    ...new Array(14).fill(0),
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    0x01,
    0x02,
    0x03,
    0x04,
    0x03,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  assertEquals(imageDimensions(jpeg), { width: 0x0304, height: 0x0102 });
  assertEquals(imageDimensions(new Uint8Array([1, 2, 3])), null);
});

Deno.test("batching off: each request is one engine call in the request, same answers", async () => {
  const { mlp } = await models();
  const batched = createHandler({ models: { mlp }, maxWaitMs: 20 });
  const alone = createHandler({ models: { mlp }, batching: false });
  const bodies = Array.from({ length: 6 }, (_, k) => ({
    instances: [[[k, 1], [2, -k]], [[0.5 * k, 0], [1, 1]]],
  }));
  const a = await Promise.all(
    bodies.map((b) => batched(jsonRequest("mlp", b)).then((r) => r.text())),
  );
  const b = await Promise.all(
    bodies.map((b) => alone(jsonRequest("mlp", b)).then((r) => r.text())),
  );
  assertEquals(b, a);
  const metrics = alone.metrics.render();
  assert(metrics.includes('serving_batch_size_count{model="mlp"} 6'), metrics);
  assert(batched.metrics.render().includes('serving_batch_size_count{model="mlp"} 1'));
});
