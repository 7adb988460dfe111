/**
 * The web-standard request handler every host uses: TF Serving's REST predict API (row format),
 * model signatures, health, readiness and Prometheus metrics, with dynamic batching and limits.
 */
import { type Model, Tensor } from "../engine/mod.ts";
import { InputShapeError } from "../engine/mod.ts";
import type { PreprocessingLayer } from "../keras-importer/mod.ts";
import { TextVectorization } from "../tokenizer/mod.ts";
import { Batcher, type BatchOutput, type BatchPart } from "./batcher.ts";
import { type ErrorKind, ServingConfigError, ServingError } from "./errors.ts";
import { Metrics } from "./metrics.ts";
import { decodeNpyBody, type NpyBody } from "./npy_body.ts";
import {
  decodeImageBody,
  IMAGE_TYPES,
  type ImageDecoder,
  type ImageTarget,
  imageTargetOf,
  type PixelRange,
  pixelRangeOf,
} from "./image_body.ts";

/** Dtype of a model input as the service accepts it. */
export type InputDType = "float32" | "int32";

/** A model to serve. `loadModel`'s result fits as it is. */
export interface ModelEntry {
  /** The engine model (`null` is refused: a file with preprocessing only has nothing to run). */
  model: Model | null;
  /** Preprocessing taken out of the file: a TextVectorization makes the model accept strings. */
  preprocessing?: readonly PreprocessingLayer[];
  /** The spec the model was built from; its InputLayer dtypes decide int32 vs float32 inputs. */
  spec?: { config: unknown };
  /** Class names reported by the signature endpoint, when known. */
  classNames?: readonly string[];
  /** Dtype per input, overriding what the spec says (default float32). */
  inputDtypes?: readonly InputDType[];
  /**
   * Pixel range of image bodies: bytes / 255 (`0-1`) or as they are (`0-255`). Default: `0-255`
   * when the spec has a Rescaling layer, else `0-1` (as `deno task predict --images`).
   */
  pixels?: PixelRange;
}

/** Options of {@link createHandler}. */
export interface HandlerOptions {
  /** Models by name, as addressed in `/v1/models/<name>`. */
  models: Record<string, ModelEntry>;
  /** Most instances per engine batch (default 32). */
  maxBatchSize?: number;
  /** Longest a request waits for others to share its batch, ms (default 2; 0 disables waiting). */
  maxWaitMs?: number;
  /** Most requests waiting per model before 429 (default 256). */
  maxQueue?: number;
  /** Largest request body in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Most instances in one request (default 256). */
  maxInstances?: number;
  /** Time a request may take from arrival to answer, ms (default 30000). */
  deadlineMs?: number;
  /**
   * Dynamic batching (default true). `false` runs each request's instances as one engine call
   * inside the request: for hosts where one request cannot wake another (workerd isolates give
   * each request its own I/O context; a promise settled from another request's timer never
   * resumes it).
   */
  batching?: boolean;
  /** Decodes image bodies (JPEG/PNG…); without one, image bodies get 415. */
  imageDecoder?: ImageDecoder;
  /**
   * Adaptive wait (default true): queued requests run at once when no other request for the
   * model is still being read, instead of waiting `maxWaitMs` for companions that are not coming
   * (a lone client pays no batching delay). `false` always waits `maxWaitMs`.
   */
  adaptiveWait?: boolean;
}

/** The handler: `fetch`-style, plus `drain()` for graceful shutdown. */
export interface ServingHandler {
  (req: Request): Promise<Response>;
  /** Stops accepting predictions (503, `/readyz` fails) and resolves when none is in flight. */
  drain(): Promise<void>;
  /** The metrics registry behind `/metrics`. */
  readonly metrics: Metrics;
  /**
   * Atomically serves `entry` under `name` (replacing or adding it). Requests that already chose
   * the old model finish on it; every later request uses the new one, so each answer comes wholly
   * from one of the two. Throws {@link ServingConfigError} (the old model stays) when `entry`
   * cannot be served. Resolves with the old model once no request uses it any more (the caller
   * may then dispose it), or null when `name` was new.
   */
  replaceModel(name: string, entry: ModelEntry): Promise<Model | null>;
}

