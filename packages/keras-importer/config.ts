/**
 * Model-config checks shared by every format: listing layers, refusing classes the engine
 * does not run (Lambda, custom objects, unknown classes) and taking TextVectorization layers
 * out of the engine config as preprocessing.
 *
 * @module
 */
import {
  isOperationEntry,
  isRecord,
  MODEL_CLASSES,
  SUPPORTED_LAYER_CLASSES,
  unsupportedOperation,
} from "../engine/mod.ts";
import { FormatError, UnsupportedLayerError } from "./errors.ts";
import { bidirectionalParts, type KerasObject, RNN_CLASSES } from "./keras_layout.ts";

/** The layer classes the engine runs now (the engine's registry grows as layers land). */
export function engineLayerClasses(): ReadonlySet<string> {
  return new Set(SUPPORTED_LAYER_CLASSES);
}

/**
 * Model classes whose config holds a `layers` list the engine builds (the engine's own set). A
 * layer entry of one of these classes is a nested model: its `config` is a whole model config.
 */
export { MODEL_CLASSES };

/** Whether a layer class is a model class (a layer entry of it is a nested model). */
export function isModelClass(className: string): boolean {
  return MODEL_CLASSES.has(className);
}

/** Classes taken out of the engine config and handed over as preprocessing. */
export const PREPROCESSING_CLASSES: ReadonlySet<string> = new Set(["TextVectorization"]);

/** One layer of a model config, in config order. */
export interface LayerEntry {
  className: string;
  name: string;
  config: Record<string, unknown>;
  raw: KerasObject;
}

/** Checks the top level of a model JSON and returns it typed. */
export function asModelConfig(value: unknown, source: string, field: string): KerasObject {
  if (!isRecord(value) || typeof value.class_name !== "string") {
    throw new FormatError(`${field} is not a Keras model object ({class_name, config})`, source);
  }
  const model = value as KerasObject;
  const name = isRecord(model.config) ? String(model.config.name ?? "model") : "model";
  if (!isKerasBuiltin(model) || !MODEL_CLASSES.has(model.class_name)) {
    throw new UnsupportedLayerError(
      model.class_name,
      name,
      source,
      "only Sequential and Functional models can be imported",
    );
  }
  if (!isRecord(model.config) && !Array.isArray(model.config)) {
    throw new FormatError(`${field}.config is missing`, source);
  }
  return model;
}

/** The layers of a Sequential/Functional config (old Keras 2 Sequential configs are a bare list). */
export function modelLayers(model: KerasObject, source: string): LayerEntry[] {
  const config = model.config as unknown;
  const list = Array.isArray(config) ? config : (config as Record<string, unknown>).layers;
  if (!Array.isArray(list)) throw new FormatError(`model config has no "layers" list`, source);
  return list.map((raw, i) => {
    if (!isRecord(raw) || typeof raw.class_name !== "string" || !isRecord(raw.config)) {
      throw new FormatError(`model config layers[${i}] is not a Keras layer object`, source);
    }
    return {
      className: raw.class_name,
      name: typeof raw.config.name === "string" ? raw.config.name : `layers[${i}]`,
      config: raw.config,
      raw: raw as KerasObject,
    };
  });
}

/**
 * Whether a serialised object is a Keras built-in: Keras 3 writes `module: "keras…"` and
 * `registered_name: null`; custom objects carry another module or a `Package>Name` registration.
 * Keras 2 configs have neither field.
 */
export function isKerasBuiltin(obj: Record<string, unknown>): boolean {
  const module = obj.module;
  if (module !== undefined && module !== null) {
    if (typeof module !== "string" || !(module === "keras" || module.startsWith("keras."))) {
      return false;
    }
  }
  const registered = obj.registered_name;
  return registered === undefined || registered === null || registered === obj.class_name;
}

/**
 * Refuses any layer the engine cannot run, naming its class and layer. TextVectorization is
 * allowed at the top level (it becomes preprocessing). Bidirectional wrappers must wrap a
 * recurrent layer. Nested models (a layer entry of class Sequential / Functional / Model) are
 * checked recursively; their layers are named by path (`"base/conv1"`) in errors.
 */
