/**
 * The browser bundles: built with esbuild into a temporary folder, free of Deno- and Node-only
 * APIs, and working on their own (imported from the built file, they compute the same as the
 * sources).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildModel, type ModelSpec, Tensor } from "../packages/engine/mod.ts";
import { TextVectorization } from "../packages/tokenizer/mod.ts";
import { denseModel } from "../packages/keras-importer/testing/model_specs.ts";
import {
  BROWSER_VARIANTS,
  bundle,
  type BundleSize,
  formatSizes,
  PACKAGE_BUNDLES,
  parseNpmSpecifier,
  REPO_ROOT,
  WORKER_BUNDLES,
} from "./bundle.ts";

/** The browser bundles: one per package, the all-in-one and the training worker. */
const BROWSER_BUNDLES = [...PACKAGE_BUNDLES, ...WORKER_BUNDLES].map((b) => b.file);

let built: Promise<{ dir: string; sizes: BundleSize[] }> | undefined;
/** Builds once for all tests of this file. */
function buildOnce(): Promise<{ dir: string; sizes: BundleSize[] }> {
  built ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "scratchnet-bundle-test-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const sizes = await bundle({ outDir: dir });
    return { dir, sizes };
  })();
  return built;
}

/** The text of a bundle and of every chunk it imports statically. */
async function bundleText(dir: string, file: string): Promise<string> {
  const text = await Deno.readTextFile(join(dir, file));
  const chunks = [...text.matchAll(/from"\.\/(chunks\/[^"]+)"/g)].map((m) => m[1]);
  const parts = [text];
  for (const chunk of chunks) parts.push(await Deno.readTextFile(join(dir, chunk)));
  return parts.join("\n");
}

Deno.test("bundle: writes every package bundle, the all-in-one and the page", async () => {
  const { sizes } = await buildOnce();
  const files = sizes.map((s) => s.file);
  for (
    const file of [...BROWSER_BUNDLES, "app.js", "sw.js", "index.html", "style.css"]
  ) {
    assert(files.includes(file), `${file} missing from ${files.join(", ")}`);
  }
  for (const s of sizes) assert(s.bytes > 0 && s.gzipBytes > 0, `${s.file} is empty`);
  const table = formatSizes(sizes);
  assert(table.includes("engine.js") && table.includes("kB"), table);
});

