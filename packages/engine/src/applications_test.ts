/**
 * Issue 15, "Show": architecture replicas of six `keras.applications` families (MobileNetV2,
 * ResNet50, InceptionV3, DenseNet121, EfficientNetB0, Xception; `testing/tfjs_applications.ts`)
 * built in TF.js with random weights and calibrated-then-perturbed BatchNormalization statistics,
 * run by the engine from their config (`specFromTfjs`, or the Keras 3 form `keras3SpecFromTfjs`
 * for every other family) and by TF.js (wasm backend): on 16 images, identical argmax per image
 * and max |Δp| ≤ 1e-4. EfficientNetB0 runs with Keras's `Normalization` layer in the engine (TF.js
 * has none: its model holds a 1×1 DepthwiseConv2D with the same per-channel map, see
 * `withKerasNormalization`).
 *
 * CI tier: small variants (32–75 px inputs, thinner and shallower stages, 10 classes) of all six.
 * Slow tier (only with `SCRATCHNET_SLOW_TESTS=1`): the real architectures at Keras's default
 * sizes (224 × 224, 299 × 299 for InceptionV3 / Xception), width 1, every block, 1000 classes,
 * calibrated on the evaluation images; and the full-size parameter counts of TF.js and the engine
 * against keras.applications' own.
 */
import { buildModel, Tensor } from "../mod.ts";
import { argmaxRows, maxAbsDiff, Rng } from "../testing/random.ts";
import {
  APPLICATION_FAMILIES,
  type ApplicationFamily,
  applicationInputs,
  type ApplicationOptions,
  useApplicationBackend,
  withKerasNormalization,
} from "../testing/tfjs_applications.ts";
import { keras3SpecFromTfjs, specFromTfjs, tfjsPredictMany } from "../testing/tfjs_graphs.ts";

const TOL = 1e-4;
const BATCH = 16;
const slow = Deno.env.get("SCRATCHNET_SLOW_TESTS") === "1";

/** CI-tier size knobs per family: seconds on 2 loaded cores, every layer class kept. */
const CI_TIER: Record<string, ApplicationOptions> = {
  MobileNetV2: { inputSize: 64, width: 0.35, depthScale: 1, classes: 10 },
  ResNet50: { inputSize: 64, width: 0.25, depthScale: 0.5, classes: 10 },
  InceptionV3: { inputSize: 75, width: 0.25, depthScale: 0.67, classes: 10 },
  DenseNet121: { inputSize: 64, width: 0.5, depthScale: 0.25, classes: 10 },
  EfficientNetB0: { inputSize: 64, width: 0.5, depthScale: 0.5, classes: 10 },
  Xception: { inputSize: 71, width: 0.25, depthScale: 0.25, classes: 10 },
};

/**
 * Families built with Keras's Normalization layer: TF.js holds a 1×1 DepthwiseConv2D stand-in
 * with the same per-channel map, the engine's spec the real adapted `Normalization`.
 */
const NORMALIZED = new Set(["EfficientNetB0"]);

