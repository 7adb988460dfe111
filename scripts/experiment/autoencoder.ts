/**
 * `deno task experiment autoencoder`: a convolutional autoencoder on MNIST — encoder Conv2D /
 * MaxPooling2D ×2 → Dense code (32-d), decoder Dense → Reshape → Conv2DTranspose ×2 (or
 * UpSampling2D + Conv2D) → sigmoid — trained to reconstruct its input. Reports the
 * reconstruction MSE per epoch, a grid of test inputs vs reconstructions (PNG, and an SVG that
 * embeds it), the codes' linear-probe accuracy (a Dense softmax on the frozen codes of the
 * training images, scored on the test images; beside the same probe on the untrained encoder's
 * codes), and the engine vs TF.js on the reloaded `.keras` file.
 */
import { join } from "node:path";
import { Adam, buildModel, type KerasObject, type Model, Tensor } from "@scratchnet/engine";
import { type LabelledSplit, loadImageData } from "./data.ts";
import { UsageError } from "./errors.ts";
import { encodeGrayPng, pngGridSvg, tile } from "./image_grid.ts";
import { kerasInitializer } from "./models.ts";
import { int, oneOf, splitArgs } from "./options.ts";
import type { ExperimentProgress } from "./progress.ts";
import { checkOutputDir } from "./run.ts";
import {
  COMMON_BOOLEAN_FLAGS,
  COMMON_VALUE_FLAGS,
  type CommonOptions,
  compileClassifier,
  e2,
  environment,
  f4,
  firstN,
  fitLogged,
  labels,
  parseCommon,
  type ReferenceCheck,
  saveAndCheck,
} from "./study_common.ts";
import { lineChart, paletteColor } from "./svg_plot.ts";
import { KERAS_VERSION } from "./train.ts";

/** Decoder upsampling: strided Conv2DTranspose, or UpSampling2D (nearest) + Conv2D. */
export type DecoderKind = "transpose" | "upsampling";

/** Options of the autoencoder family. */
export interface AutoencoderOptions extends CommonOptions {
  epochs: number;
  /** MNIST training images (null = all 50k). */
  trainSize: number | null;
  validationSize: number;
  testSize: number | null;
  codeDim: number;
  decoder: DecoderKind;
  loss: "mse" | "binary_crossentropy";
  probeEpochs: number;
}

/** The `--help` text of the autoencoder family. */
export const AUTOENCODER_USAGE: string = `deno task experiment autoencoder [options]

Trains a convolutional autoencoder on MNIST (Conv2D 16 → MaxPool → Conv2D 32 → MaxPool → Dense
code; Dense → Reshape 7×7×32 → Conv2DTranspose 16 s2 → Conv2DTranspose 1 s2 sigmoid), reports the
reconstruction MSE per epoch, a grid of inputs vs reconstructions, the codes' linear-probe
accuracy, and the engine vs TF.js on the saved .keras file.

  --epochs N               default 6 (--quick 3)
  --train-size N|all       MNIST training images (default 10000; --quick 512)
  --validation-size N      validation images (default 1000; --quick 128)
  --test-size N|all        test images (default all; --quick 256)
  --code-dim N             size of the code (default 32)
  --decoder transpose|upsampling  Conv2DTranspose (default) or UpSampling2D + Conv2D
  --loss mse|binary_crossentropy  training loss (default mse; MSE is reported either way)
  --probe-epochs N         linear probe's epochs (default 30; --quick 10)
  --reference-size N       test images TF.js checks the saved model on (default 2000;
                           --quick 128)
  --learning-rate X        Adam learning rate (default 0.001)
  --batch-size N           default 32
  --seed N                 default 42
  --out DIR                default experiments/autoencoder[-quick]
  --force                  overwrite results already in --out
  --data-dir DIR           MNIST folder
  --progress MODE          auto | epoch | variant | none
  --conv auto|direct|winograd  Conv2D method of the engine's evaluation (default direct)
  --quick                  tiny slices (seconds; what the tests run)
`;