interface InputSig {
  name: string;
  shape: (number | null)[];
  dtype: InputDType;
}

interface Served {
  name: string;
  model: Model;
  inputs: InputSig[];
  outputs: { name: string; shape: (number | null)[] }[];
  vectorizer: TextVectorization | null;
  classNames: readonly string[] | null;
  batcher: Batcher;
  /** Runs one engine call (what the batcher calls; also called directly without batching). */
  run: (parts: BatchPart[], n: number) => BatchOutput[];
  /** The image an image body is decoded to, when the model takes one image input. */
  imageTarget: ImageTarget | null;
  pixels: PixelRange;
  /** Predict requests using this model now (from routing to answer). */
  users: number;
  /** Called once `users` falls to 0 (a replaced model waits for this to be released). */
  whenUnused: (() => void)[];
}

const DEFAULTS = {
  maxBatchSize: 32,
  maxWaitMs: 2,
  maxQueue: 256,
  maxBodyBytes: 4 * 1024 * 1024,
  maxInstances: 256,
  deadlineMs: 30_000,
};

function positiveInt(
  option: string,
  value: number | undefined,
  fallback: number,
  min = 1,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ServingConfigError(option, `an integer ≥ ${min}`, value);
  }
  return value;
}

/** Builds the request handler for `options.models`. */
export function createHandler(options: HandlerOptions): ServingHandler {
  if (
    typeof options !== "object" || options === null ||
    typeof options.models !== "object"
  ) {
    throw new ServingConfigError(
      "models",
      "an object of models by name",
      options,
    );
  }
  const maxBatchSize = positiveInt(
    "maxBatchSize",
    options.maxBatchSize,
    DEFAULTS.maxBatchSize,
  );
  const maxWaitMs = positiveInt(
    "maxWaitMs",
    options.maxWaitMs,
    DEFAULTS.maxWaitMs,
    0,
  );
  const maxQueue = positiveInt("maxQueue", options.maxQueue, DEFAULTS.maxQueue);
  const maxBodyBytes = positiveInt(
    "maxBodyBytes",
    options.maxBodyBytes,
    DEFAULTS.maxBodyBytes,
  );
  const maxInstances = positiveInt(
    "maxInstances",
    options.maxInstances,
    DEFAULTS.maxInstances,
  );
  const deadlineMs = positiveInt(
    "deadlineMs",
    options.deadlineMs,
    DEFAULTS.deadlineMs,
  );
  const batching = options.batching ?? true;
  const adaptiveWait = options.adaptiveWait ?? true;
  const imageDecoder = options.imageDecoder;
  const metrics = new Metrics();
  const served = new Map<string, Served>();
  for (const [name, entry] of Object.entries(options.models)) {
    served.set(
      name,
      prepare(name, entry, { maxBatchSize, maxWaitMs, maxQueue, adaptiveWait }, metrics),
    );
  }
  let draining = false;
  let inFlight = 0;
  let idle: (() => void)[] = [];

  const handle = async (req: Request): Promise<Response> => {
    const started = performance.now();
    let modelLabel = "";
    inFlight++;
    let response: Response;
    try {
      const route = routeOf(req);
      // Only served names become labels: a client cannot grow the metrics with made-up names.
      modelLabel = route.model !== undefined && served.has(route.model) ? route.model : "";
      response = await dispatch(route, req);
    } catch (e) {
      const err = e instanceof ServingError ? e : new ServingError(
        500,
        "internal",
        null,
        "internal error while answering the request",
      );
      if (!(e instanceof ServingError)) {
        console.error("serving: internal error:", e);
      }
      metrics.error(err.kind);
      response = json(err.toBody(), err.status, err.headers);
    } finally {
      inFlight--;
    }
    metrics.request(
      modelLabel,
      response.status,
      (performance.now() - started) / 1000,
    );
    if (inFlight === 0) {
      const waiting = idle;
      idle = [];
      for (const w of waiting) w();
    }
    return response;
  };

  async function dispatch(route: Route, req: Request): Promise<Response> {
    switch (route.kind) {
      case "healthz":
        onlyGet(req);
        return json({ status: "ok" });
      case "readyz":
        onlyGet(req);
        return draining
          ? json({ status: "draining" }, 503)
          : json({ status: "ready", models: [...served.keys()] });
      case "metrics":
        onlyGet(req);
        return new Response(metrics.render(), {
          headers: {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
          },
        });
      case "models":
        onlyGet(req);
        return json({ models: [...served.values()].map(signature) });
      case "signature":
        onlyGet(req);
        return json(signature(find(route.model!)));
      case "predict": {
        if (req.method !== "POST") {
          throw new ServingError(
            405,
            "method_not_allowed",
            "method",
            `${route.model}:predict takes POST, not ${req.method}`,
            { Allow: "POST" },
          );
        }
        const s = find(route.model!);
        if (draining) {
          throw new ServingError(
            503,
            "unavailable",
            null,
            "the server is shutting down",
            { "Retry-After": "1" },
          );
        }
        s.users++;
        try {
          return await predict(s, req);
        } finally {
          if (--s.users === 0) { for (const f of s.whenUnused.splice(0)) f(); }
        }
      }
    }
  }

  function find(name: string): Served {
    const s = served.get(name);
    if (!s) {
      throw new ServingError(
        404,
        "not_found",
        "path",
        `no model named "${name}" (served: ${[...served.keys()].join(", ")})`,
      );
    }
    return s;
  }

  async function predict(s: Served, req: Request): Promise<Response> {
    const type = (req.headers.get("content-type") ?? "application/json").split(";")[0].trim()
      .toLowerCase();
    const kind = JSON_TYPES.includes(type)
      ? "json"
      : type === NPY_TYPE
      ? "npy"
      : IMAGE_TYPES.includes(type)
      ? "image"
      : null;
    if (kind === null) {
      throw new ServingError(
        415,
        "unsupported_media_type",
        "content-type",
        `expected application/json, ${NPY_TYPE} or an image (${IMAGE_TYPES.join(", ")}), ` +
          `received ${type}`,
      );
    }
    const started = performance.now();
    const bytes = await readBody(req, maxBodyBytes, deadlineMs);
    let request: DecodedRequest;
    if (kind === "json") request = decodeJson(s, bytes);
    else if (kind === "npy") request = decodeNpy(s, decodeNpyBody(bytes));
    else request = await decodeImage(s, bytes);
    const left = Math.max(1, deadlineMs - (performance.now() - started));
    const outputs = batching
      ? await s.batcher.submit(request.parts, request.n, left)
      : runAlone(s, request);
    if (request.columnar) return json({ outputs: toColumns(s, outputs, request.n) });
    return json({ predictions: toPredictions(s, outputs, request.n) });
  }

  function decodeJson(s: Served, bytes: Uint8Array): DecodedRequest {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      fail("invalid_json", "body", "expected UTF-8 JSON, received invalid UTF-8");
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      fail("invalid_json", "body", `expected a JSON object: ${(e as Error).message}`);
    }
    if (!isPlainObject(body)) {
      fail(
        "invalid_body",
        "body",
        `expected a JSON object {"instances": [...]} or {"inputs": ...}, received ${
          describe(body)
        }`,
      );
    }
    if ("instances" in body && "inputs" in body) {
      fail(
        "invalid_body",
        "body",
        'expected either "instances" (row format) or "inputs" (columnar format), not both',
      );
    }
    if ("inputs" in body) {
      const { columns, n } = columnsOf(s, body.inputs);
      checkCount(n, "inputs");
      return { parts: decodeColumns(s, columns), n, columnar: true };
    }
    const instances = body.instances;
    if (instances === undefined) {
      fail(
        "invalid_body",
        "instances",
        'expected a field "instances" holding an array (or "inputs", the columnar format)',
      );
    }
    if (!Array.isArray(instances) || instances.length === 0) {
      fail(
        "invalid_body",
        "instances",
        `expected a non-empty array, received ${describe(instances)}`,
      );
    }
    checkCount(instances.length, "instances");
    return { parts: decodeInstances(s, instances), n: instances.length, columnar: false };
  }

  function checkCount(n: number, field: string): void {
    if (n > maxInstances) {
      throw new ServingError(
        413,
        "too_many_instances",
        field,
        `expected at most ${maxInstances} instances, received ${n}`,
      );
    }
  }

  function decodeNpy(s: Served, body: NpyBody): DecodedRequest {
    if (s.inputs.length !== 1) {
      fail(
        "invalid_body",
        "content-type",
        `model ${s.name} has ${s.inputs.length} inputs (${
          s.inputs.map((i) => i.name).join(", ")
        }): send JSON objects keyed by input name`,
      );
    }
    const sig = s.inputs[0];
    const one = body.shape.slice(1);
    if (
      body.shape.length !== sig.shape.length + 1 ||
      sig.shape.some((d, j) => d !== null && d !== one[j]) || body.shape.includes(0)
    ) {
      fail(
        "shape",
        "body",
        `expected an array of shape (n, ${shapeText(sig.shape)}) for input ${sig.name}, ` +
          `received (${body.shape.join(", ")})`,
      );
    }
    const n = body.shape[0];
    checkCount(n, "body");
    const per = one.reduce((a, b) => a * b, 1);
    const at = (i: number) => `body[${Math.floor(i / per)}]` + (per > 1 ? `[flat ${i % per}]` : "");
    let data: Float32Array | Int32Array;
    if (sig.dtype === "int32") {
      if (body.dtype !== "int32" && body.dtype !== "uint8") {
        fail(
          "dtype",
          "body",
          `expected int32 or uint8 values (input ${sig.name} is int32), received ${body.dtype}`,
        );
      }
      data = body.data instanceof Int32Array ? body.data : Int32Array.from(body.data);
    } else if (body.data instanceof Float32Array || body.data instanceof Float64Array) {
      data = body.data instanceof Float32Array ? body.data : Float32Array.from(body.data);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) {
          fail(
            "non_finite",
            at(i),
            `expected a finite float32 number (|x| < 3.4e38), received ${body.data[i]}`,
          );
        }
      }
    } else data = Float32Array.from(body.data);
    return { parts: [{ data, shape: one }], n, columnar: false };
  }

  async function decodeImage(s: Served, bytes: Uint8Array): Promise<DecodedRequest> {
    if (s.inputs.length !== 1 || s.imageTarget === null) {
      fail(
        "invalid_body",
        "content-type",
        `model ${s.name} does not take images (inputs ${
          s.inputs.map((i) => `${i.name} [${shapeText(i.shape)}]`).join(", ")
        }); an image body needs one input shaped [height, width, 1|3|4]`,
      );
    }
    if (!imageDecoder) {
      throw new ServingError(
        415,
        "unsupported_media_type",
        "content-type",
        "this host decodes no images: send JSON or .npy pixels",
      );
    }
    const t = s.imageTarget;
    const data = await decodeImageBody(imageDecoder, bytes, t, s.pixels);
    return { parts: [{ data, shape: [t.height, t.width, t.channels] }], n: 1, columnar: false };
  }

  const handler = handle as ServingHandler;
  Object.defineProperty(handler, "metrics", { value: metrics });
  handler.replaceModel = (name: string, entry: ModelEntry) => {
    const next = prepare(name, entry, { maxBatchSize, maxWaitMs, maxQueue, adaptiveWait }, metrics);
    const old = served.get(name);
    // One Map write: a request either found the old entry already (and finishes on it) or
    // finds the new one.
    served.set(name, next);
    if (!old) return Promise.resolve(null);
    if (old.users === 0) return Promise.resolve(old.model);
    return new Promise((resolve) => old.whenUnused.push(() => resolve(old.model)));
  };
  handler.drain = () => {
    draining = true;
    // Requests on replaced models are in flight too: inFlight covers them.
    const busy = () => inFlight > 0 || [...served.values()].some((s) => s.batcher.pending > 0);
    if (!busy()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = () => (busy() ? idle.push(check) : resolve());
      idle.push(check);
    });
  };
  return handler;
}

