/**
 * The CNN "best recipe" (`--recipe best`): one model beyond the assignment's grid, still built
 * from the assignment's layers (Conv2D, pooling, Flatten, Dense, Dropout) plus
 * BatchNormalization and the augmentation layers RandomFlip and RandomTranslation. A VGG-style
 * stack of blocks — two 3×3 `same` Conv2D relu each followed by BatchNormalization, then 2×2 max
 * pooling and Dropout — then Flatten → Dense relu → Dropout → Dense softmax. The augmentation
 * layers sit in the model (identity at inference, as in Keras), so the saved `.keras` is the
 * whole recipe.
 */
import type { KerasObject } from "@scratchnet/engine";
import { UsageError } from "./errors.ts";
import type { Grid, Variant } from "./grid.ts";
import { type CnnShape, kerasInitializer, layer, sequential } from "./models.ts";

/** The recipe's architecture. */
export interface RecipeHyper {
  /** Marks the hyper-parameters as a recipe's (the grid's CNN variants have `convLayers`). */
  recipe: "vgg";
  /** Filters of each block (one 2×2 max pooling per block). */
  blockFilters: number[];
  /** Conv2D layers per block (all 3×3, `same`, relu, each followed by BatchNormalization). */
  convsPerBlock: number;
  /** Dropout rate after each block's pooling. */
  blockDropout: number[];
  /** Units of the hidden Dense layer. */
  denseUnits: number;
  /** RandomFlip `horizontal` in training. */
  flip: boolean;
  /** RandomTranslation factor (fraction of height and width, both ways), 0 = none. */
  translate: number;
}

/**
 * The best recipe: blocks of 32-64-128 filters, two convolutions each, block dropout
 * 0.1 / 0.2 / 0.3, Dense 128, horizontal flips and translations of up to ±10 % (±3 px on 32×32).
 * The block dropout is lighter than the usual 0.2 / 0.3 / 0.4 because the run is short (about ten
 * epochs): the augmentation already keeps the training loss near the validation loss there.
 */
export const BEST_RECIPE: RecipeHyper = {
  recipe: "vgg",
  blockFilters: [32, 64, 128],
  convsPerBlock: 2,
  blockDropout: [0.1, 0.2, 0.3],
  denseUnits: 128,
  flip: true,
  translate: 0.1,
};

/** The recipe's block dropout ladder for `blocks` blocks: 0.1 more per block, at most 0.5. */
function dropoutLadder(blocks: number): number[] {
  return Array.from(
    { length: blocks },
    (_, b) => Math.min(0.5, Math.round(10 * 0.1 * (b + 1)) / 10),
  );
}

/**
 * The best recipe with other block widths and/or convolutions per block (`--recipe-filters`,
 * `--recipe-convs`, to fit a compute budget); block dropout stays 0.1 / 0.2 / 0.3 (0.1 more per
 * block, at most 0.5) unless `blockDropout` gives one rate per block (`--recipe-dropout`).
 *
 * @throws {UsageError} `blockDropout` does not give one rate per block.
 */
export function recipeWith(
  overrides: {
    blockFilters?: number[] | null;
    convsPerBlock?: number | null;
    blockDropout?: number[] | null;
  } = {},
): RecipeHyper {
  const blockFilters = overrides.blockFilters ?? BEST_RECIPE.blockFilters;
  const blockDropout = overrides.blockDropout ?? dropoutLadder(blockFilters.length);
  if (blockDropout.length !== blockFilters.length) {
    throw new UsageError(
      "--recipe-dropout",
      `${blockFilters.length} rates, one per block`,
      `${blockDropout.length}`,
    );
  }
  return {
    ...BEST_RECIPE,
    blockFilters: [...blockFilters],
    convsPerBlock: overrides.convsPerBlock ?? BEST_RECIPE.convsPerBlock,
    blockDropout: [...blockDropout],
  };
}

/** True when `hyper` is a recipe's (not a grid variant's). */
export function isRecipe(hyper: unknown): hyper is RecipeHyper {
  return typeof hyper === "object" && hyper !== null &&
    (hyper as { recipe?: unknown }).recipe === "vgg";
}

/** Id and label of a recipe variant, e.g. `vgg3x2_f32-64-128_bn_aug`. */
export function recipeVariant(h: RecipeHyper): Variant<RecipeHyper> {
  const f = h.blockFilters.join("-");
  const aug = h.flip || h.translate > 0;
  return {
    id: `vgg${h.blockFilters.length}x${h.convsPerBlock}_f${f}_bn${aug ? "_aug" : ""}` +
      (h.blockDropout.join() === dropoutLadder(h.blockFilters.length).join()
        ? ""
        : `_drop${h.blockDropout.join("-")}`),
    label:
      `VGG-style ${h.blockFilters.length} blocks × ${h.convsPerBlock} conv 3×3, filters ${f}, ` +
      `BatchNorm, dropout ${h.blockDropout.join("/")}` +
      (aug
        ? `, ${
          [h.flip ? "flip" : "", h.translate > 0 ? `translate ±${h.translate}` : ""]
            .filter(Boolean).join(" + ")
        }`
        : ""),
    hyper: h,
  };
}

