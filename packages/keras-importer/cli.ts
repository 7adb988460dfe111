/**
 * The `predict` and `inspect` command-line tools (`deno task predict`, `deno task inspect`).
 * Each returns an exit code and writes through the given output functions so tests can run it.
 *
 * @module
 */
import { CONV_ALGORITHMS, type ConvAlgorithm, Tensor } from "../engine/mod.ts";
import { ImportError } from "./errors.ts";
import { connectionsTable, layerNames, modelEndpoints } from "./graph_info.ts";
import { loadModel } from "./load.ts";
import { readNpy, writeNpy } from "./npy.ts";
import { ImagesUsageError, predictImages } from "./predict_images.ts";

/** Where a command writes its output. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** Thrown for bad command lines; printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** A file named on the command line cannot be checked or written; printed, exit code 1. */
export class CliIoError extends Error {}

/**
 * The command line does not fit the model: a wrong number of `--input` / `--output` files, or an
 * `--output-layer` the model does not have. Names the flag, what the model expects and what was
 * given; printed with the usage text, exit code 2.
 */
export class ModelArgumentError extends UsageError {
  /** The flag, without dashes (`"input"`, `"output"`, `"output-layer"`). */
  readonly flag: string;
  readonly expected: string;
  readonly received: string;
  constructor(flag: string, expected: string, received: string) {
    super(`--${flag}: expected ${expected}, got ${received}`);
    this.flag = flag;
    this.expected = expected;
    this.received = received;
  }
}

/** Parsed flags: a string per valued flag, `true` per boolean flag, a list per repeatable flag. */
export type Flags = Record<string, string | boolean | string[]>;

/**
 * Parses `--flag value` / `--flag=value` / boolean `--flag` arguments. A valued flag given twice
 * is refused unless it is `repeatable` (its values are then collected in order).
 */
export function parseFlags(
  args: readonly string[],
  valued: readonly string[],
  booleans: readonly string[],
  repeatable: readonly string[] = [],
): Flags {
  const out: Flags = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (booleans.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
    } else if (valued.includes(name) || repeatable.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) {
        throw new UsageError(`--${name} needs a value`);
      }
      if (repeatable.includes(name)) {
        ((out[name] ??= []) as string[]).push(value);
        continue;
      }
      if (name in out) throw new UsageError(`--${name} given twice`);
      out[name] = value;
    } else {
      throw new UsageError(`unknown flag --${name}`);
    }
  }
  return out;
}

/** Usage text of `predict`. */
export const PREDICT_USAGE =
  "usage: deno task predict --model FILE --input X.npy [--input X2.npy …] --output Y.npy\n" +
  "         [--output Y2.npy …] [--output-layer NAME …] [--batch-size N]\n" +
  "         [--conv auto|direct|winograd] [--force]\n" +
  "  FILE: .keras, legacy .h5 or TF.js model.json; X.npy: float32 or int32 (int64 is narrowed)\n" +
  "  --input: one per model input, --output: one per model output, in the model's order\n" +
  "  --output-layer: write this layer's output instead (a name, or a path such as base/conv1\n" +
  "    inside nested model base); repeatable, one --output per --output-layer\n" +
  "  --conv: Conv2D method (default auto: Winograd for 3×3…7×7 stride-1 convs; direct sums)\n" +
  "   or: deno task predict --model FILE --images IMG|DIR|ZIP [--labels NAMES.txt] [--top-k N]\n" +
  "         [--pixels 0-1|0-255] [--output Y.npy] [--batch-size N] [--conv …] [--force]\n" +
  "  --images: one image, or a folder / zip of them (class sub-folders as Keras's\n" +
  "    image_dataset_from_directory), resized to the model's input; prints the top-k classes\n" +
  "    (names from --labels, one per line, or the class folders); --pixels: the input range\n" +
  "    (default 0-255 when the model has a Rescaling layer, else 0-1)";

/** Usage text of `inspect`. */
export const INSPECT_USAGE = "usage: deno task inspect --model FILE\n" +
  "  prints each layer's output shape, parameters and, for Functional models, the layers it is\n" +
  "  connected to; then total, trainable and non-trainable parameter counts";

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

async function exists(flag: string, path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new UsageError(`cannot check --${flag} ${path}: ${(e as Error).message}`);
  }
}

