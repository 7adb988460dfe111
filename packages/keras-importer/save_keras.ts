/**
 * Writing Keras 3 `.keras` archives: `metadata.json`, `config.json` and `model.weights.h5`
 * in the Keras 3 variable layout, zipped uncompressed like Keras does.
 *
 * @module
 */
import type { Model, ModelSpec } from "../engine/mod.ts";
import { strToU8, zipSync } from "npm:fflate@0.8.2";
import { isModelClass, modelLayers } from "./config.ts";
import { writeHdf5 } from "./hdf5_write.ts";
import { localFileWriter } from "./local_files.ts";
import type { KerasObject } from "./keras_layout.ts";
import { buildKerasV3WeightsTree } from "./weights_v3.ts";

/** Options of {@link saveKeras} and {@link kerasArchiveBytes}. */
export interface SaveKerasOptions {
  /**
   * `keras_version` written to `metadata.json`. Defaults to the spec's version when it is a
   * Keras 3 version, else `"3.10.0"` (the layout this writer produces).
   */
  kerasVersion?: string;
  /** Timestamp written as `date_saved` (default: now). */
  date?: Date;
}

/** The Keras 3 release whose `.keras` layout this writer reproduces. */
export const WRITTEN_LAYOUT_VERSION = "3.10.0";

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** Keras `datetime.now().strftime("%Y-%m-%d@%H:%M:%S")`. */
function kerasDate(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}@` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/**
 * Adds the `module` / `registered_name` fields a Keras 3 loader needs to locate built-in
 * classes when the config came from Keras 2 or TF.js, in nested models too. Fields already
 * present (Keras 3 configs) are kept unchanged.
 */
export function withKeras3Modules(model: KerasObject): KerasObject {
  const layerObject = (obj: KerasObject): KerasObject => {
    if (isModelClass(obj.class_name)) return modelObject(obj);
    const out: KerasObject = { ...obj };
    if (out.module === undefined) out.module = "keras.layers";
    if (out.registered_name === undefined) out.registered_name = null;
    if (obj.class_name === "Bidirectional" && obj.config) {
      const config = { ...obj.config };
      for (const key of ["layer", "backward_layer"]) {
        const inner = config[key] as KerasObject | undefined;
        if (inner && typeof inner === "object") config[key] = layerObject(inner);
      }
      out.config = config;
    }
    return out;
  };
  const modelObject = (obj: KerasObject): KerasObject => {
    const top: KerasObject = { ...obj };
    if (top.module === undefined) {
      top.module = top.class_name === "Functional" ? "keras.src.models.functional" : "keras";
    }
    if (top.registered_name === undefined) top.registered_name = null;
    const config = { ...(obj.config as Record<string, unknown>) };
    if (Array.isArray(config.layers)) {
      config.layers = (config.layers as KerasObject[]).map(layerObject);
    }
    top.config = config;
    return top;
  };
  return modelObject(model);
}

function isModel(value: Model | ModelSpec): value is Model {
  return typeof (value as Model).toSpec === "function";
}

/** The bytes of a `.keras` archive for an engine model or a spec. */
export async function kerasArchiveBytes(
  modelOrSpec: Model | ModelSpec,
  options: SaveKerasOptions = {},
): Promise<Uint8Array> {
  const spec = isModel(modelOrSpec) ? modelOrSpec.toSpec() : modelOrSpec;
  const config = withKeras3Modules(spec.config);
  const entries = modelLayers(config, "saveKeras");
  const weightsBytes = await writeHdf5(buildKerasV3WeightsTree(config, entries, spec.weights));
  const version = options.kerasVersion ??
    (spec.kerasVersion && /^3\./.test(spec.kerasVersion)
      ? spec.kerasVersion
      : WRITTEN_LAYOUT_VERSION);
  const metadata = { keras_version: version, date_saved: kerasDate(options.date ?? new Date()) };
  return zipSync({
    "metadata.json": strToU8(JSON.stringify(metadata)),
    "config.json": strToU8(JSON.stringify(config)),
    "model.weights.h5": weightsBytes,
  }, { level: 0 });
}

/**
 * Writes an engine model (or spec) as a Keras 3 `.keras` file that Python Keras
 * (`keras.saving.load_model`) can load. Returns the bytes written. Writing a path needs Deno: the
 * browser bundle refuses it with a `SourceError`; there, {@link kerasArchiveBytes} gives the bytes.
 */
export async function saveKeras(
  modelOrSpec: Model | ModelSpec,
  path: string | URL,
  options: SaveKerasOptions = {},
): Promise<Uint8Array> {
  const write = localFileWriter(path); // refused before any work where files cannot be written
  const bytes = await kerasArchiveBytes(modelOrSpec, options);
  await write(bytes);
  return bytes;
}
