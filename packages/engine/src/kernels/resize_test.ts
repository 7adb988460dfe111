import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose, assertCloseToScale } from "../../testing/assert.ts";
import {
  bilinearTap,
  crop2dGradReference,
  crop2dReference,
  type ResampleParams,
  resizeBilinearGradReference,
  resizeBilinearReference,
  upsampleNearestGradReference,
  upsampleNearestReference,
} from "./resize_reference.ts";

/** Input shapes: batch 1 and 17, odd sizes, channel counts around the 4-lane SIMD width. */
const SHAPES: [number, number, number, number][] = [
  [1, 5, 7, 3],
  [17, 3, 4, 5],
  [2, 1, 1, 8],
  [3, 6, 5, 1],
  [2, 4, 9, 13],
];

/** Runs `f(inPtr, outPtr)` over a fresh upload of `x` into a stale output of `outLen` floats. */
function run(x: Float32Array, outLen: number, f: (px: number, py: number) => void): Float32Array {
  const { heap } = getRuntime();
  const px = heap.upload(x);
  const py = heap.upload(new Float32Array(outLen).fill(7));
  try {
    f(px, py);
    return heap.f32(py, outLen).slice();
  } finally {
    heap.free(px);
    heap.free(py);
  }
}

Deno.test("upsampleNearest and its backward match the reference (factors 1–3, odd sizes)", () => {
  const { kernels } = getRuntime();
  const rng = new Rng(1511);
  for (const [batch, h, w, c] of SHAPES) {
    for (const [fh, fw] of [[2, 2], [1, 3], [3, 1], [3, 2], [1, 1]]) {
      const p: ResampleParams = { batch, h, w, c, outH: h * fh, outW: w * fw };
      const what = `nearest ${JSON.stringify(p)} ×${fh}×${fw}`;
      const x = rng.floats(batch * h * w * c);
      const y = run(
        x,
        batch * p.outH * p.outW * c,
        (px, py) => kernels.upsampleNearest(px, py, batch, h, w, c, fh, fw),
      );
      assertClose(y, upsampleNearestReference(x, p, fh, fw), 0, `${what} y`);
      const dy = rng.floats(y.length);
      const dx = run(
        dy,
        x.length,
        (pdy, pdx) => kernels.upsampleNearestGrad(pdy, pdx, batch, h, w, c, fh, fw),
      );
      assertCloseToScale(dx, upsampleNearestGradReference(dy, p, fh, fw), 1e-6, `${what} dx`);
    }
  }
});

Deno.test("resizeBilinear and its backward match the reference: half-pixel and TF.js legacy, up and down", () => {
  const { kernels } = getRuntime();
  const rng = new Rng(1512);
  for (const [batch, h, w, c] of SHAPES) {
    const sizes = [[h * 2, w * 2], [h * 3, w], [h, w * 3], [h * 2 + 1, w + 2], [h, w]];
    if (h > 2 && w > 2) sizes.push([h - 1, Math.ceil(w / 2)]);
    for (const [outH, outW] of sizes) {
      for (const halfPixel of [true, false]) {
        const p: ResampleParams = { batch, h, w, c, outH, outW };
        const what = `bilinear ${JSON.stringify(p)} halfPixel ${halfPixel}`;
        const x = rng.floats(batch * h * w * c);
        const y = run(
          x,
          batch * outH * outW * c,
          (px, py) => kernels.resizeBilinear(px, py, batch, h, w, c, outH, outW, halfPixel ? 1 : 0),
        );
        assertCloseToScale(y, resizeBilinearReference(x, p, halfPixel), 1e-6, `${what} y`);
        const dy = rng.floats(y.length);
        const dx = run(
          dy,
          x.length,
          (pdy, pdx) =>
            kernels.resizeBilinearGrad(pdy, pdx, batch, h, w, c, outH, outW, halfPixel ? 1 : 0),
        );
        assertCloseToScale(dx, resizeBilinearGradReference(dy, p, halfPixel), 1e-6, `${what} dx`);
      }
    }
  }
});

Deno.test("bilinear taps: a hand-checked ×2 half-pixel row and the legacy (TF.js default) row", () => {
  // 3 → 6 cells, half-pixel: sources −0.25, 0.25, 0.75, 1.25, 1.75, 2.25.
  const half = [0, 1, 2, 3, 4, 5].map((o) => bilinearTap(o, 3, 6, true));
  const wantHalf = [[0, 0, 0.75], [0, 1, 0.25], [0, 1, 0.75], [1, 2, 0.25], [1, 2, 0.75], [
    2,
    2,
    0.25,
  ]];
  // Legacy: sources 0, 0.5, 1, 1.5, 2, 2.5.
  const legacy = [0, 1, 2, 3, 4, 5].map((o) => bilinearTap(o, 3, 6, false));
  const wantLegacy = [[0, 0, 0], [0, 1, 0.5], [1, 1, 0], [1, 2, 0.5], [2, 2, 0], [2, 2, 0.5]];
  for (const [got, want] of [[half, wantHalf], [legacy, wantLegacy]]) {
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`taps ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  }
  // The row [1, 2, 3] upsampled ×2 with half-pixel centres: the edge cells clamp to 1 and 3.
  const { kernels } = getRuntime();
  const y = run(
    new Float32Array([1, 2, 3]),
    6,
    (px, py) => kernels.resizeBilinear(px, py, 1, 1, 3, 1, 1, 6, 1),
  );
  assertClose(y, [1, 1.25, 1.75, 2.25, 2.75, 3], 1e-7, "half-pixel row");
});

Deno.test("crop2d and its backward match the reference (every side, none, all but one cell)", () => {
  const { kernels } = getRuntime();
  const rng = new Rng(1513);
  for (const [batch, h, w, c] of SHAPES) {
    const crops: [number, number, number, number][] = [
      [0, 0, 0, 0],
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
      [h - 1, 0, w - 1, 0],
      [0, h - 1, 0, w - 1],
      [1, 1, 1, 1],
      [2, 1, 0, 3],
    ];
    for (const [top, bottom, left, right] of crops) {
      const outH = h - top - bottom, outW = w - left - right;
      if (outH < 1 || outW < 1) continue;
      const p: ResampleParams = { batch, h, w, c, outH, outW };
      const what = `crop ${JSON.stringify(p)} ${[top, bottom, left, right]}`;
      const x = rng.floats(batch * h * w * c);
      const y = run(
        x,
        batch * outH * outW * c,
        (px, py) => kernels.crop2d(px, py, batch, h, w, c, top, left, outH, outW),
      );
      assertClose(y, crop2dReference(x, p, top, left), 0, `${what} y`);
      const dy = rng.floats(y.length);
      const dx = run(
        dy,
        x.length,
        (pdy, pdx) => kernels.crop2dGrad(pdy, pdx, batch, h, w, c, top, left, outH, outW),
      );
      assertClose(dx, crop2dGradReference(dy, p, top, left), 0, `${what} dx`);
    }
  }
});
