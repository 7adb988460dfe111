// BatchNormalization at inference on the last axis: y = x·scale + shift per channel, where the
// host precomputes scale = gamma/sqrt(var + eps) and shift = beta - mean·scale once per build.

/** y[r, j] = x[r, j] * scale[j] + shift[j] for a rows × c matrix (y may equal x). */
export function scaleShift(x: usize, y: usize, rows: i32, c: i32, scale: usize, shift: usize): void {
  const rowBytes = <usize> c << 2;
  for (let r = 0; r < rows; r++) {
    const src = x + <usize> r * rowBytes;
    const dst = y + <usize> r * rowBytes;
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = <usize> j << 2;
      v128.store(
        dst + o,
        f32x4.add(f32x4.mul(v128.load(src + o), v128.load(scale + o)), v128.load(shift + o)),
      );
    }
    for (; j < c; j++) {
      const o = <usize> j << 2;
      store<f32>(dst + o, load<f32>(src + o) * load<f32>(scale + o) + load<f32>(shift + o));
    }
  }
}
