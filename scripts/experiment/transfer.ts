/**
 * `deno task experiment transfer`: pretrain a small CNN on a source data set (Fashion-MNIST, or
 * MNIST digits 0–4), save it as `.keras`, then for each labelled-sample count of the target data
 * set (MNIST, or digits 5–9) load the file, keep its convolutional base frozen under a new head,
 * train the head, unfreeze the top convolution with a small learning rate and train again —
 * against the same architecture trained from scratch on the same samples for as many epochs.
 * Reports macro-F1 of both per count, loss curves, how many labelled samples transfer saves, and
 * the engine vs TF.js on every saved model.
 */
import { join } from "node:path";
import { buildModel, type KerasObject, type Logs, type Model } from "@scratchnet/engine";
import { loadModel } from "@scratchnet/keras-importer";
import { type ExperimentData, type LabelledSplit, loadImageData } from "./data.ts";
import { UsageError } from "./errors.ts";
import { cnnConfig } from "./models.ts";
import { int, list, num, oneOf, splitArgs, str } from "./options.ts";
import type { ExperimentProgress } from "./progress.ts";
import { macroF1OfProbs } from "./results.ts";
import { checkOutputDir } from "./run.ts";
import {
  COMMON_BOOLEAN_FLAGS,
  COMMON_VALUE_FLAGS,
  type CommonOptions,
  compileClassifier,
  e2,
  environment,
  epochsFor,
  f4,
  filterClasses,
  firstN,
  fitLogged,
  labels,
  parseCommon,
  perClassSubset,
  type ReferenceCheck,
  saveAndCheck,
} from "./study_common.ts";
import { lineChart, paletteColor, type Series } from "./svg_plot.ts";
import { KERAS_VERSION } from "./train.ts";

/** Source → target pairs: Fashion-MNIST → MNIST, or MNIST digits 0–4 → digits 5–9. */
export type TransferSource = "fashion-mnist" | "digits";

/** Options of the transfer family. */
export interface TransferOptions extends CommonOptions {
  source: TransferSource;
  /** Labelled target samples per class for each run (null = every training sample). */
  samples: (number | null)[];
  /** Source training images used for pretraining (null = all 50k). */
  pretrainSize: number | null;
  pretrainEpochs: number;
  /** Epochs of the head with the base frozen (at least, see `minSteps`). */
  epochs: number;
  /** Epochs after unfreezing the top convolution (0: no second phase). */
  fineTuneEpochs: number;
  fineTuneLearningRate: number;
  /** Each phase runs at least this many gradient steps (few samples → more epochs). */
  minSteps: number;
  /** Target validation images (only for the loss curves: nothing is selected on them). */
  validationSize: number;
  /** Test images of each data set (null = all 10k). */
  testSize: number | null;
  /** Fashion-MNIST folder (null = the usual places). */
  sourceDataDir: string | null;
}

/** The `--help` text of the transfer family. */
export const TRANSFER_USAGE: string = `deno task experiment transfer [options]

Pretrains a CNN (Conv2D 16 → MaxPool → Conv2D 32 → MaxPool → Dense 64 → Dropout → softmax) on the
source data set, saves it as .keras, and for each labelled-sample count of the target data set
fine-tunes it (base frozen under a new head, then the top convolution unfrozen with a small
learning rate) against the same architecture trained from scratch on the same samples.

  --source fashion-mnist|digits  fashion-mnist: Fashion-MNIST → MNIST (default);
                           digits: MNIST digits 0–4 → digits 5–9
  --samples A,B,…          labelled target samples per class, or "all" (default 10,50,100,500;
                           --quick 5,20)
  --pretrain-size N        source training images for pretraining (default 12000; --quick 512)
  --pretrain-epochs N      default 3 (--quick 1)
  --epochs N               head epochs with the base frozen (default 10; --quick 2); scratch
                           trains as many epochs as both transfer phases
  --fine-tune-epochs N     epochs after unfreezing the top convolution (default 5; --quick 1;
                           0 skips this phase)
  --fine-tune-learning-rate X  default 0.0001
  --min-steps N            each phase takes at least N gradient steps (default 200; --quick 8)
  --validation-size N      target validation images for the loss curves (default 500; --quick 128)
  --test-size N|all        test images of each data set (default all; --quick 256)
  --reference-size N       test images TF.js checks each saved model on (default 1000;
                           --quick 128)
  --learning-rate X        Adam learning rate of pretraining, head and scratch (default 0.001)
  --batch-size N           default 32
  --seed N                 default 42 (initial weights, shuffling, dropout, sample draws)
  --out DIR                default experiments/transfer[-quick]
  --force                  overwrite results already in --out
  --data-dir DIR           MNIST folder;  --source-data-dir DIR  Fashion-MNIST folder
  --progress MODE          auto | epoch | variant | none
  --conv auto|direct|winograd  Conv2D method of the engine's evaluation (default direct)
  --quick                  tiny slices (seconds; what the tests run)
`;

