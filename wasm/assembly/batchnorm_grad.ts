// BatchNormalization in training mode on the last axis of a rows × c matrix:
// - batchNormMoments: per-channel batch mean and biased variance (two passes);
// - batchNormBackward: dβ = Σ dy, dγ = Σ dy·x̂ and
//   dx = γ·invStd/N · (N·dy − dβ − x̂·dγ), x̂ = (x − mean)·invStd.
// The forward output itself is `scaleShift` (batchnorm.ts) with the host's per-channel scale and
// shift from the batch statistics. Sums run in f32 over blocks of rows, flushed to f64, so they
// stay accurate for large batches; rows are visited in order (cache-friendly for any c).

/** Rows summed in f32 before flushing into the f64 totals. */
const BLOCK: i32 = 32;

// @ts-ignore: decorator
@inline function flush(acc32: usize, acc64: usize, c: i32): void {
  for (let j = 0; j < c; j++) {
    const o32 = <usize> j << 2;
    const o64 = <usize> j << 3;
    store<f64>(acc64 + o64, load<f64>(acc64 + o64) + <f64> load<f32>(acc32 + o32));
  }
  memory.fill(acc32, 0, <usize> c << 2);
}

/**
 * mean[j] = Σ_r x[r, j] / rows, variance[j] = Σ_r (x[r, j] − mean[j])² / rows (biased, as Keras).
 * `work` holds 12·c bytes.
 */
export function batchNormMoments(
  x: usize,
  rows: i32,
  c: i32,
  mean: usize,
  variance: usize,
  work: usize,
): void {
  const acc32 = work;
  const acc64 = work + (<usize> c << 2);
  const rowBytes = <usize> c << 2;
  for (let pass = 0; pass < 2; pass++) {
    memory.fill(work, 0, <usize> c * 12);
    for (let r = 0; r < rows; r++) {
      const src = x + <usize> r * rowBytes;
      let j = 0;
      if (pass == 0) {
        for (; j + 4 <= c; j += 4) {
          const o = <usize> j << 2;
          v128.store(acc32 + o, f32x4.add(v128.load(acc32 + o), v128.load(src + o)));
        }
        for (; j < c; j++) {
          const o = <usize> j << 2;
          store<f32>(acc32 + o, load<f32>(acc32 + o) + load<f32>(src + o));
        }
      } else {
        for (; j + 4 <= c; j += 4) {
          const o = <usize> j << 2;
          const d = f32x4.sub(v128.load(src + o), v128.load(mean + o));
          v128.store(acc32 + o, f32x4.add(v128.load(acc32 + o), f32x4.mul(d, d)));
        }
        for (; j < c; j++) {
          const o = <usize> j << 2;
          const d = load<f32>(src + o) - load<f32>(mean + o);
          store<f32>(acc32 + o, load<f32>(acc32 + o) + d * d);
        }
      }
      if ((r + 1) % BLOCK == 0 || r + 1 == rows) flush(acc32, acc64, c);
    }
    const out = pass == 0 ? mean : variance;
    const inv: f64 = rows > 0 ? 1.0 / <f64> rows : 0;
    for (let j = 0; j < c; j++) {
      store<f32>(out + (<usize> j << 2), <f32> (load<f64>(acc64 + (<usize> j << 3)) * inv));
    }
  }
}

/**
 * Training-mode backward for dy [rows × c]: dgamma[j] = Σ dy·x̂ and dbeta[j] = Σ dy
 * (OVERWRITTEN, always written), and dx (0: skip; may be dy) as above. `gamma` 0 means γ = 1
 * (`scale=False`). `work` holds 24·c bytes.
 */
export function batchNormBackward(
  x: usize,
  dy: usize,
  dx: usize,
  rows: i32,
  c: i32,
  mean: usize,
  invStd: usize,
  gamma: usize,
  dgamma: usize,
  dbeta: usize,
  work: usize,
): void {
  const rowBytes = <usize> c << 2;
  const sumDy32 = work;
  const sumDx32 = work + (<usize> c << 2);
  const sumDy64 = work + (<usize> c << 3);
  const sumDx64 = sumDy64 + (<usize> c << 3);
  memory.fill(work, 0, <usize> c * 24);
  // Σ dy and Σ dy·(x − mean) per channel.
  for (let r = 0; r < rows; r++) {
    const xs = x + <usize> r * rowBytes;
    const gs = dy + <usize> r * rowBytes;
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = <usize> j << 2;
      const g = v128.load(gs + o);
      const d = f32x4.sub(v128.load(xs + o), v128.load(mean + o));
      v128.store(sumDy32 + o, f32x4.add(v128.load(sumDy32 + o), g));
      v128.store(sumDx32 + o, f32x4.add(v128.load(sumDx32 + o), f32x4.mul(g, d)));
    }
    for (; j < c; j++) {
      const o = <usize> j << 2;
      const g = load<f32>(gs + o);
      store<f32>(sumDy32 + o, load<f32>(sumDy32 + o) + g);
      store<f32>(sumDx32 + o, load<f32>(sumDx32 + o) + g * (load<f32>(xs + o) - load<f32>(mean + o)));
    }
    if ((r + 1) % BLOCK == 0 || r + 1 == rows) {
      flush(sumDy32, sumDy64, c);
      flush(sumDx32, sumDx64, c);
    }
  }
  // Per-channel coefficients of dx = a·dy − b − k·(x − mean): a and b overwrite the f32 block
  // sums (flushed), k is held in f64 and then packed as f32 into the second f64 sums' space.
  const aCoef = sumDy32;
  const bCoef = sumDx32;
  const inv: f64 = rows > 0 ? 1.0 / <f64> rows : 0;
  for (let j = 0; j < c; j++) {
    const o = <usize> j << 2;
    const o64 = <usize> j << 3;
    const s = <f64> load<f32>(invStd + o);
    const gm: f64 = gamma ? <f64> load<f32>(gamma + o) : 1.0;
    const sDy = load<f64>(sumDy64 + o64);
    const sDyXhat = load<f64>(sumDx64 + o64) * s;
    store<f32>(dbeta + o, <f32> sDy);
    store<f32>(dgamma + o, <f32> sDyXhat);
    const a = gm * s;
    store<f32>(aCoef + o, <f32> a);
    store<f32>(bCoef + o, <f32> (a * sDy * inv));
    // a·x̂·dγ/N = (a·s·dγ/N)·(x − mean).
    store<f64>(sumDy64 + o64, a * s * sDyXhat * inv);
  }
  if (!dx) return;
  const kCoef = sumDx64;
  for (let j = 0; j < c; j++) {
    store<f32>(kCoef + (<usize> j << 2), <f32> load<f64>(sumDy64 + (<usize> j << 3)));
  }
  for (let r = 0; r < rows; r++) {
    const xs = x + <usize> r * rowBytes;
    const gs = dy + <usize> r * rowBytes;
    const ds = dx + <usize> r * rowBytes;
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = <usize> j << 2;
      const d = f32x4.sub(v128.load(xs + o), v128.load(mean + o));
      const v = f32x4.sub(
        f32x4.sub(f32x4.mul(v128.load(aCoef + o), v128.load(gs + o)), v128.load(bCoef + o)),
        f32x4.mul(v128.load(kCoef + o), d),
      );
      v128.store(ds + o, v);
    }
    for (; j < c; j++) {
      const o = <usize> j << 2;
      const d = load<f32>(xs + o) - load<f32>(mean + o);
      store<f32>(
        ds + o,
        load<f32>(aCoef + o) * load<f32>(gs + o) - load<f32>(bCoef + o) - load<f32>(kCoef + o) * d,
      );
    }
  }
}
