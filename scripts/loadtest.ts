/**
 * `deno task loadtest --model NAME=PATH [--preprocessing NAME=PATH] [--seconds 5]
 *   [--concurrency 1,8,64] [--target deno|workerd] [--faults] [--json FILE]`
 *
 * A bounded load test against a loopback server started for it in its own process: for each
 * concurrency C, C clients (Deno `fetch`, kept-alive) send one-instance predict requests for
 * `--seconds`, with dynamic batching on and off (`serve:api` vs `serve:api --no-batching`; workerd
 * always runs requests alone). Reports requests/s, p50/p95/p99 latency and errors, beside the
 * engine's own offline throughput at batch 1, 8 and 32 (what HTTP costs).
 *
 * `--faults` runs the fault run instead (`loadtest/faults.ts`): well-formed requests checked
 * answer by answer while malformed, oversize, slow and disconnecting clients misbehave and the
 * model file is replaced mid-load; it exits 1 if any well-formed request was lost or answered
 * wrongly, any answer was a 5xx, or the server died.
 *
 * @module
 */
import { join } from "node:path";
import { Tensor } from "../packages/engine/mod.ts";
import { loadModel } from "../packages/keras-importer/mod.ts";
import { createHandler } from "../packages/serving/mod.ts";
import { bundleWorker } from "./bundle_worker.ts";
import { type LoadResult, runLoad } from "./loadtest/client.ts";
import { type FaultReport, runFaults } from "./loadtest/faults.ts";
import { type ServerUnderTest, startServeApi, startWorkerdBundle } from "./loadtest/server.ts";

const USAGE = `usage: deno task loadtest --model NAME=PATH [--preprocessing NAME=PATH]
  [--seconds 5] [--concurrency 1,8,64] [--target deno|workerd] [--faults] [--json FILE]`;

/** A command line the load test refuses. */
export class LoadtestUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LoadtestUsageError";
  }
}

/** Parsed flags. */
export interface LoadtestFlags {
  name: string;
  path: string;
  preprocessing?: string;
  seconds: number;
  concurrency: number[];
  target: "deno" | "workerd";
  faults: boolean;
  json?: string;
}

/** Longest run allowed per configuration: the test is bounded. */
export const MAX_SECONDS = 120;

/** Parses the command line; throws {@link LoadtestUsageError} naming the bad flag. */
export function parseLoadtestArgs(args: readonly string[]): LoadtestFlags {
  let model: string | undefined;
  const flags: Partial<LoadtestFlags> & { concurrency: number[] } = {
    seconds: 5,
    concurrency: [1, 8, 64],
    target: "deno",
    faults: false,
  };
  for (let i = 0; i < args.length; i++) {
    const eq = args[i].indexOf("=");
    const [flag, inline] = args[i].startsWith("--") && eq > 0
      ? [args[i].slice(0, eq), args[i].slice(eq + 1)]
      : [args[i], undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new LoadtestUsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === "--model") {
      if (model !== undefined) throw new LoadtestUsageError("--model: one model per run");
      model = value();
    } else if (flag === "--preprocessing") {
      const spec = value();
      flags.preprocessing = spec.includes("=") ? spec.slice(spec.indexOf("=") + 1) : spec;
    } else if (flag === "--seconds") {
      const v = value();
      const n = Number(v);
      if (!(n > 0 && n <= MAX_SECONDS)) {
        throw new LoadtestUsageError(
          `--seconds: expected a number in (0, ${MAX_SECONDS}], received ${v}`,
        );
      }
      flags.seconds = n;
    } else if (flag === "--concurrency") {
      const v = value();
      const list = v.split(",").map(Number);
      if (list.length === 0 || list.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) {
        throw new LoadtestUsageError(
          `--concurrency: expected integers 1–1024 like 1,8,64, received ${v}`,
        );
      }
      flags.concurrency = list;
    } else if (flag === "--target") {
      const v = value();
      if (v !== "deno" && v !== "workerd") {
        throw new LoadtestUsageError(`--target: expected deno or workerd, received ${v}`);
      }
      flags.target = v;
    } else if (flag === "--faults" && inline === undefined) flags.faults = true;
    else if (flag === "--json") flags.json = value();
    else throw new LoadtestUsageError(`unknown flag ${args[i]}\n${USAGE}`);
  }
  const at = model?.indexOf("=") ?? -1;
  if (model === undefined || at <= 0 || at === model.length - 1) {
    throw new LoadtestUsageError(`--model NAME=PATH is required\n${USAGE}`);
  }
  if (flags.faults && flags.target !== "deno") {
    throw new LoadtestUsageError("--faults runs against serve:api (--target deno)");
  }
  return { ...flags, name: model.slice(0, at), path: model.slice(at + 1) } as LoadtestFlags;
}

