/**
 * Turning a model source (path, URL, bytes, Blob) into bytes, and recognising formats by
 * their magic bytes.
 *
 * @module
 */
import { SourceError } from "./errors.ts";
import { isHdf5 } from "./hdf5_read.ts";

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

function hasDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

/** Reads a source completely. Paths are read from disk in Deno and fetched elsewhere. */
export async function readSource(source: ByteSource, name?: string): Promise<SourceBytes> {
  if (source instanceof Uint8Array) return { bytes: source, name: name ?? "<bytes>" };
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    const label = name ?? ((source as File).name || "<blob>");
    try {
      return { bytes: new Uint8Array(await source.arrayBuffer()), name: label };
    } catch (e) {
      throw new SourceError(`cannot read Blob: ${(e as Error).message}`, label, { cause: e });
    }
  }
  if (typeof source === "string" && !URL_SCHEME.test(source) && hasDeno()) {
    try {
      return { bytes: await Deno.readFile(source), name: name ?? source, location: source };
    } catch (e) {
      throw new SourceError(`cannot read file: ${(e as Error).message}`, source, { cause: e });
    }
  }
  if (typeof source === "string" || source instanceof URL) {
    const url = typeof source === "string"
      ? new URL(source, (globalThis as { location?: { href: string } }).location?.href)
      : source;
    const label = name ?? url.href;
    if (url.protocol === "file:" && hasDeno()) {
      try {
        return { bytes: await Deno.readFile(url), name: label, location: url };
      } catch (e) {
        throw new SourceError(`cannot read file: ${(e as Error).message}`, label, { cause: e });
      }
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
    return { bytes: new Uint8Array(await response.arrayBuffer()), name: label, location: url };
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
