import type { Padding } from "../conv_geometry.ts";
import { type Activation, ActivationCode } from "../activations.ts";
import { getRuntime, instantiateKernels, type KernelRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose, assertCloseToScale } from "../../testing/assert.ts";
import {
  depthwiseConv2dBiasGradReference,
  depthwiseConv2dFilterGradReference,
  depthwiseConv2dInputGradReference,
  type DepthwiseConv2DParams,
  depthwiseConv2dParams,
  depthwiseConv2dReference,
  depthwiseKernelArgs,
} from "./depthwise_conv_reference.ts";

const LINEAR: Activation = { kind: "elementwise", code: ActivationCode.Linear, alpha: 0, name: "" };

const STRIDES: [number, number][] = [[1, 1], [2, 2], [2, 3], [3, 1]];
const DILATIONS: [number, number][] = [[1, 1], [2, 2], [1, 3], [2, 1]];
const PADDINGS: Padding[] = ["valid", "same"];

/** The params with `batch` images instead (same geometry). */
const withBatch = (p: DepthwiseConv2DParams, batch: number) => ({ ...p, batch });

/**
 * Runs `depthwiseConv2d` on `rt`, the batch split into the image ranges `ranges` (as kernel
 * threads would: offset pointers, one scratch per range).
 */
function runForward(
  x: Float32Array,
  kernel: Float32Array,
  bias: Float32Array | null,
  p: DepthwiseConv2DParams,
  act: Activation = LINEAR,
  rt: KernelRuntime = getRuntime(),
  ranges: [number, number][] = [[0, p.batch]],
): Float32Array {
  const { kernels, heap } = rt;
  const outC = p.c * p.dm;
  const n = p.batch * p.outH * p.outW * outC;
  const px = heap.upload(x), pk = heap.upload(kernel), pb = bias ? heap.upload(bias) : 0;
  const py = heap.upload(new Float32Array(n).fill(NaN)); // every output must be written
  const scratchFloats = kernels.depthwiseConv2dScratchFloats(p.h, p.w, p.c, p.dm);
  const ps = scratchFloats ? heap.alloc(scratchFloats * 4) : 0;
  const code = act.kind === "elementwise" ? act.code : 0;
  const alpha = act.kind === "elementwise" ? act.alpha : 0;
  try {
    for (const [b0, nb] of ranges) {
      kernels.depthwiseConv2d(
        px + b0 * p.h * p.w * p.c * 4,
        pk,
        pb,
        py + b0 * p.outH * p.outW * outC * 4,
        ps,
        ...depthwiseKernelArgs(withBatch(p, nb)),
        code,
        alpha,
      );
    }
    return heap.f32(py, n).slice();
  } finally {
    [px, pk, pb, py, ps].forEach((q) => q && heap.free(q));
  }
}

/** Runs both backward kernels on the whole batch: dx, dW and db. */
function runBackward(
  x: Float32Array,
  kernel: Float32Array,
  dz: Float32Array,
  p: DepthwiseConv2DParams,
  rt: KernelRuntime = getRuntime(),
): { dx: Float32Array; dW: Float32Array; db: Float32Array } {
  const { kernels, heap } = rt;
  const outC = p.c * p.dm;
  const px = heap.upload(x), pk = heap.upload(kernel), pdz = heap.upload(dz);
  // Stale values: every output must be overwritten.
  const pdx = heap.upload(new Float32Array(x.length).fill(5));
  const pdw = heap.upload(new Float32Array(kernel.length).fill(7));
  const pdb = heap.upload(new Float32Array(outC).fill(-3));
  const scratchFloats = kernels.depthwiseConv2dScratchFloats(p.h, p.w, p.c, p.dm);
  const ps = scratchFloats ? heap.alloc(scratchFloats * 4) : 0;
  const dxFloats = kernels.depthwiseConv2dBackwardInputScratchFloats(
    p.h,
    p.w,
    p.c,
    p.dm,
    p.kh,
    p.kw,
    p.strides[0],
    p.strides[1],
  );
  const pdxs = dxFloats ? heap.alloc(dxFloats * 4) : 0;
  try {
    const args = depthwiseKernelArgs(p);
    kernels.depthwiseConv2dBackwardInput(pdz, pk, pdx, pdxs, ...args);
    kernels.depthwiseConv2dBackwardFilter(px, pdz, pdw, pdb, ps, 0, ...args);
    return {
      dx: heap.f32(pdx, x.length).slice(),
      dW: heap.f32(pdw, kernel.length).slice(),
      db: heap.f32(pdb, outC).slice(),
    };
  } finally {
    [px, pk, pdz, pdx, pdw, pdb, ps, pdxs].forEach((q) => q && heap.free(q));
  }
}

