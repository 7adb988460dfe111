/**
 * `deno task predict --images <file|dir|zip>`: runs an image classifier on image files. Images
 * are decoded and resized to the model's input (`@scratchnet/datasets`), scaled to the range the
 * model expects, and the top-k classes are printed with their probabilities.
 *
 * @module
 */
import {
  type ColorMode,
  DatasetError,
  decodeImage,
  loadImageFolder,
  resizeImage,
} from "../datasets/mod.ts";
import { CONV_ALGORITHMS, type ConvAlgorithm, Tensor } from "../engine/mod.ts";
import { loadModel } from "./load.ts";
import { writeNpy } from "./npy.ts";

/** Where the command writes (same shape as the CLI's). */
export interface ImagesIo {
  /** Result lines. */
  out: (line: string) => void;
  /** Error lines. */
  err: (line: string) => void;
}

/** A bad `--images` command line or a model that is not an image classifier. */
export class ImagesUsageError extends Error {}

/** Images ready for a model: float32 NHWC plus where they came from. */
export interface ImageBatch {
  /** Pixels scaled to the model's range, `[n, height, width, channels]`. */
  x: Float32Array;
  /** `[n, height, width, channels]`. */
  shape: [number, number, number, number];
  /** Each image's path (for a zip, `archive.zip:path/inside`). */
  files: string[];
  /** Class folder names, when the folder or zip is laid out one folder per class. */
  folderClasses?: string[];
  /** Each image's class folder (index into `folderClasses`). */
  folderLabels?: Int32Array;
}

const COLOR_MODES: Record<number, ColorMode> = { 1: "grayscale", 3: "rgb", 4: "rgba" };

function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 &&
    bytes[3] === 4;
}

/**
 * Reads `path` (one image file, a folder or a `.zip`) at `height × width × channels`, scaling
 * bytes by `1 / 255` (`scale` 255) or not (`scale` 1). A folder or zip with class sub-folders is
 * read as Keras's `image_dataset_from_directory` lists it (unshuffled) and keeps the folder names;
 * otherwise every image in it is read, in sorted order.
 */
export async function readImagesForModel(
  path: string,
  height: number,
  width: number,
  channels: number,
  scale: 1 | 255,
): Promise<ImageBatch> {
  const colorMode = COLOR_MODES[channels];
  if (colorMode === undefined) {
    throw new ImagesUsageError(
      `the model takes ${channels} channels; --images needs 1 (grayscale), 3 (RGB) or 4 (RGBA)`,
    );
  }
  const shape: [number, number, number, number] = [0, height, width, channels];
  const toFloat = (bytes: Uint8Array) => {
    const x = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) x[i] = bytes[i] / scale;
    return x;
  };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new ImagesUsageError(`cannot read --images ${path}: ${(e as Error).message}`);
  }
  if (info.isFile) {
    const head = new Uint8Array(4);
    using file = await Deno.open(path);
    await file.read(head);
    if (!isZip(head)) {
      const image = await decodeImage(await Deno.readFile(path), path, colorMode);
      const bytes = resizeImage(image, height, width);
      return { x: toFloat(bytes), shape: [1, height, width, channels], files: [path] };
    }
  }
  const common = { imageSize: [height, width] as [number, number], colorMode, shuffle: false };
  let data;
  try {
    data = await loadImageFolder(path, { ...common, cache: false });
  } catch (e) {
    if (!(e instanceof DatasetError) || !/no images found/.test(e.message)) throw e;
    data = await loadImageFolder(path, { ...common, labels: null, cache: false });
  }
  shape[0] = data.shape[0];
  return {
    x: toFloat(data.images),
    shape,
    files: data.filePaths,
    folderClasses: data.classNames,
    folderLabels: data.labels,
  };
}

/** True if the model config holds a Keras `Rescaling` layer (which expects 0–255 inputs). */
export function hasRescaling(config: unknown): boolean {
  return JSON.stringify(config).includes('"class_name":"Rescaling"');
}

/** Parsed flags of the images mode (see {@linkcode predictImages}). */
export interface PredictImagesFlags {
  /** `--model`: the model file. */
  model: string;
  /** `--images`: an image file, a folder or a zip. */
  images: string;
  /** `--labels`: a text file of class names, one per line. */
  labels?: string;
  /** `--top-k` (default 5). */
  topK?: string;
  /** `--pixels`: `0-1` or `0-255` (default from the model). */
  pixels?: string;
  /** `--output`: where to write the model's outputs (`.npy`). */
  output?: string;
  /** `--batch-size`. */
  batchSize?: string;
  /** `--conv`: Conv2D method. */
  conv?: string;
  /** `--force`: overwrite `output`. */
  force?: boolean;
}

/**
 * Runs the model on the images and prints one line per image with its top-k classes; writes the
 * model's outputs to `output` (`.npy`) when given. Class names come from `labels` (a text file,
 * one name per line), else the class folder names when their count matches the model's outputs,
 * else the class index. With class folders it also prints the top-1 accuracy against them.
 *
 * @throws {ImagesUsageError} flags that do not fit the model, or unreadable files.
 */
