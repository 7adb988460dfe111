import { join } from "node:path";
import { md5Bytes } from "./checksum.ts";
import { downloadFile, ensureCachedFiles } from "./download.ts";
import { ChecksumError, DatasetNotFoundError, DownloadError } from "./errors.ts";
import { assert, assertEquals, assertRejects } from "./test_assert.ts";
import { closedPortUrl, serveLocal, tempDir } from "./test_util.ts";

const payload = new TextEncoder().encode("scratchnet ".repeat(5000));
const payloadMd5 = md5Bytes(payload);

async function listDir(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) names.push(entry.name);
  return names.sort();
}

Deno.test("md5Bytes matches a known digest", () => {
  assertEquals(md5Bytes(new TextEncoder().encode("abc")), "900150983cd24fb0d6963f7d28e17f72");
});

Deno.test("downloadFile: writes the file once complete and MD5-checked", async () => {
  await using server = serveLocal({ "file.bin": payload });
  await using tmp = await tempDir();
  const dest = join(tmp.path, "nested", "file.bin");
  await downloadFile(`${server.base}file.bin`, dest, { md5: payloadMd5 });
  assertEquals(await Deno.readFile(dest), payload);
  assertEquals(await listDir(join(tmp.path, "nested")), ["file.bin"]);
});

Deno.test("downloadFile: an MD5 mismatch leaves nothing behind", async () => {
  await using server = serveLocal({ "file.bin": payload });
  await using tmp = await tempDir();
  const dest = join(tmp.path, "file.bin");
  const error = await assertRejects(
    () => downloadFile(`${server.base}file.bin`, dest, { md5: "0".repeat(32) }),
    ChecksumError,
  );
  assertEquals(error.expected, "0".repeat(32));
  assertEquals(error.actual, payloadMd5);
  assertEquals(await listDir(tmp.path), []);
});

Deno.test("downloadFile: HTTP 404 is a DownloadError with the status", async () => {
  await using server = serveLocal({});
  await using tmp = await tempDir();
  const error = await assertRejects(
    () => downloadFile(`${server.base}missing.bin`, join(tmp.path, "x.bin")),
    DownloadError,
    "HTTP 404",
  );
  assertEquals(error.status, 404);
  assertEquals(await listDir(tmp.path), []);
});

Deno.test("downloadFile: a refused connection is a DownloadError", async () => {
  await using tmp = await tempDir();
  const url = `${closedPortUrl()}x.bin`;
  const error = await assertRejects(
    () => downloadFile(url, join(tmp.path, "x.bin")),
    DownloadError,
    "network error",
  );
  assertEquals(error.url, url);
  assertEquals(error.status, undefined);
});

Deno.test("downloadFile: a body that breaks off is a DownloadError, no file kept", async () => {
  await using server = serveLocal({
    // Announces the whole payload but ends after 1,000 bytes.
    "broken.bin": () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(payload.subarray(0, 1000));
            controller.close();
          },
        }),
        { headers: { "content-length": String(payload.length) } },
      ),
  });
  await using tmp = await tempDir();
  await assertRejects(
    () => downloadFile(`${server.base}broken.bin`, join(tmp.path, "x.bin")),
    DownloadError,
  );
  assertEquals(await listDir(tmp.path), []);
});

Deno.test("downloadFile: a stalled transfer is aborted after the idle timeout", async () => {
  let release: () => void = () => {};
  const stalled = new Promise<void>((resolve) => (release = resolve));
  await using server = serveLocal({
    "slow.bin": () =>
      new Response(
        new ReadableStream({
          async start(controller) {
            controller.enqueue(payload.subarray(0, 100));
            await stalled;
            controller.close();
          },
        }),
      ),
  });
  await using tmp = await tempDir();
  try {
    await assertRejects(
      () => downloadFile(`${server.base}slow.bin`, join(tmp.path, "x.bin"), { idleTimeoutMs: 200 }),
      DownloadError,
      "no data for 0.2 s",
    );
  } finally {
    release();
  }
  assertEquals(await listDir(tmp.path), []);
});

Deno.test("ensureCachedFiles: falls back to the next mirror", async () => {
  await using server = serveLocal({ "b/file.bin": payload });
  await using tmp = await tempDir();
  const path = join(tmp.path, "file.bin");
  await ensureCachedFiles("Test", [{
    path,
    urls: [`${server.base}a/file.bin`, `${server.base}b/file.bin`],
    md5: payloadMd5,
  }]);
  assertEquals(server.requests, ["a/file.bin", "b/file.bin"]);
  assertEquals(await Deno.readFile(path), payload);
});

Deno.test("ensureCachedFiles: a mirror with wrong bytes is a ChecksumError", async () => {
  await using server = serveLocal({ "file.bin": "not the payload" });
  await using tmp = await tempDir();
  await assertRejects(
    () =>
      ensureCachedFiles("Test", [{
        path: join(tmp.path, "file.bin"),
        urls: [`${server.base}file.bin`],
        md5: payloadMd5,
      }]),
    ChecksumError,
    payloadMd5,
  );
  assertEquals(await listDir(tmp.path), []);
});

Deno.test("ensureCachedFiles: an existing file is checked, never replaced", async () => {
  await using server = serveLocal({ "file.bin": payload });
  await using tmp = await tempDir();
  const path = join(tmp.path, "file.bin");
  await Deno.writeTextFile(path, "my own file");
  const file = { path, urls: [`${server.base}file.bin`], md5: payloadMd5 };
  await assertRejects(() => ensureCachedFiles("Test", [file]), ChecksumError, "Delete the file");
  assertEquals(await Deno.readTextFile(path), "my own file");
  // Without checking, the user's file is taken as is.
  await ensureCachedFiles("Test", [file], { verifyChecksum: false });
  assertEquals(await Deno.readTextFile(path), "my own file");
  assertEquals(server.requests, []);
});

Deno.test("ensureCachedFiles: offline lists every missing file with its URLs", async () => {
  await using tmp = await tempDir();
  const base = closedPortUrl();
  const error = await assertRejects(
    () =>
      ensureCachedFiles("Test", [
        { path: join(tmp.path, "a.bin"), urls: [`${base}a.bin`] },
        { path: join(tmp.path, "b.bin"), urls: [`${base}b.bin`, `${base}mirror/b.bin`] },
      ]),
    DatasetNotFoundError,
  );
  assertEquals(error.dataset, "Test");
  assertEquals(error.missing, [
    { path: join(tmp.path, "a.bin"), urls: [`${base}a.bin`] },
    { path: join(tmp.path, "b.bin"), urls: [`${base}b.bin`, `${base}mirror/b.bin`] },
  ]);
  assert(error.cause instanceof DownloadError);
  assert(error.message.includes(`${base}mirror/b.bin`));
});