Deno.test("bundle: no Deno or Node API in the browser bundles", async () => {
  const { dir } = await buildOnce();
  for (const file of BROWSER_BUNDLES) {
    const text = await bundleText(dir, file);
    const uses = [...new Set(text.match(/\bDeno\.[A-Za-z_$][\w$]*/g) ?? [])].sort();
    assertEquals(uses, [], `${file} uses Deno APIs: ${uses.join(", ")}`);
    assert(!/\bDeno\./.test(text), `${file} mentions Deno.`);
    assert(!/["']node:/.test(text), `${file} imports a node: module`);
    assert(!/\brequire\(["']/.test(text), `${file} calls require()`);
  }
});

Deno.test("bundle: every Deno- or source-only module has its bundle variant", async () => {
  for (const [deno, browser] of Object.entries(BROWSER_VARIANTS)) {
    const [denoExports, browserExports] = await Promise.all(
      [deno, browser].map(async (path) =>
        Object.keys(await import(pathToFileURL(join(REPO_ROOT, path)).href)).sort()
      ),
    );
    assertEquals(browserExports, denoExports, `${browser} exports differ from ${deno}`);
  }
});

Deno.test("bundle: the importer bundle refuses file paths with its SourceError", async () => {
  const { dir } = await buildOnce();
  for (const file of ["keras-importer.js", "scratchnet.js"]) {
    const bundled = await import(pathToFileURL(join(dir, file)).href);
    const importer = file === "scratchnet.js" ? bundled.importer : bundled;
    // A real file: the bundle must refuse to read it rather than read it with Deno.
    const path = join(dir, "engine.js");
    for (const source of [path, pathToFileURL(path)]) {
      const error = await importer.loadModel(source).then(() => undefined, (e: unknown) => e);
      assert(error instanceof importer.SourceError, `${file}: ${error}`);
      assert(/needs Deno/.test(error.message) && /URL/.test(error.message), error.message);
    }
    const spec = denseModel(3).spec;
    const target = join(dir, `written-by-${file}.keras`);
    const error = await importer.saveKeras(spec, target).then(() => undefined, (e: unknown) => e);
    assert(error instanceof importer.SourceError, `${file}: ${error}`);
    assert(/kerasArchiveBytes/.test(error.message), error.message);
    const written = await Deno.stat(target).then(() => true, () => false);
    assert(!written, `${file} wrote ${target}`);
  }
});

Deno.test("bundle: the engine bundle runs on its own and matches the sources", async () => {
  const { dir } = await buildOnce();
  const bundled = await import(pathToFileURL(join(dir, "engine.js")).href);
  const { spec } = denseModel(11);
  const x = new Tensor(Float32Array.from({ length: 3 * 8 }, (_, i) => Math.sin(i)), [3, 8]);
  const expected = buildModel(spec).predict(x).data;
  const fromBundle = bundled.buildModel(spec).predict(new bundled.Tensor(x.data, x.shape));
  assertEquals(Array.from(fromBundle.data as Float32Array), Array.from(expected));
  assertEquals(bundled.wasmSimdSupported(), true);
});

Deno.test("bundle: the tokenizer bundle gives the same ids as the sources", async () => {
  const { dir } = await buildOnce();
  const bundled = await import(pathToFileURL(join(dir, "tokenizer.js")).href);
  const texts = ["Makanannya enak sekali!", "pelayanan lambat, makanan dingin", "enak enak"];
  const options = { maxTokens: 50, outputSequenceLength: 6 };
  const source = new TextVectorization(options);
  source.adapt(texts);
  const fromBundle = new bundled.TextVectorization(options);
  fromBundle.adapt(texts);
  assertEquals(fromBundle.getVocabulary(), source.getVocabulary());
  assertEquals(Array.from(fromBundle.call(texts).data), Array.from(source.call(texts).data));
});

Deno.test("bundle: npm specifiers are split into name, version and subpath", () => {
  assertEquals(parseNpmSpecifier("npm:fflate@0.8.2"), {
    name: "fflate",
    version: "0.8.2",
    subpath: "",
  });
  assertEquals(parseNpmSpecifier("npm:@tensorflow/tfjs@4.22.0/dist/x.js"), {
    name: "@tensorflow/tfjs",
    version: "4.22.0",
    subpath: "/dist/x.js",
  });
  assertEquals(parseNpmSpecifier("npm:jsfive"), { name: "jsfive", version: "", subpath: "" });
  assertEquals(parseNpmSpecifier("fflate"), undefined);
});

Deno.test("bundle: the training worker is a module beside the engine bundles", async () => {
  const { dir, sizes } = await buildOnce();
  assert(sizes.some((s) => s.file === "training_worker.js"), "training_worker.js not written");
  const worker = await bundleText(dir, "training_worker.js");
  assert(!/\bDeno\./.test(worker), "the worker bundle mentions Deno.");
  assert(!/["']node:/.test(worker), "the worker bundle imports a node: module");
  // It is the worker entry: it answers the trainer's messages.
  assert(/\bonmessage\b/.test(worker) && /postMessage/.test(worker), "no message handler");
  for (const file of ["engine.js", "keras-importer.js", "scratchnet.js"]) {
    const text = await Deno.readTextFile(join(dir, file));
    assert(text.includes(`"./training_worker.js",import.meta.url`), `${file}: no default worker`);
  }
});

Deno.test("bundle: the bundled engine trains with its bundled worker (2 threads = 1 thread)", async () => {
  const { dir } = await buildOnce();
  const bundled = await import(pathToFileURL(join(dir, "engine.js")).href);
  const spec: ModelSpec = {
    config: {
      class_name: "Sequential",
      config: {
        name: "bundled_fit",
        layers: [
          { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 6] } },
          { class_name: "Dense", config: { name: "hidden", units: 5, activation: "tanh" } },
          { class_name: "Dense", config: { name: "out", units: 2, activation: "softmax" } },
        ],
      },
    },
    weights: {},
  };
  const n = 40;
  const x = Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(i * 0.7));
  const y = Float32Array.from({ length: n }, (_, i) => (x[i * 6] > 0 ? 1 : 0));
  const started: string[] = [];
  const NativeWorker = globalThis.Worker;
  globalThis.Worker = class extends NativeWorker {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      started.push(String(url));
    }
  };
  const fit = async (threads: number) => {
    const model = bundled.buildModel(spec, { initialize: { seed: 3 } });
    model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy", seed: 1 });
    const xs = new bundled.Tensor(x, [n, 6]), ys = new bundled.Tensor(y, [n]);
    await model.fit(xs, ys, { epochs: 2, batchSize: 20, verbose: 0, workers: threads });
    const weights = model.getWeights().map((w: { data: Float32Array }) => w.data);
    model.dispose();
    return weights as Float32Array[];
  };
  let one: Float32Array[], two: Float32Array[];
  try {
    one = await fit(1);
    assertEquals(started, []);
    two = await fit(2);
  } finally {
    globalThis.Worker = NativeWorker;
  }
  assertEquals(started, [pathToFileURL(join(dir, "training_worker.js")).href]);
  let diff = 0;
  one.forEach((w, i) => w.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - two[i][j])))));
  assert(diff <= 5.6e-7, `2 threads vs 1: max |diff| ${diff}`);
  // Error classes keep their names through minification (they name themselves).
  assertEquals(new bundled.TrainingWorkerError("x").name, "TrainingWorkerError");
});