const VALUE = new Set([
  ...COMMON_VALUE_FLAGS,
  "train-size",
  "validation-size",
  "test-size",
  "code-dim",
  "decoder",
  "loss",
  "probe-epochs",
]);

function sizeOrAll(
  flags: Map<string, string | true>,
  name: string,
  fallback: number | null,
): number | null {
  if (flags.get(name) === "all") return null;
  return flags.has(name) ? int(flags, name, 1) : fallback;
}

/**
 * Parses `deno task experiment autoencoder …`.
 *
 * @throws {UsageError} an unknown flag or a malformed value, naming the flag.
 */
export function parseAutoencoderArgs(argv: readonly string[]): AutoencoderOptions {
  const { positional, flags } = splitArgs(argv, {
    value: VALUE,
    boolean: new Set(COMMON_BOOLEAN_FLAGS),
  });
  if (positional.length !== 1 || positional[0] !== "autoencoder") {
    throw new UsageError(
      "family",
      "autoencoder and no other positional argument",
      positional.join(" "),
    );
  }
  const common = parseCommon(flags, "autoencoder", { referenceSize: 2000 });
  const q = common.quick;
  return {
    ...common,
    epochs: int(flags, "epochs", q ? 3 : 6),
    trainSize: sizeOrAll(flags, "train-size", q ? 512 : 10000),
    validationSize: int(flags, "validation-size", q ? 128 : 1000),
    testSize: sizeOrAll(flags, "test-size", q ? 256 : null),
    codeDim: int(flags, "code-dim", 32),
    decoder: oneOf(flags, "decoder", ["transpose", "upsampling"] as const, "transpose"),
    loss: oneOf(flags, "loss", ["mse", "binary_crossentropy"] as const, "mse"),
    probeEpochs: int(flags, "probe-epochs", q ? 10 : 30),
  };
}

function layer(className: string, config: Record<string, unknown>): KerasObject {
  return {
    module: "keras.layers",
    class_name: className,
    config: { trainable: true, dtype: "float32", ...config },
    registered_name: null,
  };
}

function conv(
  className: "Conv2D" | "Conv2DTranspose",
  name: string,
  filters: number,
  stride: number,
  activation: string,
): KerasObject {
  return layer(className, {
    name,
    filters,
    kernel_size: [3, 3],
    strides: [stride, stride],
    padding: "same",
    data_format: "channels_last",
    dilation_rate: [1, 1],
    ...(className === "Conv2D" ? { groups: 1 } : { output_padding: null }),
    activation,
    use_bias: true,
    kernel_initializer: kerasInitializer("glorot_uniform"),
    bias_initializer: kerasInitializer("zeros"),
  });
}

function dense(name: string, units: number, activation: string): KerasObject {
  return layer("Dense", {
    name,
    units,
    activation,
    use_bias: true,
    kernel_initializer: kerasInitializer("glorot_uniform"),
    bias_initializer: kerasInitializer("zeros"),
  });
}

/** The name of the code layer (the encoder's output). */
export const CODE_LAYER = "code";

/** The autoencoder's Keras 3 config (Sequential, 28×28×1 in and out). */
export function autoencoderConfig(codeDim: number, decoder: DecoderKind): KerasObject {
  const pool = (name: string) =>
    layer("MaxPooling2D", {
      name,
      pool_size: [2, 2],
      strides: [2, 2],
      padding: "valid",
      data_format: "channels_last",
    });
  const up = (name: string) =>
    layer("UpSampling2D", {
      name,
      size: [2, 2],
      data_format: "channels_last",
      interpolation: "nearest",
    });
  const layers: KerasObject[] = [
    layer("InputLayer", { name: "image", batch_shape: [null, 28, 28, 1], sparse: false }),
    conv("Conv2D", "enc_conv_0", 16, 1, "relu"),
    pool("enc_pool_0"),
    conv("Conv2D", "enc_conv_1", 32, 1, "relu"),
    pool("enc_pool_1"),
    layer("Flatten", { name: "enc_flatten" }),
    dense(CODE_LAYER, codeDim, "linear"),
    dense("dec_dense", 7 * 7 * 32, "relu"),
    layer("Reshape", { name: "dec_reshape", target_shape: [7, 7, 32] }),
    ...(decoder === "transpose"
      ? [
        conv("Conv2DTranspose", "dec_deconv_0", 16, 2, "relu"),
        conv("Conv2DTranspose", "dec_deconv_1", 1, 2, "sigmoid"),
      ]
      : [
        up("dec_up_0"),
        conv("Conv2D", "dec_conv_0", 16, 1, "relu"),
        up("dec_up_1"),
        conv("Conv2D", "dec_conv_1", 1, 1, "sigmoid"),
      ]),
  ];
  return {
    module: "keras",
    class_name: "Sequential",
    config: { name: "autoencoder", trainable: true, dtype: "float32", layers },
    registered_name: null,
  };
}