const VALUE = new Set([
  ...COMMON_VALUE_FLAGS,
  "source",
  "samples",
  "pretrain-size",
  "pretrain-epochs",
  "fine-tune-epochs",
  "fine-tune-learning-rate",
  "min-steps",
  "validation-size",
  "test-size",
  "source-data-dir",
]);

/**
 * Parses `deno task experiment transfer …`.
 *
 * @throws {UsageError} an unknown flag or a malformed value, naming the flag.
 */
export function parseTransferArgs(argv: readonly string[]): TransferOptions {
  const { positional, flags } = splitArgs(argv, {
    value: VALUE,
    boolean: new Set(COMMON_BOOLEAN_FLAGS),
  });
  if (positional.length !== 1 || positional[0] !== "transfer") {
    throw new UsageError(
      "family",
      "transfer and no other positional argument",
      positional.join(" "),
    );
  }
  const common = parseCommon(flags, "transfer", { referenceSize: 1000 });
  const q = common.quick;
  const samples = flags.has("samples")
    ? list(flags, "samples").map((s) => {
      if (s === "all") return null;
      const n = Number(s);
      if (!/^\d+$/.test(s) || n < 1) {
        throw new UsageError("--samples", 'integers ≥ 1 or "all"', `"${s}"`);
      }
      return n;
    })
    : q
    ? [5, 20]
    : [10, 50, 100, 500];
  const sorted = [...samples].sort((a, b) => (a ?? Infinity) - (b ?? Infinity));
  if (new Set(samples).size !== samples.length) {
    throw new UsageError("--samples", "distinct counts", `"${str(flags, "samples")}"`);
  }
  const testSize = str(flags, "test-size") === "all"
    ? null
    : flags.has("test-size")
    ? int(flags, "test-size", 1)
    : q
    ? 256
    : null;
  return {
    ...common,
    source: oneOf(flags, "source", ["fashion-mnist", "digits"] as const, "fashion-mnist"),
    samples: sorted,
    pretrainSize: int(flags, "pretrain-size", q ? 512 : 12000),
    pretrainEpochs: int(flags, "pretrain-epochs", q ? 1 : 3),
    epochs: int(flags, "epochs", q ? 2 : 10),
    fineTuneEpochs: int(flags, "fine-tune-epochs", q ? 1 : 5, 0),
    fineTuneLearningRate: num(
      flags,
      "fine-tune-learning-rate",
      1e-4,
      (n) => n > 0,
      "a number > 0",
    ),
    minSteps: int(flags, "min-steps", q ? 8 : 200, 0),
    validationSize: int(flags, "validation-size", q ? 128 : 500),
    testSize,
    sourceDataDir: str(flags, "source-data-dir") ?? null,
  };
}

/** One labelled-sample count: transfer and scratch on the same samples. */
export interface TransferRow {
  /** Per class (null = every training sample). */
  perClass: number | null;
  /** Labelled target samples used. */
  labelled: number;
  transfer: {
    /** Test macro-F1 with the base frozen (after the head phase). */
    frozenMacroF1: number;
    /** Test macro-F1 after unfreezing the top block (= frozen when that phase is skipped). */
    macroF1: number;
    accuracy: number;
    headEpochs: number;
    fineTuneEpochs: number;
    /** Per epoch over both phases. */
    history: { loss: number[]; val_loss: number[] };
    trainSeconds: number;
    reference: ReferenceCheck;
  };
  scratch: {
    macroF1: number;
    accuracy: number;
    epochs: number;
    history: { loss: number[]; val_loss: number[] };
    trainSeconds: number;
    reference: ReferenceCheck;
  };
}

