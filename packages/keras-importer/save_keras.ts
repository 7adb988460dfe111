/**
 * Writing Keras 3 `.keras` archives: `metadata.json`, `config.json` and `model.weights.h5`
 * in the Keras 3 variable layout, zipped uncompressed like Keras does.
 *
 * @module
 */
import { isRecord, type Model, type ModelSpec } from "../engine/mod.ts";
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
    if (
      (obj.class_name === "Bidirectional" || obj.class_name === "TimeDistributed") && obj.config
    ) {
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

/**
 * Whether a spec's node indices follow Keras 2 / TF.js numbering: its `kerasVersion` is not a
 * Keras 3 one (`"2.15.0"`, `"tfjs-layers 4.22.0"`), or, without a version, its config has no
 * Keras 3 marks (`module` fields, `{args, kwargs}` nodes).
 */
export function usesKeras2NodeIndices(spec: ModelSpec): boolean {
  if (spec.kerasVersion !== undefined) return !/^3\./.test(spec.kerasVersion);
  return spec.config.module === undefined && !JSON.stringify(spec.config).includes('"args":');
}

/**
 * Renumbers references to nested Sequential models from Keras 2 / TF.js to Keras 3: Keras 2
 * gives every model a node of its own, so the first call of a nested Sequential is node 1;
 * Keras 3's Sequential has none (first call node 0) while its Functional keeps one
 * (keras/src/models/functional.py `get_config`: `kept_nodes = 1` for Functional only). Applied
 * to Keras 2-form configs written into a `.keras` file, whose readers use Keras 3 numbering.
 */
export function keras3NodeIndices(model: KerasObject): KerasObject {
  const config = model.config as Record<string, unknown>;
  if (!Array.isArray(config.layers)) return model;
  const layers = config.layers as KerasObject[];
  const sequential = new Set(
    layers.filter((l) => l.class_name === "Sequential").map((l) =>
      String(l.name ?? l.config?.name)
    ),
  );
  const ref = (value: unknown): unknown => {
    if (!Array.isArray(value)) return value;
    if (value.length >= 3 && typeof value[0] === "string" && typeof value[1] === "number") {
      return sequential.has(value[0]) && value[1] > 0
        ? [value[0], value[1] - 1, ...value.slice(2)]
        : value;
    }
    return value.map(ref);
  };
  const out: Record<string, unknown> = { ...config };
  out.layers = layers.map((layer) => {
    let entry: KerasObject = layer;
    if (model.class_name !== "Sequential" && Array.isArray(layer.inbound_nodes)) {
      entry = {
        ...entry,
        inbound_nodes: layer.inbound_nodes.map((node) => isRecord(node) ? node : ref(node)),
      };
    }
    return isModelClass(layer.class_name) ? keras3NodeIndices(entry) : entry;
  });
  if (model.class_name !== "Sequential") {
    for (const key of ["input_layers", "output_layers"]) {
      if (key in config) out[key] = ref(config[key]);
    }
  }
  return { ...model, config: out };
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
  const config = withKeras3Modules(
    usesKeras2NodeIndices(spec) ? keras3NodeIndices(spec.config) : spec.config,
  );
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
 * Writes an engine model (or spec) as a Keras 3 `.keras` file (Functional graphs and nested
 * models included; weights of nested models at `layers/<model key>/layers/<inner key>`). A
 * Keras 3 config is written unchanged; a Keras 2 / TF.js one gains the `module` fields and the
 * Keras 3 node numbering of nested Sequential models ({@link keras3NodeIndices}), so that Python
 * Keras (`keras.saving.load_model`) can load it. Returns the bytes written. Writing a path needs Deno: the
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