/**
 * Content types read as JSON: `application/json`, and what `fetch` with a string body
 * (`text/plain`) and `curl -d` (`application/x-www-form-urlencoded`) send, as TF Serving does.
 */
const JSON_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"];

/** Content type of `.npy` bodies. */
const NPY_TYPE = "application/x-npy";

/** A request body turned into engine inputs. */
interface DecodedRequest {
  parts: BatchPart[];
  n: number;
  /** Whether the body used the columnar `inputs` format (the answer then uses `outputs`). */
  columnar: boolean;
}

/** One engine call for one request (no batching), with the batcher's error handling. */
function runAlone(s: Served, request: DecodedRequest): BatchOutput[] {
  return s.run(request.parts, request.n);
}

type Route =
  | { kind: "healthz" | "readyz" | "metrics" | "models"; model?: undefined }
  | { kind: "signature" | "predict"; model: string };

function routeOf(req: Request): Route {
  const path = new URL(req.url).pathname;
  if (path === "/healthz") return { kind: "healthz" };
  if (path === "/readyz") return { kind: "readyz" };
  if (path === "/metrics") return { kind: "metrics" };
  if (path === "/v1/models" || path === "/v1/models/") {
    return { kind: "models" };
  }
  const m = /^\/v1\/models\/([^/:]+)(:predict|\/metadata)?$/.exec(path);
  if (m) {
    let model: string;
    try {
      model = decodeURIComponent(m[1]);
    } catch {
      throw new ServingError(404, "not_found", "path", `no route for ${path}`);
    }
    return { kind: m[2] === ":predict" ? "predict" : "signature", model };
  }
  throw new ServingError(
    404,
    "not_found",
    "path",
    `no route for ${path} (try /v1/models/<name>:predict)`,
  );
}

