/**
 * `loadModelSpec` / `loadModel`: detect the format of a source by its magic bytes and read it.
 *
 * @module
 */
import {
  buildModel,
  CONV_ALGORITHMS,
  type ConvAlgorithm,
  EngineError,
  type Model,
} from "../engine/mod.ts";
import { engineLayerClasses, type PreprocessingLayer } from "./config.ts";
import {
  CorruptFileError,
  FormatError,
  ImportError,
  MissingWeightError,
  ModelBuildError,
  OptionError,
  ResourceLimitError,
  SourceError,
} from "./errors.ts";
import { openHdf5 } from "./hdf5_read.ts";
import { readLegacyH5, readWeightsOnlyH5 } from "./read_h5.ts";
import { parseJson, readKerasArchive } from "./read_keras.ts";
import { checkJsonDepth, checkLimit, type ImportLimits, resolveLimits } from "./limits.ts";
import {
  entryBytes,
  isSafeShardPath,
  parseModelJson,
  readTfjs,
  tfjsManifest,
  type TfjsManifestGroup,
} from "./read_tfjs.ts";
import {
  type ByteSource,
  detectContainer,
  readSource,
  siblingLocation,
  type SourceBytes,
} from "./source.ts";
import type { ImportedModelSpec, ImportMeta } from "./types.ts";

/** A TF.js model given in memory: `model.json` plus its shards in manifest `paths` order. */
export interface TfjsInMemory {
  /** The parsed `model.json`, its text, or its bytes. */
  modelJson: unknown;
  /** Shard contents for every path of every manifest group, in manifest order. */
  shards: Uint8Array[];
}

/** What `loadModelSpec` and `loadModel` accept. */
export type ModelSource = ByteSource | TfjsInMemory;

/** Options of {@link loadModelSpec}. */
export interface LoadOptions {
  /**
   * Model config for a weights-only HDF5 source (Keras 3 `.weights.h5` or Keras 2
   * `save_weights("x.h5")`): the model JSON object or its text.
   */
  config?: unknown;
  /** Name used in errors and `meta.sourceName` (defaults to the path/URL). */
  name?: string;
  /**
   * Resource limits for untrusted files (declared sizes, compression ratios, JSON depth, shard
   * count); unset fields keep {@link DEFAULT_IMPORT_LIMITS}. See `SECURITY.md`.
   */
  limits?: Partial<ImportLimits>;
  /**
   * Conv2D's inference method for {@link loadModel} (default "auto": Winograd for 3×3…7×7
   * stride-1 convolutions; "direct" keeps every convolution a direct sum). See the engine's
   * `ConvAlgorithm`.
   */
  convAlgorithm?: ConvAlgorithm;
  /**
   * Inference-time fusion for {@link loadModel} (default true: BatchNormalization folded into the
   * preceding convolution / Dense, activation layers into its kernel; `false` runs every layer on
   * its own). See the engine's `ModelBuildOptions.fuse`.
   */
  fuse?: boolean;
}

