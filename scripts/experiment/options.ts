/**
 * Command line of `deno task experiment`: parsed into {@link ExperimentOptions} with defaults per
 * family, every bad value refused with a {@link UsageError} naming the flag.
 */
import { NUSAX_LANGUAGES, type NusaxLanguage } from "@scratchnet/datasets";
import { CONV_ALGORITHMS, type ConvAlgorithm, resolveInitializer } from "@scratchnet/engine";
import { UsageError } from "./errors.ts";

/**
 * Model families: a CNN on images, or a text classifier (recurrent, Conv1D, Transformer, or the
 * bag-of-words MLP).
 */
export type Family = "cnn" | RecurrentFamily | "cnn1d" | "transformer" | "bow";
/** The recurrent text families. */
export type RecurrentFamily = "rnn" | "lstm" | "gru";
/** The text families (every family but the image CNN). */
export type TextFamily = Exclude<Family, "cnn">;
/** Image data sets for the CNN family. */
export type ImageDataset = "cifar10" | "mnist" | "fashion-mnist";
/** Every data set name the CLI accepts. */
export type DatasetName = ImageDataset | "nusax";
/** What the cnn family trains: the assignment's grid, or the best recipe (`recipe.ts`). */
export type Recipe = "grid" | "best";
/** Learning rate over training: constant, or Keras `CosineDecay` from it to 0 over every step. */
export type LrSchedule = "constant" | "cosine";
/** Who runs the training loop. */
export type TrainerName = "engine" | "tfjs";
/** Which reference forward pass checks the engine: TF.js, the host (scalar) text reference, or the
 * automatic choice (TF.js unless a layer is one TF.js lacks, e.g. GRU `reset_after=true`). */
export type ReferenceName = "auto" | "tfjs" | "host";

/** The IMDb study's learning-rate schedule: Keras `ReduceLROnPlateau` on `val_loss`. */
export interface ReduceLrSettings {
  factor: number;
  patience: number;
  minLr: number;
}

/** Everything one experiment run needs. */
export interface ExperimentOptions {
  family: Family;
  dataset: DatasetName;
  language: NusaxLanguage;
  epochs: number;
  quick: boolean;
  trainer: TrainerName;
  reference: ReferenceName;
  out: string;
  force: boolean;
  seed: number;
  batchSize: number;
  learningRate: number;
  /** Keras initializer name of the recurrent kernels (Keras default `orthogonal`). */
  recurrentInit: string;
  /** Adam `clipnorm` (each gradient tensor clipped to this norm), or null. */
  clipnorm: number | null;
  reduceLrOnPlateau: ReduceLrSettings | null;
  /** EarlyStopping on `val_loss` restoring the best weights, or null for a fixed epoch count. */
  earlyStopping: { patience: number; monitor: "val_loss" | "val_accuracy" } | null;
  /** Run only these studies (hyper-parameters), by name; empty = all. */
  studies: string[];
  /** Run only these variant ids; empty = all. */
  variants: string[];
  /** Use only the first N training samples (null = all). */
  trainSize: number | null;
  /**
   * Text: other NusaX languages whose training splits join `language`'s (translations of the same
   * sentences); validation and test stay `language`'s. Empty = `language` alone.
   */
  trainLanguages: NusaxLanguage[];
  /**
   * Train each variant with this many seeds (seed, seed + 1, …): macro-F1 is reported as mean ±
   * standard deviation and the run with the best validation macro-F1 is kept.
   */
  repeats: number;
  /** Text models: tokens per sequence (TextVectorization `output_sequence_length`). */
  sequenceLength: number;
  /** Text models: vocabulary size cap including "" and [UNK] (null = the whole training vocabulary). */
  maxTokens: number | null;
  embeddingDim: number;
  /** Dropout rate before the classifier. */
  dropout: number;
  /** Folder holding the data set (null = the usual places, see `data.ts`). */
  dataDir: string | null;
  /** Progress output: per-epoch lines on a terminal, one line per variant otherwise, or none. */
  progress: "auto" | "epoch" | "variant" | "none";
  /**
   * Conv2D method of the engine's evaluation passes (default "direct": the run checks the
   * engine against the reference, so its convolutions sum directly; "auto" measures Winograd's
   * rounding too). Training always sums directly.
   */
  conv: ConvAlgorithm;
  /** cnn: the assignment's grid or the best recipe. */
  recipe: Recipe;
  /** Learning-rate schedule (default constant; cosine for `--recipe best`). */
  lrSchedule: LrSchedule;
  /** Threads `fit` computes each batch's gradients on (engine trainer), or "auto". */
  threads: number | "auto";
  /**
   * How a trainable BatchNormalization normalises a batch split over threads: the whole batch's
   * statistics (one thread, the default) or each thread's slice's own (Keras's
   * `synchronized=False` on replicas).
   */
  batchStatistics: "whole-batch" | "per-thread";
  /** Test samples the reference checks (the first N), or null for the whole test split. */
  referenceSize: number | null;
  /** `--recipe best`: filters per block instead of the recipe's 32-64-128 (null = the recipe's). */
  recipeFilters: number[] | null;
  /** `--recipe best`: convolutions per block instead of the recipe's 2 (null = the recipe's). */
  recipeConvs: number | null;
  /** `--recipe best`: dropout rate after each block instead of 0.1 / 0.2 / 0.3 (null = those). */
  recipeDropout: number[] | null;
  /** Text: SpatialDropout1D rate after the embedding (0 = none). */
  spatialDropout: number;
  /** rnn/lstm/gru: the cells' Keras `recurrent_dropout` (0 = none). */
  recurrentDropout: number;
  /** Decoupled weight decay (Keras AdamW `weight_decay`), or null for Adam. */
  weightDecay: number | null;
}