function onlyGet(req: Request): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new ServingError(
      405,
      "method_not_allowed",
      "method",
      `expected GET, received ${req.method}`,
      { Allow: "GET" },
    );
  }
}

function json(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Reads the body's bytes, refusing (413) more than `limit` bytes before reading them all. */
async function readBody(req: Request, limit: number, deadlineMs: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw new ServingError(
      413,
      "payload_too_large",
      "body",
      `expected at most ${limit} bytes, the request declares ${declared}`,
    );
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  // A client that sends its body too slowly is cut off at the deadline (408).
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expired = false;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(
        new ServingError(
          408,
          "deadline_exceeded",
          "body",
          `expected the whole body within the request deadline of ${deadlineMs} ms`,
        ),
      );
      reader.cancel().catch(() => {});
    }, deadlineMs);
  });
  late.catch(() => {});
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), late]);
      if (expired) await late;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new ServingError(
          413,
          "payload_too_large",
          "body",
          `expected at most ${limit} bytes, received more`,
        );
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof ServingError) throw e;
    throw new ServingError(
      400,
      "invalid_body",
      "body",
      `the body could not be read: ${(e as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "string") return `a string`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

function fail(kind: ErrorKind, field: string, message: string): never {
  throw new ServingError(400, kind, field, message);
}

/** A value of one input for one instance, and the request field it came from. */
type FieldValue = { value: unknown; field: string };

/** The per-input parts of a request's instances, validated against the model's signature. */
function decodeInstances(s: Served, instances: unknown[]): BatchPart[] {
  const multi = s.inputs.length > 1;
  return decodeColumns(
    s,
    s.inputs.map((sig) =>
      instances.map((inst, k) => {
        const field = `instances[${k}]`;
        if (multi || isPlainObject(inst)) {
          if (!isPlainObject(inst)) {
            fail(
              "invalid_body",
              field,
              `expected an object keyed by input name (${
                s.inputs.map((x) => x.name).join(", ")
              }), received ${describe(inst)}`,
            );
          }
          const known = new Set(s.inputs.map((x) => x.name));
          const extra = Object.keys(inst).find((key) => !known.has(key));
          if (extra !== undefined) {
            fail(
              "invalid_body",
              `${field}.${extra}`,
              `unknown input "${extra}"; expected ${[...known].join(", ")}`,
            );
          }
          if (!(sig.name in inst)) {
            fail(
              "invalid_body",
              `${field}.${sig.name}`,
              `missing input "${sig.name}"`,
            );
          }
          return { value: inst[sig.name], field: `${field}.${sig.name}` };
        }
        return { value: inst, field };
      })
    ),
  );
}

/** Validates each input's values (one per instance) into its batch part. */
function decodeColumns(s: Served, columns: FieldValue[][]): BatchPart[] {
  return s.inputs.map((sig, i) => {
    const values = columns[i];
    if (i === 0 && s.vectorizer && values.some((v) => typeof v.value === "string")) {
      return vectorize(s, sig, values);
    }
    return numericPart(sig, values);
  });
}

/**
 * TF Serving's columnar format: `"inputs"` is the batch of the only input (a list), or an object
 * of batches by input name, all of the same length. Returns one column per model input.
 */
function columnsOf(s: Served, inputs: unknown): { columns: FieldValue[][]; n: number } {
  const names = s.inputs.map((x) => x.name);
  const batchOf = (v: unknown, field: string): FieldValue[] => {
    if (!Array.isArray(v) || v.length === 0) {
      fail(
        "invalid_body",
        field,
        `expected a non-empty list (one entry per instance), received ${describe(v)}`,
      );
    }
    return v.map((value, k) => ({ value, field: `${field}[${k}]` }));
  };
  let columns: FieldValue[][];
  if (isPlainObject(inputs)) {
    const extra = Object.keys(inputs).find((key) => !names.includes(key));
    if (extra !== undefined) {
      fail(
        "invalid_body",
        `inputs.${extra}`,
        `unknown input "${extra}"; expected ${names.join(", ")}`,
      );
    }
    const missing = names.find((name) => !(name in inputs));
    if (missing !== undefined) {
      fail("invalid_body", `inputs.${missing}`, `missing input "${missing}"`);
    }
    columns = names.map((name) => batchOf(inputs[name], `inputs.${name}`));
  } else if (names.length === 1) {
    columns = [batchOf(inputs, "inputs")];
  } else {
    fail(
      "invalid_body",
      "inputs",
      `expected an object of batches keyed by input name (${names.join(", ")}), received ${
        describe(inputs)
      }`,
    );
  }
  const n = columns[0].length;
  columns.forEach((c, i) => {
    if (c.length !== n) {
      fail(
        "shape",
        `inputs.${names[i]}`,
        `expected ${n} instances like inputs.${names[0]}, received ${c.length}`,
      );
    }
  });
  return { columns, n };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function vectorize(s: Served, sig: InputSig, values: FieldValue[]): BatchPart {
  const bad = values.find((v) => typeof v.value !== "string");
  if (bad) {
    fail(
      "dtype",
      bad.field,
      `expected a string like the other instances, received ${describe(bad.value)}`,
    );
  }
  let vectorized: { data: Int32Array | Float32Array; shape: number[] };
  try {
    vectorized = s.vectorizer!.call(values.map((v) => v.value as string));
  } catch (e) {
    fail(
      "invalid_body",
      "instances",
      `the model's TextVectorization refused the texts: ${(e as Error).message}`,
    );
  }
  const { data, shape } = vectorized;
  const one = shape.slice(1);
  if (
    one.length !== sig.shape.length ||
    sig.shape.some((d, j) => d !== null && d !== one[j])
  ) {
    throw new ServingError(
      500,
      "internal",
      null,
      `the model's TextVectorization gives [${one}] per text, the input ${sig.name} takes [${sig.shape}]`,
    );
  }
  const typed = sig.dtype === "int32" && data instanceof Float32Array
    ? Int32Array.from(data)
    : data;
  return { data: typed, shape: one };
}

