/**
 * NusaX-Sentiment: 3-class sentiment in 12 languages (10 Indonesian local languages, Indonesian
 * and English), one `id,text,label` CSV per split.
 *
 * @module
 */

import { columnIndexes, parseCsv } from "./csv.ts";
import { ensureCachedFiles, requireLocalFiles, verifyMd5 } from "./download.ts";
import { CorruptFileError, CsvFormatError, InvalidOptionError } from "./errors.ts";
import { defaultCacheDir, isFile, join, toPath } from "./paths.ts";
import type { ProgressSetting } from "./progress.ts";

/** The 12 NusaX-Sentiment languages, as named by the dataset's folders. */
export const NUSAX_LANGUAGES = [
  "acehnese",
  "balinese",
  "banjarese",
  "buginese",
  "english",
  "indonesian",
  "javanese",
  "madurese",
  "minangkabau",
  "ngaju",
  "sundanese",
  "toba_batak",
] as const;

/** A NusaX-Sentiment language. */
export type NusaxLanguage = typeof NUSAX_LANGUAGES[number];

/** Label names by class id: `negative` → 0, `neutral` → 1, `positive` → 2. */
export const NUSAX_LABEL_NAMES: readonly string[] = ["negative", "neutral", "positive"];

/** The three split files. */
export const NUSAX_SPLITS = ["train", "valid", "test"] as const;

/** A NusaX split name. */
export type NusaxSplitName = typeof NUSAX_SPLITS[number];

/** Raw files in the official IndoNLP/nusax repository. */
export const NUSAX_BASE_URL =
  "https://raw.githubusercontent.com/IndoNLP/nusax/main/datasets/sentiment/";

/** MD5 of the published CSVs (IndoNLP/nusax `datasets/sentiment`, commit 75b0be5). */
export const NUSAX_MD5: Readonly<Record<NusaxLanguage, Record<NusaxSplitName, string>>> = {
  acehnese: {
    train: "6b807bcb8546fc296d6f042b40f40715",
    valid: "7472bc5ca001148719380bab7f29b970",
    test: "0ad717620e3bcf29b80d18469ead6cd4",
  },
  balinese: {
    train: "86fe8572642a33a42189fa6ef010f6e3",
    valid: "e5ebe2e1b7318d69ef94fc9928a5030b",
    test: "f457751529c8a12ba2f277c6e7bef136",
  },
  banjarese: {
    train: "0549fac04ea2826f04619aede76b7c55",
    valid: "a61b6e173c5d8cc39cd0847494264f80",
    test: "9d411fcdaf0b29cef6a36818fad64ed1",
  },
  buginese: {
    train: "b956bc1188ccbc6cceb6cfe3859990d5",
    valid: "e17f545438f693e2e9d6a01e1914de8d",
    test: "39b18005ad499c52a8b01ef530ec4d5b",
  },
  english: {
    train: "089df7a69b81520bcbe7e323841bf857",
    valid: "b426da901a87acfa7bff4fdea85b8a9d",
    test: "e1cc9f7f6756ce4671e459cdc291d114",
  },
  indonesian: {
    train: "c0dfc8c4d0bfc5a8ac40edfef52c9d59",
    valid: "6843515cab49035b7c7390c177df8fd3",
    test: "e01df67fab75633e617439021130a54f",
  },
  javanese: {
    train: "7e6edf18ab19e38b6536ba968971c7d9",
    valid: "b1fd850512b66bd893d355a6cd8faebb",
    test: "b3cb8fb80ff23e7043541f7d87f19ee6",
  },
  madurese: {
    train: "688e61875108a1194d04251b7aa44659",
    valid: "0ab9364314afa8637097950be99f8caa",
    test: "49e295e43f64337c2988561b3918b859",
  },
  minangkabau: {
    train: "0bea49276af1c3c162f82ebc0f09e6d0",
    valid: "009efe93096845400b8326e755430020",
    test: "d65b30f6bbcc32e31c56fbb87e003224",
  },
  ngaju: {
    train: "98d37e3e881ba19662e8ac48be2a9a44",
    valid: "93cfeeeaa88e96c33a730a322a007aeb",
    test: "a499ab7b29d49a6918efac529b750c96",
  },
  sundanese: {
    train: "070527cdda6bac9cb5c1a196094034c6",
    valid: "26643d9d4827b7d8e41da0277709be14",
    test: "a118f6c3a9d921da667f935379a2e8b0",
  },
  toba_batak: {
    train: "d390da0e6d63b0bc970f9557304c3794",
    valid: "62ef7c21c3cd1c22dfbd3eb52c1d8bb4",
    test: "3984108ea9cee2e56f696016d9b8b3a6",
  },
};

/** One split of a labelled text data set. */
export interface TextSplit {
  /** Row ids: numbers when every id in the file is an integer, else the strings as written. */
  ids: number[] | string[];
  /** The texts, exactly as in the file. */
  texts: string[];
  /** Class ids (`0 ≤ label < labelNames.length`). */
  labels: Int32Array;
}

