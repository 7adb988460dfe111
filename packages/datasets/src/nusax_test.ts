import { join } from "node:path";
import { md5File } from "./checksum.ts";
import {
  ChecksumError,
  CorruptFileError,
  CsvFormatError,
  DatasetNotFoundError,
  InvalidOptionError,
} from "./errors.ts";
import {
  loadNusaxSentiment,
  NUSAX_LABEL_NAMES,
  NUSAX_LANGUAGES,
  NUSAX_MD5,
  NUSAX_SPLITS,
  type NusaxLanguage,
  parseNusaxCsv,
} from "./nusax.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./test_assert.ts";
import { closedPortUrl, serveLocal, SHARED_DATA, tempDir } from "./test_util.ts";

const NUSAX_DIR = join(SHARED_DATA, "nusax-sentiment");

function countLabels(labels: Int32Array): number[] {
  const counts = [0, 0, 0];
  for (const label of labels) counts[label]++;
  return counts;
}

Deno.test("NusaX Indonesian: 500/100/400 rows and the published label counts", async () => {
  const data = await loadNusaxSentiment({ dir: NUSAX_DIR, verifyChecksum: true });
  assertEquals(data.language, "indonesian");
  assertEquals(data.labelNames, ["negative", "neutral", "positive"]);
  assertEquals([data.train.texts.length, data.valid.texts.length, data.test.texts.length], [
    500,
    100,
    400,
  ]);
  // negative / neutral / positive, counted independently with Python's csv module.
  assertEquals(countLabels(data.train.labels), [192, 119, 189]);
  assertEquals(countLabels(data.valid.labels), [38, 24, 38]);
  assertEquals(countLabels(data.test.labels), [153, 96, 151]);
  assertEquals(data.train.ids[0], 219);
  assert(data.train.texts[0].startsWith("Nikmati cicilan 0% hingga 12 bulan"));
  assertEquals(data.train.labels[0], NUSAX_LABEL_NAMES.indexOf("neutral"));
  // Row 3 of the file is quoted and holds commas.
  assertEquals(data.train.ids[1], 209);
  assert(data.train.texts[1].includes("Semuanya tipikal kue zaman dulu, baik dari penampilan"));
  assertEquals(data.train.labels[1], 2);
  assertEquals(data.test.ids.at(-1), 768);
});

Deno.test("NusaX: all 12 languages load with matching MD5s and parallel labels", async () => {
  const reference = await loadNusaxSentiment({ dir: NUSAX_DIR });
  for (const language of NUSAX_LANGUAGES) {
    const data = await loadNusaxSentiment({ language, dir: NUSAX_DIR, verifyChecksum: true });
    assertEquals(data.language, language);
    for (const split of NUSAX_SPLITS) {
      assertEquals(data[split].texts.length, reference[split].texts.length, `${language} ${split}`);
      // The data set is parallel: every language has the same ids and labels row by row.
      assertEquals(data[split].ids, reference[split].ids, `${language} ${split} ids`);
      assertEquals(data[split].labels, reference[split].labels, `${language} ${split} labels`);
      assert(data[split].texts.every((text) => text.length > 0), `${language} ${split} texts`);
    }
  }
  assertEquals(NUSAX_LANGUAGES.length, 12);
});

Deno.test("NusaX: a folder holding the three CSVs directly is accepted", async () => {
  const data = await loadNusaxSentiment({
    language: "english",
    dir: join(NUSAX_DIR, "english"),
  });
  assertEquals(data.valid.texts.length, 100);
});

Deno.test("parseNusaxCsv: columns in any order, string ids, embedded newline", () => {
  const split = parseNusaxCsv(
    'label,text,id\r\npositive,"good, really\r\ngood",a1\r\nnegative,bad,b2\r\n',
    "x.csv",
  );
  assertEquals(split.ids, ["a1", "b2"]);
  assertEquals(split.texts, ["good, really\r\ngood", "bad"]);
  assertEquals(split.labels, Int32Array.from([2, 0]));
});

Deno.test("parseNusaxCsv: an unknown label names the file and the row", () => {
  const error = assertThrows(
    () => parseNusaxCsv("id,text,label\n1,a,positive\n2,b,Positive\n", "data/train.csv"),
    CsvFormatError,
    "unknown label",
  );
  assertEquals(error.row, 3);
  assertEquals(error.file, "data/train.csv");
  assert(error.message.includes('"Positive"'));
});

Deno.test("parseNusaxCsv: a missing label column is a CsvFormatError", () => {
  assertThrows(() => parseNusaxCsv("id,text\n1,a\n", "x.csv"), CsvFormatError, 'column "label"');
});

