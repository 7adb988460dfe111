/**
 * The IMDb Large Movie Review data set (`aclImdb`): 25,000 training and 25,000 test reviews,
 * stored one per file as `aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt`.
 *
 * @module
 */

import { type ArchiveLimits, gunzip, readTar } from "./archive.ts";
import { ensureCachedFiles, verifyMd5 } from "./download.ts";
import { CorruptFileError, DatasetNotFoundError, InvalidOptionError } from "./errors.ts";
import { defaultCacheDir, isDirectory, isFile, join, toPath } from "./paths.ts";
import { createProgress, type ProgressSetting } from "./progress.ts";
import { seededRandom } from "./split.ts";

/** The official tarball. */
export const IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz";
/** MD5 of the official tarball. */
export const IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a";
/** File name of the tarball. */
export const IMDB_ARCHIVE = "aclImdb_v1.tar.gz";
/** Folder the tarball extracts to. */
export const IMDB_FOLDER = "aclImdb";
/** Class names by id, as the folders are named (sorted, like Keras's directory loaders). */
export const IMDB_LABEL_NAMES: readonly string[] = ["neg", "pos"];

const SPLITS = ["train", "test"] as const;
const REVIEW_NAME = /^(\d+)_(\d+)\.txt$/;
const ARCHIVE_MEMBER = /^aclImdb\/(train|test)\/(neg|pos)\/(\d+_\d+\.txt)$/;
/** File names read as gzipped tarballs of `aclImdb/` when given as (or found alone in) `dir`. */
const TARBALL_NAME = /\.(tar\.gz|tgz)$/;

/** One IMDb split. */
export interface ImdbSplit {
  /** Review ids (the number before `_` in the file name; unique per folder, not per split). */
  ids: number[];
  /** Review texts as written (they contain `<br />` tags). */
  texts: string[];
  /** 0 = `neg`, 1 = `pos`. */
  labels: Int32Array;
  /** Star ratings from the file names (1–4 negative, 7–10 positive). */
  ratings: Int32Array;
  /** Where each review came from, relative to `aclImdb/`. */
  files: string[];
}

/** IMDb reviews with binary sentiment labels. */
export interface Imdb {
  /** 25,000 training reviews. */
  train: ImdbSplit;
  /** 25,000 test reviews. */
  test: ImdbSplit;
  /** `["neg", "pos"]`. */
  labelNames: readonly string[];
}

/** Options of {@linkcode loadImdb}. */
export interface LoadImdbOptions {
  /**
   * A local folder holding `aclImdb/` (or its `train/` and `test/` directly), `aclImdb_v1.tar.gz`
   * or one other `.tar.gz` / `.tgz` of the same layout (a repackaged copy such as
   * `aclImdb-labeled.tar.gz`); or the path of such a tarball itself. When given, nothing is
   * downloaded or written.
   */
  dir?: string | URL;
  /** Download cache; default the repository's `data/`. */
  cacheDir?: string | URL;
  /** Download the tarball when missing (default `true`). */
  download?: boolean;
  /** Check the tarball's MD5; default `true` for the cache, `false` for a tarball in `dir`. */
  verifyChecksum?: boolean;
  /**
   * Shuffle each split with this seed. Default: no shuffle — `neg` reviews then `pos`, each in
   * ascending (id, rating) order.
   */
  shuffleSeed?: number;
  /** Download URL(s) of the tarball, tried in order; default {@linkcode IMDB_URL}. */
  urls?: string[];
  /** Progress bar on stderr; default only if stderr is a terminal. */
  progress?: ProgressSetting;
  /** Limits checked before inflating compressed files (see `SECURITY.md`); default {@linkcode DEFAULT_ARCHIVE_LIMITS}. */
  limits?: Partial<ArchiveLimits>;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
}

