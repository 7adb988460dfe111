// Backward of the activations: dz = dy · f'(z), from the pre-activation z and/or the output y
// (whichever is cheaper and exact), for every code in activations.ts; softmax / log-softmax rows;
// the Keras 3 ReLU layer (threshold, negative slope, max value).
import {
  ELU,
  EXPONENTIAL,
  GELU,
  GELU_TANH,
  HARD_SIGMOID,
  HARD_SIGMOID_K2,
  HARD_SILU,
  LEAKY_RELU,
  LINEAR,
  MISH,
  RELU,
  RELU6,
  SELU,
  SIGMOID,
  SOFTPLUS,
  SOFTSIGN,
  SWISH,
  TANH,
} from "./activations";
import { addFloats } from "./floats";

const SELU_ALPHA: f64 = 1.6732632423543772;
const SELU_SCALE: f64 = 1.0507009873554805;
const INV_SQRT_2PI: f64 = 0.3989422804014327;
const SQRT_2_OVER_PI: f64 = 0.7978845608028654;

// erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit), as the forward kernel uses.
// @ts-ignore: decorator
@inline function erfApprox(x: f64): f64 {
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
@inline function sigmoid64(x: f64): f64 {
  return 1.0 / (1.0 + Math.exp(-x));
}

/** f'(z) for one element; `y` is f(z) as the forward pass computed it. */
export function activationDerivative(z: f32, y: f32, code: i32, alpha: f32): f32 {
  const v = <f64> z;
  switch (code) {
    case LINEAR:
      return 1;
    case RELU:
      return z > 0 ? 1 : 0;
    case SIGMOID:
      return y * (1 - y);
    case TANH:
      return 1 - y * y;
    case ELU:
      return z > 0 ? 1 : <f32> (<f64> alpha * Math.exp(v));
    case SELU:
      return <f32> (v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(v));
    case SOFTPLUS:
      return <f32> sigmoid64(v);
    case SOFTSIGN: {
      const d = 1.0 + Math.abs(v);
      return <f32> (1.0 / (d * d));
    }
    case SWISH: {
      const s = sigmoid64(v);
      return <f32> (s + v * s * (1.0 - s));
    }
    case GELU:
      return <f32> (0.5 * (1.0 + erfApprox(v * 0.7071067811865476)) +
        v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    case GELU_TANH: {
      const u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
      const t = Math.tanh(u);
      return <f32> (0.5 * (1.0 + t) +
        0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v));
    }
    case EXPONENTIAL:
      return y;
    case RELU6:
      return z > 0 && z < 6 ? 1 : 0;
    case LEAKY_RELU:
      return z >= 0 ? 1 : alpha;
    case MISH: {
      const sp = Math.max(v, 0.0) + Math.log1p(Math.exp(-Math.abs(v)));
      const t = Math.tanh(sp);
      return <f32> (t + v * (1.0 - t * t) * sigmoid64(v));
    }
    case HARD_SIGMOID:
      return z > -3 && z < 3 ? <f32> (1.0 / 6.0) : 0;
    case HARD_SIGMOID_K2:
      return z > -2.5 && z < 2.5 ? <f32> 0.2 : 0;
    case HARD_SILU:
      // d/dz z·relu6(z + 3)/6 with relu6' = 1 strictly inside (0, 6), as TF differentiates it.
      return z >= 3 ? 1 : z > -3 ? <f32> ((2.0 * v + 3.0) / 6.0) : 0;
    default:
      unreachable();
  }
  return 0;
}

/**
 * f'(z) on 4 lanes, `y` = f(z) as the forward computed it: vector forms for linear, sigmoid and
 * tanh (from y, as `activationDerivative`), the other codes lane by lane.
 */
// @ts-ignore: decorator
@inline export function activationDerivativeV(z: v128, y: v128, code: i32, alpha: f32): v128 {
  if (code == LINEAR) return f32x4.splat(1);
  if (code == SIGMOID) return f32x4.mul(y, f32x4.sub(f32x4.splat(1), y));
  if (code == TANH) return f32x4.sub(f32x4.splat(1), f32x4.mul(y, y));
  return derivativeLanes(z, y, code, alpha);
}

/** activationDerivative on each lane (the codes without a vector form; kept out of line). */
function derivativeLanes(z: v128, y: v128, code: i32, alpha: f32): v128 {
  let r = f32x4.splat(0);
  r = f32x4.replace_lane(r, 0, activationDerivative(f32x4.extract_lane(z, 0), f32x4.extract_lane(y, 0), code, alpha));
  r = f32x4.replace_lane(r, 1, activationDerivative(f32x4.extract_lane(z, 1), f32x4.extract_lane(y, 1), code, alpha));
  r = f32x4.replace_lane(r, 2, activationDerivative(f32x4.extract_lane(z, 2), f32x4.extract_lane(y, 2), code, alpha));
  return f32x4.replace_lane(r, 3, activationDerivative(f32x4.extract_lane(z, 3), f32x4.extract_lane(y, 3), code, alpha));
}

/**
 * dz[i] = dy[i] · f'(z[i]) over `n` floats. `z` is the pre-activation, `y` the output (either may
 * be 0 when the code does not read it: relu/relu6/leaky/hard_sigmoid/hard_silu/elu/selu/softplus/softsign/
 * swish/gelu/mish read z; sigmoid/tanh/exponential read y). `dz` may be `dy`.
 */
export function activationGrad(
  z: usize,
  y: usize,
  dy: usize,
  dz: usize,
  n: i32,
  code: i32,
  alpha: f32,
): void {
  let i = 0;
  if (code == LINEAR) {
    if (dz != dy) memory.copy(dz, dy, <usize> n << 2);
    return;
  }
  if (code == RELU) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize> i << 2;
      const keep = f32x4.gt(v128.load(z + o), zero);
      v128.store(dz + o, v128.and(v128.load(dy + o), keep));
    }
  } else if (code == SIGMOID || code == TANH) {
    const one = f32x4.splat(1);
    for (; i + 4 <= n; i += 4) {
      const o = <usize> i << 2;
      const yv = v128.load(y + o);
      const d = code == SIGMOID ? f32x4.mul(yv, f32x4.sub(one, yv)) : f32x4.sub(one, f32x4.mul(yv, yv));
      v128.store(dz + o, f32x4.mul(v128.load(dy + o), d));
    }
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    const zi: f32 = z ? load<f32>(z + o) : 0;
    const yi: f32 = y ? load<f32>(y + o) : 0;
    store<f32>(dz + o, load<f32>(dy + o) * activationDerivative(zi, yi, code, alpha));
  }
}

