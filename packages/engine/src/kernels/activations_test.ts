import { getRuntime, instantiateKernels } from "../wasm/kernels.ts";
import { activateReference, ActivationCode, softmaxReference } from "../activations.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";

Deno.test("activate kernel matches the reference for every code, sizes not a multiple of 4", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(5);
  const codes = Object.values(ActivationCode).filter((v) => typeof v === "number") as number[];
  for (const code of codes) {
    for (const n of [1, 7, 37]) {
      const x = rng.floats(n, -6, 6);
      x[0] = 0; // exercise the kinks
      const p = heap.upload(x);
      kernels.activate(p, n, code, 0.25);
      const want = Float32Array.from(x, (v) => activateReference(v, code, 0.25));
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      const d = maxAbsDiff(heap.f32(p, n), want);
      if (!(d <= 1e-6 * scale)) throw new Error(`${ActivationCode[code]} n=${n}: max |Δ| ${d}`);
      heap.free(p);
    }
  }
});

Deno.test("softmaxRows and log-softmax match the reference and are shift-invariant", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(9);
  for (const [rows, cols] of [[1, 1], [3, 7], [17, 10]]) {
    for (const log of [0, 1]) {
      const x = rng.floats(rows * cols, -30, 30);
      x[0] = 1000; // large logits must not overflow
      const p = heap.upload(x);
      kernels.softmaxRows(p, rows, cols, log);
      const d = maxAbsDiff(heap.f32(p, rows * cols), softmaxReference(x, cols, log === 1));
      if (!(d <= 1e-5)) throw new Error(`softmax ${rows}x${cols} log=${log}: ${d}`);
      heap.free(p);
    }
  }
});

Deno.test("reluGeneral: threshold, negative slope and max value", () => {
  const { kernels, heap } = getRuntime();
  const x = new Float32Array([-2, -0.5, 0, 0.5, 1, 3, 10]);
  const p = heap.upload(x);
  kernels.reluGeneral(p, x.length, 0.1, 6, 0.5);
  const got = Array.from(heap.f32(p, x.length));
  const want = Array.from(x, (v) => Math.min(v >= 0.5 ? v : 0.1 * (v - 0.5), 6));
  if (maxAbsDiff(got, want) > 1e-7) throw new Error(`reluGeneral ${got} vs ${want}`);
  heap.free(p);
  // The vector body and the scalar tail agree with a plain reference for every setting, sizes not
  // a multiple of 4, values on the kinks.
  const rng = new Rng(12);
  for (const [slope, max, thr] of [[0, 6, 0], [0.2, -1, 0], [0.3, 2.5, -1], [0, -1, 1]]) {
    for (const n of [1, 6, 33]) {
      const v = rng.floats(n, -8, 8);
      v[0] = thr;
      if (n > 4) v[4] = max;
      const q = heap.upload(v);
      kernels.reluGeneral(q, n, slope, max, thr);
      const ref = Float32Array.from(v, (u) => {
        const y = u >= thr ? u : Math.fround(Math.fround(slope) * Math.fround(u - thr));
        return max >= 0 && y > max ? max : y;
      });
      const d = maxAbsDiff(heap.f32(q, n), ref);
      if (!(d === 0)) throw new Error(`reluGeneral(${slope}, ${max}, ${thr}) n=${n}: ${d}`);
      heap.free(q);
    }
  }
});

Deno.test("relu, relu6, leaky_relu and the hard sigmoids: vector lanes and scalar tail give the same values, NaN and -0 too", () => {
  const { kernels, heap } = getRuntime();
  for (
    const code of [
      ActivationCode.Relu,
      ActivationCode.Relu6,
      ActivationCode.LeakyRelu,
      ActivationCode.HardSigmoid,
      ActivationCode.HardSigmoidKeras2,
    ]
  ) {
    // Lanes 0..3 run the vector form, lanes 4..6 the scalar tail: the same inputs in both.
    // The second array: -0 in a vector lane (0) and in the tail (4).
    for (
      const [x, pairs] of [
        [new Float32Array([NaN, -3, 6, 7.5, NaN, -3, 6]), [[0, 4], [1, 5], [2, 6]]],
        [new Float32Array([-0, 1, 2, 3, -0]), [[0, 4]]],
      ] as const
    ) {
      const p = heap.upload(x);
      kernels.activate(p, x.length, code, 0.3);
      const y = Array.from(heap.f32(p, x.length));
      for (const [a, b] of pairs) {
        if (!Object.is(y[a], y[b])) {
          throw new Error(`${ActivationCode[code]}: lane ${a} ${y[a]} vs tail ${y[b]}`);
        }
      }
      heap.free(p);
    }
  }
});

Deno.test("SIMD sigmoid and tanh: relative error ≤ 2e-7 and ≤ 4e-7 against float64, both builds", () => {
  // A dense grid over the range recurrent gates see (finer where tanh leaves its rational's
  // clamp at ±9), plus tiny and saturating values. Measured: sigmoid 1.2e-7, tanh 2.9e-7
  // (relaxed) / 3.1e-7 (plain SIMD).
  const xs: number[] = [0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-4, -1e-4, 0.6249, 0.625, -0.625, 9, -9];
  for (let x = -80; x <= 80; x += 0.00731) xs.push(x);
  for (let x = -12; x <= 12; x += 0.000731) xs.push(x);
  const x = Float32Array.from(xs);
  for (const { kernels, heap, variant } of [instantiateKernels("simd"), getRuntime()]) {
    for (const code of [ActivationCode.Sigmoid, ActivationCode.Tanh]) {
      const p = heap.upload(x);
      kernels.activate(p, x.length, code, 0);
      const got = heap.f32(p, x.length);
      let worst = 0, at = 0;
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        const want = code === ActivationCode.Tanh ? Math.tanh(v) : 1 / (1 + Math.exp(-v));
        // Relative error, except for results below float32's normal range (absolute there).
        const err = Math.abs(got[i] - want) / Math.max(Math.abs(want), 1.2e-38);
        if (err > worst) [worst, at] = [err, v];
      }
      heap.free(p);
      if (!(worst <= (code === ActivationCode.Tanh ? 4e-7 : 2e-7))) {
        throw new Error(`${variant} ${ActivationCode[code]}: relative error ${worst} at x=${at}`);
      }
    }
  }
});
