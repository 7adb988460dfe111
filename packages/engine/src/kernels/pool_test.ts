import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { pool2dKernelArgs, pool2dParams } from "../../testing/kernel_cases.ts";
import { globalPool2dReference, type Pool2DParams, pool2dReference } from "./pool_reference.ts";

function runPool(x: Float32Array, p: Pool2DParams, kind: "max" | "avg"): Float32Array {
  const { kernels, heap } = getRuntime();
  const n = p.batch * p.outH * p.outW * p.c;
  const px = heap.upload(x), py = heap.alloc(n * 4);
  kernels.pool2d(
    px,
    py,
    ...pool2dKernelArgs(p),
    kind === "avg" ? 1 : 0,
  );
  const y = heap.f32(py, n).slice();
  heap.free(px);
  heap.free(py);
  return y;
}

function check(got: Float32Array, want: Float32Array, what: string) {
  const d = maxAbsDiff(got, want);
  if (!(d <= 1e-5)) throw new Error(`${what}: max |Δ| = ${d}`);
}

Deno.test("pool2d kernel (max, avg) matches the reference: every padding × stride, batch 1 and 17", () => {
  const rng = new Rng(201);
  for (const input of [[7, 9, 5], [6, 5, 8]]) {
    for (const padding of ["valid", "same"] as const) {
      for (const pool of [[2, 2], [3, 3], [2, 3], [3, 1]] as [number, number][]) {
        for (const strides of [[1, 1], [2, 2], [3, 2], pool] as [number, number][]) {
          for (const batch of [1, 17]) {
            const p = pool2dParams(batch, input, pool, strides, padding);
            // Negative inputs: a padded zero must never win a max.
            const x = rng.floats(batch * input[0] * input[1] * input[2], -3, -0.5);
            for (const kind of ["max", "avg"] as const) {
              const what = `${kind} ${input} ${padding} pool=${pool} s=${strides} b=${batch}`;
              check(runPool(x, p, kind), pool2dReference(x, p, kind), what);
            }
          }
        }
      }
    }
  }
});

Deno.test("same-padded average divides by the real cells only (hand-checked corner)", () => {
  // 3×3 input, one channel, pool 2×2 stride 2 same → out 2×2, pad_total 1, all padding after.
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const p = pool2dParams(1, [3, 3, 1], [2, 2], [2, 2], "same");
  if (p.outH !== 2 || p.padTop !== 0) throw new Error(`geometry ${p.outH} ${p.padTop}`);
  check(runPool(x, p, "avg"), Float32Array.from([3, 4.5, 7.5, 9]), "avg corner");
  check(runPool(x, p, "max"), Float32Array.from([5, 6, 8, 9]), "max corner");
});

Deno.test("globalPool2d kernel (max, avg) matches the reference, odd sizes, batch 1 and 17", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(202);
  for (const [hw, c] of [[1, 1], [15, 7], [49, 13], [4, 64]]) {
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * hw * c);
      for (const kind of ["max", "avg"] as const) {
        const px = heap.upload(x), py = heap.alloc(batch * c * 4);
        kernels.globalPool2d(px, py, batch, hw, c, kind === "avg" ? 1 : 0);
        const what = `global ${kind} hw=${hw} c=${c} b=${batch}`;
        check(heap.f32(py, batch * c).slice(), globalPool2dReference(x, batch, hw, c, kind), what);
        heap.free(px);
        heap.free(py);
      }
    }
  }
});

Deno.test("max pool2d (2×2 fast path and general) and maxPool2dTrain agree lane for lane on NaN and ±0, vector lanes and tail alike", () => {
  const { kernels, heap } = getRuntime();
  // One 2×2 window per output, 5 channels: channel 0 runs in a vector, channel 4 in the tail;
  // both get the same four values. Windows: NaN first, NaN later, -0 then +0, +0 then -0.
  const windows = [[NaN, 1, 2, 3], [1, NaN, 2, 3], [-0, 0, -0, 0], [0, -0, 0, -0]];
  for (const [poolSize, strides] of [[[2, 2], [2, 2]], [[2, 2], [1, 3]]] as const) {
    const p = pool2dParams(1, [2, 2 * windows.length, 5], [...poolSize], [...strides], "valid");
    const x = new Float32Array(2 * 2 * windows.length * 5);
    windows.forEach((win, wi) => {
      win.forEach((v, k) => {
        const cell = (k >> 1) * 2 * windows.length + 2 * wi + (k & 1);
        for (const ch of [0, 1, 2, 3, 4]) x[cell * 5 + ch] = ch === 0 || ch === 4 ? v : 7;
      });
    });
    const pooled = runPool(x, p, "max");
    const n = p.outH * p.outW * 5;
    const px = heap.upload(x), py = heap.alloc(n * 4), parg = heap.alloc(n * 4);
    kernels.maxPool2dTrain(px, py, parg, ...pool2dKernelArgs(p));
    const trained = heap.f32(py, n).slice();
    [px, py, parg].forEach((q) => heap.free(q));
    for (let o = 0; o < p.outH * p.outW; o++) {
      const [v, tail, t] = [pooled[o * 5], pooled[o * 5 + 4], trained[o * 5]];
      if (!Object.is(v, tail) || !Object.is(v, t)) {
        throw new Error(
          `pool ${poolSize}/${strides} output ${o}: vector ${v}, tail ${tail}, train ${t}`,
        );
      }
    }
  }
});
