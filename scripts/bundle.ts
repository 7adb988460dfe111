/**
 * `deno task bundle`: minified ESM bundles for the browser (and workers) with esbuild, plus the
 * web page, into `dist/`:
 *
 * | file | what |
 * |---|---|
 * | `engine.js`, `tokenizer.js`, `keras-importer.js` | one self-contained bundle per package |
 * | `scratchnet.js` | all-in-one: the three packages sharing one engine (`web/scratchnet.ts`) |
 * | `training_worker.js` | the engine's training worker (module worker), found by the bundles above |
 * | `index.html`, `app.js`, `style.css`, `sw.js` | the page (`web/`), using `scratchnet.js` |
 *
 * Workspace names (`@scratchnet/engine`), import-map names (`fflate`) and `npm:` specifiers are
 * resolved to the packages in Deno's npm cache, read with esbuild's browser conditions (so e.g.
 * fflate's browser build is used, not its Node build). `node:` imports are refused: nothing
 * Deno- or Node-only may reach a browser bundle. Modules that need Deno (the importer's local file
 * access) or the source tree (the training worker's location) are replaced by their variants
 * listed in {@linkcode BROWSER_VARIANTS}.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

/** The repository root. */
export const REPO_ROOT: string = fromFileUrl(new URL("../", import.meta.url));

/** One bundle to build. */
export interface BundleEntry {
  /** Output file name inside the output folder. */
  file: string;
  /** Entry module, relative to the repository root. */
  entry: string;
  /** Specifiers left as imports of another bundle: specifier suffix → output-relative URL. */
  externals?: Record<string, string>;
}

/** The package bundles and the all-in-one. */
export const PACKAGE_BUNDLES: readonly BundleEntry[] = [
  { file: "engine.js", entry: "packages/engine/mod.ts" },
  { file: "tokenizer.js", entry: "packages/tokenizer/mod.ts" },
  { file: "keras-importer.js", entry: "packages/keras-importer/mod.ts" },
  { file: "scratchnet.js", entry: "web/scratchnet.ts" },
];

/**
 * The training worker, written beside the bundles that contain the engine: their
 * `fit({ workers })` starts it by default (`default_worker_url_bundle.ts`).
 */
export const WORKER_BUNDLES: readonly BundleEntry[] = [
  { file: "training_worker.js", entry: "packages/engine/src/training/parallel/worker.ts" },
];

/** The page's scripts; `app.js` imports the all-in-one bundle instead of including it. */
export const PAGE_BUNDLES: readonly BundleEntry[] = [
  { file: "app.js", entry: "web/app.ts", externals: { "/scratchnet.ts": "./scratchnet.js" } },
  { file: "sw.js", entry: "web/sw.ts" },
];

/** Static page files copied as they are. */
export const PAGE_FILES: readonly string[] = ["web/index.html", "web/style.css"];

/**
 * Modules that work only in Deno or from the sources, and the variant (same exports) that replaces
 * each in every bundle, both relative to the repository root.
 */
export const BROWSER_VARIANTS: Readonly<Record<string, string>> = {
  "packages/keras-importer/local_files.ts": "packages/keras-importer/local_files_browser.ts",
  "packages/engine/src/training/parallel/default_worker_url.ts":
    "packages/engine/src/training/parallel/default_worker_url_bundle.ts",
};

/**
 * Variants that find a file beside their bundle through `import.meta.url`: the build fails if one
 * would be moved into a shared chunk (`chunks/`), where that URL points elsewhere.
 */
const ENTRY_ONLY_VARIANTS: readonly string[] = [
  "packages/engine/src/training/parallel/default_worker_url_bundle.ts",
];

/** Size of one written file. */
export interface BundleSize {
  file: string;
  bytes: number;
  gzipBytes: number;
}

/** Options of {@linkcode bundle}. */
export interface BundleOptions {
  /** Output folder (created). Default `<repo>/dist`. */
  outDir?: string;
  /** Minify (default true). */
  minify?: boolean;
}

/** Thrown when a build's output is not laid out as the bundles need. */
export class BundleLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleLayoutError";
  }
}

