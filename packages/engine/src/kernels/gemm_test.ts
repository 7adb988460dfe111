import { getRuntime, instantiateKernels, type KernelRuntime } from "../wasm/kernels.ts";
import { ActivationCode } from "../activations.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import { gemmReference } from "./gemm_reference.ts";

Deno.test("gemm kernel matches the reference on odd shapes, with and without bias", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(7);
  const shapes = [[1, 1, 1], [1, 3, 5], [17, 13, 7], [4, 8, 16], [5, 9, 3], [33, 70, 29], [
    2,
    130,
    1,
  ]];
  for (const [m, n, k] of shapes) {
    for (const withBias of [true, false]) {
      const a = rng.floats(m * k), b = rng.floats(k * n), bias = rng.floats(n);
      const pa = heap.upload(a), pb = heap.upload(b), pbias = withBias ? heap.upload(bias) : 0;
      const pc = heap.alloc(m * n * 4);
      kernels.gemm(pa, pb, pbias, pc, m, n, k, ActivationCode.Linear, 0);
      const want = gemmReference(a, b, withBias ? bias : null, m, n, k);
      assertClose(heap.f32(pc, m * n), want, 1e-5, `gemm ${m}x${n}x${k} bias=${withBias}`);
      [pa, pb, pbias, pc].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("gemm kernel fuses every element-wise activation", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(11);
  const [m, n, k] = [6, 11, 5];
  const codes = Object.values(ActivationCode).filter((v) => typeof v === "number") as number[];
  for (const code of codes) {
    const a = rng.floats(m * k, -2, 2), b = rng.floats(k * n, -2, 2), bias = rng.floats(n);
    const pa = heap.upload(a), pb = heap.upload(b), pbias = heap.upload(bias);
    const pc = heap.alloc(m * n * 4);
    const alpha = code === ActivationCode.Elu ? 1 : 0.3;
    kernels.gemm(pa, pb, pbias, pc, m, n, k, code, alpha);
    const want = gemmReference(a, b, bias, m, n, k, { kind: "elementwise", code, alpha, name: "" });
    // Relative tolerance for exponential, which can reach large values.
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    assertClose(heap.f32(pc, m * n), want, 1e-5 * scale, `gemm act ${ActivationCode[code]}`);
    [pa, pb, pbias, pc].forEach((p) => heap.free(p));
  }
});

Deno.test("gemmStrided writes a column slice and accumulates", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(3);
  const [m, n, k, ldc] = [7, 5, 9, 12];
  const a = rng.floats(m * k), b = rng.floats(k * n), c0 = rng.floats(m * ldc);
  const pa = heap.upload(a), pb = heap.upload(b), pc = heap.upload(c0);
  kernels.gemmStrided(pa, k, pb, n, 0, pc + 3 * 4, ldc, m, n, k, 0, 0, 1);
  const prod = gemmReference(a, b, null, m, n, k);
  const want = Float32Array.from(c0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * ldc + 3 + j] += prod[i * n + j];
  assertClose(heap.f32(pc, m * ldc), want, 1e-5, "gemmStrided accumulate");
  [pa, pb, pc].forEach((p) => heap.free(p));
});

/** Both builds: relaxed SIMD (6×8 fused multiply-add tiles) when the runtime has it, plain SIMD. */
function bothVariants(): KernelRuntime[] {
  const runtimes = [instantiateKernels("simd")];
  const best = getRuntime();
  if (best.variant === "relaxed") runtimes.push(best);
  return runtimes;
}

Deno.test("gemm tiles: every row remainder and column width, B panels, accumulate, both builds", () => {
  const rng = new Rng(19);
  // Row counts 1..14 hit the 6-, 4-, 2- and 1-row tiles; widths hit 1×32, 2×16, x8, x4 and
  // scalar columns; 7×300×600 spans more B than one column panel (512 KiB).
  const shapes = [
    ...Array.from({ length: 14 }, (_, i) => [i + 1, 45, 11]),
    [13, 70, 33],
    [8, 256, 64],
    [1, 256, 64],
    [2, 35, 4],
    [7, 300, 600],
    // Narrow, deep B (a classifier after Flatten): the interleaved-partial-sum row kernel.
    [1, 10, 1024],
    [5, 3, 129],
    [3, 13, 300],
    [2, 16, 130],
  ];
  for (const { kernels, heap, variant } of bothVariants()) {
    if (kernels.gemmFusedMultiplyAdd() !== (variant === "relaxed" ? 1 : 0)) {
      throw new Error(`${variant} build reports the wrong multiply-add kind`);
    }
    for (const [m, n, k] of shapes) {
      const a = rng.floats(m * k), b = rng.floats(k * n), bias = rng.floats(n);
      const c0 = rng.floats(m * n);
      const pa = heap.upload(a), pb = heap.upload(b), pbias = heap.upload(bias);
      const pc = heap.upload(c0);
      kernels.gemmStrided(pa, k, pb, n, pbias, pc, n, m, n, k, ActivationCode.Relu, 0, 1);
      const prod = gemmReference(a, b, bias, m, n, k);
      const want = prod.map((v, i) => Math.max(0, v + c0[i]));
      const tol = 1e-6 * Math.max(k, 8);
      assertClose(heap.f32(pc, m * n), want, tol, `${variant} gemm ${m}x${n}x${k} accumulate+relu`);
      kernels.gemm(pa, pb, 0, pc, m, n, k, ActivationCode.Linear, 0);
      const plain = gemmReference(a, b, null, m, n, k);
      assertClose(heap.f32(pc, m * n), plain, tol, `${variant} gemm ${m}x${n}x${k}`);
      [pa, pb, pbias, pc].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("gemm: a row's result is bitwise the same whatever the row count (batch-invariant)", () => {
  const rng = new Rng(23);
  for (const { kernels, heap, variant } of bothVariants()) {
    for (const [n, k] of [[16, 3600], [45, 17], [256, 64], [10, 100]]) {
      const a = rng.floats(14 * k), b = rng.floats(k * n), bias = rng.floats(n);
      const pa = heap.upload(a), pb = heap.upload(b), pbias = heap.upload(bias);
      const pc = heap.alloc(14 * n * 4);
      let first: Float32Array | undefined;
      for (let m = 1; m <= 14; m++) {
        kernels.gemm(pa, pb, pbias, pc, m, n, k, ActivationCode.Linear, 0);
        // Row 0 goes through a different tile for each m (1×32/1×4, 2×16, 4×8, 6×8).
        const row0 = heap.f32(pc, n).slice();
        if (!first) first = row0;
        else if (row0.some((v, i) => v !== first![i])) {
          throw new Error(`${variant} n=${n} k=${k}: row 0 differs between m=1 and m=${m}`);
        }
      }
      [pa, pb, pbias, pc].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("gemm stores relu6 in the tile epilogue: every tile and column width, both builds, outputs below 0, inside and above 6", () => {
  const rng = new Rng(23);
  const relu6 = { kind: "elementwise", code: ActivationCode.Relu6, alpha: 0, name: "" } as const;
  // MobileNet's expand shapes (K = 16, 24) and remainders of every row tile and column width.
  const shapes = [[13, 96, 16], [7, 45, 24], [1, 37, 5], [2, 20, 3], [9, 8, 16], [4, 33, 7]];
  for (const { kernels, heap, variant } of bothVariants()) {
    for (const [m, n, k] of shapes) {
      // Products of ±3: sums well past both clamps.
      const a = rng.floats(m * k, -3, 3), b = rng.floats(k * n, -3, 3), bias = rng.floats(n);
      const pa = heap.upload(a), pb = heap.upload(b), pbias = heap.upload(bias);
      const pc = heap.alloc(m * n * 4);
      kernels.gemm(pa, pb, pbias, pc, m, n, k, ActivationCode.Relu6, 0);
      const want = gemmReference(a, b, bias, m, n, k, relu6);
      const got = heap.f32(pc, m * n);
      if (!want.some((v) => v === 6) || !want.some((v) => v === 0)) {
        throw new Error(`${m}x${n}x${k}: the data should reach both clamps`);
      }
      assertClose(got, want, 1e-5 * k, `${variant} gemm ${m}x${n}x${k} relu6`);
      [pa, pb, pbias, pc].forEach((p) => heap.free(p));
    }
  }
});
