import assert from "node:assert/strict";
import { openHdf5 } from "./hdf5_read.ts";
import { h5Group, putDataset, writeHdf5 } from "./hdf5_write.ts";
import { CorruptFileError } from "./errors.ts";
import type { H5Dataset } from "./hdf5_read.ts";

/** A file with one float32 dataset `/w` of `n` distinct values, and those values. */
async function fileWith(n: number): Promise<{ bytes: Uint8Array; values: Float32Array }> {
  const values = new Float32Array(n).map((_, i) => Math.sin(i) * 1e3 + i / 7);
  const root = h5Group();
  putDataset(root, "w", [n / 5, 5], values);
  return { bytes: await writeHdf5(root), values };
}

/** Byte offsets of every 8-byte little-endian `value` in `bytes`. */
function findU64(bytes: Uint8Array, value: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hits: number[] = [];
  for (let i = 0; i + 8 <= bytes.length; i++) {
    if (view.getBigUint64(i, true) === BigInt(value)) hits.push(i);
  }
  return hits;
}

/** Where the dataset's values start: the first occurrence of their bytes. */
function dataOffset(bytes: Uint8Array, values: Float32Array): number {
  const needle = new Uint8Array(values.buffer, 0, 16);
  outer: for (let i = 0; i + 16 <= bytes.length; i++) {
    for (let j = 0; j < 16; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("contiguous float32 datasets are read straight from the bytes, owned or copied", async () => {
  const { bytes, values } = await fileWith(1000);
  for (const owned of [false, true]) {
    const w = openHdf5(bytes.slice(), "t.h5", undefined, owned).get("w") as H5Dataset;
    assert.deepEqual(w.shape, [200, 5]);
    assert.deepEqual(w.readFloat32(), values);
  }
  // A view into a larger buffer (offset ≠ 0) is copied even when `owned`.
  const padded = new Uint8Array(bytes.length + 3);
  padded.set(bytes, 3);
  const view = padded.subarray(3);
  const w = openHdf5(view, "t.h5", undefined, true).get("w") as H5Dataset;
  assert.deepEqual(w.readFloat32(), values);
});

Deno.test("a data address past the end of the file → CorruptFileError naming the dataset", async () => {
  const { bytes, values } = await fileWith(500);
  // The address of the values appears in the dataset's layout message (and may appear elsewhere
  // by coincidence): point each occurrence past the end; every result is a typed error, and the
  // layout message's one is the per-dataset check.
  const hits = findU64(bytes, dataOffset(bytes, values));
  let named = 0;
  for (const at of hits) {
    const broken = bytes.slice();
    new DataView(broken.buffer).setBigUint64(at, BigInt(bytes.length - 100), true);
    try {
      (openHdf5(broken, "broken.h5").get("w") as H5Dataset).readFloat32();
    } catch (e) {
      assert.ok(e instanceof CorruptFileError, `${e}`);
      assert.match(e.message, /broken\.h5/);
      if (/"\/w".*past the end/.test(e.message)) named++;
      continue;
    }
    // An unrelated coincidence may leave the dataset readable; the layout's one may not.
  }
  assert.equal(named, 1, `one corrupted address is the layout message's (of ${hits.length})`);
});