/** What `results.json` of a transfer run holds. */
export interface TransferResults {
  schemaVersion: 1;
  family: "transfer";
  source: { name: string; train: number; test: number; classes: string[] };
  target: { name: string; validation: number; test: number; classes: string[] };
  settings: Record<string, unknown>;
  environment: Record<string, unknown>;
  pretrained: {
    modelFile: string;
    params: number;
    epochs: number;
    history: { loss: number[]; val_loss: number[] };
    sourceTestMacroF1: number;
    trainSeconds: number;
    reference: ReferenceCheck;
  };
  /** Layers frozen in the head phase, and those unfrozen afterwards. */
  frozen: string[];
  unfrozen: string[];
  rows: TransferRow[];
  samplesSaved: SamplesSaved;
  wallClockSeconds: number;
}

/** How many labelled samples transfer saves. */
export interface SamplesSaved {
  /** Transfer's macro-F1 at the smallest count. */
  target: number;
  /** Labelled samples of the smallest count. */
  transferLabelled: number;
  /** The smallest count whose scratch macro-F1 reaches `target`, or null ("not reached"). */
  scratchLabelled: number | null;
  /** `scratchLabelled − transferLabelled`, or null. */
  saved: number | null;
}

/**
 * The smallest labelled count whose scratch macro-F1 reaches transfer's macro-F1 at the smallest
 * count (rows sorted by count).
 */
export function samplesSaved(rows: readonly TransferRow[]): SamplesSaved {
  if (!rows.length) {
    return { target: NaN, transferLabelled: 0, scratchLabelled: null, saved: null };
  }
  const target = rows[0].transfer.macroF1;
  const hit = rows.find((r) => r.scratch.macroF1 >= target);
  return {
    target,
    transferLabelled: rows[0].labelled,
    scratchLabelled: hit?.labelled ?? null,
    saved: hit ? hit.labelled - rows[0].labelled : null,
  };
}

/** The CNN of every model in this family (same architecture for source, transfer and scratch). */
export function transferConfig(classes: number, name: string): KerasObject {
  return cnnConfig(
    { convLayers: 2, filters: [16, 32], kernelSizes: [3, 3], pooling: "max" },
    { input: [28, 28, 1], classes, hiddenUnits: 64, dropout: 0.25 },
    name,
  );
}

/** The convolutional base (frozen at first) and its top block (unfrozen for fine-tuning). */
export const BASE_LAYERS = ["conv2d_0", "conv2d_1"] as const;
const TOP_BLOCK = ["conv2d_1"] as const;

interface Pair {
  name: string;
  classes: string[];
  train: LabelledSplit;
  validation: LabelledSplit;
  test: LabelledSplit;
  source: string;
}

async function loadPairs(o: TransferOptions): Promise<{ source: Pair; target: Pair }> {
  const mnist = await loadImageData({
    dataset: "mnist",
    dataDir: o.dataDir,
    quick: false,
    trainSize: null,
    seed: o.seed,
  });
  const cut = (
    d: ExperimentData,
    name: string,
    classes: string[],
    f?: (l: number) => boolean,
    shift = 0,
  ) => {
    const pick = (s: LabelledSplit) => f ? filterClasses(s, f, (l) => l - shift) : s;
    return {
      name,
      classes,
      train: pick(d.train),
      validation: firstN(pick(d.validation), o.validationSize),
      test: firstN(pick(d.test), o.testSize),
      source: d.source,
    };
  };
  if (o.source === "digits") {
    return {
      source: cut(mnist, "mnist digits 0–4", ["0", "1", "2", "3", "4"], (l) => l < 5),
      target: cut(mnist, "mnist digits 5–9", ["5", "6", "7", "8", "9"], (l) => l >= 5, 5),
    };
  }
  const fashion = await loadImageData({
    dataset: "fashion-mnist",
    dataDir: o.sourceDataDir,
    quick: false,
    trainSize: null,
    seed: o.seed,
  });
  return {
    source: cut(fashion, "fashion-mnist", fashion.labelNames),
    target: cut(mnist, "mnist", mnist.labelNames),
  };
}

