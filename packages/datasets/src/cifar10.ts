/**
 * CIFAR-10, binary version: 5 training batches and 1 test batch of 10,000 records each, a record
 * being 1 label byte followed by 3,072 pixel bytes (R, G, B planes of 32×32, row-major).
 *
 * @module
 */

import { basename } from "node:path";
import { type ArchiveLimits, gunzip, readTar } from "./archive.ts";
import {
  ensureCachedFiles,
  publishFile,
  removeQuietly,
  requireLocalFiles,
  verifyMd5,
} from "./download.ts";
import { CorruptFileError, DatasetNotFoundError, InvalidOptionError } from "./errors.ts";
import { checkDtype, type ImageDtype, type ImageSplit, makeImageSplit } from "./images.ts";
import { defaultCacheDir, isDirectory, isFile, join, toPath } from "./paths.ts";
import { createProgress, type ProgressSetting } from "./progress.ts";
import { checkSplitOptions, stratifiedSplit } from "./split.ts";
import { loadImageFolder } from "./image_folder.ts";
import { listZip } from "./zip.ts";

/** The official tarball. */
export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/** MD5 of the official tarball. */
export const CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
/** File name of the tarball. */
export const CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz";
/** Folder the tarball extracts to. */
export const CIFAR10_FOLDER = "cifar-10-batches-bin";
/** The five training batch files. */
export const CIFAR10_TRAIN_FILES: readonly string[] = [1, 2, 3, 4, 5].map((n) =>
  `data_batch_${n}.bin`
);
/** The test batch file. */
export const CIFAR10_TEST_FILE = "test_batch.bin";
/** Class names by id (as in `batches.meta.txt`). */
export const CIFAR10_LABEL_NAMES: readonly string[] = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

const SIDE = 32;
const PLANE = SIDE * SIDE;
const PIXELS = 3 * PLANE;
/** Bytes per record: 1 label byte + 3,072 pixel bytes. */
export const CIFAR10_RECORD_BYTES = 1 + PIXELS;

const ALL_FILES = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];

/** Raw decoded records: NHWC pixel bytes and labels. */
export interface RawImages {
  /** `[n, 32, 32, 3]` bytes. */
  pixels: Uint8Array;
  /** Class ids. */
  labels: Int32Array;
}

/**
 * Decodes one binary batch file into NHWC bytes. `file` names the source in errors.
 *
 * @throws {CorruptFileError} empty, size not a multiple of 3,073 bytes, or a label above 9.
 */
export function decodeCifar10Batch(bytes: Uint8Array, file: string): RawImages {
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidOptionError("bytes", "the batch file's bytes as a Uint8Array", typeof bytes);
  }
  if (bytes.length === 0 || bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    throw new CorruptFileError(
      file,
      `expected a non-empty multiple of ${CIFAR10_RECORD_BYTES} bytes (label + 32×32×3 pixels), ` +
        `found ${bytes.length} bytes`,
    );
  }
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  for (let record = 0; record < count; record++) {
    const base = record * CIFAR10_RECORD_BYTES;
    const label = bytes[base];
    if (label >= CIFAR10_LABEL_NAMES.length) {
      throw new CorruptFileError(
        file,
        `record ${record} (byte offset ${base}): label ${label} is not a class id 0..9`,
      );
    }
    labels[record] = label;
    const out = record * PIXELS;
    // Planar RGB → interleaved (HWC).
    for (let p = 0; p < PLANE; p++) {
      const o = out + p * 3;
      pixels[o] = bytes[base + 1 + p];
      pixels[o + 1] = bytes[base + 1 + PLANE + p];
      pixels[o + 2] = bytes[base + 1 + 2 * PLANE + p];
    }
  }
  return { pixels, labels };
}

/** Concatenates decoded batches. */
function concatBatches(batches: RawImages[]): RawImages {
  const count = batches.reduce((sum, batch) => sum + batch.labels.length, 0);
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let offset = 0;
  for (const batch of batches) {
    pixels.set(batch.pixels, offset * PIXELS);
    labels.set(batch.labels, offset);
    offset += batch.labels.length;
  }
  return { pixels, labels };
}

/** A training or validation split, with the positions of its images in the 50k training set. */
export interface Cifar10TrainSplit<D extends ImageDtype> extends ImageSplit<D> {
  /** Index of each image in the concatenated training batches (0..49,999 for the real data). */
  sourceIndices: Int32Array;
}

/** File name of the JPEG re-encoding's zip (class-folder layout, see {@linkcode loadCifar10}). */
export const CIFAR10_JPEG_ARCHIVE = "cifar-10-jpeg.zip";
/** Folder of the JPEG re-encoding: `cifar-10-jpeg/{train,test}/<class>/NNNN.jpg`. */
export const CIFAR10_JPEG_FOLDER = "cifar-10-jpeg";

