/**
 * A folder of images, one sub-folder per class, loaded with the semantics of Keras's
 * `keras.utils.image_dataset_from_directory`: class names are the sorted sub-folder names (or
 * given), files are listed in `os.walk` order, shuffled with NumPy's `RandomState(seed)` and split
 * into training / validation exactly as Keras does. Reads a folder or a `.zip` of one, decodes
 * JPEG, PNG, BMP and GIF (first frame), resizes, and caches the decoded bytes in the data cache.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { relative } from "node:path";
import {
  COLOR_MODE_CHANNELS,
  type ColorMode,
  decodeImageSync,
  type Interpolation,
  loadImageDecoders,
  resizeImage,
  sniffImageFormat,
} from "./image_decode.ts";
import {
  CorruptFileError,
  DatasetError,
  DatasetNotFoundError,
  InvalidOptionError,
} from "./errors.ts";
import { numpyShuffle } from "./numpy_random.ts";
import { defaultCacheDir, isDirectory, isFile, join, toPath } from "./paths.ts";
import { createProgress, type ProgressSetting } from "./progress.ts";
import { listZip, readZipEntries, type ZipEntry } from "./zip.ts";
import { publishFile, removeQuietly } from "./download.ts";
import type { DecodeReply, DecodeRequest } from "./image_decode_worker.ts";

/** File extensions Keras lists (compared case-insensitively); other files are ignored. */
export const IMAGE_EXTENSIONS: readonly string[] = [".bmp", ".gif", ".jpeg", ".jpg", ".png"];

/** How labels are returned, as Keras's `label_mode`. */
export type LabelMode = "int" | "categorical" | "binary";

/** Options of {@linkcode loadImageFolder}; names follow Keras's arguments in camelCase. */
export interface LoadImageFolderOptions {
  /**
   * `"inferred"` (default: the class is the top-level sub-folder), `null` (no labels), or one
   * integer label per image file, in the order of the listing of the whole folder (Keras's
   * explicit labels: class names are then the sorted distinct labels, as strings).
   */
  labels?: "inferred" | null | readonly number[];
  /**
   * `"int"` (default: `Int32Array` class ids), `"categorical"` (one-hot), `"binary"` (0/1), or
   * `null`: no labels (as `labels: null`).
   */
  labelMode?: LabelMode | null;
  /** Classes to read, in this order; each must be a sub-folder. Default: all, sorted. */
  classNames?: readonly string[];
  /** `"rgb"` (default), `"grayscale"` or `"rgba"`. */
  colorMode?: ColorMode;
  /** `[height, width]` (or one number for both) every image is resized to; default 256×256. */
  imageSize?: number | readonly [number, number];
  /** `"bilinear"` (default) or `"nearest"`. */
  interpolation?: Interpolation;
  /** Centre-crop to the target aspect ratio before resizing (Keras `smart_resize`); default false. */
  cropToAspectRatio?: boolean;
  /** Fit inside the target size and pad with zeros (Keras `pad_to_aspect_ratio`); default false. */
  padToAspectRatio?: boolean;
  /** Shuffle the file order with `seed` (default true); false keeps the sorted order. */
  shuffle?: boolean;
  /** Seed of the shuffle (NumPy `RandomState`); default a random integer below 10^6, as Keras. */
  seed?: number;
  /** Fraction of the files kept for validation (the last `trunc(fraction × n)` after shuffling). */
  validationSplit?: number;
  /**
   * `"training"`, `"validation"` (with `validationSplit`), or `"both"`: then
   * {@linkcode loadImageFolder} returns `[training, validation]` from one decode.
   */
  subset?: "training" | "validation" | "both";
  /** For a zip: the folder inside the archive that holds the class folders; default its root. */
  root?: string;
  /** Skip (and report in `skipped`) images that fail to decode instead of throwing. */
  skipBadImages?: boolean;
  /** Called for each skipped image; default prints one line on stderr. */
  onSkip?: (file: string, error: CorruptFileError) => void;
  /** Cache the decoded images (default true) in `<cacheDir>/image-folder/`. */
  cache?: boolean;
  /** The data cache; default `$SCRATCHNET_DATA_DIR` or the repository's `data/`. */
  cacheDir?: string | URL;
  /** Progress bar on stderr; default only if stderr is a terminal. */
  progress?: ProgressSetting;
  /**
   * Decoding Workers; default 0 (decode in this thread). Results do not depend on it. On the
   * project's shared 2-core machine under load, 2 Workers were slower than none (10,000 CIFAR-10
   * JPEGs: 6.1 s vs 4.6 s), so they are opt-in: measure before turning them on.
   */
  workers?: number;
}

