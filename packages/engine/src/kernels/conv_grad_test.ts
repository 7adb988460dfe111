import type { Padding } from "../conv_geometry.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertCloseToScale } from "../../testing/assert.ts";
import { conv2dKernelArgs, conv2dParams } from "../../testing/kernel_cases.ts";
import {
  conv2dBiasGradReference,
  conv2dFilterGradReference,
  conv2dInputGradReference,
} from "./conv_grad_reference.ts";

interface Case {
  batch: number;
  h: number;
  w: number;
  c: number;
  outC: number;
  k: [number, number];
  s: [number, number];
  d: [number, number];
  padding: Padding;
}

/** Runs the kernel (dW, dx, db) with `scratchFloats` of scratch and checks the references. */
function check(t: Case, rng: Rng, scratchFloats: number) {
  const { kernels, heap } = getRuntime();
  const p = conv2dParams(t.batch, [t.h, t.w, t.c], t.outC, t.k, t.s, t.d, t.padding);
  const k = p.kh * p.kw * p.c;
  const x = rng.floats(p.batch * p.h * p.w * p.c);
  const kernel = rng.floats(k * p.outC);
  const dz = rng.floats(p.batch * p.outH * p.outW * p.outC);
  const px = heap.upload(x), pk = heap.upload(kernel), pdz = heap.upload(dz);
  const pdw = heap.alloc(k * p.outC * 4), pdb = heap.alloc(p.outC * 4);
  // Stale values: every output must be overwritten.
  const pdx = heap.upload(rng.floats(x.length, 5, 6));
  heap.f32(pdw, k * p.outC).fill(7);
  const scratch = heap.alloc(scratchFloats * 4);
  const what = `conv grad ${JSON.stringify(t)} scratch ${scratchFloats}`;
  try {
    kernels.conv2dBackward(
      px,
      pdz,
      pk,
      pdx,
      pdw,
      scratch,
      scratchFloats,
      ...conv2dKernelArgs(p),
    );
    kernels.columnSums(pdz, pdb, p.batch * p.outH * p.outW, p.outC, 0);
    assertCloseToScale(
      heap.f32(pdw, k * p.outC),
      conv2dFilterGradReference(x, dz, p),
      1e-5,
      `${what} dW`,
    );
    assertCloseToScale(
      heap.f32(pdx, x.length),
      conv2dInputGradReference(dz, kernel, p),
      1e-5,
      `${what} dx`,
    );
    assertCloseToScale(
      heap.f32(pdb, p.outC),
      conv2dBiasGradReference(dz, p.outC),
      1e-5,
      `${what} db`,
    );
    // dW only / dx only.
    heap.f32(pdx, x.length).fill(3);
    kernels.conv2dBackward(
      px,
      pdz,
      pk,
      pdx,
      0,
      scratch,
      scratchFloats,
      ...conv2dKernelArgs(p),
    );
    assertCloseToScale(
      heap.f32(pdx, x.length),
      conv2dInputGradReference(dz, kernel, p),
      1e-5,
      `${what} dx only`,
    );
  } finally {
    [px, pk, pdz, pdw, pdb, pdx, scratch].forEach((q) => heap.free(q));
  }
}

const CASES: Case[] = [
  // batch 1 and 17, odd sizes, both paddings.
  { batch: 1, h: 5, w: 7, c: 3, outC: 5, k: [3, 3], s: [1, 1], d: [1, 1], padding: "same" },
  { batch: 17, h: 5, w: 7, c: 3, outC: 5, k: [3, 3], s: [1, 1], d: [1, 1], padding: "valid" },
  { batch: 17, h: 6, w: 5, c: 5, outC: 9, k: [3, 2], s: [1, 1], d: [1, 1], padding: "same" },
  // strides (even and odd padding splits), one axis at a time and both.
  { batch: 3, h: 9, w: 8, c: 4, outC: 8, k: [3, 3], s: [2, 2], d: [1, 1], padding: "same" },
  { batch: 2, h: 9, w: 8, c: 4, outC: 8, k: [3, 3], s: [2, 3], d: [1, 1], padding: "valid" },
  { batch: 2, h: 8, w: 11, c: 6, outC: 7, k: [4, 5], s: [3, 2], d: [1, 1], padding: "same" },
  // dilation, with and without strides.
  { batch: 2, h: 9, w: 10, c: 3, outC: 6, k: [3, 3], s: [1, 1], d: [2, 2], padding: "same" },
  { batch: 2, h: 9, w: 10, c: 3, outC: 6, k: [3, 2], s: [1, 1], d: [2, 3], padding: "valid" },
  { batch: 2, h: 11, w: 10, c: 5, outC: 4, k: [3, 3], s: [2, 2], d: [2, 1], padding: "same" },
  // Stride 1 with ≥ 8 input channels: dx as a convolution of dZ (implicit GEMM, im2col).
  { batch: 3, h: 7, w: 6, c: 9, outC: 12, k: [3, 3], s: [1, 1], d: [1, 1], padding: "same" },
  { batch: 17, h: 5, w: 6, c: 8, outC: 5, k: [2, 3], s: [1, 1], d: [1, 1], padding: "same" },
  { batch: 2, h: 9, w: 8, c: 8, outC: 5, k: [3, 2], s: [1, 1], d: [2, 2], padding: "valid" },
  { batch: 2, h: 7, w: 9, c: 10, outC: 6, k: [3, 3], s: [1, 1], d: [1, 2], padding: "same" },
  // 1×1 (direct path), 1×1 strided (im2col path), window as large as the input.
  { batch: 17, h: 4, w: 3, c: 13, outC: 10, k: [1, 1], s: [1, 1], d: [1, 1], padding: "valid" },
  { batch: 3, h: 5, w: 5, c: 8, outC: 3, k: [1, 1], s: [2, 2], d: [1, 1], padding: "same" },
  { batch: 2, h: 4, w: 5, c: 2, outC: 33, k: [4, 5], s: [1, 1], d: [1, 1], padding: "valid" },
];

Deno.test("conv2dBackward matches the reference: paddings, strides, dilations, 1×1, batch 1/17", () => {
  const rng = new Rng(601);
  for (const t of CASES) {
    const { kernels } = getRuntime();
    const min = kernels.conv2dBackwardMinScratch(t.k[0], t.k[1], t.c, t.outC, 1);
    const k = t.k[0] * t.k[1] * t.c;
    check(t, rng, 1 << 16);
    // The least scratch (one pixel per tile; stride-1 dx by im2col) and odd tiles.
    check(t, rng, min);
    check(t, rng, min + 2 * k * 7);
  }
});

Deno.test("transposeMatrix handles every edge of the 4×4 blocks and strided rows", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(602);
  for (const [rows, cols] of [[1, 1], [4, 4], [5, 7], [8, 3], [13, 9], [3, 17]]) {
    const lds = cols + 2;
    const src = rng.floats(rows * lds);
    const ps = heap.upload(src), pd = heap.alloc(rows * cols * 4);
    kernels.transposeMatrix(ps, lds, pd, rows, cols);
    const got = heap.f32(pd, rows * cols);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        if (got[j * rows + i] !== src[i * lds + j]) {
          throw new Error(`transpose ${rows}x${cols}: [${j},${i}] = ${got[j * rows + i]}`);
        }
      }
    }
    heap.free(ps);
    heap.free(pd);
  }
});
