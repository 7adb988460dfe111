import { getRuntime } from "../wasm/kernels.ts";
import { softmaxReference } from "../activations.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  binaryCEReference,
  categoricalCEReference,
  LossMode,
  meanAbsoluteErrorReference,
  meanSquaredErrorReference,
  oneHot,
} from "./loss_reference.ts";

function close(got: number, want: number, tol: number, what: string) {
  if (!(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)))) {
    throw new Error(`${what}: ${got} vs ${want}`);
  }
}

const SHAPES = [[1, 1], [1, 10], [17, 3], [17, 10], [5, 37]];
const MODES = [LossMode.Probabilities, LossMode.FusedWithOutputActivation, LossMode.Logits];

Deno.test("sparse and dense categorical cross-entropy kernels match the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(51);
  for (const [rows, cols] of SHAPES) {
    for (const mode of MODES) {
      const logits = rng.floats(rows * cols, -6, 6);
      // One row saturated so clipping is exercised: p_y ≈ 0 for a label far from the max.
      if (rows > 1) logits.set(new Float32Array(cols).fill(-40).map((v, j) => j === 0 ? 40 : v));
      const pred = mode === LossMode.Logits ? logits : softmaxReference(logits, cols);
      const labels = Int32Array.from({ length: rows }, () => rng.int(0, cols));
      if (rows > 1) labels[0] = cols - 1;
      const weights = rng.floats(rows, 0, 2);
      const want = categoricalCEReference(pred, oneHot(labels, cols), weights, cols, mode, 0.25);
      const pp = heap.upload(pred), pl = heap.upload(labels), pw = heap.upload(weights);
      const pg = heap.alloc(rows * cols * 4);
      const tag = `${rows}x${cols} mode ${mode}`;
      const total = kernels.sparseCategoricalCE(pp, pl, pw, pg, rows, cols, mode, 0.25, 1e-7);
      close(total, want.total, 1e-5, `sparse CE ${tag}`);
      const gScale = Math.max(1, ...Array.from(want.grad, Math.abs));
      const d = maxAbsDiff(heap.f32(pg, rows * cols), want.grad);
      if (!(d <= 1e-5 * gScale)) throw new Error(`sparse CE grad ${tag}: ${d}`);
      // No gradient buffer and no weights (all ones): the unweighted loss.
      const unweighted = categoricalCEReference(pred, oneHot(labels, cols), null, cols, mode, 1);
      const total1 = kernels.sparseCategoricalCE(pp, pl, 0, 0, rows, cols, mode, 1, 1e-7);
      close(total1, unweighted.total, 1e-5, `sparse CE unweighted ${tag}`);
      // Dense targets (soft labels) through categoricalCE.
      const soft = rng.floats(rows * cols, 0, 1);
      const wantC = categoricalCEReference(pred, soft, weights, cols, mode, 0.5);
      const pt = heap.upload(soft);
      const totalC = kernels.categoricalCE(pp, pt, pw, pg, rows, cols, mode, 0.5, 1e-7);
      close(totalC, wantC.total, 1e-5, `categorical CE ${tag}`);
      const dC = maxAbsDiff(heap.f32(pg, rows * cols), wantC.grad);
      if (!(dC <= 1e-5 * Math.max(1, ...Array.from(wantC.grad, Math.abs)))) {
        throw new Error(`categorical CE grad ${tag}: ${dC}`);
      }
      [pp, pl, pw, pg, pt].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("sparse CE on probabilities clips to [1e-7, 1 - 1e-7] as Keras does", () => {
  const { kernels, heap } = getRuntime();
  const pred = new Float32Array([1, 0, 0, 0.5, 0.5, 0]);
  const pp = heap.upload(pred), pl = heap.upload(new Int32Array([1, 2]));
  const total = kernels.sparseCategoricalCE(pp, pl, 0, 0, 2, 3, 0, 1, 1e-7);
  // Both rows hit the lower clip: -log(1e-7) each.
  close(total, -2 * Math.log(1e-7), 1e-6, "clipped");
  [pp, pl].forEach((p) => heap.free(p));
});

Deno.test("binary cross-entropy and MSE kernels match the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(52);
  for (const [rows, cols] of SHAPES) {
    const target = Float32Array.from({ length: rows * cols }, () => rng.int(0, 2));
    const weights = rng.floats(rows, 0, 2);
    for (const mode of MODES) {
      const z = rng.floats(rows * cols, -8, 8);
      const pred = mode === LossMode.Logits ? z : z.map((v) => 1 / (1 + Math.exp(-v)));
      const want = binaryCEReference(pred, target, weights, cols, mode, 0.3);
      const pp = heap.upload(pred), pt = heap.upload(target), pw = heap.upload(weights);
      const pg = heap.alloc(rows * cols * 4);
      const total = kernels.binaryCE(pp, pt, pw, pg, rows, cols, mode, 0.3, 1e-7);
      close(total, want.total, 1e-5, `BCE ${rows}x${cols} mode ${mode}`);
      const scale = Math.max(1, ...Array.from(want.grad, Math.abs));
      const d = maxAbsDiff(heap.f32(pg, rows * cols), want.grad);
      if (!(d <= 1e-5 * scale)) throw new Error(`BCE grad ${rows}x${cols} mode ${mode}: ${d}`);
      [pp, pt, pw, pg].forEach((p) => heap.free(p));
    }
    const pred = rng.floats(rows * cols, -3, 3);
    const want = meanSquaredErrorReference(pred, target, weights, cols, 0.7);
    const pp = heap.upload(pred), pt = heap.upload(target), pw = heap.upload(weights);
    const pg = heap.alloc(rows * cols * 4);
    close(kernels.meanSquaredError(pp, pt, pw, pg, rows, cols, 0.7), want.total, 1e-5, "MSE");
    if (maxAbsDiff(heap.f32(pg, rows * cols), want.grad) > 1e-5) throw new Error("MSE grad");
    [pp, pt, pw, pg].forEach((p) => heap.free(p));
  }
});

Deno.test("MAE kernel matches the reference, with a zero gradient where prediction = target", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(53);
  for (const [rows, cols] of SHAPES) {
    const target = rng.floats(rows * cols, -2, 2);
    const pred = rng.floats(rows * cols, -3, 3);
    pred[0] = target[0]; // an exact hit: the subgradient 0
    for (const weights of [rng.floats(rows, 0, 2), null]) {
      const want = meanAbsoluteErrorReference(pred, target, weights, cols, 0.7);
      const pp = heap.upload(pred), pt = heap.upload(target);
      const pw = weights ? heap.upload(weights) : 0;
      const pg = heap.alloc(rows * cols * 4);
      const total = kernels.meanAbsoluteError(pp, pt, pw, pg, rows, cols, 0.7);
      close(total, want.total, 1e-5, `MAE ${rows}x${cols}`);
      const g = heap.f32(pg, rows * cols);
      if (maxAbsDiff(g, want.grad) > 1e-6) throw new Error(`MAE grad ${rows}x${cols}`);
      if (g[0] !== 0) throw new Error(`MAE grad at p = y: ${g[0]}`);
      [pp, pt, pw, pg].forEach((p) => p && heap.free(p));
    }
  }
});