/** An image skipped under `skipBadImages`. */
export interface SkippedImage {
  /** The file (for a zip, `archive.zip:path/inside`). */
  file: string;
  /** Why it could not be decoded. */
  reason: string;
}

/** What {@linkcode loadImageFolder} returns. */
export interface ImageFolderDataset {
  /** Pixels, NHWC bytes (0–255). */
  images: Uint8Array;
  /** `[n, height, width, channels]`. */
  shape: [number, number, number, number];
  /** Class id of each image (`undefined` with `labels: null`). */
  labels: Int32Array | undefined;
  /**
   * Labels as `labelMode` asks: `int` → the class ids; `categorical` → one-hot `[n, classes]`;
   * `binary` → `[n, 1]` of 0 / 1.
   */
  targets: Int32Array | Float32Array | undefined;
  /** Class names in id order (`undefined` with `labels: null`). */
  classNames: string[] | undefined;
  /** Path of each image, in the returned order. */
  filePaths: string[];
  /** The seed used for the shuffle (drawn at random when none was given). */
  seed: number;
  /** Images skipped under `skipBadImages`. */
  skipped: SkippedImage[];
  /** True when the pixels came from the cache. */
  fromCache: boolean;
  /** The folder or zip read. */
  source: string;
}

interface IndexedFile {
  /** Path relative to the folder of class folders (`cls/sub/x.jpg`). */
  rel: string;
  label: number;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** `os.walk`-order listing of one folder tree: directories sorted, then files sorted. */
async function walk(dir: string): Promise<string[]> {
  const byRoot: [string, string[]][] = [];
  const visit = async (root: string) => {
    const files: string[] = [];
    for await (const entry of Deno.readDir(root)) {
      const full = join(root, entry.name);
      if (entry.isDirectory) await visit(full);
      // os.walk(followlinks=False): a link to a folder is not entered; any other link is a file.
      else if (entry.isSymlink && (await isDirectory(full))) continue;
      else if (isImageName(entry.name)) files.push(entry.name);
    }
    byRoot.push([root, files.sort(compareStrings)]);
  };
  await visit(dir);
  byRoot.sort((a, b) => compareStrings(a[0], b[0]));
  return byRoot.flatMap(([root, files]) => files.map((name) => join(root, name)));
}

/** The same order for a set of `/`-separated paths (relative to one class folder). */
function walkOrder(paths: string[]): string[] {
  const split = paths.map((path) => {
    const cut = path.lastIndexOf("/");
    return { dir: cut < 0 ? "" : path.slice(0, cut), name: path.slice(cut + 1), path };
  });
  split.sort((a, b) => compareStrings(a.dir, b.dir) || compareStrings(a.name, b.name));
  return split.map((item) => item.path);
}

function pickClasses(found: string[], given: readonly string[] | undefined, source: string) {
  if (given === undefined) return found;
  const missing = given.filter((name) => !found.includes(name));
  if (missing.length > 0) {
    throw new InvalidOptionError(
      "classNames",
      `sub-folders of ${source} (found: ${found.join(", ")})`,
      given.join(", "),
    );
  }
  return [...given];
}

interface Index {
  files: IndexedFile[];
  classNames: string[] | undefined;
  /** A fingerprint of the indexed files' sizes and dates (folder) or CRCs (zip), for the cache. */
  fingerprint: string;
  /** Calls `onFile` per file in index order (folder) or archive order (zip); `failed` if unreadable. */
  read(
    onFile: (
      index: number,
      bytes: Uint8Array,
      name: string,
      failed?: CorruptFileError,
    ) => void | Promise<void>,
  ): Promise<void>;
}

async function indexFolder(
  dir: string,
  inferred: boolean,
  classNames: readonly string[] | undefined,
): Promise<Index> {
  let classes: string[] | undefined;
  const files: IndexedFile[] = [];
  if (inferred) {
    const found: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".")) continue;
      // os.path.isdir follows links: a linked folder is a class too.
      if (entry.isDirectory || (entry.isSymlink && (await isDirectory(join(dir, entry.name))))) {
        found.push(entry.name);
      }
    }
    classes = pickClasses(found.sort(compareStrings), classNames, dir);
    for (let label = 0; label < classes.length; label++) {
      for (const path of await walk(join(dir, classes[label]))) {
        files.push({ rel: relative(dir, path), label });
      }
    }
  } else {
    for (const path of await walk(dir)) files.push({ rel: relative(dir, path), label: -1 });
  }
  const stats: string[] = [];
  for (const file of files) {
    try {
      const info = await Deno.stat(join(dir, file.rel));
      stats.push(`${file.rel}\0${info.size}\0${info.mtime?.getTime() ?? 0}`);
    } catch {
      stats.push(`${file.rel}\0unreadable`); // e.g. a broken link: reported when decoding
    }
  }
  return {
    files,
    classNames: classes,
    fingerprint: stats.join("\n"),
    async read(onFile) {
      for (let i = 0; i < files.length; i++) {
        const path = join(dir, files[i].rel);
        let bytes: Uint8Array;
        try {
          bytes = await Deno.readFile(path);
        } catch (error) {
          bytes = new Uint8Array(0);
          await onFile(
            i,
            bytes,
            path,
            new CorruptFileError(path, `cannot read (${String(error)})`),
          );
          continue;
        }
        await onFile(i, bytes, path);
      }
    },
  };
}

