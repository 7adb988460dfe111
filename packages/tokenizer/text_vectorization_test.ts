import { assert, assertAllClose, assertEquals, assertThrows } from "./test_assert.ts";
import {
  TextVectorization,
  TokenizerConfigError,
  TokenizerError,
  TokenizerInputError,
  TokenizerStateError,
  VocabularyError,
} from "./mod.ts";

const rows = (output: { data: Int32Array | Float32Array; shape: number[] }) => {
  const [batch, width] = output.shape;
  return Array.from(
    { length: batch },
    (_, r) => Array.from(output.data.slice(r * width, (r + 1) * width)),
  );
};

// Cases marked "Keras doc/test" reproduce expected outputs printed in Keras's own
// docstring or text_vectorization_test.py.

Deno.test("adapt then call (Keras doc/test): [[4, 1, 3, 0], [1, 2, 0, 0]]", () => {
  const layer = new TextVectorization({ maxTokens: 5000, outputSequenceLength: 4 });
  layer.adapt(["foo bar", "bar baz", "baz bada boom"]);
  // bar and baz both appear twice: "baz" > "bar" bytewise, so baz comes first.
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]);
  const output = layer.call(["foo qux bar", "qux baz"]);
  assert(output.data instanceof Int32Array);
  assertEquals(output.shape, [2, 4]);
  assertEquals(rows(output), [[4, 1, 3, 0], [1, 2, 0, 0]]);
});

Deno.test("a fixed vocabulary gets the special tokens in front (Keras doc)", () => {
  const layer = new TextVectorization({ vocabulary: ["earth", "wind", "and", "fire"] });
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "earth", "wind", "and", "fire"]);
  assertEquals(layer.getVocabulary(false), ["earth", "wind", "and", "fire"]);
  assertEquals(layer.vocabularySize(), 6);
  const same = new TextVectorization({ vocabulary: ["", "[UNK]", "earth", "wind", "and", "fire"] });
  assertEquals(same.getVocabulary(), layer.getVocabulary());
  const fixed = new TextVectorization({
    outputSequenceLength: 4,
    vocabulary: ["baz", "bar", "foo"],
  });
  assertEquals(rows(fixed.call(["foo qux bar", "qux baz"])), [[4, 1, 3, 0], [1, 2, 0, 0]]);
});

Deno.test("standardization modes on Keras's test sentence (Keras test)", () => {
  const sentence = "Hello, World!. This is just a nice test!";
  const both = new TextVectorization({
    vocabulary: ["hello", "world", "this", "is", "nice", "test"],
  });
  assertEquals(rows(both.call(sentence)), [[2, 3, 4, 5, 1, 1, 6, 7]]);
  const lower = new TextVectorization({
    standardize: "lower",
    vocabulary: ["hello,", "hello", "world", "this", "is", "nice", "test"],
  });
  assertEquals(rows(lower.call(sentence)), [[2, 1, 5, 6, 1, 1, 7, 1]]);
  const strip = new TextVectorization({
    standardize: "strip_punctuation",
    vocabulary: ["Hello", "World", "Test"],
  });
  assertEquals(rows(strip.call("Hello, World! Test.")), [[2, 3, 4]]);
  const none = new TextVectorization({ standardize: null, vocabulary: ["Hello", "world"] });
  assertEquals(rows(none.call("Hello hello")), [[2, 1]]);
});

Deno.test("non-ASCII capitals, Unicode spaces and emoji survive standardization", () => {
  const layer = new TextVectorization();
  assertEquals(layer.tokenize("ÉCOLE école"), ["École", "école"]);
  assertEquals(layer.tokenize("a\u00a0b  c"), ["a\u00a0b", "c"]);
  assertEquals(layer.tokenize("I ❤️ 🍕!!! 👍🏽."), ["i", "❤️", "🍕", "👍🏽"]);
  layer.adapt(["Émile ÉMILE émile", "🍕 🍕 pizza"]);
  // "ÉMILE" becomes "Émile", not "émile": lowering is ASCII-only. Ties: 🍕 (F0…) before
  // Émile (C3 89…); émile (C3 A9…) before pizza (70…).
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "🍕", "Émile", "émile", "pizza"]);
  assertEquals(layer.tokenize("ÉMILE"), ["Émile"]);
});