/** Mean squared difference of two equally long arrays. */
export function meanSquaredError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`${a.length} vs ${b.length} values`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s / Math.max(1, a.length);
}

/** Linear-probe result: a Dense softmax on standardized codes. */
export interface ProbeResult {
  trainAccuracy: number;
  testAccuracy: number;
}

/**
 * Trains a Dense softmax on `train` codes (standardized with the training codes' mean and
 * standard deviation) and scores it on `test` codes.
 */
export async function linearProbe(
  train: { codes: Float32Array; y: Int32Array },
  test: { codes: Float32Array; y: Int32Array },
  dim: number,
  classes: number,
  o: { epochs: number; seed: number },
): Promise<ProbeResult> {
  const n = train.y.length;
  const mean = new Float64Array(dim), sd = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += train.codes[i * dim + j] / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) sd[j] += (train.codes[i * dim + j] - mean[j]) ** 2 / n;
  }
  const norm = (c: Float32Array) =>
    c.map((v, k) => (v - mean[k % dim]) / (Math.sqrt(sd[k % dim]) || 1));
  const xTrain = new Tensor(norm(train.codes), [n, dim]);
  const xTest = new Tensor(norm(test.codes), [test.y.length, dim]);
  const model = buildModel({
    config: {
      module: "keras",
      class_name: "Sequential",
      config: {
        name: "probe",
        layers: [
          layer("InputLayer", { name: "codes", batch_shape: [null, dim], sparse: false }),
          dense("probe", classes, "softmax"),
        ],
      },
      registered_name: null,
    },
    weights: {},
    kerasVersion: KERAS_VERSION,
  }, { initialize: { seed: o.seed } });
  try {
    compileClassifier(model, 3e-3, o.seed);
    await model.fit(xTrain, labels(train.y), {
      epochs: o.epochs,
      batchSize: 64,
      verbose: 0,
      seed: o.seed,
    });
    const acc = (x: Tensor, y: Int32Array) => {
      const p = model.predict(x, { batchSize: 256 }).data as Float32Array;
      let ok = 0;
      for (let r = 0; r < y.length; r++) {
        let a = 0;
        for (let c = 1; c < classes; c++) if (p[r * classes + c] > p[r * classes + a]) a = c;
        if (a === y[r]) ok++;
      }
      return ok / Math.max(1, y.length);
    };
    return { trainAccuracy: acc(xTrain, train.y), testAccuracy: acc(xTest, test.y) };
  } finally {
    model.dispose();
  }
}

function codesOf(model: Model, x: Tensor): Float32Array {
  return model.predictMany([x], { outputs: [CODE_LAYER], batchSize: 64 })[0].data as Float32Array;
}

/** What `results.json` of an autoencoder run holds. */
export interface AutoencoderResults {
  schemaVersion: 1;
  family: "autoencoder";
  dataset: { name: string; train: number; validation: number; test: number; source: string };
  settings: Record<string, unknown>;
  environment: Record<string, unknown>;
  params: number;
  modelFile: string;
  /** Per epoch: training loss, validation loss, and the training / validation MSE. */
  history: { loss: number[]; val_loss: number[]; mse: number[]; val_mse: number[] };
  /** Test MSE of the untrained model and of the trained one. */
  initialTestMse: number;
  testMse: number;
  probe: { trained: ProbeResult; untrained: ProbeResult };
  reference: ReferenceCheck;
  /** The grid's files, relative to the output folder. */
  grid: { png: string; svg: string; labels: number[] };
  trainSeconds: number;
  wallClockSeconds: number;
}

