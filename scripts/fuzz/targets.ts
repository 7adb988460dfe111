/**
 * What the fuzz runner calls for each format, and which errors count as the package's typed
 * errors. Runs inside the runner process (after allocation tracking is installed).
 *
 * @module
 */
import {
  buildModel,
  EngineError,
  getRuntime,
  type Model,
  Tensor,
} from "../../packages/engine/mod.ts";
import { ImportError, loadModel, readNpy } from "../../packages/keras-importer/mod.ts";
import { inspectCommand, predictCommand } from "../../packages/keras-importer/cli.ts";
import {
  cnnModel,
  denseModel,
  rnnModel,
  type TestModel,
} from "../../packages/keras-importer/testing/model_specs.ts";
import {
  DatasetError,
  decodeCifar10Batch,
  loadCifar10,
  loadNusaxSentiment,
  parseCsv,
  parseIdx,
  parseNusaxCsv,
} from "../../packages/datasets/mod.ts";
import {
  loadVocabularyFile,
  MAX_OUTPUT_ELEMENTS,
  TextVectorization,
  TokenizerError,
} from "../../packages/tokenizer/mod.ts";
import { Rng } from "./rng.ts";

/** A problem the target itself detects (e.g. a model whose output changed after a failed call). */
export class TargetFinding extends Error {
  constructor(readonly kind: string, message: string) {
    super(message);
    this.name = "TargetFinding";
  }
}

/** The input is not something the entry point accepts as a value (e.g. invalid JSON for an API
 * that takes objects); the case is counted as skipped, not as a finding. */
export class SkipCase extends Error {}

/** Everything a target needs besides the case. */
export interface TargetContext {
  /** A scratch folder for formats read from disk; the target may create subfolders. */
  tmpDir: string;
  index: number;
}

/** One format's entry point and its typed-error test. */
export interface Target {
  run(
    files: Record<string, Uint8Array>,
    meta: Record<string, unknown>,
    ctx: TargetContext,
  ): Promise<unknown>;
  /** Whether `e` is one of the package's typed errors. */
  typed(e: unknown): boolean;
  /** Whether the error hides an untyped exception behind a catch-all (a finding). */
  masked?(e: unknown): boolean;
}

const decoder = new TextDecoder();

/** A catch-all in the importer turns unexpected exceptions into this message. */
function importerMasked(e: unknown): boolean {
  return e instanceof ImportError && /unexpected file structure/.test(e.message);
}

/** Runs a loaded model on zeros (when its input is small and fully known) and disposes it. */
function exercise(model: Model | null): void {
  if (model === null) return;
  try {
    const shape = model.inputShape.map((d) => d ?? 4);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count > 100_000) return;
    // A Sequential that declares no input shape has no layers until its first call.
    const first = model.layers[0] as unknown as { dtype?: string } | undefined;
    const data = first?.dtype === "int32" ? new Int32Array(2 * count) : new Float32Array(2 * count);
    try {
      model.predict(new Tensor(data, [2, ...shape]));
    } catch (e) {
      // A model the loader accepted may still refuse an input; that must be an engine error.
      if (!(e instanceof EngineError)) throw e;
    }
  } finally {
    model.dispose();
  }
}

async function writeCaseFiles(
  ctx: TargetContext,
  files: Record<string, Uint8Array>,
): Promise<string> {
  const dir = `${ctx.tmpDir}/case${ctx.index}`;
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, bytes);
  return dir;
}

async function removeDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const importerTarget = (file: string): Target => ({
  async run(files) {
    const loaded = await loadModel(files[file], { name: file });
    exercise(loaded.model);
    return loaded.spec;
  },
  typed: (e) => e instanceof ImportError,
  masked: importerMasked,
});

interface PredictFixture {
  model: Model;
  test: TestModel;
  reference: Tensor;
  expected: Float32Array;
}

let fixtures: Map<string, PredictFixture> | undefined;

function predictFixtures(): Map<string, PredictFixture> {
  if (fixtures) return fixtures;
  fixtures = new Map();
  for (
    const [name, test] of [["dense", denseModel()], ["cnn", cnnModel()], [
      "rnn",
      rnnModel(),
    ]] as const
  ) {
    const model = buildModel(test.spec);
    const reference = makeInput(test, 3, test.inputShape, test.input.kind === "int", new Rng(99));
    const expected = model.predict(reference).data as Float32Array;
    fixtures.set(name, { model, test, reference, expected: expected.slice() });
  }
  return fixtures;
}

function makeInput(
  test: TestModel,
  batch: number,
  dims: number[],
  int: boolean,
  rng: Rng,
): Tensor {
  const count = batch * dims.reduce((a, b) => a * b, 1);
  const vocab = test.input.kind === "int" ? test.input.vocab : 0;
  if (int) {
    return new Tensor(Int32Array.from({ length: count }, () => rng.int(vocab || 10)), [
      batch,
      ...dims,
    ]);
  }
  return new Tensor(
    Float32Array.from({ length: count }, () => (vocab ? rng.int(vocab) : rng.next() * 2 - 1)),
    [batch, ...dims],
  );
}

