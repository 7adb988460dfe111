/**
 * MNIST and Fashion-MNIST: 60,000 training and 10,000 test 28×28 grayscale images in the
 * original gzip-compressed IDX files.
 *
 * @module
 */

import { ensureCachedFiles, verifyMd5 } from "./download.ts";
import { CorruptFileError, DatasetNotFoundError, type MissingFile } from "./errors.ts";
import { parseIdx } from "./idx.ts";
import type { ArchiveLimits } from "./archive.ts";
import { checkDtype, type ImageDtype, type ImageSplit, makeImageSplit } from "./images.ts";
import { defaultCacheDir, firstFile, join, toPath } from "./paths.ts";
import type { ProgressSetting } from "./progress.ts";

/** The four file names of an MNIST-style data set. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
} as const;

type FileKey = keyof typeof MNIST_FILES;

/** MD5 of the official MNIST files. */
export const MNIST_MD5: Readonly<Record<FileKey, string>> = {
  trainImages: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
  trainLabels: "d53e105ee54ea40749a09fcbcd1e9432",
  testImages: "9fb629c4189551a2d022fa330f9573f3",
  testLabels: "ec29112dd5afa0611ce80d1b7f02629c",
};

/** MD5 of the official Fashion-MNIST files. */
export const FASHION_MNIST_MD5: Readonly<Record<FileKey, string>> = {
  trainImages: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
  trainLabels: "25c81989df183df01b3e8a0aad5dffbe",
  testImages: "bef4ecab320f06d8554ea6380940ec79",
  testLabels: "bb300cfdad3c16e7a12a480ee83cd310",
};

/** Base URLs of MNIST copies (the original site no longer serves the files reliably). */
export const MNIST_MIRRORS: readonly string[] = [
  "https://ossci-datasets.s3.amazonaws.com/mnist/",
  "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/** Base URLs of the official Fashion-MNIST files. */
export const FASHION_MNIST_MIRRORS: readonly string[] = [
  "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
  "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
];

/** MNIST class names (the digits). */
export const MNIST_LABEL_NAMES: readonly string[] = [
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9",
];

/** Fashion-MNIST class names by id. */
export const FASHION_MNIST_LABEL_NAMES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** An MNIST-style data set: images NHWC `[n, 28, 28, 1]`. */
export interface MnistLike<D extends ImageDtype = "float32"> {
  /** The 60,000 training images. */
  train: ImageSplit<D>;
  /** The 10,000 test images. */
  test: ImageSplit<D>;
  /** Class names by id. */
  labelNames: readonly string[];
}

/** Options of {@linkcode loadMnist} and {@linkcode loadFashionMnist}. */
export interface LoadMnistOptions<D extends ImageDtype = "float32"> {
  /**
   * A local folder holding the four `.gz` files (or the same names without `.gz`, uncompressed).
   * When given, nothing is downloaded. Debian's `dataset-fashion-mnist` package installs
   * Fashion-MNIST in `/usr/share/datasets/fashion-mnist` (recompressed: its MD5s differ).
   */
  dir?: string | URL;
  /** Download cache; default the repository's `data/`. */
  cacheDir?: string | URL;
  /** Download missing files (default `true`). */
  download?: boolean;
  /** Check MD5s of the `.gz` files; default `true` for the cache, `false` for `dir`. */
  verifyChecksum?: boolean;
  /** `"float32"` (default, pixels / 255) or `"uint8"`. */
  dtype?: D;
  /** Base URLs (ending in `/`) to download from, tried in order. */
  mirrors?: readonly string[];
  /** Progress bar on stderr; default only if stderr is a terminal. */
  progress?: ProgressSetting;
  /** Limits checked before inflating compressed files (see `SECURITY.md`); default {@linkcode DEFAULT_ARCHIVE_LIMITS}. */
  limits?: Partial<ArchiveLimits>;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
}

interface Flavor {
  name: string;
  folder: string;
  md5: Readonly<Record<FileKey, string>>;
  mirrors: readonly string[];
  labelNames: readonly string[];
}

const MNIST: Flavor = {
  name: "MNIST",
  folder: "mnist",
  md5: MNIST_MD5,
  mirrors: MNIST_MIRRORS,
  labelNames: MNIST_LABEL_NAMES,
};

const FASHION_MNIST: Flavor = {
  name: "Fashion-MNIST",
  folder: "fashion-mnist",
  md5: FASHION_MNIST_MD5,
  mirrors: FASHION_MNIST_MIRRORS,
  labelNames: FASHION_MNIST_LABEL_NAMES,
};

const KEYS = Object.keys(MNIST_FILES) as FileKey[];

async function locate(
  flavor: Flavor,
  options: LoadMnistOptions<ImageDtype>,
): Promise<Record<FileKey, string>> {
  const mirrors = options.mirrors ?? flavor.mirrors;
  const urlsOf = (key: FileKey) => mirrors.map((base) => base + MNIST_FILES[key]);
  const paths = {} as Record<FileKey, string>;
  if (options.dir !== undefined) {
    const dir = toPath(options.dir);
    const missing: MissingFile[] = [];
    for (const key of KEYS) {
      const gz = join(dir, MNIST_FILES[key]);
      const found = await firstFile([gz, gz.slice(0, -3)]);
      if (found === undefined) missing.push({ path: gz, urls: urlsOf(key) });
      else paths[key] = found;
    }
    if (missing.length > 0) {
      throw new DatasetNotFoundError(flavor.name, missing, "not in the folder given as dir");
    }
    if (options.verifyChecksum) {
      for (const key of KEYS) {
        if (paths[key].endsWith(".gz")) await verifyMd5(paths[key], flavor.md5[key]);
      }
    }
    return paths;
  }
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : toPath(options.cacheDir);
  const folder = join(cacheDir, flavor.folder);
  for (const key of KEYS) paths[key] = join(folder, MNIST_FILES[key]);
  await ensureCachedFiles(
    flavor.name,
    KEYS.map((key) => ({ path: paths[key], urls: urlsOf(key), md5: flavor.md5[key] })),
    options,
  );
  return paths;
}

async function readSplit<D extends ImageDtype>(
  imagesPath: string,
  labelsPath: string,
  classes: number,
  dtype: D,
  progress: ProgressSetting,
  limits: Partial<ArchiveLimits> | undefined,
): Promise<ImageSplit<D>> {
  const images = parseIdx(await Deno.readFile(imagesPath), imagesPath, 3, progress, limits);
  const labels = parseIdx(await Deno.readFile(labelsPath), labelsPath, 1, progress, limits);
  const [count, rows, cols] = images.dims;
  if (rows !== 28 || cols !== 28) {
    throw new CorruptFileError(imagesPath, `expected 28×28 images, found ${rows}×${cols}`);
  }
  if (labels.dims[0] !== count) {
    throw new CorruptFileError(
      labelsPath,
      `holds ${labels.dims[0]} labels but ${imagesPath} holds ${count} images`,
    );
  }
  const classIds = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i];
    if (label >= classes) {
      throw new CorruptFileError(labelsPath, `label ${i} is ${label}, expected 0..${classes - 1}`);
    }
    classIds[i] = label;
  }
  return makeImageSplit(images.data, classIds, [rows, cols, 1], dtype);
}

