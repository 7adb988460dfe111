// Element-wise activations and row-wise softmax. Codes must match
// packages/engine/src/activations.ts (ActivationCode).

export const LINEAR: i32 = 0;
export const RELU: i32 = 1;
export const SIGMOID: i32 = 2;
export const TANH: i32 = 3;
export const ELU: i32 = 4;
export const SELU: i32 = 5;
export const SOFTPLUS: i32 = 6;
export const SOFTSIGN: i32 = 7;
export const SWISH: i32 = 8;
export const GELU: i32 = 9;
export const GELU_TANH: i32 = 10;
export const EXPONENTIAL: i32 = 11;
export const RELU6: i32 = 12;
export const LEAKY_RELU: i32 = 13;
export const MISH: i32 = 14;
export const HARD_SIGMOID: i32 = 15;
export const HARD_SIGMOID_K2: i32 = 16;
export const HARD_SILU: i32 = 17;

const SELU_ALPHA: f64 = 1.6732632423543772;
const SELU_SCALE: f64 = 1.0507009873554805;

// erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit), enough for float32 results.
// @ts-ignore: decorator
@inline function erf64(x: f64): f64 {
  const z = Math.abs(x);
  const t = 1.0 / (1.0 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 +
      t * (1.00002368 +
          t * (0.37409196 +
              t * (0.09678418 +
                  t * (-0.18628806 +
                      t * (0.27886807 +
                          t *
                            (-1.13520398 +
                              t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? 1.0 - r : r - 1.0;
}

// @ts-ignore: decorator
@inline function softplus64(x: f64): f64 {
  // Stable log(1 + exp(x)).
  return Math.max(x, 0.0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** One activation on one value; `alpha` is the slope of leaky_relu / the alpha of elu. */
export function activateScalar(x: f32, code: i32, alpha: f32): f32 {
  const v = <f64> x;
  switch (code) {
    case LINEAR:
      return x;
    case RELU:
      return x > 0 ? x : 0;
    case SIGMOID:
      return <f32> (1.0 / (1.0 + Math.exp(-v)));
    case TANH:
      return <f32> Math.tanh(v);
    case ELU:
      return x > 0 ? x : <f32> (<f64> alpha * Math.expm1(v));
    case SELU:
      return <f32> (SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Math.expm1(v)));
    case SOFTPLUS:
      return <f32> softplus64(v);
    case SOFTSIGN:
      return <f32> (v / (1.0 + Math.abs(v)));
    case SWISH:
      return <f32> (v / (1.0 + Math.exp(-v)));
    case GELU:
      return <f32> (0.5 * v * (1.0 + erf64(v * 0.7071067811865476)));
    case GELU_TANH:
      return <f32> (0.5 * v * (1.0 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))));
    case EXPONENTIAL:
      return <f32> Math.exp(v);
    case RELU6:
      return x > 0 ? (x < 6 ? x : 6) : 0;
    case LEAKY_RELU:
      return x >= 0 ? x : alpha * x;
    case MISH:
      return <f32> (v * Math.tanh(softplus64(v)));
    case HARD_SIGMOID: {
      // Keras 3: relu6(x + 3) / 6
      const y = v + 3.0;
      return <f32> ((y > 0 ? (y < 6 ? y : 6) : 0) / 6.0);
    }
    case HARD_SIGMOID_K2: {
      // Keras 2: clip(0.2x + 0.5, 0, 1)
      const y = 0.2 * v + 0.5;
      return <f32> (y > 0 ? (y < 1 ? y : 1) : 0);
    }
    case HARD_SILU: {
      // Keras 3 hard_silu / hard_swish: x · relu6(x + 3) / 6
      const y = v + 3.0;
      return <f32> (v * (y > 0 ? (y < 6 ? y : 6) : 0) / 6.0);
    }
    default:
      unreachable();
  }
  return x;
}

// ---- SIMD forms (f32x4) of the activations recurrent gates and GEMM epilogues use ----------
// exp: Cephes-style range reduction x = n·ln2 + r (|r| ≤ ln2/2, ln2 split in two for exactness),
// a degree-6 polynomial for e^r and 2^n built in the exponent bits. Relative error ≤ 2e-7 for
// |x| ≤ 87 (checked against float64 in activations_test.ts); inputs are clamped to ±88.3, so
// results there saturate (≤ 3e-39 or ≥ 2e38) instead of reaching 0 or Infinity.

// The vector constants below are loaded (broadcast) from a static table: V8 builds a v128
// constant in registers with several instructions at each use, where a broadcast load is one.
const C_EXP_MIN = 0, C_EXP_MAX = 1, C_LOG2E = 2, C_LN2_HI = 3, C_LN2_LO = 4;
const C_EXP_P0 = 5, C_EXP_P1 = 6, C_EXP_P2 = 7, C_EXP_P3 = 8, C_EXP_P4 = 9, C_EXP_P5 = 10;
const C_ONE = 11, C_ROUND = 12;
const C_TANH_MIN = 13, C_TANH_MAX = 14;
const C_TANH_N0 = 15, C_TANH_N1 = 16, C_TANH_N2 = 17, C_TANH_N3 = 18, C_TANH_N4 = 19;
const C_TANH_N5 = 20, C_TANH_N6 = 21, C_TANH_D1 = 22, C_TANH_D2 = 23, C_TANH_D3 = 24;
const ACT_CONSTANTS = memory.data<f32>([
  -88.3, 88.3, 1.44269504088896341, 0.693359375, -2.12194440e-4,
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
  1, 12582912,
  -9, 9,
  1, 0.13083955645561218, 0.003103896277025342, 1.1153707418998238e-05, -2.0222930885438473e-08,
  5.276913628282642e-11, -8.486215744875347e-14,
  0.4641728401184082, 0.02449493668973446, 0.00025460595497861505,
]);
/** The exponent bias, as integer lanes. */
const I_EXP_BIAS = 0;
const ACT_INT_CONSTANTS = memory.data<i32>([127]);

/** Constant `index` of ACT_CONSTANTS on every lane. */
// @ts-ignore: decorator
@inline function constV(index: i32): v128 {
  return v128.load32_splat(ACT_CONSTANTS + (<usize> index << 2));
}

/** Constant `index` of ACT_INT_CONSTANTS on every lane. */
// @ts-ignore: decorator
@inline function intConstV(index: i32): v128 {
  return v128.load32_splat(ACT_INT_CONSTANTS + (<usize> index << 2));
}

// @ts-ignore: decorator
@inline function polyMadd(acc: v128, x: v128, c: i32): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(acc, x, constV(c));
  } else {
    return f32x4.add(f32x4.mul(acc, x), constV(c));
  }
}

/** e^x per lane (see the error bound above). */
// @ts-ignore: decorator
@inline export function expV(x: v128): v128 {
  // pmax / pmin are one instruction each where f32x4.max / min take about seven (wasm's NaN and
  // ±0 rules); with x as the first operand they too return a NaN x, and ±0 never meets the
  // bounds, so every result is the same. The recurrent gates spend much of a step in here.
  const xc = f32x4.pmin(f32x4.pmax(x, constV(C_EXP_MIN)), constV(C_EXP_MAX));
  const n = f32x4.nearest(f32x4.mul(xc, constV(C_LOG2E)));
  let r = f32x4.sub(xc, f32x4.mul(n, constV(C_LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, constV(C_LN2_LO)));
  let p = constV(C_EXP_P0);
  p = polyMadd(p, r, C_EXP_P1);
  p = polyMadd(p, r, C_EXP_P2);
  p = polyMadd(p, r, C_EXP_P3);
  p = polyMadd(p, r, C_EXP_P4);
  p = polyMadd(p, r, C_EXP_P5);
  // e^r = 1 + r + r²·p
  const er = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(r, r), p), r), constV(C_ONE));
  // 2^n for n in [-128, 128]: split in two factors so each exponent stays in range. n is an
  // integer: n + 1.5·2^23 holds it in its low mantissa bits, exactly (an add and a subtract,
  // where i32x4.trunc_sat_f32x4_s takes about seven instructions on x64; NaN stays NaN below).
  const magic = constV(C_ROUND);
  const ni = i32x4.sub(f32x4.add(n, magic), magic);
  const half = i32x4.shr_s(ni, 1);
  const bias = intConstV(I_EXP_BIAS);
  const s1 = i32x4.shl(i32x4.add(half, bias), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), bias), 23);
  return f32x4.mul(f32x4.mul(er, s1), s2);
}

