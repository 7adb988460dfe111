/**
 * What the `transfer` and `autoencoder` experiment families share: their common flags, labelled
 * subsets of image splits (per-class samples, class filters), a logged engine `fit`, and the
 * engine-vs-TF.js check of a reloaded `.keras` file.
 */
import { join } from "node:path";
import {
  Adam,
  Callback,
  CONV_ALGORITHMS,
  type ConvAlgorithm,
  type Logs,
  type Model,
  type ModelSpec,
  SeededRandom,
  Tensor,
} from "@scratchnet/engine";
import { loadModel, saveKeras } from "@scratchnet/keras-importer";
import type { LabelledSplit } from "./data.ts";
import { ExperimentError } from "./errors.ts";
import { int, num, oneOf, type Raw, str } from "./options.ts";
import { tfjsPredictAll } from "./reference.ts";
import { KERAS_VERSION } from "./train.ts";

/** Flags with a value that every new family accepts. */
export const COMMON_VALUE_FLAGS: readonly string[] = [
  "out",
  "seed",
  "batch-size",
  "learning-rate",
  "epochs",
  "data-dir",
  "progress",
  "conv",
  "reference-size",
];
/** Boolean flags that every new family accepts. */
export const COMMON_BOOLEAN_FLAGS: readonly string[] = ["quick", "force", "help"];

/** Options every new family has. */
export interface CommonOptions {
  quick: boolean;
  out: string;
  force: boolean;
  seed: number;
  batchSize: number;
  learningRate: number;
  /** MNIST folder (null = the usual places, see `data.ts`). */
  dataDir: string | null;
  progress: "auto" | "epoch" | "variant" | "none";
  conv: ConvAlgorithm;
  /** Test images the TF.js reference runs over (the engine scores the whole test slice). */
  referenceSize: number;
}

/**
 * Parses the flags shared by the new families.
 *
 * @throws {UsageError} a malformed value, naming its flag.
 */
export function parseCommon(
  flags: Raw,
  family: string,
  defaults: { referenceSize: number },
): CommonOptions {
  const quick = flags.has("quick");
  return {
    quick,
    out: str(flags, "out") ?? `experiments/${family}${quick ? "-quick" : ""}`,
    force: flags.has("force"),
    seed: int(flags, "seed", 42, 0),
    batchSize: int(flags, "batch-size", 32),
    learningRate: num(flags, "learning-rate", 1e-3, (n) => n > 0, "a number > 0"),
    dataDir: str(flags, "data-dir") ?? null,
    progress: oneOf(flags, "progress", ["auto", "epoch", "variant", "none"] as const, "auto"),
    conv: oneOf(flags, "conv", CONV_ALGORITHMS, "direct"),
    referenceSize: int(flags, "reference-size", quick ? 128 : defaults.referenceSize),
  };
}

/** The samples of `split` whose label `keep` accepts, relabelled by `relabel`. */
export function filterClasses(
  split: LabelledSplit,
  keep: (label: number) => boolean,
  relabel: (label: number) => number = (l) => l,
): LabelledSplit {
  const idx: number[] = [];
  split.y.forEach((l, i) => {
    if (keep(l)) idx.push(i);
  });
  return gather(split, Int32Array.from(idx), relabel);
}

/** Rows `idx` of `split` (labels through `relabel`). */
export function gather(
  split: LabelledSplit,
  idx: Int32Array,
  relabel: (label: number) => number = (l) => l,
): LabelledSplit {
  const per = split.x.size / Math.max(1, split.y.length);
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  const src = split.x.data as Float32Array;
  idx.forEach((r, i) => {
    x.set(src.subarray(r * per, (r + 1) * per), i * per);
    y[i] = relabel(split.y[r]);
  });
  return { x: new Tensor(x, [idx.length, ...split.x.shape.slice(1)]), y };
}

/** The first `n` samples of `split` (all when `n` is null or larger). */
export function firstN(split: LabelledSplit, n: number | null): LabelledSplit {
  if (n === null || n >= split.y.length) return split;
  return { x: split.x.sliceBatch(0, n), y: split.y.slice(0, n) };
}

/**
 * `perClass` samples of each of `classes` classes (all of them when null), drawn by a seeded
 * permutation and returned in that shuffled order; a class with fewer samples gives all it has.
 * The same seed gives nested subsets: the 50-per-class draw holds the 10-per-class one.
 */
export function perClassSubset(
  split: LabelledSplit,
  perClass: number | null,
  classes: number,
  seed: number,
): LabelledSplit {
  if (perClass === null) return split;
  const order = new SeededRandom(seed).permutation(split.y.length);
  const taken = new Array<number>(classes).fill(0);
  const idx: number[] = [];
  for (const i of order) {
    const c = split.y[i];
    if (c >= 0 && c < classes && taken[c] < perClass) {
      taken[c]++;
      idx.push(i);
    }
  }
  return gather(split, Int32Array.from(idx));
}

