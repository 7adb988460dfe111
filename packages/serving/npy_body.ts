/**
 * `.npy` request bodies (`Content-Type: application/x-npy`): NumPy's format, versions 1–3,
 * little-endian float32 / float64 / int32 / uint8 in C order — what `np.save` writes for the
 * common dtypes on every mainstream machine. Anything else is a 400 naming what was expected.
 */
import { ServingError } from "./errors.ts";

/** Dtypes a `.npy` body may hold, by NumPy's `descr`. */
export const NPY_BODY_DTYPES: Readonly<Record<string, NpyBodyDtype>> = {
  "<f4": "float32",
  "<f8": "float64",
  "<i4": "int32",
  "|u1": "uint8",
  "<u1": "uint8",
};

/** The element type of a decoded body. */
export type NpyBodyDtype = "float32" | "float64" | "int32" | "uint8";

/** A decoded `.npy` body: a C-order array with its shape (batch axis first). */
export interface NpyBody {
  dtype: NpyBodyDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function refuse(kind: "invalid_body" | "dtype", message: string): never {
  throw new ServingError(400, kind, "body", message);
}

/**
 * Parses a `.npy` body. Throws a 400 {@link ServingError} (field `body`): `invalid_body` for a
 * malformed header, Fortran order or a data size that disagrees with the shape, `dtype` for an
 * unsupported dtype or byte order.
 */
export function decodeNpyBody(bytes: Uint8Array): NpyBody {
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) {
    refuse("invalid_body", "expected a .npy file (starting with \\x93NUMPY)");
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if ((major === 2 || major === 3) && bytes.length >= 12) {
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    refuse("invalid_body", `expected .npy format version 1, 2 or 3, received ${major}`);
  }
  if (headerStart + headerLength > bytes.length) {
    refuse("invalid_body", "expected a complete .npy header, the body ends inside it");
  }
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(headerStart, headerStart + headerLength),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    refuse(
      "invalid_body",
      `expected a .npy header with descr, fortran_order and shape, received ${
        JSON.stringify(header.trim().slice(0, 120))
      }`,
    );
  }
  const dtype = NPY_BODY_DTYPES[descr];
  if (dtype === undefined) {
    refuse(
      "dtype",
      `expected a little-endian float32, float64, int32 or uint8 array ('<f4', '<f8', '<i4', ` +
        `'|u1'), received dtype '${descr}'${
          descr.endsWith("i8") ? " (int64: send x.astype(np.int32))" : ""
        }`,
    );
  }
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    const n = Number(s.replace(/L$/, ""));
    if (!Number.isSafeInteger(n) || n < 0) {
      refuse("invalid_body", `expected non-negative integer dimensions, received "${s}"`);
    }
    return n;
  });
  if (fortran === "True" && shape.filter((d) => d > 1).length > 1) {
    refuse("invalid_body", "expected a C-order array (fortran_order False): np.ascontiguousarray");
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = dtype === "float64" ? 8 : dtype === "uint8" ? 1 : 4;
  const dataStart = headerStart + headerLength;
  const dataBytes = bytes.length - dataStart;
  if (dataBytes !== count * itemSize) {
    refuse(
      "invalid_body",
      `expected ${count * itemSize} data bytes for shape (${shape.join(", ")}) of ${dtype}, ` +
        `received ${dataBytes}`,
    );
  }
  if (itemSize > 1 && !littleEndianHost()) {
    refuse("dtype", "this host is big-endian and reads only single-byte .npy arrays");
  }
  // Copy into an aligned buffer: the data need not start at a multiple of the item size.
  const raw = bytes.slice(dataStart, dataStart + count * itemSize).buffer;
  const data = dtype === "float32"
    ? new Float32Array(raw)
    : dtype === "float64"
    ? new Float64Array(raw)
    : dtype === "int32"
    ? new Int32Array(raw)
    : new Uint8Array(raw);
  return { dtype, shape, data };
}

function littleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/** Writes a C-order little-endian `.npy` (version 1) — for clients and tests. */
export function encodeNpy(
  data: Float32Array | Float64Array | Int32Array | Uint8Array,
  shape: readonly number[],
): Uint8Array {
  const descr = data instanceof Float32Array
    ? "<f4"
    : data instanceof Float64Array
    ? "<f8"
    : data instanceof Int32Array
    ? "<i4"
    : "|u1";
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // NumPy pads the header with spaces so the data starts at a multiple of 64, ending in "\n".
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
