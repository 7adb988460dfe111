import { getRuntime } from "../wasm/kernels.ts";
import { activateReference, ActivationCode, softmaxReference } from "../activations.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  activationDerivativeReference,
  dropoutScaleReference,
  reluGeneralDerivativeReference,
  softmaxGradReference,
} from "./activation_grad_reference.ts";

const CODES = Object.values(ActivationCode).filter((v) => typeof v === "number") as number[];

Deno.test("activationGrad matches the reference derivative for every code (n = 1, 7, 37)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(41);
  for (const code of CODES) {
    const alpha = code === ActivationCode.Elu ? 1.3 : 0.25;
    for (const n of [1, 7, 37]) {
      const z = rng.floats(n, -5, 5);
      const y = Float32Array.from(z, (v) => activateReference(v, code, alpha));
      const dy = rng.floats(n);
      const pz = heap.upload(z), py = heap.upload(y), pdy = heap.upload(dy);
      const pdz = heap.alloc(n * 4);
      kernels.activationGrad(pz, py, pdy, pdz, n, code, alpha);
      const want = Array.from(z, (v, i) => dy[i] * activationDerivativeReference(v, code, alpha));
      const scale = Math.max(1, ...want.map(Math.abs));
      const d = maxAbsDiff(heap.f32(pdz, n), want);
      if (!(d <= 2e-6 * scale)) throw new Error(`${ActivationCode[code]} n=${n}: max |Δ| ${d}`);
      // In place (dz = dy) gives the same result.
      kernels.activationGrad(pz, py, pdy, pdy, n, code, alpha);
      if (maxAbsDiff(heap.f32(pdy, n), heap.f32(pdz, n)) !== 0) {
        throw new Error(`${ActivationCode[code]}: in-place differs`);
      }
      [pz, py, pdy, pdz].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("activation derivatives agree with central differences of the forward reference", () => {
  const rng = new Rng(42);
  for (const code of CODES) {
    for (let i = 0; i < 50; i++) {
      const z = rng.uniform(-4, 4);
      // Stay away from kinks, where the one-sided derivatives differ.
      if ([0, 6, -3, 3, -2.5, 2.5].some((k) => Math.abs(z - k) < 1e-3)) continue;
      const h = 1e-6;
      const fd = (activateReference(z + h, code, 0.3) - activateReference(z - h, code, 0.3)) /
        (2 * h);
      const an = activationDerivativeReference(z, code, 0.3);
      if (!(Math.abs(fd - an) <= 1e-5 * Math.max(1, Math.abs(an)))) {
        throw new Error(`${ActivationCode[code]} at ${z}: analytic ${an} vs numeric ${fd}`);
      }
    }
  }
});

Deno.test("softmaxGradRows (softmax and log-softmax) matches the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(43);
  for (const [rows, cols] of [[1, 1], [1, 10], [17, 7], [17, 13]]) {
    for (const log of [0, 1]) {
      const y = softmaxReference(rng.floats(rows * cols, -4, 4), cols, log === 1);
      const dy = rng.floats(rows * cols);
      const py = heap.upload(y), pdy = heap.upload(dy), pdz = heap.alloc(rows * cols * 4);
      kernels.softmaxGradRows(py, pdy, pdz, rows, cols, log);
      const want = softmaxGradReference(y, dy, cols, log === 1);
      const d = maxAbsDiff(heap.f32(pdz, rows * cols), want);
      if (!(d <= 1e-6)) throw new Error(`softmaxGrad ${rows}x${cols} log=${log}: ${d}`);
      [py, pdy, pdz].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("reluGeneralGrad: threshold, negative slope and max value", () => {
  const { kernels, heap } = getRuntime();
  const x = new Float32Array([-2, -0.5, 0.2, 0.7, 1, 3, 5.9, 6.5, 10]);
  const dy = new Float32Array(x.length).fill(2);
  for (const [slope, maxV, thr] of [[0, -1, 0], [0.1, 6, 0.5], [0.3, -1, -1]]) {
    const px = heap.upload(x), pdy = heap.upload(dy), pdx = heap.alloc(x.length * 4);
    kernels.reluGeneralGrad(px, pdy, pdx, x.length, slope, maxV, thr);
    const want = Array.from(
      x,
      (v) => 2 * reluGeneralDerivativeReference(v, slope, maxV < 0 ? null : maxV, thr),
    );
    if (maxAbsDiff(heap.f32(pdx, x.length), want) > 1e-7) {
      throw new Error(`reluGeneralGrad ${slope}/${maxV}/${thr}: ${heap.f32(pdx, x.length)}`);
    }
    [px, pdy, pdx].forEach((p) => heap.free(p));
  }
});

Deno.test("dropoutForward: seeded mask equals the reference hash; keep rate ≈ 1 - rate", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(44);
  const n = 20_001;
  for (const rate of [0.1, 0.5, 0.8]) {
    const x = rng.floats(n);
    const px = heap.upload(x), py = heap.alloc(n * 4), ps = heap.alloc(n * 4);
    kernels.dropoutForward(px, py, ps, n, rate, 12345, 17);
    const scale = heap.f32(ps, n), y = heap.f32(py, n);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const want = dropoutScaleReference(12345, 17 + i, rate);
      if (scale[i] !== want) throw new Error(`rate ${rate} i=${i}: ${scale[i]} vs ${want}`);
      if (y[i] !== Math.fround(x[i] * want)) throw new Error(`rate ${rate} y[${i}]`);
      if (want) kept++;
    }
    const frac = kept / n;
    if (Math.abs(frac - (1 - rate)) > 0.02) throw new Error(`rate ${rate}: kept ${frac}`);
    // A slice of the batch draws the same mask as the whole batch (offset = start index).
    kernels.dropoutForward(px + 100 * 4, py, ps, 50, rate, 12345, 117);
    for (let i = 0; i < 50; i++) {
      if (heap.f32(ps, 50)[i] !== dropoutScaleReference(12345, 117 + i, rate)) {
        throw new Error("slice mask differs");
      }
    }
    [px, py, ps].forEach((p) => heap.free(p));
  }
});

Deno.test("multiplyElementwise and addInto", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(45);
  for (const n of [1, 7, 37]) {
    const a = rng.floats(n), b = rng.floats(n);
    const pa = heap.upload(a), pb = heap.upload(b), pc = heap.alloc(n * 4);
    kernels.multiplyElementwise(pa, pb, pc, n);
    if (maxAbsDiff(heap.f32(pc, n), a.map((v, i) => v * b[i])) > 0) throw new Error("mul");
    kernels.addInto(pa, pb, n, 1);
    if (maxAbsDiff(heap.f32(pb, n), a.map((v, i) => v + b[i])) > 0) throw new Error("add");
    kernels.addInto(pa, pb, n, 0);
    if (maxAbsDiff(heap.f32(pb, n), a) > 0) throw new Error("copy");
    [pa, pb, pc].forEach((p) => heap.free(p));
  }
});
