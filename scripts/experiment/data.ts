/**
 * Loads an experiment's data as tensors: NusaX-Sentiment through TextVectorization (adapted on the
 * training texts) or images (CIFAR-10 40k/10k/10k, MNIST / Fashion-MNIST with a stratified 50k/10k
 * train/validation split of the 60k training images). `--quick` keeps small slices.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  type ImageSplit,
  loadCifar10,
  loadFashionMnist,
  loadMnist,
  loadNusaxSentiment,
  type NusaxLanguage,
  stratifiedSplit,
} from "@scratchnet/datasets";
import { SeededRandom, Tensor } from "@scratchnet/engine";
import { TextVectorization } from "@scratchnet/tokenizer";
import type { ImageDataset } from "./options.ts";
import type { BowTextSettings } from "./bag_of_words.ts";
import { ExperimentError } from "./errors.ts";

/** One split as model inputs and integer labels. */
export interface LabelledSplit {
  x: Tensor;
  y: Int32Array;
}

/** An experiment's data. */
export interface ExperimentData {
  /** e.g. `nusax-sentiment/indonesian`, `mnist`. */
  name: string;
  labelNames: string[];
  /** Input shape without the batch dimension. */
  inputShape: number[];
  train: LabelledSplit;
  validation: LabelledSplit;
  test: LabelledSplit;
  /** Where the files were read from (a folder) or "download cache". */
  source: string;
  /** Text data: the adapted vectorizer (its vocabulary sizes the Embedding). */
  vectorizer?: TextVectorization;
}

/** Slice sizes of `--quick` runs. */
export const QUICK_SIZES = {
  text: { train: 120, validation: 40, test: 80 },
  image: { train: 512, validation: 128, test: 256 },
} as const;

const REPO = new URL("../../", import.meta.url);

/** `<repo>/../shared/data/<sub>` when that folder exists (the machines' local data), else null. */
function sharedDir(sub: string): string | null {
  const path = fileURLToPath(new URL(`../shared/data/${sub}`, REPO));
  return existsSync(path) ? path : null;
}

function firstN(split: LabelledSplit, n: number | null | undefined): LabelledSplit {
  const total = split.y.length;
  if (n === null || n === undefined || n >= total) return split;
  return { x: split.x.sliceBatch(0, n), y: split.y.slice(0, n) };
}

/** Options of {@link loadTextData}. */
export interface TextDataOptions {
  language: NusaxLanguage;
  sequenceLength: number;
  maxTokens: number | null;
  dataDir: string | null;
  quick: boolean;
  trainSize: number | null;
  /**
   * Other NusaX languages whose training splits join `language`'s (NusaX is parallel: each is a
   * translation of the same 500 training sentences). Validation and test stay `language`'s own;
   * `trainSize` and `--quick` limit each language's share.
   */
  trainLanguages?: readonly NusaxLanguage[];
  /**
   * Bag-of-words instead of token ids: each text becomes one float32 vector of vocabulary size
   * (TextVectorization `ngrams` and `output_mode` multi_hot / tf_idf, `max_tokens` from here;
   * `sequenceLength` and `maxTokens` above are then unused).
   */
  bag?: BowTextSettings | null;
}

/**
 * NusaX-Sentiment vectorized to `[n, sequenceLength]` int32 ids (post-padded with 0), or with
 * `bag` to `[n, vocabulary]` float32 bag-of-words vectors.
 */
export async function loadTextData(o: TextDataOptions): Promise<ExperimentData> {
  const dir = o.dataDir ?? sharedDir("nusax-sentiment");
  const nusax = await loadNusaxSentiment({ language: o.language, ...(dir ? { dir } : {}) });
  const q = o.quick ? QUICK_SIZES.text : null;
  const take = (texts: string[], labels: Int32Array, n: number | null | undefined) => {
    const k = n === null || n === undefined ? texts.length : Math.min(n, texts.length);
    return { texts: texts.slice(0, k), labels: labels.slice(0, k) };
  };
  const trainLimit = Math.min(q?.train ?? Infinity, o.trainSize ?? Infinity);
  const limit = Number.isFinite(trainLimit) ? trainLimit : null;
  const extras = (o.trainLanguages ?? []).filter((l) => l !== o.language);
  let train = take(nusax.train.texts, nusax.train.labels, limit);
  for (const other of extras) {
    const extra = await loadNusaxSentiment({ language: other, ...(dir ? { dir } : {}) });
    if (extra.labelNames.join() !== nusax.labelNames.join()) {
      throw new ExperimentError(
        `NusaX ${other}: labels ${extra.labelNames.join(", ")}, expected ${
          nusax.labelNames.join(", ")
        } as in ${o.language}`,
      );
    }
    const more = take(extra.train.texts, extra.train.labels, limit);
    const labels = new Int32Array(train.labels.length + more.labels.length);
    labels.set(train.labels);
    labels.set(more.labels, train.labels.length);
    train = { texts: [...train.texts, ...more.texts], labels };
  }
  const valid = take(nusax.valid.texts, nusax.valid.labels, q?.validation);
  const test = take(nusax.test.texts, nusax.test.labels, q?.test);
  const vectorizer = o.bag
    ? new TextVectorization({
      maxTokens: o.bag.maxTokens,
      ngrams: o.bag.ngrams,
      outputMode: o.bag.outputMode,
    })
    : new TextVectorization({ maxTokens: o.maxTokens, outputSequenceLength: o.sequenceLength });
  vectorizer.adapt(train.texts);
  const encode = (s: { texts: string[]; labels: Int32Array }): LabelledSplit => {
    const { data, shape } = vectorizer.call(s.texts);
    return { x: new Tensor(data, shape), y: s.labels };
  };
  return {
    name: `nusax-sentiment/${o.language}` +
      (extras.length
        ? ` (training texts also from ${extras.join(", ")}: ${train.texts.length} in all)`
        : ""),
    labelNames: [...nusax.labelNames],
    inputShape: [o.bag ? vectorizer.vocabularySize() : o.sequenceLength],
    train: encode(train),
    validation: encode(valid),
    test: encode(test),
    source: dir ?? "download cache",
    vectorizer,
  };
}

