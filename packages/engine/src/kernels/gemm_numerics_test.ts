/**
 * Float32 accuracy of long GEMM reductions (a Dense after Flatten: K in the thousands). The
 * kernel sums k in blocks of 256 per accumulator (`GEMM_KC` in gemm.ts), as BLAS's kc blocking
 * does; its error against a float64 reference must stay within 2× of a float32 emulation of such
 * a blocked sum, and below a single sequential float32 chain's (what the kernel did before).
 */
import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";

const f = Math.fround;

/** RMS of (got − exact) / (Σ|a·b|) over the outputs: the error relative to the sum's scale. */
function rmsError(
  got: ArrayLike<number>,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
): number {
  let s = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let exact = 0, scale = 0;
      for (let p = 0; p < k; p++) {
        const t = a[i * k + p] * b[p * n + j];
        exact += t;
        scale += Math.abs(t);
      }
      s += ((got[i * n + j] - exact) / scale) ** 2;
    }
  }
  return Math.sqrt(s / (m * n));
}

/** Float32 emulation: one chain of K multiply-adds, or chains of `block` added block by block. */
function emulated(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  block: number,
) {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let total = 0;
      for (let p0 = 0; p0 < k; p0 += block) {
        let acc = 0;
        for (let p = p0; p < Math.min(k, p0 + block); p++) {
          acc = f(acc + f(a[i * k + p] * b[p * n + j]));
        }
        total = f(total + acc);
      }
      out[i * n + j] = total;
    }
  }
  return out;
}

/** The product by `gemm` or, for `narrow`, by `gemmNarrowPacked` on the packed B. */
function product(
  narrow: boolean,
  pa: number,
  pb: number,
  pc: number,
  m: number,
  n: number,
  k: number,
): void {
  const { kernels, heap } = getRuntime();
  if (!narrow) return kernels.gemm(pa, pb, 0, pc, m, n, k, 0, 0);
  const packed = heap.alloc(kernels.gemmNarrowPackedFloats(n, k) * 4);
  kernels.gemmNarrowPack(pb, packed, n, k);
  kernels.gemmNarrowPacked(pa, packed, 0, pc, m, n, k, 0, 0);
  heap.free(packed);
}

for (const narrow of [false, true]) {
  const name = narrow ? "gemmNarrowPacked (Dense inference, n ≤ 16)" : "gemm";
  Deno.test(`${name}: long reductions (K 2048–7200) within 2× of a blocked float32 sum's error, below one chain's`, () => {
    const { heap } = getRuntime();
    const rng = new Rng(4242);
    const shapes = narrow
      ? [[8, 10, 7200], [3, 16, 2048], [5, 3, 4099]]
      : [[8, 10, 7200], [6, 64, 2048], [5, 3, 4099]];
    for (const [m, n, k] of shapes) {
      const a = rng.floats(m * k, -1, 1), b = rng.floats(k * n, -0.1, 0.1);
      const pa = heap.upload(a), pb = heap.upload(b), pc = heap.alloc(m * n * 4);
      try {
        product(narrow, pa, pb, pc, m, n, k);
        const engine = rmsError(heap.f32(pc, m * n), a, b, m, n, k);
        const blocked = rmsError(emulated(a, b, m, n, k, 256), a, b, m, n, k);
        const chain = rmsError(emulated(a, b, m, n, k, k), a, b, m, n, k);
        console.log(
          `${name} m ${m} n ${n} k ${k}: engine ${engine.toExponential(2)}, blocked float32 ${
            blocked.toExponential(2)
          }, one chain ${chain.toExponential(2)}`,
        );
        if (!(engine <= 2 * blocked)) {
          throw new Error(`k ${k}: engine error ${engine} > 2 × blocked float32 ${blocked}`);
        }
        if (!(engine < chain)) {
          throw new Error(`k ${k}: engine error ${engine} ≥ one chain's ${chain}`);
        }
      } finally {
        heap.free(pa);
        heap.free(pb);
        heap.free(pc);
      }
    }
  });
}
