/**
 * `deno task bundle:worker --model NAME=PATH [--model …] [--preprocessing NAME=PATH] [--out DIR]
 *   [--port 8787] [--max-body-bytes N] [--max-instances N] [--deadline-ms N]`
 *
 * Builds one deployable folder serving the models over the `@scratchnet/serving` API at the edge:
 *
 * | file | what |
 * |---|---|
 * | `serving.js` | the handler, importer and engine (`packages/serving/edge.ts`), one ESM bundle |
 * | `worker.js` | Workers entry (`export default { fetch }`): workerd, Cloudflare Workers |
 * | `deno.js` | Deno entry (`Deno.serve`): Deno Deploy, or `deno run` anywhere |
 * | `kernels_relaxed.wasm`, `kernels_simd.wasm` | the engine's kernels as wasm modules |
 * | `models/NAME.*` | the model files (Workers data modules), and `NAME.preprocessing.*` |
 * | `workerd.capnp` | workerd config: `workerd serve workerd.capnp` listens on 127.0.0.1:PORT |
 * | `wrangler.toml` | Cloudflare config: `npx wrangler deploy` from this folder |
 *
 * workerd compiles no WebAssembly from bytes at run time, so `worker.js` imports the kernels as
 * wasm modules and maps the engine's compile of its embedded bytes onto them
 * (`usePrecompiledWasm`). One request cannot wake another in workerd, so the worker runs each
 * request alone (`batching: false`); `deno.js` batches.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { basename, extname, join, resolve } from "node:path";
import { decodeBase64 } from "../packages/engine/src/wasm/base64.ts";
import {
  KERNELS_RELAXED_WASM_BASE64,
  KERNELS_WASM_BASE64,
} from "../packages/engine/src/wasm/kernels_wasm.ts";
import { createBundledHandler, wasmFingerprint } from "../packages/serving/edge.ts";
import type { HandlerOptions } from "../packages/serving/mod.ts";
import {
  browserVariantsPlugin,
  denoResolvePlugin,
  LinkedNodeModules,
  readImportMap,
  REPO_ROOT,
} from "./bundle.ts";

/** workerd's compatibility date for the generated configs (a date this workerd release knows). */
export const COMPATIBILITY_DATE = "2025-09-01";

const USAGE = `usage: deno task bundle:worker --model NAME=PATH [--model NAME=PATH …]
  [--preprocessing NAME=PATH] [--out dist/worker] [--port 8787]
  [--max-body-bytes N] [--max-instances N] [--deadline-ms N]`;

/** A command line the bundler refuses. */
export class BundleWorkerUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleWorkerUsageError";
  }
}

/** What to bundle. */
export interface WorkerBundleOptions {
  /** Model files by name. */
  models: Record<string, string>;
  /** Separately saved vectorizers (`.keras` or JSON) by model name. */
  preprocessing?: Record<string, string>;
  /** Output folder (created). */
  outDir: string;
  /** Port in `workerd.capnp` (default 8787). */
  port?: number;
  /** Handler limits baked into the entries. */
  limits?: Pick<HandlerOptions, "maxBodyBytes" | "maxInstances" | "deadlineMs">;
  /** Minify `serving.js`'s whitespace and syntax (default true; identifiers are kept). */
  minify?: boolean;
}

/** Parses the command line; throws {@link BundleWorkerUsageError} naming the bad flag. */
export function parseBundleWorkerArgs(args: readonly string[]): WorkerBundleOptions {
  const options: WorkerBundleOptions = {
    models: {},
    preprocessing: {},
    outDir: join(REPO_ROOT, "dist", "worker"),
    limits: {},
  };
  const limitFlags: Record<string, "maxBodyBytes" | "maxInstances" | "deadlineMs"> = {
    "--max-body-bytes": "maxBodyBytes",
    "--max-instances": "maxInstances",
    "--deadline-ms": "deadlineMs",
  };
  for (let i = 0; i < args.length; i++) {
    const eq = args[i].indexOf("=");
    const [flag, inline] = args[i].startsWith("--") && eq > 0
      ? [args[i].slice(0, eq), args[i].slice(eq + 1)]
      : [args[i], undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new BundleWorkerUsageError(`${flag} needs a value`);
      return v;
    };
    const named = (into: Record<string, string>) => {
      const spec = value();
      const at = spec.indexOf("=");
      const name = spec.slice(0, at);
      if (at <= 0 || at === spec.length - 1 || !/^[A-Za-z0-9_.-]+$/.test(name)) {
        throw new BundleWorkerUsageError(
          `${flag}: expected NAME=PATH with NAME of letters, digits, _ . -, received ${spec}`,
        );
      }
      if (name in into) throw new BundleWorkerUsageError(`${flag}: ${name} given twice`);
      into[name] = spec.slice(at + 1);
    };
    const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => {
      const v = value();
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < min || n > max) {
        throw new BundleWorkerUsageError(
          `${flag}: expected an integer ${min}–${max}, received ${v}`,
        );
      }
      return n;
    };
    if (flag === "--model") named(options.models);
    else if (flag === "--preprocessing") named(options.preprocessing!);
    else if (flag === "--out") options.outDir = resolve(value());
    else if (flag === "--port") options.port = integer(1, 65535);
    else if (flag in limitFlags) options.limits![limitFlags[flag]] = integer(1);
    else throw new BundleWorkerUsageError(`unknown flag ${args[i]}\n${USAGE}`);
  }
  if (Object.keys(options.models).length === 0) {
    throw new BundleWorkerUsageError(`at least one --model NAME=PATH is required\n${USAGE}`);
  }
  const orphan = Object.keys(options.preprocessing!).find((n) => !(n in options.models));
  if (orphan !== undefined) {
    throw new BundleWorkerUsageError(`--preprocessing ${orphan}: no --model named ${orphan}`);
  }
  return options;
}