/** Flattens nested arrays of numbers of the input's shape, checking every value. */
function numericPart(sig: InputSig, values: FieldValue[]): BatchPart {
  let shape: number[] | null = null;
  const out: number[] = [];
  for (const { value, field } of values) {
    const own = inferShape(sig, value, field);
    if (shape === null) shape = own;
    else if (own.join() !== shape.join()) {
      fail(
        "shape",
        field,
        `expected the shape [${shape}] of the first instance, received [${own}]`,
      );
    }
    flatten(value, own, 0, field, [], sig, out);
  }
  const data = sig.dtype === "int32" ? Int32Array.from(out) : Float32Array.from(out);
  return { data, shape: shape! };
}

function inferShape(sig: InputSig, value: unknown, field: string): number[] {
  const shape: number[] = [];
  let v = value;
  let path = field;
  for (let d = 0; d < sig.shape.length; d++) {
    if (!Array.isArray(v)) {
      fail(
        "shape",
        path,
        `expected an array for axis ${d + 1} of input ${sig.name} (shape [${
          shapeText(sig.shape)
        }] per instance), received ${describe(v)}`,
      );
    }
    const want = sig.shape[d];
    if (want !== null && v.length !== want) {
      fail(
        "shape",
        path,
        `expected ${want} values on axis ${d + 1} of input ${sig.name} (shape [${
          shapeText(sig.shape)
        }] per instance), received ${v.length}`,
      );
    }
    if (v.length === 0) {
      fail("shape", path, `expected a non-empty array on axis ${d + 1}`);
    }
    shape.push(v.length);
    v = v[0];
    path += "[0]";
  }
  return shape;
}