/** Thrown when a specifier cannot be resolved for the browser. */
export class BundleResolveError extends Error {
  constructor(specifier: string, importer: string, reason: string) {
    super(`cannot bundle "${specifier}" imported by ${importer}: ${reason}`);
    this.name = "BundleResolveError";
  }
}

interface DenoConfig {
  imports?: Record<string, string>;
}

/** The repository's import map (`deno.json` "imports"). */
export async function readImportMap(): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(join(REPO_ROOT, "deno.json"));
  return (JSON.parse(text) as DenoConfig).imports ?? {};
}

/** Splits `npm:name@version/sub/path` into its parts (`@scope/name` aware). */
export function parseNpmSpecifier(
  specifier: string,
): { name: string; version: string; subpath: string } | undefined {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(specifier);
  if (!m) return undefined;
  return { name: m[1], version: m[2] ?? "", subpath: m[3] ?? "" };
}

/** The folder of a package in Deno's npm cache, found from any file URL inside it. */
async function packageDirOf(fileUrl: string, name: string): Promise<string> {
  let dir = dirname(fromFileUrl(fileUrl));
  while (dir !== dirname(dir)) {
    try {
      const pkg = JSON.parse(await Deno.readTextFile(join(dir, "package.json")));
      if (pkg.name === name) return dir;
    } catch {
      // not a package root (or no package.json here): keep walking up
    }
    dir = dirname(dir);
  }
  throw new Error(`no package.json named ${name} above ${fileUrl}`);
}

/**
 * Resolves workspace, import-map and `npm:` specifiers. npm packages are linked into a
 * temporary `node_modules` so that esbuild applies its own (browser) package resolution.
 */
export function denoResolvePlugin(
  importMap: Record<string, string>,
  nodeModules: LinkedNodeModules,
): esbuild.Plugin {
  return {
    name: "deno-resolve",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.passthrough) return undefined;
        let spec = args.path;
        if (spec.startsWith(".") || spec.startsWith("/")) return undefined;
        if (spec.startsWith("file:")) return { path: fromFileUrl(spec) };
        if (spec.startsWith("node:")) {
          throw new BundleResolveError(
            spec,
            args.importer,
            "Node/Deno built-ins do not run in a browser",
          );
        }
        const workspace = /^@scratchnet\/([a-z-]+)$/.exec(spec);
        if (workspace) return { path: join(REPO_ROOT, "packages", workspace[1], "mod.ts") };
        // Import-map names: exact, or a "name/" prefix entry.
        if (spec in importMap) {
          spec = importMap[spec];
        } else {
          const prefix = Object.keys(importMap).find((k) => k.endsWith("/") && spec.startsWith(k));
          if (prefix) spec = importMap[prefix] + spec.slice(prefix.length);
        }
        let bare: string;
        const npm = parseNpmSpecifier(spec);
        if (npm) {
          await nodeModules.linkNpm(npm.name, npm.version, args.importer);
          bare = npm.name + npm.subpath;
        } else {
          // A bare import from inside an npm package: its dependency, from Deno's npm cache.
          const name = /^((?:@[^/]+\/)?[^/]+)/.exec(spec)?.[1] ?? spec;
          await nodeModules.linkFromCache(name, args.importer);
          bare = spec;
        }
        const result = await build.resolve(bare, {
          kind: args.kind,
          resolveDir: dirname(nodeModules.dir),
          pluginData: { passthrough: true },
        });
        if (result.errors.length > 0) {
          throw new BundleResolveError(args.path, args.importer, result.errors[0].text);
        }
        return { path: result.path, sideEffects: result.sideEffects };
      });
    },
  };
}