/** A file the bundle imports, with its path in the output folder. */
interface ModelFile {
  name: string;
  kind: "model" | "preprocessing";
  /** Path relative to the output folder, e.g. `models/text.keras`. */
  file: string;
}

function fileExtension(path: string): string {
  const ext = extname(basename(path)).toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : ".bin";
}

/** The Workers entry: wasm modules and model data modules in, `export default { fetch }` out. */
export function workerEntry(
  files: readonly ModelFile[],
  wasm: readonly { file: string; fingerprint: string }[],
  options: Omit<HandlerOptions, "models">,
): string {
  const ident = (f: ModelFile) => `${f.kind}_${f.name.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const lines = [
    "// Generated by deno task bundle:worker — the Workers entry (workerd, Cloudflare Workers).",
    'import { createBundledHandler, usePrecompiledWasm } from "./serving.js";',
    ...wasm.map((w, i) => `import wasm${i} from "./${w.file}";`),
    ...files.map((f) => `import ${ident(f)} from "./${f.file}";`),
    "",
    "// workerd refuses to compile wasm bytes at run time: give the engine the uploaded modules.",
    `usePrecompiledWasm([${
      wasm.map((w, i) => `{ module: wasm${i}, fingerprint: ${JSON.stringify(w.fingerprint)} }`)
        .join(", ")
    }]);`,
    "",
    "// Loaded once per isolate, before the first request (no request may wait on another's work).",
    `const handler = await createBundledHandler({`,
    ...[...new Set(files.map((f) => f.name))].map((name) => {
      const model = files.find((f) => f.name === name && f.kind === "model")!;
      const prep = files.find((f) => f.name === name && f.kind === "preprocessing");
      return `  ${JSON.stringify(name)}: { model: ${ident(model)}${
        prep ? `, preprocessing: ${ident(prep)}` : ""
      } },`;
    }),
    `}, ${JSON.stringify({ ...options, batching: false })});`,
    "",
    "export default { fetch: (request) => handler(request) };",
    "",
  ];
  return lines.join("\n");
}

/** The Deno entry: reads the model files beside it and serves them with `Deno.serve`. */
export function denoEntry(
  files: readonly ModelFile[],
  options: Omit<HandlerOptions, "models">,
): string {
  const read = (f: ModelFile) =>
    `await Deno.readFile(new URL(${JSON.stringify(`./${f.file}`)}, import.meta.url))`;
  return [
    "// Generated by deno task bundle:worker — the Deno entry (Deno Deploy, deno run -A deno.js).",
    'import { createBundledHandler } from "./serving.js";',
    "",
    `const handler = await createBundledHandler({`,
    ...[...new Set(files.map((f) => f.name))].map((name) => {
      const model = files.find((f) => f.name === name && f.kind === "model")!;
      const prep = files.find((f) => f.name === name && f.kind === "preprocessing");
      return `  ${JSON.stringify(name)}: { model: ${read(model)}${
        prep ? `, preprocessing: ${read(prep)}` : ""
      } },`;
    }),
    `}, ${JSON.stringify(options)});`,
    "",
    "// Deno Deploy picks the port; locally PORT (default 8000), loopback unless HOST says otherwise.",
    'const port = Number(Deno.env.get("PORT") ?? 8000);',
    'const hostname = Deno.env.get("HOST") ?? "127.0.0.1";',
    "Deno.serve({ port, hostname }, handler);",
    "",
  ].join("\n");
}

/** workerd's capnp text config for the folder. */
export function workerdConfig(
  files: readonly ModelFile[],
  wasm: readonly { file: string }[],
  port: number,
): string {
  const modules = [
    `(name = "worker.js", esModule = embed "worker.js")`,
    `(name = "serving.js", esModule = embed "serving.js")`,
    ...wasm.map((w) => `(name = "${w.file}", wasm = embed "${w.file}")`),
    ...files.map((f) => `(name = "${f.file}", data = embed "${f.file}")`),
  ];
  return `# Generated by deno task bundle:worker. Run: workerd serve workerd.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "scratchnet", worker = .scratchnetWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "scratchnet") ],
);

