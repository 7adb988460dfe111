import { getRuntime, instantiateKernels } from "../wasm/kernels.ts";
import { type Activation, ActivationCode } from "../activations.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { conv2dKernelArgs, conv2dParams } from "../../testing/kernel_cases.ts";
import { type Conv2DParams, conv2dReference, packConvKernelReference } from "./conv_reference.ts";

const LINEAR: Activation = { kind: "elementwise", code: ActivationCode.Linear, alpha: 0, name: "" };
const RELU = { kind: "elementwise", code: ActivationCode.Relu, alpha: 0, name: "relu" } as const;

/** Runs the kernel with `scratchFloats` of scratch (default: room for 64 output pixels). */
function runConv(
  x: Float32Array,
  kernel: Float32Array,
  bias: Float32Array | null,
  p: Conv2DParams,
  act: Activation = LINEAR,
  scratchFloats = 64 * p.kh * p.kw * p.c,
): Float32Array {
  const { kernels, heap } = getRuntime();
  const px = heap.upload(x), pk = heap.upload(kernel), pb = bias ? heap.upload(bias) : 0;
  const n = p.batch * p.outH * p.outW * p.outC;
  const py = heap.alloc(n * 4);
  const ps = heap.alloc(scratchFloats * 4);
  const code = act.kind === "elementwise" ? act.code : 0;
  const alpha = act.kind === "elementwise" ? act.alpha : 0;
  kernels.conv2d(
    px,
    pk,
    pb,
    py,
    ps,
    scratchFloats,
    ...conv2dKernelArgs(p),
    code,
    alpha,
  );
  const y = heap.f32(py, n).slice();
  [px, pk, pb, py, ps].forEach((ptr) => heap.free(ptr));
  return y;
}

function check(got: Float32Array, want: Float32Array, what: string, tol = 1e-5) {
  if (got.length !== want.length) {
    throw new Error(`${what}: ${got.length} vs ${want.length} values`);
  }
  const d = maxAbsDiff(got, want);
  if (!(d <= tol)) throw new Error(`${what}: max |Δ| = ${d} > ${tol}`);
}

Deno.test("conv2d kernel matches the reference: every padding × stride × dilation, batch 1 and 17", () => {
  const rng = new Rng(101);
  const input = [9, 11, 5];
  const outC = 7;
  let cases = 0;
  for (const padding of ["valid", "same"] as const) {
    for (const strides of [[1, 1], [2, 2], [2, 3], [3, 1]] as [number, number][]) {
      for (const dilation of [[1, 1], [2, 2], [1, 3]] as [number, number][]) {
        for (const ks of [[3, 3], [2, 5], [1, 1]]) {
          for (const batch of [1, 17]) {
            const p = conv2dParams(batch, input, outC, ks, strides, dilation, padding);
            const x = rng.floats(batch * input[0] * input[1] * input[2]);
            const kernel = rng.floats(ks[0] * ks[1] * input[2] * outC);
            const bias = rng.floats(outC);
            const what = `${padding} k=${ks} s=${strides} d=${dilation} b=${batch}`;
            check(runConv(x, kernel, bias, p), conv2dReference(x, kernel, bias, p), what);
            cases++;
          }
        }
      }
    }
  }
  if (cases !== 144) throw new Error(`ran ${cases} cases`);
});

Deno.test("conv2d kernel: scratch tiles of any size give the same result; no bias; 1×1 fast path", () => {
  const rng = new Rng(102);
  const p = conv2dParams(3, [7, 6, 3], 9, [3, 3], [1, 1], [1, 1], "same");
  const x = rng.floats(3 * 7 * 6 * 3), kernel = rng.floats(27 * 9);
  const want = conv2dReference(x, kernel, null, p);
  for (const rows of [1, 3, 5, 17, 126, 1000]) {
    check(runConv(x, kernel, null, p, LINEAR, rows * 27), want, `scratch ${rows} rows`);
  }
  // 1×1, stride 1: the kernel runs a plain gemm on the input (scratch unused).
  const p1 = conv2dParams(17, [5, 3, 13], 6, [1, 1], [1, 1], [1, 1], "same");
  const x1 = rng.floats(17 * 5 * 3 * 13), k1 = rng.floats(13 * 6), b1 = rng.floats(6);
  check(runConv(x1, k1, b1, p1, LINEAR, 13), conv2dReference(x1, k1, b1, p1), "1x1");
  // 1×1 with stride 2: the implicit GEMM reads each pixel's channels in place.
  const p2 = conv2dParams(2, [5, 7, 13], 6, [1, 1], [2, 2], [1, 1], "valid");
  const x2 = rng.floats(2 * 5 * 7 * 13);
  check(runConv(x2, k1, b1, p2), conv2dReference(x2, k1, b1, p2), "1x1 stride 2");
});