async function indexZip(
  zipPath: string,
  root: string,
  inferred: boolean,
  classNames: readonly string[] | undefined,
): Promise<Index> {
  const prefix = root === "" ? "" : `${root.replace(/\/+$/, "")}/`;
  const entries = (await listZip(zipPath)).filter((entry) =>
    entry.name.startsWith(prefix) && !entry.name.startsWith("__MACOSX/")
  );
  const byRel = new Map<string, ZipEntry>();
  for (const entry of entries) byRel.set(entry.name.slice(prefix.length), entry);
  if (byRel.size === 0) {
    throw new DatasetNotFoundError(
      "image folder",
      [{ path: `${zipPath}:${prefix}`, urls: [] }],
      `the archive has no entries under "${prefix}"`,
    );
  }
  let classes: string[] | undefined;
  const files: IndexedFile[] = [];
  const images = [...byRel.keys()].filter((rel) =>
    isImageName(rel.slice(rel.lastIndexOf("/") + 1))
  );
  if (inferred) {
    const found = new Set<string>();
    for (const rel of byRel.keys()) {
      const cut = rel.indexOf("/");
      if (cut > 0 && !rel.startsWith(".")) found.add(rel.slice(0, cut));
    }
    classes = pickClasses([...found].sort(compareStrings), classNames, `${zipPath}:${prefix}`);
    const perClass = new Map<string, string[]>(classes.map((name) => [name, []]));
    for (const rel of images) {
      const cut = rel.indexOf("/");
      if (cut > 0) perClass.get(rel.slice(0, cut))?.push(rel.slice(cut + 1));
    }
    classes.forEach((name, label) => {
      for (const inner of walkOrder(perClass.get(name)!)) {
        files.push({ rel: `${name}/${inner}`, label });
      }
    });
  } else {
    for (const rel of walkOrder(images)) files.push({ rel, label: -1 });
  }
  const picked = files.map((file) => byRel.get(file.rel)!);
  return {
    files,
    classNames: classes,
    fingerprint: picked.map((e) => `${e.name}\0${e.size}\0${e.crc}`).join("\n"),
    read: (onFile) =>
      readZipEntries(
        zipPath,
        picked,
        (i, bytes) => onFile(i, bytes, `${zipPath}:${picked[i].name}`),
      ),
  };
}

