/**
 * Reading compressed data: gzip through fflate (with the CRC-32 and length check fflate skips)
 * and tar archives through nanotar.
 *
 * @module
 */

import { Gunzip, gunzipSync } from "npm:fflate@0.8.2";
import { parseTar } from "npm:nanotar@0.3.0";
import { crc32 } from "./checksum.ts";
import { CorruptFileError, InvalidOptionError, ResourceLimitError } from "./errors.ts";
import { createProgress, type Progress, type ProgressSetting } from "./progress.ts";

/** True if `bytes` starts with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Input slice per push when inflating with a progress bar (bounds each output burst). */
const CHUNK = 1 << 20;

/** Limits applied before inflating compressed data; each is a maximum. */
export interface ArchiveLimits {
  /** Declared uncompressed size (gzip trailer). Default 1 GiB (the gzip trailer holds < 4 GiB). */
  maxUncompressedBytes: number;
  /** Declared uncompressed size over compressed size, checked above 1 MiB. Default 100. */
  maxCompressionRatio: number;
}

/** The defaults (documented in `SECURITY.md`). */
export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxUncompressedBytes: 1024 ** 3,
  maxCompressionRatio: 100,
});

/** Declared sizes up to this many bytes are exempt from the ratio check. */
const RATIO_EXEMPT_BYTES = 1 << 20;

/** Merges user limits over the defaults, refusing values that are not positive numbers. */
export function resolveArchiveLimits(limits?: Partial<ArchiveLimits>): ArchiveLimits {
  if (limits === undefined) return { ...DEFAULT_ARCHIVE_LIMITS };
  if (typeof limits !== "object" || limits === null) {
    throw new InvalidOptionError("limits", "an object", limits);
  }
  const out: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS };
  for (const key of Object.keys(DEFAULT_ARCHIVE_LIMITS) as (keyof ArchiveLimits)[]) {
    const value = limits[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0)) {
      throw new InvalidOptionError(`limits.${key}`, "a positive number", value);
    }
    out[key] = value;
  }
  return out;
}

/**
 * Decompresses a gzip file's bytes. `file` names the source in errors.
 *
 * @throws {CorruptFileError} not gzip, truncated, bad deflate data, or CRC-32 / length mismatch.
 */
export function gunzip(
  bytes: Uint8Array,
  file: string,
  progress?: ProgressSetting,
  limits?: Partial<ArchiveLimits>,
): Uint8Array {
  const { maxUncompressedBytes, maxCompressionRatio } = resolveArchiveLimits(limits);
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidOptionError("bytes", "the file's bytes as a Uint8Array", typeof bytes);
  }
  if (!isGzip(bytes)) {
    throw new CorruptFileError(file, "not a gzip file (expected magic bytes 1f 8b)");
  }
  if (bytes.length < 18) {
    throw new CorruptFileError(file, `truncated gzip file (${bytes.length} bytes)`);
  }
  // fflate allocates the output from the trailer's length field before inflating: check it
  // first (a truncated file's "trailer" is arbitrary data).
  const declared = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4)
    .getUint32(0, true);
  if (declared > maxUncompressedBytes) {
    throw new ResourceLimitError(
      file,
      "maxUncompressedBytes",
      "declared uncompressed size (gzip trailer)",
      declared,
      maxUncompressedBytes,
    );
  }
  if (declared > RATIO_EXEMPT_BYTES && declared / bytes.length > maxCompressionRatio) {
    throw new ResourceLimitError(
      file,
      "maxCompressionRatio",
      `compression ratio (${declared} declared / ${bytes.length} bytes)`,
      Math.round(declared / bytes.length),
      maxCompressionRatio,
    );
  }
  // Small files inflate in a blink; a bar for them would only flicker.
  const bar = createProgress(`gunzip ${basename(file)}`, bytes.length, {
    enabled: bytes.length < 1 << 20 ? false : progress,
  });
  const { data, crc } = bar.enabled
    ? inflateInChunks(bytes, file, bar, declared)
    : inflateAtOnce(bytes, file);
  // The trailer of a (single-member) gzip file holds the CRC-32 and the length mod 2^32.
  const trailer = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 8);
  const expectedCrc = trailer.getUint32(0, true);
  const expectedLength = trailer.getUint32(4, true);
  if (expectedLength !== data.length % 2 ** 32) {
    throw new CorruptFileError(
      file,
      `gzip length check failed: trailer says ${expectedLength} bytes, inflated ${data.length}`,
    );
  }
  if (expectedCrc !== crc) {
    throw new CorruptFileError(file, "gzip CRC-32 check failed: the data is corrupt");
  }
  return data;
}

