/**
 * MD5 digests (the checksums the data sets publish) and CRC-32 (gzip's own check, which fflate
 * does not verify).
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";

/** An incremental MD5 digest. */
export interface Md5 {
  /** Feeds bytes. */
  update(bytes: Uint8Array): void;
  /** The lower-case hex digest; call once. */
  hex(): string;
}

/** Starts an incremental MD5 digest. */
export function createMd5(): Md5 {
  const hash: Hash = createHash("md5");
  return {
    update(bytes) {
      hash.update(bytes);
    },
    hex() {
      return hash.digest("hex");
    },
  };
}

/** MD5 of a byte array, lower-case hex. */
export function md5Bytes(bytes: Uint8Array): string {
  const md5 = createMd5();
  md5.update(bytes);
  return md5.hex();
}

/** MD5 of a file, read in chunks, lower-case hex. */
export async function md5File(path: string): Promise<string> {
  const md5 = createMd5();
  // The readable stream closes the file when it ends or is cancelled.
  const file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) md5.update(chunk);
  return md5.hex();
}

let crcTable: Uint32Array | undefined;

function getCrcTable(): Uint32Array {
  if (crcTable) return crcTable;
  crcTable = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c >>> 0;
  }
  return crcTable;
}

/** Continues a CRC-32 (IEEE, as in gzip) over `bytes`; start with `crc = 0`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const table = getCrcTable();
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