/** A review before sorting: path relative to `aclImdb/` and its bytes or a reader. */
interface ReviewSource {
  split: (typeof SPLITS)[number];
  label: number;
  id: number;
  rating: number;
  file: string;
  read: () => Promise<Uint8Array> | Uint8Array;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const READ_BATCH = 256;

function parseName(name: string, where: string): { id: number; rating: number } {
  const match = REVIEW_NAME.exec(name);
  if (!match) {
    throw new CorruptFileError(where, `review file names must look like <id>_<rating>.txt`);
  }
  return { id: Number(match[1]), rating: Number(match[2]) };
}

/** Lists the reviews of an extracted `aclImdb` folder. */
async function listFolder(root: string): Promise<ReviewSource[]> {
  const sources: ReviewSource[] = [];
  const missing: string[] = [];
  for (const split of SPLITS) {
    for (const [label, labelName] of IMDB_LABEL_NAMES.entries()) {
      const folder = join(root, split, labelName);
      if (!(await isDirectory(folder))) {
        missing.push(folder);
        continue;
      }
      for await (const entry of Deno.readDir(folder)) {
        if (!entry.isFile || !entry.name.endsWith(".txt")) continue;
        const path = join(folder, entry.name);
        const { id, rating } = parseName(entry.name, path);
        sources.push({
          split,
          label,
          id,
          rating,
          file: `${split}/${labelName}/${entry.name}`,
          read: () => Deno.readFile(path),
        });
      }
    }
  }
  if (missing.length > 0) {
    throw new DatasetNotFoundError(
      "IMDb",
      missing.map((path) => ({ path, urls: [] })),
      `incomplete ${IMDB_FOLDER} folder at ${root} (expected train/ and test/, each with neg/ and pos/)`,
    );
  }
  return sources;
}

/** Lists the reviews in the tarball's bytes. */
function listArchive(
  archive: Uint8Array,
  file: string,
  progress: ProgressSetting,
  limits: Partial<ArchiveLimits> | undefined,
): ReviewSource[] {
  const entries = readTar(
    gunzip(archive, file, progress, limits),
    file,
    (name) => ARCHIVE_MEMBER.test(name),
  );
  if (entries.length === 0) {
    throw new CorruptFileError(
      file,
      `no aclImdb/{train,test}/{neg,pos}/*.txt entries in the archive`,
    );
  }
  return entries.map((entry) => {
    const [, split, labelName, name] = ARCHIVE_MEMBER.exec(entry.name)!;
    const { id, rating } = parseName(name, `${file}:${entry.name}`);
    return {
      split: split as ReviewSource["split"],
      label: IMDB_LABEL_NAMES.indexOf(labelName),
      id,
      rating,
      file: `${split}/${labelName}/${name}`,
      read: () => entry.data,
    };
  });
}

/** Extracts the labelled reviews of a cached tarball into `<cacheDir>/aclImdb/`. */
async function extractToCache(
  archivePath: string,
  root: string,
  progress: ProgressSetting,
  limits: Partial<ArchiveLimits> | undefined,
): Promise<void> {
  const reviews = listArchive(await Deno.readFile(archivePath), archivePath, progress, limits);
  // Extract into a temporary folder and rename it, so a half-extracted folder never looks complete.
  const tmp = `${root}.${crypto.randomUUID().slice(0, 8)}.part`;
  try {
    for (const split of SPLITS) {
      for (const label of IMDB_LABEL_NAMES) {
        await Deno.mkdir(join(tmp, split, label), { recursive: true });
      }
    }
    const bar = createProgress("extract aclImdb", reviews.length, {
      enabled: progress,
      unit: "items",
    });
    for (const review of reviews) {
      await Deno.writeFile(join(tmp, review.file), await review.read());
      bar.add(1);
    }
    bar.done();
    if (!(await isDirectory(root))) await Deno.rename(tmp, root);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function locate(options: LoadImdbOptions): Promise<ReviewSource[]> {
  const urls = options.urls ?? [IMDB_URL];
  if (options.dir !== undefined) {
    const dir = toPath(options.dir);
    let archive: string;
    if (TARBALL_NAME.test(dir) && await isFile(dir)) archive = dir;
    else {
      if (await isDirectory(join(dir, IMDB_FOLDER))) {
        return await listFolder(join(dir, IMDB_FOLDER));
      }
      if (await isDirectory(join(dir, "train"))) return await listFolder(dir);
      archive = join(dir, IMDB_ARCHIVE);
      if (!(await isFile(archive))) {
        // A repackaged tarball under another name: accepted when it is the only one.
        const others = (await isDirectory(dir))
          ? (await Array.fromAsync(Deno.readDir(dir)))
            .filter((e) => e.isFile && TARBALL_NAME.test(e.name)).map((e) => e.name)
          : [];
        if (others.length !== 1) {
          throw new DatasetNotFoundError(
            "IMDb",
            [{ path: archive, urls }],
            `no ${IMDB_FOLDER}/ folder, no ${IMDB_ARCHIVE} and ${
              others.length
                ? `${others.length} other tarballs (${others.join(", ")})`
                : "no other tarball"
            } in the folder given as dir`,
          );
        }
        archive = join(dir, others[0]);
      }
    }
    if (options.verifyChecksum) await verifyMd5(archive, IMDB_MD5);
    return listArchive(await Deno.readFile(archive), archive, options.progress, options.limits);
  }
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : toPath(options.cacheDir);
  const root = join(cacheDir, IMDB_FOLDER);
  if (!(await isDirectory(root))) {
    const archive = join(cacheDir, IMDB_ARCHIVE);
    await ensureCachedFiles("IMDb", [{ path: archive, urls, md5: IMDB_MD5 }], options);
    await extractToCache(archive, root, options.progress, options.limits);
  }
  return await listFolder(root);
}

async function buildSplit(
  reviews: ReviewSource[],
  shuffleSeed: number | undefined,
  progress: ProgressSetting,
  split: string,
): Promise<ImdbSplit> {
  reviews.sort((a, b) => a.label - b.label || a.id - b.id || a.rating - b.rating);
  if (shuffleSeed !== undefined) {
    const random = seededRandom(shuffleSeed);
    for (let i = reviews.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [reviews[i], reviews[j]] = [reviews[j], reviews[i]];
    }
  }
  const texts: string[] = [];
  const bar = createProgress(`read IMDb ${split}`, reviews.length, {
    enabled: progress,
    unit: "items",
  });
  const decode = async (review: ReviewSource) => {
    const bytes = await review.read();
    try {
      return decoder.decode(bytes);
    } catch (error) {
      throw new CorruptFileError(`${IMDB_FOLDER}/${review.file}`, "not valid UTF-8 text", {
        cause: error,
      });
    }
  };
  // Small files: reading a batch concurrently hides the per-file latency.
  for (let start = 0; start < reviews.length; start += READ_BATCH) {
    const batch = reviews.slice(start, start + READ_BATCH);
    texts.push(...await Promise.all(batch.map(decode)));
    bar.add(batch.length);
  }
  bar.done();
  return {
    ids: reviews.map((review) => review.id),
    texts,
    labels: Int32Array.from(reviews, (review) => review.label),
    ratings: Int32Array.from(reviews, (review) => review.rating),
    files: reviews.map((review) => review.file),
  };
}

/**
 * Loads the labelled IMDb reviews (`train` and `test`; the unlabelled `unsup` folder is not read)
 * from `dir` if given, else from `<cacheDir>/aclImdb/`, downloading and extracting the official
 * tarball when missing.
 *
 * @throws {DatasetNotFoundError} files missing and not downloadable, with where to get them.
 * @throws {ChecksumError} the tarball is not the published one.
 * @throws {CorruptFileError} a review is not UTF-8, a file name is not `<id>_<rating>.txt`, or the
 *   archive is malformed.
 */
export async function loadImdb(options: LoadImdbOptions = {}): Promise<Imdb> {
  if (options.shuffleSeed !== undefined && !Number.isInteger(options.shuffleSeed)) {
    throw new InvalidOptionError("shuffleSeed", "an integer", options.shuffleSeed);
  }
  const reviews = await locate(options);
  return {
    train: await buildSplit(
      reviews.filter((review) => review.split === "train"),
      options.shuffleSeed,
      options.progress,
      "train",
    ),
    test: await buildSplit(
      reviews.filter((review) => review.split === "test"),
      options.shuffleSeed,
      options.progress,
      "test",
    ),
    labelNames: IMDB_LABEL_NAMES,
  };
}
