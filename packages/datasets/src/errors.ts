/**
 * Typed errors raised by the dataset loaders. Every error names the file, URL or option at fault
 * and says what was expected versus what was found, so a caller can react without parsing text.
 *
 * @module
 */

/** Base class of every error thrown by `@scratchnet/datasets`. */
export class DatasetError extends Error {
  /** Creates the error; `options.cause` keeps the underlying error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Where a missing file should be placed and where it can be downloaded from. */
export interface MissingFile {
  /** Path the loader looked for (the file to create). */
  path: string;
  /** URLs the file can be downloaded from, in the order the loader tries them. */
  urls: string[];
}

/**
 * The data set's files are not on disk and could not be downloaded (offline, `download: false`,
 * HTTP error). The message lists every missing file, where to put it and where to get it.
 */
export class DatasetNotFoundError extends DatasetError {
  /** Data set name, e.g. `"CIFAR-10"`. */
  readonly dataset: string;
  /** The files that are missing. */
  readonly missing: MissingFile[];

  /** Builds the message from the data set name, the missing files and an optional reason. */
  constructor(dataset: string, missing: MissingFile[], reason: string, options?: ErrorOptions) {
    const lines = missing.map((file) =>
      `  - ${file.path}` +
      (file.urls.length > 0 ? `\n    download: ${file.urls.join("  or  ")}` : "")
    );
    super(
      `${dataset}: ${missing.length} file(s) not found (${reason}). Put them at:\n${
        lines.join("\n")
      }\nor pass { dir } pointing at a folder that holds them.`,
      options,
    );
    this.dataset = dataset;
    this.missing = missing;
  }
}

/** A download failed: network error, HTTP status other than 200, or a stalled transfer. */
export class DownloadError extends DatasetError {
  /** The URL that failed. */
  readonly url: string;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;

  /** Records the URL, the HTTP status if any, and the reason. */
  constructor(url: string, reason: string, status?: number, options?: ErrorOptions) {
    super(`download of ${url} failed: ${reason}`, options);
    this.url = url;
    this.status = status;
  }
}

/** A file's MD5 digest differs from the published one. */
export class ChecksumError extends DatasetError {
  /** The file (or URL, for a download) whose digest is wrong. */
  readonly file: string;
  /** The published MD5 digest (lower-case hex). */
  readonly expected: string;
  /** The MD5 digest of the bytes received (lower-case hex). */
  readonly actual: string;

  /** `hint` tells the user what to do, e.g. delete the file. */
  constructor(file: string, expected: string, actual: string, hint = "") {
    super(`${file}: MD5 mismatch, expected ${expected}, got ${actual}${hint ? `. ${hint}` : ""}`);
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A file is present but its content is not in the expected format (truncated, bad header, ...). */
export class CorruptFileError extends DatasetError {
  /** The file at fault. */
  readonly file: string;

  /** `detail` says what was expected and what was found. */
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(`${file}: ${detail}`, options);
    this.file = file;
  }
}

/** A CSV file is malformed or holds a value the loader cannot accept. */
export class CsvFormatError extends CorruptFileError {
  /** 1-based CSV record number (the header is row 1), or 0 for a whole-file problem. */
  readonly row: number;

  /** `row` is the 1-based record number (header = 1); `detail` says what is wrong. */
  constructor(file: string, row: number, detail: string, options?: ErrorOptions) {
    super(file, row > 0 ? `row ${row}: ${detail}` : detail, options);
    this.row = row;
  }
}

/**
 * A file declares more than the configured limits allow (e.g. a gzip trailer claiming gigabytes
 * of output, or a compression ratio no real data reaches). Raised before inflating.
 */
export class ResourceLimitError extends CorruptFileError {
  /** The limit's option name, e.g. `"maxUncompressedBytes"`. */
  readonly limit: string;
  /** What the file declares. */
  readonly requested: number;
  /** The configured maximum. */
  readonly maximum: number;

  /** `what` names the declared quantity, e.g. `"uncompressed size (gzip trailer)"`. */
  constructor(file: string, limit: string, what: string, requested: number, maximum: number) {
    super(
      file,
      `${what} is ${requested}, more than limits.${limit} (${maximum}); the file is corrupt or ` +
        `hostile, or raise the limit if it is trusted`,
    );
    this.limit = limit;
    this.requested = requested;
    this.maximum = maximum;
  }
}

/** A loader option is out of range or of the wrong kind. */
export class InvalidOptionError extends DatasetError {
  /** The option's name. */
  readonly option: string;

  /** `expected` describes the accepted values; `received` is shown as given. */
  constructor(option: string, expected: string, received: unknown) {
    super(`option ${option}: expected ${expected}, received ${formatValue(received)}`);
    this.option = option;
  }
}

function formatValue(value: unknown): string {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