/**
 * Runs the autoencoder study and writes `results.json`, `report.md`, `plots/*` and
 * `models/autoencoder.keras` into `o.out`.
 *
 * @throws {OutputExistsError} `o.out` holds results and `o.force` is false.
 */
export async function runAutoencoder(
  o: AutoencoderOptions,
  progress: ExperimentProgress,
): Promise<AutoencoderResults> {
  const started = new Date();
  const t0 = performance.now();
  checkOutputDir(o.out, o.force);
  const data = await loadImageData({
    dataset: "mnist",
    dataDir: o.dataDir,
    quick: false,
    trainSize: null,
    seed: o.seed,
  });
  const train = firstN(data.train, o.trainSize);
  const validation = firstN(data.validation, o.validationSize);
  const test = firstN(data.test, o.testSize);
  progress.info(
    `mnist: ${train.y.length} train / ${validation.y.length} validation / ${test.y.length} test ` +
      `images (from ${data.source})`,
  );
  await Deno.mkdir(join(o.out, "plots"), { recursive: true });
  const config = autoencoderConfig(o.codeDim, o.decoder);
  const model = buildModel({ config, weights: {}, kerasVersion: KERAS_VERSION }, {
    initialize: { seed: o.seed },
    convAlgorithm: o.conv,
  });
  try {
    const testX = test.x.data as Float32Array;
    const initialTestMse = meanSquaredError(
      model.predict(test.x, { batchSize: 64 }).data as Float32Array,
      testX,
    );
    const untrainedCodes = {
      train: codesOf(model, train.x),
      test: codesOf(model, test.x),
    };
    model.compile({
      optimizer: new Adam({ learningRate: o.learningRate }),
      loss: o.loss,
      metrics: o.loss === "mse" ? [] : ["mse"],
      seed: o.seed,
    });
    progress.variantStart(0, 1, "autoencoder", `${o.decoder} decoder, ${o.codeDim}-d code`);
    const ts = performance.now();
    const h = await fitLogged(
      model,
      train.x,
      train.x,
      [validation.x, validation.x],
      { epochs: o.epochs, batchSize: o.batchSize, seed: o.seed },
      (e, l) => progress.epoch("autoencoder", e, o.epochs, l),
    );
    const trainSeconds = (performance.now() - ts) / 1000;
    const pick = (...keys: string[]) => [...(keys.map((k) => h[k]).find((v) => v) ?? [])];
    const history = {
      loss: pick("loss"),
      val_loss: pick("val_loss"),
      mse: o.loss === "mse" ? pick("loss") : pick("mse", "mean_squared_error"),
      val_mse: o.loss === "mse" ? pick("val_loss") : pick("val_mse", "val_mean_squared_error"),
    };
    const recon = model.predict(test.x, { batchSize: 64 }).data as Float32Array;
    const testMse = meanSquaredError(recon, testX);
    const classes = data.labelNames.length;
    const probeOpts = { epochs: o.probeEpochs, seed: o.seed };
    const trained = await linearProbe(
      { codes: codesOf(model, train.x), y: train.y },
      { codes: codesOf(model, test.x), y: test.y },
      o.codeDim,
      classes,
      probeOpts,
    );
    const untrained = await linearProbe(
      { codes: untrainedCodes.train, y: train.y },
      { codes: untrainedCodes.test, y: test.y },
      o.codeDim,
      classes,
      probeOpts,
    );
    const modelFile = "models/autoencoder.keras";
    const check = await saveAndCheck(
      model.toSpec(),
      o.out,
      modelFile,
      firstN(test, o.referenceSize).x,
      o.conv,
      null,
    );
    delete (check as Partial<typeof check>).engineOutput;
    const grid = await writeGrid(o.out, test, recon);
    progress.variantEnd(
      0,
      1,
      "autoencoder",
      `test MSE ${e2(testMse)} (untrained ${e2(initialTestMse)}), linear probe ` +
        `${f4(trained.testAccuracy)} (untrained encoder ${f4(untrained.testAccuracy)}), ` +
        `max |Δ| vs TF.js ${e2(check.maxAbsDiff)}`,
    );
    const results: AutoencoderResults = {
      schemaVersion: 1,
      family: "autoencoder",
      dataset: {
        name: "mnist",
        train: train.y.length,
        validation: validation.y.length,
        test: test.y.length,
        source: data.source,
      },
      settings: {
        quick: o.quick,
        epochs: o.epochs,
        batchSize: o.batchSize,
        optimizer: "adam",
        learningRate: o.learningRate,
        loss: o.loss,
        codeDim: o.codeDim,
        decoder: o.decoder,
        probeEpochs: o.probeEpochs,
        seed: o.seed,
        conv: o.conv,
        referenceSize: o.referenceSize,
      },
      environment: environment(started),
      params: model.countParams(),
      modelFile,
      history,
      initialTestMse,
      testMse,
      probe: { trained, untrained },
      reference: check,
      grid,
      trainSeconds,
      wallClockSeconds: 0,
    };
    results.wallClockSeconds = (performance.now() - t0) / 1000;
    await writeAutoencoderReport(o.out, results);
    return results;
  } finally {
    model.dispose();
  }
}

