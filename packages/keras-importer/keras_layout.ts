/**
 * Facts about how Keras names and orders layer weights in its file formats, shared by the
 * readers and writers.
 *
 * @module
 */
import { layerWeightNames as engineLayerWeightNames } from "../engine/mod.ts";

/** A Keras object as it appears in model JSON: `{ class_name, config, module?, ... }`. */
export interface KerasObject {
  class_name: string;
  config: Record<string, unknown>;
  [key: string]: unknown;
}

/** Recurrent layer classes (the classes a Bidirectional may wrap; see `config.ts`). */
export const RNN_CLASSES: ReadonlySet<string> = new Set(["SimpleRNN", "LSTM", "GRU"]);

/**
 * Keras `naming.to_snake_case`: drop non-word characters, then split CamelCase words with `_`.
 * `Conv2D` → `conv2d`, `SimpleRNN` → `simple_rnn`, `ReLU` → `re_lu`, `MaxPooling2D` → `max_pooling2d`.
 */
export function toSnakeCase(name: string): string {
  let s = name.replace(/[^A-Za-z0-9_]+/g, "");
  s = s.replace(/(.)([A-Z][a-z]+)/g, "$1_$2");
  return s.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * Assigns Keras 3 `.keras` weight-file keys (`layers/<key>`) to a list of class names: the
 * snake_case class name, suffixed `_1`, `_2`, … for repeats of the same class, in list order
 * (keras/src/saving/saving_lib.py `_save_container_state`).
 */
export function kerasV3LayerKeys(classNames: readonly string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((className) => {
    const base = toSnakeCase(className);
    const seen = used.get(base);
    if (seen === undefined) {
      used.set(base, 0);
      return base;
    }
    used.set(base, seen + 1);
    return `${base}_${seen + 1}`;
  });
}

/** The inner layers of a Bidirectional config: forward (`layer`) and backward (`backward_layer`). */
export function bidirectionalParts(
  config: Record<string, unknown>,
): { forward: KerasObject; backward: KerasObject } | undefined {
  const forward = config.layer as KerasObject | undefined;
  if (!forward || typeof forward !== "object" || typeof forward.class_name !== "string") {
    return undefined;
  }
  const backward = (config.backward_layer as KerasObject | undefined) ?? forward;
  return { forward, backward };
}

/**
 * Keras weight names of one layer, in `layer.get_weights()` order (trainable then
 * non-trainable; Bidirectional: forward then backward, each prefixed by its sublayer role): the
 * engine layer's own `weightNames()`, so each layer class states them once, in its definition.
 * `[]` for classes without weights or unknown to the engine.
 */
export const layerWeightNames: (className: string, config: Record<string, unknown>) => string[] =
  engineLayerWeightNames;