export function checkLayerClasses(
  entries: readonly LayerEntry[],
  source: string,
  supported: ReadonlySet<string> = engineLayerClasses(),
  prefix = "",
): void {
  const check = (raw: KerasObject, name: string) => {
    const className = raw.class_name;
    if (className === "Lambda") {
      throw new UnsupportedLayerError(className, name, source, "Lambda layers hold code");
    }
    if (!isKerasBuiltin(raw)) {
      throw new UnsupportedLayerError(
        className,
        name,
        source,
        `custom object (module ${JSON.stringify(raw.module)}, registered_name ${
          JSON.stringify(raw.registered_name)
        })`,
      );
    }
    if (PREPROCESSING_CLASSES.has(className)) {
      if (prefix === "") return;
      throw new UnsupportedLayerError(
        className,
        name,
        source,
        `TextVectorization is only supported in the top-level model, not inside nested model "${
          prefix.slice(0, -1)
        }"`,
      );
    }
    if (isModelClass(className)) return;
    // Operation nodes (Keras 3 `keras.src.ops.*`, tf.keras 2 TFOpLambda / SlicingOpLambda):
    // accepted for the ops the engine runs, refused by op name otherwise.
    if (isOperationEntry(raw)) {
      const why = unsupportedOperation(raw);
      if (why) throw new UnsupportedLayerError(className, name, source, why);
      return;
    }
    if (!supported.has(className)) {
      throw new UnsupportedLayerError(className, name, source, "not implemented by the engine");
    }
  };
  for (const entry of entries) {
    const path = prefix + entry.name;
    check(entry.raw, path);
    if (isModelClass(entry.className)) {
      checkLayerClasses(nestedModelLayers(entry, source, prefix), source, supported, `${path}/`);
      continue;
    }
    if (entry.className === "TimeDistributed") {
      const inner = entry.config.layer as KerasObject | undefined;
      if (!isRecord(inner) || typeof inner.class_name !== "string" || !isRecord(inner.config)) {
        throw new FormatError(`TimeDistributed "${path}" has no "layer"`, source);
      }
      check(inner, `${path}/${String(inner.config.name ?? inner.class_name)}`);
      if (isModelClass(inner.class_name)) {
        throw new UnsupportedLayerError(
          inner.class_name,
          `${path}/${String(inner.config.name ?? "")}`,
          source,
          `TimeDistributed "${path}" wrapping a model is not supported`,
        );
      }
    }
    if (entry.className === "Bidirectional") {
      const parts = bidirectionalParts(entry.config);
      if (!parts) throw new FormatError(`Bidirectional "${path}" has no "layer"`, source);
      for (const inner of [parts.forward, parts.backward]) {
        const innerName = prefix + String(inner.config?.name ?? entry.name);
        check(inner, innerName);
        if (!RNN_CLASSES.has(inner.class_name)) {
          throw new UnsupportedLayerError(
            inner.class_name,
            innerName,
            source,
            `Bidirectional "${path}" must wrap SimpleRNN, LSTM or GRU`,
          );
        }
      }
    }
  }
}

/**
 * The layers of a nested model entry (its `config` is a whole model config). `prefix` is the
 * path of the model holding the entry, for errors.
 */
export function nestedModelLayers(entry: LayerEntry, source: string, prefix = ""): LayerEntry[] {
  try {
    return modelLayers(entry.raw, source);
  } catch (e) {
    if (e instanceof FormatError) {
      throw new FormatError(
        `nested model "${prefix}${entry.name}" (${entry.className}): ${
          e.message.slice(source.length + 2)
        }`,
        source,
      );
    }
    throw e;
  }
}

/** A layer that is not a model, found by walking nested models. */
export interface LeafLayer {
  /**
   * The key of its weights in `ModelSpec.weights`: the layer name at the top level, else the
   * nested models' layer names and its own joined by `/` (`"outer/inner/conv1"`).
   */
  key: string;
  entry: LayerEntry;
  /** False when the layer or any model holding it has `trainable: false` in its config. */
  trainable: boolean;
}

/**
 * Every non-model layer of a model config, depth first in config order, nested models
 * expanded in place. A nested model appears once in its parent's `layers` however often it is
 * called, so each leaf appears once.
 */
export function leafLayers(
  entries: readonly LayerEntry[],
  source: string,
  prefix = "",
  trainable = true,
): LeafLayer[] {
  const out: LeafLayer[] = [];
  for (const entry of entries) {
    const own = trainable && entry.config.trainable !== false;
    if (isModelClass(entry.className)) {
      const inner = nestedModelLayers(entry, source, prefix);
      out.push(...leafLayers(inner, source, `${prefix}${entry.name}/`, own));
    } else {
      out.push({ key: prefix + entry.name, entry, trainable: own });
    }
  }
  return out;
}

/** A TextVectorization layer taken out of the model, for `TextVectorization.fromConfig`. */
export interface PreprocessingLayer {
  layerName: string;
  className: "TextVectorization";
  /** The layer's Keras config as saved. */
  config: Record<string, unknown>;
  /** The full vocabulary as Keras returns it from `get_vocabulary()` (index 0 `""`, 1 `"[UNK]"`). */
  vocabulary: string[];
}

