/**
 * `deno task serve:api --model NAME=PATH [--model …] [--preprocessing NAME=PATH] [--watch]
 *   [--threads N] [--host 127.0.0.1] [--port 8501] [--max-batch-size N] [--max-wait-ms N] [--fixed-wait] [--no-batching]
 *   [--max-queue N] [--max-body-bytes N] [--max-instances N] [--deadline-ms N]`
 *
 * Serves Keras model files (anything the importer's `loadModel` reads) over TF Serving's REST
 * predict API with the `@scratchnet/serving` handler on `Deno.serve`, bound to the loopback
 * address unless `--host` says otherwise. Image bodies are decoded with `@scratchnet/datasets`.
 * `--preprocessing NAME=PATH` gives model NAME a separately saved vectorizer (a Keras file holding
 * a TextVectorization, or its JSON). Hot reload: SIGHUP reloads every model file, `--watch`
 * reloads one when its file changes; the swap is atomic (in-flight requests finish on the old
 * model) and a file that fails to load (e.g. still being written) leaves the current model
 * serving. SIGINT / SIGTERM drain: readiness fails, new predictions get 503, in-flight requests
 * finish, then the process exits. `--threads N` runs each batched predict on N model replicas
 * (`Model.setPredictThreads`; a replica idle for a minute ends and is rebuilt on demand).
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
import { dirname, resolve } from "node:path";
import { type ColorMode, decodeImage, resizeImage } from "../packages/datasets/mod.ts";
import { loadModel } from "../packages/keras-importer/mod.ts";
import {
  createHandler,
  type HandlerOptions,
  type ImageDecoder,
  type ModelEntry,
  readPreprocessing,
} from "../packages/serving/mod.ts";

const USAGE = `usage: deno task serve:api --model NAME=PATH [--model NAME=PATH …]
  [--preprocessing NAME=PATH] [--watch] [--threads 1] [--host 127.0.0.1] [--port 8501]
  [--max-batch-size 32] [--max-wait-ms 2] [--fixed-wait] [--no-batching] [--max-queue 256]
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
  /** Separately saved vectorizers by model name. */
  preprocessing: Record<string, string>;
  /** Reload a model when its file changes. */
  watch: boolean;
  /** Predict replicas per model file (`Model.setPredictThreads`); 1: the calling thread only. */
  threads: number;
  host: string;
  port: number;
  limits: Omit<HandlerOptions, "models">;
}

/** The handler's numeric limits, by flag. */
type NumericLimit =
  | "maxBatchSize"
  | "maxWaitMs"
  | "maxQueue"
  | "maxBodyBytes"
  | "maxInstances"
  | "deadlineMs";

const LIMIT_FLAGS: Record<string, NumericLimit> = {
  "--max-batch-size": "maxBatchSize",
  "--max-wait-ms": "maxWaitMs",
  "--max-queue": "maxQueue",
  "--max-body-bytes": "maxBodyBytes",
  "--max-instances": "maxInstances",
  "--deadline-ms": "deadlineMs",
};

