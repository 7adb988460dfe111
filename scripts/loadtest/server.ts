/**
 * Starts the server under test in its own process (so the load generator does not share its event
 * loop): `serve:api` on a loopback port chosen by the OS, or workerd running an edge bundle.
 *
 * @module
 */
import { provisionWorkerd, startWorkerd } from "../workerd.ts";

/** A server process under test. */
export interface ServerUnderTest {
  url: string;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Everything it printed. */
  output(): string;
  /** Stops it (SIGTERM, drain) and returns its exit code. */
  stop(): Promise<number>;
}

const SERVE_API = new URL("../serve_api.ts", import.meta.url).pathname;

/** Runs `deno run -A scripts/serve_api.ts <args> --port 0` and waits for its URL. */
export async function startServeApi(args: readonly string[]): Promise<ServerUnderTest> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SERVE_API, ...args, "--port", "0"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let exited = false;
  let code = -1;
  const status = child.status.then((s) => {
    exited = true;
    code = s.code;
    return s;
  });
  let found: (url: string) => void;
  const urlFound = new Promise<string>((r) => (found = r));
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      text += decoder.decode(bytes, { stream: true });
      const m = /(http:\/\/[^/\s]+)\/v1/.exec(text);
      if (m) found(m[1]);
    }
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const url = await Promise.race([
    urlFound,
    status.then(() => collected).then(() => {
      throw new Error(`serve:api exited before listening: ${text}`);
    }),
  ]);
  return {
    url,
    alive: () => !exited,
    output: () => text,
    stop: async () => {
      if (!exited) child.kill("SIGTERM");
      await status;
      await collected;
      return code;
    },
  };
}

/** Runs workerd on an edge bundle folder (`deno task bundle:worker` output). */
export async function startWorkerdBundle(bundleDir: string): Promise<ServerUnderTest> {
  const binary = await provisionWorkerd();
  const w = await startWorkerd(binary, `${bundleDir}/workerd.capnp`);
  let stopped = false;
  return {
    url: w.url,
    alive: () => !stopped,
    output: w.output,
    stop: async () => {
      stopped = true;
      await w.stop();
      return 0;
    },
  };
}
