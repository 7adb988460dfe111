import { join } from "node:path";
import { gzipSync } from "fflate";
import { createTar } from "nanotar";
import {
  ChecksumError,
  CorruptFileError,
  DatasetNotFoundError,
  InvalidOptionError,
} from "./errors.ts";
import { IMDB_ARCHIVE, IMDB_FOLDER, IMDB_MD5, IMDB_URL, loadImdb } from "./imdb.ts";
import { assert, assertEquals, assertNotEquals, assertRejects } from "./test_assert.ts";
import { closedPortUrl, serveLocal, tempDir } from "./test_util.ts";

/** Review files of a tiny `aclImdb`, keyed by path relative to `aclImdb/`. */
function tinyReviews(): Record<string, string> {
  return {
    "train/pos/10_9.txt": "Great film.<br /><br />Loved it, really.",
    "train/pos/2_7.txt": "Good enough — café scenes were fun 🎬",
    "train/neg/5_1.txt": "Awful.",
    "train/neg/1_3.txt": "Boring, too long.",
    "train/neg/12_2.txt": "Meh\nsecond line",
    "test/pos/0_10.txt": "Masterpiece",
    "test/neg/0_4.txt": "Not for me",
    "train/unsup/0_0.txt": "unlabelled, must be ignored",
  };
}

async function writeFolder(root: string, reviews = tinyReviews()): Promise<void> {
  for (const [path, text] of Object.entries(reviews)) {
    const file = join(root, path);
    await Deno.mkdir(join(file, ".."), { recursive: true });
    await Deno.writeTextFile(file, text);
  }
  await Deno.writeTextFile(join(root, "README"), "not a review");
  await Deno.writeTextFile(join(root, "train", "urls_pos.txt"), "http://example.invalid/\n");
}

function tinyArchive(): Uint8Array {
  return gzipSync(createTar([
    { name: `${IMDB_FOLDER}/README`, data: "readme" },
    ...Object.entries(tinyReviews()).map(([path, text]) => ({
      name: `${IMDB_FOLDER}/${path}`,
      data: text,
    })),
  ]));
}

Deno.test("IMDb: reads aclImdb/{train,test}/{neg,pos}, neg then pos in id order", async () => {
  await using tmp = await tempDir();
  await writeFolder(join(tmp.path, IMDB_FOLDER));
  const imdb = await loadImdb({ dir: tmp.path });
  assertEquals(imdb.labelNames, ["neg", "pos"]);
  assertEquals(imdb.train.files, [
    "train/neg/1_3.txt",
    "train/neg/5_1.txt",
    "train/neg/12_2.txt",
    "train/pos/2_7.txt",
    "train/pos/10_9.txt",
  ]);
  assertEquals(imdb.train.labels, Int32Array.from([0, 0, 0, 1, 1]));
  assertEquals(imdb.train.ratings, Int32Array.from([3, 1, 2, 7, 9]));
  assertEquals(imdb.train.ids, [1, 5, 12, 2, 10]);
  assertEquals(imdb.train.texts[2], "Meh\nsecond line");
  assertEquals(imdb.train.texts[3], "Good enough — café scenes were fun 🎬");
  assertEquals(imdb.train.texts[4], "Great film.<br /><br />Loved it, really.");
  assertEquals(imdb.test.texts, ["Not for me", "Masterpiece"]);
  assertEquals(imdb.test.labels, Int32Array.from([0, 1]));
});

Deno.test("IMDb: a folder holding train/ and test/ directly works too", async () => {
  await using tmp = await tempDir();
  await writeFolder(tmp.path);
  const imdb = await loadImdb({ dir: tmp.path });
  assertEquals(imdb.train.texts.length, 5);
});

Deno.test("IMDb: shuffleSeed shuffles each split deterministically", async () => {
  await using tmp = await tempDir();
  const reviews: Record<string, string> = {};
  for (let i = 0; i < 40; i++) {
    reviews[`train/${i % 2 ? "pos" : "neg"}/${i}_${i % 2 ? 8 : 2}.txt`] = `r${i}`;
  }
  reviews["test/pos/0_9.txt"] = "t";
  reviews["test/neg/0_1.txt"] = "t";
  await writeFolder(tmp.path, reviews);
  const a = await loadImdb({ dir: tmp.path, shuffleSeed: 5 });
  const b = await loadImdb({ dir: tmp.path, shuffleSeed: 5 });
  const plain = await loadImdb({ dir: tmp.path });
  assertEquals(a.train.texts, b.train.texts);
  assertNotEquals(a.train.texts, plain.train.texts);
  assertEquals([...a.train.texts].sort(), [...plain.train.texts].sort());
  // Labels travel with their texts.
  a.train.texts.forEach((text, i) => assertEquals(a.train.labels[i], Number(text.slice(1)) % 2));
  await assertRejects(
    () => loadImdb({ dir: tmp.path, shuffleSeed: 0.5 }),
    InvalidOptionError,
    "shuffleSeed",
  );
});