/**
 * Softmax backward per row from the output y: dz = y ⊙ (dy − Σ dy⊙y). With `logOutput` (y is
 * log-softmax): dz = dy − exp(y) · Σ dy. `dz` may be `dy`.
 */
export function softmaxGradRows(y: usize, dy: usize, dz: usize, rows: i32, cols: i32, logOutput: i32): void {
  for (let r = 0; r < rows; r++) {
    const off = <usize> r * <usize> cols << 2;
    const yr = y + off, gr = dy + off, dr = dz + off;
    let s: f64 = 0;
    if (logOutput) {
      for (let j = 0; j < cols; j++) s += <f64> load<f32>(gr + (<usize> j << 2));
      for (let j = 0; j < cols; j++) {
        const o = <usize> j << 2;
        store<f32>(dr + o, <f32> (<f64> load<f32>(gr + o) - Math.exp(<f64> load<f32>(yr + o)) * s));
      }
    } else {
      for (let j = 0; j < cols; j++) {
        const o = <usize> j << 2;
        s += <f64> load<f32>(gr + o) * <f64> load<f32>(yr + o);
      }
      const sv = f32x4.splat(<f32> s);
      let j = 0;
      for (; j + 4 <= cols; j += 4) {
        const o = <usize> j << 2;
        v128.store(dr + o, f32x4.mul(v128.load(yr + o), f32x4.sub(v128.load(gr + o), sv)));
      }
      for (; j < cols; j++) {
        const o = <usize> j << 2;
        store<f32>(dr + o, load<f32>(yr + o) * (load<f32>(gr + o) - <f32> s));
      }
    }
  }
}

/**
 * Keras 3 ReLU layer backward from its input x (max_value < 0 means none):
 * slope 1 where threshold ≤ x and the output is below max_value, `negativeSlope` below threshold.
 */
export function reluGeneralGrad(
  x: usize,
  dy: usize,
  dx: usize,
  n: i32,
  negativeSlope: f32,
  maxValue: f32,
  threshold: f32,
): void {
  for (let i = 0; i < n; i++) {
    const o = <usize> i << 2;
    const v = load<f32>(x + o);
    let d: f32;
    if (v >= threshold) d = maxValue >= 0 && v >= maxValue ? 0 : 1;
    else d = maxValue >= 0 && negativeSlope * (v - threshold) > maxValue ? 0 : negativeSlope;
    store<f32>(dx + o, load<f32>(dy + o) * d);
  }
}

/** c[i] = a[i] · b[i] over n floats (Dropout backward with its saved scale mask). */
export function multiplyElementwise(a: usize, b: usize, c: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(c + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(c + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** c[i] (+)= a[i] over n floats: c = a (copy) or c += a (`accumulate`). */
export function addInto(a: usize, c: usize, n: i32, accumulate: i32): void {
  if (!accumulate) {
    memory.copy(c, a, <usize> n << 2);
    return;
  }
  addFloats(c, a, n);
}