/** 1 / (1 + e^-x) per lane. */
// @ts-ignore: decorator
@inline export function sigmoidV(x: v128): v128 {
  const one = constV(C_ONE);
  return f32x4.div(one, f32x4.add(one, expV(f32x4.neg(x))));
}

/**
 * tanh per lane: x·N(x²)/D(x²) with x clamped to ±9 (where tanh rounds to ±1), an odd rational of
 * degrees 13 / 6 fitted to tanh on [0, 9] (least squares on x·N − tanh·D, reweighted towards the
 * minimax relative error; 7e-9 in exact arithmetic, the coefficients rounded to float32;
 * evaluated in float32 ≤ 3.1e-7, measured against float64 in activations_test.ts). N(0) = D(0) =
 * 1, so small x keep their relative precision. 14 vector operations: the form
 * 1 − 2/(e^{2|x|} + 1) beside a small-|x| polynomial it replaced took about 40, and a recurrent
 * step spends much of its gate update here.
 */
// @ts-ignore: decorator
@inline export function tanhV(x: v128): v128 {
  // x first: a NaN x stays NaN through pmax / pmin.
  const xc = f32x4.pmin(f32x4.pmax(x, constV(C_TANH_MIN)), constV(C_TANH_MAX));
  const z = f32x4.mul(xc, xc);
  let n = constV(C_TANH_N6);
  n = polyMadd(n, z, C_TANH_N5);
  n = polyMadd(n, z, C_TANH_N4);
  n = polyMadd(n, z, C_TANH_N3);
  n = polyMadd(n, z, C_TANH_N2);
  n = polyMadd(n, z, C_TANH_N1);
  n = polyMadd(n, z, C_TANH_N0);
  let d = constV(C_TANH_D3);
  d = polyMadd(d, z, C_TANH_D2);
  d = polyMadd(d, z, C_TANH_D1);
  d = polyMadd(d, z, C_ONE);
  return f32x4.div(f32x4.mul(xc, n), d);
}