Deno.test("tie order compares UTF-8 bytes, not UTF-16 code units", () => {
  const layer = new TextVectorization();
  layer.adapt(["z é 😀 Ａ b b"]);
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "b", "😀", "Ａ", "é", "z"]);
});

Deno.test("max_tokens counts the special tokens and cuts after sorting", () => {
  const text = ["a a a b b c d"];
  const int = new TextVectorization({ maxTokens: 4 });
  int.adapt(text);
  assertEquals(int.getVocabulary(), ["", "[UNK]", "a", "b"]);
  const multiHot = new TextVectorization({ maxTokens: 4, outputMode: "multi_hot" });
  multiHot.adapt(text);
  // Outside int mode only [UNK] is special; c and d tie and d wins bytewise.
  assertEquals(multiHot.getVocabulary(), ["[UNK]", "a", "b", "d"]);
  const letters = new TextVectorization({ maxTokens: 5 });
  letters.adapt(["a b c d e f g h i j"]);
  assertEquals(letters.getVocabulary().length, 5);
  assertThrows(
    () => new TextVectorization({ maxTokens: 3, vocabulary: ["a", "b"] }),
    VocabularyError,
    "more than max_tokens 3",
  );
});

Deno.test("adapt drops literal [UNK] and empty tokens from the counts", () => {
  const layer = new TextVectorization({ standardize: null });
  layer.adapt(["[UNK] x [UNK] [UNK] y y"]);
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "y", "x"]);
  assertEquals(rows(layer.call("[UNK] y")), [[1, 2]]);
  const whole = new TextVectorization({ split: null, outputMode: "count" });
  whole.adapt(["", "a", "a", ""]);
  assertEquals(whole.getVocabulary(), ["[UNK]", "a"]);
});

Deno.test("ngrams: widths in the order given, joined by one space, no padding", () => {
  const two = new TextVectorization({ ngrams: 2 });
  assertEquals(two.tokenize("a b c"), ["a", "b", "c", "a b", "b c"]);
  const custom = new TextVectorization({ ngrams: [3, 1] });
  assertEquals(custom.tokenize("A, b! c"), ["a b c", "a", "b", "c"]);
  const three = new TextVectorization({ ngrams: 3 });
  assertEquals(three.tokenize("a b"), ["a", "b", "a b"]);
  const chars = new TextVectorization({ ngrams: 2, split: "character" });
  assertEquals(chars.tokenize("ab"), ["a", "b", "a b"]);

  // Keras test: (1, 3) learns unigrams and trigrams, no bigrams.
  const oneThree = new TextVectorization({ ngrams: [1, 3] });
  oneThree.adapt(["foo bar baz"]);
  const vocabulary = oneThree.getVocabulary();
  assert(vocabulary.includes("foo") && vocabulary.includes("foo bar baz"));
  assert(!vocabulary.includes("foo bar"));

  const bigrams = new TextVectorization({ ngrams: 2, outputSequenceLength: 6 });
  bigrams.adapt(["x y", "x y", "y x"]);
  assertEquals(bigrams.getVocabulary(), ["", "[UNK]", "y", "x", "x y", "y x"]);
  assertEquals(rows(bigrams.call("x y x")), [[3, 2, 3, 4, 5, 0]]);
});

Deno.test("int output: pad at the end, truncate at the end, or pad to the longest row", () => {
  const vocabulary = ["a", "b", "c"];
  const short = new TextVectorization({ vocabulary, outputSequenceLength: 2 });
  assertEquals(rows(short.call(["a b c", "c", ""])), [[2, 3], [4, 0], [0, 0]]);
  const free = new TextVectorization({ vocabulary });
  const output = free.call(["a", "c b a x", ""]);
  assertEquals(output.shape, [3, 4]);
  assertEquals(rows(output), [[2, 0, 0, 0], [4, 3, 2, 1], [0, 0, 0, 0]]);
  assertEquals(free.call([]).shape, [0, 0]);
  assertEquals(free.call(["", " "]).shape, [2, 0]);
  const many = free.call(Array.from({ length: 3000 }, (_, i) => "a ".repeat(i % 7)));
  assertEquals(many.shape, [3000, 6]);
  assertEquals(rows(many)[6], [2, 2, 2, 2, 2, 2]);
});