Deno.test("NusaX: invalid UTF-8 is a CorruptFileError", async () => {
  await using tmp = await tempDir();
  const folder = join(tmp.path, "indonesian");
  await Deno.mkdir(folder);
  const good = new TextEncoder().encode("id,text,label\n1,a,neutral\n");
  await Deno.writeFile(join(folder, "train.csv"), Uint8Array.from([...good.slice(0, -9), 0xff]));
  await Deno.writeFile(join(folder, "valid.csv"), good);
  await Deno.writeFile(join(folder, "test.csv"), good);
  await assertRejects(() => loadNusaxSentiment({ dir: tmp.path }), CorruptFileError, "UTF-8");
});

Deno.test("NusaX: a local folder with a wrong MD5 fails only when checking is asked for", async () => {
  await using tmp = await tempDir();
  const folder = join(tmp.path, "indonesian");
  await Deno.mkdir(folder);
  for (const split of NUSAX_SPLITS) {
    await Deno.writeTextFile(join(folder, `${split}.csv`), "id,text,label\n1,a,neutral\n");
  }
  const data = await loadNusaxSentiment({ dir: tmp.path });
  assertEquals(data.train.texts, ["a"]);
  await assertRejects(
    () => loadNusaxSentiment({ dir: tmp.path, verifyChecksum: true }),
    ChecksumError,
    NUSAX_MD5.indonesian.train,
  );
});

Deno.test("NusaX: missing local files say where to put them and where to download", async () => {
  await using tmp = await tempDir();
  const error = await assertRejects(
    () => loadNusaxSentiment({ dir: tmp.path, language: "javanese" }),
    DatasetNotFoundError,
  );
  assertEquals(error.missing.length, 3);
  assertEquals(error.missing[0].path, join(tmp.path, "javanese", "train.csv"));
  assert(error.message.includes("/IndoNLP/nusax/main/datasets/sentiment/javanese/train.csv"));
});

Deno.test("NusaX: downloads into the cache, checks MD5s, then reads the cache only", async () => {
  const routes: Record<string, Uint8Array> = {};
  for (const split of NUSAX_SPLITS) {
    routes[`sentiment/balinese/${split}.csv`] = await Deno.readFile(
      join(NUSAX_DIR, "balinese", `${split}.csv`),
    );
  }
  await using server = serveLocal(routes);
  await using cache = await tempDir();
  const options = {
    language: "balinese" as NusaxLanguage,
    cacheDir: cache.path,
    baseUrl: `${server.base}sentiment/`,
  };
  const first = await loadNusaxSentiment(options);
  assertEquals(server.requests.length, 3);
  assertEquals(first.train.texts.length, 500);
  const cached = join(cache.path, "nusax-sentiment", "balinese", "train.csv");
  assertEquals(first.files.train, cached);
  assertEquals(await md5File(cached), NUSAX_MD5.balinese.train);
  const second = await loadNusaxSentiment(options);
  assertEquals(server.requests.length, 3, "a second load must not download again");
  assertEquals(second.test.labels, first.test.labels);
});

Deno.test("NusaX: offline without the files is a DatasetNotFoundError naming path and URL", async () => {
  await using cache = await tempDir();
  const base = closedPortUrl();
  const error = await assertRejects(
    () => loadNusaxSentiment({ cacheDir: cache.path, baseUrl: base }),
    DatasetNotFoundError,
    "download failed",
  );
  assertEquals(error.missing.map((file) => file.urls[0]), [
    `${base}indonesian/train.csv`,
    `${base}indonesian/valid.csv`,
    `${base}indonesian/test.csv`,
  ]);
  assert(error.message.includes(join(cache.path, "nusax-sentiment", "indonesian", "valid.csv")));
  // Nothing half-written is left in the cache.
  const left = [];
  for await (const entry of Deno.readDir(join(cache.path, "nusax-sentiment", "indonesian"))) {
    left.push(entry.name);
  }
  assertEquals(left, []);
});

Deno.test("NusaX: download: false never fetches", async () => {
  await using cache = await tempDir();
  await assertRejects(
    () => loadNusaxSentiment({ cacheDir: cache.path, download: false }),
    DatasetNotFoundError,
    "download: false",
  );
});

Deno.test("NusaX: an unknown language is an InvalidOptionError", async () => {
  await assertRejects(
    () => loadNusaxSentiment({ language: "klingon" as NusaxLanguage, dir: NUSAX_DIR }),
    InvalidOptionError,
    "klingon",
  );
});
