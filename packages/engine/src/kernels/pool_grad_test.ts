import type { Padding } from "../conv_geometry.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import { pool2dKernelArgs, pool2dParams } from "../../testing/kernel_cases.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import { type Pool2DParams, pool2dReference } from "./pool_reference.ts";
import { globalPool2dGradReference, pool2dGradReference } from "./pool_grad_reference.ts";

/**
 * Kernel dx for pooling `p` of x with upstream gradient dy: max pooling runs the training forward
 * (`maxPool2dTrain`, whose output must equal the reference pooling) for the argmax first.
 */
function kernelGrad(x: Float32Array, dy: Float32Array, p: Pool2DParams, kind: "max" | "avg") {
  const { kernels, heap } = getRuntime();
  const geometry = pool2dKernelArgs(p);
  const px = heap.upload(x), pdy = heap.upload(dy);
  const py = heap.alloc(dy.length * 4), parg = heap.alloc(dy.length * 4);
  const pdx = heap.upload(new Float32Array(x.length).fill(9)); // stale: must be overwritten
  try {
    if (kind === "max") {
      kernels.maxPool2dTrain(px, py, parg, ...geometry);
      const d = maxAbsDiff(heap.f32(py, dy.length), pool2dReference(x, p, "max"));
      if (d !== 0) throw new Error(`maxPool2dTrain output differs from the reference by ${d}`);
    }
    kernels.pool2dBackward(parg, pdy, pdx, ...geometry, kind === "avg" ? 1 : 0);
    return heap.f32(pdx, x.length).slice();
  } finally {
    [px, pdy, py, parg, pdx].forEach((q) => heap.free(q));
  }
}

const CASES: [number[], [number, number], [number, number], Padding][] = [
  [[1, 4, 4, 3], [2, 2], [2, 2], "valid"],
  [[17, 5, 7, 5], [2, 2], [2, 2], "valid"],
  [[17, 5, 7, 5], [2, 2], [2, 2], "same"],
  [[2, 7, 6, 9], [3, 3], [2, 2], "same"], // overlapping windows
  [[2, 7, 6, 4], [3, 2], [1, 1], "same"],
  [[3, 8, 9, 6], [2, 3], [3, 2], "valid"],
  [[2, 5, 5, 7], [5, 5], [1, 1], "same"],
  [[2, 3, 3, 8], [4, 4], [3, 3], "same"], // windows larger than the input
];

Deno.test("pool2dBackward (max and average) matches the reference: paddings, strides, batch 1/17", () => {
  const rng = new Rng(611);
  for (const [shape, pool, strides, padding] of CASES) {
    const p = pool2dParams(shape[0], shape.slice(1), pool, strides, padding);
    const x = rng.floats(shape.reduce((a, b) => a * b, 1));
    const dy = rng.floats(p.batch * p.outH * p.outW * p.c);
    for (const kind of ["max", "avg"] as const) {
      const what = `${kind} ${shape} pool ${pool} strides ${strides} ${padding}`;
      assertClose(kernelGrad(x, dy, p, kind), pool2dGradReference(x, dy, p, kind), 1e-6, what);
    }
  }
});

Deno.test("max pooling routes ties to the first maximal cell, as TF.js's gradient does", async () => {
  await tfReady();
  const rng = new Rng(612);
  for (const [shape, pool, strides, padding] of CASES) {
    const p = pool2dParams(shape[0], shape.slice(1), pool, strides, padding);
    // Values from {0, 1, 2}: most windows hold ties, including ties of the maximum.
    const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.int(0, 3));
    const dy = rng.floats(p.batch * p.outH * p.outW * p.c, 0.5, 1.5);
    const want = tf.tidy(() => {
      const dyT = tf.tensor4d(dy, [p.batch, p.outH, p.outW, p.c]);
      const grad = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, pool, strides, padding), dyT))
      );
      return grad(tf.tensor4d(x, shape as [number, number, number, number])).dataSync();
    });
    const what = `ties ${shape} pool ${pool} strides ${strides} ${padding}`;
    const got = kernelGrad(x, dy, p, "max");
    assertClose(got, want, 1e-6, `${what} vs TF.js`);
    assertClose(got, pool2dGradReference(x, dy, p, "max"), 1e-6, `${what} vs reference`);
  }
});

Deno.test("globalPool2dBackward (max with ties, average) matches the reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(613);
  for (const [batch, hw, c] of [[1, 1, 1], [1, 9, 3], [17, 12, 7], [4, 25, 16], [2, 6, 9]]) {
    for (const ties of [false, true]) {
      const x = ties
        ? Float32Array.from({ length: batch * hw * c }, () => rng.int(0, 2))
        : rng.floats(batch * hw * c);
      const dy = rng.floats(batch * c);
      for (const kind of ["max", "avg"] as const) {
        const px = heap.upload(x), pdy = heap.upload(dy);
        const pdx = heap.upload(new Float32Array(x.length).fill(9));
        kernels.globalPool2dBackward(px, pdy, pdx, batch, hw, c, kind === "avg" ? 1 : 0);
        assertClose(
          heap.f32(pdx, x.length),
          globalPool2dGradReference(x, dy, batch, hw, c, kind),
          1e-6,
          `global ${kind} ${batch}x${hw}x${c} ties ${ties}`,
        );
        [px, pdy, pdx].forEach((q) => heap.free(q));
      }
    }
  }
});

Deno.test("average pooling with same padding divides by real cells (TF semantics, checked in TF.js ops)", async () => {
  await tfReady();
  const rng = new Rng(614);
  // TF.js's own avgPool gradient divides by the full window even where it is padded (its forward
  // does not), so the reference is the forward written as a window sum over a count of real cells.
  for (const [shape, pool, strides] of CASES.filter((c) => c[3] === "same")) {
    const p = pool2dParams(shape[0], shape.slice(1), pool, strides, "same");
    const x = rng.floats(shape.reduce((a, b) => a * b, 1));
    const dy = rng.floats(p.batch * p.outH * p.outW * p.c);
    const want = tf.tidy(() => {
      const c = p.c;
      const ones = tf.ones([pool[0], pool[1], c, 1]) as tf.Tensor4D;
      const windowSum = (t: tf.Tensor4D) => tf.depthwiseConv2d(t, ones, strides, "same");
      const x4 = tf.tensor4d(x, shape as [number, number, number, number]);
      const counts = windowSum(tf.onesLike(x4));
      const dyT = tf.tensor4d(dy, [p.batch, p.outH, p.outW, c]);
      const grad = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(tf.div(windowSum(t as tf.Tensor4D), counts), dyT))
      );
      return grad(x4).dataSync();
    });
    assertClose(kernelGrad(x, dy, p, "avg"), want, 1e-6, `avg same ${shape} ${pool} ${strides}`);
  }
});