/**
 * An activation on 4 lanes: vector forms for linear, relu, sigmoid, tanh, the hard sigmoids and hard_silu;
 * every other code lane by lane through activateScalar.
 */
// @ts-ignore: decorator
@inline export function activateV(v: v128, code: i32, alpha: f32): v128 {
  if (code == LINEAR) return v;
  // pmax / pmin pick the first operand unless the comparison holds, as activateScalar's
  // `x > 0 ? x : 0` and `x > 0 ? (x < 6 ? x : 6) : 0` do (NaN → 0), so vector and tail lanes
  // agree; each is one instruction where f32x4.max / min take about seven (wasm's NaN and ±0
  // rules). MobileNetV2 fuses relu6 into every convolution: the per-lane fallback cost it more
  // than the convolutions.
  if (code == RELU) return f32x4.pmax(f32x4.splat(0), v);
  if (code == RELU6) {
    return f32x4.pmin(f32x4.splat(6), f32x4.pmax(f32x4.splat(0), v));
  }
  if (code == SIGMOID) return sigmoidV(v);
  if (code == TANH) return tanhV(v);
  return activateOtherV(v, code, alpha);
}

/**
 * The rarer codes, out of line: activateV is inlined into every kernel's epilogue and recurrent
 * gate, where only the common codes above should cost code size.
 */
function activateOtherV(v: v128, code: i32, alpha: f32): v128 {
  if (code == LEAKY_RELU) {
    return v128.bitselect(v, f32x4.mul(v, f32x4.splat(alpha)), f32x4.ge(v, f32x4.splat(0)));
  }
  // EfficientNet's swish and Transformers' tanh-GELU ride on the vector sigmoid / tanh; ELU and
  // SELU on e^x − 1 (absolute error ≤ 2.4e-7 near 0, where expm1 would keep relative precision).
  if (code == SWISH) return f32x4.mul(v, sigmoidV(v));
  if (code == GELU_TANH) {
    const inner = f32x4.mul(
      f32x4.splat(0.7978845608028654),
      f32x4.add(v, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(v, f32x4.mul(v, v)))),
    );
    return f32x4.mul(f32x4.mul(f32x4.splat(0.5), v), f32x4.add(f32x4.splat(1), tanhV(inner)));
  }
  if (code == ELU || code == SELU) {
    const a = code == ELU ? alpha : <f32> SELU_ALPHA;
    const neg = f32x4.mul(f32x4.splat(a), f32x4.sub(expV(v), f32x4.splat(1)));
    const y = v128.bitselect(v, neg, f32x4.gt(v, f32x4.splat(0)));
    return code == ELU ? y : f32x4.mul(y, f32x4.splat(<f32> SELU_SCALE));
  }
  if (code == HARD_SIGMOID) {
    const y = f32x4.div(f32x4.add(v, f32x4.splat(3)), f32x4.splat(6));
    return f32x4.pmin(f32x4.splat(1), f32x4.pmax(f32x4.splat(0), y));
  }
  if (code == HARD_SILU) {
    const y = f32x4.div(f32x4.add(v, f32x4.splat(3)), f32x4.splat(6));
    return f32x4.mul(v, f32x4.pmin(f32x4.splat(1), f32x4.pmax(f32x4.splat(0), y)));
  }
  if (code == HARD_SIGMOID_K2) {
    const y = f32x4.add(f32x4.mul(v, f32x4.splat(0.2)), f32x4.splat(0.5));
    return f32x4.pmin(f32x4.splat(1), f32x4.pmax(f32x4.splat(0), y));
  }
  return activateLanes(v, code, alpha);
}