/** The grid of `--recipe best`: one study ("recipe") with the best recipe as its only entry. */
export function recipeGrid(h: RecipeHyper = BEST_RECIPE): Grid<RecipeHyper> {
  const v = recipeVariant(h);
  return {
    variants: [v],
    studies: [{
      name: "recipe",
      title: "Best recipe",
      entries: [{ variant: v.id, value: "best" }],
    }],
  };
}

/** The Keras layer class names of the recipe's model, in order (what {@link recipeConfig} builds). */
export function recipeLayerClasses(h: RecipeHyper): string[] {
  const out = ["InputLayer"];
  if (h.flip) out.push("RandomFlip");
  if (h.translate > 0) out.push("RandomTranslation");
  for (let b = 0; b < h.blockFilters.length; b++) {
    for (let c = 0; c < h.convsPerBlock; c++) out.push("Conv2D", "BatchNormalization");
    out.push("MaxPooling2D", "Dropout");
  }
  out.push("Flatten", "Dense", "Dropout", "Dense");
  return out;
}

/**
 * The recipe's Keras 3 Sequential config on `shape.input` (each block halves height and width,
 * flooring as `valid` pooling does). `shape.dropout` is the rate before the classifier.
 */
export function recipeConfig(h: RecipeHyper, shape: CnnShape, name = "cnn_recipe"): KerasObject {
  const { input, classes, dropout = 0.5 } = shape;
  const common = { trainable: true, dtype: "float32" };
  const layers: KerasObject[] = [
    layer("InputLayer", {
      name: "input_layer",
      batch_shape: [null, ...input],
      dtype: "float32",
      sparse: false,
    }),
  ];
  if (h.flip) {
    layers.push(layer("RandomFlip", {
      name: "random_flip",
      ...common,
      mode: "horizontal",
      seed: null,
    }));
  }
  if (h.translate > 0) {
    layers.push(layer("RandomTranslation", {
      name: "random_translation",
      ...common,
      height_factor: h.translate,
      width_factor: h.translate,
      fill_mode: "reflect",
      interpolation: "bilinear",
      seed: null,
      fill_value: 0,
    }));
  }
  h.blockFilters.forEach((filters, b) => {
    for (let c = 0; c < h.convsPerBlock; c++) {
      layers.push(layer("Conv2D", {
        name: `block${b + 1}_conv${c + 1}`,
        ...common,
        filters,
        kernel_size: [3, 3],
        strides: [1, 1],
        padding: "same",
        data_format: "channels_last",
        dilation_rate: [1, 1],
        groups: 1,
        activation: "relu",
        use_bias: true,
        // He initialisation suits relu; BatchNormalization follows, so its scale matters little.
        kernel_initializer: kerasInitializer("he_uniform"),
        bias_initializer: kerasInitializer("zeros"),
      }));
      layers.push(layer("BatchNormalization", {
        name: `block${b + 1}_bn${c + 1}`,
        ...common,
        axis: -1,
        momentum: 0.99,
        epsilon: 0.001,
        center: true,
        scale: true,
        beta_initializer: kerasInitializer("zeros"),
        gamma_initializer: kerasInitializer("ones"),
        moving_mean_initializer: kerasInitializer("zeros"),
        moving_variance_initializer: kerasInitializer("ones"),
      }));
    }
    layers.push(layer("MaxPooling2D", {
      name: `block${b + 1}_pool`,
      ...common,
      pool_size: [2, 2],
      strides: [2, 2],
      padding: "valid",
      data_format: "channels_last",
    }));
    layers.push(layer("Dropout", {
      name: `block${b + 1}_dropout`,
      ...common,
      rate: h.blockDropout[b] ?? 0,
    }));
  });
  layers.push(layer("Flatten", { name: "flatten", ...common }));
  layers.push(layer("Dense", {
    name: "dense_hidden",
    ...common,
    units: h.denseUnits,
    activation: "relu",
    use_bias: true,
    kernel_initializer: kerasInitializer("he_uniform"),
    bias_initializer: kerasInitializer("zeros"),
  }));
  layers.push(layer("Dropout", { name: "dropout", ...common, rate: dropout }));
  layers.push(layer("Dense", {
    name: "dense_output",
    ...common,
    units: classes,
    activation: "softmax",
    use_bias: true,
    kernel_initializer: kerasInitializer("glorot_uniform"),
    bias_initializer: kerasInitializer("zeros"),
  }));
  return sequential(name, layers);
}

/**
 * The recipe's trainable + non-trainable parameter count on `input` with `classes` outputs,
 * from the architecture alone (the test compares it with the built model's count).
 */
export function recipeParamCount(
  h: RecipeHyper,
  input: [number, number, number],
  classes: number,
): number {
  let [height, width, channels] = input;
  let params = 0;
  for (const filters of h.blockFilters) {
    for (let c = 0; c < h.convsPerBlock; c++) {
      params += 9 * channels * filters + filters; // Conv2D kernel + bias
      params += 4 * filters; // BatchNormalization gamma, beta, moving mean, moving variance
      channels = filters;
    }
    height = Math.floor(height / 2);
    width = Math.floor(width / 2);
  }
  const flat = height * width * channels;
  return params + flat * h.denseUnits + h.denseUnits + h.denseUnits * classes + classes;
}