function isTfjsInMemory(source: unknown): source is TfjsInMemory {
  return typeof source === "object" && source !== null && "modelJson" in source &&
    "shards" in source;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Reads a Keras model file into what the engine builds from, plus metadata and preprocessing.
 * The format is detected from the bytes: `.keras` zip, HDF5 (legacy `.h5`, or weights-only
 * with `options.config`), or TF.js `model.json` (shards read next to it, or given in memory).
 * Every failure is an {@link ImportError} subclass naming the file.
 */
export function loadModelSpec(
  source: ModelSource,
  options: LoadOptions = {},
): Promise<ImportedModelSpec> {
  return readModelSpec(source, options, engineLayerClasses());
}

/**
 * {@link loadModelSpec} with an explicit set of accepted layer classes (package-internal: lets
 * layout tests run while the engine's registry is still growing).
 */
export async function readModelSpec(
  source: ModelSource,
  options: LoadOptions,
  supported: ReadonlySet<string>,
): Promise<ImportedModelSpec> {
  if (typeof options !== "object" || options === null) {
    throw new OptionError("options", "an object", options);
  }
  if (options.name !== undefined && typeof options.name !== "string") {
    throw new OptionError("name", "a string", options.name);
  }
  const limits = resolveLimits(options.limits);
  if (isTfjsInMemory(source)) {
    const name = options.name ?? "<model.json>";
    return await guarded(name, () => {
      if (!Array.isArray(source.shards) || !source.shards.every((s) => s instanceof Uint8Array)) {
        throw new OptionError("shards", "an array of Uint8Array shard contents", source.shards);
      }
      let json: unknown;
      if (typeof source.modelJson === "string" || source.modelJson instanceof Uint8Array) {
        json = parseModelJson(source.modelJson, name, limits);
      } else {
        json = source.modelJson;
        checkJsonDepth(json, limits, name, "modelJson");
      }
      const { groups } = tfjsManifest(json, name, limits);
      const needed = groups.reduce((n, g) => n + g.paths.length, 0);
      if (source.shards.length !== needed) {
        throw new MissingWeightError(
          "",
          "shards",
          name,
          `the manifest lists ${needed} shard files, ${source.shards.length} were given`,
        );
      }
      let next = 0;
      const buffers = groups.map((g) => {
        const parts = g.paths.map(() => source.shards[next++]);
        checkGroupSize(g, parts.reduce((n, p) => n + p.length, 0), name);
        return concat(parts);
      });
      return readTfjs(json, (_g, i) => buffers[i], name, supported, limits);
    });
  }
  const read = await readSource(source, options.name, limits.maxFileBytes);
  return await guarded(read.name, () => readBytes(read, options, supported, limits));
}

/** Refuses shards whose total size differs from what the manifest's weights need. */
function checkGroupSize(group: TfjsManifestGroup, bytes: number, name: string): void {
  const expected = group.weights.reduce((n, entry) => n + entryBytes(entry, name), 0);
  if (bytes !== expected) {
    throw new CorruptFileError(
      `the shards [${group.paths}] hold ${bytes} bytes, the manifest's weights need ${expected}`,
      name,
    );
  }
}

async function readBytes(
  read: SourceBytes,
  options: LoadOptions,
  supported: ReadonlySet<string>,
  limits: ImportLimits,
): Promise<ImportedModelSpec> {
  const { bytes, name } = read;
  const kind = detectContainer(bytes);
  if (kind === "zip") {
    if (options.config !== undefined) {
      throw new FormatError(`a .keras archive carries its own config; drop { config }`, name);
    }
    return readKerasArchive(bytes, name, supported, limits);
  }
  if (kind === "hdf5") {
    const root = openHdf5(bytes, name, limits);
    if (options.config !== undefined) {
      const config = typeof options.config === "string"
        ? parseJson(options.config, name, "options.config", limits)
        : options.config;
      if (typeof options.config !== "string") {
        checkJsonDepth(config, limits, name, "options.config");
      }
      return readWeightsOnlyH5(root, config, name, supported);
    }
    if (root.attrNames().includes("model_config")) {
      return readLegacyH5(root, name, supported, limits);
    }
    throw new FormatError(
      `HDF5 file has no "model_config": it holds weights only; pass { config } with the model JSON`,
      name,
    );
  }
  if (kind === "json") {
    const json = parseModelJson(bytes, name, limits);
    if (typeof json === "object" && json !== null && "modelTopology" in json) {
      const { groups } = tfjsManifest(json, name, limits);
      const location = read.location;
      if (location === undefined && groups.some((g) => g.paths.length > 0)) {
        throw new FormatError(
          `TF.js model.json given as bytes cannot locate its shards; pass a path/URL or ` +
            `{ modelJson, shards }`,
          name,
        );
      }
      const buffers: Uint8Array[] = [];
      for (const group of groups) buffers.push(await readGroup(group, location!, name, limits));
      return readTfjs(json, (_g, i) => buffers[i], name, supported, limits);
    }
    throw new FormatError(
      `JSON is not a TF.js model.json (no "modelTopology"); a bare model config has no weights`,
      name,
    );
  }
  throw new FormatError(
    `unrecognised format (expected a .keras zip, an HDF5 file or a TF.js model.json)`,
    name,
  );
}

async function readGroup(
  group: TfjsManifestGroup,
  location: string | URL,
  name: string,
  limits: ImportLimits,
): Promise<Uint8Array> {
  const expected = group.weights.reduce((n, entry) => n + entryBytes(entry, name), 0);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const path of group.paths) {
    if (!isSafeShardPath(path)) {
      throw new FormatError(`shard path ${JSON.stringify(path)} is not a sibling file`, name);
    }
    // Never read more than the manifest accounts for: a shard list repeating a large file, or
    // a shard bigger than declared, is refused as soon as the running total passes it.
    const left = expected - total;
    const shard = await readSource(siblingLocation(location, path), undefined, left).catch(
      (e) => {
        if (e instanceof SourceError) {
          throw new MissingWeightError("", path, name, `shard unreadable: ${e.message}`);
        }
        if (e instanceof ResourceLimitError) {
          throw new CorruptFileError(
            `shard "${path}" is larger than the ${left} bytes the manifest leaves for it`,
            name,
          );
        }
        throw e;
      },
    );
    total += shard.bytes.length;
    parts.push(shard.bytes);
  }
  checkLimit(limits, "maxFileBytes", `total size of the shards of [${group.paths}]`, total, name);
  checkGroupSize(group, total, name);
  return concat(parts);
}

