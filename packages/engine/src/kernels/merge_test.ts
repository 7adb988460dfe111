import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import { broadcastDescriptor } from "../layers/merge.ts";
import {
  broadcastToReference,
  copyStridedReference,
  l2NormalizeRowsGradReference,
  l2NormalizeRowsReference,
  maskRowsFillReference,
  mergeIntoReference,
  mergeSelectReference,
  selectGradReference,
  sumToShapeReference,
} from "./merge_reference.ts";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Runs `fn` with device copies of `arrays`; frees them after. */
function withDevice<T>(arrays: (Float32Array | Int32Array)[], fn: (ptrs: number[]) => T): T {
  const { heap } = getRuntime();
  const ptrs = arrays.map((a) => heap.upload(a));
  try {
    return fn(ptrs);
  } finally {
    ptrs.forEach((p) => heap.free(p));
  }
}

/** [input shape, output shape] pairs (with batch): sizes not multiples of 4, batch 1 and many. */
const BROADCASTS: [number[], number[]][] = [
  [[1, 7], [1, 7]],
  [[17, 1], [17, 9]],
  [[3, 1, 5], [3, 6, 5]],
  [[3, 6, 1], [3, 6, 5]],
  [[5, 3], [5, 4, 3]], // lower rank: a size-1 dim after the batch axis
  [[2, 1, 1], [2, 7, 11]],
  [[17, 2, 1, 3], [17, 2, 5, 3]],
  [[4, 5, 1, 1], [4, 5, 3, 1]],
  [[1, 1, 9], [1, 13, 9]],
];

Deno.test("broadcastTo and sumToShape match the references (size-1 and missing dims)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1401);
  for (const [shape, out] of BROADCASTS) {
    const x = rng.floats(size(shape));
    const g = rng.floats(size(out));
    const desc = broadcastDescriptor(shape, out);
    withDevice([x, g, desc, new Float32Array(size(out)), new Float32Array(size(shape)).fill(7)], (
      [px, pg, pd, py, pdx],
    ) => {
      kernels.broadcastTo(px, py, pd);
      const what = `${shape} → ${out}`;
      assertClose(heap.f32(py, size(out)), broadcastToReference(x, shape, out), 0, what);
      kernels.sumToShape(pg, pdx, size(shape), pd);
      assertClose(heap.f32(pdx, size(shape)), sumToShapeReference(g, shape, out), 1e-5, what);
    });
  }
});

Deno.test("mergeInto matches the reference for every op (sizes 1..37)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1402);
  for (const n of [1, 3, 4, 5, 8, 13, 37]) {
    for (let op = 0; op < 5; op++) {
      const a = rng.floats(n), b = rng.floats(n);
      b[0] = a[0]; // a tie
      withDevice([a, b], ([pa, pb]) => {
        kernels.mergeInto(op, pa, pb, n);
        assertClose(heap.f32(pa, n), mergeIntoReference(op, a, b), 0, `op ${op} n ${n}`);
      });
    }
  }
});

Deno.test("mergeSelect and selectGrad match the reference, with and without row masks", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1403);
  for (const [rows, rowLen] of [[1, 7], [17, 3], [6, 9], [5, 4]]) {
    const n = rows * rowLen;
    for (const isMin of [false, true]) {
      for (const masked of ["none", "valid", "both", "anyOnly"] as const) {
        const acc = rng.floats(n), x = rng.floats(n);
        for (let i = 0; i < n; i += 3) x[i] = acc[i]; // ties keep the earlier input
        const winner = Int32Array.from({ length: n }, () => rng.int(0, 2));
        const valid = masked === "valid" || masked === "both"
          ? Int32Array.from({ length: rows }, () => rng.int(0, 2))
          : null;
        const anyValid = masked === "both" || masked === "anyOnly"
          ? Int32Array.from({ length: rows }, () => rng.int(0, 2))
          : null;
        const want = mergeSelectReference(isMin, acc, x, winner, 2, valid, anyValid, rowLen);
        const arrays = [acc, x, winner, valid ?? new Int32Array(1), anyValid ?? new Int32Array(1)];
        withDevice(arrays, ([pa, px, pw, pv, pany]) => {
          kernels.mergeSelect(
            isMin ? 1 : 0,
            pa,
            px,
            pw,
            2,
            n,
            valid ? pv : 0,
            anyValid ? pany : 0,
            rowLen,
          );
          const what = `${rows}×${rowLen} min ${isMin} masks ${masked}`;
          assertClose(heap.f32(pa, n), want.acc, 0, what);
          assertClose(heap.i32(pw, n), want.winner, 0, `${what} winner`);
          if (anyValid) assertClose(heap.i32(pany, rows), want.anyValid!, 0, `${what} anyValid`);
          const dy = rng.floats(n);
          withDevice([dy, new Float32Array(n)], ([pdy, pdx]) => {
            kernels.selectGrad(pdy, pw, 2, pdx, n);
            assertClose(heap.f32(pdx, n), selectGradReference(dy, want.winner, 2), 0, what);
          });
        });
      }
    }
  }
});