/** Parses the command line; throws {@link ServeApiUsageError} naming the bad flag. */
export function parseServeApiArgs(args: readonly string[]): ServeApiFlags {
  const flags: ServeApiFlags = {
    models: {},
    preprocessing: {},
    watch: false,
    threads: 1,
    host: "127.0.0.1",
    port: 8501,
    limits: {},
  };
  for (let i = 0; i < args.length; i++) {
    const eq = args[i].indexOf("=");
    const [flag, inline] = args[i].startsWith("--") && eq > 0
      ? [args[i].slice(0, eq), args[i].slice(eq + 1)]
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
    if (flag === "--model" || flag === "--preprocessing") {
      const into = flag === "--model" ? flags.models : flags.preprocessing;
      const spec = value();
      const at = spec.indexOf("=");
      const name = spec.slice(0, at);
      if (at <= 0 || at === spec.length - 1 || !/^[A-Za-z0-9_.-]+$/.test(name)) {
        throw new ServeApiUsageError(
          `${flag}: expected NAME=PATH with NAME of letters, digits, _ . -, received ${spec}`,
        );
      }
      if (name in into) throw new ServeApiUsageError(`${flag}: ${name} given twice`);
      into[name] = spec.slice(at + 1);
    } else if (flag === "--watch" && inline === undefined) flags.watch = true;
    else if (flag === "--no-batching" && inline === undefined) flags.limits.batching = false;
    else if (flag === "--fixed-wait" && inline === undefined) flags.limits.adaptiveWait = false;
    else if (flag === "--host") flags.host = value();
    else if (flag === "--threads") flags.threads = integer(1);
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
  const orphan = Object.keys(flags.preprocessing).find((n) => !(n in flags.models));
  if (orphan !== undefined) {
    throw new ServeApiUsageError(`--preprocessing ${orphan}: no --model named ${orphan}`);
  }
  return flags;
}

/** The outcome of reloading one model. */
export interface ReloadResult {
  name: string;
  ok: boolean;
  /** Why the reload failed (the current model keeps serving). */
  error?: string;
}

/** A running API server. */
export interface ApiServer {
  /** Base URL, e.g. `http://127.0.0.1:8501`. */
  url: string;
  port: number;
  /**
   * Reloads the named models (default: every model given as a file) from their files and swaps
   * each in atomically; a file that fails to load leaves the current model serving.
   */
  reload(names?: readonly string[]): Promise<ReloadResult[]>;
  /** Drains (in-flight requests finish, new predictions get 503) and stops listening. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Decodes image bodies with `@scratchnet/datasets`, as `deno task predict --images` reads files. */
export const datasetsImageDecoder: ImageDecoder = async (bytes, target) => {
  const colorMode: ColorMode = target.channels === 1
    ? "grayscale"
    : target.channels === 3
    ? "rgb"
    : "rgba";
  const image = await decodeImage(bytes, "request body", colorMode);
  return resizeImage(image, target.height, target.width);
};

/** A replica of a served model waits this long for requests before it ends (rebuilt on demand). */
const SERVING_REPLICA_IDLE_MS = 60_000;

async function loadEntry(
  path: string,
  preprocessing: string | undefined,
  threads: number,
): Promise<ModelEntry> {
  const loaded = await loadModel(path);
  if (threads > 1) loaded.model?.setPredictThreads(threads, { idleMs: SERVING_REPLICA_IDLE_MS });
  if (preprocessing === undefined) return loaded;
  return {
    ...loaded,
    preprocessing: await readPreprocessing(await Deno.readFile(preprocessing), preprocessing),
  };
}

/** Serves `models` (loaded already, or file paths) until `shutdown()`. */
export async function serveApi(
  options: {
    models: Record<string, ModelEntry | string>;
    /** Separately saved vectorizers (Keras file or JSON) for models given as paths. */
    preprocessing?: Record<string, string>;
    /** Reload a model given as a path when its file (or its vectorizer's) changes. */
    watch?: boolean;
    /** Predict threads of each model loaded from a path (default 1; see `--threads`). */
    threads?: number;
    host?: string;
    port?: number;
    limits?: Omit<HandlerOptions, "models">;
    onListen?: (url: string) => void;
    /** Where reload outcomes are reported (default: console). */
    log?: (line: string) => void;
  },
): Promise<ApiServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  const preprocessing = options.preprocessing ?? {};
  const threads = options.threads ?? 1;
  const paths: Record<string, string> = {};
  /** The models loaded from paths, as now served (their replicas end at shutdown). */
  const loaded = new Map<string, ModelEntry["model"]>();
  const models: Record<string, ModelEntry> = {};
  for (const [name, m] of Object.entries(options.models)) {
    if (typeof m === "string") {
      paths[name] = m;
      models[name] = await loadEntry(m, preprocessing[name], threads);
      loaded.set(name, models[name].model);
    } else models[name] = m;
  }
  const handler = createHandler({
    imageDecoder: datasetsImageDecoder,
    ...options.limits,
    models,
  });
  // One reload per model at a time; a request for another while one runs is done after it.
  const reloading = new Map<string, Promise<ReloadResult>>();
  const reloadOne = (name: string): Promise<ReloadResult> => {
    const previous = reloading.get(name) ?? Promise.resolve();
    const next = previous.then(async (): Promise<ReloadResult> => {
      let entry: ModelEntry;
      try {
        entry = await loadEntry(paths[name], preprocessing[name], threads);
        const old = handler.replaceModel(name, entry);
        loaded.set(name, entry.model);
        // Free the old model's engine memory once its last request has finished.
        old.then((m) => m?.dispose());
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        log(`serve:api: reload of ${name} failed, still serving the previous model: ${error}`);
        return { name, ok: false, error };
      }
      log(`serve:api: reloaded ${name} from ${paths[name]}`);
      return { name, ok: true };
    });
    reloading.set(name, next);
    return next;
  };
  const reload = (names: readonly string[] = Object.keys(paths)) => {
    const unknown = names.find((n) => !(n in paths));
    if (unknown !== undefined) {
      return Promise.resolve([{ name: unknown, ok: false, error: "not served from a file" }]);
    }
    return Promise.all(names.map(reloadOne));
  };
  const watcher = options.watch && Object.keys(paths).length > 0
    ? watchFiles(paths, preprocessing, reloadOne)
    : null;
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
    reload,
    finished: server.finished,
    shutdown: () =>
      stopping ??= (async () => {
        watcher?.close();
        await handler.drain();
        await server.shutdown();
        // End the replicas of the models this server loaded (an idle one would keep the
        // process alive for a minute).
        for (const model of loaded.values()) model?.setPredictThreads(1);
      })(),
  };
}

