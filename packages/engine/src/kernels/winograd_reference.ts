/**
 * Winograd minimal filtering F(m×m, r×r) for stride-1 Conv2D (Lavin & Gray 2016): the
 * Toom-Cook transform matrices built from interpolation points, the filter transform the engine
 * runs at load time, and a plain TypeScript Winograd convolution (float64) — the oracle of the
 * `conv2dWinograd` kernel beside the direct `conv2dReference`.
 *
 * For one α×α input tile d (α = m + r − 1) and an r×r filter g, the m×m outputs of the
 * correlation are Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. Built here from α − 1 finite points aⱼ plus the
 * point at infinity: A[j][i] = aⱼⁱ, G[j][k] = aⱼᵏ / Πₗ≠ⱼ(aⱼ − aₗ), and row j of Bᵀ holds the
 * coefficients of Πₗ≠ⱼ(x − aₗ) (the last row: of Πₗ(x − aₗ)). That is the transpose of
 * Toom-Cook polynomial multiplication, so the product is exact in real arithmetic; in float32 the
 * error grows with α and with the points' spread, which is why the engine keeps α ≤ 8.
 */
import type { Activation } from "../activations.ts";
import { applyActivationReference } from "../activations.ts";
import type { Conv2DParams } from "./conv_reference.ts";

/** The transform matrices of one F(m×m, r×r), row-major float64. */
export interface WinogradTransforms {
  /** Output tile side. */
  m: number;
  /** Filter side. */
  r: number;
  /** Input tile side, m + r − 1. */
  alpha: number;
  /** Aᵀ, m × α. */
  at: Float64Array;
  /** G, α × r. */
  g: Float64Array;
  /** Bᵀ, α × α. */
  bt: Float64Array;
}

/**
 * Finite interpolation points by count (α − 1): small integers and their reciprocals keep the
 * transforms' entries near 1, which is what keeps float32 error low.
 */
const POINTS: readonly number[] = [0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, 1 / 3, -1 / 3];

/** Coefficients (lowest degree first) of Π (x − root) over `roots`. */
function polyFromRoots(roots: readonly number[]): number[] {
  let coeffs = [1];
  for (const root of roots) {
    const next = new Array(coeffs.length + 1).fill(0);
    for (let i = 0; i < coeffs.length; i++) {
      next[i + 1] += coeffs[i];
      next[i] -= root * coeffs[i];
    }
    coeffs = next;
  }
  return coeffs;
}

/** The Aᵀ, G, Bᵀ of F(m, r) from the first m + r − 2 of {@link POINTS} plus infinity. */
export function winogradTransforms(m: number, r: number): WinogradTransforms {
  const alpha = m + r - 1;
  const n = alpha - 1;
  if (m < 1 || r < 1 || n > POINTS.length) {
    throw new RangeError(
      `winograd F(${m}, ${r}): expected 1 ≤ m, 1 ≤ r, m + r − 2 ≤ ${POINTS.length}`,
    );
  }
  const points = POINTS.slice(0, n);
  const at = new Float64Array(m * alpha);
  const g = new Float64Array(alpha * r);
  const bt = new Float64Array(alpha * alpha);
  for (let j = 0; j < n; j++) {
    const a = points[j];
    const others = points.filter((_, l) => l !== j);
    const f = others.reduce((p, b) => p * (a - b), 1);
    for (let i = 0; i < m; i++) at[i * alpha + j] = a ** i;
    for (let k = 0; k < r; k++) g[j * r + k] = a ** k / f;
    polyFromRoots(others).forEach((v, l) => bt[j * alpha + l] = v);
  }
  at[(m - 1) * alpha + n] = 1;
  g[n * r + r - 1] = 1;
  polyFromRoots(points).forEach((v, l) => bt[n * alpha + l] = v);
  return { m, r, alpha, at, g, bt };
}

/**
 * U = G g Gᵀ for every (input, output) channel pair of a Keras kernel `(r, r, c, outC)` in
 * float64 (the engine rounds it to float32 once, on upload): laid out as α² matrices of c × outC
 * (row-major), matrix ξ·α + ν holding element (ξ, ν) — the B operands of the kernel's α² GEMMs.
 */