function flatten(
  v: unknown,
  shape: number[],
  d: number,
  base: string,
  path: number[],
  sig: InputSig,
  out: number[],
): void {
  // The field is spelt out only for an error: building it per value costs more than the checks.
  const field = () => base + path.map((j) => `[${j}]`).join("");
  if (d === shape.length) {
    if (typeof v !== "number") {
      fail(
        "dtype",
        field(),
        `expected a number (input ${sig.name} is ${sig.dtype}), received ${describe(v)}`,
      );
    }
    if (!Number.isFinite(v) || (sig.dtype === "float32" && !Number.isFinite(Math.fround(v)))) {
      fail("non_finite", field(), `expected a finite float32 number (|x| < 3.4e38), received ${v}`);
    }
    if (
      sig.dtype === "int32" &&
      (!Number.isInteger(v) || v < -2147483648 || v > 2147483647)
    ) {
      fail(
        "dtype",
        field(),
        `expected an integer (input ${sig.name} is int32), received ${v}`,
      );
    }
    out.push(v);
    return;
  }
  if (!Array.isArray(v)) {
    fail(
      "shape",
      field(),
      `expected an array of ${shape[d]}, received ${describe(v)}`,
    );
  }
  if (v.length !== shape[d]) {
    fail("shape", field(), `expected ${shape[d]} values, received ${v.length}`);
  }
  for (let j = 0; j < v.length; j++) {
    path.push(j);
    flatten(v[j], shape, d + 1, base, path, sig, out);
    path.pop();
  }
}

