/**
 * A small NumPy `.npy` reader/writer for the CLI: float32 and int32 arrays (int64 narrowed to
 * int32 with a range check), C order, format versions 1–3, either byte order on reading.
 *
 * @module
 */
import { NpyError } from "./errors.ts";

/** An array read from or written to `.npy`. */
export interface NpyArray {
  data: Float32Array | Int32Array;
  shape: number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses the Python-dict header NumPy writes, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. */
function parseHeader(header: string, source: string) {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError(`malformed .npy header ${JSON.stringify(header.trim())}`, source);
  }
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    const n = Number(s.replace(/L$/, ""));
    if (!Number.isInteger(n) || n < 0) throw new NpyError(`bad dimension "${s}" in shape`, source);
    return n;
  });
  return { descr, fortranOrder: fortran === "True", shape };
}

/** Reads a `.npy` file's bytes. Supported dtypes: float32, int32, int64 (→ int32, range-checked). */
export function readNpy(bytes: Uint8Array, source = "<npy>"): NpyArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new NpyError(`expected the file's bytes as a Uint8Array, got ${typeof bytes}`, source);
  }
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new NpyError("not a .npy file (missing \\x93NUMPY magic)", source);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError("truncated .npy header", source);
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyError(`unsupported .npy format version ${major}`, source);
  }
  if (headerStart + headerLength > bytes.length) {
    throw new NpyError("truncated .npy header", source);
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLength),
  );
  const { descr, fortranOrder, shape } = parseHeader(header, source);
  if (fortranOrder && shape.length > 1) {
    throw new NpyError("Fortran-order arrays are not supported; save with C order", source);
  }
  const match = /^([<>|=])([fiu])(\d)$/.exec(descr);
  const kind = match ? `${match[2]}${match[3]}` : descr;
  const little = match?.[1] !== ">";
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  const itemSize = { f4: 4, i4: 4, i8: 8 }[kind];
  if (itemSize === undefined) {
    throw new NpyError(`dtype ${descr} not supported (use float32, int32 or int64)`, source);
  }
  if (dataStart + count * itemSize > bytes.length) {
    throw new NpyError(
      `truncated data: shape [${shape}] needs ${count * itemSize} bytes, file has ${
        bytes.length - dataStart
      }`,
      source,
    );
  }
  if (kind === "f4") {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, little);
    return { data, shape };
  }
  const data = new Int32Array(count);
  if (kind === "i4") {
    for (let i = 0; i < count; i++) data[i] = view.getInt32(dataStart + 4 * i, little);
    return { data, shape };
  }
  for (let i = 0; i < count; i++) {
    const v = view.getBigInt64(dataStart + 8 * i, little);
    if (v < -2147483648n || v > 2147483647n) {
      throw new NpyError(`int64 value ${v} at flat index ${i} does not fit int32`, source);
    }
    data[i] = Number(v);
  }
  return { data, shape };
}

/** Writes a float32 or int32 array as a version 1.0 `.npy` file (little-endian, C order). */
export function writeNpy(array: NpyArray): Uint8Array {
  const { data, shape } = (array ?? {}) as Partial<NpyArray>;
  if (!(data instanceof Float32Array || data instanceof Int32Array)) {
    throw new NpyError("data must be a Float32Array or Int32Array", "<npy>");
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new NpyError(`shape must be non-negative integers, got ${String(shape)}`, "<npy>");
  }
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new NpyError(
      `shape [${array.shape}] needs ${count} values, data has ${array.data.length}`,
      "<npy>",
    );
  }
  const descr = array.data instanceof Float32Array ? "<f4" : "<i4";
  const shapeText = array.shape.length === 1
    ? `(${array.shape[0]},)`
    : `(${array.shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // The data starts on a 64-byte boundary; the header ends with a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + count * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  for (let i = 0; i < count; i++) {
    if (array.data instanceof Float32Array) view.setFloat32(total + 4 * i, array.data[i], true);
    else view.setInt32(total + 4 * i, array.data[i], true);
  }
  return out;
}
