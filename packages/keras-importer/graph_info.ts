/**
 * What the CLIs read from a model config without building it: the model's input and output
 * layer names, every layer name or nested path `--output-layer` accepts, and each layer's
 * inbound layers (Keras `summary()`'s "Connected to"), in both Keras 3 and Keras 2 / TF.js node
 * forms.
 *
 * @module
 */
import { isRecord } from "../engine/mod.ts";
import { isModelClass, type LayerEntry, leafLayers, modelLayers } from "./config.ts";
import type { KerasObject } from "./keras_layout.ts";

/** `[layer, node, index]`: one tensor reference in `input_layers` / `output_layers`. */
function isTriple(value: unknown): value is [string, number, number] {
  return Array.isArray(value) && value.length >= 3 && typeof value[0] === "string" &&
    typeof value[1] === "number";
}

/** Layer names of `input_layers` / `output_layers` (one triple, a list, or a dict of triples). */
function endpointNames(value: unknown): string[] {
  if (isTriple(value)) return [value[0]];
  if (Array.isArray(value)) return value.flatMap(endpointNames);
  if (isRecord(value)) return Object.values(value).flatMap(endpointNames);
  return [];
}

/**
 * The model's input and output layer names in Keras order (`input_layers` / `output_layers`
 * of a Functional config; a Sequential model has one of each).
 */
export function modelEndpoints(model: KerasObject): { inputs: string[]; outputs: string[] } {
  const entries = modelLayers(model, "config");
  if (model.class_name === "Sequential") {
    const first = entries[0];
    const input = first?.className === "InputLayer"
      ? first.name
      : `${String(model.config.name ?? "sequential")}_input`;
    return { inputs: [input], outputs: entries.length ? [entries[entries.length - 1].name] : [] };
  }
  return {
    inputs: endpointNames(model.config.input_layers),
    outputs: endpointNames(model.config.output_layers),
  };
}

/**
 * Every name `--output-layer` accepts: layer names and nested models at the top level, paths
 * (`"base/conv1"`, `"outer/inner"`) below, and the plain name of a nested layer when no other
 * layer has it.
 */
export function layerNames(model: KerasObject): string[] {
  const paths: string[] = [];
  const walk = (entries: readonly LayerEntry[], prefix: string) => {
    for (const entry of entries) {
      paths.push(prefix + entry.name);
      if (isModelClass(entry.className)) {
        walk(modelLayers(entry.raw, "config"), `${prefix}${entry.name}/`);
      }
    }
  };
  const entries = modelLayers(model, "config");
  walk(entries, "");
  const count = new Map<string, number>();
  for (const leaf of leafLayers(entries, "config")) {
    count.set(leaf.entry.name, (count.get(leaf.entry.name) ?? 0) + 1);
  }
  const unique = [...count].filter(([name, n]) => n === 1 && !paths.includes(name));
  return [...paths, ...unique.map(([name]) => name)];
}

/** `name[node][index]` for every tensor a layer is called on, all calls, first seen first. */
export function inboundLayers(entry: KerasObject): string[] {
  const out: string[] = [];
  const add = (history: unknown) => {
    if (!isTriple(history)) return;
    const text = `${history[0]}[${history[1]}][${history[2]}]`;
    if (!out.includes(text)) out.push(text);
  };
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      // Keras 2 / TF.js: [layer, node, index, kwargs].
      if (isTriple(value) && (value.length === 3 || isRecord((value as unknown[])[3]))) {
        return add(value);
      }
      for (const v of value) walk(v);
    } else if (isRecord(value)) {
      // Keras 3: {class_name: "__keras_tensor__", config: {keras_history: [...]}}.
      if (value.class_name === "__keras_tensor__" && isRecord(value.config)) {
        return add(value.config.keras_history);
      }
      for (const v of Object.values(value)) walk(v);
    }
  };
  walk(entry.inbound_nodes);
  return out;
}

/**
 * A "Layer (type) / Connected to" table of a Functional config's top-level layers — the
 * fallback of `inspect` when the engine's `summary()` has no such column.
 */
export function connectionsTable(model: KerasObject): string {
  const rows = modelLayers(model, "config").map((e) => [
    `${e.name} (${e.className})`,
    inboundLayers(e.raw).join(", "),
  ]);
  const head = ["Layer (type)", "Connected to"];
  const width = Math.max(head[0].length, ...rows.map((r) => r[0].length)) + 2;
  return [head, ...rows].map(([a, b]) => `${a.padEnd(width)}${b}`.trimEnd()).join("\n");
}
