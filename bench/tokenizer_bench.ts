/**
 * Tokens per second of `TextVectorization.adapt` and `.call` on NusaX-Sentiment
 * Indonesian train texts (repeated to make enough work).
 *
 * Run: `deno bench -A bench/tokenizer_bench.ts`. Besides `deno bench`'s table, it
 * prints a tokens/s summary measured with `performance.now()`.
 */
import Papa from "papaparse";
import { TextVectorization } from "../packages/tokenizer/mod.ts";

const NUSAX_TRAIN = new URL(
  "../../shared/data/nusax-sentiment/indonesian/train.csv",
  import.meta.url,
);
const REPEATS = 40;

const parsed = Papa.parse<{ text: string }>(Deno.readTextFileSync(NUSAX_TRAIN), {
  header: true,
  skipEmptyLines: true,
});
// Repeat with a suffix on every copy so `call` still sees realistic, partly unknown words.
const texts: string[] = [];
for (let r = 0; r < REPEATS; r++) {
  for (const row of parsed.data) texts.push(r === 0 ? row.text : `${row.text} Kata${r}`);
}

const int = new TextVectorization({ maxTokens: 20000, outputSequenceLength: 64 });
int.adapt(texts);
const count = new TextVectorization({ maxTokens: 20000, outputMode: "count" });
count.adapt(texts);
const tokens = texts.reduce((sum, text) => sum + int.tokenize(text).length, 0);

function tokensPerSecond(run: () => unknown, rounds = 5): number {
  run(); // warm up
  let best = Infinity;
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  return tokens / (best / 1000);
}

const fresh = () => new TextVectorization({ maxTokens: 20000, outputSequenceLength: 64 });
// Bag outputs are batch × vocabulary floats, so they are called in model-sized batches.
const BATCH = 256;
const callInBatches = (layer: TextVectorization) => {
  for (let start = 0; start < texts.length; start += BATCH) {
    layer.call(texts.slice(start, start + BATCH));
  }
};

const summary = {
  texts: texts.length,
  tokens,
  "adapt tokens/s": tokensPerSecond(() => fresh().adapt(texts)),
  "call int tokens/s": tokensPerSecond(() => int.call(texts)),
  "call count (batches of 256) tokens/s": tokensPerSecond(() => callInBatches(count)),
};
console.log(
  Object.entries(summary)
    .map(([key, value]) => `${key}: ${Math.round(value).toLocaleString("en-US")}`)
    .join("\n"),
);

Deno.bench({
  name: `adapt on ${texts.length} NusaX texts (${tokens} tokens)`,
  group: "tokenizer",
  fn() {
    fresh().adapt(texts);
  },
});

Deno.bench({
  name: `call (int, length 64) on ${texts.length} NusaX texts (${tokens} tokens)`,
  group: "tokenizer",
  fn() {
    int.call(texts);
  },
});

Deno.bench({
  name: `call (count, batches of ${BATCH}) on ${texts.length} NusaX texts (${tokens} tokens)`,
  group: "tokenizer",
  fn() {
    callInBatches(count);
  },
});
