import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertCloseToScale } from "../../testing/assert.ts";
import { batchMomentsReference, batchNormGradReference } from "./batchnorm_grad_reference.ts";

// [rows, channels]: batch 1 and 17 (× spatial positions), odd channel counts, many rows.
const SHAPES = [[1, 1], [1, 5], [17, 3], [17, 8], [17 * 9, 13], [70, 4], [4099, 6]];

Deno.test("batchNormMoments matches the reference (offset data, many rows)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(621);
  for (const [rows, c] of SHAPES) {
    // A large common offset makes a one-pass E[x²] − E[x]² fail; two passes keep it exact.
    const x = Float32Array.from(rng.floats(rows * c), (v, i) => 50 + (i % c) + 0.5 * v);
    const px = heap.upload(x), pm = heap.alloc(c * 4), pv = heap.alloc(c * 4);
    const work = heap.alloc(c * 12);
    kernels.batchNormMoments(px, rows, c, pm, pv, work);
    const want = batchMomentsReference(x, c);
    assertCloseToScale(heap.f32(pm, c), want.mean, 1e-6, `mean ${rows}x${c}`);
    assertCloseToScale(heap.f32(pv, c), want.variance, 1e-4, `variance ${rows}x${c}`);
    [px, pm, pv, work].forEach((q) => heap.free(q));
  }
});

Deno.test("batchNormBackward matches the reference, with and without gamma, dx in place", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(622);
  const eps = 1e-3;
  for (const [rows, c] of SHAPES) {
    for (const withGamma of [true, false]) {
      const x = Float32Array.from(rng.floats(rows * c), (v, i) => (i % c) * 0.3 + v);
      const dy = rng.floats(rows * c);
      const gamma = withGamma ? rng.floats(c, 0.5, 1.5) : null;
      const { mean, variance } = batchMomentsReference(x, c);
      const invStd = Float32Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
      const px = heap.upload(x), pdy = heap.upload(dy), pdx = heap.alloc(rows * c * 4);
      const pm = heap.upload(mean), ps = heap.upload(invStd);
      const pg = gamma ? heap.upload(gamma) : 0;
      const pdg = heap.alloc(c * 4), pdb = heap.alloc(c * 4), work = heap.alloc(c * 24);
      const want = batchNormGradReference(x, dy, c, gamma, eps);
      const what = `${rows}x${c} gamma ${withGamma}`;
      kernels.batchNormBackward(px, pdy, pdx, rows, c, pm, ps, pg, pdg, pdb, work);
      assertCloseToScale(heap.f32(pdg, c), want.dgamma, 1e-5, `dgamma ${what}`);
      assertCloseToScale(heap.f32(pdb, c), want.dbeta, 1e-5, `dbeta ${what}`);
      // dx is a difference of terms of size γ·invStd·dy (exactly 0 for one row): scale by them.
      const terms = Math.max(
        ...Array.from(dy, (g, i) => Math.abs(g * invStd[i % c] * (gamma?.[i % c] ?? 1))),
      );
      assertCloseToScale(heap.f32(pdx, rows * c), want.dx, 1e-5, `dx ${what}`, terms);
      kernels.batchNormBackward(px, pdy, pdy, rows, c, pm, ps, pg, pdg, pdb, work);
      assertCloseToScale(heap.f32(pdy, rows * c), want.dx, 1e-5, `dx in place ${what}`, terms);
      [px, pdy, pdx, pm, ps, pdg, pdb, work].forEach((q) => heap.free(q));
      if (pg) heap.free(pg);
    }
  }
});