export async function predictImages(flags: PredictImagesFlags, io: ImagesIo): Promise<void> {
  const topK = flags.topK === undefined ? 5 : Number(flags.topK);
  if (!Number.isInteger(topK) || topK < 1) {
    throw new ImagesUsageError(`--top-k must be a positive integer, got "${flags.topK}"`);
  }
  if (flags.pixels !== undefined && flags.pixels !== "0-1" && flags.pixels !== "0-255") {
    throw new ImagesUsageError(`--pixels must be 0-1 or 0-255, got "${flags.pixels}"`);
  }
  const batchSize = flags.batchSize === undefined ? undefined : Number(flags.batchSize);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new ImagesUsageError(`--batch-size must be a positive integer, got "${flags.batchSize}"`);
  }
  if (flags.conv !== undefined && !(CONV_ALGORITHMS as readonly string[]).includes(flags.conv)) {
    throw new ImagesUsageError(`--conv must be auto, direct or winograd, got "${flags.conv}"`);
  }
  if (flags.output !== undefined && !flags.force) {
    try {
      await Deno.lstat(flags.output);
      throw new ImagesUsageError(`${flags.output} exists; pass --force to overwrite it`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  let labelNames: string[] | undefined;
  if (flags.labels !== undefined) {
    try {
      labelNames = (await Deno.readTextFile(flags.labels)).split(/\r?\n/).map((l) => l.trim())
        .filter((l) => l !== "");
    } catch (e) {
      throw new ImagesUsageError(`cannot read --labels ${flags.labels}: ${(e as Error).message}`);
    }
  }
  const { model, spec, meta } = await loadModel(flags.model, {
    convAlgorithm: flags.conv as ConvAlgorithm | undefined,
  });
  if (model === null) {
    throw new ImagesUsageError(`${flags.model} holds only preprocessing layers; nothing to run`);
  }
  try {
    const inputShapes = (model as unknown as { inputShapes?: (number | null)[][] }).inputShapes ??
      [model.inputShape as (number | null)[]];
    const shape = inputShapes[0];
    if (inputShapes.length !== 1 || shape.length !== 3 || shape.some((d) => !d)) {
      throw new ImagesUsageError(
        `--images needs a model with one image input of known size [height, width, channels]; ` +
          `${model.name} takes ${JSON.stringify(inputShapes)}`,
      );
    }
    const [height, width, channels] = shape as number[];
    const scale =
      flags.pixels === "0-255" || (flags.pixels === undefined && hasRescaling(spec.config))
        ? 1
        : 255;
    const batch = await readImagesForModel(flags.images, height, width, channels, scale);
    const started = performance.now();
    const y = model.predict(new Tensor(batch.x, batch.shape), batchSize ? { batchSize } : {});
    const predictMs = performance.now() - started;
    const classes = y.shape[y.shape.length - 1];
    if (labelNames !== undefined && labelNames.length !== classes) {
      throw new ImagesUsageError(
        `--labels ${flags.labels}: expected ${classes} names (one per model output), ` +
          `found ${labelNames.length}`,
      );
    }
    const folderNames = batch.folderClasses?.length === classes ? batch.folderClasses : undefined;
    const names = labelNames ?? folderNames;
    const nameOf = (k: number) => names?.[k] ?? String(k);
    io.out(
      `${model.name} (${meta.format}): ${
        batch.shape[0]
      } image(s) at ${height}×${width}×${channels}, ` +
        `pixels ${scale === 1 ? "0–255" : "0–1"}` +
        `${flags.pixels === undefined ? (scale === 1 ? " (the model has Rescaling)" : "") : ""}, ` +
        `predict ${predictMs.toFixed(0)} ms`,
    );
    const rows = batch.shape[0];
    const shown = rows <= 50 ? rows : 20;
    let correct = 0;
    for (let i = 0; i < rows; i++) {
      const row = y.data.subarray(i * classes, (i + 1) * classes);
      const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, topK);
      if (batch.folderLabels && folderNames && order[0] === batch.folderLabels[i]) correct++;
      if (i < shown) {
        io.out(
          `${batch.files[i]}: ${order.map((k) => `${nameOf(k)} ${row[k].toFixed(4)}`).join(", ")}`,
        );
      }
    }
    if (shown < rows) {
      io.out(`… ${rows - shown} more${flags.output ? ` (all in ${flags.output})` : ""}`);
    }
    if (batch.folderLabels && folderNames) {
      io.out(
        `top-1 accuracy against the class folders: ${(correct / rows * 100).toFixed(2)}% ` +
          `(${correct}/${rows})`,
      );
    }
    if (flags.output !== undefined) {
      await Deno.writeFile(flags.output, writeNpy({ data: y.data, shape: [...y.shape] }));
      io.out(`wrote ${flags.output} ${JSON.stringify(y.shape)} float32`);
    }
  } finally {
    model.dispose();
  }
}