function scoreOn(model: Model, split: LabelledSplit, classes: number): [number, number] {
  const probs = model.predict(split.x, { batchSize: 64 }).data as Float32Array;
  const f1 = macroF1OfProbs(split.y, probs, classes);
  let correct = 0;
  for (let r = 0; r < split.y.length; r++) {
    let a = 0;
    for (let c = 1; c < classes; c++) if (probs[r * classes + c] > probs[r * classes + a]) a = c;
    if (a === split.y[r]) correct++;
  }
  return [f1, correct / Math.max(1, split.y.length)];
}

function curves(h: Record<string, number[]>): { loss: number[]; val_loss: number[] } {
  return { loss: [...(h.loss ?? [])], val_loss: [...(h.val_loss ?? [])] };
}

/**
 * Runs the transfer study and writes `results.json`, `report.md`, `plots/*.svg` and
 * `models/*.keras` into `o.out`.
 *
 * @throws {OutputExistsError} `o.out` holds results and `o.force` is false.
 */
export async function runTransfer(
  o: TransferOptions,
  progress: ExperimentProgress,
): Promise<TransferResults> {
  const started = new Date();
  const t0 = performance.now();
  checkOutputDir(o.out, o.force);
  const { source, target } = await loadPairs(o);
  const classes = target.classes.length;
  const pretrainTrain = firstN(source.train, o.pretrainSize);
  progress.info(
    `source ${source.name}: ${pretrainTrain.y.length} pretraining / ${source.validation.y.length} ` +
      `validation / ${source.test.y.length} test; target ${target.name}: ` +
      `${target.train.y.length} labelled pool / ${target.validation.y.length} validation / ` +
      `${target.test.y.length} test`,
  );
  await Deno.mkdir(join(o.out, "models"), { recursive: true });
  const refX = (s: LabelledSplit) => firstN(s, o.referenceSize).x;
  const total = o.samples.length + 1;

  // 1. Pretrain on the source and save the .keras file the fine-tuning runs start from.
  progress.variantStart(0, total, "pretrained", `pretrain on ${source.name}`);
  const tp = performance.now();
  const pre = buildModel({
    config: transferConfig(source.classes.length, "pretrained"),
    weights: {},
    kerasVersion: KERAS_VERSION,
  }, { initialize: { seed: o.seed }, convAlgorithm: o.conv });
  let pretrained: TransferResults["pretrained"];
  try {
    compileClassifier(pre, o.learningRate, o.seed);
    const h = await fitLogged(
      pre,
      pretrainTrain.x,
      labels(pretrainTrain.y),
      [source.validation.x, labels(source.validation.y)],
      { epochs: o.pretrainEpochs, batchSize: o.batchSize, seed: o.seed },
      (e, l) => progress.epoch("pretrained", e, o.pretrainEpochs, l),
    );
    const trainSeconds = (performance.now() - tp) / 1000;
    const [sourceF1] = scoreOn(pre, source.test, source.classes.length);
    const reference = await saveAndCheck(
      pre.toSpec(),
      o.out,
      "models/pretrained.keras",
      refX(source.test),
      o.conv,
      source.classes.length,
    );
    delete (reference as Partial<typeof reference>).engineOutput;
    pretrained = {
      modelFile: "models/pretrained.keras",
      params: pre.countParams(),
      epochs: o.pretrainEpochs,
      history: curves(h),
      sourceTestMacroF1: sourceF1,
      trainSeconds,
      reference,
    };
  } finally {
    pre.dispose();
  }
  progress.variantEnd(
    0,
    total,
    "pretrained",
    `${source.name} test macro-F1 ${f4(pretrained.sourceTestMacroF1)}, ` +
      `${pretrained.trainSeconds.toFixed(1)}s`,
  );
  // What a user would do: read the saved file back, keep its base.
  const base = (await loadModel(join(o.out, pretrained.modelFile))).spec;
  const baseWeights = Object.fromEntries(BASE_LAYERS.map((n) => [n, base.weights[n]]));

  const rows: TransferRow[] = [];
  for (const [i, perClass] of o.samples.entries()) {
    const id = perClass === null ? "all" : String(perClass);
    const train = perClassSubset(target.train, perClass, classes, o.seed);
    const n = train.y.length;
    progress.variantStart(i + 1, total, id, `${id} per class (${n} labelled)`);
    const headEpochs = epochsFor(n, o.batchSize, o.epochs, o.minSteps);
    const ftEpochs = o.fineTuneEpochs === 0 ? 0 : epochsFor(
      n,
      o.batchSize,
      o.fineTuneEpochs,
      Math.round((o.minSteps * o.fineTuneEpochs) / o.epochs),
    );
    const validation: [typeof train.x, ReturnType<typeof labels>] = [
      target.validation.x,
      labels(target.validation.y),
    ];
    const fitOpts = (epochs: number) => ({ epochs, batchSize: o.batchSize, seed: o.seed });

    // Transfer: the saved base under a new head (initialized from the config), base frozen.
    const ts = performance.now();
    const tm = buildModel({
      config: transferConfig(classes, `transfer_${id}`),
      weights: baseWeights,
      kerasVersion: KERAS_VERSION,
    }, { initialize: { seed: o.seed + 1 }, convAlgorithm: o.conv });
    let transfer: TransferRow["transfer"];
    try {
      for (const l of BASE_LAYERS) tm.setTrainable(l, false);
      compileClassifier(tm, o.learningRate, o.seed);
      const tag = `transfer_${id}`;
      const h1 = await fitLogged(
        tm,
        train.x,
        labels(train.y),
        validation,
        fitOpts(headEpochs),
        (e, l: Logs) => progress.epoch(`${tag} head`, e, headEpochs, l),
      );
      const [frozenF1] = scoreOn(tm, target.test, classes);
      const history = curves(h1);
      if (ftEpochs > 0) {
        for (const l of TOP_BLOCK) tm.setTrainable(l, true);
        compileClassifier(tm, o.fineTuneLearningRate, o.seed);
        const h2 = await fitLogged(
          tm,
          train.x,
          labels(train.y),
          validation,
          fitOpts(ftEpochs),
          (e, l: Logs) => progress.epoch(`${tag} fine-tune`, e, ftEpochs, l),
        );
        history.loss.push(...(h2.loss ?? []));
        history.val_loss.push(...(h2.val_loss ?? []));
      }
      const trainSeconds = (performance.now() - ts) / 1000;
      const [f1, accuracy] = scoreOn(tm, target.test, classes);
      const reference = await saveAndCheck(
        tm.toSpec(),
        o.out,
        `models/transfer_${id}.keras`,
        refX(target.test),
        o.conv,
        classes,
      );
      delete (reference as Partial<typeof reference>).engineOutput;
      transfer = {
        frozenMacroF1: frozenF1,
        macroF1: f1,
        accuracy,
        headEpochs,
        fineTuneEpochs: ftEpochs,
        history,
        trainSeconds,
        reference,
      };
    } finally {
      tm.dispose();
    }

    // Scratch: the same architecture and samples, as many epochs as both transfer phases.
    const ss = performance.now();
    const scratchEpochs = headEpochs + ftEpochs;
    const sm = buildModel({
      config: transferConfig(classes, `scratch_${id}`),
      weights: {},
      kerasVersion: KERAS_VERSION,
    }, { initialize: { seed: o.seed + 1 }, convAlgorithm: o.conv });
    let scratch: TransferRow["scratch"];
    try {
      compileClassifier(sm, o.learningRate, o.seed);
      const h = await fitLogged(
        sm,
        train.x,
        labels(train.y),
        validation,
        fitOpts(scratchEpochs),
        (e, l: Logs) => progress.epoch(`scratch_${id}`, e, scratchEpochs, l),
      );
      const trainSeconds = (performance.now() - ss) / 1000;
      const [f1, accuracy] = scoreOn(sm, target.test, classes);
      const reference = await saveAndCheck(
        sm.toSpec(),
        o.out,
        `models/scratch_${id}.keras`,
        refX(target.test),
        o.conv,
        classes,
      );
      delete (reference as Partial<typeof reference>).engineOutput;
      scratch = {
        macroF1: f1,
        accuracy,
        epochs: scratchEpochs,
        history: curves(h),
        trainSeconds,
        reference,
      };
    } finally {
      sm.dispose();
    }
    rows.push({ perClass, labelled: n, transfer, scratch });
    progress.variantEnd(
      i + 1,
      total,
      id,
      `transfer macro-F1 ${f4(transfer.macroF1)} (frozen ${f4(transfer.frozenMacroF1)}), ` +
        `scratch ${f4(scratch.macroF1)}`,
    );
  }

  const results: TransferResults = {
    schemaVersion: 1,
    family: "transfer",
    source: {
      name: source.name,
      train: pretrainTrain.y.length,
      test: source.test.y.length,
      classes: source.classes,
    },
    target: {
      name: target.name,
      validation: target.validation.y.length,
      test: target.test.y.length,
      classes: target.classes,
    },
    settings: {
      quick: o.quick,
      seed: o.seed,
      batchSize: o.batchSize,
      optimizer: "adam",
      learningRate: o.learningRate,
      fineTuneLearningRate: o.fineTuneLearningRate,
      pretrainEpochs: o.pretrainEpochs,
      epochs: o.epochs,
      fineTuneEpochs: o.fineTuneEpochs,
      minSteps: o.minSteps,
      samples: o.samples,
      conv: o.conv,
      referenceSize: o.referenceSize,
      dataSources: [...new Set([source.source, target.source])],
    },
    environment: environment(started),
    pretrained,
    frozen: [...BASE_LAYERS],
    unfrozen: o.fineTuneEpochs > 0 ? [...TOP_BLOCK] : [],
    rows,
    samplesSaved: samplesSaved(rows),
    wallClockSeconds: 0,
  };
  results.wallClockSeconds = (performance.now() - t0) / 1000;
  await writeTransferReport(o.out, results);
  return results;
}

