/**
 * `deno task serve`: a small static file server for the web page and the bundles in `dist/`
 * (or any folder), bound to the loopback address only.
 *
 * ```sh
 * deno task serve                          # bundles, then serves dist/ on http://127.0.0.1:8000/
 * deno run -A scripts/serve.ts --root . --port 8123   # serve the repository (import by URL)
 * ```
 *
 * Tests use {@linkcode serveStatic} on port 0 (a free port) and shut it down at the end.
 *
 * @module
 */
import { extname, join, resolve, sep } from "node:path";

/** Content types by file extension; TypeScript is served so that Deno can import it by URL. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".ts": "application/typescript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".keras": "application/zip",
  ".zip": "application/zip",
  ".h5": "application/x-hdf5",
  ".hdf5": "application/x-hdf5",
  ".bin": "application/octet-stream",
};

/** The content type for a file name (`application/octet-stream` when the extension is unknown). */
export function contentTypeFor(path: string): string {
  return MIME_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/** Options of {@linkcode serveStatic}. */
export interface ServeStaticOptions {
  /** Folder to serve. */
  root: string;
  /** TCP port; 0 picks a free one. Default 8000. */
  port?: number;
  /** Loopback address to bind. Default `127.0.0.1`; other addresses are refused. */
  hostname?: string;
  /** Log each request to stderr. Default false. */
  log?: boolean;
}

/** A running server: where it listens and how to stop it. */
export interface StaticServer {
  /** Base URL ending in `/`, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  port: number;
  /** Stops listening and waits until the server has finished. */
  shutdown(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** Maps a request path to a file under `root`, or `undefined` when it would leave `root`. */
export function resolveUnder(root: string, pathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0")) return undefined;
  const base = resolve(root);
  const target = resolve(join(base, decoded));
  if (target !== base && !target.startsWith(base + sep)) return undefined;
  return target;
}

async function fileResponse(root: string, request: Request, log: boolean): Promise<Response> {
  const started = performance.now();
  const respond = (status: number, body: BodyInit | null, headers: HeadersInit = {}) => {
    if (log) {
      const ms = (performance.now() - started).toFixed(1);
      console.error(`${request.method} ${new URL(request.url).pathname} ${status} ${ms} ms`);
    }
    return new Response(body, { status, headers });
  };
  if (request.method !== "GET" && request.method !== "HEAD") {
    return respond(405, "method not allowed\n", { allow: "GET, HEAD" });
  }
  const pathname = new URL(request.url).pathname;
  let path = resolveUnder(root, pathname);
  if (path === undefined) return respond(403, "forbidden\n");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
    if (info.isDirectory) {
      if (!pathname.endsWith("/")) {
        return respond(301, null, { location: `${pathname}/` });
      }
      path = join(path, "index.html");
      info = await Deno.stat(path);
    }
  } catch {
    return respond(404, "not found\n", { "content-type": "text/plain; charset=utf-8" });
  }
  const headers = {
    "content-type": contentTypeFor(path),
    "content-length": String(info.size),
    // The page's service worker keeps its own copies; the HTTP cache should always revalidate.
    "cache-control": "no-cache",
  };
  if (request.method === "HEAD") return respond(200, null, headers);
  const file = await Deno.open(path, { read: true });
  return respond(200, file.readable, headers);
}

/** Serves the files under `options.root` on a loopback address until `shutdown()`. */
export async function serveStatic(options: ServeStaticOptions): Promise<StaticServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  if (!LOOPBACK.has(hostname)) {
    throw new Error(`serveStatic: hostname must be a loopback address, got "${hostname}"`);
  }
  const root = resolve(options.root);
  const log = options.log ?? false;
  return await new Promise((resolveServer) => {
    const server = Deno.serve({
      hostname,
      port: options.port ?? 8000,
      onListen: ({ port }) => {
        const host = hostname.includes(":") ? `[${hostname}]` : hostname;
        resolveServer({
          url: `http://${host}:${port}/`,
          port,
          shutdown: () => server.shutdown(),
        });
      },
    }, (request) => fileResponse(root, request, log));
  });
}

function parseArgs(args: string[]): { root: string; port: number } {
  let root = new URL("../dist/", import.meta.url).pathname;
  let port = 8000;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--root" && i + 1 < args.length) root = args[++i];
    else if (arg === "--port" && i + 1 < args.length) port = Number(args[++i]);
    else throw new Error(`serve: unknown argument "${arg}" (use --root DIR --port N)`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`serve: --port must be 0..65535, got ${port}`);
  }
  return { root, port };
}

if (import.meta.main) {
  const { root, port } = parseArgs(Deno.args);
  try {
    await Deno.stat(join(root, "index.html"));
  } catch {
    console.error(`serve: ${root} has no index.html; run "deno task bundle" first`);
    Deno.exit(1);
  }
  const server = await serveStatic({ root, port, log: true });
  console.log(`serving ${root} at ${server.url} (Ctrl-C to stop)`);
}