export function winogradFilterTransform(
  kernel: ArrayLike<number>,
  c: number,
  outC: number,
  t: WinogradTransforms,
): Float64Array {
  const { r, alpha, g } = t;
  const pairs = c * outC;
  const u = new Float64Array(alpha * alpha * pairs);
  const tmp = new Float64Array(alpha * r);
  for (let p = 0; p < pairs; p++) {
    // tmp = G · w (α × r), then U = tmp · Gᵀ (α × α).
    for (let i = 0; i < alpha; i++) {
      for (let kx = 0; kx < r; kx++) {
        let s = 0;
        for (let ky = 0; ky < r; ky++) s += g[i * r + ky] * kernel[(ky * r + kx) * pairs + p];
        tmp[i * r + kx] = s;
      }
    }
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < alpha; j++) {
        let s = 0;
        for (let kx = 0; kx < r; kx++) s += tmp[i * r + kx] * g[j * r + kx];
        u[(i * alpha + j) * pairs + p] = s;
      }
    }
  }
  return u;
}

/** Output tiles along one axis of an F(m, ·) convolution with `out` outputs. */
export function winogradTiles(out: number, m: number): number {
  return Math.ceil(out / m);
}

/**
 * Stride-1, undilated square-kernel Conv2D by Winograd F(m×m, r×r) in float64, from the
 * transformed filters `u` of {@link winogradFilterTransform}: per output tile, V = Bᵀ d B of the
 * zero-padded input tile, M = Σ_c V ⊙ U, Y = Aᵀ M A, then bias and activation.
 */
export function conv2dWinogradReference(
  x: Float32Array,
  u: ArrayLike<number>,
  bias: Float32Array | null,
  p: Conv2DParams,
  t: WinogradTransforms,
  act: Activation = { kind: "elementwise", code: 0, alpha: 0, name: "linear" },
): Float32Array {
  const { batch, h, w, c, outH, outW, outC, padTop, padLeft } = p;
  const { m, alpha, at, bt } = t;
  const a2 = alpha * alpha;
  const y = new Float32Array(batch * outH * outW * outC);
  const v = new Float64Array(a2 * c);
  const d = new Float64Array(a2);
  const tmp = new Float64Array(a2);
  const mm = new Float64Array(a2);
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < winogradTiles(outH, m); ty++) {
      for (let tx = 0; tx < winogradTiles(outW, m); tx++) {
        const iy0 = ty * m - padTop, ix0 = tx * m - padLeft;
        for (let ci = 0; ci < c; ci++) {
          for (let i = 0; i < alpha; i++) {
            for (let j = 0; j < alpha; j++) {
              const iy = iy0 + i, ix = ix0 + j;
              d[i * alpha + j] = iy >= 0 && iy < h && ix >= 0 && ix < w
                ? x[((b * h + iy) * w + ix) * c + ci]
                : 0;
            }
          }
          multiply(bt, d, tmp, alpha, alpha, alpha, false);
          multiply(tmp, bt, d, alpha, alpha, alpha, true);
          for (let e = 0; e < a2; e++) v[e * c + ci] = d[e];
        }
        for (let o = 0; o < outC; o++) {
          for (let e = 0; e < a2; e++) {
            let s = 0;
            for (let ci = 0; ci < c; ci++) s += v[e * c + ci] * u[(e * c + ci) * outC + o];
            mm[e] = s;
          }
          // Y = Aᵀ M A (m × m).
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < m; j++) {
              let s = 0;
              for (let k = 0; k < alpha; k++) {
                for (let l = 0; l < alpha; l++) {
                  s += at[i * alpha + k] * mm[k * alpha + l] * at[j * alpha + l];
                }
              }
              const oy = ty * m + i, ox = tx * m + j;
              if (oy < outH && ox < outW) {
                y[((b * outH + oy) * outW + ox) * outC + o] = s + (bias ? bias[o] : 0);
              }
            }
          }
        }
      }
    }
  }
  return applyActivationReference(y, outC, act);
}

/** out = left · right (or left · rightᵀ): (rows × inner) · (inner × cols), row-major. */
function multiply(
  left: Float64Array,
  right: Float64Array,
  out: Float64Array,
  rows: number,
  inner: number,
  cols: number,
  transposeRight: boolean,
): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < inner; k++) {
        s += left[i * inner + k] * (transposeRight ? right[j * inner + k] : right[k * cols + j]);
      }
      out[i * cols + j] = s;
    }
  }
}
