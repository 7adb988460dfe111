/**
 * `bundle:worker`: flag parsing, the generated configs, and the real thing — the bundle run by
 * workerd (installed from npm by `provisionWorkerd` when missing) on a loopback port answers
 * exactly as the Deno server does, for a text model taking raw strings through its
 * TextVectorization and for a CNN (JSON rows, columnar, `.npy`, and an error).
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { buildModel, type KerasObject, type Model } from "../packages/engine/mod.ts";
import { saveKeras } from "../packages/keras-importer/mod.ts";
import { encodeNpy } from "../packages/serving/mod.ts";
import { TextVectorization } from "../packages/tokenizer/mod.ts";
import { bundleWorker, BundleWorkerUsageError, parseBundleWorkerArgs } from "./bundle_worker.ts";
import { serveApi } from "./serve_api.ts";
import { freePort, provisionWorkerd, startWorkerd, workerdPackage } from "./workerd.ts";

Deno.test("parseBundleWorkerArgs: models, vectorizers, out, port, limits; refusals by flag", () => {
  const o = parseBundleWorkerArgs([
    "--model",
    "t=a.keras",
    "--preprocessing=t=v.keras",
    "--out",
    "/tmp/x",
    "--port=9000",
    "--max-instances",
    "8",
  ]);
  assertEquals(
    [o.models, o.preprocessing, o.outDir, o.port, o.limits],
    [{ t: "a.keras" }, { t: "v.keras" }, "/tmp/x", 9000, { maxInstances: 8 }],
  );
  throws(() => parseBundleWorkerArgs([]), BundleWorkerUsageError);
  throws(() => parseBundleWorkerArgs(["--model", "x"]), /NAME=PATH/);
  throws(() => parseBundleWorkerArgs(["--model", "a=x", "--port", "0"]), /--port/);
  throws(() => parseBundleWorkerArgs(["--model", "a=x", "--preprocessing", "b=y"]), /no --model/);
  throws(() => parseBundleWorkerArgs(["--model", "a=x", "--what"]), /unknown flag/);
  assertEquals(workerdPackage("linux", "x86_64"), "@cloudflare/workerd-linux-64");
  assertEquals(workerdPackage("darwin", "aarch64"), "@cloudflare/workerd-darwin-arm64");
});

/** A TextVectorization saved alone by Keras (the NusaX vectorizer), when the samples are here. */
const VECTORIZER_SAMPLE = new URL("../../shared/keras-samples/vectorizer.keras", import.meta.url);
const HAS_SAMPLE = (() => {
  try {
    return Deno.statSync(VECTORIZER_SAMPLE).isFile;
  } catch {
    return false;
  }
})();

const TEXTS = ["the food was great", "slow service and cold food", "great soup", "I liked it"];

function textModel(vocabulary: number, length = 8): Model {
  const config: KerasObject = {
    class_name: "Sequential",
    config: {
      name: "text",
      layers: [
        {
          class_name: "InputLayer",
          config: { name: "ids", batch_shape: [null, length], dtype: "int32" },
        },
        { class_name: "Embedding", config: { name: "e", input_dim: vocabulary, output_dim: 4 } },
        {
          class_name: "Bidirectional",
          config: {
            name: "bi",
            layer: { class_name: "LSTM", config: { name: "lstm", units: 3 } },
          },
        },
        { class_name: "Dense", config: { name: "p", units: 3, activation: "softmax" } },
      ],
    },
  };
  return buildModel({ config, weights: {} }, { initialize: { seed: 8 } });
}

function cnnModel(): Model {
  const config: KerasObject = {
    class_name: "Sequential",
    config: {
      name: "cnn",
      layers: [
        { class_name: "InputLayer", config: { name: "img", batch_shape: [null, 8, 8, 3] } },
        {
          class_name: "Conv2D",
          config: { name: "c1", filters: 4, kernel_size: [3, 3], activation: "relu" },
        },
        { class_name: "MaxPooling2D", config: { name: "pool", pool_size: [2, 2] } },
        { class_name: "Flatten", config: { name: "flat" } },
        { class_name: "Dense", config: { name: "out", units: 5, activation: "softmax" } },
      ],
    },
  };
  return buildModel({ config, weights: {} }, { initialize: { seed: 9 } });
}