/** Random inputs of a case: x, kernel, bias and an upstream gradient dz. */
function data(p: DepthwiseConv2DParams, rng: Rng) {
  const outC = p.c * p.dm;
  return {
    x: rng.floats(p.batch * p.h * p.w * p.c),
    kernel: rng.floats(p.kh * p.kw * outC),
    bias: rng.floats(outC),
    dz: rng.floats(p.batch * p.outH * p.outW * outC),
  };
}

Deno.test("depthwiseConv2d matches the reference: every padding × stride × dilation, dm 1/2, batch 1/17", () => {
  const rng = new Rng(1501);
  let cases = 0;
  for (const padding of PADDINGS) {
    for (const strides of STRIDES) {
      for (const dilation of DILATIONS) {
        for (const [ks, input] of [[[3, 3], [9, 11, 13]], [[2, 5], [10, 13, 6]]]) {
          for (const dm of [1, 2]) {
            for (const batch of [1, 17]) {
              const p = depthwiseConv2dParams(batch, input, dm, ks, strides, dilation, padding);
              if (p.outH === 0 || p.outW === 0) continue;
              const { x, kernel, bias } = data(p, rng);
              assertClose(
                runForward(x, kernel, bias, p),
                depthwiseConv2dReference(x, kernel, bias, p),
                1e-5,
                `${padding} k=${ks} s=${strides} d=${dilation} dm=${dm} in=${input} b=${batch}`,
              );
              cases++;
            }
          }
        }
      }
    }
  }
  if (cases < 180) throw new Error(`ran only ${cases} cases`);
});

Deno.test("depthwiseConv2d: channel counts around the 8/4-lane blocks, dm 3, no bias, 1×1, window = input, both builds", () => {
  const rng = new Rng(1502);
  const runtimes = [getRuntime(), instantiateKernels("simd")];
  const shapes: [number[], number, number[], [number, number], [number, number], Padding][] = [
    [[7, 6, 1], 1, [3, 3], [1, 1], [1, 1], "same"],
    [[7, 6, 3], 1, [3, 3], [1, 1], [1, 1], "same"],
    [[5, 9, 4], 1, [3, 3], [1, 1], [1, 1], "valid"],
    [[5, 9, 7], 1, [3, 3], [2, 1], [1, 1], "same"],
    [[6, 7, 8], 1, [5, 5], [2, 2], [1, 1], "same"],
    [[6, 7, 9], 1, [3, 3], [1, 1], [1, 1], "same"],
    [[5, 5, 17], 1, [3, 3], [1, 1], [2, 2], "same"],
    [[7, 6, 3], 3, [3, 3], [1, 1], [1, 1], "same"],
    [[7, 6, 5], 3, [3, 2], [2, 2], [1, 2], "valid"],
    [[6, 5, 3], 4, [1, 1], [1, 1], [1, 1], "valid"],
    [[6, 5, 10], 1, [1, 1], [2, 2], [1, 1], "same"],
    [[4, 5, 6], 2, [4, 5], [1, 1], [1, 1], "valid"],
    [[3, 2, 5], 1, [3, 3], [1, 1], [3, 3], "same"], // every window mostly padding
    [[1, 1, 12], 1, [3, 3], [2, 2], [1, 1], "same"],
    [[2, 40, 9], 1, [1, 7], [1, 1], [1, 1], "same"], // long interior runs of 4-pixel tiles
    // 3-wide stride-1 rows (the sliding-window tile) with dilated rows, odd channel tails.
    [[7, 9, 10], 1, [3, 3], [1, 1], [2, 1], "same"],
    [[6, 11, 12], 2, [3, 3], [1, 1], [3, 1], "valid"],
    [[9, 14, 21], 1, [5, 3], [2, 1], [1, 1], "same"],
  ];
  for (const rt of runtimes) {
    for (const [input, dm, ks, strides, dilation, padding] of shapes) {
      for (const batch of [1, 3]) {
        const p = depthwiseConv2dParams(batch, input, dm, ks, strides, dilation, padding);
        const { x, kernel, bias } = data(p, rng);
        const what =
          `${rt.variant} ${padding} in=${input} dm=${dm} k=${ks} s=${strides} d=${dilation}`;
        assertClose(
          runForward(x, kernel, bias, p, LINEAR, rt),
          depthwiseConv2dReference(x, kernel, bias, p),
          1e-5,
          what,
        );
        assertClose(
          runForward(x, kernel, null, p, LINEAR, rt),
          depthwiseConv2dReference(x, kernel, null, p),
          1e-5,
          `${what} no bias`,
        );
      }
    }
  }
});

