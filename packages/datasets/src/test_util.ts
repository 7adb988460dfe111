/**
 * Helpers for this package's tests: the shared data folder beside the repository, temporary
 * folders, and a loopback-only HTTP server standing in for the download sites.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** `<repo>/../shared/data` — real data sets shipped beside the checkout. */
export const SHARED_DATA = fileURLToPath(new URL("../../../../shared/data", import.meta.url));

/** A route: fixed bytes, or a handler. */
export type Route = Uint8Array | string | ((request: Request) => Response | Promise<Response>);

/** A local HTTP server on 127.0.0.1. */
export interface LocalServer {
  /** Base URL ending in `/`. */
  base: string;
  /** Paths requested so far, in order. */
  requests: string[];
  /** Stops the server. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Serves `routes` (keyed by path without the leading `/`) on 127.0.0.1; other paths are 404. */
export function serveLocal(routes: Record<string, Route>): LocalServer {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname.slice(1));
    requests.push(path);
    const route = routes[path];
    if (route === undefined) return new Response("not found", { status: 404 });
    if (typeof route === "function") return route(request);
    return new Response(typeof route === "string" ? route : route.slice());
  });
  const close = () => server.shutdown();
  return {
    base: `http://127.0.0.1:${server.addr.port}/`,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A loopback URL on which nothing listens (connection refused). */
export function closedPortUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}/`;
}

/** A temporary folder removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "scratchnet-datasets-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}