const predictTarget: Target = {
  // deno-lint-ignore require-await
  async run(_files, meta) {
    const fixture = predictFixtures().get(meta.model as string)!;
    const rng = new Rng(meta.valueSeed as number);
    const dims = meta.dims as number[];
    const batch = meta.batch as number;
    const int = meta.dtype === "int32";
    const special = meta.special as string | null;
    const batchSize = meta.batchSize === "NaN"
      ? NaN
      : meta.batchSize === "Infinity"
      ? Infinity
      : meta.batchSize;
    let input: unknown;
    let result: unknown;
    let failure: { error: unknown } | undefined;
    try {
      if (special === "shape-mismatch") {
        input = new Tensor(new Float32Array(batch * dims.reduce((a, b) => a * b, 1) + 1), [
          batch,
          ...dims,
        ]);
      } else if (special === "negative-dim") {
        input = new Tensor(new Float32Array(0), [batch, -1, ...dims]);
      } else if (special === "not-tensor") {
        input = { data: new Float32Array(8), shape: [1, 8] };
      } else if (special === "null") {
        input = null;
      } else if (special === "array") {
        input = [[1, 2, 3]];
      } else {
        const x = makeInput(fixture.test, batch, dims, int, rng);
        if (x.data.length > 0 && special !== null) {
          const at = rng.int(x.data.length);
          const value = {
            "nan": NaN,
            "inf": Infinity,
            "-inf": -Infinity,
            "id-negative": -1,
            "id-vocab": meta.vocab as number ?? 1e6,
            "id-huge": 2147483647,
            "id-fraction": 0.5,
          }[special];
          if (value !== undefined) x.data[at] = value;
        }
        input = x;
      }
      const options = batchSize === undefined ? {} : { batchSize: batchSize as number };
      result = fixture.model.predict(input as Tensor, options);
    } catch (error) {
      failure = { error };
    }
    // Whatever happened, the model must still give its reference answer.
    const again = fixture.model.predict(fixture.reference).data;
    for (let i = 0; i < again.length; i++) {
      if (!Object.is(again[i], fixture.expected[i])) {
        throw new TargetFinding(
          "state",
          `model "${meta.model}" output changed after the call: element ${i} ${again[i]} vs ${
            fixture.expected[i]
          }`,
        );
      }
    }
    if (failure) throw failure.error;
    return result;
  },
  typed: (e) => e instanceof EngineError,
};

/** Error classes the CLIs may report besides the importer's and the engine's own. */
const CLI_REPORTABLE =
  /^error: (?!(TypeError|RangeError|ReferenceError|SyntaxError|Error|AggregateError|EvalError|URIError|Object|undefined|null)\b)/;

/** A CLI run that ended with a reported error (the CLI's equivalent of a typed error). */
class CliExit extends Error {
  constructor(readonly code: number, line: string) {
    super(`exit ${code}: ${line}`);
  }
}

const cliTarget: Target = {
  async run(files, meta, ctx) {
    const dir = await writeCaseFiles(ctx, files);
    try {
      const paths: Record<string, string> = {
        "@model": `${dir}/model.keras`,
        "@input": `${dir}/x.npy`,
        "@ids": `${dir}/ids.npy`,
        "@bad": `${dir}/bad.npy`,
        "@output": `${dir}/y.npy`,
        "@dir": dir,
        "@missing": `${dir}/missing/file`,
      };
      const args = (meta.args as string[]).map((a) =>
        a.replace(/@(model|input|ids|bad|output|dir|missing)/g, (m) => paths[m])
      );
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
      const command = meta.command === "inspect" ? inspectCommand : predictCommand;
      const code = await command(args, io);
      if (code !== 0 && code !== 1 && code !== 2) {
        throw new TargetFinding("cli", `exit code ${code}`);
      }
      if (code !== 0 && !err.some((l) => CLI_REPORTABLE.test(l))) {
        throw new TargetFinding(
          "untyped",
          `exit ${code} with ${JSON.stringify(err).slice(0, 300)}`,
        );
      }
      if (code !== 0) throw new CliExit(code, err[0] ?? "");
      return code;
    } finally {
      await removeDir(dir);
    }
  },
  typed: (e) => e instanceof CliExit,
};

const selfTests: Record<string, Target> = {
  "selftest-throw": {
    // deno-lint-ignore require-await
    async run() {
      throw new TypeError("self-test: an untyped exception");
    },
    typed: () => false,
  },
  "selftest-hang": {
    // deno-lint-ignore require-await
    async run() {
      const until = Date.now() + 3_600_000;
      while (Date.now() < until) { /* spin */ }
    },
    typed: () => false,
  },
  "selftest-alloc": {
    // deno-lint-ignore require-await
    async run() {
      return new Uint8Array(64 << 20);
    },
    typed: () => false,
  },
};

