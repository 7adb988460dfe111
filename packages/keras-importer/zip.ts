/**
 * Reading the entries of a `.keras` zip archive defensively: entry names that could leave the
 * archive (absolute, `..`, backslashes, drive letters, NUL) and duplicate names are refused,
 * declared sizes and compression ratios are checked against the limits before anything is
 * inflated, and every extracted entry must match its declared size and CRC-32.
 *
 * @module
 */
import { unzipSync } from "npm:fflate@0.8.2";
import { CorruptFileError, FormatError, ImportError } from "./errors.ts";
import { checkLimit, checkRatio, type ImportLimits } from "./limits.ts";

/** Whether an entry name could point outside the folder an archive is extracted to. */
export function isUnsafeEntryName(name: string): boolean {
  return name === "" || name.startsWith("/") || name.includes("\\") || name.includes("\0") ||
    /^[a-zA-Z]:/.test(name) || name.split("/").some((part) => part === "..");
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (the zip/gzip polynomial). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface DirectoryEntry {
  crc: number;
  originalSize: number;
}

/** The central directory's CRC-32 and size per entry name (zip64 sizes are not supported). */
function centralDirectory(bytes: Uint8Array, source: string): Map<string, DirectoryEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = bytes.length - 22; i >= 0 && i >= bytes.length - 22 - 65535; i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new CorruptFileError("zip archive has no end-of-directory record", source);
  const count = view.getUint16(end + 10, true);
  let offset = view.getUint32(end + 16, true);
  const entries = new Map<string, DirectoryEntry>();
  const names = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (offset + 46 > bytes.length || view.getUint32(offset, true) !== 0x02014b50) {
      throw new CorruptFileError(`zip central directory entry ${i} is damaged`, source);
    }
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    if (offset + 46 + nameLength > bytes.length) {
      throw new CorruptFileError(`zip central directory entry ${i} is truncated`, source);
    }
    const name = names.decode(bytes.subarray(offset + 46, offset + 46 + nameLength));
    entries.set(name, {
      crc: view.getUint32(offset + 16, true),
      originalSize: view.getUint32(offset + 24, true),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Extracts the entries for which `wanted(name)` is true. Every entry name is checked, wanted
 * or not; sizes are checked against `limits` before inflating.
 */
export function readZipEntries(
  bytes: Uint8Array,
  source: string,
  limits: ImportLimits,
  wanted: (name: string) => boolean,
): Record<string, Uint8Array> {
  const directory = centralDirectory(bytes, source);
  const seen = new Set<string>();
  let total = 0;
  const filter = (
    entry: { name: string; size: number; originalSize: number; compression: number },
  ): boolean => {
    const { name } = entry;
    if (isUnsafeEntryName(name)) {
      throw new FormatError(
        `archive entry ${JSON.stringify(name)} would escape the archive (absolute path, "..", ` +
          `backslash or NUL); refused`,
        source,
      );
    }
    if (seen.has(name)) throw new FormatError(`archive holds entry "${name}" twice`, source);
    seen.add(name);
    if (!wanted(name)) return false;
    if (entry.compression !== 0 && entry.compression !== 8) {
      throw new FormatError(
        `entry "${name}" uses compression method ${entry.compression} (expected 0 stored or ` +
          `8 deflate)`,
        source,
      );
    }
    if (entry.size > bytes.length) {
      throw new CorruptFileError(
        `entry "${name}" claims ${entry.size} stored bytes; the archive has ${bytes.length}`,
        source,
      );
    }
    const declared = entry.compression === 0 ? entry.size : entry.originalSize;
    total += declared;
    checkLimit(
      limits,
      "maxUncompressedBytes",
      `total uncompressed size of the entries read (up to "${name}")`,
      total,
      source,
    );
    if (entry.compression === 8) {
      checkRatio(limits, `entry "${name}"`, entry.originalSize, entry.size, source);
    }
    return true;
  };
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter });
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new CorruptFileError(`zip archive unreadable: ${(e as Error)?.message ?? e}`, source, {
      cause: e,
    });
  }
  for (const [name, data] of Object.entries(files)) {
    const declared = directory.get(name);
    if (!declared) {
      throw new CorruptFileError(`entry "${name}" is not in the central directory`, source);
    }
    if (data.length !== declared.originalSize) {
      throw new CorruptFileError(
        `entry "${name}" holds ${data.length} bytes, the directory says ${declared.originalSize}`,
        source,
      );
    }
    if (crc32(data) !== declared.crc) {
      throw new CorruptFileError(`entry "${name}" fails its CRC-32 check (corrupted)`, source);
    }
  }
  return files;
}
