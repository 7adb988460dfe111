/**
 * Dataset loaders for scratchnet: NusaX-Sentiment (12 languages), CIFAR-10 (binary version or
 * its JPEG re-encoding, with a seeded stratified 40k / 10k train / validation split), MNIST,
 * Fashion-MNIST, IMDb, and folders (or zips) of images with Keras's
 * `image_dataset_from_directory` semantics ({@linkcode loadImageFolder}).
 *
 * Every loader reads a local folder (`dir`) or a download cache (`cacheDir`, default the
 * repository's `data/`), downloading the official files into the cache when they are missing
 * (MD5-checked, written to a temporary file first, never replacing an existing file). Offline
 * without the files, a {@linkcode DatasetNotFoundError} says where to put them and where to get
 * them.
 *
 * ```ts
 * import { loadCifar10, loadNusaxSentiment } from "@scratchnet/datasets";
 *
 * const nusax = await loadNusaxSentiment({ language: "indonesian" });
 * console.log(nusax.train.texts.length, nusax.labelNames);
 *
 * const cifar = await loadCifar10({ seed: 42 }); // train 40k, validation 10k, test 10k
 * console.log(cifar.train.shape); // [40000, 32, 32, 3]
 * ```
 *
 * @module
 */

export {
  ChecksumError,
  CorruptFileError,
  CsvFormatError,
  DatasetError,
  DatasetNotFoundError,
  DownloadError,
  InvalidOptionError,
  type MissingFile,
  ResourceLimitError,
} from "./src/errors.ts";
export {
  type LoadNusaxOptions,
  loadNusaxSentiment,
  NUSAX_BASE_URL,
  NUSAX_LABEL_NAMES,
  NUSAX_LANGUAGES,
  NUSAX_MD5,
  NUSAX_SPLITS,
  type NusaxLanguage,
  type NusaxSentiment,
  type NusaxSplitName,
  parseNusaxCsv,
  type TextSplit,
} from "./src/nusax.ts";
export {
  type Cifar10,
  CIFAR10_ARCHIVE,
  CIFAR10_FOLDER,
  CIFAR10_JPEG_ARCHIVE,
  CIFAR10_JPEG_FOLDER,
  CIFAR10_LABEL_NAMES,
  CIFAR10_MD5,
  CIFAR10_RECORD_BYTES,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  CIFAR10_URL,
  type Cifar10TrainSplit,
  decodeCifar10Batch,
  loadCifar10,
  type LoadCifar10Options,
  type RawImages,
} from "./src/cifar10.ts";
export {
  FASHION_MNIST_LABEL_NAMES,
  FASHION_MNIST_MD5,
  FASHION_MNIST_MIRRORS,
  loadFashionMnist,
  loadMnist,
  type LoadMnistOptions,
  MNIST_FILES,
  MNIST_LABEL_NAMES,
  MNIST_MD5,
  MNIST_MIRRORS,
  type MnistLike,
} from "./src/mnist.ts";
export {
  type Imdb,
  IMDB_ARCHIVE,
  IMDB_FOLDER,
  IMDB_LABEL_NAMES,
  IMDB_MD5,
  IMDB_URL,
  type ImdbSplit,
  loadImdb,
  type LoadImdbOptions,
} from "./src/imdb.ts";
export type { ImageArray, ImageDtype, ImageSplit } from "./src/images.ts";
export {
  IMAGE_EXTENSIONS,
  type ImageFolderDataset,
  type LabelMode,
  loadImageFolder,
  type LoadImageFolderOptions,
  type SkippedImage,
} from "./src/image_folder.ts";
export {
  COLOR_MODE_CHANNELS,
  type ColorMode,
  type DecodedImage,
  decodeImage,
  decodeImageSync,
  fromRgba,
  type ImageFormat,
  type Interpolation,
  loadImageDecoders,
  resizeImage,
  type ResizeOptions,
  sniffImageFormat,
} from "./src/image_decode.ts";
export { listZip, readZipEntries, type ZipEntry } from "./src/zip.ts";
export { Mt19937, numpyShuffle } from "./src/numpy_random.ts";
export { type IdxArray, parseIdx } from "./src/idx.ts";
export { type CsvRecord, type CsvTable, parseCsv } from "./src/csv.ts";
export {
  checkSplitOptions,
  seededRandom,
  type SplitIndices,
  stratifiedSplit,
} from "./src/split.ts";
export { md5Bytes, md5File } from "./src/checksum.ts";
export {
  type ArchiveLimits,
  DEFAULT_ARCHIVE_LIMITS,
  gunzip,
  readTar,
  type TarEntry,
} from "./src/archive.ts";
export {
  type CachedFile,
  downloadFile,
  type DownloadOptions,
  ensureCachedFiles,
  type EnsureOptions,
} from "./src/download.ts";
export { CACHE_DIR_ENV, defaultCacheDir } from "./src/paths.ts";
export {
  createProgress,
  type Progress,
  type ProgressOptions,
  type ProgressSetting,
} from "./src/progress.ts";