/** activateScalar on each lane (the codes without a vector form; kept out of line). */
function activateLanes(v: v128, code: i32, alpha: f32): v128 {
  let r = f32x4.replace_lane(v, 0, activateScalar(f32x4.extract_lane(v, 0), code, alpha));
  r = f32x4.replace_lane(r, 1, activateScalar(f32x4.extract_lane(v, 1), code, alpha));
  r = f32x4.replace_lane(r, 2, activateScalar(f32x4.extract_lane(v, 2), code, alpha));
  return f32x4.replace_lane(r, 3, activateScalar(f32x4.extract_lane(v, 3), code, alpha));
}

/** In-place activation over `n` floats at `ptr`. */
export function activate(ptr: usize, n: i32, code: i32, alpha: f32): void {
  if (code == LINEAR) return;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = ptr + (<usize> i << 2);
    v128.store(p, activateV(v128.load(p), code, alpha));
  }
  for (; i < n; i++) {
    const p = ptr + (<usize> i << 2);
    store<f32>(p, activateScalar(load<f32>(p), code, alpha));
  }
}

/** Keras 3 ReLU layer: threshold, negative_slope and max_value (max_value < 0 means none). */
export function reluGeneral(
  ptr: usize,
  n: i32,
  negativeSlope: f32,
  maxValue: f32,
  threshold: f32,
): void {
  const thr = f32x4.splat(threshold), slope = f32x4.splat(negativeSlope);
  const top = f32x4.splat(maxValue);
  const capped = maxValue >= 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = ptr + (<usize> i << 2);
    const x = v128.load(p);
    let y = v128.bitselect(x, f32x4.mul(slope, f32x4.sub(x, thr)), f32x4.ge(x, thr));
    if (capped) y = v128.bitselect(top, y, f32x4.gt(y, top));
    v128.store(p, y);
  }
  for (; i < n; i++) {
    const p = ptr + (<usize> i << 2);
    const x = load<f32>(p);
    let y: f32 = x >= threshold ? x : negativeSlope * (x - threshold);
    if (capped && y > maxValue) y = maxValue;
    store<f32>(p, y);
  }
}

/** In-place softmax over each row of a rows×cols matrix (subtracts the row max first). */
export function softmaxRows(ptr: usize, rows: i32, cols: i32, logOutput: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = ptr + (<usize> r * <usize> cols << 2);
    let mx: f32 = -Infinity;
    for (let j = 0; j < cols; j++) mx = max(mx, load<f32>(row + (<usize> j << 2)));
    let sum: f64 = 0;
    if (logOutput) {
      for (let j = 0; j < cols; j++) {
        sum += Math.exp(<f64> (load<f32>(row + (<usize> j << 2)) - mx));
      }
      const logSum = <f32> Math.log(sum);
      for (let j = 0; j < cols; j++) {
        const p = row + (<usize> j << 2);
        store<f32>(p, load<f32>(p) - mx - logSum);
      }
    } else {
      for (let j = 0; j < cols; j++) {
        const p = row + (<usize> j << 2);
        const e = <f32> Math.exp(<f64> (load<f32>(p) - mx));
        store<f32>(p, e);
        sum += <f64> e;
      }
      const inv = <f32> (1.0 / sum);
      for (let j = 0; j < cols; j++) {
        const p = row + (<usize> j << 2);
        store<f32>(p, load<f32>(p) * inv);
      }
    }
  }
}