interface InputSignature {
  name: string;
  shape: (number | null)[];
  dtype: "float32" | "int32";
}

/**
 * A deterministic instance for an input (free axes 16 long): small non-negative integers 0–9, so
 * the same sample fits token-id inputs — including Keras files whose Embedding input is declared
 * float32 — and image or feature inputs alike.
 */
export function sampleInstance(input: InputSignature, seed: number): unknown {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const build = (d: number): unknown => {
    const shape = input.shape.slice(1);
    if (d === shape.length) {
      return Math.floor(next() * 10);
    }
    return Array.from({ length: shape[d] ?? 16 }, () => build(d + 1));
  };
  return build(0);
}

/** A well-formed body for a model signature: raw text for text models, sampled values otherwise. */
export function sampleBody(
  signature: { inputs: InputSignature[]; preprocessing: unknown },
  seed: number,
): string {
  if (signature.preprocessing) {
    return JSON.stringify({ instances: ["the food was great but the service was slow"] });
  }
  const instance = signature.inputs.length === 1
    ? sampleInstance(signature.inputs[0], seed)
    : Object.fromEntries(signature.inputs.map((i, k) => [i.name, sampleInstance(i, seed + k)]));
  return JSON.stringify({ instances: [instance] });
}

/**
 * The engine's own throughput at a batch size, instances per second (about one second of work),
 * on inputs of the served signature (token ids for text models: vectorizing is not timed).
 */
async function offlineThroughput(
  path: string,
  inputs: InputSignature[],
  batch: number,
): Promise<number> {
  const { model } = await loadModel(path);
  if (!model) throw new LoadtestUsageError(`${path} holds no model`);
  try {
    const xs = model.inputShapes.map((shape, k) => {
      const dims = shape.map((d) => d ?? 16);
      const n = dims.reduce((a, b) => a * b, 1) * batch;
      // The load test's values (integers 0–9), as int32 or float32 like the served input.
      const values = Array.from({ length: n }, (_, i) => (i * 7919) % 10);
      const data = inputs[k]?.dtype === "int32"
        ? Int32Array.from(values)
        : Float32Array.from(values);
      return new Tensor(data, [batch, ...dims]);
    });
    model.predictMany(xs); // warm-up
    let runs = 0;
    const t0 = performance.now();
    while (runs < 3 || performance.now() - t0 < 1000) {
      model.predictMany(xs);
      runs++;
    }
    return (runs * batch) / ((performance.now() - t0) / 1000);
  } finally {
    model.dispose();
  }
}

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padStart(widths[i])).join("  ");
}

