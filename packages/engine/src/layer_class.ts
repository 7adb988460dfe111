/**
 * One layer class as the engine knows it: the Keras class name, how to build a layer from its
 * config, and how it trains. Each layer file under `layers/` exports its definition (e.g.
 * `DENSE`), and `layers/mod.ts` lists them all in `LAYER_CLASSES`; the model builder, the trainer
 * the importer and the ONNX exporter learn a class from that definition alone. The layer object itself carries the
 * rest: its config parsing, weight names and order ({@link Layer.weightNames}), its Keras 3 file
 * layout ({@link Layer.kerasVarGroups}), initializer quirks, output shape and forward.
 *
 * @module
 */
import type { Layer, LayerBuildOptions, LayerConfig } from "./layer.ts";
import type { LayerTraining } from "./layer_training.ts";
import type { OnnxLayerContext } from "./onnx_emit.ts";

/** A Keras layer class the engine runs. */
export interface LayerClass<L extends Layer = Layer> {
  /** The Keras `class_name`, e.g. `"Dense"`. */
  readonly className: string;
  /** Other class names that build the same layer (older Keras spellings). */
  readonly aliases?: readonly string[];
  /**
   * Builds a layer from its Keras config. Cheap: parses and validates the config, allocates no
   * device memory (weights come with `build`).
   */
  create(config: LayerConfig, options: LayerBuildOptions): L;
  /** Training-mode forward and backward; absent for classes the trainer cannot train yet. */
  readonly training?: LayerTraining<L>;
  /**
   * Writes one call of the layer as ONNX nodes (`ctx.output` from `ctx.inputs`, channels-last as
   * in Keras; see `onnx_emit.ts`); absent for classes the ONNX export cannot write yet.
   */
  onnx?(layer: L, ctx: OnnxLayerContext): void;
}

/**
 * Declares a layer class (identity at runtime; it checks the shape of the definition and widens
 * it to `LayerClass<L>` so it fits in the `LAYER_CLASSES` list).
 *
 * ```ts
 * export const DENSE: LayerClass<Dense> = defineLayer({
 *   className: "Dense",
 *   create: (config, options) => new Dense(config, options),
 *   training: { backward(layer, args) { ... } },
 * });
 * ```
 */
export function defineLayer<L extends Layer>(definition: LayerClass<L>): LayerClass<L> {
  return Object.freeze({ ...definition });
}
