/**
 * Allocation tracking for the fuzz runner. Importing this module replaces the global
 * `ArrayBuffer` and typed-array constructors with transparent proxies that record the byte size
 * of every buffer allocated through them (`new Uint8Array(n)`, `new Float32Array(list)`,
 * `Float32Array.from(...)`, `new ArrayBuffer(n)`), so the runner sees the largest single
 * allocation of a case even when it was freed (or failed) before the case ended.
 *
 * It must be evaluated before the code under test captures the constructors (fflate keeps
 * `var u8 = Uint8Array` at load time), which is why the runner imports the targets dynamically.
 * Views over an existing buffer (`new Uint8Array(buffer, offset, length)`) allocate nothing and
 * are not counted; `slice()` and `subarray()` of an existing array are bounded by it.
 *
 * @module
 */

/** The running maximum and total since the last {@link resetAllocations}. */
export interface AllocationStats {
  /** Largest single buffer requested, in bytes (recorded before the allocation, so it counts
   * even when the allocation throws). */
  largest: number;
  /** Sum of all buffers requested. */
  total: number;
  /** What requested the largest buffer, e.g. `"Float32Array(1048576)"`. */
  largestWhat: string;
}

const stats: AllocationStats = { largest: 0, total: 0, largestWhat: "" };

/** Starts counting afresh (call before each case). */
export function resetAllocations(): void {
  stats.largest = 0;
  stats.total = 0;
  stats.largestWhat = "";
}

/** The counts since the last reset. */
export function allocationStats(): AllocationStats {
  return { ...stats };
}

function record(bytes: number, what: string): void {
  if (!Number.isFinite(bytes) || bytes <= 0) return;
  stats.total += bytes;
  if (bytes > stats.largest) {
    stats.largest = bytes;
    stats.largestWhat = what;
  }
}

function requestedElements(args: unknown[]): number {
  const first = args[0];
  if (typeof first === "number") return first;
  if (first === undefined || first === null) return 0;
  if (first instanceof ArrayBufferOriginal || first instanceof SharedArrayBuffer) return 0;
  if (typeof first === "object" && "length" in (first as object)) {
    return Number((first as { length: unknown }).length) || 0;
  }
  return 0;
}

const ArrayBufferOriginal = globalThis.ArrayBuffer;
const TYPED_ARRAYS = [
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
] as const;

let installed = false;

/** Replaces the global constructors (idempotent). */
export function installAllocationTracking(): void {
  if (installed) return;
  installed = true;
  const globals = globalThis as unknown as Record<string, unknown>;
  for (const name of TYPED_ARRAYS) {
    // deno-lint-ignore no-explicit-any
    const target = globals[name] as any;
    const bytesPer = target.BYTES_PER_ELEMENT as number;
    const proxy: unknown = new Proxy(target, {
      construct(t, args, newTarget) {
        const n = requestedElements(args);
        record(n * bytesPer, `${name}(${n})`);
        return Reflect.construct(t, args, newTarget === proxy ? t : newTarget);
      },
    });
    globals[name] = proxy;
  }
  const bufferProxy: unknown = new Proxy(ArrayBufferOriginal, {
    construct(t, args, newTarget) {
      const n = Number(args[0]) || 0;
      record(n, `ArrayBuffer(${n})`);
      return Reflect.construct(t, args, newTarget === bufferProxy ? t : newTarget);
    },
  });
  globals.ArrayBuffer = bufferProxy;
}

installAllocationTracking();
