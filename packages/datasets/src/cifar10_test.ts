import { join } from "node:path";
import { gzipSync, zipSync } from "fflate";
import { encode as encodePng } from "@cwasm/lodepng";
import { createTar } from "nanotar";
import {
  CIFAR10_ARCHIVE,
  CIFAR10_FOLDER,
  CIFAR10_JPEG_ARCHIVE,
  CIFAR10_LABEL_NAMES,
  CIFAR10_MD5,
  CIFAR10_RECORD_BYTES,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  CIFAR10_URL,
  decodeCifar10Batch,
  loadCifar10,
} from "./cifar10.ts";
import {
  ChecksumError,
  CorruptFileError,
  DatasetNotFoundError,
  InvalidOptionError,
} from "./errors.ts";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "./test_assert.ts";
import { closedPortUrl, serveLocal, tempDir } from "./test_util.ts";

const PER_BATCH = 20;
const TEST_RECORDS = 10;

/** The value of channel `c` at pixel `p` (y * 32 + x) of record `r`: distinct per plane. */
function pixelValue(r: number, c: number, p: number): number {
  return c === 0
    ? (p + r) % 256
    : c === 1
    ? (p * 3 + 1 + r) % 256
    : (255 - (p % 256) + 2 * r) % 256;
}

/** A batch in the official layout: per record 1 label byte, then the R, G and B planes. */
function makeBatch(labels: number[], firstRecord: number): Uint8Array {
  const bytes = new Uint8Array(labels.length * CIFAR10_RECORD_BYTES);
  labels.forEach((label, i) => {
    const base = i * CIFAR10_RECORD_BYTES;
    bytes[base] = label;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) {
        bytes[base + 1 + c * 1024 + p] = pixelValue(firstRecord + i, c, p);
      }
    }
  });
  return bytes;
}

/** Six small batch files: 5 × 20 training records (10 per class), 10 test records. */
function tinyBatches(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  CIFAR10_TRAIN_FILES.forEach((name, b) => {
    const labels = Array.from({ length: PER_BATCH }, (_, k) => (b * PER_BATCH + k) % 10);
    files.set(name, makeBatch(labels, b * PER_BATCH));
  });
  files.set(
    CIFAR10_TEST_FILE,
    makeBatch(Array.from({ length: TEST_RECORDS }, (_, k) => 9 - k), 1000),
  );
  return files;
}

async function writeBatches(folder: string, files = tinyBatches()): Promise<void> {
  await Deno.mkdir(folder, { recursive: true });
  for (const [name, bytes] of files) await Deno.writeFile(join(folder, name), bytes);
}

function tinyArchive(files = tinyBatches()): Uint8Array {
  const tar = createTar([
    { name: `${CIFAR10_FOLDER}/batches.meta.txt`, data: CIFAR10_LABEL_NAMES.join("\n") },
    ...[...files].map(([name, data]) => ({ name: `${CIFAR10_FOLDER}/${name}`, data })),
  ]);
  return gzipSync(tar);
}

