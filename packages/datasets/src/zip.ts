/**
 * Reading zip archives entry by entry from disk: the central directory is read once, then each
 * entry's bytes are read (in large sequential blocks) and, when deflated, inflated with fflate on
 * their own. The archive is never held decoded in memory as a whole.
 *
 * @module
 */

import { inflateSync } from "npm:fflate@0.8.2";
import { crc32 } from "./checksum.ts";
import { CorruptFileError } from "./errors.ts";

/** One file entry of a zip archive (directories are not listed). */
export interface ZipEntry {
  /** Path inside the archive, with `/` separators. */
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  /** Bytes stored in the archive. */
  compressedSize: number;
  /** Bytes once extracted. */
  size: number;
  /** CRC-32 of the extracted bytes. */
  crc: number;
  /** Offset of the entry's local header. */
  offset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const decoder = new TextDecoder();

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    const n = await file.read(out.subarray(done));
    if (n === null) break;
    done += n;
  }
  return done === length ? out : out.subarray(0, done);
}

/**
 * Lists the file entries of the zip archive at `path`.
 *
 * @throws {CorruptFileError} no end-of-central-directory record, a zip64 archive, or a
 *   malformed central directory.
 */
export async function listZip(path: string): Promise<ZipEntry[]> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const tailLength = Math.min(size, 22 + 0xffff);
  const tail = await readAt(file, size - tailLength, tailLength);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new CorruptFileError(
      path,
      "not a zip archive (no end-of-central-directory record; truncated?)",
    );
  }
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
    throw new CorruptFileError(path, "zip64 archives are not supported (expected a classic zip)");
  }
  if (cdOffset + cdSize > size) {
    throw new CorruptFileError(
      path,
      `central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the ` +
        `${size}-byte file: truncated archive`,
    );
  }
  const cd = await readAt(file, cdOffset, cdSize);
  const cdView = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cdView.getUint32(p, true) !== CENTRAL) {
      throw new CorruptFileError(path, `central directory entry ${i} is malformed`);
    }
    const method = cdView.getUint16(p + 10, true);
    const crc = cdView.getUint32(p + 16, true);
    const compressedSize = cdView.getUint32(p + 20, true);
    const uncompressed = cdView.getUint32(p + 24, true);
    const nameLength = cdView.getUint16(p + 28, true);
    const extraLength = cdView.getUint16(p + 30, true);
    const commentLength = cdView.getUint16(p + 32, true);
    const offset = cdView.getUint32(p + 42, true);
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLength));
    p += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue;
    entries.push({ name, method, compressedSize, size: uncompressed, crc, offset });
  }
  return entries;
}

/** Upper bound of one sequential read, in bytes. */
const BLOCK = 8 << 20;

/**
 * Reads the bytes of `entries` (from {@linkcode listZip}) in archive order, calling
 * `onEntry(index, bytes)` with each entry's position in `entries` and its extracted bytes.
 * Reads happen in blocks of up to 8 MB, so only one block and one entry are in memory at a time.
 *
 * @throws {CorruptFileError} a bad local header, an unsupported compression method, bad deflate
 *   data, a CRC-32 mismatch, or an entry past the end of the file. The error names the entry.
 */
export async function readZipEntries(
  path: string,
  entries: readonly ZipEntry[],
  onEntry: (index: number, bytes: Uint8Array) => void | Promise<void>,
): Promise<void> {
  const order = entries.map((_, i) => i).sort((a, b) => entries[a].offset - entries[b].offset);
  using file = await Deno.open(path, { read: true });
  let block: Uint8Array = new Uint8Array(0);
  let blockStart = 0;
  const slice = async (offset: number, length: number): Promise<Uint8Array> => {
    if (offset < blockStart || offset + length > blockStart + block.length) {
      block = await readAt(file, offset, Math.max(length, BLOCK));
      blockStart = offset;
    }
    return block.subarray(offset - blockStart, offset - blockStart + length);
  };
  for (const index of order) {
    const entry = entries[index];
    const where = `${path}:${entry.name}`;
    // Local header: 30 bytes + name + extra (its lengths may differ from the central record).
    const header = await slice(entry.offset, 30);
    const hv = new DataView(header.buffer, header.byteOffset, header.byteLength);
    if (header.length < 30 || hv.getUint32(0, true) !== LOCAL) {
      throw new CorruptFileError(where, "bad local file header (truncated or corrupt archive)");
    }
    const dataStart = entry.offset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
    const raw = await slice(dataStart, entry.compressedSize);
    if (raw.length < entry.compressedSize) {
      throw new CorruptFileError(where, "entry runs past the end of the archive (truncated)");
    }
    let bytes: Uint8Array;
    if (entry.method === 0) {
      bytes = raw;
    } else if (entry.method === 8) {
      try {
        bytes = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (error) {
        throw new CorruptFileError(where, `invalid deflate data (${String(error)})`, {
          cause: error,
        });
      }
    } else {
      throw new CorruptFileError(
        where,
        `compression method ${entry.method} is not supported (expected 0 stored or 8 deflate)`,
      );
    }
    if (bytes.length !== entry.size || crc32(bytes) !== entry.crc) {
      throw new CorruptFileError(where, "CRC-32 or length mismatch: the entry is corrupt");
    }
    await onEntry(index, bytes);
  }
}
