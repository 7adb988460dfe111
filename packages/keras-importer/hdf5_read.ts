/**
 * Read-only HDF5 access for the importer, the only module that touches the HDF5 library used
 * for reading (`npm:jsfive`, pure JavaScript). Swapping the library means rewriting this file.
 * Every failure inside the library surfaces as a {@link CorruptFileError} naming the HDF5 path.
 *
 * @module
 */
import * as jsfive from "npm:jsfive@0.4.2";
import { CorruptFileError, FormatError, ImportError } from "./errors.ts";
import { checkLimit, checkRatio, DEFAULT_IMPORT_LIMITS, type ImportLimits } from "./limits.ts";

/** HDF5 files may start after a user block of 0, 512, 1024, 2048, … bytes. */
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether `bytes` carry the HDF5 signature at offset 0 (or a power-of-two user-block offset). */
export function isHdf5(bytes: Uint8Array): boolean {
  for (let offset = 0; offset + 8 <= bytes.length; offset = offset === 0 ? 512 : offset * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[offset + i] === b)) return true;
    if (offset > 1 << 20) break;
  }
  return false;
}

/** Minimal shape of the jsfive objects this module uses (the package ships no types). */
interface JsfiveNode {
  readonly name: string;
  readonly attrs: Record<string, unknown>;
}
interface JsfiveGroup extends JsfiveNode {
  readonly keys: string[];
  get(path: string): JsfiveGroup | JsfiveDataset | null;
  /** jsfive's parsed object header: messages with their type, size and offset. */
  readonly _dataobjects?: { readonly msgs?: ReadonlyArray<ReadonlyMap<string, number>> };
}
interface JsfiveDataset extends JsfiveNode {
  readonly shape: number[];
  readonly dtype: unknown;
  readonly value: ArrayLike<number | bigint>;
  readonly _dataobjects: {
    readonly filter_pipeline: unknown;
    /** The header messages of a type (8: data layout), each with its offset in the file. */
    find_msg_type(type: number): ReadonlyArray<ReadonlyMap<string, number>>;
    /** A layout message's [version, dims, layout class, offset of its properties]. */
    _get_data_message_properties(msgOffset: number): [number, number, number, number];
  };
}

/** HDF5 data layout message type and its contiguous layout class. */
const DATA_LAYOUT_MESSAGE = 8, CONTIGUOUS_LAYOUT = 1;
const { File: JsfiveFile, Group: JsfiveGroupClass } = jsfive as unknown as {
  File: new (buffer: ArrayBuffer, name: string) => JsfiveGroup;
  Group: abstract new (...args: never[]) => JsfiveGroup;
};

/** A group (or the file root) of an open HDF5 file. */
export interface H5Group {
  readonly kind: "group";
  /** Absolute path inside the file, `/` for the root. */
  readonly path: string;
  /** Names of the group's members. */
  keys(): string[];
  /** Names of the group's attributes. */
  attrNames(): string[];
  /** An attribute value (strings without NUL padding), or `undefined` when absent. */
  attr(name: string): unknown;
  /** A member by relative path (`a/b/c`), or `undefined` when any part is absent. */
  get(path: string): H5Group | H5Dataset | undefined;
}

/** A dataset of an open HDF5 file. */
export interface H5Dataset {
  readonly kind: "dataset";
  readonly path: string;
  readonly shape: number[];
  /** NumPy-style dtype string, e.g. `<f4`. */
  readonly dtype: string;
  /** The data converted to float32, in C order. */
  readFloat32(): Float32Array;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** Trailing NULs come from fixed-length HDF5 strings (h5py `S` dtype). */
function cleanString(value: unknown): unknown {
  if (typeof value === "string") return value.replace(/\0+$/, "");
  if (Array.isArray(value)) return value.map(cleanString);
  return value;
}

function joinPath(base: string, name: string): string {
  return base === "/" ? `/${name}` : `${base}/${name}`;
}

/**
 * Opens an HDF5 file held in memory. `source` names the file in errors.
 * Throws {@link FormatError} if the bytes are not HDF5, {@link CorruptFileError} if unreadable.
 * `owned`: the bytes are the importer's own and nobody else writes them (no defensive copy).
 */
export function openHdf5(
  bytes: Uint8Array,
  source: string,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
  owned = false,
): H5Group {
  if (!isHdf5(bytes)) throw new FormatError("not an HDF5 file (no HDF5 signature)", source);
  // jsfive reads through a DataView over a whole buffer from offset 0: bytes the importer owns
  // (`owned`, e.g. inflated from an archive) and that fill their buffer are used as they are;
  // anything else is copied, so views into larger buffers work and the caller's array is never
  // read after it could have changed.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer;
  const copy = owned && whole ? bytes : bytes.slice();
  let root: JsfiveGroup;
  try {
    root = new JsfiveFile(copy.buffer as ArrayBuffer, source);
  } catch (e) {
    throw new CorruptFileError(`HDF5 superblock unreadable: ${describe(e)}`, source, { cause: e });
  }
  return new GroupReader(root, "/", { source, file: copy, limits });
}

/** What every reader of one open file shares. */
interface FileContext {
  source: string;
  /** The file's bytes (jsfive's buffer). */
  file: Uint8Array;
  limits: ImportLimits;
}

function guard<T>(source: string, path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new CorruptFileError(`HDF5 ${what} unreadable at "${path}": ${describe(e)}`, source, {
      cause: e,
    });
  }
}