function inflateError(file: string, error: unknown): CorruptFileError {
  const message = error instanceof Error ? error.message : String(error);
  return new CorruptFileError(file, `invalid gzip data (${message})`, { cause: error });
}

function inflateAtOnce(bytes: Uint8Array, file: string): { data: Uint8Array; crc: number } {
  let data: Uint8Array;
  try {
    data = gunzipSync(bytes);
  } catch (error) {
    throw inflateError(file, error);
  }
  return { data, crc: crc32(data) };
}

/** Inflates in slices so the progress bar can move; slower than one call, used only on a TTY. */
function inflateInChunks(
  bytes: Uint8Array,
  file: string,
  bar: Progress,
  declared: number,
): { data: Uint8Array; crc: number } {
  const chunks: Uint8Array[] = [];
  let length = 0;
  let crc = 0;
  const inflater = new Gunzip((chunk) => {
    length += chunk.length;
    // Stop as soon as the output passes the (already checked) declared size.
    if (length > declared) {
      throw new CorruptFileError(
        file,
        `gzip data inflates past the ${declared} bytes its trailer declares`,
      );
    }
    chunks.push(chunk);
    crc = crc32(chunk, crc);
  });
  try {
    for (let offset = 0; offset < bytes.length; offset += CHUNK) {
      const end = Math.min(bytes.length, offset + CHUNK);
      inflater.push(bytes.subarray(offset, end), end === bytes.length);
      bar.add(end - offset);
    }
  } catch (error) {
    if (error instanceof CorruptFileError) throw error;
    throw inflateError(file, error);
  } finally {
    bar.done();
  }
  if (chunks.length === 1) return { data: chunks[0], crc };
  const data = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return { data, crc };
}

/** One regular file read from a tar archive. */
export interface TarEntry {
  /** Path inside the archive, with `/` separators. */
  name: string;
  /** The file's bytes (a view into the archive buffer). */
  data: Uint8Array;
}

/**
 * Lists the regular files of an (uncompressed) tar archive for which `keep(name)` is true.
 *
 * @throws {CorruptFileError} an entry runs past the end of the archive.
 */
export function readTar(
  tar: Uint8Array,
  file: string,
  keep: (name: string) => boolean = () => true,
): TarEntry[] {
  if (!(tar instanceof Uint8Array)) {
    throw new InvalidOptionError("tar", "the archive's bytes as a Uint8Array", typeof tar);
  }
  // nanotar reads `tar.buffer` from offset 0, so hand it a buffer that starts with the archive.
  const own = tar.byteOffset === 0 && tar.byteLength === tar.buffer.byteLength ? tar : tar.slice();
  let items;
  try {
    items = parseTar(own, {
      filter: (meta) =>
        (meta.type === "file" || meta.type === "contiguousFile") &&
        keep(meta.name.replace(/^\.\//, "")),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CorruptFileError(file, `invalid or truncated tar archive (${message})`, {
      cause: error,
    });
  }
  return items.map((item) => ({
    name: item.name.replace(/^\.\//, ""),
    data: item.data ?? new Uint8Array(0),
  }));
}

function basename(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}
