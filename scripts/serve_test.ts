/**
 * The static server (content types, loopback only, no escaping the root), and importing every
 * package's `mod.ts` by URL from it in a `deno run` subprocess with no config and no build step.
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { join } from "node:path";
import { buildModel, Tensor } from "../packages/engine/mod.ts";
import { TextVectorization } from "../packages/tokenizer/mod.ts";
import { denseModel } from "../packages/keras-importer/testing/model_specs.ts";
import { REPO_ROOT } from "./bundle.ts";
import { contentTypeFor, resolveUnder, serveStatic } from "./serve.ts";

Deno.test("serve: content types, index.html, 404, 405 and HEAD", async () => {
  const root = await Deno.makeTempDir({ prefix: "scratchnet-serve-test-" });
  await Deno.writeTextFile(join(root, "index.html"), "<!doctype html><p>hi</p>");
  await Deno.mkdir(join(root, "sub"));
  await Deno.writeFile(join(root, "sub", "k.wasm"), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  await Deno.writeTextFile(join(root, "sub", "m.ts"), "export const a = 1;\n");
  const server = await serveStatic({ root, port: 0 });
  try {
    assert(server.url.startsWith("http://127.0.0.1:"), server.url);
    const index = await fetch(server.url);
    assertEquals(index.headers.get("content-type"), "text/html; charset=utf-8");
    assertEquals(await index.text(), "<!doctype html><p>hi</p>");
    const wasm = await fetch(`${server.url}sub/k.wasm`);
    assertEquals(wasm.headers.get("content-type"), "application/wasm");
    assertEquals(new Uint8Array(await wasm.arrayBuffer()).length, 8);
    const ts = await fetch(`${server.url}sub/m.ts`);
    assertEquals(ts.headers.get("content-type"), "application/typescript; charset=utf-8");
    await ts.body?.cancel();
    const dir = await fetch(`${server.url}sub`, { redirect: "manual" });
    assertEquals([dir.status, dir.headers.get("location")], [301, "/sub/"]);
    const missing = await fetch(`${server.url}nope.js`);
    assertEquals(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(server.url, { method: "POST", body: "x" });
    assertEquals(post.status, 405);
    await post.body?.cancel();
    const head = await fetch(`${server.url}sub/k.wasm`, { method: "HEAD" });
    assertEquals([head.status, head.headers.get("content-length")], [200, "8"]);
    // An encoded "../" must not leave the root.
    const escape = await fetch(`${server.url}..%2f..%2f..%2fetc%2fpasswd`);
    assertEquals(escape.status, 403);
    await escape.body?.cancel();
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("serve: paths stay under the root; only loopback addresses", async () => {
  assertEquals(resolveUnder("/srv/site", "/a/b.js"), "/srv/site/a/b.js");
  assertEquals(resolveUnder("/srv/site", "/"), "/srv/site");
  assertEquals(resolveUnder("/srv/site", "/../etc/passwd"), undefined);
  assertEquals(resolveUnder("/srv/site", "/..%2fsite2/x"), undefined);
  assertEquals(resolveUnder("/srv/site", "/%E0%A4%A"), undefined);
  assertEquals(contentTypeFor("model.KERAS"), "application/zip");
  assertEquals(contentTypeFor("group1-shard1of1.bin"), "application/octet-stream");
  assertEquals(contentTypeFor("x.unknown"), "application/octet-stream");
  await rejects(() => serveStatic({ root: ".", port: 0, hostname: "0.0.0.0" }), /loopback/);
});

/** A script that imports each package by URL from `base` and prints what it computed. */
function urlImportScript(base: string): string {
  return `
const engine = await import("${base}packages/engine/mod.ts");
const tokenizer = await import("${base}packages/tokenizer/mod.ts");
const importer = await import("${base}packages/keras-importer/mod.ts");
const datasets = await import("${base}packages/datasets/mod.ts");
const spec = JSON.parse(await new Response(Deno.stdin.readable).text());
for (const layer of Object.values(spec.weights)) {
  for (const w of layer) w.data = Float32Array.from(w.data);
}
const x = new engine.Tensor(Float32Array.from({ length: 16 }, (_, i) => Math.cos(i)), [2, 8]);
const direct = engine.buildModel(spec).predict(x);
// Through the importer: write a .keras archive in memory and read it back.
const bytes = await importer.kerasArchiveBytes(spec);
const { model } = await importer.loadModel(bytes, { name: "roundtrip.keras" });
const viaImporter = model.predict(x);
const vectorizer = new tokenizer.TextVectorization({ outputSequenceLength: 4 });
vectorizer.adapt(["enak sekali", "tidak enak"]);
const table = datasets.parseCsv("id,text,label\\n1,enak,positive\\n", "inline.csv");
console.log(JSON.stringify({
  simd: engine.wasmSimdSupported(),
  direct: Array.from(direct.data),
  viaImporter: Array.from(viaImporter.data),
  ids: Array.from(vectorizer.call(["enak sekali"]).data),
  csv: table,
}));
`;
}

Deno.test("import by URL: every package's mod.ts runs from a loopback server", async () => {
  const server = await serveStatic({ root: REPO_ROOT, port: 0 });
  const work = await Deno.makeTempDir({ prefix: "scratchnet-url-import-" });
  try {
    // A private module cache (dropped afterwards) sharing Deno's npm cache.
    const info = JSON.parse(
      new TextDecoder().decode(
        (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
      ),
    );
    const denoDir = join(work, "deno_dir");
    await Deno.mkdir(denoDir);
    await Deno.symlink(info.npmCache, join(denoDir, "npm"), { type: "dir" });
    const script = join(work, "url_import.ts");
    await Deno.writeTextFile(script, urlImportScript(server.url));
    const { spec } = denseModel(21);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--no-config", "--no-lock", script],
      cwd: work,
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(
        JSON.stringify(spec, (_k, v) => v instanceof Float32Array ? Array.from(v) : v),
      ),
    );
    await writer.close();
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert(out.success, `URL import failed:\n${stderr}`);
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    const x = new Tensor(Float32Array.from({ length: 16 }, (_, i) => Math.cos(i)), [2, 8]);
    const expected = Array.from(buildModel(spec).predict(x).data);
    assertEquals(result.simd, true);
    assertEquals(result.direct, expected);
    assertEquals(result.viaImporter, expected);
    const vectorizer = new TextVectorization({ outputSequenceLength: 4 });
    vectorizer.adapt(["enak sekali", "tidak enak"]);
    assertEquals(result.ids, Array.from(vectorizer.call(["enak sekali"]).data));
    assertEquals(result.csv.header, ["id", "text", "label"]);
    assertEquals(result.csv.records.length, 1);
  } finally {
    await server.shutdown();
    await Deno.remove(work, { recursive: true });
  }
});