const scratchnetWorker :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")},
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
);
`;
}

/** Cloudflare's wrangler config: the same entry, models as Data modules, wasm as CompiledWasm. */
export function wranglerConfig(files: readonly ModelFile[]): string {
  const globs = [...new Set(files.map((f) => `models/*${extname(f.file)}`))];
  return `# Generated by deno task bundle:worker. Deploy: npx wrangler deploy (from this folder)
name = "scratchnet-serving"
main = "worker.js"
compatibility_date = "${COMPATIBILITY_DATE}"
no_bundle = true

[[rules]]
type = "ESModule"
globs = ["serving.js"]

[[rules]]
type = "CompiledWasm"
globs = ["*.wasm"]

[[rules]]
type = "Data"
globs = ${JSON.stringify(globs)}
`;
}

/** Writes the folder; returns the files written (relative paths) with their sizes. */
export async function bundleWorker(
  options: WorkerBundleOptions,
): Promise<{ file: string; bytes: number }[]> {
  const outDir = resolve(options.outDir);
  const limits = options.limits ?? {};
  // Load every model here first: a file the worker could not serve fails the build, not the deploy.
  const files: ModelFile[] = [];
  const contents = new Map<string, Uint8Array>();
  const given: Record<string, { model: Uint8Array; preprocessing?: Uint8Array }> = {};
  for (const [name, path] of Object.entries(options.models)) {
    const model = await Deno.readFile(path);
    const file = `models/${name}${fileExtension(path)}`;
    files.push({ name, kind: "model", file });
    contents.set(file, model);
    given[name] = { model };
    const prepPath = options.preprocessing?.[name];
    if (prepPath !== undefined) {
      const prep = await Deno.readFile(prepPath);
      const prepFile = `models/${name}.preprocessing${fileExtension(prepPath)}`;
      files.push({ name, kind: "preprocessing", file: prepFile });
      contents.set(prepFile, prep);
      given[name].preprocessing = prep;
    }
  }
  await createBundledHandler(given, limits);

  await Deno.mkdir(join(outDir, "models"), { recursive: true });
  const written: { file: string; bytes: number }[] = [];
  const write = async (file: string, data: Uint8Array | string) => {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    await Deno.writeFile(join(outDir, file), bytes);
    written.push({ file, bytes: bytes.byteLength });
  };

  const temp = await Deno.makeTempDir({ prefix: "scratchnet-bundle-worker-" });
  try {
    const nodeModules = new LinkedNodeModules(join(temp, "node_modules"));
    await Deno.mkdir(nodeModules.dir);
    const result = await esbuild.build({
      entryPoints: [join(REPO_ROOT, "packages/serving/edge.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      // Whitespace and syntax only: with identifiers kept, class names (errors name themselves
      // with new.target.name) survive without esbuild's keepNames, whose __name() wrappers made
      // the engine about 6× slower (measured: a batch of 8 CNN images 25–70 ms against 4–7 ms).
      minifyWhitespace: options.minify ?? true,
      minifySyntax: options.minify ?? true,
      minifyIdentifiers: false,
      keepNames: false,
      legalComments: "none",
      write: false,
      logLevel: "silent",
      outfile: join(outDir, "serving.js"),
      plugins: [browserVariantsPlugin(), denoResolvePlugin(await readImportMap(), nodeModules)],
    });
    await write("serving.js", result.outputFiles[0].contents);
  } finally {
    await esbuild.stop();
    await Deno.remove(temp, { recursive: true });
  }

  // The engine's own bytes (shared-memory imports, as it compiles them where shared memory exists,
  // which workerd has).
  const wasm = [
    { file: "kernels_relaxed.wasm", bytes: decodeBase64(KERNELS_RELAXED_WASM_BASE64) },
    { file: "kernels_simd.wasm", bytes: decodeBase64(KERNELS_WASM_BASE64) },
  ].map((w) => ({ ...w, fingerprint: wasmFingerprint(w.bytes) }));
  for (const w of wasm) await write(w.file, w.bytes);
  for (const [file, bytes] of contents) await write(file, bytes);
  await write("worker.js", workerEntry(files, wasm, limits));
  await write("deno.js", denoEntry(files, limits));
  await write("workerd.capnp", workerdConfig(files, wasm, options.port ?? 8787));
  await write("wrangler.toml", wranglerConfig(files));
  return written;
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let options: WorkerBundleOptions;
  try {
    options = parseBundleWorkerArgs(args);
  } catch (e) {
    if (!(e instanceof BundleWorkerUsageError)) throw e;
    console.error(`bundle:worker: ${e.message}`);
    return 2;
  }
  const written = await bundleWorker(options);
  console.log(`edge bundle in ${options.outDir}:`);
  const width = Math.max(...written.map((w) => w.file.length));
  for (const w of written) {
    console.log(`  ${w.file.padEnd(width)}  ${(w.bytes / 1000).toFixed(1).padStart(9)} kB`);
  }
  console.log(`run: workerd serve ${join(options.outDir, "workerd.capnp")}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