Deno.test("multi_hot and count (Keras test), OOV in column 0", () => {
  const multiHot = new TextVectorization({
    outputMode: "multi_hot",
    vocabulary: ["foo", "bar", "baz"],
  });
  assertEquals(multiHot.getVocabulary(), ["[UNK]", "foo", "bar", "baz"]);
  const m = multiHot.call(["foo bar", "baz foo foo", "qux quux"]);
  assert(m.data instanceof Float32Array);
  assertEquals(rows(m), [[0, 1, 1, 0], [0, 1, 0, 1], [1, 0, 0, 0]]);
  const count = new TextVectorization({ outputMode: "count", vocabulary: ["foo", "bar", "baz"] });
  assertEquals(rows(count.call(["foo bar", "baz foo foo", "qux quux foo"])), [
    [0, 1, 1, 0],
    [0, 2, 0, 1],
    [2, 1, 0, 0],
  ]);
  const binary = new TextVectorization({ outputMode: "binary", vocabulary: ["foo"] });
  assertEquals(binary.outputMode, "multi_hot");
});

Deno.test("pad_to_max_tokens widens bag outputs to max_tokens", () => {
  const layer = new TextVectorization({
    outputMode: "multi_hot",
    vocabulary: ["foo", "bar"],
    maxTokens: 8,
    padToMaxTokens: true,
  });
  const output = layer.call("foo bar zap");
  assertEquals(output.shape, [1, 8]);
  assertEquals(rows(output), [[1, 1, 1, 0, 0, 0, 0, 0]]);
  const int = new TextVectorization({ maxTokens: 8, padToMaxTokens: true, vocabulary: ["a"] });
  assertEquals(int.call("a").shape, [1, 1], "int mode ignores pad_to_max_tokens");
});

Deno.test("tf_idf with given weights (Keras test) and OOV weight = their mean", () => {
  const layer = new TextVectorization({
    outputMode: "tf_idf",
    vocabulary: ["foo", "bar", "baz"],
    idfWeights: [0.3, 0.5, 0.2],
  });
  const output = layer.call(["foo bar", "baz foo foo", "qux foo"]);
  assertAllClose(output.data, [0, 0.3, 0.5, 0, 0, 0.6, 0, 0.2, 1 / 3, 0.3, 0, 0]);
  const withSpecial = new TextVectorization({
    outputMode: "tf-idf",
    vocabulary: ["[UNK]", "foo"],
    idfWeights: [2, 0.5],
  });
  assertAllClose(withSpecial.call("x foo foo").data, [2, 1]);
});

Deno.test("tf_idf adapt: idf = log(1 + documents / (1 + document frequency))", () => {
  const layer = new TextVectorization({ outputMode: "tf_idf", maxTokens: 100 });
  layer.adapt(["foo bar", "bar baz", "baz bada boom"]);
  assertEquals(layer.getVocabulary(), ["[UNK]", "baz", "bar", "foo", "boom", "bada"]);
  const common = Math.log(1 + 3 / 3);
  const rare = Math.log(1 + 3 / 2);
  const oov = (2 * common + 3 * rare) / 5;
  assertAllClose(layer.getIdfWeights()!, [oov, common, common, rare, rare, rare]);
  // Document frequency counts a token once per text, however often it repeats.
  const repeated = new TextVectorization({ outputMode: "tf_idf" });
  repeated.adapt(["a a a a", "b"]);
  assertAllClose(repeated.getIdfWeights()!.subarray(1), [Math.log(2), Math.log(2)]);
  const output = layer.call(["foo foo qux", "baz"]);
  assertAllClose(output.data, [oov, 0, 0, 2 * rare, 0, 0, 0, common, 0, 0, 0, 0]);
  assertEquals(output.shape, [2, 6]);
  const padded = new TextVectorization({
    outputMode: "tf_idf",
    maxTokens: 8,
    padToMaxTokens: true,
  });
  padded.adapt(["foo bar", "bar baz", "baz bada boom"]);
  assertEquals(padded.call("foo").shape, [1, 8]);
  assertAllClose(padded.getIdfWeights()!.subarray(6), [0, 0]);
  assertThrows(
    () => new TextVectorization({ outputMode: "tf_idf" }).adapt([" ", "!"]),
    TokenizerInputError,
  );
});