function shapeText(shape: (number | null)[]): string {
  return shape.map((d) => (d === null ? "None" : d)).join(", ");
}

function toPredictions(
  s: Served,
  outputs: BatchOutput[],
  n: number,
): unknown[] {
  const rows = outputs.map((o) => {
    const per = o.shape.reduce((a, b) => a * b, 1);
    return Array.from(
      { length: n },
      (_, k) => nest(o.data, k * per, o.shape, 0),
    );
  });
  if (s.outputs.length === 1) return rows[0];
  return Array.from(
    { length: n },
    (_, k) => Object.fromEntries(s.outputs.map((o, j) => [o.name, rows[j][k]])),
  );
}

function nest(
  data: ArrayLike<number>,
  offset: number,
  shape: number[],
  d: number,
): unknown {
  if (d === shape.length) return data[offset];
  const stride = shape.slice(d + 1).reduce((a, b) => a * b, 1);
  return Array.from(
    { length: shape[d] },
    (_, j) => nest(data, offset + j * stride, shape, d + 1),
  );
}

/** Columnar answer: each output's batch, keyed by output name when there are several. */
function toColumns(s: Served, outputs: BatchOutput[], n: number): unknown {
  const batches = outputs.map((o) => {
    const per = o.shape.reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, k) => nest(o.data, k * per, o.shape, 0));
  });
  if (s.outputs.length === 1) return batches[0];
  return Object.fromEntries(s.outputs.map((o, j) => [o.name, batches[j]]));
}

function signature(s: Served): Record<string, unknown> {
  return {
    name: s.name,
    inputs: s.inputs.map((i) => ({
      name: i.name,
      shape: [null, ...i.shape],
      dtype: i.dtype,
    })),
    outputs: s.outputs.map((o) => ({
      name: o.name,
      shape: [null, ...o.shape],
      dtype: "float32",
    })),
    classNames: s.classNames,
    image: s.imageTarget ? { ...s.imageTarget, pixels: s.pixels } : null,
    preprocessing: s.vectorizer
      ? {
        className: "TextVectorization",
        input: s.inputs[0].name,
        accepts: "string",
      }
      : null,
  };
}