async function run(io: CliIo, usage: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}`);
      io.err(usage);
      return 2;
    }
    const name = (e as Error)?.constructor?.name ?? "Error";
    const plain = e instanceof ImportError || e instanceof CliIoError;
    io.err(`error: ${plain ? (e as Error).message : `${name}: ${(e as Error)?.message ?? e}`}`);
    return 1;
  }
}

/** The engine's graph API (`predictMany`, input/output names), when the engine has it. */
interface GraphModelApi {
  inputNames?: string[];
  outputNames?: string[];
  predictMany?: (xs: Tensor[], options: { batchSize?: number; outputs?: string[] }) => Tensor[];
}

function list(flags: Flags, name: string): string[] {
  const value = flags[name];
  return Array.isArray(value) ? value : [];
}

function namesText(names: readonly string[]): string {
  return names.join(", ");
}

async function readInput(path: string) {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read --input ${path}: ${(e as Error).message}`);
  }
  return readNpy(bytes, path);
}

/**
 * `predict`: runs a model on one `.npy` batch per model input and writes one `.npy` per model
 * output (or per `--output-layer`).
 */
export function predictCommand(args: readonly string[], io: CliIo = consoleIo): Promise<number> {
  return run(io, PREDICT_USAGE, async () => {
    const flags = parseFlags(
      args,
      ["model", "batch-size", "conv", "images", "labels", "top-k", "pixels"],
      ["force", "help"],
      ["input", "output", "output-layer"],
    );
    if (flags.help) {
      io.out(PREDICT_USAGE);
      return;
    }
    if (flags.images !== undefined) {
      if (typeof flags.model !== "string") throw new UsageError(`--model is required`);
      const outputs = list(flags, "output");
      if (list(flags, "input").length > 0 || list(flags, "output-layer").length > 0) {
        throw new UsageError(`--images replaces --input and takes no --output-layer`);
      }
      if (outputs.length > 1) throw new UsageError(`--images takes at most one --output`);
      try {
        return await predictImages({
          model: flags.model,
          images: flags.images as string,
          labels: flags.labels as string | undefined,
          topK: flags["top-k"] as string | undefined,
          pixels: flags.pixels as string | undefined,
          output: outputs[0],
          batchSize: flags["batch-size"] as string | undefined,
          conv: flags.conv as string | undefined,
          force: flags.force === true,
        }, io);
      } catch (e) {
        throw e instanceof ImagesUsageError ? new UsageError(e.message) : e;
      }
    }
    for (const flag of ["labels", "top-k", "pixels"]) {
      if (flags[flag] !== undefined) throw new UsageError(`--${flag} goes with --images`);
    }
    if (typeof flags.model !== "string") throw new UsageError(`--model is required`);
    const inputPaths = list(flags, "input");
    const outputPaths = list(flags, "output");
    const outputLayers = list(flags, "output-layer");
    if (inputPaths.length === 0) throw new UsageError(`--input is required`);
    if (outputPaths.length === 0) throw new UsageError(`--output is required`);
    let batchSize: number | undefined;
    if (flags["batch-size"] !== undefined) {
      batchSize = Number(flags["batch-size"]);
      if (!Number.isInteger(batchSize) || batchSize < 1) {
        throw new UsageError(
          `--batch-size must be a positive integer, got "${flags["batch-size"]}"`,
        );
      }
    }
    const conv = flags.conv as string | undefined;
    if (conv !== undefined && !(CONV_ALGORITHMS as readonly string[]).includes(conv)) {
      throw new UsageError(`--conv must be auto, direct or winograd, got "${conv}"`);
    }
    if (outputLayers.length > 0 && outputPaths.length !== outputLayers.length) {
      throw new ModelArgumentError(
        "output",
        `${outputLayers.length} (one per --output-layer: ${namesText(outputLayers)})`,
        String(outputPaths.length),
      );
    }
    const seen = new Set<string>();
    for (const output of outputPaths) {
      if (seen.has(output)) throw new UsageError(`--output ${output} given twice`);
      seen.add(output);
      if (!flags.force && await exists("output", output)) {
        throw new UsageError(`${output} exists; pass --force to overwrite it`);
      }
    }
    const xs = [];
    for (const path of inputPaths) xs.push(await readInput(path));
    const started = performance.now();
    const { model, meta, spec } = await loadModel(flags.model, {
      convAlgorithm: conv as ConvAlgorithm | undefined,
    });
    if (model === null) {
      throw new UsageError(`${flags.model} holds only preprocessing layers; nothing to run`);
    }
    const loadedMs = performance.now() - started;
    try {
      const graph = model as unknown as GraphModelApi;
      const endpoints = modelEndpoints(spec.config);
      const inputNames = graph.inputNames ?? endpoints.inputs;
      const outputNames = graph.outputNames ?? endpoints.outputs;
      if (xs.length !== inputNames.length) {
        throw new ModelArgumentError(
          "input",
          `${inputNames.length} (one per model input, in order: ${namesText(inputNames)})`,
          String(xs.length),
        );
      }
      if (outputLayers.length === 0 && outputPaths.length !== outputNames.length) {
        throw new ModelArgumentError(
          "output",
          `${outputNames.length} (one per model output, in order: ${namesText(outputNames)})`,
          String(outputPaths.length),
        );
      }
      if (outputLayers.length > 0) {
        const known = layerNames(spec.config);
        for (const name of outputLayers) {
          if (!known.includes(name)) {
            const shown = known.length > 40 ? [...known.slice(0, 40), "…"] : known;
            throw new ModelArgumentError(
              "output-layer",
              `a layer of model "${model.name}" (${namesText(shown)})`,
              JSON.stringify(name),
            );
          }
        }
      }
      const tensors = xs.map((x) => new Tensor(x.data, x.shape));
      const options = batchSize ? { batchSize } : {};
      let ys: Tensor[];
      if (typeof graph.predictMany === "function") {
        ys = graph.predictMany(tensors, {
          ...options,
          ...(outputLayers.length ? { outputs: outputLayers } : {}),
        });
      } else if (outputLayers.length === 0 && tensors.length === 1) {
        ys = [model.predict(tensors[0], options)];
      } else {
        throw new UsageError(
          `this engine build runs one input and one output only (no predictMany)`,
        );
      }
      const predictMs = performance.now() - started - loadedMs;
      for (const [i, y] of ys.entries()) {
        try {
          await Deno.writeFile(outputPaths[i], writeNpy({ data: y.data, shape: [...y.shape] }));
        } catch (e) {
          throw new CliIoError(`cannot write --output ${outputPaths[i]}: ${(e as Error).message}`);
        }
      }
      const dtype = (a: Float32Array | Int32Array) => a instanceof Int32Array ? "int32" : "float32";
      const describe = (items: { data: Float32Array | Int32Array; shape: readonly number[] }[]) =>
        items.map((t) => `${formatShape(t.shape)} ${dtype(t.data)}`).join(", ");
      io.out(
        `${model.name} (${meta.format}, Keras ${meta.kerasVersion ?? "?"}): ` +
          `${describe(xs)} → ${describe(ys)}` +
          `${outputLayers.length ? ` (layers ${namesText(outputLayers)})` : ""} ` +
          `→ ${outputPaths.join(", ")} ` +
          `(load ${loadedMs.toFixed(0)} ms, predict ${predictMs.toFixed(0)} ms)`,
      );
    } finally {
      model.dispose();
    }
  });
}