/** Any non-importer exception escaping a reader means the input had an unexpected structure. */
async function guarded<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new FormatError(`unexpected file structure: ${(e as Error)?.message ?? e}`, name, {
      cause: e,
    });
  }
}

/** A runnable engine model with what the importer learnt about its file. */
export interface LoadedModel {
  /**
   * The engine model, or `null` when the file holds preprocessing only (e.g. a model that is
   * just a TextVectorization layer).
   */
  model: Model | null;
  meta: ImportMeta;
  preprocessing: PreprocessingLayer[];
  /** The spec the model was built from. */
  spec: ImportedModelSpec;
}

/** Reads a model file and builds the engine model in one call (see {@link loadModelSpec}). */
export async function loadModel(
  source: ModelSource,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  if (
    typeof options === "object" && options !== null && options.convAlgorithm !== undefined &&
    !CONV_ALGORITHMS.includes(options.convAlgorithm)
  ) {
    throw new OptionError(
      "convAlgorithm",
      `one of ${CONV_ALGORITHMS.join(", ")}`,
      options.convAlgorithm,
    );
  }
  if (typeof options === "object" && options !== null && options.fuse !== undefined) {
    if (typeof options.fuse !== "boolean") {
      throw new OptionError("fuse", "true or false", options.fuse);
    }
  }
  const spec = await loadModelSpec(source, options);
  const layers = (spec.config.config as Record<string, unknown>).layers;
  const runnable = Array.isArray(layers) &&
    layers.some((l) => (l as { class_name?: string }).class_name !== "InputLayer");
  let model: Model | null = null;
  if (runnable) {
    try {
      model = buildModel({
        config: spec.config,
        weights: spec.weights,
        kerasVersion: spec.meta.kerasVersion,
      }, { convAlgorithm: options.convAlgorithm, fuse: options.fuse });
    } catch (e) {
      // The engine's typed errors name the layer; the file is named here.
      if (e instanceof EngineError) throw new ModelBuildError(e, spec.meta.sourceName);
      throw e;
    }
  }
  return { model, meta: spec.meta, preprocessing: spec.preprocessing, spec };
}
