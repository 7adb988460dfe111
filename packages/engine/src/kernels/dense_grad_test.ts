import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import { columnSumsReference, gemmNTReference, gemmTNReference } from "./dense_grad_reference.ts";

// [rows (batch), in, out]: odd sizes, batch 1 and 17, and sizes crossing the 4/6/8-wide tiles;
// 600 rows cross gemmTN's 256-row k blocks (two whole blocks and a partial one).
const SHAPES = [
  [1, 1, 1],
  [1, 13, 7],
  [17, 13, 7],
  [17, 9, 16],
  [5, 33, 3],
  [4, 8, 8],
  [
    17,
    70,
    29,
  ],
  [2, 3, 130],
  [600, 9, 21],
  [256, 6, 8],
];

Deno.test("gemmTN (dW = Xᵀ·dY) matches the reference, overwrite and accumulate", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(31);
  for (const [rows, inDim, out] of SHAPES) {
    const x = rng.floats(rows * inDim), dy = rng.floats(rows * out), c0 = rng.floats(inDim * out);
    const px = heap.upload(x), pdy = heap.upload(dy), pc = heap.upload(c0);
    const want = gemmTNReference(x, dy, inDim, out, rows);
    kernels.gemmTN(px, inDim, pdy, out, pc, out, inDim, out, rows, 0);
    assertClose(heap.f32(pc, inDim * out), want, 1e-5, `gemmTN ${rows}x${inDim}x${out}`);
    heap.f32(pc, inDim * out).set(c0);
    kernels.gemmTN(px, inDim, pdy, out, pc, out, inDim, out, rows, 1);
    const acc = want.map((v, i) => v + c0[i]);
    assertClose(heap.f32(pc, inDim * out), acc, 1e-5, `gemmTN acc ${rows}x${inDim}x${out}`);
    [px, pdy, pc].forEach((p) => heap.free(p));
  }
});

Deno.test("gemmNT (dX = dY·Wᵀ) matches the reference, overwrite and accumulate", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(32);
  for (const [rows, inDim, out] of SHAPES) {
    const dy = rng.floats(rows * out), w = rng.floats(inDim * out), c0 = rng.floats(rows * inDim);
    const pdy = heap.upload(dy), pw = heap.upload(w), pc = heap.upload(c0);
    const want = gemmNTReference(dy, w, rows, inDim, out);
    kernels.gemmNT(pdy, out, pw, out, pc, inDim, rows, inDim, out, 0);
    assertClose(heap.f32(pc, rows * inDim), want, 1e-5, `gemmNT ${rows}x${inDim}x${out}`);
    heap.f32(pc, rows * inDim).set(c0);
    kernels.gemmNT(pdy, out, pw, out, pc, inDim, rows, inDim, out, 1);
    const acc = want.map((v, i) => v + c0[i]);
    assertClose(heap.f32(pc, rows * inDim), acc, 1e-5, `gemmNT acc ${rows}x${inDim}x${out}`);
    [pdy, pw, pc].forEach((p) => heap.free(p));
  }
});

Deno.test("columnSums (bias gradient) matches the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(33);
  for (const [rows, cols] of [[1, 1], [1, 7], [17, 13], [17, 16], [3, 37]]) {
    const src = rng.floats(rows * cols), d0 = rng.floats(cols);
    const ps = heap.upload(src), pd = heap.upload(d0);
    const want = columnSumsReference(src, rows, cols);
    kernels.columnSums(ps, pd, rows, cols, 0);
    assertClose(heap.f32(pd, cols), want, 1e-5, `columnSums ${rows}x${cols}`);
    kernels.columnSums(ps, pd, rows, cols, 1);
    assertClose(heap.f32(pd, cols), want.map((v) => 2 * v), 1e-5, `columnSums acc ${rows}x${cols}`);
    [ps, pd].forEach((p) => heap.free(p));
  }
});