Deno.test("maskRowsFill, scaleFloats and copyStrided match the references", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1404);
  for (const [rows, rowLen] of [[1, 5], [17, 3], [4, 8], [9, 13]]) {
    const n = rows * rowLen;
    const x = rng.floats(n);
    const mask = Int32Array.from({ length: rows }, () => rng.int(0, 2));
    withDevice([x, mask, new Float32Array(n)], ([px, pm, py]) => {
      kernels.maskRowsFill(px, py, pm, rows, rowLen, 1);
      assertClose(heap.f32(py, n), maskRowsFillReference(x, mask, rowLen, 1), 0, `fill ${n}`);
      kernels.maskRowsFill(px, px, pm, rows, rowLen, 0); // in place
      assertClose(heap.f32(px, n), maskRowsFillReference(x, mask, rowLen, 0), 0, `fill ${n}`);
      kernels.scaleFloats(py, py, n, -0.37);
      const want = Float32Array.from(
        maskRowsFillReference(x, mask, rowLen, 1),
        (v) => v * Math.fround(-0.37),
      );
      assertClose(heap.f32(py, n), want, 0, `scale ${n}`);
    });
  }
  // Concatenate's slots: outer rows of chunks into a wider output row, and back.
  for (const [outer, chunk, outChunk, offset] of [[1, 3, 7, 4], [17, 5, 11, 0], [6, 9, 18, 9]]) {
    const src = rng.floats(outer * chunk);
    const dst = rng.floats(outer * outChunk);
    withDevice([src, dst, new Float32Array(outer * chunk)], ([ps, pd, pback]) => {
      kernels.copyStrided(ps, chunk, pd + offset * 4, outChunk, outer, chunk);
      const want = copyStridedReference(
        src,
        chunk,
        dst.subarray(offset),
        outChunk,
        outer,
        chunk,
      );
      const what = `copyStrided ${outer}×${chunk} into ${outChunk} at ${offset}`;
      assertClose(heap.f32(pd + offset * 4, dst.length - offset), want, 0, what);
      kernels.copyStrided(pd + offset * 4, outChunk, pback, chunk, outer, chunk);
      assertClose(heap.f32(pback, src.length), src, 0, `${what} (back)`);
    });
  }
});

Deno.test("l2NormalizeRows and its gradient match the references (clamped rows too)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1405);
  for (const [rows, cols] of [[1, 1], [1, 7], [17, 3], [5, 12], [3, 33]]) {
    const n = rows * cols;
    const x = rng.floats(n);
    x.fill(0, 0, cols); // a zero row: the norm clamps to minNorm
    const dy = rng.floats(n);
    const minNorm = 1e-7;
    const ref = l2NormalizeRowsReference(x, rows, cols, minNorm);
    withDevice([x, dy, new Float32Array(n), new Float32Array(rows), new Float32Array(n)], (
      [px, pdy, py, pnorms, pdx],
    ) => {
      kernels.l2NormalizeRows(px, py, pnorms, rows, cols, minNorm);
      assertClose(heap.f32(py, n), ref.y, 1e-6, `normalize ${rows}×${cols}`);
      assertClose(heap.f32(pnorms, rows), ref.norms, 1e-6, `norms ${rows}×${cols}`);
      kernels.l2NormalizeRowsGrad(py, pdy, pnorms, pdx, rows, cols, minNorm);
      const want = l2NormalizeRowsGradReference(x, dy, rows, cols, minNorm);
      // The zero row's gradient is dy / 1e-7: compare relative to the magnitudes.
      const got = heap.f32(pdx, n);
      for (let i = 0; i < n; i++) {
        const tol = 1e-5 * Math.max(1, Math.abs(want[i]));
        if (!(Math.abs(got[i] - want[i]) <= tol)) {
          throw new Error(`grad ${rows}×${cols} [${i}]: ${got[i]} vs ${want[i]}`);
        }
      }
    });
  }
});
