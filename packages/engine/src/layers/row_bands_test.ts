/**
 * Kernel threads split one image's convolution into bands of output rows (`outputRowBands`):
 * Conv2D's direct kernel (1×1 gemm, implicit GEMM with and without padding, im2col for dilated
 * columns) and DepthwiseConv2D (dm 1 and 2) on 2 and 3 threads give the single call's output
 * bit for bit, and the plain TypeScript references within float32 rounding.
 */
import { type Activation, ActivationCode } from "../activations.ts";
import { axisGeometry, type Padding } from "../conv_geometry.ts";
import type { CallContext } from "../layer.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { setKernelThreads, threadPoolFor } from "../wasm/threads.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import { conv2dReference } from "../kernels/conv_reference.ts";
import {
  depthwiseConv2dParams,
  depthwiseConv2dReference,
} from "../kernels/depthwise_conv_reference.ts";
import { convolveDirect, type ConvShape } from "./conv2d_direct.ts";
import { depthwiseForward } from "./depthwise_conv2d.ts";

const RELU6: Activation = { kind: "elementwise", code: ActivationCode.Relu6, alpha: 0, name: "" };

/** One window geometry: input `[h, w, c]`, kernel, strides, dilation, padding. */
interface Case {
  input: [number, number, number];
  kernel: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: Padding;
}

const CASES: Case[] = [
  // 1×1 stride 1: the gemm over the band's pixels (MobileNet's expand / project).
  { input: [13, 9, 6], kernel: [1, 1], strides: [1, 1], dilation: [1, 1], padding: "valid" },
  // 3×3 stride 2 same with an odd extra row after (MobileNet's first conv).
  { input: [14, 11, 3], kernel: [3, 3], strides: [2, 2], dilation: [1, 1], padding: "same" },
  { input: [11, 10, 5], kernel: [3, 3], strides: [1, 1], dilation: [1, 1], padding: "same" },
  { input: [12, 7, 7], kernel: [5, 3], strides: [1, 2], dilation: [1, 1], padding: "valid" },
  { input: [15, 9, 5], kernel: [3, 2], strides: [1, 1], dilation: [2, 1], padding: "same" },
  // Dilated columns: im2col.
  { input: [10, 12, 3], kernel: [3, 3], strides: [1, 1], dilation: [2, 2], padding: "same" },
  { input: [9, 9, 6], kernel: [2, 2], strides: [3, 3], dilation: [1, 1], padding: "valid" },
];

function ctxOf(): CallContext {
  const { kernels, heap } = getRuntime();
  return { kernels, heap, training: false };
}

/** Runs `fn` on 1 thread, then on `threads` splitting every call; returns both outputs. */
function singleAndThreaded(
  threads: number,
  fn: (ctx: CallContext) => Float32Array,
): [Float32Array, Float32Array] {
  const ctx = ctxOf();
  try {
    setKernelThreads(1);
    const single = fn(ctx);
    setKernelThreads(threads, { minWork: 0 });
    const pool = threadPoolFor(ctx.kernels)!;
    const before = pool.parallelRuns;
    const threaded = fn(ctx);
    if (pool.parallelRuns === before) throw new Error("the call was not split");
    return [single, threaded];
  } finally {
    setKernelThreads(1);
  }
}

/** Uploads `arrays`, runs `fn` on their pointers and an output of `n` NaNs, frees everything. */
function onDevice(
  ctx: CallContext,
  arrays: (Float32Array | null)[],
  n: number,
  fn: (ptrs: number[], y: number) => void,
): Float32Array {
  const ptrs = arrays.map((a) => (a ? ctx.heap.upload(a) : 0));
  const y = ctx.heap.upload(new Float32Array(n).fill(NaN)); // every output must be written
  try {
    fn(ptrs, y);
    return ctx.heap.f32(y, n).slice();
  } finally {
    for (const p of [...ptrs, y]) if (p) ctx.heap.free(p);
  }
}

