/**
 * The hyper-parameter grids: one baseline per family and, for each hyper-parameter ("study"), the
 * variants that change only that hyper-parameter (one-at-a-time, as the course assignment asks).
 * Variants shared by several studies (the baseline) are trained once.
 */
import { UsageError } from "./errors.ts";
import type { Family, Recipe, RecurrentFamily } from "./options.ts";
import { recipeGrid, type RecipeHyper } from "./recipe.ts";
import { bowGrid, type BowHyper } from "./bag_of_words.ts";
import {
  cnn1dGrid,
  type Cnn1dHyper,
  transformerGrid,
  type TransformerHyper,
} from "./sequence_models.ts";

/** The hyper-parameters of any family's variant. */
export type AnyHyper =
  | CnnHyper
  | RnnHyper
  | RecipeHyper
  | Cnn1dHyper
  | TransformerHyper
  | BowHyper;

/** A CNN variant: `convLayers` × (Conv2D → pooling), then Flatten → Dense → Dense softmax. */
export interface CnnHyper {
  convLayers: number;
  filters: number[];
  kernelSizes: number[];
  pooling: "max" | "average";
}

/** A recurrent text variant: `units.length` stacked layers, optionally bidirectional. */
export interface RnnHyper {
  units: number[];
  bidirectional: boolean;
}

/** One model to train. */
export interface Variant<H = AnyHyper> {
  /** Stable id, used for file names (`models/<id>.keras`). */
  id: string;
  /** Short human label, e.g. `BiLSTM 64-64`. */
  label: string;
  hyper: H;
}

/** One hyper-parameter study: which variants vary it, and how each is described in its table. */
export interface Study {
  /** Name used by `--study` and in file names (`plots/<name>.svg`). */
  name: string;
  /** Table and plot title. */
  title: string;
  /** Variant ids in display order, with the value of the studied hyper-parameter. */
  entries: { variant: string; value: string }[];
}

/** The variants and studies of a family. */
export interface Grid<H = AnyHyper> {
  variants: Variant<H>[];
  studies: Study[];
}

const CELL_LABEL: Record<RecurrentFamily, string> = {
  rnn: "RNN",
  lstm: "LSTM",
  gru: "GRU",
};

/** Id and label of a CNN variant. */
export function cnnVariant(h: CnnHyper): Variant<CnnHyper> {
  const f = h.filters.join("-"), k = h.kernelSizes.join("-");
  return {
    id: `conv${h.convLayers}_f${f}_k${k}_${h.pooling}`,
    label: `${h.convLayers} conv, filters ${f}, kernels ${k}, ${h.pooling} pool`,
    hyper: h,
  };
}

/** Id and label of a recurrent variant. */
export function rnnVariant(family: RecurrentFamily, h: RnnHyper): Variant<RnnHyper> {
  const u = h.units.join("-");
  const cell = CELL_LABEL[family];
  return {
    id: `${h.bidirectional ? "bi" : ""}${family}_${u}`,
    label: `${h.bidirectional ? "Bi" : ""}${cell} ${u}`,
    hyper: h,
  };
}

/** A grid from its studies: each entry's variant is made from its hyper-parameters (once per id). */
export function collect<H>(
  studies: { name: string; title: string; entries: { hyper: H; value: string }[] }[],
  make: (h: H) => Variant<H>,
): Grid<H> {
  const byId = new Map<string, Variant<H>>();
  const out: Study[] = studies.map((s) => ({
    name: s.name,
    title: s.title,
    entries: s.entries.map((e) => {
      const v = make(e.hyper);
      if (!byId.has(v.id)) byId.set(v.id, v);
      return { variant: v.id, value: e.value };
    }),
  }));
  return { variants: [...byId.values()], studies: out };
}

/**
 * The CNN grid around the baseline (2 conv layers, filters 16-32, kernels 3-3, max pooling):
 * conv layers 1 / 2 / 3, filters 8-16 / 16-32 / 32-64, kernels 3-3 / 5-3 / 5-5, max / average.
 */