/**
 * Watches the folders of the model files (a file replaced by rename keeps being seen) and reloads
 * a model 200 ms after its files stop changing.
 */
function watchFiles(
  paths: Record<string, string>,
  preprocessing: Record<string, string>,
  reloadOne: (name: string) => Promise<ReloadResult>,
): { close(): void } {
  const owners = new Map<string, string>();
  for (const [name, path] of Object.entries(paths)) owners.set(resolve(path), name);
  for (const [name, path] of Object.entries(preprocessing)) owners.set(resolve(path), name);
  const dirs = [...new Set([...owners.keys()].map((p) => dirname(p)))];
  const watcher = Deno.watchFs(dirs, { recursive: false });
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  (async () => {
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        for (const path of event.paths) {
          const name = owners.get(resolve(path));
          if (name === undefined) continue;
          clearTimeout(timers.get(name));
          timers.set(
            name,
            setTimeout(() => {
              timers.delete(name);
              reloadOne(name);
            }, 200),
          );
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    close() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      try {
        watcher.close();
      } catch { /* already closed */ }
    },
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
  // Signals are handled from the start: the URL is printed before serveApi returns, and a signal
  // arriving in between must not take its default action (SIGHUP would end the process).
  let server: ApiServer | undefined;
  let stopSignal: string | undefined;
  const stop = (signal: string) => {
    console.log(`serve:api: ${signal}: draining in-flight requests`);
    if (server) server.shutdown();
    else stopSignal = signal;
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const listeners: [Deno.Signal, () => void][] = signals.map((s) => [s, () => stop(s)]);
  if (Deno.build.os !== "windows") {
    listeners.push(["SIGHUP", () => {
      console.log("serve:api: SIGHUP: reloading every model file");
      server?.reload();
    }]);
  }
  for (const [s, f] of listeners) Deno.addSignalListener(s, f);
  try {
    try {
      server = await serveApi({
        models: flags.models,
        preprocessing: flags.preprocessing,
        watch: flags.watch,
        threads: flags.threads,
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
    if (stopSignal !== undefined) server.shutdown();
    await server.finished;
  } finally {
    for (const [s, f] of listeners) Deno.removeSignalListener(s, f);
  }
  console.log("serve:api: stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
