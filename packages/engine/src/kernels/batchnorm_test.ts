import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { batchNormScaleShift } from "../layers/batch_normalization.ts";
import { batchNormReference } from "./batchnorm_reference.ts";

Deno.test("scaleShift kernel with precomputed BN scale/shift matches the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(301);
  for (const c of [1, 3, 7, 16, 33]) {
    for (const rows of [1, 17]) {
      for (const [withGamma, withBeta] of [[true, true], [false, true], [true, false]]) {
        const p = {
          gamma: withGamma ? rng.floats(c, 0.5, 2) : null,
          beta: withBeta ? rng.floats(c) : null,
          movingMean: rng.floats(c),
          movingVariance: rng.floats(c, 0.1, 3),
          epsilon: 1e-3,
        };
        const x = rng.floats(rows * c, -3, 3);
        const { scale, shift } = batchNormScaleShift(p);
        const px = heap.upload(x), ps = heap.upload(scale), pt = heap.upload(shift);
        const py = heap.alloc(rows * c * 4);
        kernels.scaleShift(px, py, rows, c, ps, pt);
        const d = maxAbsDiff(heap.f32(py, rows * c), batchNormReference(x, p));
        if (!(d <= 1e-5)) throw new Error(`c=${c} rows=${rows} γ=${withGamma} β=${withBeta}: ${d}`);
        // In place (y = x) gives the same.
        kernels.scaleShift(px, px, rows, c, ps, pt);
        const d2 = maxAbsDiff(heap.f32(px, rows * c), heap.f32(py, rows * c));
        if (d2 !== 0) throw new Error(`in place differs by ${d2}`);
        [px, ps, pt, py].forEach((ptr) => heap.free(ptr));
      }
    }
  }
});
