import { join } from "node:path";
import { gzipSync } from "fflate";
import { md5File } from "./checksum.ts";
import {
  ChecksumError,
  CorruptFileError,
  DatasetNotFoundError,
  InvalidOptionError,
} from "./errors.ts";
import { parseIdx } from "./idx.ts";
import {
  FASHION_MNIST_LABEL_NAMES,
  loadFashionMnist,
  loadMnist,
  MNIST_FILES,
  MNIST_MD5,
} from "./mnist.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./test_assert.ts";
import { closedPortUrl, serveLocal, SHARED_DATA, tempDir } from "./test_util.ts";

const MNIST_DIR = join(SHARED_DATA, "mnist");

/** An IDX file of unsigned bytes with the given dims. */
function idx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((size, i) => view.setUint32(4 + 4 * i, size, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Writes a tiny MNIST-style data set (n train, m test) into `dir`, gzip-compressed. */
async function writeTinyMnist(dir: string, n: number, m: number, gzip = true): Promise<void> {
  const images = (count: number) =>
    idx([count, 28, 28], Uint8Array.from({ length: count * 784 }, (_, i) => (i * 7) % 256));
  const labels = (count: number) =>
    idx([count], Uint8Array.from({ length: count }, (_, i) => i % 10));
  const files: Record<string, Uint8Array> = {
    [MNIST_FILES.trainImages]: images(n),
    [MNIST_FILES.trainLabels]: labels(n),
    [MNIST_FILES.testImages]: images(m),
    [MNIST_FILES.testLabels]: labels(m),
  };
  for (const [name, bytes] of Object.entries(files)) {
    if (gzip) await Deno.writeFile(join(dir, name), gzipSync(bytes));
    else await Deno.writeFile(join(dir, name.slice(0, -3)), bytes);
  }
}

Deno.test("MNIST: the shared files have the published MD5s", async () => {
  for (const [key, name] of Object.entries(MNIST_FILES)) {
    assertEquals(await md5File(join(MNIST_DIR, name)), MNIST_MD5[key as keyof typeof MNIST_FILES]);
  }
});

Deno.test("MNIST: 60k/10k NHWC images, label counts and pixel range", async () => {
  const mnist = await loadMnist({ dir: MNIST_DIR, verifyChecksum: true, dtype: "uint8" });
  assertEquals(mnist.train.shape, [60000, 28, 28, 1]);
  assertEquals(mnist.test.shape, [10000, 28, 28, 1]);
  assert(mnist.train.images instanceof Uint8Array);
  assertEquals(mnist.train.images.length, 60000 * 784);
  assertEquals(mnist.test.labels.length, 10000);
  // First labels of the official files (5 0 4 1 9 / 7 2 1 0 4).
  assertEquals(Array.from(mnist.train.labels.subarray(0, 5)), [5, 0, 4, 1, 9]);
  assertEquals(Array.from(mnist.test.labels.subarray(0, 5)), [7, 2, 1, 0, 4]);
  const counts = new Array(10).fill(0);
  for (const label of mnist.test.labels) counts[label]++;
  assertEquals(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  const trainCounts = new Array(10).fill(0);
  for (const label of mnist.train.labels) trainCounts[label]++;
  assertEquals(trainCounts[1], 6742);
  assertEquals(trainCounts[5], 5421);
  // Digits on a black background: corners are 0, some pixels reach 255.
  assertEquals(mnist.train.images[0], 0);
  assertEquals(Math.max(...mnist.test.images.subarray(0, 784)), 255);
});

Deno.test("MNIST: float32 is the uint8 data divided by 255", async () => {
  await using tmp = await tempDir();
  await writeTinyMnist(tmp.path, 3, 2);
  const raw = await loadMnist({ dir: tmp.path, dtype: "uint8" });
  const scaled = await loadMnist({ dir: tmp.path });
  assert(scaled.train.images instanceof Float32Array);
  assertEquals(scaled.train.shape, [3, 28, 28, 1]);
  for (let i = 0; i < raw.train.images.length; i++) {
    if (scaled.train.images[i] !== Math.fround(raw.train.images[i] / 255)) {
      throw new Error(`pixel ${i}: ${scaled.train.images[i]} for byte ${raw.train.images[i]}`);
    }
  }
  assertEquals(Math.min(...scaled.train.images), 0);
  assertEquals(Math.max(...scaled.train.images), 1);
});

Deno.test("MNIST: uncompressed IDX files are read too", async () => {
  await using tmp = await tempDir();
  await writeTinyMnist(tmp.path, 4, 3, false);
  const mnist = await loadMnist({ dir: tmp.path, dtype: "uint8" });
  assertEquals(mnist.train.labels, Int32Array.from([0, 1, 2, 3]));
  assertEquals(mnist.test.images[1], 7);
});

Deno.test("Fashion-MNIST: same layout, clothing class names", async () => {
  await using tmp = await tempDir();
  await writeTinyMnist(tmp.path, 2, 2);
  const fashion = await loadFashionMnist({ dir: tmp.path });
  assertEquals(fashion.labelNames, FASHION_MNIST_LABEL_NAMES);
  assertEquals(fashion.labelNames[9], "Ankle boot");
  assertEquals(fashion.test.shape, [2, 28, 28, 1]);
  await assertRejects(
    () => loadFashionMnist({ dir: tmp.path, verifyChecksum: true }),
    ChecksumError,
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
  );
});

Deno.test("parseIdx: bad magic, wrong rank, truncated and padded files", () => {
  const good = idx([2, 3], [1, 2, 3, 4, 5, 6]);
  assertEquals(parseIdx(good, "g").dims, [2, 3]);
  assertEquals(Array.from(parseIdx(good, "g").data), [1, 2, 3, 4, 5, 6]);
  assertThrows(
    () => parseIdx(Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]), "f"),
    CorruptFileError,
    "magic",
  );
  const floats = good.slice();
  floats[2] = 0x0d;
  assertThrows(() => parseIdx(floats, "f"), CorruptFileError, "element type 0d");
  assertThrows(
    () => parseIdx(good, "f", 3),
    CorruptFileError,
    "expected 3 dimension(s) (magic 2051)",
  );
  assertThrows(
    () => parseIdx(good.subarray(0, good.length - 1), "f"),
    CorruptFileError,
    "truncated",
  );
  assertThrows(() => parseIdx(Uint8Array.from([...good, 0]), "f"), CorruptFileError, "trailing");
  assertThrows(() => parseIdx(good.subarray(0, 6), "f"), CorruptFileError, "truncated IDX header");
  assertThrows(() => parseIdx(good.subarray(0, 3), "f"), CorruptFileError, "truncated");
});

Deno.test("parseIdx: corrupt and truncated gzip are CorruptFileErrors", () => {
  const packed = gzipSync(idx([100], new Uint8Array(100).fill(3)));
  assertEquals(parseIdx(packed, "ok.gz").dims, [100]);
  assertThrows(
    () => parseIdx(packed.subarray(0, packed.length - 12), "t.gz"),
    CorruptFileError,
    "t.gz",
  );
  const badCrc = packed.slice();
  badCrc[badCrc.length - 6] ^= 0xff;
  assertThrows(() => parseIdx(badCrc, "c.gz"), CorruptFileError, "CRC-32");
  const badLength = packed.slice();
  badLength[badLength.length - 4] ^= 0x01;
  assertThrows(() => parseIdx(badLength, "l.gz"), CorruptFileError, "length check");
});

Deno.test("MNIST: a truncated real file is a CorruptFileError naming it", async () => {
  await using tmp = await tempDir();
  await writeTinyMnist(tmp.path, 2, 2);
  const real = await Deno.readFile(join(MNIST_DIR, MNIST_FILES.testLabels));
  const cut = join(tmp.path, MNIST_FILES.testLabels);
  await Deno.writeFile(cut, real.subarray(0, real.length / 2));
  await assertRejects(() => loadMnist({ dir: tmp.path }), CorruptFileError, cut);
});

Deno.test("MNIST: mismatched counts and out-of-range labels are CorruptFileErrors", async () => {
  await using tmp = await tempDir();
  await writeTinyMnist(tmp.path, 3, 2);
  await Deno.writeFile(join(tmp.path, MNIST_FILES.trainLabels), gzipSync(idx([2], [1, 2])));
  await assertRejects(() => loadMnist({ dir: tmp.path }), CorruptFileError, "holds 2 labels");
  await Deno.writeFile(join(tmp.path, MNIST_FILES.trainLabels), gzipSync(idx([3], [1, 10, 2])));
  await assertRejects(() => loadMnist({ dir: tmp.path }), CorruptFileError, "label 1 is 10");
  await Deno.writeFile(
    join(tmp.path, MNIST_FILES.trainImages),
    gzipSync(idx([3, 28, 27], new Uint8Array(3 * 28 * 27))),
  );
  await assertRejects(() => loadMnist({ dir: tmp.path }), CorruptFileError, "28×28");
});

Deno.test("MNIST: downloads the real files from a mirror into the cache", async () => {
  const routes: Record<string, Uint8Array> = {};
  for (const name of Object.values(MNIST_FILES)) {
    routes[`mnist/${name}`] = await Deno.readFile(join(MNIST_DIR, name));
  }
  await using server = serveLocal(routes);
  await using cache = await tempDir();
  const mirrors = [closedPortUrl(), `${server.base}mnist/`];
  const mnist = await loadMnist({ cacheDir: cache.path, mirrors, dtype: "uint8" });
  assertEquals(mnist.train.shape, [60000, 28, 28, 1]);
  assertEquals(server.requests.length, 4);
  for (const name of Object.values(MNIST_FILES)) {
    assertEquals(
      await md5File(join(cache.path, "mnist", name)),
      await md5File(join(MNIST_DIR, name)),
    );
  }
  await loadMnist({ cacheDir: cache.path, mirrors, dtype: "uint8" });
  assertEquals(server.requests.length, 4, "the second load reads the cache");
});

Deno.test("MNIST: a mirror serving other bytes is a ChecksumError", async () => {
  await using tmp = await tempDir();
  await writeTinyMnist(tmp.path, 1, 1);
  const routes: Record<string, Uint8Array> = {};
  for (const name of Object.values(MNIST_FILES)) {
    routes[name] = await Deno.readFile(join(tmp.path, name));
  }
  await using server = serveLocal(routes);
  await using cache = await tempDir();
  await assertRejects(
    () => loadMnist({ cacheDir: cache.path, mirrors: [server.base] }),
    ChecksumError,
    MNIST_MD5.trainImages,
  );
});

Deno.test("MNIST: offline without files names the cache paths and mirrors", async () => {
  await using cache = await tempDir();
  const error = await assertRejects(
    () => loadMnist({ cacheDir: cache.path, mirrors: [closedPortUrl()] }),
    DatasetNotFoundError,
  );
  assertEquals(error.missing.length, 4);
  assertEquals(error.missing[0].path, join(cache.path, "mnist", MNIST_FILES.trainImages));
  const local = await assertRejects(
    () => loadMnist({ dir: cache.path }),
    DatasetNotFoundError,
    "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
  );
  assertEquals(local.missing.length, 4);
});

Deno.test("MNIST: an unknown dtype is an InvalidOptionError", async () => {
  await assertRejects(
    // deno-lint-ignore no-explicit-any
    () => loadMnist({ dir: MNIST_DIR, dtype: "float16" as any }),
    InvalidOptionError,
    "float16",
  );
});