/** Epochs `--recipe best` trains by default (its cosine schedule decays over exactly these). */
export const BEST_RECIPE_EPOCHS = 10;
/** Batch size of `--recipe best` by default (larger GEMMs per step than the grid's 32). */
export const BEST_RECIPE_BATCH = 64;

/** The `--help` text. */
export const USAGE: string =
  `deno task experiment <cnn|rnn|lstm|gru|cnn1d|transformer|bow> [options]
       deno task experiment transfer --help      (pretrain, freeze, fine-tune vs scratch)
       deno task experiment autoencoder --help   (convolutional autoencoder on MNIST)
       deno task experiment imdb --help          (RNN / LSTM / GRU study protocol on IMDb)
       deno task experiment [family] --language all   (best variants on every NusaX language)

Trains every variant of one family's hyper-parameter grid, saves each as .keras, reloads it through
the importer, runs the engine's forward pass and a reference (TF.js, or the scalar host reference
for GRU reset_after=true) over the test split, and writes results.json, report.md and SVG plots.

  --dataset NAME           cnn: cifar10 (default) | mnist | fashion-mnist; text families: nusax
  --language NAME          NusaX language (default indonesian): ${NUSAX_LANGUAGES.join(", ")};
                           all: each text family's best variant on every language, 3 seeds
                           each, one table (--families A,B narrows it)
  --epochs N               maximum epochs (default 20 text, 10 cnn; --quick: 2 text, 1 cnn)
  --quick                  every variant on a small slice (minutes; what CI runs)
  --trainer engine|tfjs    who trains (default engine); tfjs falls back to the engine for layers
                           TF.js lacks (GRU reset_after=true)
  --reference auto|tfjs|host
                           the forward pass the engine is compared with (default auto)
  --reference-size N       check the reference on the first N test samples only (default: all;
                           the engine's scores are always on the whole test split)
  --out DIR                output folder (default experiments/<family>-<dataset>)
  --force                  overwrite results already in --out
  --seed N                 initial weights, shuffling and dropout (default 42)
  --batch-size N           default 32
  --learning-rate X        Adam learning rate (default 0.001)
  --recurrent-init NAME    recurrent kernel initializer (default orthogonal, Keras's default)
  --clipnorm X             clip each gradient tensor to norm X (Keras clipnorm)
  --reduce-lr-on-plateau   halve the learning rate after 2 epochs without val_loss improvement
  --early-stopping[=N]     stop after N epochs without val_loss improvement, restoring the best
                           weights (default on, N = 3)
  --no-early-stopping      train exactly --epochs epochs
  --monitor val_loss|val_accuracy
                           what early stopping watches and restores (default val_accuracy for
                           text, val_loss for cnn)
  --imdb-protocol          the IMDb study's protocol: orthogonal recurrent init, clipnorm 1,
                           ReduceLROnPlateau, early stopping
  --study A,B              run only these studies (cnn: layers, filters, kernels, pooling;
                           rnn/lstm/gru: layers, units, direction; bow: ngrams, mode,
                           hidden, tokens)
  --variants ID,ID         run only these variant ids
  --train-size N           use only the first N training samples
  --train-languages A,B    text: add these NusaX languages' training splits (all: the other 11;
                           NusaX is parallel, so they are translations of the same 500 sentences);
                           validation and test stay --language's
  --repeats N              train each variant with N seeds; report mean ± std macro-F1 and keep
                           the run with the best validation macro-F1 (default 1)
  --sequence-length N      text: tokens per sequence (default 64; --quick 32; not bow)
  --max-tokens N           text: vocabulary cap (default: the whole training vocabulary; bow:
                           set per variant by its grid)
  --embedding-dim N        text: embedding size (default 128; not bow)
  --dropout X              dropout before the classifier (default 0.5)
  --spatial-dropout X      text: SpatialDropout1D after the embedding (default 0: none)
  --recurrent-dropout X    rnn/lstm/gru: the cells' recurrent_dropout (one mask per sequence on
                           the state the recurrent kernel reads; default 0: none)
  --weight-decay X         AdamW: decoupled weight decay X (default none: Adam)
  --data-dir DIR           folder holding the data set files
  --progress MODE          auto | epoch | variant | none (default auto: epoch lines on a terminal)
  --recipe grid|best       cnn: the assignment's grid (default), or the best recipe: VGG-style
                           3 blocks × 2 conv 3×3 (32-64-128) + BatchNormalization, max pooling,
                           dropout, RandomFlip + RandomTranslation in the model; defaults then
                           ${BEST_RECIPE_EPOCHS} epochs, batch ${BEST_RECIPE_BATCH}, --lr-schedule cosine, no early stopping
  --recipe-filters A,B,…   --recipe best: filters per block (default 32,64,128), one block each
  --recipe-convs N         --recipe best: Conv2D + BatchNormalization pairs per block (default 2)
  --recipe-dropout A,B,…   --recipe best: Dropout rate after each block (default 0.1,0.2,0.3: 0.1
                           more per block), one per block
  --lr-schedule constant|cosine
                           Adam learning rate constant (default) or CosineDecay to 0 over all
                           steps (default for --recipe best)
  --threads N|auto         threads each training batch is split over (engine trainer; default
                           auto; models with BatchNormalization train on one unless
                           --batch-statistics per-thread)
  --batch-statistics whole-batch|per-thread
                           BatchNormalization over a split batch: whole-batch statistics on one
                           thread (default, as Keras on one device) or each thread's slice's own,
                           moving statistics averaged (Keras synchronized=False on replicas)
  --conv auto|direct|winograd
                           Conv2D method of the engine's evaluation (default direct: the run
                           checks the engine against the reference; auto = Winograd for 3×3…7×7)
  --help                   this text
`;

