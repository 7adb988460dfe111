/**
 * The IDX format of MNIST-style files: a 4-byte magic (0, 0, element type, number of dims),
 * the dimensions as big-endian uint32, then the elements. Only unsigned bytes (type 0x08) are
 * supported, which is what MNIST and Fashion-MNIST use.
 *
 * @module
 */

import { gunzip, isGzip } from "./archive.ts";
import { CorruptFileError, InvalidOptionError } from "./errors.ts";
import type { ProgressSetting } from "./progress.ts";
import type { ArchiveLimits } from "./archive.ts";

/** An IDX array of unsigned bytes. */
export interface IdxArray {
  /** The dimensions, outermost first. */
  dims: number[];
  /** The elements, row-major. */
  data: Uint8Array;
}

const UNSIGNED_BYTE = 0x08;

/**
 * Parses an IDX file (gzip-compressed or not). `file` names the source in errors.
 *
 * @throws {CorruptFileError} bad magic, unsupported element type, wrong dimension count, or a
 *   size that does not match the header (truncated or padded file).
 */
export function parseIdx(
  bytes: Uint8Array,
  file: string,
  expectedRank?: number,
  progress?: ProgressSetting,
  limits?: Partial<ArchiveLimits>,
): IdxArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidOptionError("bytes", "the IDX file's bytes as a Uint8Array", typeof bytes);
  }
  const raw = isGzip(bytes) ? gunzip(bytes, file, progress, limits) : bytes;
  if (raw.length < 4) {
    throw new CorruptFileError(file, `truncated IDX file: ${raw.length} bytes, header needs 4+`);
  }
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new CorruptFileError(
      file,
      `not an IDX file: magic starts with ${hex(raw[0])} ${hex(raw[1])}, expected 00 00`,
    );
  }
  if (raw[2] !== UNSIGNED_BYTE) {
    throw new CorruptFileError(
      file,
      `unsupported IDX element type ${hex(raw[2])}, expected 08 (unsigned byte)`,
    );
  }
  const rank = raw[3];
  if (expectedRank !== undefined && rank !== expectedRank) {
    const magic = (UNSIGNED_BYTE << 8) | expectedRank;
    throw new CorruptFileError(
      file,
      `expected ${expectedRank} dimension(s) (magic ${magic}), found ${rank} (magic ${
        (raw[2] << 8) | rank
      })`,
    );
  }
  const headerBytes = 4 + 4 * rank;
  if (raw.length < headerBytes) {
    throw new CorruptFileError(
      file,
      `truncated IDX header: ${raw.length} bytes, expected ${headerBytes}`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const size = view.getUint32(4 + 4 * i, false);
    dims.push(size);
    count *= size;
  }
  const actual = raw.length - headerBytes;
  if (actual !== count) {
    throw new CorruptFileError(
      file,
      `IDX dims [${dims.join(", ")}] need ${count} data bytes, found ${actual}` +
        (actual < count ? " (truncated file)" : " (trailing bytes)"),
    );
  }
  return { dims, data: raw.subarray(headerBytes) };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