function formatLoad(results: { batching: string; result: LoadResult }[]): string {
  const widths = [8, 4, 8, 8, 8, 8, 7];
  const lines = [row(["batching", "C", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"], widths)];
  for (const { batching, result: r } of results) {
    const errors = r.networkErrors +
      Object.entries(r.statuses).filter(([s]) => s !== "200").reduce((a, [, n]) => a + n, 0);
    lines.push(row([
      batching,
      r.concurrency,
      r.throughput.toFixed(1),
      r.p50.toFixed(2),
      r.p95.toFixed(2),
      r.p99.toFixed(2),
      errors,
    ], widths));
  }
  return lines.join("\n");
}

function formatFaults(report: FaultReport): string {
  const lines = [
    `well-formed: sent ${report.good.sent}, answered correctly ${report.good.correct}, ` +
    `wrong ${report.good.wrong}, lost ${report.good.lost}`,
  ];
  for (const [kind, f] of Object.entries(report.faults)) {
    const seen = Object.entries(f.statuses).map(([s, n]) => `${s}×${n}`).join(" ");
    lines.push(
      `${kind.padEnd(24)} sent ${String(f.sent).padStart(4)}, ` +
        `${f.expected === null ? "server up after hang-up" : `refused ${f.expected}`} ` +
        `${f.asExpected}/${f.sent} (${seen})`,
    );
  }
  lines.push(`5xx answers: ${report.serverErrors}; server alive after: ${report.aliveAfter}`);
  return lines.join("\n");
}

async function signatureOf(url: string, name: string) {
  const res = await fetch(`${url}/v1/models/${name}`);
  if (res.status !== 200) {
    throw new Error(`GET /v1/models/${name}: ${res.status} ${await res.text()}`);
  }
  return await res.json();
}

async function loadRuns(flags: LoadtestFlags): Promise<unknown> {
  const modelArgs = ["--model", `${flags.name}=${flags.path}`];
  if (flags.preprocessing) {
    modelArgs.push("--preprocessing", `${flags.name}=${flags.preprocessing}`);
  }
  const setups: { batching: string; start: () => Promise<ServerUnderTest> }[] = [];
  let bundleDir: string | undefined;
  if (flags.target === "deno") {
    setups.push({ batching: "on", start: () => startServeApi(modelArgs) });
    setups.push({ batching: "off", start: () => startServeApi([...modelArgs, "--no-batching"]) });
  } else {
    bundleDir = await Deno.makeTempDir({ prefix: "loadtest_bundle_" });
    await bundleWorker({
      models: { [flags.name]: flags.path },
      preprocessing: flags.preprocessing ? { [flags.name]: flags.preprocessing } : {},
      outDir: bundleDir,
    });
    const dir = bundleDir;
    setups.push({ batching: "off", start: () => startWorkerdBundle(dir) });
  }
  const total = setups.length * flags.concurrency.length * flags.seconds;
  console.log(
    `loadtest: ${flags.name} (${flags.path}) on ${flags.target}, ${flags.seconds} s per run, ` +
      `concurrency ${flags.concurrency.join(", ")}, about ${total} s of load`,
  );
  const results: { batching: string; result: LoadResult }[] = [];
  let inputs: InputSignature[] = [];
  try {
    for (const setup of setups) {
      const server = await setup.start();
      try {
        const signature = await signatureOf(server.url, flags.name);
        inputs = signature.inputs;
        const body = sampleBody(signature, 1);
        const url = `${server.url}/v1/models/${flags.name}:predict`;
        for (const c of flags.concurrency) {
          const result = await runLoad(
            () => ({ url, init: { method: "POST", body } }),
            c,
            flags.seconds,
          );
          results.push({ batching: setup.batching, result });
          console.log(formatLoad([{ batching: setup.batching, result }]).split("\n")[1]);
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    if (bundleDir) await Deno.remove(bundleDir, { recursive: true });
  }
  const offline: Record<string, number> = {};
  for (const batch of [1, 8, 32]) {
    offline[batch] = await offlineThroughput(flags.path, inputs, batch);
  }
  console.log(formatLoad(results));
  console.log(
    `engine offline (same model, in process): ${
      Object.entries(offline).map(([b, v]) => `batch ${b}: ${v.toFixed(1)} instances/s`).join(", ")
    }`,
  );
  return { model: flags.name, target: flags.target, seconds: flags.seconds, results, offline };
}

async function faultRun(flags: LoadtestFlags): Promise<{ report: FaultReport; ok: boolean }> {
  const dir = await Deno.makeTempDir({ prefix: "loadtest_faults_" });
  const file = join(dir, `model${flags.path.slice(flags.path.lastIndexOf("."))}`);
  const original = await Deno.readFile(flags.path);
  await Deno.writeFile(file, original);
  const maxBodyBytes = 1 << 20;
  const deadlineMs = 1500;
  const args = [
    "--model",
    `${flags.name}=${file}`,
    "--watch",
    "--max-body-bytes",
    String(maxBodyBytes),
    "--deadline-ms",
    String(deadlineMs),
  ];
  if (flags.preprocessing) args.push("--preprocessing", `${flags.name}=${flags.preprocessing}`);
  const server = await startServeApi(args);
  try {
    const signature = await signatureOf(server.url, flags.name);
    const goodBody = sampleBody(signature, 1);
    // The replacement is the same file rewritten: answers must stay exactly the original's.
    const reference = createHandler({ models: { m: await loadModel(flags.path) } });
    const want = await (await reference(
      new Request("http://x/v1/models/m:predict", { method: "POST", body: goodBody }),
    )).text();
    const input = signature.inputs[0] as InputSignature;
    const instanceShape = input.shape.slice(1).map((d) => d ?? 16);
    const wrongShape = JSON.stringify({
      instances: [sampleInstance({ ...input, shape: [null, 3, 3, 3, 3, 3] }, 2)],
    });
    const wrongDtype = JSON.stringify({
      instances: [
        JSON.parse(
          JSON.stringify(sampleInstance(input, 3)),
          (_k, v) => typeof v === "number" ? "x" : v,
        ),
      ],
    });
    console.log(
      `loadtest --faults: ${flags.name} for ${flags.seconds} s at concurrency ` +
        `${flags.concurrency[0]} beside misbehaving clients; the model file is replaced mid-run`,
    );
    const report = await runFaults({
      url: server.url,
      model: flags.name,
      goodBody,
      accepts: (body) => body === want,
      wrongShapeBody: wrongShape,
      wrongDtypeBody: wrongDtype,
      instanceShape,
      maxBodyBytes,
      deadlineMs,
      replaceModel: async (stage) => {
        if (stage === "half") {
          await Deno.writeFile(file, original.subarray(0, original.length >> 1));
        } else {
          await Deno.writeFile(`${file}.tmp`, original);
          await Deno.rename(`${file}.tmp`, file);
        }
      },
      seconds: flags.seconds,
      concurrency: flags.concurrency[0],
    });
    const alive = server.alive();
    const output = server.output();
    const reloads = {
      failed: (output.match(/reload of .* failed/g) ?? []).length,
      done: (output.match(/reloaded /g) ?? []).length,
    };
    console.log(formatFaults(report));
    console.log(
      `model file reloads: ${reloads.done} done, ${reloads.failed} refused (partial file)`,
    );
    const ok = report.good.lost === 0 && report.good.wrong === 0 && report.serverErrors === 0 &&
      report.aliveAfter && alive &&
      Object.values(report.faults).every((f) => f.asExpected === f.sent);
    console.log(ok ? "fault run: PASS" : "fault run: FAIL");
    return { report: { ...report, reloads } as FaultReport, ok };
  } finally {
    const code = await server.stop();
    if (code !== 0) console.log(`serve:api exited with ${code}:\n${server.output()}`);
    await Deno.remove(dir, { recursive: true });
  }
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let flags: LoadtestFlags;
  try {
    flags = parseLoadtestArgs(args);
  } catch (e) {
    if (!(e instanceof LoadtestUsageError)) throw e;
    console.error(`loadtest: ${e.message}`);
    return 2;
  }
  if (flags.faults) {
    const { report, ok } = await faultRun(flags);
    if (flags.json) await Deno.writeTextFile(flags.json, JSON.stringify(report, null, 2));
    return ok ? 0 : 1;
  }
  const result = await loadRuns(flags);
  if (flags.json) await Deno.writeTextFile(flags.json, JSON.stringify(result, null, 2));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
