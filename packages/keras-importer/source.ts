/**
 * Turning a model source (path, URL, bytes, Blob) into bytes, and recognising formats by
 * their magic bytes.
 *
 * @module
 */
import { ResourceLimitError, SourceError } from "./errors.ts";
import { isHdf5 } from "./hdf5_read.ts";
import { PATHS_ARE_FILES, readLocalFile } from "./local_files.ts";

/** Where a model file comes from. */
export type ByteSource = string | URL | Uint8Array | Blob;

/** Bytes read from a source, with a display name and (for paths/URLs) where they came from. */
export interface SourceBytes {
  bytes: Uint8Array;
  /** File name or URL used in errors and `meta.sourceName`. */
  name: string;
  /** The path or URL the bytes were read from, for resolving sibling files (TF.js shards). */
  location?: string | URL;
}

/** The container kind detected from magic bytes. */
export type ContainerKind = "zip" | "hdf5" | "json";

const URL_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/** The page's (or worker's) location, against which relative URLs resolve; none in Deno. */
function pageLocation(): string | undefined {
  return (globalThis as { location?: { href: string } }).location?.href;
}

function checkSize(size: number, maxBytes: number, label: string): void {
  if (size > maxBytes) {
    throw new ResourceLimitError("maxFileBytes", "file size", size, maxBytes, label);
  }
}

/** Reads a response body, refusing more than `maxBytes` (checked as the body arrives). */
async function readBody(response: Response, label: string, maxBytes: number) {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared)) checkSize(declared, maxBytes, label);
  if (!response.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      checkSize(total, maxBytes, label);
      parts.push(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    if (e instanceof ResourceLimitError) throw e;
    throw new SourceError(`fetch failed while reading: ${(e as Error).message}`, label, {
      cause: e,
    });
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Reads a source completely. Paths and `file:` URLs are read from disk in Deno (and refused by
 * the browser bundle, see `local_files_browser.ts`); in a page, a string without a scheme is a
 * URL relative to the page. A file or body larger than `maxBytes` is refused before (or, for a
 * body without a length, while) it is read.
 */
export async function readSource(
  source: ByteSource,
  name?: string,
  maxBytes = Infinity,
): Promise<SourceBytes> {
  if (source instanceof Uint8Array) return { bytes: source, name: name ?? "<bytes>" };
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    const label = name ?? ((source as File).name || "<blob>");
    checkSize(source.size, maxBytes, label);
    try {
      return { bytes: new Uint8Array(await source.arrayBuffer()), name: label };
    } catch (e) {
      throw new SourceError(`cannot read Blob: ${(e as Error).message}`, label, { cause: e });
    }
  }
  // A string without a scheme is a file path in Deno; in a page or worker it is a URL relative to
  // the page, and with neither it can only be a path (refused by the browser bundle).
  if (
    typeof source === "string" && !URL_SCHEME.test(source) &&
    (PATHS_ARE_FILES || pageLocation() === undefined)
  ) {
    const label = name ?? source;
    return { bytes: await readLocalFile(source, label, maxBytes), name: label, location: source };
  }
  if (typeof source === "string" || source instanceof URL) {
    let url: URL;
    try {
      url = typeof source === "string" ? new URL(source, pageLocation()) : source;
    } catch (e) {
      throw new SourceError(`not a path or URL: ${(e as Error).message}`, name ?? String(source));
    }
    const label = name ?? url.href;
    if (url.protocol === "file:") {
      return { bytes: await readLocalFile(url, label, maxBytes), name: label, location: url };
    }
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new SourceError(`fetch failed: ${(e as Error).message}`, label, { cause: e });
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new SourceError(`fetch failed: HTTP ${response.status}`, label);
    }
    return { bytes: await readBody(response, label, maxBytes), name: label, location: url };
  }
  throw new SourceError(
    `unsupported source type ${Object.prototype.toString.call(source)}`,
    name ?? "<source>",
  );
}

/** Recognises a zip archive, an HDF5 file or a JSON document by its first bytes. */
export function detectContainer(bytes: Uint8Array): ContainerKind | undefined {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    return "zip";
  }
  if (isHdf5(bytes)) return "hdf5";
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 BOM
  while (
    i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a ||
      bytes[i] === 0x0d)
  ) i++;
  if (bytes[i] === 0x7b) return "json";
  return undefined;
}

/** Resolves a file name relative to the directory of `location` (a path or URL). */
export function siblingLocation(location: string | URL, file: string): string | URL {
  if (location instanceof URL) return new URL(file, location);
  if (URL_SCHEME.test(location)) return new URL(file, location).href;
  const slash = Math.max(location.lastIndexOf("/"), location.lastIndexOf("\\"));
  return slash < 0 ? file : location.slice(0, slash + 1) + file;
}