const countName = (r: TransferRow) => (r.perClass === null ? "all" : String(r.perClass));

/** Train (solid) and validation (dashed) loss of transfer and scratch at one count. */
export function transferLossChart(r: TransferRow): string {
  const series: Series[] = [
    { label: "transfer train", values: r.transfer.history.loss, color: paletteColor(0) },
    {
      label: "transfer val",
      values: r.transfer.history.val_loss,
      color: paletteColor(0),
      dashed: true,
    },
    { label: "scratch train", values: r.scratch.history.loss, color: paletteColor(1) },
    {
      label: "scratch val",
      values: r.scratch.history.val_loss,
      color: paletteColor(1),
      dashed: true,
    },
  ];
  const ft = r.transfer.fineTuneEpochs
    ? ` (transfer: top block unfrozen after epoch ${r.transfer.headEpochs})`
    : "";
  return lineChart(`${countName(r)} per class: loss per epoch${ft}`, series, {
    yLabel: "sparse categorical cross-entropy",
    width: 860,
  });
}

/** Test macro-F1 of transfer and scratch against the sample counts (points in count order). */
export function transferF1Chart(results: TransferResults): string {
  const rows = results.rows;
  return lineChart(
    "Test macro-F1 per labelled-sample count",
    [
      { label: "transfer", values: rows.map((r) => r.transfer.macroF1), color: paletteColor(0) },
      {
        label: "transfer, frozen base",
        values: rows.map((r) => r.transfer.frozenMacroF1),
        color: paletteColor(0),
        dashed: true,
      },
      { label: "scratch", values: rows.map((r) => r.scratch.macroF1), color: paletteColor(1) },
    ],
    { xLabel: `samples per class: ${rows.map(countName).join(", ")}`, yLabel: "macro-F1" },
  );
}