/** Epochs so that a run over `n` samples takes at least `minSteps` gradient steps. */
export function epochsFor(n: number, batchSize: number, epochs: number, minSteps: number): number {
  const steps = Math.max(1, Math.ceil(n / batchSize));
  return Math.min(500, Math.max(epochs, Math.ceil(minSteps / steps)));
}

class EpochTap extends Callback {
  constructor(readonly listener: (epoch: number, logs: Logs) => void) {
    super();
  }
  override onEpochEnd(epoch: number, logs: Logs): void {
    this.listener(epoch, logs);
  }
}

/** `model.fit` without a progress bar, reporting each epoch's logs; returns the history. */
export async function fitLogged(
  model: Model,
  x: Tensor,
  y: Tensor,
  validation: [Tensor, Tensor],
  o: { epochs: number; batchSize: number; seed: number },
  onEpoch: (epoch: number, logs: Logs) => void,
): Promise<Record<string, number[]>> {
  const history = await model.fit(x, y, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    validationData: validation,
    verbose: 0,
    seed: o.seed,
    callbacks: [new EpochTap(onEpoch)],
  });
  return history.history;
}

/** Compiles a softmax classifier: Adam at `learningRate`, sparse categorical cross-entropy. */
export function compileClassifier(model: Model, learningRate: number, seed: number): void {
  model.compile({
    optimizer: new Adam({ learningRate }),
    loss: "sparse_categorical_crossentropy",
    metrics: ["accuracy"],
    seed,
  });
}

/** Integer labels as a tensor. */
export function labels(y: Int32Array): Tensor {
  return new Tensor(y, [y.length]);
}

/** Engine vs TF.js on one reloaded `.keras` file. */
export interface ReferenceCheck {
  /** The saved file, relative to the output folder. */
  modelFile: string;
  samples: number;
  /** Largest |engine − TF.js| over every output value. */
  maxAbsDiff: number;
  /** Classifiers: fraction of samples with the same argmax (null for other outputs). */
  agreement: number | null;
  engineSeconds: number;
  referenceSeconds: number;
}

/**
 * Saves `spec` as `<out>/<modelFile>`, reloads it through the importer, and runs the reloaded
 * model with the engine and with TF.js (cpu) over `x`.
 */
export async function saveAndCheck(
  spec: ModelSpec,
  out: string,
  modelFile: string,
  x: Tensor,
  conv: ConvAlgorithm,
  classes: number | null,
): Promise<ReferenceCheck & { engineOutput: Float32Array }> {
  const path = join(out, modelFile);
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await saveKeras({ ...spec, kerasVersion: KERAS_VERSION }, path);
  const loaded = await loadModel(path, { convAlgorithm: conv });
  const model = loaded.model;
  if (!model) throw new ExperimentError(`${path}: the reloaded file holds no model`);
  try {
    const t0 = performance.now();
    const engine = model.predict(x, { batchSize: 64 }).data as Float32Array;
    const t1 = performance.now();
    const reference = await tfjsPredictAll({
      config: loaded.spec.config,
      weights: loaded.spec.weights,
      kerasVersion: loaded.meta.kerasVersion,
    }, x);
    const t2 = performance.now();
    if (engine.length !== reference.length) {
      throw new ExperimentError(
        `${modelFile}: ${engine.length} engine vs ${reference.length} reference values`,
      );
    }
    let d = 0;
    for (let i = 0; i < engine.length; i++) {
      const e = Math.abs(engine[i] - reference[i]);
      if (!(e <= d)) d = e; // NaN propagates
    }
    let agreement: number | null = null;
    if (classes !== null) {
      const n = engine.length / classes;
      let same = 0;
      for (let r = 0; r < n; r++) {
        let a = 0, b = 0;
        for (let c = 1; c < classes; c++) {
          if (engine[r * classes + c] > engine[r * classes + a]) a = c;
          if (reference[r * classes + c] > reference[r * classes + b]) b = c;
        }
        if (a === b) same++;
      }
      agreement = n ? same / n : 1;
    }
    return {
      modelFile,
      samples: x.shape[0],
      maxAbsDiff: d,
      agreement,
      engineSeconds: (t1 - t0) / 1000,
      referenceSeconds: (t2 - t1) / 1000,
      engineOutput: engine,
    };
  } finally {
    model.dispose();
  }
}

/** Deno, V8, OS and CPU count of this run. */
export function environment(started: Date): Record<string, unknown> {
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    os: Deno.build.os,
    arch: Deno.build.arch,
    cpus: navigator.hardwareConcurrency ?? 0,
    startedAt: started.toISOString(),
  };
}

/** `v` with 4 decimals, or "–". */
export function f4(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? "–" : v.toFixed(4);
}

/** `v` in exponent notation, or "–". */
export function e2(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? "–" : v.toExponential(2);
}
