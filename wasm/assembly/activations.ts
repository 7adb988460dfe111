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
    default:
      unreachable();
  }
  return x;
}

/** In-place activation over `n` floats at `ptr`. */
export function activate(ptr: usize, n: i32, code: i32, alpha: f32): void {
  if (code == LINEAR) return;
  let i = 0;
  if (code == RELU) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const p = ptr + (<usize> i << 2);
      v128.store(p, f32x4.max(v128.load(p), zero));
    }
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
  for (let i = 0; i < n; i++) {
    const p = ptr + (<usize> i << 2);
    const x = load<f32>(p);
    let y: f32 = x >= threshold ? x : negativeSlope * (x - threshold);
    if (maxValue >= 0 && y > maxValue) y = maxValue;
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
