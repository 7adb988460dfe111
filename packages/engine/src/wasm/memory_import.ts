/**
 * The kernel modules import their linear memory (`env.memory`) declared shared, so worker threads
 * can run kernels on the same memory. Where shared memory is unavailable (a browser page without
 * cross-origin isolation) the engine clears the import's shared flag and runs single-threaded:
 * the kernels use no atomics, so the same code is valid on an unshared memory.
 */

/** Limits of a module's memory import and where its flags byte sits in the binary. */
export interface MemoryImport {
  /** Byte offset of the limits flags (0x01: min + max, 0x03: shared, min + max). */
  flagsOffset: number;
  shared: boolean;
  /** Minimum pages. */
  initial: number;
  /** Maximum pages (undefined: none declared). */
  maximum?: number;
}

function readU32(bytes: Uint8Array, pos: number): [number, number] {
  let result = 0, shift = 0, b: number;
  do {
    if (pos >= bytes.length) throw new Error("wasm binary: truncated LEB128");
    b = bytes[pos++];
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [result, pos];
}

function skipName(bytes: Uint8Array, pos: number): [string, number] {
  const [len, p] = readU32(bytes, pos);
  return [new TextDecoder().decode(bytes.subarray(p, p + len)), p + len];
}

function skipLimits(bytes: Uint8Array, pos: number): number {
  const flags = bytes[pos++];
  [, pos] = readU32(bytes, pos);
  if (flags & 1) [, pos] = readU32(bytes, pos);
  return pos;
}

/** Finds the `env.memory` import of a wasm binary, or undefined when it defines its own. */
export function findMemoryImport(bytes: Uint8Array): MemoryImport | undefined {
  let pos = 8; // magic + version
  while (pos < bytes.length) {
    const id = bytes[pos++];
    let size: number;
    [size, pos] = readU32(bytes, pos);
    const end = pos + size;
    if (id === 2) {
      let count: number;
      [count, pos] = readU32(bytes, pos);
      for (let i = 0; i < count; i++) {
        let module: string, field: string;
        [module, pos] = skipName(bytes, pos);
        [field, pos] = skipName(bytes, pos);
        const kind = bytes[pos++];
        if (kind === 0) [, pos] = readU32(bytes, pos); // function: type index
        else if (kind === 1) pos = skipLimits(bytes, pos + 1); // table: reftype + limits
        else if (kind === 3) pos += 2; // global: valtype + mutability
        else if (kind === 4) [, pos] = readU32(bytes, pos + 1); // tag: attribute + type
        else if (kind === 2) {
          const flagsOffset = pos;
          const flags = bytes[pos++];
          let initial: number, maximum: number | undefined;
          [initial, pos] = readU32(bytes, pos);
          if (flags & 1) [maximum, pos] = readU32(bytes, pos);
          if (module === "env" && field === "memory") {
            return { flagsOffset, shared: (flags & 2) !== 0, initial, maximum };
          }
        } else throw new Error(`wasm binary: unknown import kind ${kind}`);
      }
      return undefined;
    }
    pos = end;
  }
  return undefined;
}

/** A copy of `bytes` whose memory import is not shared (unchanged when it is not). */
export function withUnsharedMemory(bytes: Uint8Array): Uint8Array {
  const mem = findMemoryImport(bytes);
  if (!mem?.shared) return bytes;
  const copy = bytes.slice();
  copy[mem.flagsOffset] &= ~2;
  return copy;
}

/** Whether this runtime can create a shared WebAssembly.Memory. */
export function sharedMemorySupported(): boolean {
  try {
    if (typeof SharedArrayBuffer !== "function") return false;
    const m = new WebAssembly.Memory(
      { initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor,
    );
    return m.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}
