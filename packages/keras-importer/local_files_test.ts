import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { join } from "node:path";
import { ResourceLimitError, SourceError } from "./errors.ts";
import * as denoFiles from "./local_files.ts";
import * as browserFiles from "./local_files_browser.ts";

// The browser bundle swaps the modules, so the variant must fit wherever the Deno one is used.
const variant: typeof denoFiles = browserFiles;

Deno.test("local files (Deno): reads, bounds and writes files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scratchnet-local-files-" });
  try {
    const path = join(dir, "x.bin");
    await denoFiles.localFileWriter(path)(Uint8Array.of(1, 2, 3));
    assertEquals(Array.from(await denoFiles.readLocalFile(path, "x.bin", 3)), [1, 2, 3]);
    await rejects(denoFiles.readLocalFile(path, "x.bin", 2), ResourceLimitError);
    await rejects(denoFiles.readLocalFile(dir, "dir", Infinity), /not a regular file/);
    await rejects(denoFiles.readLocalFile(join(dir, "none"), "none", Infinity), SourceError);
    assert(denoFiles.PATHS_ARE_FILES);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local files (browser variant): paths are refused with a SourceError", async () => {
  assert(!variant.PATHS_ARE_FILES);
  for (const path of ["models/x.keras", new URL("file:///tmp/x.keras")]) {
    await rejects(variant.readLocalFile(path, "x.keras", Infinity), (e: unknown) => {
      assert(e instanceof SourceError, String(e));
      assert(e.source === "x.keras", e.source);
      assert(/reading files needs Deno/.test(e.message), e.message);
      assert(/URL/.test(e.message) && /Blob/.test(e.message), e.message);
      return true;
    });
    try {
      variant.localFileWriter(path);
      assert(false, "localFileWriter accepted a path");
    } catch (e) {
      assert(e instanceof SourceError, String(e));
      assert(/writing files needs Deno/.test(e.message), e.message);
      assert(/kerasArchiveBytes/.test(e.message), e.message);
    }
  }
});