const FAMILIES: readonly Family[] = ["cnn", "rnn", "lstm", "gru", "cnn1d", "transformer", "bow"];

/** Whether `family` is one of the recurrent text families. */
export function isRecurrentFamily(family: Family): family is RecurrentFamily {
  return family === "rnn" || family === "lstm" || family === "gru";
}
const IMAGE_DATASETS: readonly ImageDataset[] = ["cifar10", "mnist", "fashion-mnist"];

/** Parsed flags: a value, or `true` for a boolean flag. */
export type Raw = Map<string, string | true>;

const VALUE_FLAGS = new Set([
  "dataset",
  "language",
  "epochs",
  "trainer",
  "reference",
  "out",
  "seed",
  "batch-size",
  "learning-rate",
  "recurrent-init",
  "clipnorm",
  "study",
  "variants",
  "train-size",
  "train-languages",
  "repeats",
  "monitor",
  "sequence-length",
  "max-tokens",
  "embedding-dim",
  "dropout",
  "data-dir",
  "progress",
  "conv",
  "recipe",
  "lr-schedule",
  "threads",
  "batch-statistics",
  "reference-size",
  "recipe-filters",
  "recipe-convs",
  "recipe-dropout",
  "spatial-dropout",
  "recurrent-dropout",
  "weight-decay",
]);
const BOOLEAN_FLAGS = new Set([
  "quick",
  "force",
  "reduce-lr-on-plateau",
  "no-early-stopping",
  "imdb-protocol",
  "help",
]);
/** Flags that take an optional `=value`. */
const OPTIONAL_VALUE_FLAGS = new Set(["early-stopping"]);

