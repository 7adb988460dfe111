/**
 * The browser bundles: built with esbuild into a temporary folder, free of Deno- and Node-only
 * APIs, and working on their own (imported from the built file, they compute the same as the
 * sources).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildModel, Tensor } from "../packages/engine/mod.ts";
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
} from "./bundle.ts";

/** The browser bundles: one per package plus the all-in-one. */
const BROWSER_BUNDLES = PACKAGE_BUNDLES.map((b) => b.file);

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

Deno.test("bundle: every Deno-only module has its browser variant", async () => {
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
