/**
 * `deno bench -A bench/kernels_bench.ts`: the SIMD peak loop, GEMM and Conv2D kernels of the
 * engine (relaxed-SIMD and plain-SIMD builds) on the seeds' shapes. GFLOP/s = flops / time; the
 * report (`deno task bench:report`) prints them against the measured peak.
 */
import { instantiateKernels, type KernelRuntime } from "../packages/engine/src/wasm/kernels.ts";
import { Rng } from "../packages/engine/testing/random.ts";

const rng = new Rng(3);
const runtimes: KernelRuntime[] = [instantiateKernels(), instantiateKernels("simd")];

for (const rt of runtimes) {
  const { kernels, heap, variant } = rt;
  const scratch = heap.alloc(64);
  heap.f32(scratch, 8).fill(1e-7);
  const iterations = 1_000_000;
  Deno.bench({
    name: `${variant}: SIMD peak loop, mul+add (${(iterations * 96 / 1e6).toFixed(0)} MFLOP)`,
    group: "peak",
    fn: () => kernels.simdPeakMulAdd(iterations, scratch),
  });
  Deno.bench({
    name: `${variant}: SIMD peak loop, fused madd (${(iterations * 96 / 1e6).toFixed(0)} MFLOP)`,
    group: "peak",
    fn: () => kernels.simdPeakFma(iterations, scratch),
  });

  for (const [m, n, k] of [[512, 512, 512], [6400, 256, 64], [64, 256, 64], [1, 256, 64]]) {
    const a = heap.upload(rng.floats(m * k)), b = heap.upload(rng.floats(k * n));
    const bias = heap.upload(rng.floats(n)), c = heap.alloc(m * n * 4);
    Deno.bench({
      name: `${variant}: gemm ${m}x${n}x${k} (${(2 * m * n * k / 1e6).toFixed(1)} MFLOP)`,
      group: `gemm ${m}x${n}x${k}`,
      baseline: variant === "relaxed",
      fn: () => kernels.gemm(a, b, bias, c, m, n, k, 0, 0),
    });
  }

  for (const [batch, size, ch, outC, ks] of [[64, 32, 3, 32, 3], [64, 16, 32, 64, 3]]) {
    const pad = (ks - 1) >> 1;
    const x = heap.upload(rng.floats(batch * size * size * ch));
    const w = heap.upload(rng.floats(ks * ks * ch * outC, -0.1, 0.1));
    const bias = heap.upload(rng.floats(outC));
    const y = heap.alloc(batch * size * size * outC * 4);
    const scratchFloats = kernels.conv2dScratchFloats(
      batch,
      size,
      size,
      ch,
      size,
      size,
      ks,
      ks,
      1,
      1,
      1,
      1,
      pad,
      pad,
      ks * ks * ch * 64,
    );
    const s = heap.alloc(Math.max(1, scratchFloats) * 4);
    const flops = 2 * batch * size * size * outC * ks * ks * ch;
    const shape = `b${batch} ${size}x${size}x${ch}→${outC} k${ks}`;
    Deno.bench({
      name: `${variant}: conv2d ${shape} (${(flops / 1e6).toFixed(0)} MFLOP)`,
      group: `conv2d ${shape}`,
      baseline: variant === "relaxed",
      fn: () =>
        kernels.conv2d(
          x,
          w,
          bias,
          y,
          s,
          scratchFloats,
          batch,
          size,
          size,
          ch,
          size,
          size,
          outC,
          ks,
          ks,
          1,
          1,
          1,
          1,
          pad,
          pad,
          1,
          0,
        ),
    });
  }
}