/** CIFAR-10 with the seeded stratified train/validation split. */
export interface Cifar10<D extends ImageDtype = "float32"> {
  /** Training images (40,000 for the real data and the default fraction). */
  train: Cifar10TrainSplit<D>;
  /** Validation images held out of the training batches (10,000). */
  validation: Cifar10TrainSplit<D>;
  /** The official test batch (10,000). */
  test: ImageSplit<D>;
  /** Class names by id. */
  labelNames: readonly string[];
  /** The seed used for the split. */
  seed: number;
  /** The validation fraction used. */
  validationFraction: number;
  /**
   * What was read, for reports: `"CIFAR-10 (binary)"` or `"CIFAR-10 (JPEG re-encoding)"` (pixels
   * close to, not identical with, the official release).
   */
  source: string;
  /** The folder, tarball or zip read. */
  sourcePath: string;
}

/** Options of {@linkcode loadCifar10}. */
export interface LoadCifar10Options<D extends ImageDtype = "float32"> {
  /**
   * A local folder holding `cifar-10-batches-bin/*.bin`, the six `.bin` files directly, or
   * `cifar-10-binary.tar.gz`. When given, nothing is downloaded or written.
   */
  dir?: string | URL;
  /** Download cache; default the repository's `data/`. */
  cacheDir?: string | URL;
  /** Download the tarball when missing (default `true`). */
  download?: boolean;
  /** Check the tarball's MD5; default `true` for the cache, `false` for a tarball in `dir`. */
  verifyChecksum?: boolean;
  /** `"float32"` (default, pixels / 255) or `"uint8"`. */
  dtype?: D;
  /** Seed of the train/validation split; default 42. */
  seed?: number;
  /** Fraction of each class held out for validation; default 0.2 (40k / 10k). */
  validationFraction?: number;
  /** Download URL(s) of the tarball, tried in order; default {@linkcode CIFAR10_URL}. */
  urls?: string[];
  /** Progress bar on stderr; default only if stderr is a terminal. */
  progress?: ProgressSetting;
  /** Limits checked before inflating compressed files (see `SECURITY.md`); default {@linkcode DEFAULT_ARCHIVE_LIMITS}. */
  limits?: Partial<ArchiveLimits>;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
  /**
   * The JPEG re-encoding instead of the binary batches: a `.zip` or folder holding
   * `train/<class>/*.jpg` and `test/<class>/*.jpg` (directly or inside one top folder, as
   * `cifar-10-jpeg.zip`). Read with {@linkcode loadImageFolder} (decoded bytes cached in
   * `cacheDir`). Also used when `dir` has no binary files but holds `cifar-10-jpeg.zip` or
   * `cifar-10-jpeg/`.
   */
  images?: string | URL;
}

/** Reads the six batch files from the tarball's bytes. */
function batchesFromArchive(
  archive: Uint8Array,
  file: string,
  progress: ProgressSetting,
  limits: Partial<ArchiveLimits> | undefined,
): Map<string, Uint8Array> {
  const tar = gunzip(archive, file, progress, limits);
  const found = new Map<string, Uint8Array>();
  for (const entry of readTar(tar, file, (name) => ALL_FILES.includes(basename(name)))) {
    found.set(basename(entry.name), entry.data);
  }
  const absent = ALL_FILES.filter((name) => !found.has(name));
  if (absent.length > 0) {
    throw new CorruptFileError(
      file,
      `archive lacks ${absent.join(", ")} (expected ${CIFAR10_FOLDER}/ with ${
        ALL_FILES.join(", ")
      })`,
    );
  }
  return found;
}

/**
 * Extracts the batch files of a cached tarball into `<cacheDir>/cifar-10-batches-bin/`, adding
 * only the files that are missing there.
 */
async function extractToCache(
  archivePath: string,
  folder: string,
  progress: ProgressSetting,
  limits: Partial<ArchiveLimits> | undefined,
): Promise<void> {
  const batches = batchesFromArchive(
    await Deno.readFile(archivePath),
    archivePath,
    progress,
    limits,
  );
  await Deno.mkdir(folder, { recursive: true });
  for (const [name, data] of batches) {
    const dest = join(folder, name);
    if (await isFile(dest)) continue;
    // A complete temporary file is moved into place, so a crash never leaves a short batch.
    const tmp = `${dest}.${crypto.randomUUID().slice(0, 8)}.part`;
    try {
      await Deno.writeFile(tmp, data, { createNew: true });
      await publishFile(tmp, dest);
    } finally {
      await removeQuietly(tmp);
    }
  }
}

