/**
 * HDF5 writing for `.keras` weights and the test-file writers, the only module that touches
 * `npm:h5wasm` (the HDF5 C library compiled to WebAssembly; jsfive cannot write). The library
 * is loaded on first use so that reading models never pays for its 4 MB module.
 *
 * @module
 */

/** Attribute values written like h5py writes them. */
export type H5AttrInput =
  /** A variable-length UTF-8 string scalar (h5py `str`). */
  | string
  /** A fixed-length byte-string array (h5py `np.array([...], dtype="S")`), possibly empty. */
  | { strings: string[] };

/** One node of the tree to write: a group (attributes + ordered children) or a float32 dataset. */
export type H5WriteNode = H5WriteGroup | H5WriteDataset;

/** A group to write. Children are created in insertion order. */
export interface H5WriteGroup {
  kind: "group";
  attrs?: Record<string, H5AttrInput>;
  children: Map<string, H5WriteNode>;
}

/** A float32 dataset to write (C order). */
export interface H5WriteDataset {
  kind: "dataset";
  shape: number[];
  data: Float32Array;
}

/** Creates an empty group node. */
export function h5Group(attrs?: Record<string, H5AttrInput>): H5WriteGroup {
  return { kind: "group", attrs, children: new Map() };
}

/**
 * Returns the group at `path` below `root` (slash separated), creating missing groups.
 * Throws if a path component is already a dataset.
 */
export function ensureGroup(root: H5WriteGroup, path: string): H5WriteGroup {
  let current = root;
  for (const part of path.split("/").filter((p) => p !== "")) {
    let next = current.children.get(part);
    if (next === undefined) {
      next = h5Group();
      current.children.set(part, next);
    }
    if (next.kind !== "group") throw new Error(`HDF5 path component "${part}" is a dataset`);
    current = next;
  }
  return current;
}

/** Places a float32 dataset at `path` (the last component is the dataset name). */
export function putDataset(
  root: H5WriteGroup,
  path: string,
  shape: number[],
  data: Float32Array,
): void {
  const parts = path.split("/").filter((p) => p !== "");
  const name = parts.pop();
  if (name === undefined) throw new Error("empty HDF5 dataset path");
  const group = ensureGroup(root, parts.join("/"));
  if (group.children.has(name)) throw new Error(`HDF5 path "${path}" written twice`);
  group.children.set(name, { kind: "dataset", shape: [...shape], data });
}

// deno-lint-ignore no-explicit-any
type H5wasmModule = any;
let h5wasmPromise: Promise<H5wasmModule> | undefined;
let fileCounter = 0;

async function loadH5wasm(): Promise<H5wasmModule> {
  h5wasmPromise ??= (async () => {
    const h5wasm = await import("npm:h5wasm@0.8.1");
    const module = await h5wasm.ready;
    return { h5wasm, FS: module.FS };
  })();
  return await h5wasmPromise;
}

/**
 * Serialises a tree into the bytes of an HDF5 file. The file is built in h5wasm's in-memory
 * file system under a unique name and unlinked afterwards.
 */
export async function writeHdf5(root: H5WriteGroup): Promise<Uint8Array> {
  const { h5wasm, FS } = await loadH5wasm();
  const name = `/scratchnet_write_${Date.now()}_${fileCounter++}.h5`;
  try {
    const file = new h5wasm.File(name, "w");
    try {
      writeGroup(file, root);
    } finally {
      file.close();
    }
    return new Uint8Array(FS.readFile(name));
  } finally {
    try {
      FS.unlink(name);
    } catch {
      // The file was never created; nothing to clean up.
    }
  }
}

function writeAttrs(target: H5wasmModule, attrs: Record<string, H5AttrInput> | undefined) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (typeof value === "string") {
      target.create_attribute(key, value);
    } else {
      const bytes = value.strings.map((s) => new TextEncoder().encode(s).length);
      const width = Math.max(1, ...bytes);
      target.create_attribute(key, value.strings, [value.strings.length], `S${width}`);
    }
  }
}

function writeGroup(target: H5wasmModule, node: H5WriteGroup) {
  writeAttrs(target, node.attrs);
  for (const [name, child] of node.children) {
    if (child.kind === "group") {
      writeGroup(target.create_group(name), child);
    } else {
      target.create_dataset({ name, data: child.data, shape: child.shape, dtype: "<f" });
    }
  }
}
