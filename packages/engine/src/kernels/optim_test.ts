import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  adamReference,
  clipByNormReference,
  rmspropReference,
  sgdReference,
} from "./optim_reference.ts";

const SIZES = [1, 7, 17, 37];

Deno.test("adamUpdate matches the Keras 3 reference over 20 steps", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(61);
  for (const n of SIZES) {
    const w = rng.floats(n), m = new Float32Array(n), v = new Float32Array(n);
    const pw = heap.upload(w), pm = heap.upload(m), pv = heap.upload(v), pg = heap.alloc(n * 4);
    for (let t = 1; t <= 20; t++) {
      const g = rng.floats(n, -0.1, 0.1);
      heap.f32(pg, n).set(g);
      const alpha = (1e-3 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      kernels.adamUpdate(pw, pg, pm, pv, n, alpha, 0.9, 0.999, 1e-7);
      adamReference(w, g, m, v, t);
    }
    const d = maxAbsDiff(heap.f32(pw, n), w);
    if (!(d <= 1e-6)) throw new Error(`adam n=${n}: ${d}`);
    [pw, pm, pv, pg].forEach((p) => heap.free(p));
  }
});

Deno.test("sgdUpdate (plain, momentum, Nesterov) matches the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(62);
  for (const n of SIZES) {
    for (const [momentum, nesterov] of [[0, false], [0.9, false], [0.9, true]] as const) {
      const w = rng.floats(n), m = new Float32Array(n);
      const pw = heap.upload(w), pm = heap.upload(m), pg = heap.alloc(n * 4);
      for (let t = 0; t < 10; t++) {
        const g = rng.floats(n);
        heap.f32(pg, n).set(g);
        kernels.sgdUpdate(pw, pg, pm, n, 0.01, momentum, nesterov ? 1 : 0);
        sgdReference(w, g, m, 0.01, momentum, nesterov);
      }
      const d = maxAbsDiff(heap.f32(pw, n), w);
      if (!(d <= 1e-6)) throw new Error(`sgd n=${n} momentum=${momentum} ${nesterov}: ${d}`);
      [pw, pm, pg].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("rmspropUpdate (plain, momentum, centered) matches the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(63);
  for (const n of SIZES) {
    for (
      const [momentum, centered] of [[0, false], [0.5, false], [0, true], [0.5, true]] as const
    ) {
      const w = rng.floats(n);
      const v = new Float32Array(n), mom = new Float32Array(n), avg = new Float32Array(n);
      const pw = heap.upload(w), pv = heap.upload(v), pm = heap.upload(mom);
      const pa = heap.upload(avg), pg = heap.alloc(n * 4);
      for (let t = 0; t < 10; t++) {
        const g = rng.floats(n);
        heap.f32(pg, n).set(g);
        kernels.rmspropUpdate(pw, pg, pv, pm, pa, n, 1e-3, 0.9, momentum, 1e-7, centered ? 1 : 0);
        rmspropReference(w, g, v, mom, avg, 1e-3, 0.9, momentum, 1e-7, centered);
      }
      const d = maxAbsDiff(heap.f32(pw, n), w);
      if (!(d <= 1e-6)) throw new Error(`rmsprop n=${n} ${momentum}/${centered}: ${d}`);
      [pw, pv, pm, pa, pg].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("sumSquares, scaleInPlace (clipnorm) and clipInPlace (clipvalue)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(64);
  for (const n of [...SIZES, 5003]) {
    const g = rng.floats(n, -2, 2);
    const pg = heap.upload(g);
    const ss = g.reduce((a, b) => a + b * b, 0);
    if (Math.abs(kernels.sumSquares(pg, n) - ss) > 1e-5 * ss) throw new Error(`sumSquares ${n}`);
    const norm = Math.sqrt(ss), clip = norm / 3;
    kernels.scaleInPlace(pg, n, clip / Math.max(norm, clip));
    if (maxAbsDiff(heap.f32(pg, n), clipByNormReference(g, clip)) > 1e-6) {
      throw new Error(`clipnorm ${n}`);
    }
    heap.f32(pg, n).set(g);
    kernels.clipInPlace(pg, n, -0.5, 0.5);
    if (maxAbsDiff(heap.f32(pg, n), g.map((v) => Math.min(0.5, Math.max(-0.5, v)))) > 0) {
      throw new Error(`clipvalue ${n}`);
    }
    heap.free(pg);
  }
});