function classCounts(labels: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

Deno.test("decodeCifar10Batch: planar RGB records become NHWC", () => {
  const { pixels, labels } = decodeCifar10Batch(makeBatch([3, 7], 5), "b.bin");
  assertEquals(labels, Int32Array.from([3, 7]));
  assertEquals(pixels.length, 2 * 32 * 32 * 3);
  for (const [i, y, x] of [[0, 0, 0], [0, 5, 17], [1, 31, 31], [1, 12, 3]]) {
    for (let c = 0; c < 3; c++) {
      assertEquals(pixels[((i * 32 + y) * 32 + x) * 3 + c], pixelValue(5 + i, c, y * 32 + x));
    }
  }
});

Deno.test("decodeCifar10Batch: wrong size or label is a CorruptFileError", () => {
  const batch = makeBatch([1, 2], 0);
  assertThrows(
    () => decodeCifar10Batch(batch.subarray(0, 5000), "cut.bin"),
    CorruptFileError,
    "cut.bin",
  );
  assertThrows(
    () => decodeCifar10Batch(new Uint8Array(0), "empty.bin"),
    CorruptFileError,
    "found 0",
  );
  const badLabel = batch.slice();
  badLabel[CIFAR10_RECORD_BYTES] = 10;
  assertThrows(() => decodeCifar10Batch(badLabel, "l.bin"), CorruptFileError, "record 1");
});

Deno.test("CIFAR-10: stratified 4:1 split of the training batches, official test batch", async () => {
  await using tmp = await tempDir();
  await writeBatches(join(tmp.path, CIFAR10_FOLDER));
  const data = await loadCifar10({ dir: tmp.path, dtype: "uint8" });
  assertEquals(data.labelNames, CIFAR10_LABEL_NAMES);
  assertEquals(data.train.shape, [80, 32, 32, 3]);
  assertEquals(data.validation.shape, [20, 32, 32, 3]);
  assertEquals(data.test.shape, [10, 32, 32, 3]);
  assertEquals(classCounts(data.train.labels), new Array(10).fill(8));
  assertEquals(classCounts(data.validation.labels), new Array(10).fill(2));
  assertEquals(Array.from(data.test.labels), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  // Train and validation partition the 100 training records.
  const all = [...data.train.sourceIndices, ...data.validation.sourceIndices].sort((a, b) => a - b);
  assertEquals(all, Array.from({ length: 100 }, (_, i) => i));
  // Every image is the record it claims to come from.
  for (const split of [data.train, data.validation]) {
    split.sourceIndices.forEach((record, i) => {
      assertEquals(split.labels[i], record % 10);
      const offset = i * 3072;
      assertEquals(split.images[offset + (2 * 32 + 9) * 3 + 1], pixelValue(record, 1, 2 * 32 + 9));
    });
  }
  assertEquals(data.test.images[0], pixelValue(1000, 0, 0));
  assertEquals([data.seed, data.validationFraction], [42, 0.2]);
});

Deno.test("CIFAR-10: float32 by default, the split depends on the seed only", async () => {
  await using tmp = await tempDir();
  await writeBatches(tmp.path); // the six files directly in dir
  const a = await loadCifar10({ dir: tmp.path, seed: 7 });
  const b = await loadCifar10({ dir: tmp.path, seed: 7 });
  const c = await loadCifar10({ dir: tmp.path, seed: 8 });
  assert(a.train.images instanceof Float32Array);
  assertEquals(a.validation.sourceIndices, b.validation.sourceIndices);
  assertNotEquals(a.validation.sourceIndices, c.validation.sourceIndices);
  assertEquals(a.train.images[3], Math.fround(pixelValue(0, 0, 1) / 255));
  const max = a.train.images.reduce((m, v) => Math.max(m, v), 0);
  assert(max <= 1 && max > 0.99);
});

Deno.test("CIFAR-10: reads the tarball in dir; checks its MD5 when asked", async () => {
  await using tmp = await tempDir();
  await Deno.writeFile(join(tmp.path, CIFAR10_ARCHIVE), tinyArchive());
  const fromTar = await loadCifar10({ dir: tmp.path, dtype: "uint8" });
  await using folder = await tempDir();
  await writeBatches(folder.path);
  const fromFolder = await loadCifar10({ dir: folder.path, dtype: "uint8" });
  assertEquals(fromTar.train.images, fromFolder.train.images);
  assertEquals(fromTar.test.labels, fromFolder.test.labels);
  await assertRejects(
    () => loadCifar10({ dir: tmp.path, verifyChecksum: true }),
    ChecksumError,
    CIFAR10_MD5,
  );
});

Deno.test("CIFAR-10: a cached tarball is extracted once into the cache", async () => {
  await using cache = await tempDir();
  const archive = join(cache.path, CIFAR10_ARCHIVE);
  await Deno.writeFile(archive, tinyArchive());
  // The test tarball is not the official one, so its MD5 check is switched off here.
  const first = await loadCifar10({ cacheDir: cache.path, verifyChecksum: false, dtype: "uint8" });
  const names = [];
  for await (const entry of Deno.readDir(join(cache.path, CIFAR10_FOLDER))) names.push(entry.name);
  assertEquals(names.sort(), [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].sort());
  await Deno.remove(archive);
  const second = await loadCifar10({ cacheDir: cache.path, download: false, dtype: "uint8" });
  assertEquals(second.train.images, first.train.images);
});

Deno.test("CIFAR-10: a downloaded tarball with the wrong MD5 is rejected and not kept", async () => {
  await using server = serveLocal({ [CIFAR10_ARCHIVE]: tinyArchive() });
  await using cache = await tempDir();
  await assertRejects(
    () => loadCifar10({ cacheDir: cache.path, urls: [`${server.base}${CIFAR10_ARCHIVE}`] }),
    ChecksumError,
    CIFAR10_MD5,
  );
  assertEquals(server.requests, [CIFAR10_ARCHIVE]);
  const left = [];
  for await (const entry of Deno.readDir(cache.path)) left.push(entry.name);
  assertEquals(left, []);
});

Deno.test("CIFAR-10: offline without files says where to put and get the tarball", async () => {
  await using cache = await tempDir();
  const error = await assertRejects(
    () => loadCifar10({ cacheDir: cache.path, urls: [`${closedPortUrl()}${CIFAR10_ARCHIVE}`] }),
    DatasetNotFoundError,
  );
  assertEquals(error.missing[0].path, join(cache.path, CIFAR10_ARCHIVE));
  const local = await assertRejects(
    () => loadCifar10({ dir: cache.path }),
    DatasetNotFoundError,
    CIFAR10_URL,
  );
  assertEquals(local.dataset, "CIFAR-10");
});

Deno.test("CIFAR-10: a missing batch file is named", async () => {
  await using tmp = await tempDir();
  const files = tinyBatches();
  files.delete("data_batch_3.bin");
  await writeBatches(tmp.path, files);
  const error = await assertRejects(() => loadCifar10({ dir: tmp.path }), DatasetNotFoundError);
  assertEquals(error.missing.map((file) => file.path), [join(tmp.path, "data_batch_3.bin")]);
});

Deno.test("CIFAR-10: corrupt batches and archives are CorruptFileErrors", async () => {
  await using tmp = await tempDir();
  const files = tinyBatches();
  files.set("data_batch_2.bin", files.get("data_batch_2.bin")!.subarray(0, 3073 * 3 + 100));
  await writeBatches(tmp.path, files);
  await assertRejects(() => loadCifar10({ dir: tmp.path }), CorruptFileError, "data_batch_2.bin");

  await using tars = await tempDir();
  const archive = tinyArchive();
  await Deno.writeFile(join(tars.path, CIFAR10_ARCHIVE), archive.subarray(0, archive.length >> 1));
  await assertRejects(() => loadCifar10({ dir: tars.path }), CorruptFileError, CIFAR10_ARCHIVE);

  // A complete gzip stream around a tar that stops halfway through the batches.
  const tar = createTar(
    [...tinyBatches()].map(([name, data]) => ({ name: `${CIFAR10_FOLDER}/${name}`, data })),
  );
  await Deno.writeFile(
    join(tars.path, CIFAR10_ARCHIVE),
    gzipSync(tar.subarray(0, tar.length >> 1)),
  );
  await assertRejects(() => loadCifar10({ dir: tars.path }), CorruptFileError, CIFAR10_ARCHIVE);

  const partial = tinyBatches();
  partial.delete(CIFAR10_TEST_FILE);
  await Deno.writeFile(join(tars.path, CIFAR10_ARCHIVE), tinyArchive(partial));
  await assertRejects(
    () => loadCifar10({ dir: tars.path }),
    CorruptFileError,
    "lacks test_batch.bin",
  );
});

Deno.test("CIFAR-10: bad split options are InvalidOptionErrors, checked before reading", async () => {
  await using tmp = await tempDir();
  await assertRejects(
    () => loadCifar10({ dir: tmp.path, validationFraction: 1 }),
    InvalidOptionError,
    "validationFraction",
  );
  await assertRejects(() => loadCifar10({ dir: tmp.path, seed: 1.5 }), InvalidOptionError, "seed");
});

/** A 32×32 PNG whose every pixel is (label * 20, index, 7). */
function cifarPng(label: number, index: number): Uint8Array {
  const data = new Uint8Array(32 * 32 * 4);
  for (let p = 0; p < 1024; p++) data.set([label * 20, index, 7, 255], p * 4);
  return encodePng({ width: 32, height: 32, data });
}

/** The JPEG-release layout (PNGs here) with `perClass` training and 1 test image per class. */
function cifarImageTree(perClass: number): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  CIFAR10_LABEL_NAMES.forEach((name, label) => {
    for (let i = 0; i < perClass; i++) {
      files[`cifar-10-jpeg/train/${name}/${String(i).padStart(4, "0")}.png`] = cifarPng(label, i);
    }
    files[`cifar-10-jpeg/test/${name}/0000.png`] = cifarPng(label, 99);
  });
  return files;
}

Deno.test("loadCifar10: the image-folder (JPEG re-encoding) layout, as zip and as folder", async () => {
  await using dir = await tempDir();
  const tree = cifarImageTree(4);
  const zipPath = join(dir.path, CIFAR10_JPEG_ARCHIVE);
  await Deno.writeFile(
    zipPath,
    zipSync(Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, [v, { level: 0 }]]))),
  );
  const cacheDir = join(dir.path, "cache");
  const data = await loadCifar10({ images: zipPath, cacheDir, seed: 7, validationFraction: 0.25 });
  assertEquals(data.source, "CIFAR-10 (JPEG re-encoding)");
  assertEquals(data.sourcePath, zipPath);
  assertEquals(data.train.shape, [30, 32, 32, 3]);
  assertEquals(data.validation.shape, [10, 32, 32, 3]);
  assertEquals(data.test.shape, [10, 32, 32, 3]);
  // One validation image per class; labels match the pixels written for them.
  assertEquals(Array.from(data.validation.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (let i = 0; i < 10; i++) {
    const label = data.validation.labels[i];
    assertEquals(data.validation.images[i * 3072], Math.fround((label * 20) / 255));
    // Training source index = position in Keras's sorted listing (class-major, file order).
    assertEquals(Math.floor(data.validation.sourceIndices[i] / 4), label);
    assertEquals(
      Math.round(data.validation.images[i * 3072 + 1] * 255),
      data.validation.sourceIndices[i] % 4,
    );
  }
  assertEquals(data.test.images[9 * 3072 + 1], Math.fround(99 / 255));
  // The same folder unpacked, found through `dir`, gives the same split and pixels.
  await Promise.all(
    Object.entries(tree).map(async ([rel, bytes]) => {
      await Deno.mkdir(join(dir.path, "unpacked", rel, ".."), { recursive: true });
      await Deno.writeFile(join(dir.path, "unpacked", rel), bytes);
    }),
  );
  const fromDir = await loadCifar10({
    dir: join(dir.path, "unpacked"),
    cacheDir,
    seed: 7,
    validationFraction: 0.25,
    dtype: "uint8",
  });
  assertEquals(fromDir.sourcePath, join(dir.path, "unpacked", "cifar-10-jpeg"));
  assertEquals(fromDir.validation.sourceIndices, data.validation.sourceIndices);
  assertEquals(fromDir.train.images[3], Math.round(data.train.images[3] * 255));
  await assertRejects(
    () => loadCifar10({ images: join(dir.path, "none.zip"), cacheDir }),
    DatasetNotFoundError,
  );
});