/** The Markdown table of macro-F1 per count. */
export function transferTable(results: TransferResults): string {
  const lines = [
    "| samples / class | labelled | transfer, frozen base | transfer, top block unfrozen | " +
    "scratch | Δ (transfer − scratch) | transfer epochs (head + fine-tune) | scratch epochs | " +
    "training s (transfer / scratch) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results.rows) {
    lines.push(
      `| ${countName(r)} | ${r.labelled} | ${f4(r.transfer.frozenMacroF1)} | ` +
        `**${f4(r.transfer.macroF1)}** | **${f4(r.scratch.macroF1)}** | ` +
        `${(r.transfer.macroF1 - r.scratch.macroF1 >= 0 ? "+" : "")}${
          (r.transfer.macroF1 - r.scratch.macroF1).toFixed(4)
        } | ${r.transfer.headEpochs} + ${r.transfer.fineTuneEpochs} | ${r.scratch.epochs} | ` +
        `${r.transfer.trainSeconds.toFixed(1)} / ${r.scratch.trainSeconds.toFixed(1)} |`,
    );
  }
  return lines.join("\n");
}

/** Engine vs TF.js, one row per saved model. */
export function transferReferenceTable(results: TransferResults): string {
  const checks = [
    results.pretrained.reference,
    ...results.rows.flatMap((r) => [r.transfer.reference, r.scratch.reference]),
  ];
  const lines = [
    "| model | test images | argmax agreement | max \\|Δp\\| | engine s | TF.js s |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const c of checks) {
    lines.push(
      `| \`${c.modelFile}\` | ${c.samples} | ${
        c.agreement === null ? "–" : `${(100 * c.agreement).toFixed(1)}%`
      } | ${e2(c.maxAbsDiff)} | ${c.engineSeconds.toFixed(2)} | ${c.referenceSeconds.toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

/** Sentences drawn from the numbers. */
export function transferConclusion(results: TransferResults): string[] {
  const out: string[] = [];
  const rows = results.rows;
  out.push(
    `Pretrained on ${results.source.train} ${results.source.name} images: source test macro-F1 ` +
      `${f4(results.pretrained.sourceTestMacroF1)}.`,
  );
  const wins = rows.filter((r) => r.transfer.macroF1 > r.scratch.macroF1);
  if (rows.length) {
    out.push(
      `Transfer beat scratch at ${wins.length} of ${rows.length} sample counts` +
        (wins.length
          ? ` (${
            wins.map((r) =>
              `${countName(r)}/class: +${(r.transfer.macroF1 - r.scratch.macroF1).toFixed(4)}`
            ).join(", ")
          })`
          : "") +
        ".",
    );
    const helped = rows.filter((r) => r.transfer.fineTuneEpochs > 0);
    if (helped.length) {
      const up = helped.filter((r) => r.transfer.macroF1 > r.transfer.frozenMacroF1).length;
      out.push(
        `Unfreezing the top block (lr ${results.settings.fineTuneLearningRate}) raised macro-F1 ` +
          `over the frozen base at ${up} of ${helped.length} counts.`,
      );
    }
  }
  const s = results.samplesSaved;
  out.push(
    s.scratchLabelled === null
      ? `Samples saved: scratch did not reach transfer's macro-F1 at ${s.transferLabelled} ` +
        `labelled samples (${f4(s.target)}) at any count run — **not reached** up to ` +
        `${rows.at(-1)?.labelled ?? 0} labelled samples.`
      : s.saved === 0
      ? `Samples saved: none — scratch already reached transfer's macro-F1 (${f4(s.target)}) ` +
        `at the smallest count (${s.transferLabelled} labelled samples).`
      : `Samples saved: scratch first matched transfer's macro-F1 at ${s.transferLabelled} ` +
        `labelled samples (${f4(s.target)}) with **${s.scratchLabelled}** labelled samples ` +
        `(the counts are a coarse grid: transfer saves up to ${s.saved} labels, ` +
        `${(s.scratchLabelled / Math.max(1, s.transferLabelled)).toFixed(1)}× fewer).`,
  );
  const checks = [
    results.pretrained.reference,
    ...rows.flatMap((r) => [r.transfer.reference, r.scratch.reference]),
  ];
  const worst = Math.max(...checks.map((c) => c.maxAbsDiff));
  const minAgree = Math.min(...checks.map((c) => c.agreement ?? 1));
  out.push(
    `Engine vs TF.js on the ${checks.length} reloaded .keras files: max |Δp| ${e2(worst)}, ` +
      `argmax agreement ≥ ${(100 * minAgree).toFixed(1)}%.`,
  );
  if (results.settings.quick) {
    out.push(
      "This was a --quick run on small slices: the numbers check the pipeline, not the method.",
    );
  }
  return out;
}

/** The whole `report.md` of a transfer run. */
export function transferReportMarkdown(results: TransferResults): string {
  const s = results.settings;
  const e = results.environment;
  const parts = [
    `# TRANSFER experiment: ${results.source.name} → ${results.target.name}`,
    "",
    `- source: ${results.source.name}, ${results.source.train} training images, ` +
    `${results.source.test} test; pretrained ${s.pretrainEpochs} epochs ` +
    `(${results.pretrained.params} parameters), saved as \`${results.pretrained.modelFile}\``,
    `- target: ${results.target.name}, labelled samples drawn per class (seeded, nested), ` +
    `${results.target.validation} validation images (loss curves only: nothing is selected on ` +
    `them), ${results.target.test} test images`,
    `- transfer: the saved file reloaded, base ${
      results.frozen.map((l) => `\`${l}\``).join(", ")
    } ` +
    `frozen under a new head (Dense 64 → Dropout 0.25 → softmax, freshly initialized), Adam lr ` +
    `${s.learningRate} for ≥ ${s.epochs} epochs; then ` +
    (results.unfrozen.length
      ? `${results.unfrozen.map((l) => `\`${l}\``).join(", ")} unfrozen, Adam lr ` +
        `${s.fineTuneLearningRate} for ≥ ${s.fineTuneEpochs} epochs`
      : "no fine-tuning phase") +
    `; each phase takes at least ${s.minSteps} steps (batch ${s.batchSize})`,
    `- scratch: the same architecture, seed and samples, Adam lr ${s.learningRate} for as many ` +
    `epochs as both transfer phases`,
    `- run: ${results.wallClockSeconds.toFixed(0)} s wall-clock, Deno ${e.deno} on ${e.os}/` +
    `${e.arch} (${e.cpus} CPUs), started ${e.startedAt}`,
    "",
    "## Conclusion",
    "",
    ...transferConclusion(results).map((l) => `- ${l}`),
    "",
    "## Macro-F1 per labelled-sample count",
    "",
    transferTable(results),
    "",
    "![macro-F1 per count](plots/f1.svg)",
    "",
    "## Loss curves",
    "",
    "Solid lines: training loss; dashed: validation loss (target validation images).",
  ];
  for (const r of results.rows) {
    parts.push("", `![${countName(r)} per class](plots/loss_${countName(r)}.svg)`);
  }
  parts.push(
    "",
    "## Engine vs TF.js",
    "",
    `Each model saved as \`.keras\`, reloaded through the importer, and run by the engine and by ` +
      `TF.js (cpu) with the same weights on the first ${s.referenceSize} test images of its data ` +
      `set.`,
    "",
    transferReferenceTable(results),
  );
  return parts.join("\n") + "\n";
}

/** Writes `results.json`, `report.md` and `plots/*.svg` into `out`. */
export async function writeTransferReport(out: string, results: TransferResults): Promise<void> {
  await Deno.mkdir(join(out, "plots"), { recursive: true });
  for (const r of results.rows) {
    await Deno.writeTextFile(join(out, "plots", `loss_${countName(r)}.svg`), transferLossChart(r));
  }
  await Deno.writeTextFile(join(out, "plots", "f1.svg"), transferF1Chart(results));
  await Deno.writeTextFile(join(out, "results.json"), JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(join(out, "report.md"), transferReportMarkdown(results));
}
