/**
 * `deno task experiment [family] --language all`: the best variant of every text family (or of
 * the one named) on each of NusaX's 12 languages, each trained with 3 seeds (`--repeats`), in one
 * table of test macro-F1 mean ± std, so a teacher sees where each architecture wins. Every run
 * goes through the families' own pipeline (`runVariant`: train, save `.keras`, reload, engine vs
 * reference on the test split, by default its first 100 texts here to keep 60 runs affordable).
 */
import { join } from "node:path";
import { NUSAX_LANGUAGES, type NusaxLanguage } from "@scratchnet/datasets";
import { UsageError } from "./errors.ts";
import { familyGrid } from "./grid.ts";
import {
  type ExperimentOptions,
  membersOf,
  parseExperimentArgs,
  type TextFamily,
} from "./options.ts";
import type { ExperimentProgress } from "./progress.ts";
import type { VariantResult } from "./results.ts";
import { checkOutputDir, loadExperimentData, runVariant } from "./run.ts";

/** Every text family, in table order. */
export const TEXT_FAMILIES: readonly TextFamily[] = [
  "rnn",
  "lstm",
  "gru",
  "cnn1d",
  "transformer",
  "bow",
];

/**
 * The variant each family runs on every language: the best of its Indonesian grid (README
 * "Measured runs": BiRNN 32-32, BiLSTM 64-64 and BiGRU 128-64 by their 3-seed means; Conv1D 2×128
 * kernel 5 and the Transformer 2 × d 128 × 4 heads from 5-epoch grids; bag-of-words uni+bigrams
 * multi_hot, Dense 128 by its 3-seed mean). `--variants` with one family chooses another.
 */
export const BEST_VARIANTS: Readonly<Record<TextFamily, string>> = {
  rnn: "birnn_32-32",
  lstm: "bilstm_64-64",
  gru: "bigru_128-64",
  cnn1d: "cnn1d_l2_f128_k5",
  transformer: "transformer_b2_d128_h4",
  bow: "bow_2gram_multi_hot_h128_t20000",
};

/** What a `--language all` run does. */
export interface LanguagesOptions {
  families: TextFamily[];
  languages: NusaxLanguage[];
  /** Each family's options (variant, seeds, training); `language` is set per run. */
  perFamily: Map<TextFamily, ExperimentOptions>;
  out: string;
  force: boolean;
}

/** True when the arguments ask for `--language all`. */
export function wantsAllLanguages(argv: readonly string[]): boolean {
  return argv.some((a, i) =>
    a === "--language=all" || (a === "--language" && argv[i + 1] === "all")
  );
}

/**
 * Parses `[family] --language all [--families A,B] [--languages A,B] [options]`: the remaining
 * options are the families' own (`parseExperimentArgs`), with `--repeats` 3 and
 * `--reference-size` 100 by default.
 *
 * @throws {UsageError} an unknown family or language, a non-text family, or a bad option.
 */
export function parseLanguagesArgs(argv: readonly string[]): LanguagesOptions {
  const rest: string[] = [];
  let families: string[] = [], languages: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--language") i++;
    else if (a === "--language=all") continue;
    else if (a === "--families" || a === "--languages") {
      const items = (argv[++i] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      if (a === "--families") families = items;
      else languages = items;
    } else rest.push(a);
  }
  // A family, if named, comes first; every other argument is the families' own option.
  const named = rest.length && !rest[0].startsWith("-") ? rest[0] : null;
  const withoutFamily = named ? rest.slice(1) : rest;
  if (named) families = [named, ...families.filter((f) => f !== named)];
  if (!families.length) families = [...TEXT_FAMILIES];
  membersOf(
    "--families",
    families,
    TEXT_FAMILIES,
    `text families among ${TEXT_FAMILIES.join(", ")}`,
  );
  membersOf(
    "--languages",
    languages,
    NUSAX_LANGUAGES,
    `NusaX languages (${NUSAX_LANGUAGES.join(", ")})`,
  );
  const given = (name: string) => rest.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const defaults = [
    ...(given("repeats") ? [] : ["--repeats", "3"]),
    ...(given("reference-size") ? [] : ["--reference-size", "100"]),
  ];
  const quick = given("quick");
  const out = valueOf(rest, "out") ?? `experiments/languages-nusax${quick ? "-quick" : ""}`;
  const perFamily = new Map<TextFamily, ExperimentOptions>();
  for (const f of families as TextFamily[]) {
    // Sequence settings given for a table of several families do not apply to bow (no sequence,
    // no embedding, max_tokens from its variant); named alone, bow refuses them as usual.
    const args = f === "bow" && families.length > 1
      ? withoutFlags(withoutFamily, BOW_IGNORED_FLAGS)
      : withoutFamily;
    const o = parseExperimentArgs([f, ...args, ...defaults]);
    const variants = o.variants.length ? o.variants : [BEST_VARIANTS[f]];
    if (variants.length !== 1 || families.length > 1 && o.variants.length) {
      throw new UsageError(
        "--variants",
        "one variant id, and only with one family (each family runs its best variant)",
        o.variants.join(","),
      );
    }
    perFamily.set(f, { ...o, variants, force: true });
  }
  return {
    families: families as TextFamily[],
    languages: (languages.length ? languages : [...NUSAX_LANGUAGES]) as NusaxLanguage[],
    perFamily,
    out,
    force: given("force"),
  };
}

