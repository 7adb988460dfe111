/**
 * The `predict` and `inspect` command-line tools (`deno task predict`, `deno task inspect`).
 * Each returns an exit code and writes through the given output functions so tests can run it.
 *
 * @module
 */
import { CONV_ALGORITHMS, type ConvAlgorithm, Tensor } from "../engine/mod.ts";
import { ImportError } from "./errors.ts";
import { loadModel } from "./load.ts";
import { readNpy, writeNpy } from "./npy.ts";

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

/** Parses `--flag value` / `--flag=value` / boolean `--flag` arguments. */
export function parseFlags(
  args: readonly string[],
  valued: readonly string[],
  booleans: readonly string[],
): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (booleans.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
    } else if (valued.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) {
        throw new UsageError(`--${name} needs a value`);
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
  "usage: deno task predict --model FILE --input X.npy --output Y.npy [--batch-size N]\n" +
  "         [--conv auto|direct|winograd] [--force]\n" +
  "  FILE: .keras, legacy .h5 or TF.js model.json; X.npy: float32 or int32 (int64 is narrowed)\n" +
  "  --conv: Conv2D method (default auto: Winograd for 3×3…7×7 stride-1 convs; direct sums)";

/** Usage text of `inspect`. */
export const INSPECT_USAGE = "usage: deno task inspect --model FILE";

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

/** `predict`: runs a model on a `.npy` batch and writes the outputs as `.npy`. */
export function predictCommand(args: readonly string[], io: CliIo = consoleIo): Promise<number> {
  return run(io, PREDICT_USAGE, async () => {
    const flags = parseFlags(
      args,
      ["model", "input", "output", "batch-size", "conv"],
      ["force", "help"],
    );
    if (flags.help) {
      io.out(PREDICT_USAGE);
      return;
    }
    for (const required of ["model", "input", "output"]) {
      if (typeof flags[required] !== "string") throw new UsageError(`--${required} is required`);
    }
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
    const output = flags.output as string;
    if (!flags.force && await exists("output", output)) {
      throw new UsageError(`${output} exists; pass --force to overwrite it`);
    }
    const inputPath = flags.input as string;
    let inputBytes: Uint8Array;
    try {
      inputBytes = await Deno.readFile(inputPath);
    } catch (e) {
      throw new UsageError(`cannot read --input ${inputPath}: ${(e as Error).message}`);
    }
    const x = readNpy(inputBytes, inputPath);
    const started = performance.now();
    const { model, meta } = await loadModel(flags.model as string, {
      convAlgorithm: conv as ConvAlgorithm | undefined,
    });
    if (model === null) {
      throw new UsageError(`${flags.model} holds only preprocessing layers; nothing to run`);
    }
    const loadedMs = performance.now() - started;
    try {
      const y = model.predict(new Tensor(x.data, x.shape), batchSize ? { batchSize } : {});
      const predictMs = performance.now() - started - loadedMs;
      try {
        await Deno.writeFile(output, writeNpy({ data: y.data, shape: [...y.shape] }));
      } catch (e) {
        throw new CliIoError(`cannot write --output ${output}: ${(e as Error).message}`);
      }
      const dtype = (a: Float32Array | Int32Array) => a instanceof Int32Array ? "int32" : "float32";
      io.out(
        `${model.name} (${meta.format}, Keras ${meta.kerasVersion ?? "?"}): ` +
          `${formatShape(x.shape)} ${dtype(x.data)} → ${formatShape(y.shape)} ${dtype(y.data)} ` +
          `→ ${output} (load ${loadedMs.toFixed(0)} ms, predict ${predictMs.toFixed(0)} ms)`,
      );
    } finally {
      model.dispose();
    }
  });
}

/** `inspect`: prints a Keras `summary()`-style table of a model file. */
export function inspectCommand(args: readonly string[], io: CliIo = consoleIo): Promise<number> {
  return run(io, INSPECT_USAGE, async () => {
    const flags = parseFlags(args, ["model"], ["help"]);
    if (flags.help) {
      io.out(INSPECT_USAGE);
      return;
    }
    if (typeof flags.model !== "string") throw new UsageError("--model is required");
    const { model, meta, preprocessing } = await loadModel(flags.model);
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
      io.out(model.summary());
    } finally {
      model.dispose();
    }
  });
}
