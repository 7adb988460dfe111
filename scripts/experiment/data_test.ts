import assert from "node:assert/strict";
import { join } from "node:path";
import { encode as encodePng } from "@cwasm/lodepng";
import { CIFAR10_LABEL_NAMES } from "@scratchnet/datasets";
import { type LabelledSplit, loadImageData, loadTextData, QUICK_SIZES } from "./data.ts";

/** A 32×32 PNG whose red channel is `label · 20` and green channel `index`. */
function png(label: number, index: number): Uint8Array {
  const data = new Uint8Array(32 * 32 * 4);
  for (let p = 0; p < 1024; p++) data.set([label * 20, index, 7, 255], p * 4);
  return encodePng({ width: 32, height: 32, data });
}

/** Labels of a split, after checking each image's red channel encodes its label. */
function checkedLabels(split: LabelledSplit): number[] {
  const per = 32 * 32 * 3;
  return Array.from(split.y, (label, i) => {
    assert.equal(Math.round(split.x.data[i * per] * 255), label * 20, `sample ${i}`);
    return label;
  });
}

const sorted = (a: number[]) => [...a].sort((x, y) => x - y);

Deno.test("cifar10 from the class-folder layout: prefixes are not one class", async () => {
  const dir = await Deno.makeTempDir({ prefix: "experiment_data_test_" });
  try {
    const perClass = { train: 5, test: 3 };
    for (const [label, name] of CIFAR10_LABEL_NAMES.entries()) {
      for (const split of ["train", "test"] as const) {
        const folder = join(dir, "cifar-10-jpeg", split, name);
        await Deno.mkdir(folder, { recursive: true });
        for (let i = 0; i < perClass[split]; i++) {
          await Deno.writeFile(join(folder, `${String(i).padStart(4, "0")}.png`), png(label, i));
        }
      }
    }
    const load = (trainSize: number | null) =>
      loadImageData({
        dataset: "cifar10",
        dataDir: dir,
        quick: false,
        trainSize,
        seed: 3,
        cacheDir: join(dir, "cache"),
      });
    const data = await load(12);
    assert.match(data.source, /^CIFAR-10 \(JPEG re-encoding\), /);
    // Test and validation: every image once, labels matching pixels, not in class order.
    const test = checkedLabels(data.test);
    assert.deepEqual(sorted(test), CIFAR10_LABEL_NAMES.flatMap((_, c) => [c, c, c]));
    assert.notDeepEqual(test, sorted(test));
    const validation = checkedLabels(data.validation);
    assert.deepEqual(sorted(validation), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(validation, sorted(validation));
    // A smaller training set is a random subset: more classes than a 12-image prefix (3) holds.
    const train = checkedLabels(data.train);
    assert.equal(train.length, 12);
    assert.ok(new Set(train).size > 3, `classes ${train}`);
    // The whole training split keeps the loader's order (class by class).
    const whole = checkedLabels((await load(null)).train);
    assert.equal(whole.length, 40);
    assert.deepEqual(whole, sorted(whole));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("text data with --train-languages: other languages' training texts join; validation and test stay the target's", async () => {
  const alone = await loadTextData({
    language: "indonesian",
    sequenceLength: 16,
    maxTokens: null,
    dataDir: null,
    quick: true,
    trainSize: null,
  });
  const joined = await loadTextData({
    language: "indonesian",
    sequenceLength: 16,
    maxTokens: null,
    dataDir: null,
    quick: true,
    trainSize: null,
    trainLanguages: ["javanese", "indonesian", "sundanese"],
  });
  const n = QUICK_SIZES.text.train;
  assert.equal(alone.train.y.length, n);
  assert.equal(joined.train.y.length, 3 * n);
  assert.match(joined.name, /also from javanese, sundanese: 360 in all/);
  // NusaX is parallel: the same sentences in each language carry the same labels.
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(
      Array.from(joined.train.y.subarray(k * n, (k + 1) * n)),
      Array.from(alone.train.y),
    );
  }
  assert.deepEqual(Array.from(joined.test.y), Array.from(alone.test.y));
  assert.deepEqual(Array.from(joined.validation.y), Array.from(alone.validation.y));
  // The vocabulary is adapted on all training texts: it grows beyond Indonesian's.
  assert.ok(joined.vectorizer!.vocabularySize() > alone.vectorizer!.vocabularySize());
  // Indonesian words keep their meaning: a test text maps to the same words in either vocabulary.
  const words = (d: typeof alone, row: number) =>
    Array.from(d.test.x.data.subarray(row * 16, row * 16 + 16)).filter((id) => id > 1).map((id) =>
      d.vectorizer!.getVocabulary()[id]
    );
  assert.deepEqual(words(joined, 0).length > 0, true);
  for (const w of words(alone, 0)) assert.ok(words(joined, 0).includes(w), w);
});