/** The sequence families' flags a multi-family table leaves out of bow's options. */
const BOW_IGNORED_FLAGS = ["sequence-length", "embedding-dim", "spatial-dropout", "max-tokens"];

/** `argv` without the value flags `names` (`--name value` or `--name=value`). */
function withoutFlags(argv: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (names.some((n) => a === `--${n}`)) i++;
    else if (!names.some((n) => a.startsWith(`--${n}=`))) out.push(a);
  }
  return out;
}

function valueOf(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return undefined;
}

/** One language × family cell. */
export interface LanguageCell {
  language: NusaxLanguage;
  family: TextFamily;
  variant: string;
  /** Test macro-F1 over the seeds, or the error. */
  mean?: number;
  std?: number;
  seeds?: number;
  /** Engine vs reference on the kept run. */
  agreement?: number;
  maxAbsDiff?: number;
  error?: string;
}

/** The run's results (`results.json`). */
export interface LanguagesResults {
  families: TextFamily[];
  languages: NusaxLanguage[];
  cells: LanguageCell[];
  wallClockSeconds: number;
}

function cellOf(language: NusaxLanguage, family: TextFamily, r: VariantResult): LanguageCell {
  if (r.error) {
    return { language, family, variant: r.id, error: `${r.error.stage}: ${r.error.message}` };
  }
  const mean = r.macroF1Mean ?? r.engine!.macroF1;
  return {
    language,
    family,
    variant: r.id,
    mean,
    std: r.macroF1Std ?? 0,
    seeds: r.runs?.length ?? 1,
    agreement: r.agreement,
    maxAbsDiff: r.maxAbsDiff,
  };
}

/** The table: one row per language, one column per family, the row's best in bold, then wins. */
export function languagesTable(r: LanguagesResults): string {
  const head = `| language | ${r.families.join(" | ")} |`;
  const rule = `| -------- | ${
    r.families.map((f) => "-".repeat(Math.max(3, f.length))).join(" | ")
  } |`;
  const wins = new Map(r.families.map((f) => [f, 0]));
  const rows = r.languages.map((lang) => {
    const cells = r.families.map((f) => r.cells.find((c) => c.language === lang && c.family === f));
    const best = Math.max(...cells.map((c) => c?.mean ?? -Infinity));
    const text = cells.map((c, i) => {
      if (!c) return "–";
      if (c.error) return "failed";
      const v = `${c.mean!.toFixed(3)} ± ${c.std!.toFixed(3)}`;
      if (c.mean === best) {
        wins.set(r.families[i], wins.get(r.families[i])! + 1);
        return `**${v}**`;
      }
      return v;
    });
    return `| ${lang} | ${text.join(" | ")} |`;
  });
  const means = r.families.map((f) => {
    const ok = r.cells.filter((c) => c.family === f && c.mean !== undefined);
    return ok.length ? (ok.reduce((s, c) => s + c.mean!, 0) / ok.length).toFixed(3) : "–";
  });
  return [
    head,
    rule,
    ...rows,
    `| mean over languages | ${means.join(" | ")} |`,
    `| languages won | ${r.families.map((f) => wins.get(f)).join(" | ")} |`,
  ].join("\n");
}