Deno.test("conv2d kernel fuses every element-wise activation", () => {
  const rng = new Rng(103);
  const p = conv2dParams(2, [6, 5, 3], 11, [3, 2], [2, 1], [1, 1], "same");
  const codes = Object.values(ActivationCode).filter((v) => typeof v === "number") as number[];
  for (const code of codes) {
    const x = rng.floats(2 * 6 * 5 * 3), kernel = rng.floats(3 * 2 * 3 * 11, -0.5, 0.5);
    const bias = rng.floats(11);
    const act: Activation = { kind: "elementwise", code, alpha: 0.3, name: "" };
    const want = conv2dReference(x, kernel, bias, p, act);
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    check(runConv(x, kernel, bias, p, act), want, `act ${ActivationCode[code]}`, 1e-5 * scale);
  }
});

Deno.test("conv2d implicit GEMM and im2col agree with the reference on seeds shapes, both builds", () => {
  const rng = new Rng(104);
  const runtimes = [instantiateKernels("simd"), getRuntime()];
  const shapes: [number, number[], number, number, [number, number]][] = [
    [2, [12, 12, 3], 16, 3, [1, 1]],
    [1, [9, 10, 8], 24, 5, [1, 1]],
    [3, [8, 8, 5], 8, 7, [1, 1]],
    [2, [11, 9, 4], 12, 3, [2, 2]],
  ];
  for (const { kernels, heap, variant } of runtimes) {
    for (const [batch, input, outC, ks, strides] of shapes) {
      for (const padding of ["same", "valid"] as const) {
        const p = conv2dParams(batch, input, outC, [ks, ks], strides, [1, 1], padding);
        const x = rng.floats(batch * input[0] * input[1] * input[2]);
        const kernel = rng.floats(ks * ks * input[2] * outC, -0.3, 0.3);
        const bias = rng.floats(outC);
        const want = conv2dReference(x, kernel, bias, p);
        const k = ks * ks * input[2];
        const implicit = kernels.conv2dScratchFloats(
          p.batch,
          p.h,
          p.w,
          p.c,
          p.outH,
          p.outW,
          p.kh,
          p.kw,
          p.strides[0],
          p.strides[1],
          p.dilation[0],
          p.dilation[1],
          p.padTop,
          p.padLeft,
          6 * k,
        );
        // The implicit path wants a padded image (same) or nothing (valid); a scratch of one
        // window falls back to im2col.
        const wantImplicit = padding === "same" ? (p.h + ks - 1) * (p.w + ks - 1) * p.c : 0;
        if (padding === "same" && implicit < wantImplicit) {
          throw new Error(`scratch ${implicit} < padded image ${wantImplicit}`);
        }
        if (padding === "valid" && implicit !== 0) throw new Error(`valid wants ${implicit}`);
        for (const scratchFloats of [Math.max(implicit, 1), k]) {
          const px = heap.upload(x), pk = heap.upload(kernel), pb = heap.upload(bias);
          const n = p.batch * p.outH * p.outW * outC;
          const py = heap.alloc(n * 4), ps = heap.alloc(scratchFloats * 4);
          kernels.conv2d(
            px,
            pk,
            pb,
            py,
            ps,
            scratchFloats,
            ...conv2dKernelArgs(p),
            0,
            0,
          );
          check(
            heap.f32(py, n).slice(),
            want,
            `${variant} ${padding} ${input} k${ks} s${strides} scratch ${scratchFloats}`,
          );
          [px, pk, pb, py, ps].forEach((ptr) => heap.free(ptr));
        }
      }
    }
  }
});

Deno.test("conv2dPackKernel lays the kernel out as the reference's 8-column strips, zeros past outC", () => {
  const rng = new Rng(105);
  const { kernels, heap } = getRuntime();
  for (const [k, outC] of [[1, 1], [5, 8], [27, 13], [9, 130]]) {
    const w = rng.floats(k * outC);
    const want = packConvKernelReference(w, k, outC);
    const pw = heap.upload(w), pd = heap.alloc(want.length * 4);
    if (kernels.conv2dPackedFloats(k, outC) !== want.length) {
      throw new Error(`${k}×${outC}: ${kernels.conv2dPackedFloats(k, outC)} floats`);
    }
    heap.f32(pd, want.length).fill(Number.NaN);
    kernels.conv2dPackKernel(pw, pd, k, outC);
    check(heap.f32(pd, want.length).slice(), want, `${k}×${outC}`, 0);
    [pw, pd].forEach((ptr) => heap.free(ptr));
  }
});

