// SIMD peak micro-benchmark (bench/ reports GEMM and Conv2D GFLOP/s as a share of it): a
// register-resident loop of independent f32x4 multiply-adds, 12 accumulator chains so neither
// latency nor loads limit it. Each iteration is 12 × 4 lanes × 2 flops = 96 flops.

/**
 * Runs `iterations` of 12 independent f32x4 `acc = acc + x·y` (separate multiply and add) and
 * stores the sum of the accumulators at `out + 32` (reads x, y from `out`, `out + 16`).
 */
export function simdPeakMulAdd(iterations: i32, out: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
  let a8 = f32x4.splat(0), a9 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  const x = v128.load(out);
  const y = v128.load(out, 16);
  for (let i = 0; i < iterations; i++) {
    a0 = f32x4.add(a0, f32x4.mul(x, y));
    a1 = f32x4.add(a1, f32x4.mul(x, y));
    a2 = f32x4.add(a2, f32x4.mul(x, y));
    a3 = f32x4.add(a3, f32x4.mul(x, y));
    a4 = f32x4.add(a4, f32x4.mul(x, y));
    a5 = f32x4.add(a5, f32x4.mul(x, y));
    a6 = f32x4.add(a6, f32x4.mul(x, y));
    a7 = f32x4.add(a7, f32x4.mul(x, y));
    a8 = f32x4.add(a8, f32x4.mul(x, y));
    a9 = f32x4.add(a9, f32x4.mul(x, y));
    a10 = f32x4.add(a10, f32x4.mul(x, y));
    a11 = f32x4.add(a11, f32x4.mul(x, y));
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))),
    f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)),
  );
  v128.store(out, s, 32);
}

/**
 * As simdPeakMulAdd with one fused `f32x4.relaxed_madd` per step in the relaxed-SIMD build (the
 * plain build runs the separate multiply and add).
 */
export function simdPeakFma(iterations: i32, out: usize): void {
  if (!ASC_FEATURE_RELAXED_SIMD) {
    simdPeakMulAdd(iterations, out);
    return;
  }
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
  let a8 = f32x4.splat(0), a9 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  const x = v128.load(out);
  const y = v128.load(out, 16);
  for (let i = 0; i < iterations; i++) {
    a0 = f32x4.relaxed_madd(x, y, a0);
    a1 = f32x4.relaxed_madd(x, y, a1);
    a2 = f32x4.relaxed_madd(x, y, a2);
    a3 = f32x4.relaxed_madd(x, y, a3);
    a4 = f32x4.relaxed_madd(x, y, a4);
    a5 = f32x4.relaxed_madd(x, y, a5);
    a6 = f32x4.relaxed_madd(x, y, a6);
    a7 = f32x4.relaxed_madd(x, y, a7);
    a8 = f32x4.relaxed_madd(x, y, a8);
    a9 = f32x4.relaxed_madd(x, y, a9);
    a10 = f32x4.relaxed_madd(x, y, a10);
    a11 = f32x4.relaxed_madd(x, y, a11);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))),
    f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)),
  );
  v128.store(out, s, 32);
}
