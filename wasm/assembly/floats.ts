// Float-array moves the kernels share: inlined SIMD loops (4 lanes, then the remainder), which
// beat the memory.copy / memory.fill builtins on the short rows (a channel run, a unit row) most
// callers move.

/** dst[0..n) = src[0..n) (non-overlapping). */
// @ts-ignore: decorator
@inline export function copyFloats(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(dst + o, v128.load(src + o));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(dst + o, load<f32>(src + o));
  }
}

/** dst[0..n) += src[0..n). */
// @ts-ignore: decorator
@inline export function addFloats(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** dst[0..n) = 0. */
// @ts-ignore: decorator
@inline export function zeroFloats(dst: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize> i << 2), z);
  for (; i < n; i++) store<f32>(dst + (<usize> i << 2), 0);
}