/** Shape and dtype of what a TextVectorization layer produces for one sample. */
function vectorizedInput(config: Record<string, unknown>, vocabularySize: number): {
  batchShape: (number | null)[];
  dtype: string;
} {
  const mode = config.output_mode ?? "int";
  if (mode === "int") {
    const length = config.output_sequence_length;
    return { batchShape: [null, typeof length === "number" ? length : null], dtype: "int32" };
  }
  const maxTokens = config.max_tokens;
  const width = config.pad_to_max_tokens === true && typeof maxTokens === "number"
    ? maxTokens
    : vocabularySize;
  return { batchShape: [null, width], dtype: "float32" };
}

function replaceInputConfig(
  input: KerasObject,
  shape: { batchShape: (number | null)[]; dtype: string },
): KerasObject {
  const config: Record<string, unknown> = { ...input.config, dtype: shape.dtype };
  delete config.batch_input_shape;
  delete config.input_shape;
  config.batch_shape = shape.batchShape;
  return { ...input, config };
}

/** Replaces references to layer `from` by layer `to` anywhere in a Functional config. */
function renameInbound(value: unknown, from: string, to: string): unknown {
  if (Array.isArray(value)) {
    if (value.length >= 3 && value[0] === from && typeof value[1] === "number") {
      return [to, ...value.slice(1).map((v) => renameInbound(v, from, to))];
    }
    return value.map((v) => renameInbound(v, from, to));
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renameInbound(v, from, to);
    return out;
  }
  return value;
}

/**
 * Removes TextVectorization layers from the model config. They must sit directly after the
 * model's (string) input; the input is then redeclared with the vectorizer's output shape and
 * dtype so the engine model consumes token ids. `vocabularyOf` supplies each layer's vocabulary.
 */
export function extractPreprocessing(
  model: KerasObject,
  entries: readonly LayerEntry[],
  vocabularyOf: (entry: LayerEntry, index: number) => string[],
  source: string,
): { config: KerasObject; preprocessing: PreprocessingLayer[] } {
  const found = entries
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => PREPROCESSING_CLASSES.has(entry.className));
  if (found.length === 0) return { config: model, preprocessing: [] };
  const preprocessing = found.map(({ entry, index }) => ({
    layerName: entry.name,
    className: "TextVectorization" as const,
    config: entry.config,
    vocabulary: vocabularyOf(entry, index),
  }));
  const layers = entries.map((e) => e.raw);
  const remove = new Set(found.map(({ index }) => index));
  let modelConfig = { ...(model.config as Record<string, unknown>) };
  const sequential = model.class_name === "Sequential";
  for (const [k, { entry, index }] of found.entries()) {
    const shape = vectorizedInput(entry.config, preprocessing[k].vocabulary.length);
    if (sequential) {
      const firstReal = layers.findIndex((l) => l.class_name !== "InputLayer");
      if (index !== firstReal) {
        throw new UnsupportedLayerError(
          entry.className,
          entry.name,
          source,
          "TextVectorization is only supported as the first layer",
        );
      }
      if (index > 0 && layers[0].class_name === "InputLayer") {
        layers[0] = replaceInputConfig(layers[0], shape);
      } else {
        const input: KerasObject = {
          class_name: "InputLayer",
          config: { name: `${entry.name}_ids`, batch_shape: shape.batchShape, dtype: shape.dtype },
        };
        if (entry.raw.module !== undefined) {
          Object.assign(input, { module: "keras.layers", registered_name: null });
        }
        layers[index] = input;
        remove.delete(index);
      }
    } else {
      const inputIndex = layers.findIndex((l, i) =>
        l.class_name === "InputLayer" && JSON.stringify(entry.raw.inbound_nodes ?? [])
          .includes(JSON.stringify(String(entries[i].name)))
      );
      if (inputIndex < 0) {
        throw new UnsupportedLayerError(
          entry.className,
          entry.name,
          source,
          "TextVectorization must be applied directly to a model input",
        );
      }
      const inputName = entries[inputIndex].name;
      layers[inputIndex] = replaceInputConfig(layers[inputIndex], shape);
      modelConfig = renameInbound(modelConfig, entry.name, inputName) as Record<string, unknown>;
      for (let i = 0; i < layers.length; i++) {
        if (i !== index) layers[i] = renameInbound(layers[i], entry.name, inputName) as KerasObject;
      }
    }
  }
  modelConfig.layers = layers.filter((_, i) => !remove.has(i));
  return { config: { ...model, config: modelConfig }, preprocessing };
}