Deno.test("depthwiseConv2d fuses every element-wise activation", () => {
  const rng = new Rng(1503);
  const codes = Object.values(ActivationCode).filter((v) => typeof v === "number") as number[];
  for (const dm of [1, 2]) {
    const p = depthwiseConv2dParams(2, [6, 7, 11], dm, [3, 3], [2, 1], [1, 1], "same");
    for (const code of codes) {
      const { x, bias } = data(p, rng);
      const kernel = rng.floats(3 * 3 * 11 * dm, -0.5, 0.5);
      const act: Activation = { kind: "elementwise", code, alpha: 0.3, name: "" };
      const want = depthwiseConv2dReference(x, kernel, bias, p, act);
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      assertClose(
        runForward(x, kernel, bias, p, act),
        want,
        1e-5 * scale,
        `dm=${dm} act ${ActivationCode[code]}`,
      );
    }
  }
});

Deno.test("depthwiseConv2d over image ranges (as kernel threads split it) equals the whole batch", () => {
  const rng = new Rng(1504);
  for (const dm of [1, 2]) {
    const p = depthwiseConv2dParams(17, [9, 8, 6], dm, [3, 3], [2, 2], [1, 1], "same");
    const { x, kernel, bias } = data(p, rng);
    const whole = runForward(x, kernel, bias, p);
    const split = runForward(x, kernel, bias, p, LINEAR, getRuntime(), [[0, 9], [9, 8]]);
    assertClose(split, whole, 0, `dm=${dm} ranges [0, 9) + [9, 17)`);
  }
});

Deno.test("depthwise backward (dx, dW, db) matches the reference: every padding × stride × dilation, dm 1/2/3, batch 1/17", () => {
  const rng = new Rng(1505);
  let cases = 0;
  for (const padding of PADDINGS) {
    for (const strides of STRIDES) {
      for (const dilation of DILATIONS) {
        for (const dm of [1, 2, 3]) {
          for (const batch of [1, 17]) {
            if (dm === 3 && batch === 17) continue;
            const input = dm === 1 ? [9, 11, 13] : [8, 7, 5];
            const ks = dm === 2 ? [2, 3] : [3, 3];
            const p = depthwiseConv2dParams(batch, input, dm, ks, strides, dilation, padding);
            if (p.outH === 0 || p.outW === 0) continue;
            const { x, kernel, dz } = data(p, rng);
            const got = runBackward(x, kernel, dz, p);
            const what = `${padding} k=${ks} s=${strides} d=${dilation} dm=${dm} b=${batch}`;
            assertCloseToScale(
              got.dx,
              depthwiseConv2dInputGradReference(dz, kernel, p),
              1e-5,
              `${what} dx`,
            );
            assertCloseToScale(
              got.dW,
              depthwiseConv2dFilterGradReference(x, dz, p),
              1e-5,
              `${what} dW`,
            );
            assertCloseToScale(
              got.db,
              depthwiseConv2dBiasGradReference(dz, p.c * p.dm),
              1e-5,
              `${what} db`,
            );
            cases++;
          }
        }
      }
    }
  }
  if (cases < 100) throw new Error(`ran only ${cases} cases`);
});

