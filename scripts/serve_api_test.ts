/**
 * `serve:api`: flag parsing, the Deno host on port 0 answering fetch like the model, and the real
 * script in a child process draining an in-flight request on SIGTERM.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { encode as encodePng } from "@cwasm/lodepng";
import { decodeImage, resizeImage } from "../packages/datasets/mod.ts";
import {
  buildModel,
  type KerasObject,
  type Model,
  startedPredictReplicas,
  Tensor,
} from "../packages/engine/mod.ts";
import { saveKeras } from "../packages/keras-importer/mod.ts";
import { TextVectorization } from "../packages/tokenizer/mod.ts";
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
  const g = parseServeApiArgs([
    "--model=t=m.keras",
    "--preprocessing",
    "t=v.json",
    "--watch",
    "--no-batching",
    "--fixed-wait",
  ]);
  assertEquals(g.threads, 1);
  assertEquals(parseServeApiArgs(["--model=a=x", "--threads", "2"]).threads, 2);
  throws(() => parseServeApiArgs(["--model", "a=x", "--threads", "0"]), /--threads/);
  assertEquals([g.preprocessing, g.watch, g.limits], [{ t: "v.json" }, true, {
    batching: false,
    adaptiveWait: false,
  }]);
  throws(
    () => parseServeApiArgs(["--model", "a=x", "--preprocessing", "b=y"]),
    /no --model named b/,
  );
});

/** POSTs `x` as TF Serving instances to model `name` of the server at `url`. */
function predictInstances(url: string, name: string, x: number[][]): Promise<Response> {
  return fetch(`${url}/v1/models/${name}:predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instances: x }),
  });
}

function build(config: KerasObject, seed: number): Model {
  return buildModel({ config, weights: {} }, { initialize: { seed } });
}

Deno.test("serveApi --watch: a model file replaced under concurrent load; none lost, each answer old or new", async () => {
  const dir = await Deno.makeTempDir({ prefix: "serve_api_reload_" });
  const [a, b] = [build(CONFIG, 31), build(CONFIG, 32)];
  const lines: string[] = [];
  try {
    const path = `${dir}/mlp.keras`;
    await saveKeras(a, path);
    await saveKeras(b, `${dir}/next.keras.part`);
    const next = await Deno.readFile(`${dir}/next.keras.part`);
    const server = await serveApi({
      models: { mlp: path },
      watch: true,
      port: 0,
      limits: { maxWaitMs: 1 },
      log: (line) => lines.push(line),
    });
    const x = [[0.25, -0.5, 1.5]];
    const answer = (m: Model) =>
      JSON.stringify([...m.predict(new Tensor(Float32Array.from(x.flat()), [1, 3])).data]);
    const [fromA, fromB] = [answer(a), answer(b)];
    assert(fromA !== fromB);
    let sent = 0, old = 0, fresh = 0, stop = false;
    const failures: string[] = [];
    const client = async () => {
      while (!stop) {
        sent++;
        const res = await fetch(`${server.url}/v1/models/mlp:predict`, {
          method: "POST",
          body: JSON.stringify({ instances: x }),
        });
        const text = await res.text();
        if (res.status !== 200) {
          failures.push(`${res.status} ${text}`);
          continue;
        }
        const got = JSON.stringify(JSON.parse(text).predictions[0]);
        if (got === fromA) old++;
        else if (got === fromB) fresh++;
        else failures.push(`neither model's answer: ${got}`);
      }
    };
    try {
      const clients = Array.from({ length: 6 }, client);
      await new Promise((r) => setTimeout(r, 150));
      // First half a file (a writer caught mid-copy): it fails to load, the old model stays…
      await Deno.writeFile(path, next.subarray(0, next.length >> 1));
      for (let i = 0; i < 200 && !lines.some((l) => l.includes("failed")); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      assert(lines.some((l) => l.includes("reload of mlp failed")), lines.join("\n"));
      // …then the whole file, replaced atomically by rename.
      await Deno.writeFile(`${dir}/tmp`, next);
      await Deno.rename(`${dir}/tmp`, path);
      for (let i = 0; i < 400 && fresh === 0; i++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 100));
      stop = true;
      await Promise.all(clients);
    } finally {
      stop = true;
      await server.shutdown();
    }
    assertEquals(failures, []);
    assert(old > 0 && fresh > 0, `old ${old}, new ${fresh}`);
    assertEquals(old + fresh, sent);
    assert(lines.some((l) => l.includes("reloaded mlp")), lines.join("\n"));
    // reload() on demand (what SIGHUP does): same file, same answers.
    const again = await serveApi({ models: { mlp: path }, port: 0, log: () => {} });
    try {
      assertEquals(await again.reload(), [{ name: "mlp", ok: true }]);
      assertEquals((await again.reload(["nope"]))[0].ok, false);
    } finally {
      await again.shutdown();
    }
  } finally {
    a.dispose();
    b.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveApi: PNG bodies decoded as predict --images does; --preprocessing JSON gives raw strings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "serve_api_bodies_" });
  const cnn = build({
    class_name: "Sequential",
    config: {
      name: "cnn",
      layers: [
        { class_name: "InputLayer", config: { name: "img", batch_shape: [null, 6, 5, 3] } },
        { class_name: "Conv2D", config: { name: "c", filters: 2, kernel_size: [3, 3] } },
        { class_name: "Flatten", config: { name: "f" } },
        { class_name: "Dense", config: { name: "d", units: 3, activation: "softmax" } },
      ],
    },
  }, 5);
  const texts = ["good food here", "bad slow food", "good service"];
  const tv = new TextVectorization({ maxTokens: 12, outputSequenceLength: 4 });
  tv.adapt(texts);
  const text = build({
    class_name: "Sequential",
    config: {
      name: "text",
      layers: [
        {
          class_name: "InputLayer",
          config: { name: "ids", batch_shape: [null, 4], dtype: "int32" },
        },
        { class_name: "Embedding", config: { name: "e", input_dim: 12, output_dim: 3 } },
        { class_name: "Flatten", config: { name: "f" } },
        { class_name: "Dense", config: { name: "d", units: 2, activation: "softmax" } },
      ],
    },
  }, 6);
  try {
    await saveKeras(cnn, `${dir}/cnn.keras`);
    await saveKeras(text, `${dir}/text.keras`);
    await Deno.writeTextFile(
      `${dir}/vectorizer.json`,
      JSON.stringify([{
        className: "TextVectorization",
        config: tv.getConfig(),
        vocabulary: tv.getVocabulary(),
      }]),
    );
    const server = await serveApi({
      models: { cnn: `${dir}/cnn.keras`, text: `${dir}/text.keras` },
      preprocessing: { text: `${dir}/vectorizer.json` },
      port: 0,
    });
    try {
      const rgba = Uint8Array.from({ length: 9 * 7 * 4 }, (_, i) => (i * 53 + 7) % 256);
      const png = new Uint8Array(encodePng({ width: 9, height: 7, data: rgba }));
      const res = await fetch(`${server.url}/v1/models/cnn:predict`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: png,
      });
      assertEquals(res.status, 200);
      const pixels = resizeImage(await decodeImage(png, "x.png", "rgb"), 6, 5);
      const want = cnn.predict(new Tensor(Float32Array.from(pixels, (p) => p / 255), [1, 6, 5, 3]));
      assertEquals(Float32Array.from((await res.json()).predictions.flat()), want.data);
      const bad = await fetch(`${server.url}/v1/models/cnn:predict`, {
        method: "POST",
        headers: { "content-type": "image/jpeg" },
        body: png.subarray(0, 30),
      });
      assertEquals([bad.status, (await bad.json()).error.kind], [400, "invalid_body"]);

      const words = await fetch(`${server.url}/v1/models/text:predict`, {
        method: "POST",
        body: JSON.stringify({ instances: ["good food", "slow service"] }),
      });
      assertEquals(words.status, 200);
      const ids = tv.call(["good food", "slow service"]);
      const wantText = text.predict(new Tensor(ids.data as Int32Array, ids.shape));
      assertEquals(Float32Array.from((await words.json()).predictions.flat()), wantText.data);
    } finally {
      await server.shutdown();
    }
  } finally {
    cnn.dispose();
    text.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveApi on port 0: fetch gets the model's predictions, then it shuts down", async () => {
  await withModelFile(async (path, expect) => {
    const server = await serveApi({ models: { mlp: path }, port: 0 });
    try {
      assert(server.url.startsWith("http://127.0.0.1:"), server.url);
      const x = [[0.5, -1, 2], [1, 1, 1]];
      const res = await predictInstances(server.url, "mlp", x);
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

Deno.test("serveApi --threads 2: batched requests answered by the model's replicas, same values", async () => {
  await withModelFile(async (path, expect) => {
    const server = await serveApi({ models: { mlp: path }, port: 0, threads: 2 });
    const before = startedPredictReplicas();
    try {
      const x = [[0.5, -1, 2], [1, 1, 1], [3, -2, 0.25], [-1, 0, 4], [2, 2, -2]];
      const res = await predictInstances(server.url, "mlp", x);
      assertEquals(res.status, 200);
      assertEquals(Float32Array.from((await res.json()).predictions.flat()), expect(x));
      assertEquals(startedPredictReplicas() - before, 1, "one replica started for the batch");
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
          "--fixed-wait",
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

Deno.test({
  name: "serve:api script: SIGHUP reloads the model files",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withModelFile(async (path) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./serve_api.ts", import.meta.url).pathname,
          "--model",
          `mlp=${path}`,
          "--port",
          "0",
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      const until = async (pattern: RegExp) => {
        while (!pattern.test(out)) {
          const { done, value } = await reader.read();
          if (done) throw new Error(`server output ended before ${pattern}: ${out}${await stderr}`);
          out += value;
        }
      };
      try {
        await until(/http:\/\/\S+\/v1/);
        child.kill("SIGHUP");
        await until(/reloaded mlp from /);
        child.kill("SIGTERM");
        await until(/stopped/);
        assertEquals((await child.status).code, 0);
      } catch (e) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        throw e;
      } finally {
        reader.releaseLock();
        await child.stdout.cancel().catch(() => {});
        await child.status;
        await stderr;
      }
    });
  },
});