/** A temporary `node_modules` whose entries link to package folders in Deno's npm cache. */
export class LinkedNodeModules {
  readonly dir: string;
  readonly #links = new Map<string, Promise<string>>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Links `npm:name@version`, found with Deno's resolver (so the lockfile's version). */
  linkNpm(name: string, version: string, importer: string): Promise<string> {
    const spec = `npm:${name}${version ? `@${version}` : ""}`;
    return this.#link(name, version, importer, async () => {
      let resolved: string;
      try {
        resolved = import.meta.resolve(spec);
      } catch (e) {
        throw new BundleResolveError(spec, importer, (e as Error).message);
      }
      if (!resolved.startsWith("file:")) {
        throw new BundleResolveError(
          spec,
          importer,
          `not in Deno's npm cache (got ${resolved}); run "deno cache" on the package first`,
        );
      }
      return await packageDirOf(resolved, name);
    });
  }

  /** Links a dependency of a cached npm package: the newest cached version of `name`. */
  linkFromCache(name: string, importer: string): Promise<string> {
    if (this.#links.has(name)) return this.#links.get(name)!;
    return this.#link(name, "", importer, () => newestCached(name, importer));
  }

  #link(
    name: string,
    version: string,
    importer: string,
    find: () => Promise<string>,
  ): Promise<string> {
    const existing = this.#links.get(name);
    if (existing) {
      return existing.then((dir) => {
        if (version !== "" && !dir.endsWith(`/${version}`)) {
          throw new BundleResolveError(
            `npm:${name}@${version}`,
            importer,
            `another version is already bundled (${dir})`,
          );
        }
        return dir;
      });
    }
    const linking = (async () => {
      const dir = await find();
      const target = join(this.dir, name);
      await Deno.mkdir(dirname(target), { recursive: true });
      await Deno.symlink(dir, target, { type: "dir" });
      return dir;
    })();
    this.#links.set(name, linking);
    return linking;
  }
}

/** Deno's cache is `<registry>/<name>/<version>/`: the newest cached version of `name`. */
async function newestCached(name: string, importer: string): Promise<string> {
  let dir = dirname(importer);
  while (dir !== dirname(dir)) {
    const versions: string[] = [];
    try {
      for await (const e of Deno.readDir(join(dir, name))) {
        if (e.isDirectory && /^\d+\.\d+\.\d+/.test(e.name)) versions.push(e.name);
      }
    } catch {
      // no such package folder at this level
    }
    if (versions.length > 0) {
      const num = (v: string) => v.split(/[.-]/).slice(0, 3).map(Number);
      versions.sort((a, b) => {
        const [x, y] = [num(a), num(b)];
        return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
      });
      return join(dir, name, versions[versions.length - 1]);
    }
    dir = dirname(dir);
  }
  throw new BundleResolveError(name, importer, "not found in Deno's npm cache");
}

/** Resolves relative imports of a {@linkcode BROWSER_VARIANTS} module to its browser variant. */
export function browserVariantsPlugin(): esbuild.Plugin {
  const variants = new Map(
    Object.entries(BROWSER_VARIANTS).map(([deno, browser]) => [
      join(REPO_ROOT, deno),
      join(REPO_ROOT, browser),
    ]),
  );
  return {
    name: "browser-variants",
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const browser = variants.get(resolve(args.resolveDir, args.path));
        return browser ? { path: browser } : undefined;
      });
    },
  };
}

/** Marks imports ending in one of `externals`' keys as imports of another bundle. */
function externalsPlugin(externals: Record<string, string>): esbuild.Plugin {
  return {
    name: "sibling-bundles",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        for (const [suffix, url] of Object.entries(externals)) {
          if (args.path.endsWith(suffix)) return { path: url, external: true };
        }
        return undefined;
      });
    },
  };
}