/** NusaX-Sentiment for one language. */
export interface NusaxSentiment {
  /** The language loaded. */
  language: NusaxLanguage;
  /** Training split (500 rows in the published data). */
  train: TextSplit;
  /** Validation split (100 rows). */
  valid: TextSplit;
  /** Test split (400 rows). */
  test: TextSplit;
  /** `["negative", "neutral", "positive"]`. */
  labelNames: readonly string[];
  /** The files read, by split. */
  files: Record<NusaxSplitName, string>;
}

/** Options of {@linkcode loadNusaxSentiment}. */
export interface LoadNusaxOptions {
  /** Language to load; default `"indonesian"`. */
  language?: NusaxLanguage;
  /**
   * A local folder holding either `<language>/{train,valid,test}.csv` or the three CSVs directly.
   * When given, nothing is downloaded.
   */
  dir?: string | URL;
  /** Download cache; default the repository's `data/` (see `defaultCacheDir`). */
  cacheDir?: string | URL;
  /** Download missing files into the cache (default `true`). */
  download?: boolean;
  /** Check MD5s against {@linkcode NUSAX_MD5}; default `true` for the cache, `false` for `dir`. */
  verifyChecksum?: boolean;
  /** Base URL to download from (ending in `/`); default {@linkcode NUSAX_BASE_URL}. */
  baseUrl?: string;
  /** Progress bar on stderr; default only if stderr is a terminal. */
  progress?: ProgressSetting;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
}

/**
 * Parses one NusaX CSV (`id,text,label`; columns may come in any order, extra columns are
 * ignored). `file` names the source in errors.
 *
 * @throws {CsvFormatError} malformed CSV, missing column, or a label other than the three names.
 */
export function parseNusaxCsv(text: string, file: string): TextSplit {
  const table = parseCsv(text, file);
  const [idColumn, textColumn, labelColumn] = columnIndexes(table, ["id", "text", "label"], file);
  const rawIds: string[] = [];
  const texts: string[] = [];
  const labels = new Int32Array(table.records.length);
  table.records.forEach((record, i) => {
    const label = record.fields[labelColumn].trim();
    const classId = NUSAX_LABEL_NAMES.indexOf(label);
    if (classId < 0) {
      throw new CsvFormatError(
        file,
        record.row,
        `unknown label ${JSON.stringify(label)} (line ${record.line}); expected one of ${
          NUSAX_LABEL_NAMES.join(", ")
        }`,
      );
    }
    labels[i] = classId;
    rawIds.push(record.fields[idColumn].trim());
    texts.push(record.fields[textColumn]);
  });
  const numeric = rawIds.every((id) => /^-?\d+$/.test(id));
  return { ids: numeric ? rawIds.map(Number) : rawIds, texts, labels };
}

/**
 * Loads NusaX-Sentiment for one language: from `dir` if given, else from the cache, downloading
 * the official CSVs when missing.
 *
 * @throws {DatasetNotFoundError} files missing (offline or `download: false`), with where to get them.
 * @throws {ChecksumError} a file differs from the published one.
 * @throws {CsvFormatError} a file is malformed.
 */
export async function loadNusaxSentiment(options: LoadNusaxOptions = {}): Promise<NusaxSentiment> {
  const language = options.language ?? "indonesian";
  if (!(NUSAX_LANGUAGES as readonly string[]).includes(language)) {
    throw new InvalidOptionError("language", `one of ${NUSAX_LANGUAGES.join(", ")}`, language);
  }
  const baseUrl = options.baseUrl ?? NUSAX_BASE_URL;
  const urlOf = (split: NusaxSplitName) => `${baseUrl}${language}/${split}.csv`;
  let folder: string;
  if (options.dir !== undefined) {
    const dir = toPath(options.dir);
    const nested = join(dir, language);
    // Prefer `<dir>/<language>/`; accept a folder holding the CSVs directly.
    const flat = !(await isFile(join(nested, "train.csv"))) &&
      (await isFile(join(dir, "train.csv")));
    folder = flat ? dir : nested;
    await requireLocalFiles(
      `NusaX-Sentiment (${language})`,
      NUSAX_SPLITS.map((split) => ({ path: join(folder, `${split}.csv`), urls: [urlOf(split)] })),
    );
    if (options.verifyChecksum) {
      for (const split of NUSAX_SPLITS) {
        await verifyMd5(join(folder, `${split}.csv`), NUSAX_MD5[language][split]);
      }
    }
  } else {
    const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : toPath(options.cacheDir);
    folder = join(cacheDir, "nusax-sentiment", language);
    await ensureCachedFiles(
      `NusaX-Sentiment (${language})`,
      NUSAX_SPLITS.map((split) => ({
        path: join(folder, `${split}.csv`),
        urls: [urlOf(split)],
        md5: NUSAX_MD5[language][split],
      })),
      options,
    );
  }
  const files = {
    train: join(folder, "train.csv"),
    valid: join(folder, "valid.csv"),
    test: join(folder, "test.csv"),
  };
  const read = async (split: NusaxSplitName) =>
    parseNusaxCsv(await readUtf8(files[split]), files[split]);
  return {
    language,
    train: await read("train"),
    valid: await read("valid"),
    test: await read("test"),
    labelNames: NUSAX_LABEL_NAMES,
    files,
  };
}

/** Reads a UTF-8 text file, rejecting invalid byte sequences instead of replacing them. */
export async function readUtf8(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new CorruptFileError(path, "not valid UTF-8 text", { cause: error });
  }
}