/** Runs one family both ways and throws unless argmax agrees and |Δp| ≤ TOL everywhere. */
async function compareFamily(
  family: ApplicationFamily,
  options: ApplicationOptions,
  dialect: "keras2" | "keras3",
): Promise<void> {
  await useApplicationBackend("wasm");
  const t0 = performance.now();
  const normalization = NORMALIZED.has(family.name);
  const size = options.inputSize ?? family.defaultSize;
  const x = applicationInputs(new Rng(1500), BATCH, size, family.pixelRange);
  // Slow tier: BatchNormalization statistics calibrated on these very images (then perturbed),
  // so that every channel of a full-size model is normalized by statistics of data it sees (see
  // ApplicationOptions.calibration); the CI tier calibrates on 32 other generated images.
  const calibration = options.inputSize === undefined ? x : undefined;
  const ref = family.build({
    seed: 15,
    ...options,
    calibration,
    normalization,
  } as ApplicationOptions);
  try {
    const t1 = performance.now();
    const want = tfjsPredictMany(ref, [x])[0];
    const t2 = performance.now();
    let spec = dialect === "keras2" ? specFromTfjs(ref) : keras3SpecFromTfjs(ref);
    if (NORMALIZED.has(family.name)) spec = withKerasNormalization(spec);
    const model = buildModel(spec);
    try {
      const t3 = performance.now();
      const got = model.predict(new Tensor(x.data, x.shape));
      const t4 = performance.now();
      const classes = want.length / BATCH;
      const d = maxAbsDiff(got.data, want);
      const a = argmaxRows(got.data, classes), b = argmaxRows(want, classes);
      const agree = a.filter((v, i) => v === b[i]).length;
      const distinct = new Set(b).size;
      console.log(
        `${family.name} ${size}px (${dialect}): max |Δp| ${d.toExponential(2)}, argmax ` +
          `${agree}/${BATCH} (${distinct} distinct classes), build ${
            ((t1 - t0) / 1000).toFixed(1)
          } s, TF.js ${((t2 - t1) / 1000).toFixed(1)} s, engine ${((t4 - t3) / 1000).toFixed(1)} s`,
      );
      if (!(d <= TOL)) throw new Error(`${family.name}: max |Δp| ${d} > ${TOL}`);
      if (agree !== BATCH) {
        throw new Error(`${family.name}: argmax engine [${a}] vs TF.js [${b}]`);
      }
      if (distinct < 2) throw new Error(`${family.name}: every image predicts class ${b[0]}`);
    } finally {
      model.dispose();
    }
  } finally {
    ref.dispose();
  }
}

APPLICATION_FAMILIES.forEach((family, i) => {
  const dialect = i % 2 === 0 ? "keras2" : "keras3";
  const ci = CI_TIER[family.name];
  const norm = NORMALIZED.has(family.name) ? ", Keras Normalization in the engine" : "";
  Deno.test(
    `${family.name} replica, CI tier (${ci.inputSize}px, width ${ci.width}, depth ${ci.depthScale}, ` +
      `${dialect} config${norm}): engine vs TF.js on ${BATCH} images, argmax identical, ` +
      `max |Δp| ≤ ${TOL}`,
    () => compareFamily(family, ci, dialect),
  );
  Deno.test({
    name: `${family.name} replica, SLOW TIER (real size ${family.defaultSize}px, width 1, every ` +
      `block, 1000 classes; runs only with SCRATCHNET_SLOW_TESTS=1): engine vs TF.js on ${BATCH} ` +
      `images, argmax identical, max |Δp| ≤ ${TOL}`,
    ignore: !slow,
    fn: () => compareFamily(family, {}, dialect),
  });
});

/** `keras.applications` parameter counts (`model.count_params()`, include_top, 1000 classes). */
const KERAS_PARAMS: Record<string, number> = {
  MobileNetV2: 3_538_984,
  ResNet50: 25_636_712,
  InceptionV3: 23_851_784,
  DenseNet121: 8_062_504,
  EfficientNetB0: 5_330_571,
  Xception: 22_910_480,
};

Deno.test({
  name: "SLOW TIER (runs only with SCRATCHNET_SLOW_TESTS=1): at width 1 and every block the " +
    "replicas have keras.applications' parameter counts, in TF.js and in the engine " +
    "(EfficientNetB0 with Keras's Normalization: its mean, variance and count included)",
  ignore: !slow,
  fn: async () => {
    await useApplicationBackend("wasm");
    const problems: string[] = [];
    for (const family of APPLICATION_FAMILIES) {
      const normalization = NORMALIZED.has(family.name);
      // Parameter counts do not depend on the input size: the smallest Keras accepts (≥ 32).
      const ref = family.build({ inputSize: family.minSize, normalization } as ApplicationOptions);
      try {
        let spec = specFromTfjs(ref);
        if (normalization) spec = withKerasNormalization(spec);
        const model = buildModel(spec);
        const want = KERAS_PARAMS[family.name];
        // TF.js's stand-in for Normalization has a 3-element kernel and bias (6) where Keras's
        // layer has mean, variance and count (7).
        const tfjs = ref.countParams() + (normalization ? 1 : 0);
        if (tfjs !== want) problems.push(`${family.name}: TF.js ${tfjs} vs Keras ${want}`);
        if (model.countParams() !== want) {
          problems.push(`${family.name}: engine ${model.countParams()} vs Keras ${want}`);
        }
        model.dispose();
      } finally {
        ref.dispose();
      }
    }
    if (problems.length) throw new Error(problems.join("; "));
  },
});