Deno.test("conv2dPacked matches the reference: paddings × strides × row dilation × kernel sizes, deep kernels in column panels, batch 1 and many, channels in one call or two, both builds", () => {
  const rng = new Rng(106);
  const runtimes = [instantiateKernels("simd"), getRuntime()];
  // [batch, input, outC, kernel, strides, dilation]: odd channel counts, 1×1 (ResNet's stride-2
  // downsampling included), row dilation, and deep kernels: 3×3×150 → 130 is 1,350 × 130 floats,
  // split into column panels of 96 + 34; 7×7×66 → 290 into panels of 40 and a rest of 10.
  const shapes: [number, number[], number, number[], [number, number], [number, number]][] = [
    [1, [6, 7, 5], 13, [3, 3], [1, 1], [1, 1]],
    [7, [6, 7, 5], 13, [3, 3], [1, 1], [1, 1]],
    [3, [9, 8, 30], 21, [5, 5], [1, 1], [1, 1]],
    [2, [9, 10, 7], 6, [2, 5], [2, 3], [2, 1]],
    [1, [5, 7, 13], 9, [1, 1], [1, 1], [1, 1]],
    [5, [5, 7, 13], 17, [1, 1], [2, 2], [1, 1]],
    [2, [6, 5, 11], 10, [1, 3], [1, 2], [3, 1]],
    [1, [5, 7, 150], 130, [3, 3], [1, 1], [1, 1]],
    [2, [5, 7, 150], 130, [3, 3], [2, 1], [1, 1]],
    [1, [9, 9, 66], 290, [7, 7], [1, 1], [1, 1]],
  ];
  for (const { kernels, heap, variant } of runtimes) {
    for (const [batch, input, outC, ks, strides, dilation] of shapes) {
      for (const padding of ["same", "valid"] as const) {
        const p = conv2dParams(batch, input, outC, ks, strides, dilation, padding);
        if (p.outH <= 0 || p.outW <= 0) continue;
        const x = rng.floats(batch * input[0] * input[1] * input[2]);
        const k = ks[0] * ks[1] * input[2];
        const kernel = rng.floats(k * outC, -0.3, 0.3);
        const bias = rng.floats(outC);
        const want = conv2dReference(x, kernel, bias, p, RELU);
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        const scratchFloats = Math.max(
          1,
          kernels.conv2dScratchFloats(
            p.batch,
            p.h,
            p.w,
            p.c,
            p.outH,
            p.outW,
            p.kh,
            p.kw,
            p.strides[0],
            p.strides[1],
            p.dilation[0],
            p.dilation[1],
            p.padTop,
            p.padLeft,
            k,
          ),
        );
        const px = heap.upload(x), pk = heap.upload(kernel), pb = heap.upload(bias);
        const pp = heap.alloc(kernels.conv2dPackedFloats(k, outC) * 4);
        kernels.conv2dPackKernel(pk, pp, k, outC);
        const n = p.batch * p.outH * p.outW * outC;
        const py = heap.alloc(n * 4), ps = heap.alloc(scratchFloats * 4);
        const what =
          `${variant} ${padding} b${batch} ${input}→${outC} k${ks} s${strides} d${dilation}`;
        const args = conv2dKernelArgs(p);
        kernels.conv2dPacked(px, pp, pb, py, ps, scratchFloats, ...args, outC, RELU.code, 0);
        check(heap.f32(py, n).slice(), want, what, 1e-5 * scale);
        // The channels in two calls, as two kernel threads split one image: the first strips,
        // then the rest from the strip where they end.
        heap.f32(py, n).fill(Number.NaN);
        const j0 = 8 * Math.ceil(Math.ceil(outC / 8) / 2);
        kernels.conv2dPacked(px, pp, pb, py, ps, scratchFloats, ...args, j0, RELU.code, 0);
        if (j0 < outC) {
          kernels.conv2dPacked(
            px,
            pp + j0 * k * 4,
            pb + j0 * 4,
            py + j0 * 4,
            ps,
            scratchFloats,
            ...args,
            outC - j0,
            RELU.code,
            0,
          );
        }
        check(heap.f32(py, n).slice(), want, `${what}, channels split at ${j0}`, 1e-5 * scale);
        [px, pk, pb, pp, py, ps].forEach((ptr) => heap.free(ptr));
      }
    }
  }
});