/** The flags a family accepts: with a value, without, and with an optional `=value`. */
export interface FlagSet {
  value: ReadonlySet<string>;
  boolean: ReadonlySet<string>;
  optional?: ReadonlySet<string>;
}

/**
 * Splits `argv` into positional arguments and flags (`--name value`, `--name=value`, `--flag`).
 *
 * @throws {UsageError} an unknown flag, a flag given twice, or a value missing / not expected.
 */
export function splitArgs(
  argv: readonly string[],
  known: FlagSet = { value: VALUE_FLAGS, boolean: BOOLEAN_FLAGS, optional: OPTIONAL_VALUE_FLAGS },
): { positional: string[]; flags: Raw } {
  const positional: string[] = [];
  const flags: Raw = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (flags.has(name)) throw new UsageError(`--${name}`, "the flag once", "it twice");
    if (known.value.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith("--"))) {
        throw new UsageError(`--${name}`, "a value", "nothing");
      }
      flags.set(name, value);
    } else if (known.boolean.has(name)) {
      if (inline !== undefined) throw new UsageError(`--${name}`, "no value", `"${inline}"`);
      flags.set(name, true);
    } else if (known.optional?.has(name)) {
      flags.set(name, inline ?? true);
    } else {
      throw new UsageError(arg, "a known flag (see --help)", `"${arg}"`);
    }
  }
  return { positional, flags };
}

/** The string value of `--name`, if given. */
export function str(flags: Raw, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === "string" ? v : undefined;
}

/**
 * The integer value of `--name` (≥ `min`), or `fallback`.
 *
 * @throws {UsageError} not an integer ≥ `min`.
 */
