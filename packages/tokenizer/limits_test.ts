/**
 * Hostile configs (e.g. from a `.keras` file) cannot make the layer allocate without bound:
 * padded widths are not materialised at load time, `call` refuses outputs beyond
 * `MAX_OUTPUT_ELEMENTS`, n-gram widths are capped and error messages stay short.
 */
import {
  MAX_NGRAM_WIDTH,
  MAX_OUTPUT_ELEMENTS,
  TextVectorization,
  TokenizerConfigError,
  TokenizerInputError,
} from "./mod.ts";
import { assert, assertEquals } from "./test_assert.ts";

function throwsA<E extends Error>(
  fn: () => unknown,
  type: new (...args: never[]) => E,
  ...parts: string[]
): E {
  try {
    fn();
  } catch (e) {
    assert(e instanceof type, `expected ${type.name}, got ${e}`);
    for (const p of parts) assert(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return e as E;
  }
  throw new Error(`expected ${type.name}, nothing was thrown`);
}

Deno.test("a padded tf_idf config with a huge max_tokens loads, and call refuses its output", () => {
  const layer = TextVectorization.fromConfig({
    max_tokens: 1_000_000_000,
    output_mode: "tf_idf",
    pad_to_max_tokens: true,
    vocabulary: ["enak", "buruk"],
    idf_weights: [0.5, 1.5],
  });
  assertEquals(layer.vocabularySize(), 3);
  throwsA(() => layer.call(["enak"]), TokenizerInputError, "1000000000", "max_tokens");
  // Padding is still Keras's: a modest width gives zero idf weights past the vocabulary.
  const small = TextVectorization.fromConfig({
    max_tokens: 6,
    output_mode: "tf_idf",
    pad_to_max_tokens: true,
    vocabulary: ["enak", "buruk"],
    idf_weights: [0.5, 1.5],
  });
  assertEquals(Array.from(small.getIdfWeights()!), [1, 0.5, 1.5, 0, 0, 0]);
  assertEquals(Array.from(small.call(["enak enak x"]).data), [1, 1, 0, 0, 0, 0]);
});

Deno.test("output_sequence_length times the batch beyond MAX_OUTPUT_ELEMENTS is refused", () => {
  const layer = new TextVectorization({
    vocabulary: ["a", "b"],
    outputSequenceLength: MAX_OUTPUT_ELEMENTS / 2,
  });
  throwsA(() => layer.call(["a", "b", "a"]), TokenizerInputError, "output_sequence_length");
  const fine = new TextVectorization({ vocabulary: ["a", "b"], outputSequenceLength: 3 });
  assertEquals(Array.from(fine.call(["a b", "b"]).data), [2, 3, 0, 3, 0, 0]);
});

Deno.test("ngrams wider than MAX_NGRAM_WIDTH are a config error", () => {
  for (const ngrams of [1.2e29, MAX_NGRAM_WIDTH + 1, [1, 2, MAX_NGRAM_WIDTH + 1]]) {
    throwsA(
      () => TextVectorization.fromConfig({ ngrams, vocabulary: ["a"] }),
      TokenizerConfigError,
      "ngrams",
      `${MAX_NGRAM_WIDTH}`,
    );
  }
  const wide = new TextVectorization({ ngrams: MAX_NGRAM_WIDTH, vocabulary: ["a"] });
  assertEquals(wide.tokenize("a b").length, 3);
});

Deno.test("deeply nested or huge config values give short messages, not stack overflows", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const e = throwsA(
    () => TextVectorization.fromConfig({ vocabulary_size: deep }),
    TokenizerConfigError,
    "vocabulary_size",
  );
  assert(e.message.length < 600, `message of ${e.message.length} characters`);
  const long = throwsA(
    () => TextVectorization.fromConfig({ output_mode: "x".repeat(1_000_000) }),
    TokenizerConfigError,
    "output_mode",
  );
  assert(long.message.length < 600, `message of ${long.message.length} characters`);
});