async function hasAll(folder: string): Promise<boolean> {
  for (const name of ALL_FILES) if (!(await isFile(join(folder, name)))) return false;
  return true;
}

async function hasAny(folder: string): Promise<boolean> {
  for (const name of ALL_FILES) if (await isFile(join(folder, name))) return true;
  return false;
}

/** Locates the batch files (as a folder) or tarball bytes, downloading when allowed. */
async function locate(
  options: LoadCifar10Options<ImageDtype>,
): Promise<{ folder: string } | { batches: Map<string, Uint8Array> }> {
  const urls = options.urls ?? [CIFAR10_URL];
  if (options.dir !== undefined) {
    const dir = toPath(options.dir);
    for (const folder of [join(dir, CIFAR10_FOLDER), dir]) {
      if (await hasAny(folder)) {
        await requireLocalFiles(
          "CIFAR-10",
          ALL_FILES.map((name) => ({ path: join(folder, name), urls })),
        );
        return { folder };
      }
    }
    const archive = join(dir, CIFAR10_ARCHIVE);
    if (!(await isFile(archive))) {
      throw new DatasetNotFoundError(
        "CIFAR-10",
        [{ path: archive, urls }],
        `no ${CIFAR10_FOLDER}/*.bin and no ${CIFAR10_ARCHIVE} in the folder given as dir`,
      );
    }
    if (options.verifyChecksum) await verifyMd5(archive, CIFAR10_MD5);
    return {
      batches: batchesFromArchive(
        await Deno.readFile(archive),
        archive,
        options.progress,
        options.limits,
      ),
    };
  }
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : toPath(options.cacheDir);
  const folder = join(cacheDir, CIFAR10_FOLDER);
  if (await hasAll(folder)) return { folder };
  const archive = join(cacheDir, CIFAR10_ARCHIVE);
  await ensureCachedFiles("CIFAR-10", [{ path: archive, urls, md5: CIFAR10_MD5 }], options);
  await extractToCache(archive, folder, options.progress, options.limits);
  return { folder };
}

/**
 * Loads CIFAR-10 (binary version) and splits the training batches into train / validation with
 * a seeded, stratified shuffle (default 4:1 → 40,000 / 10,000, 4,000 / 1,000 per class). The
 * official test batch is the test split. Images are NHWC `[n, 32, 32, 3]`.
 *
 * Sources, in order: `images` (the JPEG re-encoding's zip or folder) if given; `dir` if given
 * (its binary files, else a `cifar-10-jpeg.zip` / `cifar-10-jpeg/` in it); else
 * `<cacheDir>/cifar-10-batches-bin/`; else the tarball in the cache (downloaded if missing,
 * MD5-checked, then extracted there). `source` in the result says which (`"CIFAR-10 (binary)"`
 * or `"CIFAR-10 (JPEG re-encoding)"`). For the JPEG source, training images are in Keras's order
 * (classes sorted, file names sorted) before the same seeded stratified split, so
 * `sourceIndices` index that order.
 *
 * @throws {DatasetNotFoundError} files missing and not downloadable, with where to get them.
 * @throws {ChecksumError} the tarball is not the published one.
 * @throws {CorruptFileError} a batch file or the archive is malformed or truncated.
 * @throws {InvalidOptionError} bad dtype, seed or validationFraction.
 */
export async function loadCifar10<D extends ImageDtype = "float32">(
  options: LoadCifar10Options<D> = {},
): Promise<Cifar10<D>> {
  const dtype = checkDtype(options.dtype ?? "float32") as D;
  const seed = options.seed ?? 42;
  const validationFraction = options.validationFraction ?? 0.2;
  checkSplitOptions(validationFraction, seed);
  const jpeg = options.images !== undefined
    ? toPath(options.images)
    : options.dir !== undefined
    ? await jpegInDir(toPath(options.dir))
    : undefined;
  if (jpeg !== undefined) return loadCifar10Jpeg(jpeg, options, dtype, seed, validationFraction);
  const source = await locate(options as LoadCifar10Options<ImageDtype>);
  const readBatch = async (name: string): Promise<[Uint8Array, string]> => {
    if ("folder" in source) {
      const path = join(source.folder, name);
      return [await Deno.readFile(path), path];
    }
    return [source.batches.get(name)!, `${CIFAR10_ARCHIVE}:${CIFAR10_FOLDER}/${name}`];
  };
  const progress = createProgress("CIFAR-10 decode", ALL_FILES.length, {
    enabled: options.progress,
    unit: "items",
  });
  const trainBatches: RawImages[] = [];
  for (const name of CIFAR10_TRAIN_FILES) {
    const [bytes, file] = await readBatch(name);
    trainBatches.push(decodeCifar10Batch(bytes, file));
    progress.add(1);
  }
  const [testBytes, testFile] = await readBatch(CIFAR10_TEST_FILE);
  const test = decodeCifar10Batch(testBytes, testFile);
  progress.add(1);
  progress.done();

  const all = concatBatches(trainBatches);
  const split = stratifiedSplit(all.labels, validationFraction, seed);
  const shape: [number, number, number] = [SIDE, SIDE, 3];
  return {
    train: {
      ...makeImageSplit(all.pixels, all.labels, shape, dtype, split.train),
      sourceIndices: split.train,
    },
    validation: {
      ...makeImageSplit(all.pixels, all.labels, shape, dtype, split.validation),
      sourceIndices: split.validation,
    },
    test: makeImageSplit(test.pixels, test.labels, shape, dtype),
    labelNames: CIFAR10_LABEL_NAMES,
    seed,
    validationFraction,
    source: "CIFAR-10 (binary)",
    sourcePath: "folder" in source ? source.folder : join(toPath(options.dir!), CIFAR10_ARCHIVE),
  };
}

