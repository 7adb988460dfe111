// The real Keras 3.10 vectorizer (adapted on NusaX-Sentiment Indonesian train) is the oracle.
import { assert, assertEquals, assertThrows } from "./test_assert.ts";
import { unzipSync } from "fflate";
import Papa from "papaparse";
import { loadVocabularyFile, TextVectorization, VocabularyError } from "./mod.ts";

const SHARED = new URL("../../../shared/", import.meta.url);
const VECTORIZER_FILE = new URL("keras-samples/vectorizer.keras", SHARED);
const NUSAX_TRAIN = new URL("data/nusax-sentiment/indonesian/train.csv", SHARED);

interface KerasArchive {
  layerConfig: Record<string, unknown>;
  vocabularyBytes: Uint8Array;
}

function readVectorizerArchive(): KerasArchive {
  const entries = unzipSync(Deno.readFileSync(VECTORIZER_FILE));
  const config = JSON.parse(new TextDecoder().decode(entries["config.json"]));
  const layer = config.config.layers.find(
    (entry: { class_name: string }) => entry.class_name === "TextVectorization",
  );
  assert(layer !== undefined, "vectorizer.keras has a TextVectorization layer");
  const vocabularyBytes = entries["assets/layers/text_vectorization/vocabulary.txt"];
  assert(vocabularyBytes !== undefined, "vectorizer.keras has a vocabulary asset");
  return { layerConfig: layer.config, vocabularyBytes };
}

function readNusaxTexts(): string[] {
  const parsed = Papa.parse<{ id: string; text: string; label: string }>(
    Deno.readTextFileSync(NUSAX_TRAIN),
    { header: true, skipEmptyLines: true },
  );
  assertEquals(parsed.errors, []);
  return parsed.data.map((row) => row.text);
}

Deno.test("vectorizer.keras: the asset is CRLF and starts with the special tokens", () => {
  const { vocabularyBytes, layerConfig } = readVectorizerArchive();
  const raw = new TextDecoder().decode(vocabularyBytes);
  assert(raw.startsWith("\r\n[UNK]\r\n"), "written on Windows: CRLF line ends");
  const vocabulary = loadVocabularyFile(vocabularyBytes, "vectorizer.keras vocabulary");
  assertEquals(vocabulary.length, layerConfig.vocabulary_size);
  assertEquals(vocabulary.slice(0, 5), ["", "[UNK]", "yang", "di", "dan"]);
  assert(vocabulary.every((token) => !token.includes("\r")), "no carriage return left");
});

Deno.test("vectorizer.keras: adapt on NusaX Indonesian train reproduces Keras's vocabulary", () => {
  const { layerConfig, vocabularyBytes } = readVectorizerArchive();
  const kerasVocabulary = loadVocabularyFile(vocabularyBytes);
  const texts = readNusaxTexts();
  assertEquals(texts.length, 500);

  const fresh = TextVectorization.fromConfig(layerConfig);
  assertEquals(fresh.maxTokens, 20000);
  assertEquals(fresh.outputSequenceLength, 64);
  fresh.adapt(texts);
  const adapted = fresh.getVocabulary();
  assertEquals(adapted.length, kerasVocabulary.length);
  const firstDifference = adapted.findIndex((token, i) => token !== kerasVocabulary[i]);
  assertEquals(firstDifference, -1, `first difference at index ${firstDifference}`);
  assertEquals(fresh.vocabularySize(), 2836);
});

Deno.test("vectorizer.keras: the loaded layer pads and truncates to 64 like Keras", () => {
  const { layerConfig, vocabularyBytes } = readVectorizerArchive();
  const layer = TextVectorization.fromConfig(layerConfig, loadVocabularyFile(vocabularyBytes));
  const vocabulary = layer.getVocabulary();
  const id = (token: string) => vocabulary.indexOf(token);

  const texts = [
    "Yang di dan!",
    "",
    "kata-kata asing zzqxj",
    Array.from({ length: 70 }, (_, i) => (i % 2 === 0 ? "yang" : "dan")).join(" "),
  ];
  const { data, shape } = layer.call(texts);
  assert(data instanceof Int32Array);
  assertEquals(shape, [4, 64]);
  const row = (r: number) => Array.from(data.subarray(r * 64, (r + 1) * 64));
  assertEquals(row(0).slice(0, 4), [id("yang"), id("di"), id("dan"), 0]);
  assertEquals(row(0).slice(3), new Array(61).fill(0));
  assertEquals(row(1), new Array(64).fill(0));
  // "kata-kata" loses its hyphen → "katakata"; "zzqxj" is out of vocabulary → 1.
  assert(id("katakata") > 1 && id("asing") > 1 && id("zzqxj") === -1);
  assertEquals(row(2).slice(0, 4), [id("katakata"), id("asing"), 1, 0]);
  assertEquals(row(3), Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? 2 : 4)));
  assertEquals([id("yang"), id("dan")], [2, 4]);
});

Deno.test("vectorizer.keras: a vocabulary that does not match vocabulary_size is refused", () => {
  const { layerConfig, vocabularyBytes } = readVectorizerArchive();
  const vocabulary = loadVocabularyFile(vocabularyBytes).slice(0, 100);
  assertThrows(
    () => TextVectorization.fromConfig(layerConfig, vocabulary),
    VocabularyError,
    "vocabulary_size 2836",
  );
});
