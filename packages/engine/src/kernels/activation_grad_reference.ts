/**
 * Plain TypeScript oracles of the activation backward kernels (`wasm/assembly/activation_grad.ts`)
 * and of the Dropout mask (`dropout_grad.ts`).
 */
import { activateReference, ActivationCode } from "../activations.ts";

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** Central difference of the forward reference (used for the smooth GELU forms). */
function numericDerivative(z: number, code: ActivationCode, alpha: number): number {
  const h = 1e-5 * Math.max(1, Math.abs(z));
  return (activateReference(z + h, code, alpha) - activateReference(z - h, code, alpha)) / (2 * h);
}

/** f'(z) in float64 for an element-wise activation code. */
export function activationDerivativeReference(
  z: number,
  code: ActivationCode,
  alpha: number,
): number {
  switch (code) {
    case ActivationCode.Linear:
      return 1;
    case ActivationCode.Relu:
      return z > 0 ? 1 : 0;
    case ActivationCode.Sigmoid: {
      const s = sigmoid(z);
      return s * (1 - s);
    }
    case ActivationCode.Tanh:
      return 1 - Math.tanh(z) ** 2;
    case ActivationCode.Elu:
      return z > 0 ? 1 : alpha * Math.exp(z);
    case ActivationCode.Selu:
      return z > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(z);
    case ActivationCode.Softplus:
      return sigmoid(z);
    case ActivationCode.Softsign:
      return 1 / (1 + Math.abs(z)) ** 2;
    case ActivationCode.Swish: {
      const s = sigmoid(z);
      return s + z * s * (1 - s);
    }
    case ActivationCode.Gelu:
    case ActivationCode.GeluTanh:
      // Smooth everywhere: the central difference of the forward reference is exact to ~1e-9.
      return numericDerivative(z, code, alpha);
    case ActivationCode.Exponential:
      return Math.exp(z);
    case ActivationCode.Relu6:
      return z > 0 && z < 6 ? 1 : 0;
    case ActivationCode.LeakyRelu:
      return z >= 0 ? 1 : alpha;
    case ActivationCode.Mish: {
      const t = Math.tanh(softplus(z));
      return t + z * (1 - t * t) * sigmoid(z);
    }
    case ActivationCode.HardSigmoid:
      return z > -3 && z < 3 ? 1 / 6 : 0;
    case ActivationCode.HardSigmoidKeras2:
      return z > -2.5 && z < 2.5 ? 0.2 : 0;
    case ActivationCode.HardSilu:
      // relu6(z + 3)/6 + z·relu6'(z + 3)/6, relu6' = 1 strictly inside (0, 6) as in TF.
      return z >= 3 ? 1 : z > -3 ? (2 * z + 3) / 6 : 0;
  }
}

/** Softmax (or log-softmax) backward per row from the output y. */
export function softmaxGradReference(
  y: Float32Array,
  dy: Float32Array,
  cols: number,
  log = false,
): Float32Array {
  const out = new Float32Array(y.length);
  for (let r = 0; r < y.length / cols; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += log ? dy[r * cols + j] : dy[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      out[i] = log ? dy[i] - Math.exp(y[i]) * s : y[i] * (dy[i] - s);
    }
  }
  return out;
}

/** Keras 3 ReLU layer derivative at x (maxValue null: none). */
export function reluGeneralDerivativeReference(
  x: number,
  negativeSlope: number,
  maxValue: number | null,
  threshold: number,
): number {
  if (x >= threshold) return maxValue !== null && x >= maxValue ? 0 : 1;
  return maxValue !== null && negativeSlope * (x - threshold) > maxValue ? 0 : negativeSlope;
}

/** The Dropout keep-scale of element `index` (mirrors `dropoutHash` in dropout_grad.ts). */
export function dropoutScaleReference(seed: number, index: number, rate: number): number {
  let h = (Math.imul(index >>> 0, 0x9e3779b9) ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  const u = Math.fround((h >>> 8) * 5.9604644775390625e-8);
  return u >= Math.fround(rate) ? Math.fround(1 / (1 - Math.fround(rate))) : 0;
}
