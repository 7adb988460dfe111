import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import {
  classLabels,
  classScores,
  fitSequence,
  formatDims,
  inputKindOf,
  type LayerInfo,
  orderShards,
  PageInputError,
  parseIds,
  parseNumbers,
  pickModelFiles,
  pixelsToSample,
  sampleShape,
  vocabularySizeOf,
} from "./page_logic.ts";

const layer = (className: string, outputShape: (number | null)[], extra = {}): LayerInfo => ({
  className,
  config: {},
  outputShape,
  ...extra,
});

Deno.test("page: the input panel follows the model's first layers", () => {
  const embedding = {
    ...layer("Embedding", [30, 50]),
    config: { input_dim: 2836 },
  };
  assertEquals(inputKindOf([layer("InputLayer", [30], { dtype: "float32" }), embedding]), "ids");
  assertEquals(vocabularySizeOf([layer("InputLayer", [30]), embedding]), 2836);
  assertEquals(inputKindOf([layer("InputLayer", [64], { dtype: "int32" })]), "ids");
  assertEquals(
    inputKindOf([layer("InputLayer", [32, 32, 3]), layer("Conv2D", [30, 30, 16])]),
    "image",
  );
  assertEquals(inputKindOf([layer("InputLayer", [28, 28, 1])]), "image");
  assertEquals(inputKindOf([layer("InputLayer", [null, null, 3])]), "numbers");
  assertEquals(inputKindOf([layer("InputLayer", [8]), layer("Dense", [4])]), "numbers");
  assertEquals(vocabularySizeOf([layer("InputLayer", [8]), layer("Dense", [4])]), undefined);
});

Deno.test("page: typed numbers and ids are parsed or refused with a reason", () => {
  assertEquals(parseNumbers(" 1, 2.5;-3\n4e-1 "), [1, 2.5, -3, 0.4]);
  throws(() => parseNumbers("1 two 3"), /item 2 "two" is not a number/);
  throws(() => parseNumbers("  "), PageInputError);
  assertEquals(parseIds("12 7, 0", 13), [12, 7, 0]);
  throws(() => parseIds("12 13", 13), /item 2 \(13\) is not below the Embedding's input_dim 13/);
  throws(() => parseIds("1.5"), /not a non-negative integer/);
  throws(() => parseIds("-1"), /not a non-negative integer/);
  assertEquals(Array.from(fitSequence([5, 6], 4)), [5, 6, 0, 0]);
  assertEquals(Array.from(fitSequence([5, 6, 7], 2)), [5, 6]);
  assertEquals(Array.from(fitSequence([5, 6, 7], null)), [5, 6, 7]);
});

Deno.test("page: sample shapes fill free dimensions or say what is expected", () => {
  assertEquals(sampleShape([8], 8), [8]);
  assertEquals(sampleShape([null, 3], 12), [4, 3]);
  throws(() => sampleShape([8], 7), /takes 8 values per sample, got 7/);
  throws(() => sampleShape([null, 3], 10), /do not fill whole steps of 3/);
  throws(() => sampleShape([null, null], 4), /2 free dimensions/);
});

Deno.test("page: RGBA pixels become RGB, RGBA or luminance samples", () => {
  const rgba = [255, 0, 0, 255, 0, 255, 0, 128]; // red, half-transparent green (2×1)
  assertEquals(Array.from(pixelsToSample(rgba, 2, 1, 3, 255)), [1, 0, 0, 0, 1, 0]);
  assertEquals(Array.from(pixelsToSample(rgba, 2, 1, 4, 1)), rgba);
  const gray = pixelsToSample(rgba, 2, 1, 1, 1);
  assert(Math.abs(gray[0] - 0.299 * 255) < 1e-4 && Math.abs(gray[1] - 0.587 * 255) < 1e-4);
  throws(() => pixelsToSample(rgba, 3, 1, 3, 1), /expected 3×1 RGBA pixels/);
  throws(() => pixelsToSample(rgba, 2, 1, 2, 1), /1, 3 or 4 channels/);
});

Deno.test("page: outputs read as probabilities, sigmoid or softmax of logits", () => {
  const soft = classScores([0.1, 0.7, 0.2]);
  assertEquals([soft.reading, soft.best], ["probabilities", 1]);
  assertEquals(soft.probabilities, [0.1, 0.7, 0.2]);
  const sigmoid = classScores([0.8]);
  assertEquals(sigmoid.reading, "sigmoid");
  assert(Math.abs(sigmoid.probabilities[0] - 0.2) < 1e-12 && sigmoid.best === 1);
  const logits = classScores([2, -1, 0.5]);
  assertEquals([logits.reading, logits.best], ["softmax of logits", 0]);
  const total = logits.probabilities.reduce((a, b) => a + b, 0);
  assert(Math.abs(total - 1) < 1e-12);
  assert(Math.abs(logits.probabilities[0] / logits.probabilities[1] - Math.exp(3)) < 1e-9);
  throws(() => classScores([]), /no values/);
  assertEquals(classLabels(" neg , pos ", 3), ["neg", "pos", "class 2"]);
});

Deno.test("page: dropped files sort into a model and its TF.js shards", () => {
  const f = (name: string) => ({ name });
  assertEquals(pickModelFiles([f("m.keras")]).format, "keras");
  assertEquals(pickModelFiles([f("m.H5")]).format, "h5");
  const tfjs = pickModelFiles([
    f("group1-shard1of2.bin"),
    f("model.json"),
    f("group1-shard2of2.bin"),
  ]);
  assertEquals([tfjs.format, tfjs.main.name, tfjs.shards.length], ["tfjs", "model.json", 2]);
  throws(() => pickModelFiles([f("a.keras"), f("b.h5")]), /one model at a time/);
  throws(() => pickModelFiles([f("x.bin")]), /no model file/);
  throws(() => pickModelFiles([f("m.keras"), f("notes.txt")]), /not a model file: notes\.txt/);
  throws(() => pickModelFiles([f("m.keras"), f("s.bin")]), /belong to a TF\.js model\.json/);
  const manifest = {
    weightsManifest: [{ paths: ["group1-shard1of2.bin", "group1-shard2of2.bin"] }],
  };
  const ordered = orderShards(manifest, [f("group1-shard2of2.bin"), f("group1-shard1of2.bin")]);
  assertEquals(ordered.map((s) => s.name), ["group1-shard1of2.bin", "group1-shard2of2.bin"]);
  throws(() => orderShards(manifest, [f("group1-shard1of2.bin")]), /group1-shard2of2\.bin/);
  throws(() => orderShards({}, []), /no weightsManifest/);
  assertEquals(formatDims([null, 30]), "(None, None, 30)");
  assertEquals(formatDims([3]), "(None, 3)");
});