Deno.test("IMDb: the tarball in dir is read in memory; MD5 checked when asked", async () => {
  await using tmp = await tempDir();
  await Deno.writeFile(join(tmp.path, IMDB_ARCHIVE), tinyArchive());
  await using folder = await tempDir();
  await writeFolder(join(folder.path, IMDB_FOLDER));
  const fromTar = await loadImdb({ dir: tmp.path });
  const fromFolder = await loadImdb({ dir: folder.path });
  assertEquals(fromTar, fromFolder);
  await assertRejects(
    () => loadImdb({ dir: tmp.path, verifyChecksum: true }),
    ChecksumError,
    IMDB_MD5,
  );
});

Deno.test("IMDb: a cached tarball is extracted into the cache once", async () => {
  await using cache = await tempDir();
  await Deno.writeFile(join(cache.path, IMDB_ARCHIVE), tinyArchive());
  const first = await loadImdb({ cacheDir: cache.path, verifyChecksum: false });
  assertEquals(
    await Deno.readTextFile(join(cache.path, IMDB_FOLDER, "train", "neg", "5_1.txt")),
    "Awful.",
  );
  await Deno.remove(join(cache.path, IMDB_ARCHIVE));
  const second = await loadImdb({ cacheDir: cache.path, download: false });
  assertEquals(second, first);
});

Deno.test("IMDb: a download with the wrong MD5 is rejected; offline names path and URL", async () => {
  await using server = serveLocal({ [IMDB_ARCHIVE]: tinyArchive() });
  await using cache = await tempDir();
  await assertRejects(
    () => loadImdb({ cacheDir: cache.path, urls: [`${server.base}${IMDB_ARCHIVE}`] }),
    ChecksumError,
  );
  const error = await assertRejects(
    () => loadImdb({ cacheDir: cache.path, urls: [`${closedPortUrl()}${IMDB_ARCHIVE}`] }),
    DatasetNotFoundError,
  );
  assertEquals(error.missing[0].path, join(cache.path, IMDB_ARCHIVE));
  await assertRejects(() => loadImdb({ dir: cache.path }), DatasetNotFoundError, IMDB_URL);
});

Deno.test("IMDb: bad names, bad UTF-8 and incomplete folders are typed errors", async () => {
  await using tmp = await tempDir();
  await writeFolder(tmp.path);
  await Deno.writeTextFile(join(tmp.path, "test", "pos", "review.txt"), "no rating");
  await assertRejects(() => loadImdb({ dir: tmp.path }), CorruptFileError, "review.txt");
  await Deno.remove(join(tmp.path, "test", "pos", "review.txt"));
  await Deno.writeFile(join(tmp.path, "test", "pos", "3_8.txt"), Uint8Array.from([0x61, 0xc3]));
  await assertRejects(() => loadImdb({ dir: tmp.path }), CorruptFileError, "test/pos/3_8.txt");
  await Deno.remove(join(tmp.path, "test", "pos"), { recursive: true });
  const error = await assertRejects(() => loadImdb({ dir: tmp.path }), DatasetNotFoundError);
  assertEquals(error.missing.map((file) => file.path), [join(tmp.path, "test", "pos")]);
  assert(error.message.includes("incomplete"));
});

Deno.test("IMDb: a repackaged tarball under another name, as a file path or alone in dir", async () => {
  await using tmp = await tempDir();
  const file = join(tmp.path, "aclImdb-labeled.tar.gz");
  await Deno.writeFile(file, tinyArchive());
  await using folder = await tempDir();
  await writeFolder(join(folder.path, IMDB_FOLDER));
  const fromFolder = await loadImdb({ dir: folder.path });
  assertEquals(await loadImdb({ dir: file }), fromFolder);
  assertEquals(await loadImdb({ dir: tmp.path }), fromFolder);
  // Two candidate tarballs: refused, naming both, rather than guessing.
  await Deno.writeFile(join(tmp.path, "other.tgz"), tinyArchive());
  await assertRejects(
    () => loadImdb({ dir: tmp.path }),
    DatasetNotFoundError,
    "2 other tarballs (",
  );
});