/** The first test image of each digit (in label order; digits missing from `test` are skipped). */
export function gridIndices(y: Int32Array, classes = 10): number[] {
  const out: number[] = [];
  for (let c = 0; c < classes; c++) {
    const i = y.indexOf(c);
    if (i >= 0) out.push(i);
  }
  return out;
}

async function writeGrid(
  out: string,
  test: LabelledSplit,
  recon: Float32Array,
): Promise<AutoencoderResults["grid"]> {
  const idx = gridIndices(test.y);
  const x = test.x.data as Float32Array, per = 28 * 28;
  const row = (src: Float32Array) => idx.map((i) => src.subarray(i * per, (i + 1) * per));
  const { pixels, width, height } = tile([row(x), row(recon)], 28, 28);
  const png = encodeGrayPng(pixels, width, height);
  await Deno.writeFile(join(out, "plots", "reconstructions.png"), png);
  await Deno.writeTextFile(
    join(out, "plots", "reconstructions.svg"),
    pngGridSvg(png, { width, height }, ["input", "reconstruction"], 28, "Test digits 0–9"),
  );
  return {
    png: "plots/reconstructions.png",
    svg: "plots/reconstructions.svg",
    labels: idx.map((i) => test.y[i]),
  };
}

/** Training (solid) and validation (dashed) MSE per epoch. */
export function mseChart(results: AutoencoderResults): string {
  return lineChart("Reconstruction MSE per epoch", [
    { label: "train", values: results.history.mse, color: paletteColor(0) },
    { label: "validation", values: results.history.val_mse, color: paletteColor(0), dashed: true },
  ], { yLabel: "mean squared error" });
}

