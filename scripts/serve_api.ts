/**
 * `deno task serve:api --model NAME=PATH [--model …] [--host 127.0.0.1] [--port 8501]
 *   [--max-batch-size N] [--max-wait-ms N] [--max-queue N] [--max-body-bytes N]
 *   [--max-instances N] [--deadline-ms N]`
 *
 * Serves Keras model files (anything the importer's `loadModel` reads) over TF Serving's REST
 * predict API with the `@scratchnet/serving` handler on `Deno.serve`, bound to the loopback
 * address unless `--host` says otherwise. SIGINT / SIGTERM drain: readiness fails, new predictions
 * get 503, in-flight requests finish, then the process exits.
 *
 * ```sh
 * deno task serve:api --model sentiment=model.keras --port 8501
 * curl -s localhost:8501/v1/models/sentiment:predict -d '{"instances": ["enak sekali"]}'
 * ```
 *
 * Tests call {@linkcode serveApi} with port 0 and shut it down at the end.
 *
 * @module
 */
import { loadModel } from "../packages/keras-importer/mod.ts";
import { createHandler, type HandlerOptions, type ModelEntry } from "../packages/serving/mod.ts";

const USAGE = `usage: deno task serve:api --model NAME=PATH [--model NAME=PATH …]
  [--host 127.0.0.1] [--port 8501] [--max-batch-size 32] [--max-wait-ms 2] [--max-queue 256]
  [--max-body-bytes 4194304] [--max-instances 256] [--deadline-ms 30000]`;

/** A command line the server refuses (exit status 2). */
export class ServeApiUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServeApiUsageError";
  }
}

/** Parsed `serve:api` flags. */
export interface ServeApiFlags {
  /** Model files by name. */
  models: Record<string, string>;
  host: string;
  port: number;
  limits: Omit<HandlerOptions, "models">;
}

const LIMIT_FLAGS: Record<string, keyof Omit<HandlerOptions, "models">> = {
  "--max-batch-size": "maxBatchSize",
  "--max-wait-ms": "maxWaitMs",
  "--max-queue": "maxQueue",
  "--max-body-bytes": "maxBodyBytes",
  "--max-instances": "maxInstances",
  "--deadline-ms": "deadlineMs",
};

/** Parses the command line; throws {@link ServeApiUsageError} naming the bad flag. */
export function parseServeApiArgs(args: readonly string[]): ServeApiFlags {
  const flags: ServeApiFlags = { models: {}, host: "127.0.0.1", port: 8501, limits: {} };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=") &&
        !args[i].startsWith("--model=")
      ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)]
      : args[i].startsWith("--model=")
      ? ["--model", args[i].slice("--model=".length)]
      : [args[i], undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new ServeApiUsageError(`${flag} needs a value`);
      return v;
    };
    const integer = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
        throw new ServeApiUsageError(`${flag}: expected an integer ≥ ${min}, received ${v}`);
      }
      return n;
    };
    if (flag === "--model") {
      const spec = value();
      const eq = spec.indexOf("=");
      const name = spec.slice(0, eq);
      if (eq <= 0 || eq === spec.length - 1 || !/^[A-Za-z0-9_.-]+$/.test(name)) {
        throw new ServeApiUsageError(
          `--model: expected NAME=PATH with NAME of letters, digits, _ . -, received ${spec}`,
        );
      }
      if (name in flags.models) throw new ServeApiUsageError(`--model: ${name} given twice`);
      flags.models[name] = spec.slice(eq + 1);
    } else if (flag === "--host") flags.host = value();
    else if (flag === "--port") {
      flags.port = integer(0);
      if (flags.port > 65535) throw new ServeApiUsageError(`--port: expected ≤ 65535`);
    } else if (flag in LIMIT_FLAGS) {
      flags.limits[LIMIT_FLAGS[flag]] = integer(flag === "--max-wait-ms" ? 0 : 1);
    } else throw new ServeApiUsageError(`unknown flag ${args[i]}\n${USAGE}`);
  }
  if (Object.keys(flags.models).length === 0) {
    throw new ServeApiUsageError(`at least one --model NAME=PATH is required\n${USAGE}`);
  }
  return flags;
}

/** A running API server. */
export interface ApiServer {
  /** Base URL, e.g. `http://127.0.0.1:8501`. */
  url: string;
  port: number;
  /** Drains (in-flight requests finish, new predictions get 503) and stops listening. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Serves `models` (loaded already, or file paths) until `shutdown()`. */
export async function serveApi(
  options: {
    models: Record<string, ModelEntry | string>;
    host?: string;
    port?: number;
    limits?: Omit<HandlerOptions, "models">;
    onListen?: (url: string) => void;
  },
): Promise<ApiServer> {
  const models: Record<string, ModelEntry> = {};
  for (const [name, m] of Object.entries(options.models)) {
    models[name] = typeof m === "string" ? await loadModel(m) : m;
  }
  const handler = createHandler({ models, ...options.limits });
  const hostname = options.host ?? "127.0.0.1";
  let resolveListen!: (port: number) => void;
  const listening = new Promise<number>((r) => (resolveListen = r));
  const server = Deno.serve({
    hostname,
    port: options.port ?? 8501,
    onListen: ({ port }) => resolveListen(port),
  }, handler);
  const port = await listening;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `http://${host}:${port}`;
  options.onListen?.(url);
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    finished: server.finished,
    shutdown: () =>
      stopping ??= (async () => {
        await handler.drain();
        await server.shutdown();
      })(),
  };
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let flags: ServeApiFlags;
  try {
    flags = parseServeApiArgs(args);
  } catch (e) {
    if (!(e instanceof ServeApiUsageError)) throw e;
    console.error(`serve:api: ${e.message}`);
    return 2;
  }
  let server: ApiServer;
  try {
    server = await serveApi({
      models: flags.models,
      host: flags.host,
      port: flags.port,
      limits: flags.limits,
      onListen: (url) => {
        for (const name of Object.keys(flags.models)) {
          console.log(`serving ${name} at ${url}/v1/models/${name}:predict`);
        }
      },
    });
  } catch (e) {
    console.error(`serve:api: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const stop = (signal: string) => {
    console.log(`serve:api: ${signal}: draining in-flight requests`);
    server.shutdown();
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const listeners = signals.map((s) => [s, () => stop(s)] as const);
  for (const [s, f] of listeners) Deno.addSignalListener(s, f);
  await server.finished;
  for (const [s, f] of listeners) Deno.removeSignalListener(s, f);
  console.log("serve:api: stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