function checkOptions(options: LoadImageFolderOptions) {
  // As Keras: labelMode null means no labels at all.
  const labels = options.labelMode === null
    ? null
    : options.labels === undefined
    ? "inferred"
    : options.labels;
  if (Array.isArray(labels)) {
    if (!labels.every((label) => Number.isInteger(label) && label >= 0 && label < 2 ** 31)) {
      throw new InvalidOptionError("labels", "non-negative integer labels", labels);
    }
  } else if (labels !== "inferred" && labels !== null) {
    throw new InvalidOptionError("labels", '"inferred", null or a list of integers', labels);
  }
  if (labels !== "inferred" && options.classNames !== undefined) {
    throw new InvalidOptionError(
      "classNames",
      'no class names unless labels is "inferred"',
      options.classNames,
    );
  }
  const labelMode = labels === null
    ? null
    : options.labelMode === undefined
    ? "int"
    : options.labelMode;
  if (labelMode !== null && !["int", "categorical", "binary"].includes(labelMode)) {
    throw new InvalidOptionError("labelMode", '"int", "categorical", "binary" or null', labelMode);
  }
  const colorMode = options.colorMode ?? "rgb";
  if (!(colorMode in COLOR_MODE_CHANNELS)) {
    throw new InvalidOptionError("colorMode", '"rgb", "grayscale" or "rgba"', colorMode);
  }
  const size = options.imageSize ?? [256, 256];
  const [height, width] = typeof size === "number" ? [size, size] : size;
  if (
    !Number.isInteger(height) || !Number.isInteger(width) || !(height > 0) || !(width > 0) ||
    (typeof size !== "number" && size.length !== 2)
  ) {
    throw new InvalidOptionError("imageSize", "[height, width] of positive integers", size);
  }
  const interpolation = options.interpolation ?? "bilinear";
  if (interpolation !== "bilinear" && interpolation !== "nearest") {
    throw new InvalidOptionError("interpolation", '"bilinear" or "nearest"', interpolation);
  }
  const split = options.validationSplit;
  if (split !== undefined && split !== 0 && !(split > 0 && split < 1)) {
    throw new InvalidOptionError("validationSplit", "a number between 0 and 1", split);
  }
  if (Boolean(split) !== (options.subset !== undefined)) {
    throw new InvalidOptionError(
      "subset",
      "subset together with validationSplit (both or neither)",
      options.subset,
    );
  }
  if (
    options.subset !== undefined && options.subset !== "training" &&
    options.subset !== "validation" && options.subset !== "both"
  ) {
    throw new InvalidOptionError("subset", '"training", "validation" or "both"', options.subset);
  }
  if (options.cropToAspectRatio && options.padToAspectRatio) {
    throw new InvalidOptionError(
      "padToAspectRatio",
      "only one of padToAspectRatio and cropToAspectRatio",
      true,
    );
  }
  const shuffle = options.shuffle ?? true;
  if (split && shuffle && options.seed === undefined) {
    throw new InvalidOptionError(
      "seed",
      "a seed when validationSplit is used with shuffling (so training and validation do not overlap)",
      undefined,
    );
  }
  if (
    options.seed !== undefined &&
    !(Number.isInteger(options.seed) && options.seed >= 0 && options.seed < 2 ** 32)
  ) {
    throw new InvalidOptionError("seed", "an integer in [0, 2^32 - 1]", options.seed);
  }
  return { labels, labelMode, colorMode, height, width, interpolation, shuffle };
}

const CACHE_MAGIC = "SNIMG001";
const encoder = new TextEncoder();

/** SHA-256 (hex); node:crypto hashes large buffers about 1.5× faster than WebCrypto here. */
function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Reads a whole file in 16 MB reads into one buffer (faster than Deno.readFile for 100+ MB). */
async function readWhole(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const out = new Uint8Array(size);
  let done = 0;
  while (done < size) {
    const n = await file.read(out.subarray(done, Math.min(size, done + (16 << 20))));
    if (n === null) break;
    done += n;
  }
  return out.subarray(0, done);
}

interface Decoded {
  pixels: Uint8Array;
  /** Indices (into the index) of the images kept. */
  kept: number[];
  skipped: SkippedImage[];
}

interface CacheHeader {
  key: string;
  count: number;
  sampleShape: [number, number, number];
  kept: number[];
  skipped: SkippedImage[];
  sha256: string;
}