/** The whole `report.md` of an autoencoder run. */
export function autoencoderReportMarkdown(r: AutoencoderResults): string {
  const s = r.settings, e = r.environment, h = r.history;
  const falling = h.val_mse.every((v, i) => i === 0 || v <= h.val_mse[i - 1]);
  const rows = h.mse.map((v, i) => `| ${i + 1} | ${e2(v)} | ${e2(h.val_mse[i])} |`);
  const parts = [
    `# AUTOENCODER experiment on ${r.dataset.name}`,
    "",
    `- data: ${r.dataset.train} train / ${r.dataset.validation} validation / ${r.dataset.test} ` +
    `test images, pixels in [0, 1]`,
    `- model: Conv2D 16 → MaxPool → Conv2D 32 → MaxPool → Flatten → Dense ${s.codeDim} (code, ` +
    `linear) → Dense 1568 relu → Reshape 7×7×32 → ` +
    (s.decoder === "transpose"
      ? "Conv2DTranspose 16 s2 relu → Conv2DTranspose 1 s2 sigmoid"
      : "UpSampling2D → Conv2D 16 relu → UpSampling2D → Conv2D 1 sigmoid") +
    ` (${r.params} parameters)`,
    `- training: engine, loss ${s.loss}, Adam lr ${s.learningRate}, batch ${s.batchSize}, ` +
    `${s.epochs} epochs, seed ${s.seed}`,
    `- run: ${r.wallClockSeconds.toFixed(0)} s wall-clock (training ${
      r.trainSeconds.toFixed(1)
    } s), ` +
    `Deno ${e.deno} on ${e.os}/${e.arch} (${e.cpus} CPUs), started ${e.startedAt}`,
    "",
    "## Conclusion",
    "",
    `- Test reconstruction MSE ${e2(r.testMse)} after ${s.epochs} epochs (untrained model ` +
    `${e2(r.initialTestMse)}); validation MSE ` +
    (falling ? "fell every epoch." : "did not fall every epoch (see the table)."),
    `- Linear probe (Dense softmax on the standardized ${s.codeDim}-d codes of the ` +
    `${r.dataset.train} training images, ${s.probeEpochs} epochs): test accuracy ` +
    `**${f4(r.probe.trained.testAccuracy)}** (train ${f4(r.probe.trained.trainAccuracy)}), vs ` +
    `${f4(r.probe.untrained.testAccuracy)} on the untrained encoder's codes.`,
    `- Engine vs TF.js on the reloaded \`${r.modelFile}\` (${r.reference.samples} test images, ` +
    `${r.reference.samples * 784} pixels): max |Δ| ${e2(r.reference.maxAbsDiff)} ` +
    `(${r.reference.maxAbsDiff <= 1e-4 ? "within" : "**above**"} 1e-4).`,
    ...(s.quick
      ? ["- This was a --quick run on small slices: the numbers check the pipeline, not the model."]
      : []),
    "",
    "## Reconstruction MSE per epoch",
    "",
    "| epoch | train MSE | validation MSE |",
    "| ---: | ---: | ---: |",
    ...rows,
    "",
    "![MSE per epoch](plots/mse.svg)",
    "",
    "## Inputs vs reconstructions",
    "",
    `The first test image of each digit (top) and its reconstruction (bottom); also ` +
    `[\`${r.grid.png}\`](${r.grid.png}).`,
    "",
    `![inputs vs reconstructions](${r.grid.svg})`,
    "",
    "## Linear probe",
    "",
    "| codes | train accuracy | test accuracy |",
    "| --- | ---: | ---: |",
    `| trained encoder | ${f4(r.probe.trained.trainAccuracy)} | ` +
    `**${f4(r.probe.trained.testAccuracy)}** |`,
    `| untrained encoder (same initial weights) | ${f4(r.probe.untrained.trainAccuracy)} | ` +
    `${f4(r.probe.untrained.testAccuracy)} |`,
    "",
    "## Engine vs TF.js",
    "",
    "| model | test images | max \\|Δ\\| | engine s | TF.js s |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| \`${r.modelFile}\` | ${r.reference.samples} | ${e2(r.reference.maxAbsDiff)} | ` +
    `${r.reference.engineSeconds.toFixed(2)} | ${r.reference.referenceSeconds.toFixed(2)} |`,
  ];
  return parts.join("\n") + "\n";
}

/** Writes `results.json`, `report.md` and `plots/mse.svg` into `out`. */
export async function writeAutoencoderReport(out: string, r: AutoencoderResults): Promise<void> {
  await Deno.mkdir(join(out, "plots"), { recursive: true });
  await Deno.writeTextFile(join(out, "plots", "mse.svg"), mseChart(r));
  await Deno.writeTextFile(join(out, "results.json"), JSON.stringify(r, null, 2) + "\n");
  await Deno.writeTextFile(join(out, "report.md"), autoencoderReportMarkdown(r));
}