/** The target of every format. */
export const TARGETS: Record<string, Target> = {
  keras: importerTarget("model.keras"),
  h5: importerTarget("model.h5"),
  "weights-h5": {
    async run(files) {
      const loaded = await loadModel(files["model.weights.h5"], {
        name: "model.weights.h5",
        config: decoder.decode(files["config.json"]),
      });
      exercise(loaded.model);
      return loaded.spec;
    },
    typed: (e) => e instanceof ImportError,
    masked: importerMasked,
  },
  tfjs: {
    async run(files, meta, ctx) {
      if (meta.mode === "memory") {
        const shards = (meta.shards as string[]).filter((n) => n in files).map((n) => files[n]);
        const loaded = await loadModel({ modelJson: files["model.json"], shards }, {
          name: "model.json",
        });
        exercise(loaded.model);
        return loaded.spec;
      }
      const dir = await writeCaseFiles(ctx, files);
      try {
        const loaded = await loadModel(`${dir}/model.json`);
        exercise(loaded.model);
        return loaded.spec;
      } finally {
        await removeDir(dir);
      }
    },
    typed: (e) => e instanceof ImportError,
    masked: importerMasked,
  },
  npy: {
    // deno-lint-ignore require-await
    async run(files) {
      return readNpy(files["x.npy"], "x.npy");
    },
    typed: (e) => e instanceof ImportError,
  },
  csv: {
    async run(files, meta, ctx) {
      if (meta.mode === "disk") {
        // The loader reads the three splits as strict UTF-8 from a folder.
        const bytes = files["data.csv"];
        const dir = await writeCaseFiles(ctx, {
          "train.csv": bytes,
          "valid.csv": bytes,
          "test.csv": bytes,
        });
        try {
          return await loadNusaxSentiment({ dir, download: false, progress: false });
        } finally {
          await removeDir(dir);
        }
      }
      const text = decoder.decode(files["data.csv"]);
      parseCsv(text, "data.csv");
      return parseNusaxCsv(text, "data.csv");
    },
    typed: (e) => e instanceof DatasetError,
  },
  idx: {
    // deno-lint-ignore require-await
    async run(files, meta) {
      const [name, bytes] = Object.entries(files)[0];
      return parseIdx(bytes, name, meta.rank as number | undefined, false);
    },
    typed: (e) => e instanceof DatasetError,
  },
  cifar: {
    // deno-lint-ignore require-await
    async run(files) {
      return decodeCifar10Batch(files["data_batch_1.bin"], "data_batch_1.bin");
    },
    typed: (e) => e instanceof DatasetError,
  },
  "cifar-tgz": {
    async run(files, _meta, ctx) {
      const dir = await writeCaseFiles(ctx, files);
      try {
        return await loadCifar10({ dir, dtype: "uint8", progress: false, seed: 1 });
      } finally {
        await removeDir(dir);
      }
    },
    typed: (e) => e instanceof DatasetError,
  },
  tokenizer: {
    // deno-lint-ignore require-await
    async run(files) {
      let config: unknown;
      try {
        config = JSON.parse(decoder.decode(files["config.json"]));
      } catch {
        throw new SkipCase("config.json is not JSON (the tokenizer takes parsed objects)");
      }
      const vocabulary = files["vocabulary.txt"]
        ? loadVocabularyFile(files["vocabulary.txt"], "vocabulary.txt")
        : undefined;
      const layer = TextVectorization.fromConfig(config as Record<string, unknown>, vocabulary);
      layer.tokenize("Makanannya enak sekali!");
      // The output width is the config's choice (like a caller's batch size); a huge width is
      // refused by `call` itself, a merely large one is skipped to keep cases fast.
      const width = layer.outputMode === "int"
        ? layer.outputSequenceLength ?? 16
        : layer.padToMaxTokens && layer.maxTokens !== null
        ? layer.maxTokens
        : layer.vocabularySize();
      const texts = ["makanan enak sekali", "", "a b c d e f g h i j k l m n o p"];
      if (texts.length * width > 1_000_000 && texts.length * width <= MAX_OUTPUT_ELEMENTS) {
        return layer;
      }
      return layer.call(texts);
    },
    typed: (e) => e instanceof TokenizerError,
  },
  predict: predictTarget,
  cli: cliTarget,
  ...selfTests,
};

/** Instantiates the engine and the `predict` fixtures before the first timed case. */
export function warmUp(): void {
  getRuntime();
  predictFixtures();
}

/** Bytes the engine's WebAssembly heap holds (live allocations) and reserves. */
export function engineHeap(): { live: number; reserved: number } {
  const { heap } = getRuntime();
  return { live: heap.liveBytes, reserved: heap.memoryBytes };
}