Deno.test("kernel threads: one image's direct Conv2D split into bands of output rows equals the single call bit for bit, and the reference", () => {
  const rng = new Rng(2201);
  for (const cs of CASES) {
    const [h, w, c] = cs.input;
    const outC = 1 + rng.int(0, 11);
    const gy = axisGeometry(h, cs.kernel[0], cs.strides[0], cs.dilation[0], cs.padding);
    const gx = axisGeometry(w, cs.kernel[1], cs.strides[1], cs.dilation[1], cs.padding);
    const g: ConvShape = {
      images: 1,
      h,
      w,
      c,
      outH: gy.out,
      outW: gx.out,
      outC,
      kh: cs.kernel[0],
      kw: cs.kernel[1],
      sh: cs.strides[0],
      sw: cs.strides[1],
      dh: cs.dilation[0],
      dw: cs.dilation[1],
      padTop: gy.padBefore,
      padLeft: gx.padBefore,
    };
    const x = rng.floats(h * w * c, -1, 1);
    const kernel = rng.floats(g.kh * g.kw * c * outC, -0.5, 0.5);
    const bias = rng.floats(outC, -0.5, 0.5);
    const n = g.outH * g.outW * outC;
    const what = JSON.stringify(cs);
    for (const threads of [2, 3]) {
      const [single, threaded] = singleAndThreaded(
        threads,
        (ctx) =>
          onDevice(
            ctx,
            [x, kernel, bias],
            n,
            ([px, pk, pb], py) => convolveDirect(ctx, g, px, pk, pb, py, [ActivationCode.Relu6, 0]),
          ),
      );
      assertClose(threaded, single, 0, `${what} on ${threads} threads`);
      const want = conv2dReference(x, kernel, bias, {
        batch: 1,
        h,
        w,
        c,
        outH: g.outH,
        outW: g.outW,
        outC,
        kh: g.kh,
        kw: g.kw,
        strides: cs.strides,
        dilation: cs.dilation,
        padTop: g.padTop,
        padLeft: g.padLeft,
      }, RELU6);
      assertClose(threaded, want, 1e-5, `${what} vs reference`);
    }
  }
});

Deno.test("kernel threads: one image's DepthwiseConv2D split into bands of output rows equals the single call bit for bit, and the reference", () => {
  const rng = new Rng(2202);
  for (const cs of CASES) {
    for (const dm of [1, 2]) {
      const p = depthwiseConv2dParams(
        1,
        cs.input,
        dm,
        cs.kernel,
        cs.strides,
        cs.dilation,
        cs.padding,
      );
      const [h, w, c] = cs.input;
      const x = rng.floats(h * w * c, -1, 1);
      const kernel = rng.floats(p.kh * p.kw * c * dm, -0.5, 0.5);
      const bias = rng.floats(c * dm, -0.5, 0.5);
      const n = p.outH * p.outW * c * dm;
      const g = {
        batch: 1,
        h,
        w,
        c,
        dm,
        outH: p.outH,
        outW: p.outW,
        kh: p.kh,
        kw: p.kw,
        sh: p.strides[0],
        sw: p.strides[1],
        dh: p.dilation[0],
        dw: p.dilation[1],
        padTop: p.padTop,
        padLeft: p.padLeft,
      };
      const what = `${JSON.stringify(cs)} dm=${dm}`;
      for (const threads of [2, 3]) {
        const [single, threaded] = singleAndThreaded(
          threads,
          (ctx) =>
            onDevice(
              ctx,
              [x, kernel, bias],
              n,
              ([px, pk, pb], py) =>
                depthwiseForward(ctx, g, px, pk, pb, py, ActivationCode.Relu6, 0),
            ),
        );
        assertClose(threaded, single, 0, `${what} on ${threads} threads`);
        const want = depthwiseConv2dReference(x, kernel, bias, p, RELU6);
        assertClose(threaded, want, 1e-5, `${what} vs reference`);
      }
    }
  }
});