export function int(flags: Raw, name: string, fallback: number, min = 1): number {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name}`, `an integer ≥ ${min}`, `"${v}"`);
  }
  return n;
}

/**
 * The number value of `--name` accepted by `ok` (`what` describes it), or `fallback`.
 *
 * @throws {UsageError} not a finite number accepted by `ok`.
 */
export function num(
  flags: Raw,
  name: string,
  fallback: number,
  ok: (n: number) => boolean,
  what: string,
): number {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || !ok(n)) {
    throw new UsageError(`--${name}`, what, `"${v}"`);
  }
  return n;
}

/**
 * The value of `--name`, one of `allowed`, or `fallback`.
 *
 * @throws {UsageError} a value outside `allowed`.
 */
export function oneOf<T extends string>(
  flags: Raw,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  return membersOf(`--${name}`, [v], allowed, `one of ${allowed.join(", ")}`)[0];
}

/**
 * `items`, each one of `allowed`.
 *
 * @throws {UsageError} naming `argument`, `expected` and the first item that is not allowed.
 */
export function membersOf<T extends string>(
  argument: string,
  items: readonly string[],
  allowed: readonly T[],
  expected: string,
): T[] {
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(argument, expected, `"${item}"`);
    }
  }
  return items as T[];
}

/**
 * The comma-separated values of `--name` (empty when absent).
 *
 * @throws {UsageError} a value with no item.
 */
export function list(flags: Raw, name: string): string[] {
  const v = str(flags, name);
  if (v === undefined) return [];
  const items = v.split(",").map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new UsageError(`--${name}`, "a comma-separated list", `"${v}"`);
  return items;
}

/**
 * `--train-languages A,B` or `all`: the NusaX languages other than `target` whose training splits
 * join the target's.
 *
 * @throws {UsageError} a name that is not a NusaX language, or the flag on an image family.
 */
function trainLanguageList(
  given: string[],
  text: boolean,
  target: NusaxLanguage,
): NusaxLanguage[] {
  if (!given.length) return [];
  if (!text) throw new UsageError("--train-languages", "a text family", "cnn");
  if (given.length === 1 && given[0] === "all") {
    return NUSAX_LANGUAGES.filter((l) => l !== target);
  }
  return membersOf(
    "--train-languages",
    given,
    NUSAX_LANGUAGES,
    `all, or some of ${NUSAX_LANGUAGES.join(", ")}`,
  ).filter((l) => l !== target);
}

/**
 * `--recipe-filters`: positive integers, one per block.
 *
 * @throws {UsageError} an item that is not an integer ≥ 1.
 */
function recipeFilters(flags: Raw): number[] {
  return list(flags, "recipe-filters").map((item) => {
    if (!/^[1-9]\d*$/.test(item)) {
      throw new UsageError("--recipe-filters", "integers ≥ 1 separated by commas", `"${item}"`);
    }
    return Number(item);
  });
}

/**
 * `--recipe-dropout`: rates in [0, 1), one per block.
 *
 * @throws {UsageError} an item that is not such a rate.
 */
function recipeDropout(flags: Raw): number[] {
  return list(flags, "recipe-dropout").map((item) => {
    const rate = Number(item);
    if (!/^\d*\.?\d+$/.test(item) || !(rate >= 0 && rate < 1)) {
      throw new UsageError("--recipe-dropout", "rates in [0, 1) separated by commas", `"${item}"`);
    }
    return rate;
  });
}

/** True when the arguments ask for `--help`. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

/**
 * Parses the CLI arguments (after the task name).
 *
 * @throws {UsageError} a missing family, unknown flag, or malformed value.
 */
export function parseExperimentArgs(argv: readonly string[]): ExperimentOptions {
  const { positional, flags } = splitArgs(argv);
  if (positional.length !== 1) {
    throw new UsageError(
      "family",
      `exactly one of ${FAMILIES.join(", ")}`,
      positional.length ? positional.map((p) => `"${p}"`).join(" ") : "nothing",
    );
  }
  const family = positional[0] as Family;
  if (!FAMILIES.includes(family)) {
    throw new UsageError("family", `one of ${FAMILIES.join(", ")}`, `"${positional[0]}"`);
  }
  const text = family !== "cnn";
  const dataset: DatasetName = text
    ? oneOf(flags, "dataset", ["nusax"] as const, "nusax")
    : oneOf(flags, "dataset", IMAGE_DATASETS, "cifar10");
  if (!text && flags.has("language")) {
    throw new UsageError("--language", "no --language for the cnn family", "one");
  }
  const language = oneOf(flags, "language", NUSAX_LANGUAGES, "indonesian");
  const quick = flags.has("quick");
  if (text && flags.has("recipe")) {
    throw new UsageError("--recipe", "the cnn family", family);
  }
  const trainer = oneOf(flags, "trainer", ["engine", "tfjs"] as const, "engine");
  const recipe = oneOf(flags, "recipe", ["grid", "best"] as const, "grid");
  const best = recipe === "best";
  if (best && trainer === "tfjs") {
    throw new UsageError(
      "--trainer",
      "engine with --recipe best (TF.js has no RandomFlip / RandomTranslation layers)",
      '"tfjs"',
    );
  }
  for (const flag of ["recipe-filters", "recipe-convs", "recipe-dropout"]) {
    if (!best && flags.has(flag)) throw new UsageError(`--${flag}`, "--recipe best", "no recipe");
  }
  const epochs = int(
    flags,
    "epochs",
    text ? (quick ? 2 : 20) : quick ? 1 : best ? BEST_RECIPE_EPOCHS : 10,
  );
  const reference = oneOf(flags, "reference", ["auto", "tfjs", "host"] as const, "auto");
  if (reference === "host" && !text) {
    throw new UsageError("--reference", "tfjs or auto for the cnn family", '"host"');
  }
  const imdb = flags.has("imdb-protocol");
  const recurrentInit = str(flags, "recurrent-init") ?? "orthogonal";
  if (!isRecurrentFamily(family) && flags.has("recurrent-init")) {
    throw new UsageError("--recurrent-init", "a recurrent family (rnn, lstm, gru)", family);
  }
  try {
    resolveInitializer(recurrentInit, "--recurrent-init");
  } catch {
    throw new UsageError(
      "--recurrent-init",
      "a Keras initializer name (orthogonal, glorot_uniform, he_normal, …)",
      `"${recurrentInit}"`,
    );
  }
  const clipnorm = flags.has("clipnorm")
    ? num(flags, "clipnorm", 1, (n) => n > 0, "a number > 0")
    : imdb
    ? 1
    : null;
  const noEarly = flags.has("no-early-stopping");
  const early = flags.get("early-stopping");
  if (noEarly && early !== undefined) {
    throw new UsageError("--no-early-stopping", "not together with --early-stopping", "both");
  }
  // Text: 100 validation texts make val_loss turn up epochs before accuracy stops improving
  // (measured on NusaX Indonesian: restoring the best val_loss epoch lost 0.02–0.16 macro-F1 on
  // BiLSTM / BiGRU over 3 seeds), so text runs keep the best val_accuracy epoch.
  const monitor = oneOf(
    flags,
    "monitor",
    ["val_loss", "val_accuracy"] as const,
    text ? "val_accuracy" : "val_loss",
  );
  if (noEarly && flags.has("monitor")) {
    throw new UsageError("--monitor", "early stopping (not --no-early-stopping)", "both");
  }
  const patience = typeof early === "string"
    ? int(new Map([["early-stopping", early]]), "early-stopping", 3)
    : 3;
  // The best recipe's cosine schedule decays over exactly --epochs: it stops only when asked.
  const earlyStopping = noEarly || (best && early === undefined) ? null : { patience, monitor };
  const lrSchedule = oneOf(
    flags,
    "lr-schedule",
    ["constant", "cosine"] as const,
    best ? "cosine" : "constant",
  );
  if (lrSchedule === "cosine" && (flags.has("reduce-lr-on-plateau") || imdb)) {
    throw new UsageError(
      "--lr-schedule",
      "constant with --reduce-lr-on-plateau / --imdb-protocol (Keras cannot set a scheduled rate)",
      '"cosine"',
    );
  }
  const threadsFlag = str(flags, "threads");
  if (threadsFlag !== undefined && threadsFlag !== "auto" && !/^[1-9]\d*$/.test(threadsFlag)) {
    throw new UsageError("--threads", "an integer ≥ 1 or auto", `"${threadsFlag}"`);
  }
  const threads = threadsFlag === undefined || threadsFlag === "auto"
    ? "auto"
    : Number(threadsFlag);
  const studies = list(flags, "study");
  const variants = list(flags, "variants");
  if (family === "bow") {
    // The bag-of-words MLP has no sequence and no embedding; its grid sets max_tokens.
    for (const flag of ["sequence-length", "embedding-dim", "spatial-dropout", "max-tokens"]) {
      if (flags.has(flag)) {
        throw new UsageError(
          `--${flag}`,
          flag === "max-tokens"
            ? "no --max-tokens for bow (its grid's tokens study sets max_tokens per variant)"
            : "a sequence family (bow has no sequence or embedding)",
          "bow",
        );
      }
    }
  }
  const trainSize = flags.has("train-size") ? int(flags, "train-size", 1) : null;
  const trainLanguages = trainLanguageList(list(flags, "train-languages"), text, language);
  const maxTokens = flags.has("max-tokens") ? int(flags, "max-tokens", 3, 3) : null;
  if (!text && flags.has("spatial-dropout")) {
    throw new UsageError("--spatial-dropout", "a text family", family);
  }
  const spatialDropout = num(
    flags,
    "spatial-dropout",
    0,
    (n) => n >= 0 && n < 1,
    "a rate in [0, 1)",
  );
  if (!isRecurrentFamily(family) && flags.has("recurrent-dropout")) {
    throw new UsageError("--recurrent-dropout", "rnn, lstm or gru", family);
  }
  const recurrentDropout = num(
    flags,
    "recurrent-dropout",
    0,
    (n) => n >= 0 && n < 1,
    "a rate in [0, 1)",
  );
  const weightDecay = flags.has("weight-decay")
    ? num(flags, "weight-decay", 0, (n) => n > 0, "a number > 0")
    : null;
  // Regularised runs get folders of their own beside the plain grid's.
  const regularised = (spatialDropout ? `-sd${spatialDropout}` : "") +
    (recurrentDropout ? `-rd${recurrentDropout}` : "") +
    (weightDecay !== null ? `-wd${weightDecay}` : "");
  const defaultOut = `experiments/${family}-${dataset}${text ? `-${language}` : ""}${
    best ? "-best" : ""
  }${regularised}${trainLanguages.length ? `-train${trainLanguages.length + 1}lang` : ""}${
    quick ? "-quick" : ""
  }`;
  return {
    family,
    dataset,
    language,
    epochs,
    quick,
    trainer,
    reference,
    out: str(flags, "out") ?? defaultOut,
    force: flags.has("force"),
    seed: int(flags, "seed", 42, 0),
    batchSize: int(flags, "batch-size", best ? BEST_RECIPE_BATCH : 32),
    learningRate: num(flags, "learning-rate", 1e-3, (n) => n > 0, "a number > 0"),
    recurrentInit,
    clipnorm,
    reduceLrOnPlateau: flags.has("reduce-lr-on-plateau") || imdb
      ? { factor: 0.5, patience: 2, minLr: 1e-5 }
      : null,
    earlyStopping,
    studies,
    variants,
    trainSize,
    trainLanguages,
    repeats: int(flags, "repeats", 1),
    sequenceLength: int(flags, "sequence-length", quick ? 32 : 64),
    maxTokens,
    embeddingDim: int(flags, "embedding-dim", 128),
    dropout: num(flags, "dropout", 0.5, (n) => n >= 0 && n < 1, "a rate in [0, 1)"),
    dataDir: str(flags, "data-dir") ?? null,
    progress: oneOf(flags, "progress", ["auto", "epoch", "variant", "none"] as const, "auto"),
    conv: oneOf(flags, "conv", CONV_ALGORITHMS, "direct"),
    recipe,
    lrSchedule,
    threads,
    batchStatistics: oneOf(
      flags,
      "batch-statistics",
      ["whole-batch", "per-thread"] as const,
      "whole-batch",
    ),
    referenceSize: flags.has("reference-size") ? int(flags, "reference-size", 1) : null,
    recipeFilters: flags.has("recipe-filters") ? recipeFilters(flags) : null,
    recipeConvs: flags.has("recipe-convs") ? int(flags, "recipe-convs", 2) : null,
    recipeDropout: flags.has("recipe-dropout") ? recipeDropout(flags) : null,
    spatialDropout,
    recurrentDropout,
    weightDecay,
  };
}