Deno.test("depthwiseConv2dBackwardFilter accumulates over image ranges and skips db when 0", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1506);
  for (const dm of [1, 2]) {
    const p = depthwiseConv2dParams(17, [7, 9, 7], dm, [3, 3], [1, 2], [1, 1], "same");
    const { x, kernel, dz } = data(p, rng);
    const outC = p.c * dm;
    const px = heap.upload(x), pdz = heap.upload(dz);
    const pdw = heap.upload(new Float32Array(kernel.length).fill(9));
    const sf = kernels.depthwiseConv2dScratchFloats(p.h, p.w, p.c, p.dm);
    const ps = sf ? heap.alloc(sf * 4) : 0;
    try {
      for (const [b0, nb] of [[0, 5], [5, 12]]) {
        kernels.depthwiseConv2dBackwardFilter(
          px + b0 * p.h * p.w * p.c * 4,
          pdz + b0 * p.outH * p.outW * outC * 4,
          pdw,
          0,
          ps,
          b0 === 0 ? 0 : 1,
          ...depthwiseKernelArgs(withBatch(p, nb)),
        );
      }
      assertCloseToScale(
        heap.f32(pdw, kernel.length),
        depthwiseConv2dFilterGradReference(x, dz, p),
        1e-5,
        `dm=${dm} dW over ranges`,
      );
    } finally {
      [px, pdz, pdw, ps].forEach((q) => q && heap.free(q));
    }
  }
});

/** Σ r · depthwise(x, kernel) in float64 (a linear loss whose gradient at the output is r). */
function linearLoss(
  x: Float32Array,
  kernel: Float32Array,
  r: Float32Array,
  p: DepthwiseConv2DParams,
): number {
  const y = runForward(x, kernel, null, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * r[i];
  return s;
}

Deno.test("depthwise backward agrees with finite differences of the forward kernel", () => {
  const rng = new Rng(1507);
  const cases: [number, number[], number, number[], [number, number], [number, number], Padding][] =
    [
      [2, [6, 7, 5], 1, [3, 3], [2, 2], [1, 1], "same"],
      [1, [7, 6, 3], 2, [3, 2], [1, 1], [2, 1], "valid"],
      [3, [5, 5, 9], 1, [3, 3], [1, 2], [1, 1], "same"],
    ];
  for (const [batch, input, dm, ks, strides, dilation, padding] of cases) {
    const p = depthwiseConv2dParams(batch, input, dm, ks, strides, dilation, padding);
    const { x, kernel, dz: r } = data(p, rng);
    const got = runBackward(x, kernel, r, p);
    const eps = 1e-2;
    const what = `${padding} in=${input} dm=${dm} k=${ks} s=${strides} d=${dilation}`;
    const check = (analytic: number, plus: number, minus: number, label: string) => {
      const numeric = (plus - minus) / (2 * eps);
      const tol = 1e-3 * Math.max(1, Math.abs(numeric));
      if (!(Math.abs(analytic - numeric) <= tol)) {
        throw new Error(`${what} ${label}: analytic ${analytic} vs numeric ${numeric}`);
      }
    };
    for (let t = 0; t < 25; t++) {
      const i = rng.int(0, x.length);
      const xp = x.slice(), xm = x.slice();
      xp[i] += eps;
      xm[i] -= eps;
      check(got.dx[i], linearLoss(xp, kernel, r, p), linearLoss(xm, kernel, r, p), `dx[${i}]`);
    }
    for (let i = 0; i < kernel.length; i++) {
      const kp = kernel.slice(), km = kernel.slice();
      kp[i] += eps;
      km[i] -= eps;
      check(got.dW[i], linearLoss(x, kp, r, p), linearLoss(x, km, r, p), `dW[${i}]`);
    }
  }
});