Deno.test("workerd serves the bundle with the Deno server's predictions (text model, CNN)", async () => {
  const workerd = await provisionWorkerd();
  const dir = await Deno.makeTempDir({ prefix: "bundle_worker_test_" });
  const tv = new TextVectorization({ maxTokens: 16, outputSequenceLength: 8 });
  tv.adapt(TEXTS);
  const text = textModel(16);
  const cnn = cnnModel();
  try {
    await saveKeras(text, `${dir}/text.keras`);
    await saveKeras(cnn, `${dir}/cnn.keras`);
    await Deno.writeTextFile(
      `${dir}/vectorizer.json`,
      JSON.stringify([{
        className: "TextVectorization",
        config: tv.getConfig(),
        vocabulary: tv.getVocabulary(),
      }]),
    );
    const models: Record<string, string> = { text: `${dir}/text.keras`, cnn: `${dir}/cnn.keras` };
    const preprocessing: Record<string, string> = { text: `${dir}/vectorizer.json` };
    if (HAS_SAMPLE) {
      // Keras's own vectorizer file (a .keras holding only the TextVectorization), read in workerd.
      const nusax = textModel(20000, 64);
      await saveKeras(nusax, `${dir}/nusax.keras`);
      nusax.dispose();
      models.nusax = `${dir}/nusax.keras`;
      preprocessing.nusax = VECTORIZER_SAMPLE.pathname;
    }
    const out = `${dir}/bundle`;
    const written = await bundleWorker({ models, preprocessing, outDir: out, minify: true });
    const files = written.map((w) => w.file).sort();
    for (const f of ["deno.js", "serving.js", "worker.js", "workerd.capnp", "wrangler.toml"]) {
      assert(files.includes(f), `${f} missing from ${files}`);
    }
    assert(files.includes("models/text.preprocessing.json"), files.join());
    const entry = await Deno.readTextFile(`${out}/worker.js`);
    assert(entry.includes("export default") && entry.includes("usePrecompiledWasm"), entry);

    const edge = await startWorkerd(workerd, `${out}/workerd.capnp`);
    const deno = await serveApi({ models, preprocessing, port: 0, log: () => {} });
    try {
      let s = 3;
      const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
      const images = Array.from(
        { length: 3 },
        () =>
          Array.from(
            { length: 8 },
            () =>
              Array.from({ length: 8 }, () => Array.from({ length: 3 }, () => Math.fround(rand()))),
          ),
      );
      const json = (body: unknown) => ({ body: JSON.stringify(body) });
      const requests: [string, RequestInit][] = [
        [
          "text",
          json({ instances: ["great food", "the soup was cold and slow", "unknown words"] }),
        ],
        ["text", json({ inputs: ["I liked the food"] })],
        ...(HAS_SAMPLE
          ? [["nusax", json({ instances: ["Makanannya enak sekali!", "Pelayanan lambat."] })] as [
            string,
            RequestInit,
          ]]
          : []),
        ["cnn", json({ instances: images })],
        ["cnn", json({ inputs: { img: images.slice(0, 1) } })],
        ["cnn", {
          headers: { "content-type": "application/x-npy" },
          body: encodeNpy(Float32Array.from(images.flat(3)), [3, 8, 8, 3]) as BodyInit,
        }],
        ["cnn", json({ instances: [[[1, 2, 3]]] })], // a 400, the same in both
        ["text", json({ instances: [42] })],
      ];
      let ok = 0;
      for (const [model, init] of requests) {
        const ask = async (base: string) => {
          const res = await fetch(`${base}/v1/models/${model}:predict`, {
            method: "POST",
            ...init,
          });
          return [res.status, await res.text()] as const;
        };
        const fromEdge = await ask(edge.url);
        const fromDeno = await ask(deno.url);
        assertEquals(fromEdge, fromDeno, `${model} ${String(init.body).slice(0, 80)}`);
        if (fromEdge[0] === 200) ok++;
      }
      assertEquals(ok, HAS_SAMPLE ? 6 : 5);
      const signature = await (await fetch(`${edge.url}/v1/models/text`)).json();
      assertEquals(signature.preprocessing.className, "TextVectorization");
      const metrics = await (await fetch(`${edge.url}/metrics`)).text();
      assert(metrics.includes('serving_requests_total{model="cnn",status="200"} 3'), metrics);

      // The Deno Deploy entry of the same folder, run as Deno Deploy would (PORT given).
      const port = freePort();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", `${out}/deno.js`],
        env: { PORT: String(port) },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      try {
        const [model, init] = requests[0];
        let answer: string | undefined;
        for (let i = 0; i < 300 && answer === undefined; i++) {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/v1/models/${model}:predict`, {
              method: "POST",
              ...init,
            });
            answer = await res.text();
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        const want = await (await fetch(`${deno.url}/v1/models/${model}:predict`, {
          method: "POST",
          ...init,
        })).text();
        assertEquals(answer, want);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await child.stderr.cancel();
      }
    } finally {
      await deno.shutdown();
      await edge.stop();
    }
  } finally {
    text.dispose();
    cnn.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