Deno.test("tf_idf with bigrams and a max_tokens cut: the OOV weight is the kept tokens' mean", () => {
  // Keras IndexLookup.finalize_state: sort by count (ties: bytes descending), cut to max_tokens,
  // idf = log(1 + documents / (1 + document frequency)) of the kept tokens, and the OOV column's
  // weight is their mean (the cut tokens' idf does not enter it).
  const layer = new TextVectorization({ outputMode: "tf_idf", ngrams: 2, maxTokens: 4 });
  layer.adapt(["a b a", "b c", "a b"]);
  // Counts: a 3, b 3, "a b" 2, then c / "b c" / "b a" 1 each (cut).
  assertEquals(layer.getVocabulary(), ["[UNK]", "b", "a", "a b"]);
  const b = Math.log(1 + 3 / 4), a = Math.log(1 + 3 / 3), ab = Math.log(1 + 3 / 3);
  const oov = (b + a + ab) / 3;
  assertAllClose(layer.getIdfWeights()!, [oov, b, a, ab]);
  // "a b c a": a ×2, b, "a b"; c, "b c", "c a" are out of vocabulary (3 in column 0).
  assertAllClose(layer.call("a b c a").data, [3 * oov, b, 2 * a, ab]);
  const multiHot = new TextVectorization({ outputMode: "multi_hot", ngrams: 2, maxTokens: 4 });
  multiHot.adapt(["a b a", "b c", "a b"]);
  assertEquals(multiHot.getVocabulary(), layer.getVocabulary());
  assertEquals(rows(multiHot.call(["a b c a", "b"])), [[1, 1, 1, 1], [0, 1, 0, 0]]);
});

Deno.test("split null: each text is one token; empty text is the mask (int) or dropped", () => {
  const int = new TextVectorization({ split: null, vocabulary: ["foo", "bar", "baz"] });
  assertEquals(rows(int.call(["foo", "bar", "unknown", ""])), [[2], [3], [1], [0]]);
  const fixed = new TextVectorization({
    split: null,
    vocabulary: ["foo"],
    outputSequenceLength: 3,
  });
  assertEquals(rows(fixed.call(["Foo!"])), [[2, 0, 0]]);
  const bag = new TextVectorization({ split: null, outputMode: "count", vocabulary: ["foo"] });
  assertEquals(rows(bag.call(["", "foo", "x"])), [[0, 0], [0, 1], [1, 0]]);
});

Deno.test("character split and custom functions (Keras tests)", () => {
  const chars = new TextVectorization({ split: "character", vocabulary: [..."abcde"] });
  assertEquals(rows(chars.call("abcf")), [[2, 3, 4, 1]]);
  const emoji = new TextVectorization({ split: "character" });
  emoji.adapt(["a😀a"]);
  assertEquals(emoji.getVocabulary(), ["", "[UNK]", "a", "😀"]);

  const customSplit = new TextVectorization({
    split: (text) => text.split("|"),
    vocabulary: ["foo", "bar", "foobar"],
  });
  // The default standardization strips "|" before the custom split sees it.
  assertEquals(rows(customSplit.call("foo|bar")), [[4]]);
  const customStandardize = new TextVectorization({
    standardize: (text) => text.replaceAll("-", " "),
    vocabulary: ["foo", "bar"],
  });
  assertEquals(rows(customStandardize.call("foo-bar")), [[2, 3]]);
  const bad = new TextVectorization({
    split: (() => "not an array") as unknown as (text: string) => string[],
    vocabulary: ["a"],
  });
  assertThrows(() => bad.call("a"), TokenizerError, "split function returned");
});