function prepare(
  name: string,
  entry: ModelEntry,
  limits: { maxBatchSize: number; maxWaitMs: number; maxQueue: number; adaptiveWait: boolean },
  metrics: Metrics,
): Served {
  if (
    !entry || typeof entry !== "object" || entry.model === null ||
    entry.model === undefined
  ) {
    throw new ServingConfigError(
      `models.${name}.model`,
      "an engine model",
      entry?.model ?? entry,
    );
  }
  const model = entry.model;
  const tv = (entry.preprocessing ?? []).find((p) => p.className === "TextVectorization");
  const vectorizer = tv ? TextVectorization.fromConfig(tv.config, tv.vocabulary) : null;
  if (vectorizer && model.inputNames.length === 1) {
    // Refuse at startup a vectorizer whose output the model cannot take.
    const one = vectorizer.call(["probe"]).shape.slice(1);
    const want = model.inputShapes[0];
    if (one.length !== want.length || want.some((d, j) => d !== null && d !== one[j])) {
      throw new ServingConfigError(
        `models.${name}.preprocessing`,
        `a TextVectorization giving [${shapeText(want)}] per text (the model's input)`,
        `one giving [${one}]`,
      );
    }
  }
  const fromSpec = specDtypes(entry.spec?.config, model.inputNames);
  const inputs: InputSig[] = model.inputNames.map((n, i) => ({
    name: n,
    shape: [...model.inputShapes[i]],
    dtype: entry.inputDtypes?.[i] ??
      (i === 0 && vectorizer ? "int32" : fromSpec[i]),
  }));
  const outputs = model.outputNames.map((n, i) => ({
    name: n,
    shape: [...model.outputShapes[i]],
  }));
  const run = (parts: BatchPart[], n: number): BatchOutput[] => {
    const xs = parts.map((p) => new Tensor(p.data, [n, ...p.shape]));
    let ys: Tensor[];
    try {
      ys = model.predictMany(xs);
    } catch (e) {
      if (e instanceof InputShapeError) {
        throw new ServingError(
          400,
          "shape",
          "instances",
          `the model refused the input: ${e.message}`,
        );
      }
      throw e;
    }
    return ys.map((y) => ({ data: y.data, shape: y.shape.slice(1) }));
  };
  // Requests in predict (reading, queued or running) beyond the batcher's are still coming.
  let users = () => 0;
  const { adaptiveWait, ...batchLimits } = limits;
  const batcher: Batcher = new Batcher(run, {
    ...batchLimits,
    onBatch: (size) => metrics.batch(name, size),
    othersComing: adaptiveWait ? (): boolean => users() > batcher.pending : undefined,
  });
  metrics.queueDepth(name, () => batcher.depth);
  const imageTarget = inputs.length === 1 && inputs[0].dtype === "float32"
    ? imageTargetOf(inputs[0].shape)
    : null;
  const served: Served = {
    name,
    model,
    inputs,
    outputs,
    vectorizer,
    classNames: entry.classNames ?? null,
    batcher,
    run: (parts, n) => {
      const out = run(parts, n);
      metrics.batch(name, n);
      return out;
    },
    imageTarget,
    pixels: entry.pixels ?? pixelRangeOf(entry.spec?.config),
    users: 0,
    whenUnused: [],
  };
  users = () => served.users;
  return served;
}

/** int32 for InputLayers declared int32 in the Keras config, float32 otherwise. */
function specDtypes(config: unknown, names: string[]): InputDType[] {
  const found = new Map<string, string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isPlainObject(node)) return;
    if (node.class_name === "InputLayer" && isPlainObject(node.config)) {
      const c = node.config;
      const dtype = typeof c.dtype === "string"
        ? c.dtype
        : isPlainObject(c.dtype) && isPlainObject(c.dtype.config)
        ? String(c.dtype.config.name)
        : "float32";
      if (typeof c.name === "string") found.set(c.name, dtype);
    }
    for (const v of Object.values(node)) visit(v);
  };
  visit(config);
  return names.map((
    n,
  ) => (/^u?int/.test(found.get(n) ?? "") ? "int32" : "float32"));
}
