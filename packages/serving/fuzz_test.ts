/**
 * Seeded garbage against the handler: random bytes, mutated JSON and random JSON values sent to
 * every model, interleaved with well-formed requests in the same batch windows. Every garbage
 * request gets a 4xx JSON error (never a 5xx, never a hang) and every good one the exact answer
 * it gets alone.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { buildModel, type KerasObject } from "../engine/mod.ts";
import { createHandler } from "./mod.ts";

const MODEL: KerasObject = {
  class_name: "Sequential",
  config: {
    name: "fuzzed",
    layers: [
      { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 2, 3] } },
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Dense", config: { name: "y", units: 2, activation: "sigmoid" } },
    ],
  },
};

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
}

function randomValue(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 3 || r < 0.25) {
    const pick = Math.floor(next() * 8);
    return [0, -1.5, 1e308, "3", null, true, "", 2 ** 31][pick];
  }
  if (r < 0.7) {
    return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
  }
  return { instances: randomValue(next, depth + 1), [`k${Math.floor(next() * 3)}`]: 1 };
}

function garbage(next: () => number, good: string): BodyInit {
  const kind = Math.floor(next() * 4);
  if (kind === 0) {
    return Uint8Array.from({ length: 1 + Math.floor(next() * 64) }, () => Math.floor(next() * 256));
  }
  if (kind === 1) {
    // Cut or corrupt one character of a good body.
    const at = Math.floor(next() * good.length);
    return next() < 0.5
      ? good.slice(0, at)
      : good.slice(0, at) + '}[,"x\u0000'[Math.floor(next() * 6)] + good.slice(at + 1);
  }
  return JSON.stringify(randomValue(next, 0));
}

Deno.test("fuzz: 300 garbage requests among good ones — only 4xx for garbage, exact answers for the rest", async () => {
  const model = buildModel({ config: MODEL, weights: {} }, { initialize: { seed: 31 } });
  const handler = createHandler({ models: { m: { model } }, maxWaitMs: 5, maxBatchSize: 16 });
  const good = JSON.stringify({ instances: [[[1, 2, 3], [4, 5, 6]], [[0, 0, 0], [-1, -2, -3]]] });
  const post = (body: BodyInit) =>
    handler(new Request("http://fuzz.test/v1/models/m:predict", { method: "POST", body }));
  const expected = await (await post(good)).text();
  const next = rng(2026);
  let refused = 0;
  for (let round = 0; round < 30; round++) {
    const bodies = Array.from({ length: 10 }, () => garbage(next, good));
    const bad = bodies.map((b) => post(b));
    const fine = [post(good), post(good)];
    for (const res of await Promise.all(bad)) {
      const text = await res.text();
      // A corruption can leave a valid body (e.g. a cut after the last brace): then it must be right.
      if (res.status === 200) {
        assertEquals(text, expected);
        continue;
      }
      assert(res.status >= 400 && res.status < 500, `${res.status} ${text}`);
      const body = JSON.parse(text);
      assert(typeof body.error.kind === "string" && typeof body.error.message === "string", text);
      refused++;
    }
    for (const res of await Promise.all(fine)) {
      assertEquals([res.status, await res.text()], [200, expected]);
    }
  }
  assert(refused > 250, `only ${refused} of 300 refused`);
  model.dispose();
});