Deno.test("getConfig / fromConfig round trip, JSON-safe, Keras field names", () => {
  const layer = new TextVectorization({
    maxTokens: 50,
    ngrams: [1, 2],
    outputSequenceLength: 7,
    name: "tv",
  });
  layer.adapt(["the cat sat", "the dog sat down", "a cat"]);
  const config = JSON.parse(JSON.stringify(layer.getConfig()));
  assertEquals(config.max_tokens, 50);
  assertEquals(config.ngrams, [1, 2]);
  assertEquals(config.output_mode, "int");
  assertEquals(config.standardize, "lower_and_strip_punctuation");
  assertEquals(config.vocabulary, null, "an adapted vocabulary is an asset, not config");
  assertEquals(config.vocabulary_size, layer.vocabularySize());
  const copy = TextVectorization.fromConfig(config, layer.getVocabulary());
  const texts = ["The cat sat down!", "unknown words here"];
  assertEquals(copy.call(texts), layer.call(texts));
  assertEquals(copy.name, "tv");
  // A whole layer entry works too, and an input vocabulary stays in the config.
  const fixed = new TextVectorization({ vocabulary: ["one", "two"], outputSequenceLength: 5 });
  const entry = { class_name: "TextVectorization", config: fixed.getConfig() };
  const rebuilt = TextVectorization.fromConfig(entry);
  assertEquals(rebuilt.getVocabulary(), ["", "[UNK]", "one", "two"]);
  const withBoth = TextVectorization.fromConfig(entry, fixed.getVocabulary());
  assertEquals(withBoth.getVocabulary(), ["", "[UNK]", "one", "two"]);
  assertThrows(
    () => TextVectorization.fromConfig(entry, ["one", "three"]),
    VocabularyError,
    "different",
  );
  assertThrows(() => rebuilt.adapt(["x"]), TokenizerStateError, "fixed vocabulary");
});

Deno.test("fromConfig: custom functions, tf_idf weights and refusals", () => {
  const base = {
    name: "t",
    max_tokens: null,
    standardize: {
      module: "builtins",
      class_name: "function",
      config: "dash_to_space",
      registered_name: "my>dash_to_space",
    },
    split: "whitespace",
    ngrams: null,
    output_mode: "int",
    output_sequence_length: null,
    pad_to_max_tokens: false,
    sparse: false,
    ragged: false,
    vocabulary: null,
    idf_weights: null,
    encoding: "utf-8",
    vocabulary_size: 4,
  };
  const dashToSpace = (text: string) => text.replaceAll("-", " ");
  const layer = TextVectorization.fromConfig(base, ["", "[UNK]", "foo", "bar"], {
    customFunctions: { "my>dash_to_space": dashToSpace },
  });
  assertEquals(rows(layer.call("foo-bar")), [[2, 3]]);
  assertThrows(
    () => TextVectorization.fromConfig(base, ["", "[UNK]", "foo", "bar"]),
    TokenizerConfigError,
    "customFunctions",
  );
  const plain = { ...base, standardize: "lower_and_strip_punctuation" };
  assertThrows(
    () => TextVectorization.fromConfig({ ...plain, ragged: true }),
    TokenizerConfigError,
    "ragged",
  );
  assertThrows(
    () => TextVectorization.fromConfig({ ...plain, encoding: "latin-1" }),
    TokenizerConfigError,
    "encoding",
  );
  assertThrows(
    () => TextVectorization.fromConfig({ ...plain, shiny_new_option: 1 }),
    TokenizerConfigError,
    "shiny_new_option",
  );
  assertThrows(
    () => TextVectorization.fromConfig({ class_name: "Dense", config: { units: 3 } }),
    TokenizerConfigError,
    "TextVectorization",
  );
  assertThrows(
    () => TextVectorization.fromConfig({ ...plain, output_mode: "one_hot" }),
    TokenizerConfigError,
    "one_hot",
  );
  // sparse=true is accepted: the dense values are the same.
  const sparse = TextVectorization.fromConfig(
    { ...plain, output_mode: "multi_hot", sparse: true, vocabulary_size: 2 },
    ["[UNK]", "foo"],
  );
  assertEquals(rows(sparse.call("foo")), [[0, 1]]);
  // tf_idf weights saved padded to max_tokens (weights file) are accepted.
  const tfIdf = TextVectorization.fromConfig(
    {
      ...plain,
      output_mode: "tf_idf",
      max_tokens: 5,
      pad_to_max_tokens: true,
      vocabulary_size: 3,
    },
    ["[UNK]", "foo", "bar"],
    { idfWeights: [0.5, 1.5, 2.5, 0, 0] },
  );
  assertAllClose(tfIdf.call("bar bar x").data, [0.5, 0, 5, 0, 0]);
});

