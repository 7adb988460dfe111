/**
 * Gzip inputs are checked against the archive limits before inflating: a trailer declaring
 * gigabytes, or a compression ratio no real data set reaches, is a typed error.
 */
import { join } from "node:path";
import { gzipSync } from "npm:fflate@0.8.2";
import { DEFAULT_ARCHIVE_LIMITS, gunzip } from "./archive.ts";
import { CorruptFileError, InvalidOptionError, ResourceLimitError } from "./errors.ts";
import { parseIdx } from "./idx.ts";
import { loadCifar10 } from "./cifar10.ts";
import { loadMnist } from "./mnist.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "./test_assert.ts";
import { SHARED_DATA, tempDir } from "./test_util.ts";

function withTrailerSize(gz: Uint8Array, size: number): Uint8Array {
  const out = gz.slice();
  new DataView(out.buffer).setUint32(out.length - 4, size, true);
  return out;
}

Deno.test("gunzip: a trailer declaring more than maxUncompressedBytes is refused", () => {
  const gz = gzipSync(new Uint8Array(1000).map((_, i) => i * 7), { mtime: 0 });
  const e = assertThrows(
    () => gunzip(withTrailerSize(gz, 0xfffffff0), "x.gz"),
    ResourceLimitError,
    "x.gz",
  );
  assertEquals(e.limit, "maxUncompressedBytes");
  assertEquals(e.requested, 0xfffffff0);
  assertEquals(e.maximum, DEFAULT_ARCHIVE_LIMITS.maxUncompressedBytes);
  // A smaller lie passes the limit and is caught by the length/CRC checks instead.
  assertThrows(() => gunzip(withTrailerSize(gz, 999), "x.gz"), CorruptFileError);
  assertEquals(gunzip(gz, "x.gz").length, 1000);
});

Deno.test("gunzip: data expanding more than maxCompressionRatio is refused unless allowed", () => {
  const zeros = gzipSync(new Uint8Array(4 << 20), { mtime: 0, level: 9 }); // ~1000:1
  assertThrows(() => gunzip(zeros, "zeros.gz"), ResourceLimitError, "maxCompressionRatio");
  assertEquals(gunzip(zeros, "zeros.gz", false, { maxCompressionRatio: 5000 }).length, 4 << 20);
  assertThrows(
    () =>
      gunzip(zeros, "zeros.gz", false, { maxCompressionRatio: 5000, maxUncompressedBytes: 1e6 }),
    ResourceLimitError,
    "maxUncompressedBytes",
  );
  for (const limits of [{ maxCompressionRatio: 0 }, { maxUncompressedBytes: -1 }]) {
    assertThrows(() => gunzip(zeros, "zeros.gz", false, limits), InvalidOptionError, "limits.");
  }
  // Real data sets stay far below the default ratio (MNIST images: ~4.8:1).
  assert(DEFAULT_ARCHIVE_LIMITS.maxCompressionRatio >= 20, "default ratio too tight");
});

Deno.test("loaders pass their limits on: parseIdx, loadMnist, loadCifar10", async () => {
  const labels = await Deno.readFile(join(SHARED_DATA, "mnist", "t10k-labels-idx1-ubyte.gz"));
  assertEquals(parseIdx(labels, "labels.gz", 1).dims, [10000]);
  assertThrows(
    () => parseIdx(labels, "labels.gz", 1, false, { maxUncompressedBytes: 5000 }),
    ResourceLimitError,
    "labels.gz",
  );
  await assertRejects(
    () =>
      loadMnist({
        dir: join(SHARED_DATA, "mnist"),
        progress: false,
        limits: { maxUncompressedBytes: 1 << 20 },
      }),
    ResourceLimitError,
    "train-images-idx3-ubyte.gz",
  );
  await using tmp = await tempDir();
  const tgz = gzipSync(new Uint8Array(2 << 20), { mtime: 0 });
  await Deno.writeFile(join(tmp.path, "cifar-10-binary.tar.gz"), tgz);
  await assertRejects(
    () => loadCifar10({ dir: tmp.path, progress: false }),
    ResourceLimitError,
    "cifar-10-binary.tar.gz",
  );
});
