/**
 * Local file access for path sources and {@link saveKeras}: Deno's file system. Browser bundles
 * replace this module with `local_files_browser.ts` (see `scripts/bundle.ts`), so that no Deno API
 * reaches them; both modules export the same names.
 *
 * @module
 */
import { ResourceLimitError, SourceError } from "./errors.ts";

/**
 * Whether a string without a URL scheme is a local file path (true here: Deno reads it from
 * disk). Where this is false, such a string is a URL relative to the page.
 */
export const PATHS_ARE_FILES: boolean = true;

function checkSize(size: number, maxBytes: number, label: string): void {
  if (size > maxBytes) {
    throw new ResourceLimitError("maxFileBytes", "file size", size, maxBytes, label);
  }
}

/**
 * Reads a local file (a path or a `file:` URL), refusing one larger than `maxBytes` before
 * reading it. Errors are {@link SourceError}s naming `label`.
 */
export async function readLocalFile(
  path: string | URL,
  label: string,
  maxBytes: number,
): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new SourceError(`cannot read file: ${(e as Error).message}`, label, { cause: e });
  }
  // Devices and pipes may never end; directories cannot be read.
  if (!info.isFile) throw new SourceError("not a regular file", label);
  checkSize(info.size, maxBytes, label);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new SourceError(`cannot read file: ${(e as Error).message}`, label, { cause: e });
  }
  checkSize(bytes.length, maxBytes, label); // the file may have grown since stat
  return bytes;
}

/**
 * A function writing bytes to a local file (a path or a `file:` URL), replacing it. Asked for
 * before the bytes are made, so that where files cannot be written the refusal comes first.
 */
export function localFileWriter(path: string | URL): (bytes: Uint8Array) => Promise<void> {
  return (bytes) => Deno.writeFile(path, bytes);
}
