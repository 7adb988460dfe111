/**
 * Reader for Keras 3 `.keras` archives (zip of `config.json`, `metadata.json`,
 * `model.weights.h5`, `assets/`) and for Keras 3 `.weights.h5` files with a separate config.
 *
 * @module
 */
import {
  asModelConfig,
  checkLayerClasses,
  extractPreprocessing,
  type LayerEntry,
  modelLayers,
} from "./config.ts";
import { FormatError, MissingWeightError } from "./errors.ts";
import { type H5Group, openHdf5 } from "./hdf5_read.ts";
import { checkJsonDepth, DEFAULT_IMPORT_LIMITS, type ImportLimits } from "./limits.ts";
import type { KerasObject } from "./keras_layout.ts";
import type { ImportedModelSpec } from "./types.ts";
import { readKerasV3Weights, trackedLayerKeys, trackedLayers } from "./weights_v3.ts";
import { readZipEntries } from "./zip.ts";

/**
 * Parses JSON text (never evaluating it), reporting failures as {@link FormatError} naming the
 * entry, and refuses documents nested deeper than `limits.maxJsonDepth`.
 */
export function parseJson(
  text: string,
  source: string,
  what: string,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${what} is not valid JSON: ${(e as Error).message}`, source);
  }
  checkJsonDepth(value, limits, source, what);
  return value;
}

/** The archive entries this reader uses; others are skipped without being inflated. */
function isKerasEntry(name: string): boolean {
  return name === "config.json" || name === "metadata.json" || name === "model.weights.h5" ||
    name === "model.weights.npz" ||
    (name.startsWith("assets/layers/") && name.endsWith("/vocabulary.txt"));
}

function utf8(bytes: Uint8Array, source: string, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(`${what} is not UTF-8 text`, source);
  }
}

/**
 * Splits a vocabulary asset the way Python's text-mode `read().split("\n")` does: universal
 * newlines, so files written on Windows (`\r\n`) read the same.
 */
export function splitVocabulary(text: string): string[] {
  return text.replace(/\r\n?/g, "\n").split("\n");
}

/** Reads a `.keras` archive. */
export function readKerasArchive(
  bytes: Uint8Array,
  source: string,
  supported?: ReadonlySet<string>,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
): ImportedModelSpec {
  const files = readZipEntries(bytes, source, limits, isKerasEntry);
  const configBytes = files["config.json"];
  if (!configBytes) throw new FormatError(`.keras archive has no "config.json"`, source);
  const model = asModelConfig(
    parseJson(utf8(configBytes, source, "config.json"), source, "config.json", limits),
    source,
    "config.json",
  );
  let kerasVersion: string | undefined;
  if (files["metadata.json"]) {
    const metadata = parseJson(
      utf8(files["metadata.json"], source, "metadata.json"),
      source,
      "metadata.json",
      limits,
    );
    const version = (metadata as Record<string, unknown> | null)?.keras_version;
    if (typeof version === "string") kerasVersion = version;
  }
  if (!files["model.weights.h5"]) {
    if (files["model.weights.npz"]) {
      throw new FormatError(`"model.weights.npz" weights are not supported (only .h5)`, source);
    }
    throw new FormatError(`.keras archive has no "model.weights.h5"`, source);
  }
  const weightsSource = `${source}#model.weights.h5`;
  // The inflated entry is the importer's own: no copy.
  const root = openHdf5(files["model.weights.h5"], weightsSource, limits, true);
  const spec = specFromKerasV3(model, root, weightsSource, (key) => {
    const own = files[`assets/layers/${key}/vocabulary.txt`] ??
      files[`assets/layers/${key}/_lookup_layer/vocabulary.txt`];
    return own ? utf8(own, source, `assets/layers/${key}/vocabulary.txt`) : undefined;
  }, supported);
  return { ...spec, meta: { format: "keras", kerasVersion, sourceName: source } };
}

/**
 * Builds config + weights + preprocessing from a model config and a Keras 3 weights tree.
 * `assetText(key)` returns a layer's `vocabulary.txt` asset when the source has assets.
 */
export function specFromKerasV3(
  model: KerasObject,
  root: H5Group,
  source: string,
  assetText: (key: string) => string | undefined,
  supported?: ReadonlySet<string>,
): Omit<ImportedModelSpec, "meta"> {
  const entries = modelLayers(model, source);
  checkLayerClasses(entries, source, supported);
  const weights = readKerasV3Weights(root, model, entries, source);
  const tracked = trackedLayers(model.class_name, entries);
  const keys = trackedLayerKeys(tracked);
  const keyOf = new Map<LayerEntry, string>(tracked.map((e, i) => [e, keys[i]]));
  const { config, preprocessing } = extractPreprocessing(model, entries, (entry) => {
    const key = keyOf.get(entry) ?? "";
    return vocabularyFor(entry, source, assetText(key), `assets/layers/${key}/vocabulary.txt`);
  }, source);
  return { config, weights, preprocessing };
}

/** A TextVectorization vocabulary from its inline config or its asset file. */
export function vocabularyFor(
  entry: LayerEntry,
  source: string,
  asset: string | undefined,
  assetPath: string,
): string[] {
  const inline = entry.config.vocabulary;
  if (Array.isArray(inline) && inline.every((t) => typeof t === "string")) {
    return addSpecialTokens(inline as string[], entry.config);
  }
  if (asset !== undefined) return splitVocabulary(asset);
  throw new MissingWeightError(
    entry.name,
    assetPath,
    source,
    "TextVectorization vocabulary is neither inline in the config nor saved as an asset",
  );
}

/** Inline `vocabulary` configs omit the mask and OOV tokens that `get_vocabulary()` includes. */
function addSpecialTokens(vocabulary: string[], config: Record<string, unknown>): string[] {
  const mode = config.output_mode ?? "int";
  if (mode !== "int" || vocabulary[0] === "") return vocabulary;
  const oov = vocabulary[0] === "[UNK]" ? [] : ["[UNK]"];
  return ["", ...oov, ...vocabulary];
}
