/**
 * `serve:api`: flag parsing, the Deno host on port 0 answering fetch like the model, and the real
 * script in a child process draining an in-flight request on SIGTERM.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { buildModel, Tensor } from "../packages/engine/mod.ts";
import { saveKeras } from "../packages/keras-importer/mod.ts";
import { parseServeApiArgs, serveApi, ServeApiUsageError } from "./serve_api.ts";

const CONFIG = {
  class_name: "Sequential",
  config: {
    name: "mlp",
    layers: [
      { class_name: "InputLayer", config: { name: "features", batch_shape: [null, 3] } },
      { class_name: "Dense", config: { name: "out", units: 2, activation: "softmax" } },
    ],
  },
};

async function withModelFile<T>(
  fn: (path: string, expect: (x: number[][]) => Float32Array) => Promise<T>,
) {
  const dir = await Deno.makeTempDir({ prefix: "serve_api_test_" });
  const model = buildModel({ config: CONFIG, weights: {} }, { initialize: { seed: 21 } });
  try {
    const path = `${dir}/mlp.keras`;
    await saveKeras(model, path);
    const expect = (x: number[][]) =>
      model.predict(new Tensor(Float32Array.from(x.flat()), [x.length, 3])).data as Float32Array;
    return await fn(path, expect);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseServeApiArgs: models, loopback default, limits, refusals by flag", () => {
  const f = parseServeApiArgs([
    "--model",
    "a=x.keras",
    "--model=b=y=z.h5",
    "--port",
    "0",
    "--max-wait-ms=0",
  ]);
  assertEquals(f.models, { a: "x.keras", b: "y=z.h5" });
  assertEquals([f.host, f.port, f.limits], ["127.0.0.1", 0, { maxWaitMs: 0 }]);
  throws(() => parseServeApiArgs([]), ServeApiUsageError);
  throws(() => parseServeApiArgs(["--model", "noequals"]), /NAME=PATH/);
  throws(() => parseServeApiArgs(["--model", "a=x", "--model", "a=y"]), /twice/);
  throws(() => parseServeApiArgs(["--model", "a=x", "--port", "http"]), /--port/);
  throws(() => parseServeApiArgs(["--model", "a=x", "--max-batch-size", "0"]), /--max-batch-size/);
  throws(() => parseServeApiArgs(["--model", "a=x", "--frobnicate"]), /unknown flag/);
  throws(() => parseServeApiArgs(["--model"]), /needs a value/);
});

Deno.test("serveApi on port 0: fetch gets the model's predictions, then it shuts down", async () => {
  await withModelFile(async (path, expect) => {
    const server = await serveApi({ models: { mlp: path }, port: 0 });
    try {
      assert(server.url.startsWith("http://127.0.0.1:"), server.url);
      const x = [[0.5, -1, 2], [1, 1, 1]];
      const res = await fetch(`${server.url}/v1/models/mlp:predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ instances: x }),
      });
      assertEquals(res.status, 200);
      assertEquals(Float32Array.from((await res.json()).predictions.flat()), expect(x));
      const bad = await fetch(`${server.url}/v1/models/mlp:predict`, { method: "POST", body: "{" });
      assertEquals([bad.status, (await bad.json()).error.kind], [400, "invalid_json"]);
      const ready = await fetch(`${server.url}/readyz`);
      assertEquals(ready.status, 200);
      await ready.body?.cancel();
    } finally {
      await server.shutdown();
    }
    await server.finished;
  });
});

Deno.test({
  name: "serve:api script: SIGTERM drains the in-flight request, then exits 0",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withModelFile(async (path, expect) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./serve_api.ts", import.meta.url).pathname,
          "--model",
          `mlp=${path}`,
          "--port",
          "0",
          "--max-wait-ms",
          "1500",
          "--max-batch-size",
          "64",
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      try {
        while (!/http:\/\/\S+\/v1/.test(out)) {
          const { done, value } = await reader.read();
          if (done) throw new Error(`server exited before listening: ${out}${await stderr}`);
          out += value;
        }
        const url = /(http:\/\/[^/\s]+)\/v1/.exec(out)![1];
        const x = [[3, 2, 1]];
        // Waits 1.5 s in the batch queue: still in flight when SIGTERM arrives.
        const pending = fetch(`${url}/v1/models/mlp:predict`, {
          method: "POST",
          body: JSON.stringify({ instances: x }),
        });
        // SIGTERM once the request waits in the queue (not before it reached the server).
        for (;;) {
          const metrics = await (await fetch(`${url}/metrics`)).text();
          if (metrics.includes('serving_queue_depth{model="mlp"} 1')) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        child.kill("SIGTERM");
        const res = await pending;
        assertEquals(res.status, 200);
        assertEquals(Float32Array.from((await res.json()).predictions.flat()), expect(x));
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          out += value;
        }
        const status = await child.status;
        assertEquals(status.code, 0, out + (await stderr));
        assert(out.includes("draining") && out.includes("stopped"), out);
      } catch (e) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        await child.status;
        await stderr;
        throw e;
      } finally {
        reader.releaseLock();
      }
    });
  },
});
