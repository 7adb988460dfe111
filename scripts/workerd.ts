/**
 * workerd, Cloudflare's open-source Workers runtime, for the edge bundle's tests and load tests:
 * {@link provisionWorkerd} installs the pinned `@cloudflare/workerd-<platform>` npm package into
 * the project's cache with `npm install` (all a fresh machine needs is Node and npm) and returns
 * the binary; {@link startWorkerd} runs a config on a free loopback port until stopped.
 *
 * @module
 */
import { join } from "node:path";
import { isFile, ProvisionError, runCommand } from "./provision.ts";

/** The workerd release the project runs (npm version of `@cloudflare/workerd-*`). */
export const WORKERD_VERSION = "1.20261117.1";

/** Environment variable naming a workerd binary to use instead of the cached npm package. */
export const WORKERD_ENV = "SCRATCHNET_WORKERD";

/** The npm package holding workerd for an OS and CPU (`Deno.build.os` / `Deno.build.arch`). */
export function workerdPackage(os: string, arch: string): string {
  const cpu = arch === "x86_64" ? "64" : arch === "aarch64" ? "arm64" : null;
  const platform = os === "linux" || os === "darwin" ? os : os === "windows" ? "windows" : null;
  if (cpu === null || platform === null || (platform === "windows" && cpu !== "64")) {
    throw new ProvisionError(`workerd has no npm build for ${os} ${arch}`);
  }
  return `@cloudflare/workerd-${platform}-${cpu}`;
}

/** The project's cache folder: `$SCRATCHNET_CACHE`, else `$XDG_CACHE_HOME/scratchnet`, else `~/.cache/scratchnet`. */
export function cacheDir(): string {
  const env = Deno.env.get("SCRATCHNET_CACHE");
  if (env) return env;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "scratchnet");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  return join(home, ".cache", "scratchnet");
}

/**
 * The workerd binary, installed with npm into `<cache>/workerd-<version>` when missing (about
 * 60 MB to download, once). `$SCRATCHNET_WORKERD` overrides it.
 *
 * @throws {ProvisionError} when npm is missing or the install fails (one line saying what to run).
 */
export async function provisionWorkerd(log: (line: string) => void = console.log): Promise<string> {
  const override = Deno.env.get(WORKERD_ENV);
  if (override) {
    if (await isFile(override)) return override;
    throw new ProvisionError(`${WORKERD_ENV}=${override} does not exist`);
  }
  const pkg = workerdPackage(Deno.build.os, Deno.build.arch);
  const dir = join(cacheDir(), `workerd-${WORKERD_VERSION}`);
  const binary = join(
    dir,
    "node_modules",
    pkg,
    "bin",
    Deno.build.os === "windows" ? "workerd.exe" : "workerd",
  );
  if (await isFile(binary)) return binary;
  const spec = `${pkg}@${WORKERD_VERSION}`;
  log(`provision: installing workerd (${spec}) with npm into ${dir}…`);
  // Into a fresh folder renamed into place: a half-finished install is never taken for a good one.
  await Deno.mkdir(cacheDir(), { recursive: true });
  const temp = await Deno.makeTempDir({ dir: cacheDir(), prefix: ".workerd-install-" });
  try {
    const npm = Deno.build.os === "windows" ? "npm.cmd" : "npm";
    const command = [
      npm,
      "install",
      "--prefix",
      temp,
      "--no-save",
      "--no-audit",
      "--no-fund",
      "--no-package-lock",
      spec,
    ];
    const { code, output } = await runCommand(command, {});
    if (code !== 0) {
      const last = output.trim().split("\n").at(-1) ?? "no output";
      throw new ProvisionError(
        `"${command.join(" ")}" exited with ${code} (${last}): run it to see why`,
      );
    }
    try {
      await Deno.rename(temp, dir);
    } catch (e) {
      // Another process installed it meanwhile: theirs is as good.
      if (!(await isFile(binary))) throw e;
    }
  } finally {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
  if (!(await isFile(binary))) {
    throw new ProvisionError(`npm installed ${spec} but ${binary} is missing`);
  }
  log(`provision: workerd ${WORKERD_VERSION} at ${binary}`);
  return binary;
}

/** A running workerd. */
export interface WorkerdProcess {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Everything workerd printed so far. */
  output(): string;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
}

/** A loopback port free right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Runs `workerd serve <config>` with its `socket` bound to a free loopback port, and resolves
 * once `GET <readyPath>` answers 200 (models load while the worker starts).
 */
export async function startWorkerd(
  binary: string,
  config: string,
  options: { socket?: string; readyPath?: string; timeoutMs?: number } = {},
): Promise<WorkerdProcess> {
  const port = freePort();
  const child = new Deno.Command(binary, {
    args: ["serve", config, "--socket-addr", `${options.socket ?? "http"}=127.0.0.1:${port}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const bytes of stream) text += decoder.decode(bytes, { stream: true });
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    await status;
    await collected;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      await collected;
      throw new Error(`workerd exited before serving: ${text}`);
    }
    try {
      const res = await fetch(url + (options.readyPath ?? "/healthz"));
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`workerd did not answer within ${options.timeoutMs ?? 60_000} ms: ${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, output: () => text, stop };
}
