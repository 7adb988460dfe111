/**
 * Hot reload (`handler.replaceModel`): requests queued before a reload finish on the old model,
 * later ones use the new one; under concurrent requests with repeated reloads no request is lost
 * and each answer is exactly the old model's or the new model's, never a mix.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { buildModel, type KerasObject, type Model, Tensor } from "../engine/mod.ts";
import { createHandler, ServingConfigError } from "./mod.ts";

const CONFIG: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "mlp",
    layers: [
      { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 3] } },
      { class_name: "Dense", config: { name: "h", units: 5, activation: "tanh" } },
      { class_name: "Dense", config: { name: "y", units: 2, activation: "softmax" } },
    ],
  },
};

function model(seed: number): Model {
  return buildModel({ config: CONFIG, weights: {} }, { initialize: { seed } });
}

function post(body: unknown): Request {
  return new Request("http://serving.test/v1/models/m:predict", {
    method: "POST",
    body: JSON.stringify(body),
  });
}

/** What `m` answers for `rows`, as the handler's JSON would carry it. */
function answer(m: Model, rows: number[][]): string {
  const y = m.predict(new Tensor(Float32Array.from(rows.flat()), [rows.length, 3]));
  return JSON.stringify(
    Array.from({ length: rows.length }, (_, k) => [...y.data.slice(2 * k, 2 * k + 2)]),
  );
}

Deno.test("reload: a queued request finishes on the old model, the next one uses the new", async () => {
  const [a, b] = [model(1), model(2)];
  // A fixed batch window keeps the lone first request queued while the model is replaced.
  const handler = createHandler({
    models: { m: { model: a } },
    maxWaitMs: 40,
    adaptiveWait: false,
  });
  const x = [[0.5, -1, 2]];
  assert(answer(a, x) !== answer(b, x), "the two models must differ");
  const queued = handler(post({ instances: x }));
  await new Promise((r) => setTimeout(r, 5)); // in the batch window now
  let released = false;
  const old = handler.replaceModel("m", { model: b }).then((m) => {
    released = true;
    return m;
  });
  const after = handler(post({ instances: x }));
  await new Promise((r) => setTimeout(r, 5));
  assert(!released, "the old model is still in use by the queued request");
  const [r1, r2] = await Promise.all([queued, after]);
  assertEquals(await old, a);
  assertEquals(JSON.stringify((await r1.json()).predictions), answer(a, x));
  assertEquals(JSON.stringify((await r2.json()).predictions), answer(b, x));
  // A model that cannot be served is refused and the current one stays.
  throws(() => handler.replaceModel("m", { model: null }), ServingConfigError);
  const still = await handler(post({ instances: x }));
  assertEquals(JSON.stringify((await still.json()).predictions), answer(b, x));
  // replaceModel can add a model under a new name.
  assertEquals(await handler.replaceModel("n", { model: a }), null);
  const models = await (await handler(new Request("http://serving.test/v1/models"))).json();
  assertEquals(models.models.map((m: { name: string }) => m.name).sort(), ["m", "n"]);
});

Deno.test("reload under concurrent requests: none lost, each answer wholly old or new", async () => {
  const versions = [model(11), model(12), model(13)];
  const handler = createHandler({ models: { m: { model: versions[0] } }, maxWaitMs: 2 });
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 4 - 2;
  const requests = Array.from({ length: 240 }, (_, k) => {
    const n = 1 + (k % 3);
    return Array.from({ length: n }, () => [rand(), rand(), rand()]);
  });
  const responses: Promise<Response>[] = [];
  let reloads = 0;
  for (let k = 0; k < requests.length; k++) {
    responses.push(handler(post({ instances: requests[k] })));
    if (k % 40 === 39) {
      // Let some of the sent requests reach the queue, then swap the model under them.
      await new Promise((r) => setTimeout(r, 1));
      handler.replaceModel("m", { model: versions[(++reloads) % versions.length] });
    }
  }
  const seen = new Set<number>();
  const answers = await Promise.all(responses);
  for (let k = 0; k < answers.length; k++) {
    assertEquals(answers[k].status, 200);
    const got = JSON.stringify((await answers[k].json()).predictions);
    const from = versions.findIndex((v) => answer(v, requests[k]) === got);
    assert(from >= 0, `request ${k}: answer matches no single model version: ${got}`);
    seen.add(from);
  }
  assertEquals(reloads, 6);
  assertEquals(seen.size, 3, "every version should have answered some requests");
  await handler.drain();
});
