/**
 * The bag-of-words text family (`deno task experiment bow`): the classic Keras baseline of
 * Chollet's *Deep Learning with Python* (2nd ed., ch. 11, "bag-of-words" models). A
 * TextVectorization with `ngrams` and `output_mode` `multi_hot` or `tf_idf` turns each text into
 * one vector of vocabulary size, and a small MLP classifies it:
 *
 *     TextVectorization(max_tokens, ngrams, output_mode) → Dense hidden relu → Dropout → Dense softmax
 *
 * The TextVectorization runs outside the model (as in the other text families: the vectorized
 * texts are the model's input, so the engine and the TF.js reference see the same floats); each
 * trained model's vectorizer is saved beside its `.keras` as `<id>.text_vectorization.json`
 * ({@link vectorizerFile}), from which `TextVectorization.fromConfig` rebuilds it exactly.
 *
 * Unlike the sequence families, the model input depends on the variant (n-gram order, output mode
 * and vocabulary cap change the vectorizer), so the data are vectorized per variant
 * ({@link bowTextSettings}).
 */
import type { KerasObject } from "@scratchnet/engine";
import type { TextVectorization } from "@scratchnet/tokenizer";
import { collect, type Grid, type Variant } from "./grid.ts";
import { dense, layer, sequential } from "./models.ts";

/** The vectorizer's output modes the family studies. */
export type BowOutputMode = "multi_hot" | "tf_idf";

/** A bag-of-words variant: the vectorizer's settings and the MLP's hidden width. */
export interface BowHyper {
  /** Keras `ngrams`: 1 = unigrams; 2 = unigrams and bigrams (Keras's `ngrams=2` is widths 1..2). */
  ngrams: number;
  outputMode: BowOutputMode;
  /** Units of the hidden Dense layer. */
  hidden: number;
  /** TextVectorization `max_tokens` (counting `[UNK]`). */
  maxTokens: number;
}

/** What the MLP's config needs besides the variant. */
export interface BowShape {
  /** Width of the vectorized input: the vectorizer's vocabulary size. */
  inputSize: number;
  classes: number;
  /** Dropout between the hidden layer and the classifier. */
  dropout: number;
}

/** The vectorizer settings of a variant (what `loadTextData` builds its TextVectorization from). */
export interface BowTextSettings {
  ngrams: number;
  outputMode: BowOutputMode;
  maxTokens: number;
}

/** The variant's vectorizer settings. */
export function bowTextSettings(h: BowHyper): BowTextSettings {
  return { ngrams: h.ngrams, outputMode: h.outputMode, maxTokens: h.maxTokens };
}

/** A key equal for variants whose vectorized data are the same. */
export function bowDataKey(s: BowTextSettings): string {
  return `${s.ngrams}/${s.outputMode}/${s.maxTokens}`;
}

/** Input [vocabulary] float32 → Dense `hidden` relu → Dropout → Dense softmax (Chollet's model). */
export function bowConfig(h: BowHyper, s: BowShape, name = "bow_classifier"): KerasObject {
  return sequential(name, [
    layer("InputLayer", {
      name: "input_layer",
      batch_shape: [null, s.inputSize],
      dtype: "float32",
      sparse: false,
    }),
    dense("dense_hidden", h.hidden, "relu"),
    layer("Dropout", { name: "dropout", trainable: true, dtype: "float32", rate: s.dropout }),
    dense("dense_output", s.classes, "softmax"),
  ]);
}

const NGRAM_LABEL: Record<number, string> = { 1: "unigrams", 2: "uni+bigrams" };

/** Id and label of a bag-of-words variant. */
export function bowVariant(h: BowHyper): Variant<BowHyper> {
  return {
    id: `bow_${h.ngrams}gram_${h.outputMode}_h${h.hidden}_t${h.maxTokens}`,
    label: `${
      NGRAM_LABEL[h.ngrams] ?? `1–${h.ngrams}-grams`
    } ${h.outputMode}, max_tokens ${h.maxTokens}, Dense ${h.hidden}`,
    hyper: h,
  };
}

/**
 * The baseline: Chollet's bigram model — `ngrams=2`, `multi_hot`, `max_tokens=20000`, Dense 16
 * relu, Dropout 0.5.
 */
export const BOW_BASELINE: BowHyper = {
  ngrams: 2,
  outputMode: "multi_hot",
  hidden: 16,
  maxTokens: 20000,
};

/**
 * The grid around {@link BOW_BASELINE}, one factor at a time: n-gram order 1 / 2, output mode
 * multi_hot / tf_idf, hidden width 16 / 32 / 64 / 128, max_tokens 5,000 / 10,000 / 20,000.
 */
export function bowGrid(): Grid<BowHyper> {
  const base = BOW_BASELINE;
  return collect([
    {
      name: "ngrams",
      title: "N-gram order (1: unigrams; 2: unigrams and bigrams)",
      entries: [1, 2].map((n) => ({ hyper: { ...base, ngrams: n }, value: String(n) })),
    },
    {
      name: "mode",
      title: "TextVectorization output mode",
      entries: (["multi_hot", "tf_idf"] as const).map((m) => ({
        hyper: { ...base, outputMode: m },
        value: m,
      })),
    },
    {
      name: "hidden",
      title: "Hidden Dense units",
      entries: [16, 32, 64, 128].map((u) => ({
        hyper: { ...base, hidden: u },
        value: String(u),
      })),
    },
    {
      name: "tokens",
      title: "Vocabulary cap (max_tokens)",
      entries: [5000, 10000, 20000].map((t) => ({
        hyper: { ...base, maxTokens: t },
        value: String(t),
      })),
    },
  ], bowVariant);
}

/** `<id>.text_vectorization.json`: everything `TextVectorization.fromConfig` needs. */
export interface VectorizerFile {
  /** Keras `get_config()` of the layer (an adapted vocabulary is not part of it, as in Keras). */
  config: ReturnType<TextVectorization["getConfig"]>;
  /** The vocabulary with its special tokens (index = output column). */
  vocabulary: string[];
  /** `tf_idf`: the idf weight of every column (Keras's `idf_weights` variable), else null. */
  idf_weights: number[] | null;
}

/**
 * The vectorizer as a JSON file: rebuild it with
 * `TextVectorization.fromConfig(f.config, f.vocabulary, { idfWeights: f.idf_weights })`.
 */
export function vectorizerFile(v: TextVectorization): VectorizerFile {
  const idf = v.getIdfWeights();
  return {
    config: v.getConfig(),
    vocabulary: v.getVocabulary(),
    idf_weights: idf ? Array.from(idf) : null,
  };
}