/** Throws {@linkcode BundleLayoutError} if an {@linkcode ENTRY_ONLY_VARIANTS} module is in a chunk. */
function checkEntryOnly(meta: esbuild.Metafile, entryFile: string): void {
  const variants = new Set(ENTRY_ONLY_VARIANTS.map((path) => join(REPO_ROOT, path)));
  // Metafile paths are relative to the working directory.
  for (const [output, { inputs }] of Object.entries(meta.outputs)) {
    if (resolve(output) === entryFile) continue;
    const moved = Object.keys(inputs).find((input) => variants.has(resolve(input)));
    if (moved) {
      throw new BundleLayoutError(
        `${moved} went into ${output} instead of ${entryFile}: its import.meta.url would not ` +
          `be the bundle's`,
      );
    }
  }
}

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Builds every bundle and copies the page into `outDir`; returns the written files' sizes. */
export async function bundle(options: BundleOptions = {}): Promise<BundleSize[]> {
  const outDir = resolve(options.outDir ?? join(REPO_ROOT, "dist"));
  const minify = options.minify ?? true;
  await Deno.mkdir(outDir, { recursive: true });
  const importMap = await readImportMap();
  const temp = await Deno.makeTempDir({ prefix: "scratchnet-bundle-" });
  const written = new Map<string, Uint8Array>();
  const write = async (file: string, bytes: Uint8Array) => {
    const path = join(outDir, file);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, bytes);
    written.set(file, bytes);
  };
  /** Files the page needs at start, for the service worker to keep (not the lazy h5wasm). */
  const pageFiles = new Set<string>(["index.html", "style.css"]);
  try {
    const nodeModules = new LinkedNodeModules(join(temp, "node_modules"));
    await Deno.mkdir(nodeModules.dir);
    const build = async (item: BundleEntry, define: Record<string, string> = {}) => {
      const result = await esbuild.build({
        entryPoints: { [item.file.replace(/\.js$/, "")]: join(REPO_ROOT, item.entry) },
        outdir: outDir,
        // Dynamic imports (h5wasm, used only to write .keras files) become lazily loaded chunks.
        splitting: true,
        chunkNames: "chunks/[name]-[hash]",
        bundle: true,
        format: "esm",
        platform: "browser",
        target: "es2022",
        minify,
        // Error classes name themselves with `new.target.name`: keep it through minification.
        keepNames: true,
        define,
        legalComments: "none",
        write: false,
        logLevel: "silent",
        metafile: true,
        plugins: [
          externalsPlugin(item.externals ?? {}),
          browserVariantsPlugin(),
          denoResolvePlugin(importMap, nodeModules),
        ],
      });
      for (const out of result.outputFiles) await write(relative(outDir, out.path), out.contents);
      checkEntryOnly(result.metafile, join(outDir, item.file));
      return result.metafile;
    };
    for (const item of PACKAGE_BUNDLES) {
      const meta = await build(item);
      if (item.file === "scratchnet.js") {
        pageFiles.add(item.file);
        // Metafile paths are relative to the working directory.
        const key = Object.keys(meta.outputs).find((k) => resolve(k) === join(outDir, item.file));
        for (const imp of key ? meta.outputs[key].imports : []) {
          if (imp.kind === "import-statement") pageFiles.add(relative(outDir, resolve(imp.path)));
        }
      }
    }
    for (const item of WORKER_BUNDLES) await build(item);
    for (const item of PAGE_BUNDLES) {
      if (item.file === "sw.js") continue;
      await build(item);
      pageFiles.add(item.file);
    }
    for (const file of PAGE_FILES) {
      await write(
        file.slice(file.lastIndexOf("/") + 1),
        await Deno.readFile(join(REPO_ROOT, file)),
      );
    }
    // The worker's cache name changes whenever a cached file does.
    const hashInput = [...pageFiles].sort().map((f) => written.get(f)!);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", await new Blob(hashInput as BlobPart[]).arrayBuffer()),
    );
    const version = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const precache = ["./", ...[...pageFiles].sort().map((f) => `./${f}`)];
    const worker = PAGE_BUNDLES.find((item) => item.file === "sw.js");
    if (worker) {
      await build(worker, {
        PRECACHE: JSON.stringify(precache),
        CACHE_NAME: JSON.stringify(`scratchnet-${version}`),
      });
    }
  } finally {
    await esbuild.stop();
    await Deno.remove(temp, { recursive: true });
  }
  const sizes: BundleSize[] = [];
  for (const [file, bytes] of written) {
    sizes.push({ file, bytes: bytes.byteLength, gzipBytes: await gzipSize(bytes) });
  }
  return sizes;
}

/** Formats sizes as an aligned table (kB = 1000 bytes). */
export function formatSizes(sizes: readonly BundleSize[]): string {
  const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
  const width = Math.max(...sizes.map((s) => s.file.length));
  return sizes.map((s) =>
    `${s.file.padEnd(width)}  ${kb(s.bytes).padStart(9)}  (gzip ${kb(s.gzipBytes).padStart(8)})`
  ).join("\n");
}

if (import.meta.main) {
  const outDir = Deno.args[0] ?? join(REPO_ROOT, "dist");
  const sizes = await bundle({ outDir });
  console.log(`bundles in ${outDir}:`);
  console.log(formatSizes(sizes));
}
