/**
 * Keras class name → engine layer class, built from the one list `LAYER_CLASSES`
 * (`layers/mod.ts`): how the model builder creates layers, the trainer finds their training
 * behaviour and the importer learns their weight names and `.keras` layout.
 *
 * @module
 */
import { UnsupportedLayerError } from "./errors.ts";
import type { KerasVarGroup, Layer, LayerBuildOptions, LayerConfig } from "./layer.ts";
import type { LayerClass } from "./layer_class.ts";
import type { LayerTraining } from "./layer_training.ts";
import { LAYER_CLASSES } from "./layers/mod.ts";
import type { OnnxLayerContext } from "./onnx_emit.ts";
import { OpLayer } from "./ops/op_layer.ts";

/** A layer constructor as the registry hands it out. */
export type LayerFactory = (config: LayerConfig, options: LayerBuildOptions) => Layer;

const classes = new Map<string, LayerClass>();
for (const def of LAYER_CLASSES) {
  for (const name of [def.className, ...(def.aliases ?? [])]) {
    if (classes.has(name)) throw new Error(`layer class ${name} is listed twice in LAYER_CLASSES`);
    classes.set(name, def);
  }
}

/** Training behaviour registered at run time ({@link registerTraining}); wins over the class's. */
const extraTraining = new Map<string, LayerTraining>();

/** The definition of a Keras layer class (also found by alias); undefined when unsupported. */
export function layerClass(className: string): LayerClass | undefined {
  return classes.get(className);
}

/** Looks up a layer class's constructor; `undefined` when the engine does not support it. */
export function layerFactory(className: string): LayerFactory | undefined {
  if (!classes.has(className)) return undefined;
  return (config, options) => createLayer({ class_name: className, config }, options);
}

/**
 * Builds a layer from a Keras object `{class_name, config}`; throws
 * {@link UnsupportedLayerError} for a class the engine does not run.
 */
export function createLayer(
  object: { class_name: string; config: LayerConfig },
  options: LayerBuildOptions = {},
  path?: string,
): Layer {
  const def = classes.get(object.class_name);
  if (!def) {
    throw new UnsupportedLayerError(
      object.class_name,
      path ?? String(object.config.name ?? ""),
      /Position(al)?(Embedding|Encoding)/i.test(object.class_name)
        ? "a custom class; write it in the standard form: Embedding(vocab, d, mask_zero=True)" +
          "(tokens) + Embedding(length, d)(positions), with the positions as an Input"
        : "",
    );
  }
  return def.create(object.config, { ...options, createLayer: options.createLayer ?? createLayer });
}

/** The Keras layer classes this engine can run. */
export function supportedLayerClasses(): readonly string[] {
  return LAYER_CLASSES.map((def) => def.className);
}

/**
 * Registers (or replaces) the training behaviour of a supported Keras layer class at run time.
 * A layer class normally carries its training in its definition (`LayerClass.training`).
 */
export function registerTraining<L extends Layer>(className: string, impl: LayerTraining<L>): void {
  extraTraining.set(className, impl as unknown as LayerTraining);
}

/** The training behaviour of `className`, or undefined when it has none yet. */
export function trainingFor(className: string): LayerTraining | undefined {
  return extraTraining.get(className) ?? classes.get(className)?.training;
}

/** Keras classes the trainer can train. */
export function trainableLayerClasses(): readonly string[] {
  const names = LAYER_CLASSES.filter((def) => def.training).map((def) => def.className);
  for (const name of extraTraining.keys()) if (!names.includes(name)) names.push(name);
  return names;
}

/** The layers owning `layer`'s device weights. */
export function paramOwners(layer: Layer, impl: LayerTraining): Layer[] {
  return impl.params ? impl.params(layer) : [layer];
}

/** A layer object for config-only questions, or undefined when the class or config is not usable. */
function probe(className: string, config: LayerConfig): Layer | undefined {
  if (!classes.has(className)) return undefined;
  try {
    return createLayer({ class_name: className, config: structuredClone(config) });
  } catch {
    return undefined;
  }
}

/**
 * Keras weight names of one layer from its class and config, in `layer.get_weights()` order
 * (Bidirectional: `forward/…` then `backward/…`). `[]` for classes without weights, classes the
 * engine does not run and configs it cannot build (building the model reports those).
 */
export function layerWeightNames(className: string, config: LayerConfig): string[] {
  return probe(className, config)?.weightNames() ?? [];
}

/**
 * Per weight of {@link layerWeightNames}: whether Keras lists it in `trainable_weights` of a
 * trainable layer (BatchNormalization's moving statistics are not). All true when unknown.
 */
export function layerWeightTrainable(className: string, config: LayerConfig): boolean[] {
  const layer = probe(className, config);
  if (!layer) return [];
  let flags: boolean[] = [];
  try {
    flags = layer.weightTrainable();
  } catch {
    // A layer whose weight specs need the input shape: every weight trains.
  }
  return layer.weightNames().map((_, i) => flags[i] !== false);
}

/**
 * Where Keras 3 keeps one layer's variables in a `.keras` weights file, relative to the layer's
 * group `layers/<key>`, in the order Keras writes them (see {@link Layer.kerasVarGroups}).
 * Unknown classes and configs: everything under `vars`.
 */
export function layerVarGroups(className: string, config: LayerConfig): KerasVarGroup[] {
  return probe(className, config)?.kerasVarGroups() ??
    [{ path: "vars", start: 0, count: 0 }];
}

/**
 * How a layer is written as ONNX: its class definition's `onnx` hook, or an operation node's own
 * `emitOnnx`; undefined when neither exists (the exporter refuses the layer by name).
 */
export function onnxHookFor(layer: Layer): ((ctx: OnnxLayerContext) => void) | undefined {
  const hook = classes.get(layer.className)?.onnx;
  if (hook) return (ctx) => hook.call(classes.get(layer.className), layer, ctx);
  if (layer instanceof OpLayer) return (ctx) => layer.emitOnnx(ctx);
  return undefined;
}