/** The JPEG re-encoding in `dir` when `dir` holds no binary batches nor the binary tarball. */
async function jpegInDir(dir: string): Promise<string | undefined> {
  if (
    (await hasAny(join(dir, CIFAR10_FOLDER))) || (await hasAny(dir)) ||
    (await isFile(join(dir, CIFAR10_ARCHIVE)))
  ) return undefined;
  if (await isFile(join(dir, CIFAR10_JPEG_ARCHIVE))) return join(dir, CIFAR10_JPEG_ARCHIVE);
  if (await isDirectory(join(dir, CIFAR10_JPEG_FOLDER))) return join(dir, CIFAR10_JPEG_FOLDER);
  if ((await isDirectory(join(dir, "train"))) && (await isDirectory(join(dir, "test")))) return dir;
  return undefined;
}

/**
 * Where `train/` and `test/` are in the JPEG re-encoding at `path` (a folder or zip): directly,
 * or inside one top folder. Returns the folder (or zip root) prefix, ending in `/` if not empty.
 */
async function jpegPrefix(path: string): Promise<string> {
  if (await isDirectory(path)) {
    for (const prefix of ["", `${CIFAR10_JPEG_FOLDER}/`]) {
      if (
        (await isDirectory(join(path, prefix, "train"))) &&
        (await isDirectory(join(path, prefix, "test")))
      ) return prefix;
    }
  } else if (await isFile(path)) {
    for (const entry of await listZip(path)) {
      const match = /^(.*?)(train|test)\/[^/]+\/[^/]+$/.exec(entry.name);
      if (match && !match[1].includes("__MACOSX")) return match[1];
    }
  } else {
    throw new DatasetNotFoundError("CIFAR-10", [{ path, urls: [] }], "no such zip or folder");
  }
  throw new CorruptFileError(
    path,
    "expected train/<class>/*.jpg and test/<class>/*.jpg (directly or in one top folder)",
  );
}

/** Loads the JPEG re-encoding (class folders) and applies the same stratified split. */
async function loadCifar10Jpeg<D extends ImageDtype>(
  path: string,
  options: LoadCifar10Options<D>,
  dtype: D,
  seed: number,
  validationFraction: number,
): Promise<Cifar10<D>> {
  const prefix = await jpegPrefix(path);
  const zip = !(await isDirectory(path));
  const read = (split: string) =>
    loadImageFolder(zip ? path : join(path, prefix, split), {
      root: zip ? `${prefix}${split}` : undefined,
      // The binary release's class ids, which are also the sorted folder names Keras uses.
      classNames: CIFAR10_LABEL_NAMES,
      imageSize: [SIDE, SIDE],
      colorMode: "rgb",
      shuffle: false,
      cacheDir: options.cacheDir,
      progress: options.progress,
    });
  const train = await read("train");
  const test = await read("test");
  for (const [split, data] of [["train", train], ["test", test]] as const) {
    if (data.images.length !== data.labels!.length * PIXELS) {
      throw new CorruptFileError(path, `${split}: expected 32×32 RGB images`);
    }
  }
  const split = stratifiedSplit(train.labels!, validationFraction, seed);
  const shape: [number, number, number] = [SIDE, SIDE, 3];
  return {
    train: {
      ...makeImageSplit(train.images, train.labels!, shape, dtype, split.train),
      sourceIndices: split.train,
    },
    validation: {
      ...makeImageSplit(train.images, train.labels!, shape, dtype, split.validation),
      sourceIndices: split.validation,
    },
    test: makeImageSplit(test.images, test.labels!, shape, dtype),
    labelNames: CIFAR10_LABEL_NAMES,
    seed,
    validationFraction,
    source: "CIFAR-10 (JPEG re-encoding)",
    sourcePath: path,
  };
}
