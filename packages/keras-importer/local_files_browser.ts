/**
 * The browser variant of `local_files.ts`, which `scripts/bundle.ts` substitutes for it in
 * browser bundles: there is no file system, so reading or writing a path is refused with a
 * {@link SourceError} that says what to pass instead. Same exports as `local_files.ts`.
 *
 * @module
 */
import { SourceError } from "./errors.ts";

/**
 * Whether a string without a URL scheme is a local file path (false here: it is a URL relative to
 * the page, or refused where there is no page location).
 */
export const PATHS_ARE_FILES: boolean = false;

/** Refuses to read a local file: file paths and `file:` URLs need Deno. */
export function readLocalFile(
  path: string | URL,
  label: string,
  _maxBytes: number,
): Promise<Uint8Array> {
  return Promise.reject(
    new SourceError(
      `cannot read the file path ${JSON.stringify(String(path))}: reading files needs Deno; ` +
        `here pass an http(s) URL, the bytes (Uint8Array) or a Blob/File`,
      label,
    ),
  );
}

/** Refuses to write a local file (throws at once): writing files needs Deno. */
export function localFileWriter(path: string | URL): (bytes: Uint8Array) => Promise<void> {
  throw new SourceError(
    `cannot write the file path ${JSON.stringify(String(path))}: writing files needs Deno; ` +
      `here use kerasArchiveBytes(model) and save the bytes (e.g. as a Blob download)`,
    String(path),
  );
}