/**
 * `inspect`: prints a Keras `summary()`-style table of a model file; for Functional models each
 * layer's inbound layers ("Connected to").
 */
export function inspectCommand(args: readonly string[], io: CliIo = consoleIo): Promise<number> {
  return run(io, INSPECT_USAGE, async () => {
    const flags = parseFlags(args, ["model"], ["help"]);
    if (flags.help) {
      io.out(INSPECT_USAGE);
      return;
    }
    if (typeof flags.model !== "string") throw new UsageError("--model is required");
    const { model, meta, preprocessing, spec } = await loadModel(flags.model);
    io.out(
      `File: ${meta.sourceName} (format ${meta.format}, Keras ${meta.kerasVersion ?? "unknown"}` +
        `${meta.backend ? `, backend ${meta.backend}` : ""})`,
    );
    for (const p of preprocessing) {
      io.out(
        `Preprocessing: ${p.layerName} (TextVectorization): vocabulary ${p.vocabulary.length}, ` +
          `output_mode ${p.config.output_mode ?? "int"}, ` +
          `output_sequence_length ${p.config.output_sequence_length ?? "None"}`,
      );
    }
    if (model === null) {
      io.out("No engine layers (preprocessing only).");
      return;
    }
    try {
      const summary = model.summary();
      io.out(summary);
      if (spec.config.class_name !== "Sequential" && !summary.includes("Connected to")) {
        // An engine whose summary has no graph column: the connections from the config.
        io.out(connectionsTable(spec.config));
      }
    } finally {
      model.dispose();
    }
  });
}
