/**
 * Typed errors of the Keras importer. Every error names the file (`source`) and, where it
 * applies, the layer, HDF5 path or JSON field that was wrong.
 *
 * @module
 */

/** Base class of every error thrown by `@scratchnet/keras-importer`. */
export class ImportError extends Error {
  /** The file, URL or description of the source being read (e.g. `"model.keras"`). */
  readonly source: string;
  constructor(message: string, source: string, options?: ErrorOptions) {
    super(`${source}: ${message}`, options);
    this.name = new.target.name;
    this.source = source;
  }
}

/** The source could not be read at all (missing file, failed fetch, unsupported source type). */
export class SourceError extends ImportError {}

/** The bytes are not a format this package reads, or a required entry/field is absent or malformed. */
export class FormatError extends ImportError {}

/** The bytes look like a known container (zip, HDF5, `.bin` shards) but are truncated or corrupted. */
export class CorruptFileError extends ImportError {}

/**
 * A layer (or the model itself) whose class cannot be imported: Lambda, a custom or unregistered
 * class, or a class the engine does not implement. Nothing from a file is ever evaluated as code.
 */
export class UnsupportedLayerError extends ImportError {
  readonly className: string;
  readonly layerName: string;
  constructor(className: string, layerName: string, source: string, reason?: string) {
    super(
      `layer "${layerName}" has unsupported class "${className}"${reason ? ` (${reason})` : ""}`,
      source,
    );
    this.className = className;
    this.layerName = layerName;
  }
}

/** A weight (or asset such as a vocabulary) that the model config requires is not in the file. */
export class MissingWeightError extends ImportError {
  readonly layerName: string;
  /** Where the weight was looked for (HDF5 path, manifest name or asset path). */
  readonly path: string;
  constructor(layerName: string, path: string, source: string, detail?: string) {
    super(
      `layer "${layerName}": missing weight at "${path}"${detail ? ` (${detail})` : ""}`,
      source,
    );
    this.layerName = layerName;
    this.path = path;
  }
}

/** The weights in the file do not fit the config (count, dtype or shape). */
export class WeightMismatchError extends ImportError {
  readonly layerName: string;
  constructor(layerName: string, message: string, source: string) {
    super(`layer "${layerName}": ${message}`, source);
    this.layerName = layerName;
  }
}

/** A NumPy `.npy` file that cannot be read or a tensor that cannot be written as `.npy`. */
export class NpyError extends ImportError {}

/**
 * The file asks for more than the configured {@link ImportLimits} allow (a declared size, a
 * compression ratio, a JSON nesting depth or a shard count). Raised before anything of that
 * size is allocated.
 */
export class ResourceLimitError extends ImportError {
  /** The limit's option name, e.g. `"maxUncompressedBytes"`. */
  readonly limit: string;
  /** What the file declares. */
  readonly requested: number;
  /** The configured maximum. */
  readonly maximum: number;
  constructor(limit: string, what: string, requested: number, maximum: number, source: string) {
    super(
      `${what} is ${requested}, more than ${limit} (${maximum}); raise limits.${limit} if the ` +
        `file is trusted`,
      source,
    );
    this.limit = limit;
    this.requested = requested;
    this.maximum = maximum;
  }
}

/** The engine refused the model the file describes (a layer option, shape or weight it cannot use). */
export class ModelBuildError extends ImportError {
  /** The engine's error (an `EngineError`), also available as `cause`. */
  readonly engineError: Error;
  constructor(engineError: Error, source: string) {
    super(`the engine cannot build this model: ${engineError.message}`, source, {
      cause: engineError,
    });
    this.engineError = engineError;
  }
}

/** An option passed to a loader function has the wrong type or range. */
export class OptionError extends ImportError {
  constructor(option: string, expected: string, received: unknown) {
    super(`expected ${expected}, received ${describeOption(received)}`, `options.${option}`);
  }
}

function describeOption(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value).slice(0, 80);
  if (typeof value === "number" || typeof value === "boolean" || value == null) {
    return String(value);
  }
  return Object.prototype.toString.call(value);
}