/** `report.md` of a `--language all` run. */
export function languagesReport(r: LanguagesResults, o: LanguagesOptions): string {
  const first = o.perFamily.get(r.families[0])!;
  const checked = r.cells.filter((c) => c.agreement !== undefined);
  const worst = Math.max(0, ...checked.map((c) => c.maxAbsDiff!));
  const failed = r.cells.filter((c) => c.error);
  return [
    "# NusaX-Sentiment: each family's best variant on every language",
    "",
    `Test macro-F1, mean ± std over ${first.repeats} seed${first.repeats === 1 ? "" : "s"} ` +
    `(seeds ${first.seed}…${first.seed + first.repeats - 1}); the best of each row in bold. ` +
    `Variants: ${
      r.families.map((f) => `${f} \`${o.perFamily.get(f)!.variants[0]}\``).join(", ")
    }. ` +
    `Training: Adam lr ${first.learningRate}, batch ${first.batchSize}, ≤ ${first.epochs} epochs, ` +
    `early stopping on ${first.earlyStopping?.monitor ?? "nothing"}, sequence length ` +
    `${first.sequenceLength}${first.quick ? "; a --quick run on small slices" : ""}.`,
    "",
    languagesTable(r),
    "",
    `Engine vs reference (the kept seed's model, first ${
      first.referenceSize ?? "all"
    } test texts): argmax agrees on ${
      checked.filter((c) => c.agreement === 1).length
    } of ${checked.length} models entirely; max |Δp| ${worst.toExponential(1)}.`,
    ...(failed.length
      ? ["", `Failed: ${failed.map((c) => `${c.language}/${c.family} (${c.error})`).join("; ")}.`]
      : []),
    "",
    `Wall-clock ${r.wallClockSeconds.toFixed(0)} s.`,
    "",
  ].join("\n");
}

/** Runs every language × family, writing each family's models under `<out>/<language>/<family>`. */
export async function runLanguages(
  o: LanguagesOptions,
  progress: ExperimentProgress,
): Promise<LanguagesResults> {
  const t0 = performance.now();
  checkOutputDir(o.out, o.force);
  const cells: LanguageCell[] = [];
  const total = o.languages.length * o.families.length;
  let k = 0;
  for (const language of o.languages) {
    for (const family of o.families) {
      const base = o.perFamily.get(family)!;
      const fo: ExperimentOptions = { ...base, language, out: join(o.out, language, family) };
      const variant = familyGrid(family).variants.find((v) => v.id === fo.variants[0]);
      if (!variant) {
        throw new UsageError("--variants", `an id of the ${family} grid`, fo.variants[0]);
      }
      progress.variantStart(k, total, `${language}/${variant.id}`, variant.label);
      // Each family's data: the same texts, vectorized per language (sequence length per family).
      const data = await loadExperimentData(fo, variant);
      let r: VariantResult;
      try {
        r = await runVariant(
          variant,
          data,
          fo,
          (epoch, logs, seed) =>
            progress.epoch(`${language}/${variant.id} seed ${seed}`, epoch, fo.epochs, logs),
        );
      } catch (e) {
        r = {
          id: variant.id,
          label: variant.label,
          hyper: {},
          error: { stage: "run", message: e instanceof Error ? e.message : String(e) },
        };
      }
      const cell = cellOf(language, family, r);
      cells.push(cell);
      progress.variantEnd(
        k++,
        total,
        `${language}/${variant.id}`,
        cell.error
          ? `FAILED: ${cell.error}`
          : `macro-F1 ${cell.mean!.toFixed(4)} ± ${cell.std!.toFixed(4)}`,
      );
    }
  }
  const results: LanguagesResults = {
    families: o.families,
    languages: o.languages,
    cells,
    wallClockSeconds: (performance.now() - t0) / 1000,
  };
  await Deno.mkdir(o.out, { recursive: true });
  await Deno.writeTextFile(join(o.out, "results.json"), JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(join(o.out, "report.md"), languagesReport(results, o));
  return results;
}