/** Options of {@link loadImageData}. */
export interface ImageDataOptions {
  dataset: ImageDataset;
  dataDir: string | null;
  quick: boolean;
  trainSize: number | null;
  seed: number;
  /** Where decoded image folders are cached (default: the datasets package's, the repo's data/). */
  cacheDir?: string;
}

function toSplit(s: ImageSplit, indices?: Int32Array): LabelledSplit {
  const [n, h, w, c] = s.shape;
  if (!indices) return { x: new Tensor(s.images, [n, h, w, c]), y: s.labels };
  const per = h * w * c;
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  indices.forEach((src, i) => {
    x.set(s.images.subarray(src * per, (src + 1) * per), i * per);
    y[i] = s.labels[src];
  });
  return { x: new Tensor(x, [indices.length, h, w, c]), y };
}

/** Float32 NHWC images in [0, 1] with a validation split. */
export async function loadImageData(o: ImageDataOptions): Promise<ExperimentData> {
  let train: LabelledSplit, validation: LabelledSplit, test: LabelledSplit;
  let labelNames: readonly string[];
  let source: string;
  if (o.dataset === "cifar10") {
    // The binary batches if a machine has them, else the JPEG re-encoding's zip.
    const dir = o.dataDir ?? sharedDir("cifar10") ?? sharedDir("cifar-10-jpeg");
    const cifar = await loadCifar10({
      seed: o.seed,
      ...(dir ? { dir } : {}),
      ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    });
    // The JPEG re-encoding lists images class by class, so a prefix (--quick, --train-size,
    // --reference-size) would hold one class: validation and test (whose scores do not depend on
    // the order) come in a seeded random order, and a smaller training set is a seeded random
    // subset (the whole training split keeps its order, so full runs are unchanged).
    const rng = new SeededRandom(o.seed);
    const orderOf = (n: number) => rng.permutation(n);
    const trainCount = cifar.train.labels.length;
    const trainWanted = Math.min(
      o.quick ? QUICK_SIZES.image.train : Infinity,
      o.trainSize ?? Infinity,
    );
    validation = toSplit(cifar.validation, orderOf(cifar.validation.labels.length));
    test = toSplit(cifar.test, orderOf(cifar.test.labels.length));
    train = toSplit(
      cifar.train,
      trainWanted < trainCount ? orderOf(trainCount).slice(0, trainWanted) : undefined,
    );
    labelNames = cifar.labelNames;
    // "CIFAR-10 (JPEG re-encoding)" or "CIFAR-10 (binary)": reports must say which.
    source = `${cifar.source}, ${cifar.sourcePath}`;
  } else {
    const debian = "/usr/share/datasets/fashion-mnist";
    const dir = o.dataDir ??
      (o.dataset === "mnist"
        ? sharedDir("mnist")
        : existsSync(debian)
        ? debian
        : sharedDir("fashion-mnist"));
    const load = o.dataset === "mnist" ? loadMnist : loadFashionMnist;
    const data = await load({ ...(dir ? { dir } : {}) });
    // 60k → 50k train / 10k validation, stratified and seeded (as CIFAR-10's 40k / 10k).
    const split = stratifiedSplit(data.train.labels, 1 / 6, o.seed);
    train = toSplit(data.train, split.train);
    validation = toSplit(data.train, split.validation);
    test = toSplit(data.test);
    labelNames = data.labelNames;
    source = dir ?? "download cache";
  }
  const q = o.quick ? QUICK_SIZES.image : null;
  const trainLimit = Math.min(q?.train ?? Infinity, o.trainSize ?? Infinity);
  return {
    name: o.dataset,
    labelNames: [...labelNames],
    inputShape: train.x.shape.slice(1),
    train: firstN(train, Number.isFinite(trainLimit) ? trainLimit : null),
    validation: firstN(validation, q?.validation),
    test: firstN(test, q?.test),
    source,
  };
}