export function cnnGrid(): Grid<CnnHyper> {
  const base: CnnHyper = { convLayers: 2, filters: [16, 32], kernelSizes: [3, 3], pooling: "max" };
  const layers = [1, 2, 3].map((n) => ({
    hyper: {
      ...base,
      convLayers: n,
      filters: [16, 32, 64].slice(0, n),
      kernelSizes: Array(n).fill(3),
    },
    value: String(n),
  }));
  const filters = [[8, 16], [16, 32], [32, 64]].map((f) => ({
    hyper: { ...base, filters: f },
    value: f.join("-"),
  }));
  const kernels = [[3, 3], [5, 3], [5, 5]].map((k) => ({
    hyper: { ...base, kernelSizes: k },
    value: k.join("-"),
  }));
  const pooling = (["max", "average"] as const).map((p) => ({
    hyper: { ...base, pooling: p },
    value: p,
  }));
  return collect([
    { name: "layers", title: "Number of convolutional layers", entries: layers },
    { name: "filters", title: "Filters per convolutional layer", entries: filters },
    { name: "kernels", title: "Kernel size per convolutional layer", entries: kernels },
    { name: "pooling", title: "Pooling: max vs average", entries: pooling },
  ], cnnVariant);
}

/**
 * A recurrent family's grid around the baseline (bidirectional, 2 layers of 64 units):
 * layers 1 / 2 / 3 (64 units each), units 32-32 / 64-64 / 128-64, unidirectional vs bidirectional.
 */
export function rnnGrid(family: RecurrentFamily): Grid<RnnHyper> {
  const base: RnnHyper = { units: [64, 64], bidirectional: true };
  const layers = [1, 2, 3].map((n) => ({
    hyper: { ...base, units: Array(n).fill(64) },
    value: String(n),
  }));
  const units = [[32, 32], [64, 64], [128, 64]].map((u) => ({
    hyper: { ...base, units: u },
    value: u.join("-"),
  }));
  const direction = [false, true].map((b) => ({
    hyper: { ...base, bidirectional: b },
    value: b ? "bidirectional" : "unidirectional",
  }));
  return collect([
    { name: "layers", title: `Number of ${CELL_LABEL[family]} layers`, entries: layers },
    { name: "units", title: `${CELL_LABEL[family]} units per layer`, entries: units },
    { name: "direction", title: "Unidirectional vs bidirectional", entries: direction },
  ], (h) => rnnVariant(family, h));
}

/**
 * The grid of `family`; with `recipe` "best" (cnn only), the one-variant grid of `recipeHyper`
 * (default the best recipe).
 */
export function familyGrid(
  family: Family,
  recipe: Recipe = "grid",
  recipeHyper?: RecipeHyper,
): Grid {
  if (recipe === "best") return recipeGrid(recipeHyper);
  if (family === "cnn1d") return cnn1dGrid();
  if (family === "transformer") return transformerGrid();
  if (family === "bow") return bowGrid();
  return family === "cnn" ? cnnGrid() : rnnGrid(family);
}

/**
 * Restricts a grid to the named studies and/or variant ids (empty = no restriction); studies keep
 * only the entries that still run.
 *
 * @throws {UsageError} an unknown study or variant id.
 */
export function selectGrid(grid: Grid, studies: string[], variants: string[]): Grid {
  for (const s of studies) {
    if (!grid.studies.some((t) => t.name === s)) {
      throw new UsageError(
        "--study",
        `one of ${grid.studies.map((t) => t.name).join(", ")}`,
        `"${s}"`,
      );
    }
  }
  for (const id of variants) {
    if (!grid.variants.some((v) => v.id === id)) {
      throw new UsageError(
        "--variants",
        `ids among ${grid.variants.map((v) => v.id).join(", ")}`,
        `"${id}"`,
      );
    }
  }
  let kept = studies.length ? grid.studies.filter((s) => studies.includes(s.name)) : grid.studies;
  if (variants.length) {
    kept = kept.map((s) => ({
      ...s,
      entries: s.entries.filter((e) => variants.includes(e.variant)),
    })).filter((s) => s.entries.length);
  }
  const used = new Set(kept.flatMap((s) => s.entries.map((e) => e.variant)));
  return { variants: grid.variants.filter((v) => used.has(v.id)), studies: kept };
}