class GroupReader implements H5Group {
  readonly kind = "group";
  #attrs?: Record<string, unknown>;
  #keys?: string[];
  private readonly source: string;
  constructor(
    private readonly group: JsfiveGroup,
    readonly path: string,
    private readonly context: FileContext,
  ) {
    this.source = context.source;
  }
  #loadAttrs(): Record<string, unknown> {
    return this.#attrs ??= guard(this.source, this.path, "attributes", () => {
      checkAttributeSizes(this.group, this.path, this.context);
      return { ...this.group.attrs };
    });
  }
  keys(): string[] {
    this.#keys ??= guard(this.source, this.path, "group", () => [...this.group.keys]);
    return [...this.#keys];
  }
  attrNames(): string[] {
    return Object.keys(this.#loadAttrs());
  }
  attr(name: string): unknown {
    return cleanString(this.#loadAttrs()[name]);
  }
  get(relative: string): H5Group | H5Dataset | undefined {
    const parts = relative.split("/").filter((p) => p !== "");
    if (parts.length === 0) return this;
    if (!this.keys().includes(parts[0])) return undefined;
    const child = this.#child(parts[0]);
    if (parts.length === 1) return child;
    return child instanceof GroupReader ? child.get(parts.slice(1).join("/")) : undefined;
  }
  #child(name: string): H5Group | H5Dataset {
    const childPath = joinPath(this.path, name);
    const child = guard(this.source, childPath, "object", () => this.group.get(name));
    if (child === null || child === undefined) {
      throw new CorruptFileError(`HDF5 link "${childPath}" does not resolve`, this.source);
    }
    if (child instanceof JsfiveGroupClass) {
      return new GroupReader(child, childPath, this.context);
    }
    return wrapDataset(child as JsfiveDataset, childPath, this.context);
  }
}

const ITEM_SIZES: Record<string, number> = { f: 0, i: 0, u: 0 };

const ATTRIBUTE_MESSAGE = 0x000c;
const VLEN_CLASS = 9;

/**
 * Checks that every attribute of an object holds as many bytes as its dataspace declares,
 * before jsfive materialises the values (it allocates an array of the declared count and reads
 * past the attribute when the count is corrupted). Variable-length sequence attributes, whose
 * lengths live in the global heap, are refused; Keras writes strings and numbers only.
 */
function checkAttributeSizes(group: JsfiveGroup, path: string, context: FileContext): void {
  const msgs = group._dataobjects?.msgs;
  if (!Array.isArray(msgs)) return;
  const { file, source } = context;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const padded = (n: number, multiple: number) => Math.ceil(n / multiple) * multiple;
  for (const msg of msgs) {
    if (msg.get("type") !== ATTRIBUTE_MESSAGE) continue;
    const start = msg.get("offset_to_message") ?? 0;
    const end = start + (msg.get("size") ?? 0);
    const version = view.getUint8(start);
    if (version !== 1 && version !== 3) continue; // jsfive refuses other versions itself
    const [headerSize, multiple] = version === 1 ? [8, 8] : [9, 1];
    const nameSize = view.getUint16(start + 2, true);
    const datatypeSize = view.getUint16(start + 4, true);
    const dataspaceSize = view.getUint16(start + 6, true);
    const datatypeAt = start + headerSize + padded(nameSize, multiple);
    const dataspaceAt = datatypeAt + padded(datatypeSize, multiple);
    const dataAt = dataspaceAt + padded(dataspaceSize, multiple);
    const typeClass = view.getUint8(datatypeAt) & 0x0f;
    const isVlenSequence = typeClass === VLEN_CLASS && (view.getUint8(datatypeAt + 1) & 0x0f) === 0;
    if (isVlenSequence) {
      throw new FormatError(
        `HDF5 attribute at "${path}" is a variable-length sequence (not written by Keras)`,
        source,
      );
    }
    const elementSize = Math.max(1, view.getUint32(datatypeAt + 4, true));
    const dims = view.getUint8(dataspaceAt + 1);
    const dimsAt = dataspaceAt + (view.getUint8(dataspaceAt) === 1 ? 8 : 4);
    let count = 1;
    for (let d = 0; d < dims; d++) count *= Number(view.getBigUint64(dimsAt + 8 * d, true));
    const available = end - dataAt;
    if (count * elementSize > available) {
      throw new CorruptFileError(
        `HDF5 attribute at "${path}" declares ${count} values of ${elementSize} bytes, ` +
          `its message holds ${Math.max(0, available)} bytes`,
        source,
      );
    }
  }
}

function wrapDataset(dataset: JsfiveDataset, path: string, context: FileContext): H5Dataset {
  const { source, limits } = context;
  const fileSize = context.file.length;
  const shape = guard(source, path, "dataspace", () => [...dataset.shape].map(Number));
  const dtype = guard(source, path, "datatype", () => String(dataset.dtype));
  return {
    kind: "dataset",
    path,
    shape,
    dtype,
    readFloat32() {
      const match = /^[<>|=]?([fiu])(\d+)$/.exec(dtype);
      if (!match || !(match[1] in ITEM_SIZES)) {
        throw new FormatError(`dataset "${path}" has non-numeric dtype ${dtype}`, source);
      }
      const count = shape.reduce((a, b) => a * b, 1);
      if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new CorruptFileError(`dataset "${path}" has invalid shape [${shape}]`, source);
      }
      checkLimit(limits, "maxTensorBytes", `dataset "${path}" as float32`, count * 4, source);
      const itemSize = Number(match[2]);
      const filtered = guard(
        source,
        path,
        "filter pipeline",
        () => dataset._dataobjects.filter_pipeline != null,
      );
      // Uncompressed data must fit in the file; this stops corrupted headers from making us
      // allocate huge arrays. Compressed data may expand up to the configured ratio.
      if (filtered) {
        checkRatio(limits, `filtered dataset "${path}"`, count * itemSize, fileSize, source);
      } else if (count * itemSize > fileSize) {
        throw new CorruptFileError(
          `dataset "${path}" claims ${count * itemSize} bytes, more than the file can hold`,
          source,
        );
      }
      if (dtype === "<f4" && !filtered) {
        const direct = guard(
          source,
          path,
          "data layout",
          () => contiguousFloat32(dataset, count, context.file, source, path),
        );
        if (direct) return direct;
      }
      const values = guard(source, path, "dataset", () => dataset.value);
      if (values === null || typeof values !== "object" || typeof values.length !== "number") {
        throw new CorruptFileError(`dataset "${path}" has no readable values`, source);
      }
      if (values.length !== count) {
        throw new CorruptFileError(
          `dataset "${path}" holds ${values.length} values, shape [${shape}] needs ${count}`,
          source,
        );
      }
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(values[i]);
      return out;
    },
  };
}