Deno.test("fromVocabularyText: one token per line, with or without special tokens (Keras test)", () => {
  const plain = TextVectorization.fromVocabularyText("foo\nbar\nbaz\n");
  assertEquals(rows(plain.call("foo bar baz unknown")), [[2, 3, 4, 1]]);
  const asset = TextVectorization.fromVocabularyText("\r\n[UNK]\r\nfoo\r\nbar\r\nbaz");
  assertEquals(rows(asset.call("foo bar baz unknown")), [[2, 3, 4, 1]]);
  assertThrows(() => asset.adapt(["x"]), TokenizerStateError);
  const bag = TextVectorization.fromVocabularyText("[UNK]\nfoo\n", { outputMode: "count" });
  assertEquals(rows(bag.call("foo foo x")), [[1, 2]]);
});

Deno.test("bad options are refused with the field name", () => {
  const cases: [() => unknown, string][] = [
    [() => new TextVectorization({ maxTokens: 1 }), "max_tokens"],
    [() => new TextVectorization({ maxTokens: 2.5 }), "max_tokens"],
    [() => new TextVectorization({ standardize: "upper" as "lower" }), "standardize"],
    [() => new TextVectorization({ split: "comma" as "whitespace" }), "split"],
    [() => new TextVectorization({ outputMode: "one_hot" as "int" }), "output_mode"],
    [() => new TextVectorization({ outputMode: "ints" as "int" }), "output_mode"],
    [() => new TextVectorization({ ngrams: 0 }), "ngrams"],
    [() => new TextVectorization({ ngrams: [] }), "ngrams"],
    [() => new TextVectorization({ ngrams: [1, -2] }), "ngrams"],
    [() => new TextVectorization({ ngrams: "2" as unknown as number }), "ngrams"],
    [
      () => new TextVectorization({ outputMode: "multi_hot", outputSequenceLength: 5 }),
      "output_sequence_length",
    ],
    [() => new TextVectorization({ outputSequenceLength: 0 }), "output_sequence_length"],
    [() => new TextVectorization({ padToMaxTokens: true }), "max_tokens"],
    [() => new TextVectorization({ idfWeights: [1] }), "idf_weights"],
    [() => new TextVectorization({ outputMode: "tf_idf", vocabulary: ["a"] }), "idf_weights"],
  ];
  for (const [make, field] of cases) {
    const error = assertThrows(make, TokenizerConfigError, `\`${field}\``);
    assert(error instanceof TokenizerError);
  }
});

Deno.test("bad vocabularies, states and inputs are typed errors", () => {
  assertThrows(() => new TextVectorization({ vocabulary: [] }), VocabularyError, "empty");
  assertThrows(
    () => new TextVectorization({ vocabulary: ["a", "b", "a"] }),
    VocabularyError,
    "repeats",
  );
  assertThrows(
    () => new TextVectorization({ vocabulary: ["a", "", "b"] }),
    VocabularyError,
    "mask token",
  );
  assertThrows(
    () => new TextVectorization({ vocabulary: ["a", 3 as unknown as string] }),
    VocabularyError,
    "entry 1",
  );
  assertThrows(
    () => new TextVectorization({ outputMode: "tf_idf", vocabulary: ["a", "b"], idfWeights: [1] }),
    VocabularyError,
    "1 idf weights for a vocabulary of 2",
  );
  const unadapted = new TextVectorization();
  assertEquals(unadapted.getVocabulary(), ["", "[UNK]"]);
  assertThrows(() => unadapted.call("x"), TokenizerStateError, "adapt");
  assertThrows(() => unadapted.adapt([1 as unknown as string]), TokenizerInputError, "text 0");
  assertThrows(() => unadapted.adapt(42 as unknown as string[]), TokenizerInputError);
  const ready = new TextVectorization({ vocabulary: ["a"] });
  assertThrows(() => ready.call(["a", null as unknown as string]), TokenizerInputError, "text 1");
  assertThrows(() => ready.call({} as unknown as string[]), TokenizerInputError);
});

Deno.test("adapt replaces the previous vocabulary and accepts any iterable", () => {
  const layer = new TextVectorization();
  layer.adapt(["one two two"]);
  function* texts() {
    yield "three";
    yield "three four";
  }
  layer.adapt(texts());
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "three", "four"]);
  layer.adapt("single text");
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "text", "single"]);
});

Deno.test("lone surrogates are replaced by U+FFFD, as UTF-8 encoding would", () => {
  const layer = new TextVectorization();
  layer.adapt(["a\ud800b"]);
  assertEquals(layer.getVocabulary(), ["", "[UNK]", "a\ufffdb"]);
});