async function load<D extends ImageDtype>(
  flavor: Flavor,
  options: LoadMnistOptions<D>,
): Promise<MnistLike<D>> {
  const dtype = checkDtype(options.dtype ?? "float32") as D;
  const paths = await locate(flavor, options as LoadMnistOptions<ImageDtype>);
  const classes = flavor.labelNames.length;
  return {
    train: await readSplit(
      paths.trainImages,
      paths.trainLabels,
      classes,
      dtype,
      options.progress,
      options.limits,
    ),
    test: await readSplit(
      paths.testImages,
      paths.testLabels,
      classes,
      dtype,
      options.progress,
      options.limits,
    ),
    labelNames: flavor.labelNames,
  };
}

/**
 * Loads MNIST (60,000 train / 10,000 test handwritten digits, NHWC `[n, 28, 28, 1]`): from `dir`
 * if given, else from `<cacheDir>/mnist/`, downloading missing files from a mirror.
 *
 * @throws {DatasetNotFoundError} files missing and not downloadable, with where to get them.
 * @throws {ChecksumError} a file is not the published one.
 * @throws {CorruptFileError} a file is truncated or not IDX.
 */
export function loadMnist<D extends ImageDtype = "float32">(
  options: LoadMnistOptions<D> = {},
): Promise<MnistLike<D>> {
  return load(MNIST, options);
}

/**
 * Loads Fashion-MNIST (60,000 / 10,000 clothing images, NHWC `[n, 28, 28, 1]`): from `dir` if
 * given, else from `<cacheDir>/fashion-mnist/`, downloading missing files.
 *
 * @throws {DatasetNotFoundError} files missing and not downloadable, with where to get them.
 * @throws {ChecksumError} a file is not the published one.
 * @throws {CorruptFileError} a file is truncated or not IDX.
 */
export function loadFashionMnist<D extends ImageDtype = "float32">(
  options: LoadMnistOptions<D> = {},
): Promise<MnistLike<D>> {
  return load(FASHION_MNIST, options);
}