/**
 * The values of a contiguous little-endian float32 dataset copied straight from the file's
 * bytes, or null for any other layout. jsfive's `value` builds a JavaScript array of every
 * element first (8 bytes each plus a DataView read per value), which dominated the time and
 * peak memory of loading large files.
 */
function contiguousFloat32(
  dataset: JsfiveDataset,
  count: number,
  file: Uint8Array,
  source: string,
  path: string,
): Float32Array | null {
  const objects = dataset._dataobjects;
  const layout = objects.find_msg_type(DATA_LAYOUT_MESSAGE)[0];
  const messageOffset = layout?.get("offset_to_message");
  if (messageOffset === undefined) return null;
  const [, , layoutClass, propertiesAt] = objects._get_data_message_properties(messageOffset);
  if (layoutClass !== CONTIGUOUS_LAYOUT) return null;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const address = view.getBigUint64(propertiesAt, true);
  if (address === 0xffff_ffff_ffff_ffffn) return null; // no storage allocated: jsfive's path
  const start = Number(address), bytes = count * 4;
  if (start + bytes > file.length) {
    throw new CorruptFileError(
      `dataset "${path}": ${bytes} bytes of data at byte ${start} run past the end of the file ` +
        `(${file.length} bytes)`,
      source,
    );
  }
  // A copy: the file's buffer may be released, and Float32Array needs 4-byte alignment.
  return new Float32Array(file.slice(start, start + bytes).buffer);
}
