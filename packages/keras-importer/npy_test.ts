import assert from "node:assert/strict";
import { NpyError, readNpy, writeNpy } from "./mod.ts";

/** Builds a .npy by hand the way NumPy lays it out. */
function npy(descr: string, shape: string, body: Uint8Array, version = 1): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pre = version === 1 ? 10 : 12;
  header = header.padEnd(Math.ceil((pre + header.length + 1) / 64) * 64 - pre - 1) + "\n";
  const out = new Uint8Array(pre + header.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(body, pre + header.length);
  return out;
}

Deno.test("npy: float32 and int32 round trip through writeNpy/readNpy", () => {
  const f = { data: new Float32Array([1.5, -2, 3.25, 0, 7, 8]), shape: [2, 3] };
  const back = readNpy(writeNpy(f));
  assert.deepEqual(back.shape, [2, 3]);
  assert.ok(back.data instanceof Float32Array);
  assert.deepEqual(Array.from(back.data), Array.from(f.data));
  const i = { data: new Int32Array([5, -1, 2147483647]), shape: [3] };
  const ib = readNpy(writeNpy(i));
  assert.ok(ib.data instanceof Int32Array);
  assert.deepEqual(Array.from(ib.data), [5, -1, 2147483647]);
  const bytes = writeNpy(f);
  assert.equal((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64, 0, "data 64-aligned");
});

Deno.test("npy: v2 header, big-endian float32, int64 narrowed with a range check, scalars", () => {
  const be = new Uint8Array(8);
  new DataView(be.buffer).setFloat32(0, 1.25, false);
  new DataView(be.buffer).setFloat32(4, -3, false);
  assert.deepEqual(Array.from(readNpy(npy(">f4", "(2,)", be, 2)).data), [1.25, -3]);
  const i64 = new Uint8Array(16);
  new DataView(i64.buffer).setBigInt64(0, 7n, true);
  new DataView(i64.buffer).setBigInt64(8, -9n, true);
  const r = readNpy(npy("<i8", "(1, 2)", i64));
  assert.ok(r.data instanceof Int32Array);
  assert.deepEqual(Array.from(r.data), [7, -9]);
  new DataView(i64.buffer).setBigInt64(8, 1n << 40n, true);
  assert.throws(() => readNpy(npy("<i8", "(2,)", i64)), NpyError);
  assert.deepEqual(readNpy(npy("<f4", "()", new Uint8Array(4))).shape, []);
});

Deno.test("npy: bad magic, unsupported dtype, Fortran order and truncation → NpyError", () => {
  assert.throws(() => readNpy(new Uint8Array(20)), NpyError);
  assert.throws(() => readNpy(npy("<f8", "(1,)", new Uint8Array(8))), /float32, int32 or int64/);
  const fortran = npy("<f4", "(2, 2)", new Uint8Array(16));
  const at = new TextDecoder().decode(fortran.subarray(10)).indexOf("False") + 10;
  fortran.set(new TextEncoder().encode("True "), at);
  assert.throws(() => readNpy(fortran), /Fortran/);
  assert.throws(() => readNpy(npy("<f4", "(4,)", new Uint8Array(8))), /truncated/);
  assert.throws(() => writeNpy({ data: new Float32Array(3), shape: [2, 2] }), NpyError);
});