async function readCache(path: string, key: string): Promise<Decoded | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readWhole(path);
  } catch {
    return undefined;
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== CACHE_MAGIC || bytes.length < 12) return undefined;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true);
  let header: CacheHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    return undefined;
  }
  const pixels = bytes.subarray(12 + headerLength);
  const [h, w, c] = header.sampleShape;
  if (
    header.key !== key || pixels.length !== header.kept.length * h * w * c ||
    (sha256Hex(pixels)) !== header.sha256
  ) {
    console.warn(`image cache ${path} is stale or corrupt (checksum mismatch): decoding again`);
    return undefined;
  }
  return { pixels, kept: header.kept, skipped: header.skipped };
}

async function writeCache(path: string, header: CacheHeader, pixels: Uint8Array) {
  const json = encoder.encode(JSON.stringify(header));
  const head = new Uint8Array(12);
  head.set(encoder.encode(CACHE_MAGIC));
  new DataView(head.buffer).setUint32(8, json.length, true);
  await Deno.mkdir(join(path, ".."), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.part`;
  try {
    using file = await Deno.open(tmp, { write: true, createNew: true });
    for (const part of [head, json, pixels]) {
      let done = 0;
      while (done < part.length) done += await file.write(part.subarray(done));
    }
    file.close();
    await removeQuietly(path);
    await publishFile(tmp, path);
  } finally {
    await removeQuietly(tmp);
  }
}

/**
 * Loads a folder (or `.zip` of one) of images with the semantics of Keras 3's
 * `image_dataset_from_directory` (unbatched: all images in one NHWC byte array).
 *
 * - Classes: the top-level sub-folders not starting with `.`, sorted, or `classNames` in its
 *   order. Files: `.bmp .gif .jpeg .jpg .png` (any case) anywhere below a class folder, in
 *   `os.walk` order (folders sorted, then names sorted); other files are ignored.
 * - `shuffle` (default true) reorders files and labels with NumPy's
 *   `RandomState(seed).shuffle`, bit for bit as Keras; `validationSplit` + `subset` keep the first
 *   `n - trunc(split × n)` (training) or the last `trunc(split × n)` (validation) of that order.
 *   Keras's tf.data dataset additionally reshuffles training batches every epoch (a TensorFlow
 *   shuffle buffer that cannot be reproduced outside TensorFlow): shuffle per epoch in training.
 * - Images are decoded (format sniffed from the bytes), converted to `colorMode` and resized to
 *   `imageSize` (see {@linkcode resizeImage}: values are rounded to bytes, where Keras keeps
 *   float32; images already of that size are exact).
 *
 * The decoded bytes of all listed files are cached in `<cacheDir>/image-folder/` under a key made
 * of the source (its files' sizes and dates, or the zip's CRC-32s) and the decoding options, with
 * a SHA-256 of the pixels checked on every read; a second run skips decoding.
 *
 * @throws {DatasetNotFoundError} `source` does not exist.
 * @throws {CorruptFileError} an image cannot be decoded (names the file), unless `skipBadImages`.
 * @throws {InvalidOptionError} an option outside Keras's accepted values.
 * @throws {DatasetError} no image found, or a subset would be empty.
 *
 * With `subset: "both"`, returns `[training, validation]` from one decode.
 */
export async function loadImageFolder(
  source: string | URL,
  options: LoadImageFolderOptions & { subset: "both" },
): Promise<[ImageFolderDataset, ImageFolderDataset]>;
/**
 * Loads all images of the folder or zip, or one subset (`"training"` / `"validation"`); see the
 * `subset: "both"` overload for the semantics.
 */
export async function loadImageFolder(
  source: string | URL,
  options?: LoadImageFolderOptions & { subset?: "training" | "validation" },
): Promise<ImageFolderDataset>;
export async function loadImageFolder(
  source: string | URL,
  options: LoadImageFolderOptions = {},
): Promise<ImageFolderDataset | [ImageFolderDataset, ImageFolderDataset]> {
  const opts = checkOptions(options);
  const path = toPath(source);
  const channels = COLOR_MODE_CHANNELS[opts.colorMode];
  const inferred = opts.labels === "inferred";
  const explicit = Array.isArray(opts.labels) ? opts.labels as readonly number[] : undefined;
  let index: Index;
  if (await isDirectory(path)) {
    index = await indexFolder(path, inferred, options.classNames);
  } else if (await isFile(path)) {
    index = await indexZip(path, options.root ?? "", inferred, options.classNames);
  } else {
    throw new DatasetNotFoundError("image folder", [{ path, urls: [] }], "no such folder or zip");
  }
  if (index.files.length === 0) {
    throw new DatasetError(
      `${path}: no images found (expected ${IMAGE_EXTENSIONS.join(" ")} files` +
        `${inferred ? " in class sub-folders" : ""})`,
    );
  }
  if (explicit) {
    if (explicit.length !== index.files.length) {
      throw new InvalidOptionError(
        "labels",
        `${index.files.length} labels (one per image file found in ${path})`,
        `${explicit.length} labels`,
      );
    }
    index.files.forEach((file, i) => (file.label = explicit[i]));
    index.classNames = [...new Set(explicit)].sort((a, b) => a - b).map(String);
  }
  if (opts.labelMode === "binary" && index.classNames!.length !== 2) {
    throw new InvalidOptionError(
      "labelMode",
      'exactly 2 classes for "binary"',
      `${index.classNames!.length} classes (${index.classNames!.join(", ")})`,
    );
  }

  const sampleShape: [number, number, number] = [opts.height, opts.width, channels];
  const sampleSize = opts.height * opts.width * channels;
  const key = sha256Hex(JSON.stringify({
    version: 1,
    path,
    root: options.root ?? "",
    classNames: index.classNames,
    fingerprint: sha256Hex(index.fingerprint),
    colorMode: opts.colorMode,
    size: [opts.height, opts.width],
    interpolation: opts.interpolation,
    crop: options.cropToAspectRatio ?? false,
    pad: options.padToAspectRatio ?? false,
    skipBadImages: options.skipBadImages ?? false,
  }));
  const useCache = options.cache ?? true;
  const cachePath = join(
    options.cacheDir === undefined ? defaultCacheDir() : toPath(options.cacheDir),
    "image-folder",
    `${key.slice(0, 32)}.bin`,
  );
  let decoded = useCache ? await readCache(cachePath, key) : undefined;
  const fromCache = decoded !== undefined;
  if (!decoded) {
    decoded = await decodeAll(index, sampleSize, opts, options);
    if (useCache) {
      await writeCache(cachePath, {
        key,
        count: index.files.length,
        sampleShape,
        kept: decoded.kept,
        skipped: decoded.skipped,
        sha256: sha256Hex(decoded.pixels),
      }, decoded.pixels);
    }
  }

  // Keras order: the sorted listing (bad images dropped), shuffled with the seed, then split.
  const seed = options.seed ?? Math.floor(Math.random() * 1e6);
  const order = Int32Array.from(decoded.kept.keys());
  if (opts.shuffle) numpyShuffle(order, seed);
  if (!options.validationSplit) return gather(order);
  const numVal = Math.trunc(options.validationSplit * order.length);
  if (numVal === 0 || numVal === order.length) {
    throw new DatasetError(
      `${path}: validationSplit ${options.validationSplit} of ${order.length} images leaves ` +
        `no ${numVal === 0 ? "validation" : "training"} images`,
    );
  }
  const training = () => gather(order.subarray(0, order.length - numVal));
  const validation = () => gather(order.subarray(order.length - numVal));
  if (options.subset === "both") return [await training(), await validation()];
  return options.subset === "training" ? training() : validation();

  async function gather(picked: Int32Array): Promise<ImageFolderDataset> {
    const data = decoded!;
    // Unshuffled and unsplit: the decoded buffer is already in order (no 100+ MB copy).
    const identity = picked.length === data.kept.length && picked.every((v, i) => v === i);
    const images = identity ? data.pixels : new Uint8Array(picked.length * sampleSize);
    const labels = inferred || explicit ? new Int32Array(picked.length) : undefined;
    const filePaths: string[] = [];
    const isZip = !(await isDirectory(path));
    for (let i = 0; i < picked.length; i++) {
      const slot = picked[i];
      if (!identity) {
        images.set(
          data.pixels.subarray(slot * sampleSize, (slot + 1) * sampleSize),
          i * sampleSize,
        );
      }
      const file = index.files[data.kept[slot]];
      if (labels) labels[i] = file.label;
      const prefix = options.root ? `${options.root.replace(/\/+$/, "")}/` : "";
      filePaths.push(isZip ? `${path}:${prefix}${file.rel}` : join(path, file.rel));
    }
    return {
      images,
      shape: [picked.length, ...sampleShape],
      labels,
      targets: labels && makeTargets(labels, opts.labelMode!, index.classNames!.length),
      classNames: index.classNames,
      filePaths,
      seed,
      skipped: data.skipped,
      fromCache,
      source: path,
    };
  }
}

function makeTargets(labels: Int32Array, mode: LabelMode, classes: number) {
  if (mode === "int") return labels;
  if (mode === "binary") return Float32Array.from(labels);
  const out = new Float32Array(labels.length * classes);
  // As tf.one_hot: a label outside [0, classes) (explicit labels) gives a row of zeros.
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < classes) out[i * classes + labels[i]] = 1;
  }
  return out;
}

/** Files per message to a Worker. */
const BATCH = 256;

function workerCount(requested: number | undefined, count: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 0) {
      throw new InvalidOptionError("workers", "a non-negative integer", requested);
    }
    return Math.min(requested, count);
  }
  return 0;
}

async function decodeAll(
  index: Index,
  sampleSize: number,
  opts: ReturnType<typeof checkOptions>,
  options: LoadImageFolderOptions,
): Promise<Decoded> {
  const workers = workerCount(options.workers, index.files.length);
  if (workers >= 1) return await decodeInWorkers(index, sampleSize, opts, options, workers);
  await loadImageDecoders();
  const count = index.files.length;
  const pixels = new Uint8Array(count * sampleSize);
  const ok = new Uint8Array(count);
  const skipped: SkippedImage[] = [];
  const onSkip = options.onSkip ??
    ((_file: string, error: CorruptFileError) => console.warn(`skipping ${error.message}`));
  const progress = createProgress(`decode ${count} images`, count, {
    enabled: options.progress,
    unit: "items",
  });
  try {
    await index.read((i, bytes, file, failed) => {
      try {
        if (failed) throw failed;
        if (sniffImageFormat(bytes) === undefined && bytes.length === 0) {
          throw new CorruptFileError(file, "empty file (expected an image)");
        }
        const image = decodeImageSync(bytes, file, opts.colorMode);
        resizeImage(
          image,
          opts.height,
          opts.width,
          {
            interpolation: opts.interpolation,
            cropToAspectRatio: options.cropToAspectRatio,
            padToAspectRatio: options.padToAspectRatio,
          },
          pixels,
          i * sampleSize,
        );
        ok[i] = 1;
      } catch (error) {
        if (!(error instanceof CorruptFileError) || !options.skipBadImages) throw error;
        skipped.push({ file, reason: error.message });
        onSkip(file, error);
      }
      progress.add(1);
    });
  } finally {
    progress.done();
  }
  return compactDecoded(pixels, ok, skipped, sampleSize);
}

/** Drops the slots of images that failed (`ok[i] === 0`). */
function compactDecoded(
  pixels: Uint8Array,
  ok: Uint8Array,
  skipped: SkippedImage[],
  sampleSize: number,
): Decoded {
  const count = ok.length;
  const kept: number[] = [];
  for (let i = 0; i < count; i++) if (ok[i]) kept.push(i);
  if (kept.length === count) return { pixels, kept, skipped };
  const compact = new Uint8Array(kept.length * sampleSize);
  kept.forEach((from, to) =>
    compact.set(pixels.subarray(from * sampleSize, (from + 1) * sampleSize), to * sampleSize)
  );
  return { pixels: compact, kept, skipped };
}

/**
 * {@linkcode decodeAll} on `workers` Workers: files are read here in batches of 256 and decoded
 * there (each batch's pixels come back as one transferred buffer). At most two batches wait per
 * Worker, so memory stays bounded. The result is identical to decoding in this thread; with
 * several bad images, the one reported (or the order of `skipped`) follows the index.
 */
async function decodeInWorkers(
  index: Index,
  sampleSize: number,
  opts: ReturnType<typeof checkOptions>,
  options: LoadImageFolderOptions,
  workers: number,
): Promise<Decoded> {
  const count = index.files.length;
  const pixels = new Uint8Array(count * sampleSize);
  const ok = new Uint8Array(count);
  const failures: { index: number; error: CorruptFileError }[] = [];
  let fatal: Error | undefined;
  const progress = createProgress(`decode ${count} images (${workers} workers)`, count, {
    enabled: options.progress,
    unit: "items",
  });
  const pool = Array.from(
    { length: workers },
    () => new Worker(new URL("./image_decode_worker.ts", import.meta.url).href, { type: "module" }),
  );
  const busy = new Array<number>(workers).fill(0);
  const batches = new Map<number, { indices: number[]; files: string[]; done: () => void }>();
  let wake: (() => void) | undefined;
  const settle = (worker: number, id: number) => {
    batches.get(id)?.done();
    batches.delete(id);
    busy[worker]--;
    wake?.();
  };
  pool.forEach((worker, w) => {
    worker.onmessage = (event: MessageEvent<DecodeReply>) => {
      const reply = event.data;
      const batch = batches.get(reply.id)!;
      reply.errors.forEach((error, j) => {
        const slot = batch.indices[j];
        if (error === null) {
          pixels.set(
            reply.pixels.subarray(j * sampleSize, (j + 1) * sampleSize),
            slot * sampleSize,
          );
          ok[slot] = 1;
        } else if ("detail" in error) {
          failures.push({ index: slot, error: new CorruptFileError(batch.files[j], error.detail) });
        } else {
          fatal ??= new Error(`decoding ${batch.files[j]} failed: ${error.fatal}`);
        }
      });
      progress.add(reply.errors.length);
      settle(w, reply.id);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      fatal ??= new Error(`image decoding worker failed: ${event.message}`);
      for (const [id] of batches) settle(w, id);
    };
  });
  const stopIfFailed = () => {
    if (fatal) throw fatal;
    if (failures.length > 0 && !options.skipBadImages) {
      throw failures.reduce((a, b) => (b.index < a.index ? b : a)).error;
    }
  };
  const inFlight: Promise<void>[] = [];
  let nextId = 0;
  let current = { indices: [] as number[], files: [] as string[], buffers: [] as ArrayBuffer[] };
  const dispatch = async () => {
    if (current.indices.length === 0) return;
    let w = busy.indexOf(Math.min(...busy));
    while (busy[w] >= 2) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      w = busy.indexOf(Math.min(...busy));
    }
    stopIfFailed();
    const id = nextId++;
    const { indices, files, buffers } = current;
    current = { indices: [], files: [], buffers: [] };
    inFlight.push(new Promise<void>((done) => batches.set(id, { indices, files, done })));
    busy[w]++;
    const request: DecodeRequest = {
      id,
      files,
      buffers,
      colorMode: opts.colorMode,
      height: opts.height,
      width: opts.width,
      interpolation: opts.interpolation,
      cropToAspectRatio: options.cropToAspectRatio ?? false,
      padToAspectRatio: options.padToAspectRatio ?? false,
    };
    pool[w].postMessage(request, buffers);
  };
  try {
    await index.read(async (i, bytes, file, failed) => {
      if (failed) {
        failures.push({ index: i, error: failed });
        progress.add(1);
        return;
      }
      // Own, transferable bytes (a zip entry is a view into a shared read block).
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? bytes.buffer as ArrayBuffer
        : bytes.slice().buffer;
      current.indices.push(i);
      current.files.push(file);
      current.buffers.push(own);
      if (current.indices.length >= BATCH) await dispatch();
    });
    await dispatch();
    await Promise.all(inFlight);
    stopIfFailed();
  } finally {
    for (const worker of pool) worker.terminate();
    progress.done();
  }
  failures.sort((a, b) => a.index - b.index);
  const onSkip = options.onSkip ??
    ((_file: string, error: CorruptFileError) => console.warn(`skipping ${error.message}`));
  const skipped: SkippedImage[] = [];
  for (const { error } of failures) {
    skipped.push({ file: error.file, reason: error.message });
    onSkip(error.file, error);
  }
  return compactDecoded(pixels, ok, skipped, sampleSize);
}
